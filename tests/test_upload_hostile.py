"""Hostile small files: each is refused in one line naming the file, its caps checked first.

Every file is built here, in memory (SQLite databases with ``sqlite3``'s ``serialize``).
The inputs that would crash, hang or take gigabytes before the fix (a WKT nested 40,000
deep, a GeoPackage view over an infinite query, a 2 KB GeoParquet expanding to 10 GB) are
run as they are: the caps refuse them before the work starts, so each test simply ends.
No test times anything. The last test feeds truncated and mutated copies of small valid
files of every format through the reader, with hypothesis.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import sqlite3
import struct
import zipfile
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pyproj
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import _containers, _csv, _gpkg, _parquet, _wkb, ingest, upload_read
from pipeline._wkb import count_wkb
from pipeline.build import Theatre
from pipeline.errors import InputError
from pipeline.upload_read import RawUpload, UploadError, read_upload
from tests.conftest import feature as _feature
from tests.conftest import feature_collection as _fc

SUDZHA = shapely.box(35.20, 51.15, 35.35, 51.25)
KORENEVO = shapely.box(35.05, 51.30, 35.15, 51.38)
POINT_WKB = shapely.Point(35.27, 51.19).wkb
KML_NS = "http://www.opengis.net/kml/2.2"
GPKG_FROM_MEMORY = "ignore:.*non conformant file extension:RuntimeWarning"


def refuse(data: bytes, file_name: str, *parts: str, **kwargs: Any) -> UploadError:
    """Read and expect a one-line refusal naming the file and holding every part."""
    with pytest.raises(UploadError) as info:
        read_upload(data, file_name, **kwargs)
    err = info.value
    assert isinstance(err, InputError)
    assert err.file_name == file_name
    assert str(err) == f"file {file_name!r}: {err.reason}"
    assert "\n" not in str(err)
    assert len(err.reason) <= 500
    for part in parts:
        assert part in err.reason, (part, err.reason)
    return err


# ---------------------------------------------------------------------------------------
# Builders


def _nested_wkt(depth: int) -> str:
    return "GEOMETRYCOLLECTION (" * depth + "POINT (35.27 51.19)" + ")" * depth


def _nested_wkb(depth: int) -> bytes:
    return struct.pack("<BII", 1, 7, 1) * depth + POINT_WKB


def _csv_wkt(*texts: str) -> bytes:
    return ("name,wkt\n" + "".join(f'f{i},"{t}"\n' for i, t in enumerate(texts))).encode()


def _geo(crs: object = None, column: str = "geometry", **extra: object) -> str:
    spec: dict[str, object] = {"encoding": "WKB", "geometry_types": [], **extra}
    if crs is not None:
        spec["crs"] = crs
    return json.dumps({"version": "1.1.0", "primary_column": column, "columns": {column: spec}})


def _pq(columns: dict[str, Any], geo: str | None = None, **write: Any) -> bytes:
    table = pa.table(columns).replace_schema_metadata({"geo": geo or _geo()})
    buf = io.BytesIO()
    pq.write_table(table, buf, **write)
    return buf.getvalue()


def _wkb_parquet(*blobs: bytes, compression: str = "none") -> bytes:
    return _pq({"geometry": pa.array(blobs, pa.binary())}, compression=compression)


def _repeated(value: object, rows: int, kind: pa.DataType) -> pa.DictionaryArray:
    """One value for every row, dictionary-encoded (so nothing is expanded to build it)."""
    return pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(rows, np.int32)), pa.array([value], kind)
    )


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _footer_patched(data: bytes, old: bytes, new: bytes, most: int = 1) -> bytes:
    """The file with ``old`` bytes replaced in its footer (found 1 to ``most`` times)."""
    (length,) = struct.unpack("<I", data[-8:-4])
    footer = data[-8 - length : -8]
    assert 1 <= footer.count(old) <= most, footer.count(old)
    patched = footer.replace(old, new)
    return data[: -8 - length] + patched + struct.pack("<I", len(patched)) + b"PAR1"


def _footer_claims(data: bytes, true_size: int, claimed: int) -> bytes:
    """The file with its footer claiming ``claimed`` bytes where it says ``true_size``."""
    old, new = _varint(2 * true_size), _varint(2 * claimed)  # zigzag of a positive i64
    return _footer_patched(data, old, new, most=2)  # the chunk's size, its row group's total


def _bad_size_statistics() -> bytes:
    """A footer whose size statistics hold 4 repetition levels for a flat column.

    pyarrow's ``RowGroupMetaData.column`` aborts the process on it (an uncaught C++
    exception, found by the fuzz test below); its reading path raises ``OSError``.
    The bytes replaced are the statistics pyarrow 26 writes (an empty list of
    repetition levels, then two definition levels).
    """
    data = _pq({"geometry": pa.array([SUDZHA.wkb, None])})
    return _footer_patched(data, b"\x19\x06\x19\x26", b"\x19\x46" + bytes(4) + b"\x19\x26")


def _sqlite(script: str, base: bytes | None = None) -> bytes:
    """A database built by a script, on top of ``base`` (another one's bytes) if given."""
    con = sqlite3.connect(":memory:")
    if base is not None:
        con.deserialize(base)
    con.executescript(script)
    con.commit()
    out = con.serialize()
    con.close()
    return out


@pytest.fixture(scope="module")
def gpkg(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """An honest GeoPackage written by GDAL: one layer ``areas`` of two polygons."""
    path = tmp_path_factory.mktemp("gpkg") / "areas.gpkg"
    frame = gpd.GeoDataFrame({"name": ["a", "b"]}, geometry=[SUDZHA, KORENEVO], crs=4326)
    frame.to_file(path, layer="areas", engine="pyogrio")
    return path.read_bytes()


def _layer(name: str, kind: str = "features", column: str | None = "geom") -> str:
    sql = (
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) "
        f"VALUES ('{name}', '{kind}', '{name}', 4326);"
    )
    if column:
        values = f"'{name}', '{column}', 'POLYGON', 4326, 0, 0"
        sql += f"INSERT INTO gpkg_geometry_columns VALUES ({values});"
    return sql


INFINITE = "WITH RECURSIVE r(fid) AS (SELECT 1 UNION ALL SELECT fid + 1 FROM r)"


# ---------------------------------------------------------------------------------------
# Nesting: WKT is scanned before GEOS parses it, WKB is walked without recursion


def test_wkt_depth_is_counted_without_recursion() -> None:
    text = _nested_wkt(40_000)
    assert _csv.wkt_depth(text) == 40_001
    assert _csv.max_wkt_depth() == _wkb.MAX_NESTING + 2


@pytest.mark.parametrize(
    ("depth", "reason"),
    [
        pytest.param(32, None, id="32-read"),
        pytest.param(33, "feature 2: geometries nested more than 32 deep", id="33-walker"),
        pytest.param(34, "row 3: column 'wkt': parentheses nested more than 34 deep", id="34"),
        pytest.param(1_000, "parentheses nested more than 34 deep", id="1000-recursion-error"),
        pytest.param(20_000, "parentheses nested more than 34 deep", id="20000-recursion"),
        pytest.param(40_000, "parentheses nested more than 34 deep", id="40000-segfault"),
    ],
)
def test_deeply_nested_wkt_refused_before_geos(depth: int, reason: str | None) -> None:
    text = _nested_wkt(depth)
    # The scan must refuse before GEOS's recursive reader sees it (it segfaults at 40,000).
    assert (_csv.wkt_depth(text) > _csv.max_wkt_depth()) == (depth > 33)
    data = _csv_wkt(SUDZHA.wkt, text)
    if reason is None:
        raw = read_upload(data, "deep.csv", crs="EPSG:4326")
        assert list(raw.frame.geom_type) == ["Polygon", "GeometryCollection"]
    else:
        refuse(data, "deep.csv", reason, crs="EPSG:4326")


@pytest.mark.parametrize("depth", [33, 1_000, 100_000])
def test_deeply_nested_wkb_refused(depth: int) -> None:
    refuse(_wkb_parquet(_nested_wkb(depth)), "deep.parquet", "nested more than 32 deep")


def test_wkb_walk_needs_no_recursion() -> None:
    counts = count_wkb(_nested_wkb(1_000_000))
    assert counts.depth == _wkb.MAX_NESTING
    assert counts.problems == ["geometries nested more than 32 deep"]
    counts = count_wkb(_nested_wkb(32))
    assert (counts.depth, counts.parts, counts.vertices, counts.problems) == (32, 32, 1, [])


def _empty_rings(n: int) -> bytes:
    return struct.pack("<BII", 1, 3, n) + bytes(4 * n)


def _empty_polygons(n: int) -> bytes:
    return struct.pack("<BII", 1, 6, n) + struct.pack("<BII", 1, 3, 0) * n


@pytest.mark.parametrize(
    ("blob", "reason"),
    [
        pytest.param(_empty_rings(100_001), "more than 100,000 rings in one feature", id="rings"),
        pytest.param(
            _empty_polygons(100_001), "more than 100,000 parts in one feature", id="parts"
        ),
        pytest.param(
            struct.pack("<BII", 1, 6, 1) + POINT_WKB,
            "a MultiPolygon holding a Point",
            id="mixed-multi",
        ),
        pytest.param(
            struct.pack("<BII", 1, 2, 1) + struct.pack("<2d", 35.2, 51.1),
            "a line of 1 point",
            id="one-point-line",
        ),
        pytest.param(
            struct.pack("<BII", 1, 6, 50_000), "a truncated or malformed geometry", id="count"
        ),
    ],
)
def test_rings_and_parts_capped_per_feature(blob: bytes, reason: str) -> None:
    refuse(_wkb_parquet(SUDZHA.wkb, blob), "pieces.parquet", f"feature 2: {reason}")


def test_rings_and_parts_capped_for_the_upload(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upload_read, "MAX_VERTICES", 12)
    data = _wkb_parquet(_empty_polygons(5), _empty_polygons(5), _empty_polygons(5))
    refuse(data, "pieces.parquet", "more than 12 rings and parts (feature 3 passes the cap)")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param(
            "MULTIPOLYGON (" + "EMPTY, " * 200_001 + "EMPTY)",
            "row 2: column 'wkt': up to 200,003 rings and parts",
            id="empty-parts",
        ),
        pytest.param(
            "POLYGON ((" + "35.2 51.1, " * 30 + "35.2 51.1))",
            "at least 28 vertices by row 2 (at most 12)",
            id="vertices",
        ),
    ],
)
def test_wkt_text_capped_before_geos(
    monkeypatch: pytest.MonkeyPatch, text: str, reason: str
) -> None:
    monkeypatch.setattr(upload_read, "MAX_VERTICES", 12)
    refuse(_csv_wkt(text), "pieces.csv", reason, crs="EPSG:4326")


# ---------------------------------------------------------------------------------------
# GeoPackage: inspected with sqlite3 first; no view is ever evaluated


GPKG_CASES: list[Any] = [
    pytest.param(
        f"CREATE VIEW v AS {INFINITE} SELECT fid, NULL AS geom FROM r;" + _layer("v"),
        "v",
        ("holds SQL views (v): views are not read",),
        id="view-over-infinite-query",
    ),
    pytest.param(
        f"CREATE VIEW v AS {INFINITE[:-1]} WHERE fid < 20000) "
        "SELECT fid, NULL AS geom, hex(zeroblob(50000)) AS pad FROM r;" + _layer("v"),
        "v",
        ("holds SQL views (v)",),
        id="view-expanding-to-2GB",
    ),
    pytest.param(
        f"CREATE VIEW stats AS {INFINITE} SELECT fid FROM r;",
        None,
        ("holds SQL views (stats)",),
        id="view-outside-the-layers",
    ),
    pytest.param(
        _layer("x"),
        "x",
        ("layer 'x' is listed in gpkg_contents but no such table exists",),
        id="missing-table",
    ),
    pytest.param(
        "CREATE TABLE notes (fid INTEGER PRIMARY KEY, txt TEXT);"
        + _layer("notes", "attributes", None),
        "notes",
        ("layer 'notes' holds no geometry (data type 'attributes')",),
        id="attributes-only-table",
    ),
    pytest.param(
        "CREATE TABLE t (fid INTEGER PRIMARY KEY, name TEXT);" + _layer("t"),
        "t",
        ("layer 't': its geometry column 'geom' does not exist",),
        id="missing-geometry-column",
    ),
    pytest.param(
        "CREATE VIRTUAL TABLE f USING fts5(x);",
        None,
        ("holds a virtual table 'f': refused",),
        id="virtual-table",
    ),
    pytest.param(
        "CREATE TABLE g (fid INTEGER PRIMARY KEY, geom BLOB, "
        "pad TEXT AS (hex(zeroblob(100000000))));" + _layer("g"),
        "g",
        ("table 'g' has a generated column 'pad': refused",),
        id="generated-column",
    ),
    pytest.param(
        "CREATE TABLE other (fid INTEGER PRIMARY KEY, geom BLOB);" + _layer("other"),
        None,
        ("several layers (areas, other): choose one",),
        id="two-layers",
    ),
    pytest.param(
        "".join(
            f"CREATE TABLE l{i:04d} (fid INTEGER PRIMARY KEY, geom BLOB);" + _layer(f"l{i:04d}")
            for i in range(999)
        ),
        None,
        ("several layers (areas, l0000, l0001,", "l0008 (+990 more)): choose one"),
        id="1000-layers",
    ),
    pytest.param(
        'CREATE TABLE "a\nb" (fid INTEGER PRIMARY KEY, geom BLOB);' + _layer("a\nb"),
        None,
        ("several layers (areas, 'a\\nb'): choose one",),
        id="layer-name-with-a-newline",
    ),
]


@pytest.mark.filterwarnings(GPKG_FROM_MEMORY)
@pytest.mark.parametrize(("script", "layer", "reasons"), GPKG_CASES)
def test_hostile_geopackage_refused(
    gpkg: bytes, script: str, layer: str | None, reasons: tuple[str, ...]
) -> None:
    refuse(_sqlite(script, gpkg), "hostile.gpkg", *reasons, layer=layer)


@pytest.mark.parametrize(
    ("script", "reasons"),
    [
        pytest.param(
            f"CREATE VIEW v AS {INFINITE} SELECT fid, 1 AS x FROM r;",
            ("holds SQL views (v)",),
            id="sqlite-with-infinite-view",
        ),
        pytest.param(
            "CREATE TABLE t (x);",
            ("an SQLite database but not a GeoPackage (no gpkg_contents)",),
            id="plain-sqlite",
        ),
        pytest.param(
            f"CREATE VIEW gpkg_contents AS {INFINITE} SELECT 'v' AS table_name FROM r;",
            ("holds SQL views (gpkg_contents)",),
            id="gpkg-contents-is-a-view",
        ),
        pytest.param(
            "CREATE TABLE gpkg_contents (table_name TEXT, data_type TEXT);",
            ("the GeoPackage lists no layers",),
            id="no-layers",
        ),
    ],
)
def test_sqlite_that_is_not_a_geopackage_refused(script: str, reasons: tuple[str, ...]) -> None:
    refuse(_sqlite(script), "plain.gpkg", *reasons)


@pytest.mark.filterwarnings(GPKG_FROM_MEMORY)
def test_geopackage_feature_layer_chosen_over_attribute_tables(gpkg: bytes) -> None:
    script = "CREATE TABLE notes (fid INTEGER PRIMARY KEY, txt TEXT);" + _layer(
        "notes", "attributes", None
    )
    raw = read_upload(_sqlite(script, gpkg), "mixed.gpkg")
    assert raw.layer == "areas"
    assert list(raw.frame["name"]) == ["a", "b"]


@pytest.mark.filterwarnings(GPKG_FROM_MEMORY)
def test_geopackage_of_attributes_only_refused(gpkg: bytes) -> None:
    script = (
        "DELETE FROM gpkg_geometry_columns; DELETE FROM gpkg_contents;"
        "CREATE TABLE notes (fid INTEGER PRIMARY KEY, txt TEXT);"
        + _layer("notes", "attributes", None)
    )
    refuse(_sqlite(script, gpkg), "notes.gpkg", "layer 'notes' holds no geometry")


@pytest.mark.filterwarnings(GPKG_FROM_MEMORY)
def test_geopackage_in_wal_mode_is_read(gpkg: bytes) -> None:
    wal = bytearray(gpkg)
    wal[18:20] = b"\x02\x02"
    assert len(read_upload(bytes(wal), "wal.gpkg").frame) == 2


@pytest.mark.filterwarnings(GPKG_FROM_MEMORY)
def test_geopackage_rows_counted_before_gdal(gpkg: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upload_read, "MAX_FEATURES", 1)
    refuse(gpkg, "areas.gpkg", "2 features (at most 1)")


def test_geopackage_inspection_is_interrupted(gpkg: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_gpkg, "MAX_SQLITE_STEPS", 10)
    refuse(gpkg, "areas.gpkg", "inspecting its SQLite tables took more than 10 steps")


# ---------------------------------------------------------------------------------------
# GeoParquet: refused from its footer and page headers, before pyarrow decodes a page


def _string_bomb() -> bytes:
    """2 KB: one 200 KB string in every one of 50,000 rows (10 GB once expanded)."""
    geometry = _repeated(SUDZHA.wkb, 50_000, pa.binary())
    columns = {"name": _repeated("a" * 200_000, 50_000, pa.string()), "geometry": geometry}
    return _pq(columns, compression="zstd")


def _wkb_bomb() -> bytes:
    """1 KB: one 84 KB polygon in every one of 50,000 rows (4.2 GB once expanded)."""
    ring = struct.pack("<BII", 1, 3, 1) + struct.pack("<I", 5250) + struct.pack("<2d", 1, 2) * 5250
    return _pq({"geometry": _repeated(ring, 50_000, pa.binary())}, compression="zstd")


def _ten_million_empty_rings() -> bytes:
    return _wkb_parquet(_empty_rings(10_000_000), compression="zstd")


def _with_crs(crs: object) -> Callable[[], bytes]:
    return lambda: _pq({"geometry": pa.array([SUDZHA.wkb])}, _geo(crs=crs))


PARQUET_CASES: list[Any] = [
    pytest.param(_string_bomb, ("its values expand to more than 256 MiB",), id="string-bomb"),
    pytest.param(_wkb_bomb, ("its values expand to more than 256 MiB",), id="wkb-bomb"),
    pytest.param(
        _ten_million_empty_rings,
        ("its pages decompress", "-fold (at most 100): a Parquet bomb?"),
        id="ten-million-empty-rings",
    ),
    pytest.param(
        lambda: _footer_claims(_ten_million_empty_rings(), 40_000_061, 10_000),
        ("its pages decompress", "a Parquet bomb?"),
        id="footer-lying-about-sizes",
    ),
    pytest.param(
        _bad_size_statistics,
        ("not readable as GeoParquet (Repetition level histogram size mismatch",),
        id="footer-aborting-pyarrow-metadata",
    ),
    pytest.param(
        _with_crs({"foo": "bar"}),
        ("its GeoParquet CRS {'foo': 'bar'} is not a valid CRS",),
        id="crs-not-projjson",
    ),
    pytest.param(_with_crs(4326), ("CRS 4326 is not PROJJSON, WKT or a code",), id="crs-a-number"),
    pytest.param(
        _with_crs("+init=/etc/passwd:x"),
        ("CRS '+init=/etc/passwd:x' is not PROJJSON, WKT or a code",),
        id="crs-init-file",
    ),
    pytest.param(
        lambda: _with_crs(pyproj.CRS("IAU_2015:49900").to_json_dict())(),
        ("CRS 'Mars (2015) - Sphere / Ocentric' is not on the Earth",),
        id="crs-on-mars",
    ),
    pytest.param(
        lambda: _pq(
            {"geometry": pa.array([SUDZHA.wkb])},
            '{"primary_column": "geometry", "columns": {"geometry": ' + "[" * 100_000 + "}}",
        ),
        ("its GeoParquet 'geo' metadata is malformed",),
        id="geo-nested-100000-deep",
    ),
    pytest.param(
        lambda: _pq({"geometry": pa.array([SUDZHA.wkb] * 1_001)}, row_group_size=1),
        ("1,001 row groups (at most 1,000)",),
        id="row-groups",
    ),
    pytest.param(
        lambda: _pq({**{f"c{i}": pa.array([1]) for i in range(1_000)}, "geometry": [SUDZHA.wkb]}),
        ("1,001 columns (at most 1,000)",),
        id="columns",
    ),
    pytest.param(
        lambda: _pq(
            {
                "geometry": pa.array([SUDZHA.wkb]),
                "many": pa.ListArray.from_arrays(
                    pa.array([0, 2_000_001], pa.int32()), pa.array(np.zeros(2_000_001, np.int8))
                ),
            }
        ),
        ("column 'many.list.element' holds 2,000,001 values (at most 2,000,000)",),
        id="values-in-a-list",
    ),
    pytest.param(
        lambda: _pq({"geometry": pa.array([SUDZHA.wkt])}),
        ("GeoParquet geometry column 'geometry' is string, not WKB binary",),
        id="geometry-as-text",
    ),
    pytest.param(
        lambda: _pq({"geometry": pa.array([SUDZHA.wkb])}, _geo(column="geom")),
        ("GeoParquet geometry column 'geom' is not in the file",),
        id="geometry-column-missing",
    ),
]


@pytest.mark.parametrize(("build", "reasons"), PARQUET_CASES)
def test_hostile_geoparquet_refused(build: Callable[[], bytes], reasons: tuple[str, ...]) -> None:
    data = build()
    assert len(data) < 8 * 2**20
    refuse(data, "hostile.parquet", *reasons)


def test_footer_lie_is_what_the_footer_says() -> None:
    honest = _ten_million_empty_rings()
    lying = _footer_claims(honest, 40_000_061, 10_000)
    claims = pq.ParquetFile(io.BytesIO(lying)).metadata.row_group(0).column(0)
    assert claims.total_uncompressed_size == 10_000  # the footer alone would pass the caps
    assert claims.total_uncompressed_size / len(lying) < _parquet.MAX_DECODED_RATIO


def test_geoparquet_decoded_size_capped_from_footer_and_pages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_parquet, "MAX_DECODED_BYTES", 1_000_000)
    monkeypatch.setattr(_parquet, "MAX_DECODED_RATIO", 10**9)
    honest = _ten_million_empty_rings()
    refuse(honest, "big.parquet", "its footer declares more than 1,000,000 bytes of pages")
    lying = _footer_claims(honest, 40_000_061, 10_000)
    refuse(lying, "big.parquet", "its pages decompress to more than 1,000,000 bytes")


def test_geoparquet_pages_counted_within_a_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_parquet, "MAX_PAGES", 10)
    columns = {"geometry": pa.array([SUDZHA.wkb] * 20)}
    data = _pq(columns, data_page_size=1, write_batch_size=1, use_dictionary=False)
    assert pq.ParquetFile(io.BytesIO(data)).metadata.num_row_groups == 1
    refuse(data, "pages.parquet", "more than 10 pages")


def test_geoparquet_vertices_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upload_read, "MAX_VERTICES", 12)
    data = _wkb_parquet(SUDZHA.wkb, KORENEVO.wkb, SUDZHA.wkb)
    refuse(data, "big.parquet", "more than 12 vertices (feature 3 passes the cap)")


def test_geoparquet_nested_and_other_geometry_columns_ignored() -> None:
    columns = {
        "name": pa.array(["a"]),
        "tags": pa.array([["x", "y"]]),
        "bbox": pa.array([{"xmin": 35.2, "ymin": 51.15, "xmax": 35.35, "ymax": 51.25}]),
        "centre": pa.array([SUDZHA.centroid.wkb]),
        "geometry": pa.array([SUDZHA.wkb]),
    }
    geo = json.loads(_geo(covering={"bbox": {"xmin": ["bbox", "xmin"]}}))
    geo["columns"]["centre"] = {"encoding": "WKB", "geometry_types": []}
    raw = read_upload(_pq(columns, json.dumps(geo)), "areas.parquet")
    assert list(raw.frame.columns) == ["name", "geometry"]
    assert raw.notes == ["ignored nested columns: tags", "ignored other geometry columns: centre"]


# ---------------------------------------------------------------------------------------
# GeoJSON and KML: counted from the text before GDAL builds anything


def _kml_doc(body: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><kml xmlns="{KML_NS}"><Document>{body}'
        "</Document></kml>"
    ).encode()


def test_geojson_of_empty_parts_refused_before_gdal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upload_read, "MAX_VERTICES", 3)
    geometry = {"type": "MultiPolygon", "coordinates": [[]] * 7}
    data = _fc({"type": "Feature", "properties": {}, "geometry": geometry})
    refuse(data, "empty.geojson", "9 JSON arrays: more positions, rings and parts than 3")


@pytest.mark.parametrize(
    ("module", "cap", "value", "reason"),
    [
        pytest.param(_containers, "MAX_XML_ELEMENTS", 5, "more than 5 XML elements", id="all"),
        pytest.param(
            upload_read, "MAX_VERTICES", 2, "more than 2 KML geometry elements", id="geometries"
        ),
    ],
)
def test_kml_elements_counted_before_gdal(
    monkeypatch: pytest.MonkeyPatch, module: object, cap: str, value: int, reason: str
) -> None:
    monkeypatch.setattr(module, cap, value)
    body = "<Placemark><MultiGeometry>" + "<Polygon/>" * 3 + "</MultiGeometry></Placemark>"
    refuse(_kml_doc(body), "empty.kml", reason)


# ---------------------------------------------------------------------------------------
# Attribute columns, CRS, 3D


def test_too_many_attribute_columns_refused() -> None:
    props = {f"k{i}": i for i in range(1_001)}
    refuse(_fc(_feature(SUDZHA, **props)), "wide.geojson", "1,001 attribute columns (at most")


def test_attribute_values_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upload_read, "MAX_ATTRIBUTE_VALUES", 3)
    data = _fc(_feature(SUDZHA, a=1, b=2), _feature(KORENEVO, a=3, b=4))
    refuse(data, "wide.geojson", "2 features x 2 columns = 4 attribute values (at most 3)")


@pytest.mark.parametrize(
    ("data", "file_name", "reason"),
    [
        pytest.param(
            b"wkt,a,b\n" + b'"POINT (35.2 51.1)",1,2\n' * 2,
            "wide.csv",
            "about 2 rows x 3 columns of attribute values (at most 5)",
            id="csv-before-pandas",
        ),
        pytest.param(
            _pq({"a": [1, 2], "b": [3, 4], "geometry": [SUDZHA.wkb, KORENEVO.wkb]}),
            "wide.parquet",
            "2 rows x 3 columns of values (at most 5)",
            id="geoparquet-from-its-footer",
        ),
    ],
)
def test_attribute_values_capped_before_parsing(
    monkeypatch: pytest.MonkeyPatch, data: bytes, file_name: str, reason: str
) -> None:
    monkeypatch.setattr(upload_read, "MAX_ATTRIBUTE_VALUES", 5)
    refuse(data, file_name, reason, crs="EPSG:4326")


@pytest.mark.parametrize(
    ("crs", "reason"),
    [
        pytest.param("IAU_2015:49900", "CRS 'Mars (2015) - Sphere / Ocentric' is not on the Earth"),
        pytest.param("IAU_2015:30100", "CRS 'Moon (2015) - Sphere / Ocentric' is not on the"),
        pytest.param('LOCAL_CS["site",UNIT["metre",1]]', "CRS 'site' has no ellipsoid"),
    ],
)
def test_crs_not_on_the_earth_refused(crs: str, reason: str) -> None:
    refuse(_csv_wkt(SUDZHA.wkt), "mars.csv", reason, crs=crs)


def test_coordinates_outside_the_crs_refused_not_blamed_on_a_repair(kursk: Theatre) -> None:
    far = shapely.box(1e15, 1e15, 1e15 + 1_000, 1e15 + 1_000)
    mapping = ingest.Mapping("deepstate", date=dt.date(2024, 8, 20), side="UA")
    with pytest.raises(UploadError) as info:
        ingest.ingest_bytes(_csv_wkt(far.wkt), "far.csv", mapping, kursk, crs="EPSG:3857")
    reason = info.value.reason
    assert "feature 1: coordinate (1e+15, 1e+15) is outside the valid area of" in reason
    assert "'WGS 84 / Pseudo-Mercator'" in reason
    assert "repair" not in reason


def _kml_3d() -> bytes:
    ring = " ".join(f"{x},{y},120" for x, y in SUDZHA.exterior.coords)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><kml xmlns="{KML_NS}"><Document><Placemark>'
        "<Polygon><outerBoundaryIs><LinearRing><coordinates>"
        f"{ring}</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark></Document></kml>"
    ).encode()


@pytest.mark.parametrize(
    ("build", "file_name"),
    [
        pytest.param(
            lambda: _fc(_feature(shapely.force_3d(SUDZHA, 120))), "z.geojson", id="geojson"
        ),
        pytest.param(_kml_3d, "z.kml", id="kml"),
        pytest.param(lambda: _csv_wkt(shapely.force_3d(SUDZHA, 120).wkt), "z.csv", id="csv"),
        pytest.param(
            lambda: _wkb_parquet(shapely.to_wkb(shapely.force_3d(SUDZHA, 120), flavor="iso")),
            "z.parquet",
            id="geoparquet",
        ),
        pytest.param(
            lambda: _csv_wkt("POLYGON M ((35.2 51.1 1, 35.3 51.1 1, 35.3 51.2 1, 35.2 51.1 1))"),
            "m.csv",
            id="csv-m",
        ),
    ],
)
def test_z_and_m_dropped_with_a_note(build: Callable[[], bytes], file_name: str) -> None:
    raw = read_upload(build(), file_name, crs="EPSG:4326" if file_name.endswith("csv") else None)
    geometry = raw.frame.geometry.to_numpy()
    assert not shapely.has_z(geometry).any()
    assert not shapely.has_m(geometry).any()
    assert "Z/M coordinates dropped (read in 2D) from 1 features" in raw.notes


# ---------------------------------------------------------------------------------------
# Fuzz: truncated and mutated copies of small valid files, every format


def _kml() -> bytes:
    ring = " ".join(f"{x},{y}" for x, y in SUDZHA.exterior.coords)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><kml xmlns="{KML_NS}"><Document><Placemark>'
        '<name>Sudzha</name><ExtendedData><Data name="side"><value>UA</value></Data>'
        "</ExtendedData><Polygon><outerBoundaryIs><LinearRing><coordinates>"
        f"{ring}</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark></Document></kml>"
    ).encode()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, blob in members.items():
            archive.writestr(name, blob)
    return buf.getvalue()


@pytest.fixture(scope="module")
def valid(tmp_path_factory: pytest.TempPathFactory, gpkg: bytes) -> dict[str, bytes]:
    """Small valid files of every format, by upload name (``areas.shp`` is the bare .shp)."""
    folder = tmp_path_factory.mktemp("fuzz")
    frame = gpd.GeoDataFrame(
        {"name": ["Sudzha", "Korenevo"], "n": [1, 2]},
        geometry=[SUDZHA, shapely.MultiPolygon([KORENEVO])],
        crs="EPSG:4326",
    )
    frame.to_file(folder / "areas.shp", engine="pyogrio")
    parts = {p.name: p.read_bytes() for p in folder.iterdir() if p.stem == "areas"}
    buf = io.BytesIO()
    frame.to_parquet(buf)
    return {
        "a.geojson": _fc(_feature(SUDZHA, name="a"), _feature(KORENEVO, name="b")),
        "a.csv": _csv_wkt(SUDZHA.wkt, KORENEVO.wkt),
        "a.gpkg": gpkg,
        "a.parquet": buf.getvalue(),
        "areas.zip": _zip(parts),
        "a.kml": _kml(),
        **{f"areas.zip/{name}": blob for name, blob in parts.items()},
    }


MUTATIONS = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(
        st.just("bytes"),
        st.lists(
            st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255), st.integers(0, 3)),
            min_size=1,
            max_size=8,
        ),
    ),
)


def _mutated(data: bytes, mutation: tuple[str, Any]) -> bytes:
    kind, how = mutation
    if kind == "truncate":
        return data[: int(len(data) * how)]
    out = bytearray(data)
    for where, value, repeat in how:
        at = int(len(out) * where)
        if repeat:  # insert the byte, repeated
            out[at:at] = bytes([value]) * repeat
        elif out:
            out[min(at, len(out) - 1)] = value
    return bytes(out)


def _valid_raw(raw: RawUpload) -> None:
    assert isinstance(raw, RawUpload)
    assert raw.frame.crs.to_epsg() == 4326
    assert len(raw.frame) >= 1
    geometry = raw.frame.geometry.to_numpy()
    assert not shapely.has_z(geometry).any()
    coords = shapely.get_coordinates(geometry)
    assert np.isfinite(coords).all()
    assert (np.abs(coords[:, 0]) <= 180).all()
    assert (np.abs(coords[:, 1]) <= 90).all()


FUZZED = [
    "a.geojson",
    "a.csv",
    "a.gpkg",
    "a.parquet",
    "areas.zip",
    "a.kml",
    "areas.zip/areas.shp",
    "areas.zip/areas.dbf",
]


@pytest.mark.filterwarnings("ignore")  # GDAL's and pandas's warnings are not errors here
@pytest.mark.parametrize("name", FUZZED)
@settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutation=MUTATIONS)
def test_mutated_valid_files_read_or_refused_cleanly(
    valid: dict[str, bytes], name: str, mutation: tuple[str, Any]
) -> None:
    if "/" in name:  # a member of the zipped shapefile, mutated before zipping
        member = name.split("/")[1]
        members = {n: b for n, b in valid.items() if n.startswith("areas.zip/")}
        parts = {n.split("/")[1]: b for n, b in members.items()}
        data, file_name = _zip({**parts, member: _mutated(parts[member], mutation)}), "areas.zip"
    else:
        data, file_name = _mutated(valid[name], mutation), name
    crs = "EPSG:4326" if file_name.endswith(".csv") else None
    try:
        raw = read_upload(data, file_name, crs=crs)
    except InputError as e:  # UploadError, or an InputError of the reader's own
        refusal = str(e)
    else:
        _valid_raw(raw)
        return
    assert "\n" not in refusal


def test_fuzz_fixtures_are_valid(valid: dict[str, bytes]) -> None:
    for name in FUZZED:
        if "/" not in name:
            crs = "EPSG:4326" if name.endswith(".csv") else None
            _valid_raw(read_upload(valid[name], name, crs=crs))


def test_mutations_change_the_file(valid: dict[str, bytes]) -> None:
    data = valid["a.geojson"]
    assert _mutated(data, ("truncate", 0.5)) == data[: len(data) // 2]
    assert _mutated(data, ("bytes", [(0.0, 0x58, 0)])) == b"X" + data[1:]
    assert _mutated(data, ("bytes", [(0.0, 0x58, 2)])) == b"XX" + data

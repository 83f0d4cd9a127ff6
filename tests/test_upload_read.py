"""Reading uploads: honest files of every accepted format, and a catalogue of hostile ones.

Every fixture file is built here, at test time. Refusals go through
:func:`pipeline.ingest.ingest_bytes` next to a store holding one revision, and each one checks
that the message names the file and the reason, that the store is unchanged, and that no
file was left behind (in ``tmp_path``, the temp folder or GDAL's ``/vsimem/``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import io
import json
import struct
import sys
import tempfile
import threading
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import pytest
import shapely

from pipeline import ingest, upload_read
from pipeline.build import Theatre
from pipeline.errors import InputError
from pipeline.store import GeoPackageStore
from pipeline.upload_read import UploadError, read_upload
from tests.conftest import feature as _feature
from tests.conftest import feature_collection as _fc

DAY = dt.date(2024, 8, 20)
MAPPING = ingest.Mapping("deepstate", date=DAY, side="UA")
SUDZHA = shapely.box(35.20, 51.15, 35.35, 51.25)
KORENEVO = shapely.box(35.05, 51.30, 35.15, 51.38)
SQUARE = [(35.2, 51.1), (35.3, 51.1), (35.3, 51.2), (35.2, 51.2), (35.2, 51.1)]
KML_NS = "http://www.opengis.net/kml/2.2"

# GDAL's warnings on reads that go on to succeed or be refused by the reader itself; with
# warnings as errors they would surface as unraisable exceptions in pyogrio's error handler.
GPKG_FROM_MEMORY = "ignore:.*non conformant file extension:RuntimeWarning"
GDAL_UNCLOSED_RING = "ignore:Non closed ring detected:RuntimeWarning"
SHAPELY_NAN = "ignore:invalid value encountered in from_wkb:RuntimeWarning"


# ---------------------------------------------------------------------------------------
# Builders


def _fc_text(*geometries: str) -> bytes:
    """A FeatureCollection from raw geometry JSON text (for NaN and other non-JSON tokens)."""
    feats = ",".join(
        f'{{"type":"Feature","properties":{{"n":{i + 1}}},"geometry":{g}}}'
        for i, g in enumerate(geometries)
    )
    return f'{{"type":"FeatureCollection","features":[{feats}]}}'.encode()


def _ring_json(ring: Sequence[tuple[float, float]] | Sequence[tuple[str, str]]) -> str:
    points = ",".join(f"[{x},{y}]" for x, y in ring)
    return f'{{"type":"Polygon","coordinates":[[{points}]]}}'


SQUARE_JSON = _ring_json(SQUARE)


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as archive:
        for name, blob in members.items():
            archive.writestr(name, blob)
    return buf.getvalue()


def _wkb_polygon(ring: list[tuple[float, float]]) -> bytes:
    """Little-endian ISO WKB of a one-ring polygon, exactly as given (closed or not)."""
    head = struct.pack("<BII", 1, 3, 1) + struct.pack("<I", len(ring))
    return head + b"".join(struct.pack("<2d", x, y) for x, y in ring)


def _geoparquet(wkbs: list[bytes], crs: object = None) -> bytes:
    """GeoParquet written with pyarrow from raw WKB (so nothing validates it on the way)."""
    column: dict[str, Any] = {"encoding": "WKB", "geometry_types": []}
    if crs is not None:
        column["crs"] = crs
    geo = {"version": "1.0.0", "primary_column": "geometry", "columns": {"geometry": column}}
    table = pa.table(
        {
            "name": [f"f{i + 1}" for i in range(len(wkbs))],
            "geometry": pa.array(wkbs, type=pa.binary()),
        }
    ).replace_schema_metadata({"geo": json.dumps(geo)})
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def _frame(crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {"name": ["Sudzha", "Korenevo"], "n": [1, 2]},
        geometry=[SUDZHA, KORENEVO],
        crs="EPSG:4326",
    )
    return frame.to_crs(crs)


def _kml(body: str, head: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{head}<kml xmlns="{KML_NS}">{body}</kml>'.encode()
    )


HONEST_KML = _kml(
    '<Document><Style id="ua"><PolyStyle><color>7fff0000</color></PolyStyle></Style>'
    "<Placemark><name>Sudzha</name><styleUrl>#ua</styleUrl>"
    '<ExtendedData><Data name="side"><value>UA</value></Data></ExtendedData>'
    "<Polygon><outerBoundaryIs><LinearRing><coordinates>"
    "35.2,51.15 35.35,51.15 35.35,51.25 35.2,51.25 35.2,51.15"
    "</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark></Document>"
)


@pytest.fixture(scope="module")
def shp_parts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The parts of a real two-polygon shapefile ``areas``, written by GDAL."""
    folder = tmp_path_factory.mktemp("shp")
    _frame().to_file(folder / "areas.shp", engine="pyogrio")
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# ---------------------------------------------------------------------------------------
# The guard around every refusal: store unchanged, nothing left behind.


def _left_behind(root: Path) -> tuple[list[str], list[str], list[str]]:
    temp = Path(tempfile.gettempdir())
    suspicious = ("pyogrio", "vsimem", "evil")
    return (
        sorted(str(p.relative_to(root)) for p in root.rglob("*")),
        sorted(p.name for p in temp.iterdir() if any(s in p.name.lower() for s in suspicious)),
        sorted(pyogrio.vsi_listtree("/vsimem/")),
    )


@dataclass
class Guard:
    """Runs an upload through ingest next to a store and checks it is refused cleanly."""

    theatre: Theatre
    store: GeoPackageStore
    root: Path

    def refuse(
        self, data: bytes, file_name: str, *, layer: str | None = None, crs: str | None = None
    ) -> UploadError:
        before = _left_behind(self.root)
        revisions = self.store.revisions()
        with pytest.raises(UploadError) as info:
            ingest.ingest_bytes(data, file_name, MAPPING, self.theatre, layer=layer, crs=crs)
        err = info.value
        assert isinstance(err, InputError)
        assert err.file_name == file_name
        assert err.reason
        assert str(err) == f"file {file_name!r}: {err.reason}"
        assert self.store.revisions() == revisions
        assert _left_behind(self.root) == before
        return err


@pytest.fixture
def guard(kursk: Theatre, tmp_path: Path) -> Guard:
    store = GeoPackageStore(tmp_path / "s.gpkg")
    seed = gpd.GeoDataFrame({"side": ["UA"]}, geometry=[SUDZHA], crs="EPSG:4326")
    store.commit(
        seed,
        who="tester",
        claimant="deepstate",
        date=DAY,
        mode="patch",
        source="test",
        licence="CC0",
        file_name="seed.geojson",
        file_sha256="0" * 64,
    )
    return Guard(kursk, store, tmp_path)


def _assert_reason(err: UploadError, *parts: str) -> None:
    for part in parts:
        assert part in err.reason, (part, err.reason)


@dataclass
class Listener:
    """A local HTTP server that records every connection made to it."""

    url: str
    connections: list[str] = field(default_factory=list)


@pytest.fixture
def listener() -> Iterator[Listener]:
    seen = Listener("")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(404)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    class Server(http.server.ThreadingHTTPServer):
        def verify_request(self, request: Any, client_address: Any) -> bool:
            seen.connections.append(str(client_address))
            return True

    server = Server(("127.0.0.1", 0), Handler)
    seen.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield seen
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_listener_records_a_request(listener: Listener) -> None:
    """The empty logs below mean something: a real request is recorded."""
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"{listener.url}/probe", timeout=5)
    assert len(listener.connections) == 1


# ---------------------------------------------------------------------------------------
# Honest files, one per format


def test_geojson() -> None:
    data = _fc(
        _feature(SUDZHA, name="Звільнено /// Liberated", fill="#0000ff", opacity=0.5),
        _feature(KORENEVO, name="Окуповано /// Occupied", fill="#ff0000", opacity=1),
    )
    raw = read_upload(data, "deepstate.geojson")
    assert (raw.fmt, raw.driver, raw.crs_source) == ("GeoJSON", "GeoJSON", "file")
    assert raw.frame.crs.to_epsg() == 4326
    assert list(raw.frame.geom_type) == ["Polygon", "Polygon"]
    assert list(raw.frame["name"]) == ["Звільнено /// Liberated", "Окуповано /// Occupied"]
    assert list(raw.frame["opacity"]) == ["0.5", "1"]  # attributes come back as text
    assert raw.vertices == 10
    assert raw.frame.geometry.iloc[0].equals(SUDZHA)


def test_kml() -> None:
    raw = read_upload(HONEST_KML, "sudzha.kml")
    assert raw.fmt == "KML"
    assert raw.driver in {"LIBKML", "KML"}
    assert raw.frame.crs.to_epsg() == 4326
    assert list(raw.frame.geom_type) == ["Polygon"]
    assert raw.frame["Name"].iloc[0] == "Sudzha"
    assert raw.frame["side"].iloc[0] == "UA"
    assert raw.frame.geometry.iloc[0].normalize().equals(SUDZHA.normalize())


def test_missing_attribute_is_none_not_nan() -> None:
    data = _fc(_feature(SUDZHA, name="a", note="x"), _feature(KORENEVO, name="b"))
    raw = read_upload(data, "a.geojson")
    assert raw.frame["note"].iloc[0] == "x"
    assert raw.frame["note"].iloc[1] is None


def test_kmz() -> None:
    data = _zip({"doc.kml": HONEST_KML, "files/icon.png": b"\x89PNG"})
    raw = read_upload(data, "sudzha.kmz")
    assert raw.fmt == "KMZ"
    assert raw.frame.crs.to_epsg() == 4326
    assert list(raw.frame.geom_type) == ["Polygon"]
    assert raw.frame["Name"].iloc[0] == "Sudzha"
    assert raw.notes == ["ignored KMZ members: icon.png"]


def test_zipped_shapefile(shp_parts: dict[str, bytes]) -> None:
    assert set(shp_parts) == {f"areas{e}" for e in (".shp", ".shx", ".dbf", ".prj", ".cpg")}
    members = {f"export/{name}": blob for name, blob in shp_parts.items()}
    raw = read_upload(_zip({**members, "README.txt": b"hello"}), "areas.zip")
    assert (raw.fmt, raw.driver, raw.layer) == ("Shapefile", "ESRI Shapefile", "areas")
    assert raw.frame.crs.to_epsg() == 4326
    assert list(raw.frame.geom_type) == ["Polygon", "Polygon"]
    assert list(raw.frame["name"]) == ["Sudzha", "Korenevo"]
    assert list(raw.frame["n"]) == ["1", "2"]
    assert raw.notes == ["ignored zip members: readme.txt"]
    assert shapely.equals(raw.frame.geometry.iloc[1], KORENEVO)


@pytest.mark.filterwarnings(GPKG_FROM_MEMORY)
def test_geopackage_with_two_layers_needs_a_layer(guard: Guard) -> None:
    path = guard.root / "two.gpkg"
    _frame().to_file(path, layer="areas")
    _frame().iloc[1:].to_file(path, layer="korenevo")
    data = path.read_bytes()
    err = guard.refuse(data, "two.gpkg")
    _assert_reason(err, "several layers (areas, korenevo): choose one")
    err = guard.refuse(data, "two.gpkg", layer="elsewhere")
    _assert_reason(err, "no layer 'elsewhere'")
    raw = read_upload(data, "two.gpkg", layer="korenevo")
    assert (raw.fmt, raw.driver, raw.layer) == ("GeoPackage", "GPKG", "korenevo")
    assert raw.frame.crs.to_epsg() == 4326
    assert list(raw.frame.geom_type) == ["Polygon"]
    assert list(raw.frame["name"]) == ["Korenevo"]


@pytest.mark.filterwarnings(GPKG_FROM_MEMORY)
def test_projected_geopackage_comes_back_in_lonlat(tmp_path: Path) -> None:
    _frame("EPSG:32636").to_file(tmp_path / "utm.gpkg", layer="areas")
    raw = read_upload((tmp_path / "utm.gpkg").read_bytes(), "utm.gpkg")
    assert raw.frame.crs.to_epsg() == 4326
    assert list(raw.frame["name"]) == ["Sudzha", "Korenevo"]
    got = shapely.get_coordinates(raw.frame.geometry.to_numpy())
    want = shapely.get_coordinates(_frame().geometry.to_numpy())
    np.testing.assert_allclose(got, want, atol=1e-7)


def test_geoparquet(tmp_path: Path) -> None:
    _frame().to_parquet(tmp_path / "areas.parquet")
    raw = read_upload((tmp_path / "areas.parquet").read_bytes(), "areas.geoparquet")
    assert (raw.fmt, raw.driver) == ("GeoParquet", "pyarrow")
    assert raw.frame.crs.to_epsg() == 4326
    assert list(raw.frame.geom_type) == ["Polygon", "Polygon"]
    assert list(raw.frame["name"]) == ["Sudzha", "Korenevo"]
    assert list(raw.frame["n"]) == ["1", "2"]
    assert shapely.equals(raw.frame.geometry.iloc[0], SUDZHA)


def test_csv_with_wkt_column() -> None:
    data = f'name,wkt\nSudzha,"{SUDZHA.wkt}"\nKorenevo,"{KORENEVO.wkt}"\n'.encode()
    raw = read_upload(data, "areas.csv", crs="EPSG:4326")
    assert (raw.fmt, raw.driver, raw.crs_source) == ("CSV", "pandas", "confirmed")
    assert raw.frame.crs.to_epsg() == 4326
    assert list(raw.frame.geom_type) == ["Polygon", "Polygon"]
    assert list(raw.frame["name"]) == ["Sudzha", "Korenevo"]
    assert "wkt" not in raw.frame.columns
    assert shapely.equals(raw.frame.geometry.iloc[1], KORENEVO)


def test_csv_with_latitude_and_longitude() -> None:
    data = b"name,lat,lon\nSudzha,51.19,35.27\nKorenevo,51.35,35.10\n"
    raw = read_upload(data, "places.csv", crs="EPSG:4326")
    assert raw.frame.crs.to_epsg() == 4326
    assert list(raw.frame.geom_type) == ["Point", "Point"]
    assert list(raw.frame["name"]) == ["Sudzha", "Korenevo"]
    assert (raw.frame.geometry.iloc[0].x, raw.frame.geometry.iloc[0].y) == (35.27, 51.19)


def test_points_only_are_read_then_refused_by_prepare(kursk: Theatre) -> None:
    data = b"name,lat,lon\nSudzha,51.19,35.27\nKorenevo,51.35,35.10\n"
    raw = read_upload(data, "places.csv", crs="EPSG:4326")
    with pytest.raises(UploadError) as info:
        ingest.prepare(raw, MAPPING, kursk, sha256="0" * 64)
    assert info.value.file_name == "places.csv"
    _assert_reason(info.value, "nothing polygonal", "2 not a polygon (Point)")


# ---------------------------------------------------------------------------------------
# Hostile names and layers


@pytest.mark.parametrize(
    "file_name",
    [
        "https://example.org/a.geojson",
        "/vsizip/a.zip",
        "/vsicurl/http://127.0.0.1:9/a.geojson",
        "vsimem/a.geojson",
        "../a.geojson",
        "/etc/passwd.geojson",
        "C:\\a.geojson",
        "a\x00.geojson",
    ],
)
def test_path_or_url_as_file_name_refused(guard: Guard, file_name: str) -> None:
    err = guard.refuse(_fc(_feature(SUDZHA)), file_name)
    _assert_reason(err, repr(file_name), "not a plain name")


@pytest.mark.parametrize("file_name", ["a.vrt", "a.shp", "a.gml", "a", "a.geojson.exe"])
def test_extension_not_accepted(guard: Guard, file_name: str) -> None:
    err = guard.refuse(_fc(_feature(SUDZHA)), file_name)
    _assert_reason(err, "extension", "not accepted")


@pytest.mark.parametrize("layer", ["../x", "/vsicurl/x", "a/b", "https://example.org/x", ""])
def test_path_or_url_as_layer_refused(guard: Guard, layer: str) -> None:
    err = guard.refuse(b"SQLite format 3\x00", "areas.gpkg", layer=layer)
    _assert_reason(err, f"layer {layer!r}", "not a plain name")


# ---------------------------------------------------------------------------------------
# Files that would make GDAL or an XML parser read or fetch something else


def _vrt(source: str) -> bytes:
    return (
        f'<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>{source}</SrcDataSource>'
        "</OGRVRTLayer></OGRVRTDataSource>"
    ).encode()


@pytest.mark.parametrize("file_name", ["a.geojson", "a.kml", "a.gpkg", "a.csv"])
@pytest.mark.parametrize("target", ["/etc/passwd", "/vsicurl/{url}/x.geojson"])
def test_ogr_vrt_refused(guard: Guard, listener: Listener, file_name: str, target: str) -> None:
    err = guard.refuse(_vrt(target.format(url=listener.url)), file_name)
    _assert_reason(err, "declared", "OGR VRT")
    assert listener.connections == []


FETCHING_KML: list[Any] = [
    pytest.param(
        '<!DOCTYPE kml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        "<Document><name>&xxe;</name></Document>",
        ("document type declaration",),
        id="external-entity-file",
    ),
    pytest.param(
        '<!DOCTYPE kml [<!ENTITY xxe SYSTEM "{url}/xxe">]>',
        "<Document><name>&xxe;</name></Document>",
        ("document type declaration",),
        id="external-entity-http",
    ),
    pytest.param(
        '<!DOCTYPE kml [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
        '<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>',
        "<Document><name>&d;</name></Document>",
        ("document type declaration",),
        id="billion-laughs",
    ),
    pytest.param(
        "",
        "<Document><NetworkLink><Link><href>{url}/more.kml</href></Link></NetworkLink></Document>",
        ("<NetworkLink>", "fetch remote data"),
        id="network-link",
    ),
    pytest.param(
        "",
        "<Document><Placemark><styleUrl>{url}/s.kml#a</styleUrl>"
        "<Point><coordinates>35.27,51.19</coordinates></Point></Placemark></Document>",
        ("<styleUrl> points outside the file", "/s.kml#a"),
        id="remote-style-url",
    ),
    pytest.param(
        "",
        "<Document><Style id='a'><IconStyle><Icon><href>{url}/i.png</href></Icon></IconStyle>"
        "</Style></Document>",
        ("<href> points outside the file", "/i.png"),
        id="remote-icon",
    ),
    pytest.param("", "<Document><Placemark>", ("not well-formed XML",), id="truncated"),
]


@pytest.mark.parametrize("container", ["kml", "kmz"])
@pytest.mark.parametrize(("head", "body", "reasons"), FETCHING_KML)
def test_kml_that_would_fetch_refused(
    guard: Guard,
    listener: Listener,
    container: str,
    head: str,
    body: str,
    reasons: tuple[str, ...],
) -> None:
    kml = _kml(body.format(url=listener.url), head.format(url=listener.url))
    data = kml if container == "kml" else _zip({"doc.kml": kml})
    err = guard.refuse(data, f"hostile.{container}")
    _assert_reason(err, *reasons)
    assert listener.connections == []


@pytest.mark.parametrize("kind", ["link", "name"])
def test_geojson_crs_pointing_at_a_server_fetches_nothing(listener: Listener, kind: str) -> None:
    crs = (
        {"type": "link", "properties": {"href": f"{listener.url}/crs.wkt", "type": "ogcwkt"}}
        if kind == "link"
        else {"type": "name", "properties": {"name": f"{listener.url}/def/crs/EPSG/0/4326"}}
    )
    doc = {"type": "FeatureCollection", "crs": crs, "features": [_feature(SUDZHA)]}
    with contextlib.suppress(UploadError):  # read or refused: either way, nothing fetched
        read_upload(json.dumps(doc).encode(), "linked.geojson")
    assert listener.connections == []


# ---------------------------------------------------------------------------------------
# Zip archives


def test_zip_member_with_an_empty_name_is_refused() -> None:
    # zipfile cannot write an empty name: write "e" and zero its length in both headers.
    data = bytearray(_zip({"e": b"x"}, zipfile.ZIP_STORED))
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    struct.pack_into("<H", data, local + 26, 0)
    struct.pack_into("<H", data, central + 28, 0)
    del data[central + 46]  # the central name byte
    del data[local + 30]  # the local name byte
    end = data.find(b"PK\x05\x06")
    struct.pack_into("<I", data, end + 16, central - 1)  # central directory offset
    struct.pack_into("<I", data, end + 12, 46)  # central directory size
    with pytest.raises(UploadError, match="empty name"):
        read_upload(bytes(data), "areas.zip")


def _renamed(parts: dict[str, bytes], stem: str) -> dict[str, bytes]:
    return {stem + Path(name).suffix: blob for name, blob in parts.items()}


def _without(parts: dict[str, bytes], ext: str) -> dict[str, bytes]:
    return {name: blob for name, blob in parts.items() if not name.endswith(ext)}


ZIPS: list[Any] = [
    pytest.param(
        lambda p: {**_without(p, ".shp"), "../evil.shp": p["areas.shp"]},
        ("zip member '../evil.shp' climbs out",),
        id="zip-slip",
    ),
    pytest.param(
        lambda p: {**_without(p, ".shp"), "export/../../evil.shp": p["areas.shp"]},
        ("'export/../../evil.shp' climbs out",),
        id="zip-slip-in-folder",
    ),
    pytest.param(
        lambda p: {"/tmp/evil.shp": p["areas.shp"], **_without(p, ".shp")},
        ("zip member '/tmp/evil.shp' has an absolute path",),
        id="absolute-member",
    ),
    pytest.param(
        lambda p: {**p, "inner.zip": _zip(p)},
        ("zip member 'inner.zip' is itself an archive (nested)",),
        id="nested-zip",
    ),
    pytest.param(
        lambda p: {**p, **_renamed(p, "other")},
        ("several layers (areas, other): choose one",),
        id="two-shapefiles",
    ),
    pytest.param(
        lambda p: _without(p, ".prj"), ("shapefile 'areas' lacks areas.prj",), id="no-prj"
    ),
    pytest.param(
        lambda p: _without(p, ".shx"), ("shapefile 'areas' lacks areas.shx",), id="no-shx"
    ),
    pytest.param(
        lambda p: _without(p, ".dbf"), ("shapefile 'areas' lacks areas.dbf",), id="no-dbf"
    ),
    pytest.param(lambda p: {"notes.txt": b"x"}, ("holds no .shp file",), id="no-shp"),
    pytest.param(
        lambda p: {**p, "AREAS.shp": p["areas.shp"]},
        ("two members named 'areas.shp'",),
        id="case-twins",
    ),
    pytest.param(
        lambda p: {**p, "areas.shp": b"\x00" * 100},
        ("not readable as Shapefile",),
        id="corrupt-shp",
    ),
]


@pytest.mark.parametrize(("members", "reasons"), ZIPS)
def test_hostile_zip_refused(
    guard: Guard,
    shp_parts: dict[str, bytes],
    members: Callable[[dict[str, bytes]], dict[str, bytes]],
    reasons: tuple[str, ...],
) -> None:
    err = guard.refuse(_zip(members(shp_parts)), "areas.zip")
    _assert_reason(err, *reasons)
    assert not (Path(tempfile.gettempdir()) / "evil.shp").exists()


def test_zip_bomb_refused(guard: Guard, shp_parts: dict[str, bytes]) -> None:
    bomb = _zip({**_without(shp_parts, ".shp"), "areas.shp": bytes(50 * 2**20)})
    assert len(bomb) < upload_read.MAX_BYTES
    err = guard.refuse(bomb, "areas.zip")
    _assert_reason(err, "zip member 'areas.shp' inflates", "fold", "zip bomb")


def test_kmz_without_kml_refused(guard: Guard) -> None:
    err = guard.refuse(_zip({"files/a.png": b"\x89PNG"}), "a.kmz")
    _assert_reason(err, "holds no .kml document")


# ---------------------------------------------------------------------------------------
# Contents that are not what they claim, or hold nothing


@pytest.mark.parametrize(
    ("data", "file_name", "reasons"),
    [
        pytest.param(b"", "a.geojson", ("the file is empty",), id="empty"),
        pytest.param(_fc(), "a.geojson", ("holds no features",), id="empty-collection"),
        pytest.param(
            _zip({"a.geojson": _fc(_feature(SUDZHA))}),
            "a.geojson",
            ("declared GeoJSON but the content is a zip archive",),
            id="geojson-that-is-a-zip",
        ),
        pytest.param(
            b"SQLite format 3\x00" + bytes(100),
            "a.geojson",
            ("declared GeoJSON but the content is an SQLite database",),
            id="geojson-that-is-sqlite",
        ),
        pytest.param(
            _fc(_feature(SUDZHA)),
            "a.gpkg",
            ("declared GeoPackage but the content is JSON",),
            id="gpkg-that-is-json",
        ),
        pytest.param(
            _fc(_feature(SUDZHA)),
            "a.csv",
            ("declared CSV but the content is JSON",),
            id="csv-that-is-json",
        ),
        pytest.param(
            _fc(_feature(SUDZHA)),
            "a.parquet",
            ("declared GeoParquet but the content is JSON",),
            id="parquet-that-is-json",
        ),
        pytest.param(
            b'{"answer": 42}', "a.json", ("not readable as GeoJSON",), id="json-not-geojson"
        ),
        pytest.param(
            b"PAR1" + bytes(20), "a.parquet", ("not readable as GeoParquet",), id="bad-parquet"
        ),
        pytest.param(
            f'name,wkt\na,"{SUDZHA.wkt}"\n'.encode(),
            "a.csv",
            ("names no CRS",),
            id="csv-without-crs",
        ),
        pytest.param(
            b"name,lat,lon\na,51.19,35.27\nb,north,35.1\n",
            "a.csv",
            ("row 3:", "'north'", "not numbers"),
            id="csv-bad-latitude",
        ),
        pytest.param(
            b"name,wkt\na,POLYGON((1 2\n",
            "a.csv",
            ("row 2: column 'wkt' is not WKT",),
            id="csv-bad-wkt",
        ),
        pytest.param(
            b"name,colour\na,red\n", "a.csv", ("needs a WKT column",), id="csv-no-geometry"
        ),
    ],
)
def test_bad_content_refused(
    guard: Guard, data: bytes, file_name: str, reasons: tuple[str, ...]
) -> None:
    err = guard.refuse(data, file_name)
    _assert_reason(err, *reasons)


def test_parquet_without_geo_metadata_refused(guard: Guard) -> None:
    buf = io.BytesIO()
    pq.write_table(pa.table({"name": ["a"], "geometry": [SUDZHA.wkb]}), buf)
    err = guard.refuse(buf.getvalue(), "a.parquet")
    _assert_reason(err, "without GeoParquet 'geo' metadata")


def test_unknown_confirmed_crs_refused(guard: Guard) -> None:
    err = guard.refuse(_fc(_feature(SUDZHA)), "a.geojson", crs="EPSG:999999")
    _assert_reason(err, "unknown CRS 'EPSG:999999'")


# ---------------------------------------------------------------------------------------
# Coordinates and rings; the bad feature is always the second, and is named


@pytest.mark.parametrize(
    ("geometry", "reasons"),
    [
        pytest.param(
            _ring_json([(35.2, 95), (35.3, 95), (35.3, 96), (35.2, 95)]),
            ("feature 2: latitude 95 is out of range",),
            id="latitude-95",
        ),
        pytest.param(
            _ring_json([(540, 51.1), (541, 51.1), (541, 51.2), (540, 51.1)]),
            ("feature 2: longitude 540 is out of range",),
            id="longitude-540",
        ),
        pytest.param(
            _ring_json([(4.3e6, 5.6e6), (4.4e6, 5.6e6), (4.4e6, 5.7e6), (4.3e6, 5.6e6)]),
            ("feature 2:", "out of range (projected coordinates without a CRS?)"),
            id="metres-as-degrees",
        ),
        pytest.param(
            '{"type":"Point","coordinates":[NaN,51.1]}',
            ("feature 2: a coordinate is NaN or infinite",),
            id="nan-point",
        ),
        pytest.param(
            _ring_json([("35.2", "51.1"), ("35.3", "NaN"), ("35.3", "51.2"), ("35.2", "51.1")]),
            ("feature 2: a coordinate is NaN or infinite",),
            marks=pytest.mark.filterwarnings(SHAPELY_NAN),
            id="nan-vertex",
        ),
        pytest.param(
            _ring_json(
                [("35.2", "51.1"), ("Infinity", "51.1"), ("35.3", "51.2"), ("35.2", "51.1")]
            ),
            ("feature 2: a coordinate is NaN or infinite",),
            id="infinite-vertex",
        ),
        pytest.param(
            _ring_json(
                [("-Infinity", "51.1"), ("35.3", "51.1"), ("35.3", "51.2"), ("-Infinity", "51.1")]
            ),
            ("feature 2: a coordinate is NaN or infinite",),
            id="infinite-first-vertex",
        ),
        pytest.param(
            _ring_json([("NaN", "51.1"), ("35.3", "51.1"), ("35.3", "51.2"), ("NaN", "51.1")]),
            ("feature 2: a coordinate is NaN or infinite",),
            marks=pytest.mark.filterwarnings(GDAL_UNCLOSED_RING),
            id="nan-first-vertex",
        ),
        pytest.param(
            _ring_json(SQUARE[:-1]),
            ("feature 2: a ring that is not closed",),
            marks=pytest.mark.filterwarnings(GDAL_UNCLOSED_RING),
            id="unclosed-ring",
        ),
        pytest.param(
            _ring_json([SQUARE[0], SQUARE[1], SQUARE[0]]),
            ("feature 2: a ring of 3 points (at least 4 are needed)",),
            id="three-point-ring",
        ),
    ],
)
def test_bad_coordinates_in_geojson_refused(
    guard: Guard, geometry: str, reasons: tuple[str, ...]
) -> None:
    err = guard.refuse(_fc_text(SQUARE_JSON, geometry), "bad.geojson")
    _assert_reason(err, *reasons)


NAN = float("nan")


@pytest.mark.parametrize(
    ("ring", "reasons"),
    [
        pytest.param(SQUARE[:-1], ("feature 2: a ring that is not closed",), id="unclosed"),
        pytest.param(
            [SQUARE[0], SQUARE[1], SQUARE[0]],
            ("feature 2: a ring of 3 points",),
            id="three-points",
        ),
        pytest.param(
            [SQUARE[0], (35.3, NAN), SQUARE[2], SQUARE[0]],
            ("feature 2: a coordinate is NaN or infinite",),
            marks=pytest.mark.filterwarnings(SHAPELY_NAN),
            id="nan-vertex",
        ),
        pytest.param(
            [SQUARE[0], (float("inf"), 51.1), SQUARE[2], SQUARE[0]],
            ("feature 2: a coordinate is NaN or infinite",),
            id="infinite-vertex",
        ),
        pytest.param(
            [(NAN, 51.1), SQUARE[1], SQUARE[2], (NAN, 51.1)],
            ("feature 2: a coordinate is NaN or infinite",),
            id="nan-first-vertex",
        ),
        pytest.param(
            [(35.2, 95.0), (35.3, 95.0), (35.3, 96.0), (35.2, 95.0)],
            ("feature 2: latitude 95 is out of range",),
            id="latitude-95",
        ),
    ],
)
def test_bad_rings_in_geoparquet_wkb_refused(
    guard: Guard, ring: list[tuple[float, float]], reasons: tuple[str, ...]
) -> None:
    data = _geoparquet([_wkb_polygon(SQUARE), _wkb_polygon(ring)])
    err = guard.refuse(data, "bad.parquet")
    _assert_reason(err, *reasons)


@pytest.mark.parametrize(
    ("blob", "reasons"),
    [
        pytest.param(
            _wkb_polygon(SQUARE)[:11],
            ("feature 2: a truncated or malformed geometry",),
            id="polygon-header",
        ),
        pytest.param(b"", ("feature 2: a truncated or malformed geometry",), id="empty"),
        pytest.param(
            b"\x01" + struct.pack("<I", 8) + bytes(40),
            ("feature 2: an unsupported geometry (type 8)",),
            id="circular-string",
        ),
        pytest.param(
            shapely.Point(35.27, 51.19).wkb[:-4],
            ("feature 2: a truncated or malformed geometry",),
            id="point",
        ),
        pytest.param(
            shapely.LineString(SQUARE).wkb[:-4],
            ("feature 2: a truncated or malformed geometry",),
            id="linestring",
        ),
    ],
)
def test_truncated_or_unknown_wkb_refused(
    guard: Guard, blob: bytes, reasons: tuple[str, ...]
) -> None:
    err = guard.refuse(_geoparquet([_wkb_polygon(SQUARE), blob]), "bad.parquet")
    _assert_reason(err, *reasons)


def test_unclosed_ring_in_csv_wkt_refused(guard: Guard) -> None:
    ring = ", ".join(f"{x} {y}" for x, y in SQUARE[:-1])
    data = f'name,wkt\nok,"{SUDZHA.wkt}"\nopen,"POLYGON (({ring}))"\n'.encode()
    err = guard.refuse(data, "bad.csv", crs="EPSG:4326")
    _assert_reason(err, "row 3: column 'wkt' is not WKT", "closed")


# ---------------------------------------------------------------------------------------
# Caps


def _boxes(n: int) -> list[shapely.Polygon]:
    return [shapely.box(35.0 + i * 0.01, 51.1, 35.005 + i * 0.01, 51.2) for i in range(n)]


CAPS: list[Any] = [
    pytest.param(
        "MAX_BYTES", 100, "a.geojson", lambda p: _fc(*map(_feature, _boxes(1))),
        ("bytes (at most",), id="bytes",
    ),
    pytest.param(
        "MAX_FEATURES", 2, "a.geojson", lambda p: _fc(*map(_feature, _boxes(3))),
        ("3 features (at most 2)",), id="features-geojson",
    ),
    pytest.param(
        "MAX_FEATURES", 2, "a.parquet", lambda p: _geoparquet([b.wkb for b in _boxes(3)]),
        ("3 features (at most 2)",), id="features-geoparquet",
    ),
    pytest.param(
        "MAX_FEATURES", 2, "a.csv",
        lambda p: ("wkt\n" + "".join(f'"{b.wkt}"\n' for b in _boxes(3))).encode(),
        ("more than 2 rows",), id="features-csv",
    ),
    pytest.param(
        "MAX_FEATURES", 1, "a.zip", _zip, ("2 features (at most 1)",), id="features-shapefile"
    ),
    pytest.param(
        "MAX_VERTICES", 12, "a.geojson", lambda p: _fc(*map(_feature, _boxes(3))),
        ("about 15 vertices (at most 12)",), id="vertices",
    ),
    pytest.param(
        "MAX_ZIP_MEMBERS", 4, "a.zip", _zip, ("5 zip members (at most 4)",), id="zip-members"
    ),
    pytest.param(
        "MAX_UNZIPPED_BYTES", 200, "a.zip", _zip, ("zip members inflate to more than",),
        id="unzipped-bytes",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("cap", "value", "file_name", "build", "reasons"), CAPS)
def test_caps(
    guard: Guard,
    shp_parts: dict[str, bytes],
    monkeypatch: pytest.MonkeyPatch,
    cap: str,
    value: int,
    file_name: str,
    build: Callable[[dict[str, bytes]], bytes],
    reasons: tuple[str, ...],
) -> None:
    data = build(shp_parts)
    crs = "EPSG:4326" if file_name.endswith(".csv") else None
    read_upload(data, file_name, crs=crs)  # under the real caps the file is fine
    # The cap is patched wherever the reader's modules hold it (zip caps may live apart).
    owners = [
        module
        for name, module in sys.modules.items()
        if name.split(".")[0] == "pipeline" and hasattr(module, cap)
    ]
    assert upload_read in owners
    for module in owners:
        monkeypatch.setattr(module, cap, value)
    err = guard.refuse(data, file_name, crs=crs)
    _assert_reason(err, *reasons)


def _five_million_vertices_geojson() -> bytes:
    n = 5_000_000
    ring = "[" + "[35,51]," * (n - 1) + "[35,51]]"
    doc = (
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},'
        f'"geometry":{{"type":"Polygon","coordinates":[{ring}]}}}}]}}'
    )
    return doc.encode()


def _five_million_vertices_geoparquet() -> bytes:
    n = 5_000_000
    ring = struct.pack("<BII", 1, 3, 1) + struct.pack("<I", n)
    return _geoparquet([ring + struct.pack("<2d", 35.27, 51.19) * n])


@pytest.mark.parametrize(
    ("build", "file_name", "reasons"),
    [
        # 80 MB of identical points compress ~9,500-fold: refused from its page headers,
        # before pyarrow decodes a page (the vertex cap on GeoParquet: test_upload_hostile).
        pytest.param(
            _five_million_vertices_geoparquet,
            "big.parquet",
            ("its pages decompress", "-fold (at most 100): a Parquet bomb?"),
            id="geoparquet",
        ),
        # GeoJSON positions are counted on the text before GDAL parses it.
        pytest.param(
            _five_million_vertices_geojson,
            "big.geojson",
            ("about 5,000,000 vertices (at most 2,000,000)",),
            id="geojson",
        ),
    ],
)
def test_five_million_vertex_polygon_refused(
    guard: Guard, build: Callable[[], bytes], file_name: str, reasons: tuple[str, ...]
) -> None:
    data = build()
    assert len(data) < upload_read.MAX_BYTES
    err = guard.refuse(data, file_name)
    _assert_reason(err, *reasons)


def test_walk_wkb_counts_without_building() -> None:
    multi = shapely.MultiPolygon([SUDZHA, KORENEVO.buffer(0.01, quad_segs=4)])
    vertices, kinds, problems = upload_read.walk_wkb(shapely.to_wkb(multi))
    assert vertices == shapely.get_num_coordinates(multi)
    assert kinds == {"MultiPolygon", "Polygon"}
    assert problems == []
    _, kinds, problems = upload_read.walk_wkb(shapely.to_wkb(shapely.Point(1, 2), flavor="iso"))
    assert (kinds, problems) == ({"Point"}, [])

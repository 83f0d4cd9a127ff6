"""Reading uploaded files safely: a format allowlist, checks before GDAL, caps before GEOS.

Uploaded bytes never become a path or a URL. Each format is recognised from the file
name's extension (the *declared* type) and must also look like that format from its first
bytes; GDAL, through pyogrio, then reads the bytes from memory, and the driver it picks
must be the one the declared type allows. Zip archives (zipped Shapefile, KMZ) are checked
from their central directory before any member is inflated, and rebuilt in memory with only
the members that are needed, under flat names. KML is parsed first with ``defusedxml``,
which refuses document type declarations (so external entities and entity expansion never
happen), and a KML that would make a reader fetch anything (``NetworkLink``, a remote
``styleUrl`` or icon) is refused. GDAL's and PROJ's network access is switched off for the
whole process when this module is imported.

The caps (size, members, features, vertices) are checked before any geometry object is
built: vertices are counted by walking the WKB that GDAL returns.
"""

from __future__ import annotations

import io
import json
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.raw
import pyproj
import shapely
from pyproj.exceptions import CRSError as ProjCRSError

from pipeline import settings
from pipeline._containers import (
    MAX_UNZIPPED_BYTES,
    MAX_ZIP_MEMBERS,
    MAX_ZIP_RATIO,
    check_kml,
    kmz,
    shapefile,
)
from pipeline._upload_error import UploadError
from pipeline._wkb import walk_wkb
from pipeline.errors import InputError

__all__ = [
    "DRIVERS",
    "FORMATS",
    "MAX_BYTES",
    "MAX_FEATURES",
    "MAX_UNZIPPED_BYTES",
    "MAX_VERTICES",
    "MAX_ZIP_MEMBERS",
    "MAX_ZIP_RATIO",
    "RawUpload",
    "UploadError",
    "check_name",
    "declared_format",
    "read_upload",
    "walk_wkb",
]

MAX_BYTES = 64 * 1024 * 1024
"""Largest accepted upload, in bytes (64 MiB)."""
MAX_FEATURES = 50_000
"""Most features in one upload."""
MAX_VERTICES = 2_000_000
"""Most vertices in one upload, all features together."""

FORMATS: dict[str, str] = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".kml": "KML",
    ".kmz": "KMZ",
    ".zip": "Shapefile",
    ".gpkg": "GeoPackage",
    ".parquet": "GeoParquet",
    ".geoparquet": "GeoParquet",
    ".csv": "CSV",
}
"""Accepted file name extensions and the format each declares."""

DRIVERS: dict[str, frozenset[str]] = {
    "GeoJSON": frozenset({"GeoJSON"}),
    "KML": frozenset({"LIBKML", "KML"}),
    "KMZ": frozenset({"LIBKML", "KML"}),
    "Shapefile": frozenset({"ESRI Shapefile"}),
    "GeoPackage": frozenset({"GPKG"}),
}
"""GDAL drivers each declared format may be read with (GeoParquet and CSV skip GDAL)."""

_UNSAFE_NAME = re.compile(r"(^[/\\])|(^[A-Za-z]:)|(\.\.)|(://)|(^/?vsi)|[\x00-\x1f]", re.I)


def _network_off() -> None:
    """Forbid GDAL and PROJ any network access, for the whole process."""
    os.environ["PROJ_NETWORK"] = "OFF"
    pyproj.network.set_network_enabled(False)  # type: ignore[attr-defined]
    pyogrio.set_gdal_config_options(
        {
            # /vsicurl/ and friends may open only this (impossible) name.
            "CPL_VSIL_CURL_ALLOWED_FILENAME": "/nonexistent/no-network",
            # Any other HTTP request goes to the discard port on loopback and fails.
            "GDAL_HTTP_PROXY": "127.0.0.1:9",
            "GDAL_HTTP_TIMEOUT": "1",
            "GDAL_HTTP_MAX_RETRY": "0",
            "PROJ_NETWORK": "OFF",
            "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
        }
    )


_network_off()


@dataclass
class RawUpload:
    """What was read from an uploaded file, before mapping.

    Attributes
    ----------
    file_name : str
        The upload's name.
    fmt : str
        Declared format (a value of :data:`FORMATS`).
    driver : str
        The reader used (GDAL driver name, ``pyarrow`` or ``pandas``).
    layer : str or None
        The layer read, for multi-layer formats.
    frame : geopandas.GeoDataFrame
        Attributes (as text) and geometry, in EPSG:4326, one row per feature in file order.
    crs_source : str
        Where the CRS came from: ``file`` or ``confirmed``.
    vertices : int
        Vertices counted before any geometry was built.
    notes : list of str
        What was noticed and handled (e.g. a KMZ's extra members ignored).
    """

    file_name: str
    fmt: str
    driver: str
    layer: str | None
    frame: gpd.GeoDataFrame
    crs_source: str
    vertices: int
    notes: list[str] = field(default_factory=list)


def check_name(value: str, what: str) -> str:
    """Refuse a name that could be read as a path or a URL.

    Parameters
    ----------
    value : str
        A file name, layer name or attribute name from the user.
    what : str
        How to name it in the message.

    Returns
    -------
    str
        The value, unchanged.

    Raises
    ------
    InputError
        When it holds a path separator, ``..``, a URL scheme or a GDAL ``/vsi`` prefix.
    """
    if not value or _UNSAFE_NAME.search(value) or "/" in value or "\\" in value:
        msg = f"{what} {value!r} is not a plain name (no paths, '..', URLs or /vsi prefixes)"
        raise InputError(msg)
    return value


def declared_format(file_name: str) -> str:
    """The format a file name declares by its extension.

    Parameters
    ----------
    file_name : str
        The upload's name.

    Returns
    -------
    str
        A value of :data:`FORMATS`.

    Raises
    ------
    UploadError
        When the name is unsafe or its extension is not accepted.
    """
    try:
        check_name(file_name, "file name")
    except InputError as e:
        raise UploadError(file_name, str(e)) from None
    ext = PurePosixPath(file_name.lower()).suffix
    if ext not in FORMATS:
        accepted = ", ".join(sorted(FORMATS))
        raise UploadError(file_name, f"extension {ext or '(none)'!r} not accepted ({accepted})")
    return FORMATS[ext]


# ---------------------------------------------------------------------------------------
# Sniffing: the bytes must look like the declared format before GDAL sees them.


def _what_it_looks_like(data: bytes) -> str:
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06":
        return "a zip archive"
    if data[:16] == b"SQLite format 3\x00":
        return "an SQLite database"
    if data[:4] == b"PAR1":
        return "a Parquet file"
    if head.startswith(b"<"):
        if b"OGRVRTDataSource" in data[:4096]:
            return "an OGR VRT (virtual dataset) file"
        return "an XML document"
    if head.startswith((b"{", b"[")):
        return "JSON"
    return "text or binary data of an unknown kind"


def _expect(data: bytes, file_name: str, fmt: str) -> None:
    looks = _what_it_looks_like(data)
    wanted = {
        "GeoJSON": "JSON",
        "KML": "an XML document",
        "KMZ": "a zip archive",
        "Shapefile": "a zip archive",
        "GeoPackage": "an SQLite database",
        "GeoParquet": "a Parquet file",
    }.get(fmt)
    if fmt == "CSV":
        if looks != "text or binary data of an unknown kind" or b"\x00" in data[:4096]:
            raise UploadError(file_name, f"declared CSV but the content is {looks}")
        return
    if looks != wanted:
        raise UploadError(file_name, f"declared {fmt} but the content is {looks}")


# ---------------------------------------------------------------------------------------
# Readers


def _gdal_read(
    payload: bytes, file_name: str, fmt: str, layer: str | None, notes: list[str]
) -> tuple[dict[str, Any], list[bytes | None], dict[str, list[object]], str, str | None]:
    # GDAL's warnings (a ring it closed, a GeoPackage read from memory) become notes.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = _gdal_read_quietly(payload, file_name, fmt, layer)
    for w in caught:
        text = _gdal_message(Exception(str(w.message)))
        if "non conformant file extension" not in text and f"GDAL: {text}" not in notes:
            notes.append(f"GDAL: {text}")
    return result


def _gdal_read_quietly(
    payload: bytes, file_name: str, fmt: str, layer: str | None
) -> tuple[dict[str, Any], list[bytes | None], dict[str, list[object]], str, str | None]:
    try:
        layers = [str(row[0]) for row in pyogrio.list_layers(payload)]
    except Exception as e:  # GDAL's own errors vary by driver; all mean "unreadable"
        raise UploadError(file_name, f"not readable as {fmt} ({_gdal_message(e)})") from None
    if fmt == "GeoPackage":
        if layer is None and len(layers) > 1:
            raise UploadError(file_name, f"several layers ({', '.join(layers)}): choose one")
        if layer is not None and layer not in layers:
            raise UploadError(file_name, f"no layer {layer!r}; layers: {', '.join(layers)}")
    chosen = layer if fmt == "GeoPackage" else None
    # Dates stay text, so a bad one is reported by feature rather than failing the file.
    options = {"DATE_AS_STRING": "YES"} if fmt == "GeoJSON" else {}
    try:
        info = pyogrio.read_info(payload, layer=chosen, **options)
    except Exception as e:
        raise UploadError(file_name, f"not readable as {fmt} ({_gdal_message(e)})") from None
    driver = str(info["driver"])
    if driver not in DRIVERS[fmt]:
        raise UploadError(file_name, f"declared {fmt} but GDAL reads it as {driver}: refused")
    if int(info["features"]) > MAX_FEATURES:
        raise UploadError(file_name, f"{info['features']:,} features (at most {MAX_FEATURES:,})")
    try:
        meta, _, wkb, values = pyogrio.raw.read(
            payload,
            layer=chosen,
            max_features=MAX_FEATURES + 1,
            datetime_as_string=True,
            **options,
        )
    except Exception as e:
        raise UploadError(file_name, f"not readable as {fmt} ({_gdal_message(e)})") from None
    columns = {str(name): list(col) for name, col in zip(meta["fields"], values, strict=True)}
    return meta, list(wkb), columns, driver, chosen


_GEOJSON_POSITION = re.compile(rb"\[\s*-?[0-9.]")


def _gdal_message(e: Exception) -> str:
    text = str(e).replace("/vsimem/", "").strip()
    return re.sub(r"pyogrio_[0-9a-f]{16,}", "upload", text)[:200]


def _parquet(data: bytes, file_name: str) -> tuple[gpd.GeoDataFrame, list[bytes | None]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
    except Exception as e:  # pyarrow raises several kinds for a bad file
        raise UploadError(file_name, f"not readable as GeoParquet ({str(e)[:200]})") from None
    meta = (table.schema.metadata or {}).get(b"geo")
    if meta is None:
        raise UploadError(file_name, "a Parquet file without GeoParquet 'geo' metadata")
    try:
        geo = json.loads(meta)
        column = geo["primary_column"]
        encoding = geo["columns"][column].get("encoding", "WKB")
        crs_json = geo["columns"][column].get("crs", "OGC:CRS84")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise UploadError(file_name, "its GeoParquet 'geo' metadata is malformed") from None
    if str(encoding).upper() != "WKB":
        raise UploadError(file_name, f"GeoParquet geometry encoding {encoding!r} (WKB needed)")
    if len(table) > MAX_FEATURES:
        raise UploadError(file_name, f"{len(table):,} features (at most {MAX_FEATURES:,})")
    frame = table.drop([column]).to_pandas()
    wkb = [None if b is None else bytes(b) for b in table.column(column).to_pylist()]
    crs = None if crs_json is None else pyproj.CRS.from_user_input(crs_json)
    return gpd.GeoDataFrame(frame, geometry=[None] * len(frame), crs=crs), wkb


_WKT_COLUMNS = ("wkt", "geometry", "geom", "the_geom")
_LAT = ("lat", "latitude", "y")
_LON = ("lon", "lng", "long", "longitude", "x")


def _csv(data: bytes, file_name: str) -> tuple[pd.DataFrame, list[bytes | None], str]:
    try:
        frame = pd.read_csv(
            io.BytesIO(data), dtype=str, keep_default_na=False, nrows=MAX_FEATURES + 1
        )
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise UploadError(file_name, f"not readable as CSV ({str(e)[:200]})") from None
    if len(frame) > MAX_FEATURES:
        raise UploadError(file_name, f"more than {MAX_FEATURES:,} rows")
    lower = {c.lower().strip(): c for c in frame.columns}
    wkt_col = next((lower[c] for c in _WKT_COLUMNS if c in lower), None)
    if wkt_col is not None:
        wkb: list[bytes | None] = []
        for i, text in enumerate(frame[wkt_col]):
            try:
                geom = shapely.from_wkt(text) if text.strip() else None
            except shapely.errors.GEOSException as e:
                msg = f"row {i + 2}: column {wkt_col!r} is not WKT ({str(e)[:120]})"
                raise UploadError(file_name, msg) from None
            wkb.append(None if geom is None else shapely.to_wkb(geom))
        return frame.drop(columns=[wkt_col]), wkb, f"WKT column {wkt_col!r}"
    lat = next((lower[c] for c in _LAT if c in lower), None)
    lon = next((lower[c] for c in _LON if c in lower), None)
    if lat is None or lon is None:
        raise UploadError(
            file_name,
            "CSV needs a WKT column (wkt, geometry) or latitude and longitude columns",
        )
    wkb = []
    for i, (y, x) in enumerate(zip(frame[lat], frame[lon], strict=True)):
        try:
            wkb.append(shapely.to_wkb(shapely.Point(float(x), float(y))))
        except ValueError:
            msg = f"row {i + 2}: latitude {y!r} / longitude {x!r} are not numbers"
            raise UploadError(file_name, msg) from None
    return frame.drop(columns=[lat, lon]), wkb, f"columns {lat!r}/{lon!r}"


def read_upload(
    data: bytes, file_name: str, *, layer: str | None = None, crs: str | None = None
) -> RawUpload:
    """Read an uploaded file's features, refusing anything unsafe or unreadable.

    Parameters
    ----------
    data : bytes
        The file's bytes (never written to disk, never used as a path).
    file_name : str
        Its name; the extension declares the format (see :data:`FORMATS`).
    layer : str, optional
        The layer to read from a GeoPackage or a zip with several shapefiles.
    crs : str, optional
        A CRS the analyst confirms for a file that names none (e.g. ``EPSG:4326``), or
        that replaces the file's own.

    Returns
    -------
    RawUpload
        Features with text attributes, in EPSG:4326.

    Raises
    ------
    UploadError
        Naming the file (and the feature or row) and the reason.
    """
    fmt = declared_format(file_name)
    if layer is not None:
        try:
            check_name(layer, "layer")
        except InputError as e:
            raise UploadError(file_name, str(e)) from None
    if not data:
        raise UploadError(file_name, "the file is empty")
    if len(data) > MAX_BYTES:
        raise UploadError(file_name, f"{len(data):,} bytes (at most {MAX_BYTES // 2**20} MiB)")
    _expect(data, file_name, fmt)
    notes: list[str] = []
    file_crs: pyproj.CRS | None
    if fmt in DRIVERS:
        payload = data
        if fmt == "Shapefile":
            payload, layer, notes = shapefile(data, file_name, layer)
        elif fmt == "KMZ":
            payload, notes = kmz(data, file_name)
        if fmt in ("KML", "KMZ"):
            check_kml(payload, file_name)
        if fmt == "GeoJSON":
            # A cheap upper bound of the positions, before GDAL parses the text.
            positions = sum(1 for _ in _GEOJSON_POSITION.finditer(payload))
            if positions > MAX_VERTICES:
                reason = f"about {positions:,} vertices (at most {MAX_VERTICES:,})"
                raise UploadError(file_name, reason)
        meta, wkb, columns, driver, chosen = _gdal_read(payload, file_name, fmt, layer, notes)
        layer = chosen or layer
        attrs = pd.DataFrame(columns, index=range(len(wkb)), dtype=object)
        file_crs = pyproj.CRS.from_user_input(meta["crs"]) if meta.get("crs") else None
    elif fmt == "GeoParquet":
        frame, wkb = _parquet(data, file_name)
        file_crs, driver = frame.crs, "pyarrow"
        attrs = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    else:
        attrs, wkb, how = _csv(data, file_name)
        file_crs, driver = None, "pandas"
        notes.append(f"geometry from {how}")
    if len(wkb) > MAX_FEATURES:
        raise UploadError(file_name, f"more than {MAX_FEATURES:,} features")
    if not wkb:
        raise UploadError(file_name, "the file holds no features")
    # Caps and ring checks on the WKB, before GEOS builds anything.
    total = 0
    for i, blob in enumerate(wkb):
        vertices, _, problems = walk_wkb(blob)
        total += vertices
        if total > MAX_VERTICES:
            reason = f"more than {MAX_VERTICES:,} vertices (feature {i + 1} passes the cap)"
            raise UploadError(file_name, reason)
        if problems:
            raise UploadError(file_name, f"feature {i + 1}: {problems[0]}")
    crs_source = "file"
    if crs is not None:
        try:
            file_crs = pyproj.CRS.from_user_input(crs)
        except ProjCRSError:
            raise UploadError(file_name, f"unknown CRS {crs!r}") from None
        crs_source = "confirmed"
    if file_crs is None:
        raise UploadError(
            file_name, "the file names no CRS: confirm one (e.g. EPSG:4326) to read it"
        )
    geoms = shapely.from_wkb(np.array(wkb, dtype=object), on_invalid="raise")
    frame = gpd.GeoDataFrame(
        _text_frame(attrs),
        geometry=geoms,
        crs=file_crs,
    )
    frame = _to_lonlat(frame, file_name)
    return RawUpload(file_name, fmt, driver, layer, frame, crs_source, total, notes)


def _text_frame(attrs: pd.DataFrame) -> pd.DataFrame:
    """Every attribute as text, a missing value as None (never NaN), object dtype."""
    return pd.DataFrame(
        {c: pd.Series([_as_text(v) for v in attrs[c]], dtype=object) for c in attrs.columns},
        index=attrs.index,
        dtype=object,
    )


def _as_text(value: object) -> str | None:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            return None
        if float(value).is_integer():
            return str(int(value))
    return str(value)


def _to_lonlat(frame: gpd.GeoDataFrame, file_name: str) -> gpd.GeoDataFrame:
    """Check coordinates are finite and plausible, then reproject to EPSG:4326."""
    coords = shapely.get_coordinates(frame.geometry.to_numpy())
    counts = shapely.get_num_coordinates(frame.geometry.to_numpy())
    owner = np.repeat(np.arange(len(frame)), counts)
    bad = ~np.isfinite(coords).all(axis=1)
    if bad.any():
        i = int(owner[np.argmax(bad)])
        raise UploadError(file_name, f"feature {i + 1}: a coordinate is NaN or infinite")
    crs = pyproj.CRS.from_user_input(frame.crs)
    if crs.is_geographic:
        lon, lat = coords[:, 0], coords[:, 1]
        for values, limit, name in ((lat, 90, "latitude"), (lon, 180, "longitude")):
            out = np.abs(values) > limit
            if out.any():
                i, v = int(owner[np.argmax(out)]), float(values[np.argmax(out)])
                hint = " (projected coordinates without a CRS?)" if abs(v) > 1000 else ""
                raise UploadError(file_name, f"feature {i + 1}: {name} {v:g} is out of range{hint}")
    try:
        out_frame = frame.to_crs(settings.GEO_CRS)
    except (ProjCRSError, ValueError) as e:
        raise UploadError(file_name, f"cannot reproject from {crs.name} ({e})") from None
    after = shapely.get_coordinates(out_frame.geometry.to_numpy())
    if not np.isfinite(after).all():
        raise UploadError(file_name, f"coordinates fall outside {crs.name}'s valid area")
    return out_frame

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

The caps are checked before the data they bound is decoded: size, zip members, columns
and features before GDAL reads the features; a GeoPackage's tables with ``sqlite3``
before GDAL opens it (:mod:`pipeline._gpkg`: no views, no SQL from the file run); a
GeoParquet's footer and page headers before pyarrow decodes a page
(:mod:`pipeline._parquet`); WKT text before GEOS parses it (:mod:`pipeline._csv`); and
vertices, rings, parts and nesting by walking the WKB, without recursion, before any
geometry object is built (:mod:`pipeline._wkb`). Geometry is read in 2D (Z and M are
dropped, with a note) and its CRS must be on the Earth (:mod:`pipeline._lonlat`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely
from pyproj.exceptions import CRSError as ProjCRSError

from pipeline._containers import (
    MAX_UNZIPPED_BYTES,
    MAX_XML_ELEMENTS,
    MAX_ZIP_MEMBERS,
    MAX_ZIP_RATIO,
    check_kml,
    kmz,
    shapefile,
)
from pipeline._csv import csv_geometries
from pipeline._gdal import Caps, check_columns, gdal_features
from pipeline._lonlat import to_lonlat
from pipeline._parquet import read_geoparquet
from pipeline._upload_error import UploadError
from pipeline._wkb import MAX_NESTING, MAX_PARTS, MAX_RINGS, count_wkb, walk_wkb
from pipeline.errors import InputError

__all__ = [
    "DRIVERS",
    "FORMATS",
    "MAX_ATTRIBUTE_VALUES",
    "MAX_BYTES",
    "MAX_COLUMNS",
    "MAX_FEATURES",
    "MAX_NESTING",
    "MAX_PARTS",
    "MAX_RINGS",
    "MAX_UNZIPPED_BYTES",
    "MAX_VERTICES",
    "MAX_XML_ELEMENTS",
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
"""Most vertices in one upload, all features together; also the most rings and parts.

Rings and parts are capped per feature too (:data:`MAX_RINGS`, :data:`MAX_PARTS`), and all
features together may hold no more of them than this: an empty ring costs GEOS as much
as a vertex, and a small compressed file can hold millions.
"""
MAX_COLUMNS = 1_000
"""Most attribute columns in one upload (GDAL allocates every column for every feature)."""
MAX_ATTRIBUTE_VALUES = 10_000_000
"""Most attribute values in one upload: features times columns (50,000 x 200)."""

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
        Attributes (as text) and 2D geometry, in EPSG:4326, one row per feature in file
        order.
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


_GEOJSON_POSITION = re.compile(rb"\[\s*-?[0-9.]")


def _caps(drivers: frozenset[str] = frozenset()) -> Caps:
    """The caps as they are now (tests and the worker may change the module's values)."""
    return Caps(MAX_FEATURES, MAX_COLUMNS, MAX_ATTRIBUTE_VALUES, drivers)


def _check_geometries(wkb: list[bytes | None], file_name: str) -> int:
    """Walk every WKB (caps, rings, nesting) before GEOS builds anything; total vertices."""
    vertices = pieces = 0
    for i, blob in enumerate(wkb):
        counts = count_wkb(blob)
        vertices += counts.vertices
        pieces += counts.rings + counts.parts
        if counts.problems:
            raise UploadError(file_name, f"feature {i + 1}: {counts.problems[0]}")
        if vertices > MAX_VERTICES:
            reason = f"more than {MAX_VERTICES:,} vertices (feature {i + 1} passes the cap)"
            raise UploadError(file_name, reason)
        if pieces > MAX_VERTICES:
            reason = f"more than {MAX_VERTICES:,} rings and parts (feature {i + 1} passes the cap)"
            raise UploadError(file_name, reason)
    return vertices


def _build(wkb: list[bytes | None], file_name: str, notes: list[str]) -> Any:
    """Shapely geometries from checked WKB, in 2D (Z and M dropped, with a note)."""
    try:
        geoms = shapely.from_wkb(np.array(wkb, dtype=object), on_invalid="raise")
    except shapely.errors.GEOSException as e:
        bad = (
            i
            for i, b in enumerate(wkb)
            if b is not None and shapely.from_wkb(b, on_invalid="ignore") is None
        )
        first = next(bad, None)
        where = "" if first is None else f"feature {first + 1}: "
        reason = f"{where}GEOS cannot read its geometry ({str(e)[:120]})"
        raise UploadError(file_name, reason) from None
    extra = shapely.has_z(geoms) | shapely.has_m(geoms)
    if extra.any():
        geoms = shapely.force_2d(geoms)
        notes.append(f"Z/M coordinates dropped (read in 2D) from {int(extra.sum()):,} features")
    return geoms


def _crs_from_file(meta: dict[str, Any], file_name: str) -> pyproj.CRS | None:
    if not meta.get("crs"):
        return None
    try:
        return pyproj.CRS.from_user_input(meta["crs"])
    except ProjCRSError as e:
        raise UploadError(file_name, f"its CRS is not readable ({str(e)[:160]})") from None


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
        Features with text attributes, in EPSG:4326, in 2D.

    Raises
    ------
    UploadError
        Naming the file (and the feature or row) and the reason, in one line.
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
            check_kml(payload, file_name, max_geometries=MAX_VERTICES)
        if fmt == "GeoJSON":
            # Cheap bounds before GDAL parses the text: the positions, and the arrays (every
            # position, ring and part is one, so an empty one costs as much as a vertex).
            arrays = payload.count(b"[")  # each position is one: no more of them than this
            positions = _GEOJSON_POSITION.subn(b"", payload)[1] if arrays > MAX_VERTICES else 0
            if positions > MAX_VERTICES:
                reason = f"about {positions:,} vertices (at most {MAX_VERTICES:,})"
                raise UploadError(file_name, reason)
            if arrays > 2 * MAX_VERTICES:
                reason = (
                    f"{arrays:,} JSON arrays: more positions, rings and parts than "
                    f"{MAX_VERTICES:,} vertices and {MAX_VERTICES:,} rings and parts allow"
                )
                raise UploadError(file_name, reason)
        read = gdal_features(payload, file_name, fmt, layer, _caps(DRIVERS[fmt]))
        notes.extend(n for n in read.notes if n not in notes)
        wkb, driver, layer = read.wkb, read.driver, read.layer or layer
        attrs = pd.DataFrame(read.columns, index=range(len(wkb)), dtype=object)
        file_crs = _crs_from_file(read.meta, file_name)
    elif fmt == "GeoParquet":
        parquet = read_geoparquet(
            data,
            file_name,
            max_features=MAX_FEATURES,
            max_columns=MAX_COLUMNS,
            max_values=MAX_ATTRIBUTE_VALUES,
        )
        check_columns(file_name, len(parquet.attributes.columns), len(parquet.wkb), _caps())
        attrs, wkb, file_crs, driver = parquet.attributes, parquet.wkb, parquet.crs, "pyarrow"
        notes.extend(parquet.notes)
    else:
        attrs, wkb, how = csv_geometries(
            data,
            file_name,
            max_features=MAX_FEATURES,
            max_vertices=MAX_VERTICES,
            max_columns=MAX_COLUMNS,
            max_values=MAX_ATTRIBUTE_VALUES,
        )
        check_columns(file_name, len(attrs.columns), len(wkb), _caps())
        file_crs, driver = None, "pandas"
        notes.append(f"geometry from {how}")
    if len(wkb) > MAX_FEATURES:
        raise UploadError(file_name, f"more than {MAX_FEATURES:,} features")
    if not wkb:
        raise UploadError(file_name, "the file holds no features")
    total = _check_geometries(wkb, file_name)
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
    frame = gpd.GeoDataFrame(
        _text_frame(attrs.reset_index(drop=True)),
        geometry=_build(wkb, file_name, notes),
        crs=file_crs,
    )
    frame = to_lonlat(frame, file_name)
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

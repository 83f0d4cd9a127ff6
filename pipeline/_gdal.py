"""Reading features with GDAL (through pyogrio) from memory, under the reader's caps.

A GeoPackage's tables are checked first (:mod:`pipeline._gpkg`). The driver GDAL picks
must be one the declared format allows; the feature and column counts GDAL reports are
capped before the features are read, and GDAL is asked for no more features than the
file declares (plus one, to catch a file holding more): it allocates every attribute
column for as many features as it is asked for.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import pyogrio
import pyogrio.raw

from pipeline._gpkg import geopackage_layer
from pipeline._upload_error import UploadError


@dataclass(frozen=True)
class Caps:
    """The caps a read is held to (the reader's ``MAX_*`` values at the time of the call).

    Attributes
    ----------
    features : int
        Most features.
    columns : int
        Most attribute columns.
    values : int
        Most attribute values (features times columns).
    drivers : frozenset of str
        GDAL drivers the declared format may be read with.
    """

    features: int
    columns: int
    values: int
    drivers: frozenset[str] = frozenset()


@dataclass
class GdalRead:
    """What GDAL read from a file.

    Attributes
    ----------
    meta : dict
        pyogrio's metadata (``crs``, ``fields``, ...).
    wkb : list of bytes or None
        Each feature's geometry.
    columns : dict
        Attribute values by column.
    driver : str
        The GDAL driver that read it.
    layer : str or None
        The GeoPackage layer read.
    notes : list of str
        GDAL's warnings.
    """

    meta: dict[str, Any]
    wkb: list[bytes | None]
    columns: dict[str, list[object]]
    driver: str
    layer: str | None
    notes: list[str] = field(default_factory=list)


def gdal_features(
    payload: bytes, file_name: str, fmt: str, layer: str | None, caps: Caps
) -> GdalRead:
    """Read a file's features with GDAL, from memory, under the caps.

    Parameters
    ----------
    payload : bytes
        The file's bytes (a zip already rebuilt with only the needed members).
    file_name : str
        The upload's name, for messages.
    fmt : str
        Its declared format.
    layer : str or None
        The GeoPackage layer asked for (ignored for other formats).
    caps : Caps
        The caps, and the GDAL drivers the format allows.

    Returns
    -------
    GdalRead
        What GDAL read; its warnings become notes.

    Raises
    ------
    UploadError
        When GDAL cannot read it, reads it with another driver, or a cap is passed.
    """
    # GDAL's warnings (a ring it closed, a GeoPackage read from memory) become notes.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = _read_quietly(payload, file_name, fmt, layer, caps)
    for w in caught:
        text = gdal_message(Exception(str(w.message)))
        if "non conformant file extension" not in text and f"GDAL: {text}" not in result.notes:
            result.notes.append(f"GDAL: {text}")
    return result


def _read_quietly(
    payload: bytes, file_name: str, fmt: str, layer: str | None, caps: Caps
) -> GdalRead:
    chosen = None
    if fmt == "GeoPackage":
        # Its tables are checked with sqlite3 first: GDAL never sees a view or a bad layer.
        chosen = geopackage_layer(payload, file_name, layer, max_features=caps.features).name
    # Dates stay text, so a bad one is reported by feature rather than failing the file.
    options = {"DATE_AS_STRING": "YES"} if fmt == "GeoJSON" else {}
    try:
        info = pyogrio.read_info(payload, layer=chosen, **options)
    except Exception as e:  # GDAL's own errors vary by driver; all mean "unreadable"
        raise UploadError(file_name, f"not readable as {fmt} ({gdal_message(e)})") from None
    driver = str(info["driver"])
    if driver not in caps.drivers:
        raise UploadError(file_name, f"declared {fmt} but GDAL reads it as {driver}: refused")
    features, columns = int(info["features"]), len(info["fields"])
    if features > caps.features:
        raise UploadError(file_name, f"{features:,} features (at most {caps.features:,})")
    check_columns(file_name, columns, features, caps)
    # GDAL allocates every column for as many features as it is asked for: ask for no more
    # than the file declares (and one more, to catch a file holding more than it declares).
    wanted = (caps.features if features < 0 else min(features, caps.features)) + 1
    try:
        meta, _, wkb, values = pyogrio.raw.read(
            payload,
            layer=chosen,
            max_features=wanted,
            datetime_as_string=True,
            **options,
        )
    except Exception as e:
        raise UploadError(file_name, f"not readable as {fmt} ({gdal_message(e)})") from None
    if 0 <= features < len(wkb):
        raise UploadError(file_name, f"holds more features than the {features:,} it declares")
    columns_read = {str(n): list(col) for n, col in zip(meta["fields"], values, strict=True)}
    return GdalRead(meta, list(wkb), columns_read, driver, chosen)


def check_columns(file_name: str, columns: int, features: int, caps: Caps) -> None:
    """Refuse more attribute columns, or attribute values, than the caps allow.

    Parameters
    ----------
    file_name : str
        The upload's name, for messages.
    columns, features : int
        Attribute columns and features (a negative count of features is unknown).
    caps : Caps
        The caps.

    Raises
    ------
    UploadError
        When a cap is passed.
    """
    if columns > caps.columns:
        raise UploadError(file_name, f"{columns:,} attribute columns (at most {caps.columns:,})")
    if columns * max(features, 0) > caps.values:
        reason = (
            f"{features:,} features x {columns:,} columns = {columns * features:,} attribute "
            f"values (at most {caps.values:,})"
        )
        raise UploadError(file_name, reason)


def gdal_message(e: Exception) -> str:
    """GDAL's message, on one line, without the in-memory file's name (at most 200 chars).

    Parameters
    ----------
    e : Exception
        What GDAL (through pyogrio) raised or warned.

    Returns
    -------
    str
        The message.
    """
    text = " ".join(str(e).replace("/vsimem/", "").split())
    return re.sub(r"pyogrio_[0-9a-f]{16,}", "upload", text)[:200]

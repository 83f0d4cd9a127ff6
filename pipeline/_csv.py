"""Reading a CSV upload: geometry from a WKT column, or from latitude and longitude columns.

WKT text is scanned before GEOS parses it: GEOS's WKT reader recurses once per level of
parentheses (a ``GEOMETRYCOLLECTION(`` nested ~40,000 deep segfaults it, 1,000 deep
raises ``RecursionError`` in shapely), so the parenthesis depth is counted first, without
recursion, and refused past what :data:`~pipeline._wkb.MAX_NESTING` allows. The rings
and parts a text can hold (each opens a parenthesis or is ``EMPTY``) and the vertices it
must hold (each comma separates two) are bounded from the text the same way, so a text
that would pass a cap is refused before GEOS builds it.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import shapely

from pipeline import _wkb
from pipeline._upload_error import UploadError, quoted

WKT_COLUMNS = ("wkt", "geometry", "geom", "the_geom")
"""Column names (lower-case) that hold WKT geometry, in order of preference."""
LAT_COLUMNS = ("lat", "latitude", "y")
"""Column names (lower-case) that hold a latitude."""
LON_COLUMNS = ("lon", "lng", "long", "longitude", "x")
"""Column names (lower-case) that hold a longitude."""


def wkt_depth(text: str) -> int:
    """The deepest nesting of parentheses in a text, counted without recursion.

    Parameters
    ----------
    text : str
        WKT (or any text).

    Returns
    -------
    int
        The most parentheses open at once (0 when there are none).

    Examples
    --------
    >>> wkt_depth("MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)))")
    3
    """
    if "(" not in text:
        return 0
    raw = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    steps = (raw == ord("(")).astype(np.int64) - (raw == ord(")"))
    return int(np.cumsum(steps).max(initial=0))


def max_wkt_depth() -> int:
    """Deepest parentheses allowed in WKT: :data:`~pipeline._wkb.MAX_NESTING` plus a polygon's two.

    Returns
    -------
    int
        The depth.
    """
    return _wkb.MAX_NESTING + 2


def _scan_wkt(text: str) -> tuple[int, int, str | None]:
    """Bounds of a WKT text's rings and parts (at most) and vertices (at least), and its problem."""
    opened = text.count("(")
    pieces = opened + text.upper().count("EMPTY")
    if opened > max_wkt_depth() and wkt_depth(text) > max_wkt_depth():
        return pieces, 0, f"parentheses nested more than {max_wkt_depth()} deep"
    if pieces > _wkb.MAX_PARTS + _wkb.MAX_RINGS:
        most = _wkb.MAX_PARTS + _wkb.MAX_RINGS
        return pieces, 0, f"up to {pieces:,} rings and parts (at most {most:,} in one feature)"
    return pieces, max(text.count(",") - pieces, 0), None


def _wkt_geometries(
    column: pd.Series[str], name: str, file_name: str, max_vertices: int
) -> list[bytes | None]:
    """WKB of each row's WKT, every text scanned (and the caps checked) before GEOS parses it."""
    pieces = vertices = 0
    for i, text in enumerate(column):
        row_pieces, row_vertices, problem = _scan_wkt(text)
        if problem:
            raise UploadError(file_name, f"row {i + 2}: column {quoted(name)}: {problem}")
        pieces += row_pieces
        vertices += row_vertices
        if vertices > max_vertices:
            reason = f"at least {vertices:,} vertices by row {i + 2} (at most {max_vertices:,})"
            raise UploadError(file_name, reason)
        if pieces > max_vertices:
            reason = f"up to {pieces:,} rings and parts by row {i + 2} (at most {max_vertices:,})"
            raise UploadError(file_name, reason)
    wkb: list[bytes | None] = []
    for i, text in enumerate(column):
        try:
            geom = shapely.from_wkt(text) if text.strip() else None
        except shapely.errors.GEOSException as e:
            msg = f"row {i + 2}: column {quoted(name)} is not WKT ({str(e)[:120]})"
            raise UploadError(file_name, msg) from None
        wkb.append(None if geom is None else shapely.to_wkb(geom))
    return wkb


def _point_geometries(
    lat: pd.Series[str], lon: pd.Series[str], file_name: str
) -> list[bytes | None]:
    wkb: list[bytes | None] = []
    for i, (y, x) in enumerate(zip(lat, lon, strict=True)):
        try:
            wkb.append(shapely.to_wkb(shapely.Point(float(x), float(y))))
        except ValueError:
            msg = f"row {i + 2}: latitude {y[:40]!r} / longitude {x[:40]!r} are not numbers"
            raise UploadError(file_name, msg) from None
    return wkb


def csv_geometries(
    data: bytes,
    file_name: str,
    *,
    max_features: int,
    max_vertices: int,
    max_columns: int,
    max_values: int,
) -> tuple[pd.DataFrame, list[bytes | None], str]:
    """Read a CSV upload's rows: attributes as text, geometry as WKB.

    Parameters
    ----------
    data : bytes
        The file's bytes.
    file_name : str
        Its name, for messages.
    max_features, max_vertices, max_columns, max_values : int
        Most rows, vertices (all rows together), columns and values (rows x columns).

    Returns
    -------
    tuple
        ``(attributes, WKB per row, where the geometry came from)``.

    Raises
    ------
    UploadError
        When the CSV is unreadable, passes a cap, or has no usable geometry.
    """
    # Bounds from the bytes before pandas parses them (a quoted comma or line break in a
    # value only makes them larger): pandas holds every value of every row as an object.
    columns = data.split(b"\n", 1)[0].count(b",") + 1
    if columns > max_columns:
        raise UploadError(file_name, f"about {columns:,} columns (at most {max_columns:,})")
    rows = min(data.rstrip(b"\r\n").count(b"\n"), max_features + 1)
    if rows * columns > max_values:
        reason = (
            f"about {rows:,} rows x {columns:,} columns of attribute values "
            f"(at most {max_values:,})"
        )
        raise UploadError(file_name, reason)
    try:
        frame = pd.read_csv(
            io.BytesIO(data), dtype=str, keep_default_na=False, nrows=max_features + 1
        )
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise UploadError(file_name, f"not readable as CSV ({str(e)[:200]})") from None
    if len(frame) > max_features:
        raise UploadError(file_name, f"more than {max_features:,} rows")
    if len(frame.columns) > max_columns:
        raise UploadError(file_name, f"{len(frame.columns):,} columns (at most {max_columns:,})")
    lower = {str(c).lower().strip(): c for c in frame.columns}
    wkt_col = next((lower[c] for c in WKT_COLUMNS if c in lower), None)
    if wkt_col is not None:
        wkb = _wkt_geometries(frame[wkt_col], str(wkt_col), file_name, max_vertices)
        return frame.drop(columns=[wkt_col]), wkb, f"WKT column {quoted(str(wkt_col))}"
    lat = next((lower[c] for c in LAT_COLUMNS if c in lower), None)
    lon = next((lower[c] for c in LON_COLUMNS if c in lower), None)
    if lat is None or lon is None:
        raise UploadError(
            file_name,
            "CSV needs a WKT column (wkt, geometry) or latitude and longitude columns",
        )
    wkb = _point_geometries(frame[lat], frame[lon], file_name)
    return frame.drop(columns=[lat, lon]), wkb, f"columns {quoted(str(lat))}/{quoted(str(lon))}"

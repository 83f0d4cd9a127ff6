"""Extents: the ground a figure frames, from a name, a box or the map page's view.

Figures are drawn in :data:`DRAW_CRS`, the theatre's equal-area projection, in metres. An
extent is asked for as ``theatre``, a salient (all the ground the views ever gave to
Ukraine there), a region, a settlement with a margin (``Sudzha+15km``), the map page's
``map=lat,lon,zoom`` or a ``min_lon,min_lat,max_lon,max_lat`` box, and becomes bounds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from pipeline import settings
from pipeline.build import Theatre
from pipeline.errors import InputError, PlaceNotFoundError
from pipeline.timeline import SIDE_CODES

DRAW_CRS: str = settings.EQUAL_AREA_CRS
"""Figures are drawn in the theatre's equal-area projection (metres; north is up to within
about 2 degrees across the theatre), so the scale bar holds everywhere on the map."""

DEFAULT_EXTENT = settings.DEFAULT_EXTENT
"""The extent a snapshot frames when none is given."""

PLACE_MARGIN_KM = 15.0
"""Margin around a named settlement when none is given (``Sudzha`` = ``Sudzha+15km``)."""

FRAME_MARGIN = 0.12
"""Margin around a named area, as a share of its larger side."""

PERMALINK_VIEWPORT_PX: tuple[int, int] = (1100, 560)
"""The map page's usual viewport, used to turn its ``map=lat,lon,zoom`` into bounds."""

TO_DRAW = pyproj.Transformer.from_crs(settings.GEO_CRS, DRAW_CRS, always_xy=True)
"""Longitude/latitude to :data:`DRAW_CRS` metres."""

TO_GEO = pyproj.Transformer.from_crs(DRAW_CRS, settings.GEO_CRS, always_xy=True)
""":data:`DRAW_CRS` metres to longitude/latitude."""


@dataclass(frozen=True)
class Extent:
    """The ground a figure frames.

    Attributes
    ----------
    label : str
        How it was asked for (``"Kursk salient"``, ``"Sudzha+15km"``, a bbox, ``"theatre"``).
    bounds : tuple of float
        ``(minx, miny, maxx, maxy)`` in :data:`DRAW_CRS` metres, before fitting to a frame.
    note : str
        How the bounds were derived, for the figure's footnote (may be empty).
    """

    label: str
    bounds: tuple[float, float, float, float]
    note: str = ""

    @property
    def lonlat_bounds(self) -> tuple[float, float, float, float]:
        """The bounds in longitude and latitude (EPSG:4326)."""
        x0, y0, x1, y1 = self.bounds
        lon0, lat0, lon1, lat1 = TO_GEO.transform_bounds(x0, y0, x1, y1)
        return (float(lon0), float(lat0), float(lon1), float(lat1))


def fit_bounds(
    bounds: tuple[float, float, float, float], aspect: float
) -> tuple[float, float, float, float]:
    """Grow bounds (never shrink them) to a width/height ratio, about their centre.

    Parameters
    ----------
    bounds : tuple of float
        ``(minx, miny, maxx, maxy)``.
    aspect : float
        Width over height of the frame.

    Returns
    -------
    tuple of float
        The grown bounds.

    Examples
    --------
    >>> fit_bounds((0, 0, 10, 10), 2.0)
    (-5.0, 0.0, 15.0, 10.0)
    """
    x0, y0, x1, y1 = (float(v) for v in bounds)
    w, h = x1 - x0, y1 - y0
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    if w / h < aspect:
        w = h * aspect
    else:
        h = w / aspect
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def _grow(geom: shapely.Geometry, label: str, note: str = "") -> Extent:
    x0, y0, x1, y1 = shapely.bounds(geom)
    pad = FRAME_MARGIN * max(x1 - x0, y1 - y0, 10_000.0)
    return Extent(label, (x0 - pad, y0 - pad, x1 + pad, y1 + pad), note)


def _salient_extent(theatre: Theatre, region_id: str, views: Sequence[str], label: str) -> Extent:
    """Every cell of the region any of the views ever gave to Ukraine or called contested."""
    in_region = (theatre.cells["region_id"] == region_id).to_numpy()
    ever = np.zeros(len(theatre.cells), dtype=bool)
    held = (SIDE_CODES["UA"], SIDE_CODES["contested"])
    for view in views:
        table = theatre.table(view)
        for day in table.dates:
            ever |= np.isin(table.cell_status(day), held)
    sel = ever & in_region
    if not sel.any():
        msg = f"extent {label!r}: no view asked for ever gives ground there to Ukraine"
        raise InputError(msg)
    geom = shapely.union_all(theatre.cells.geometry.to_numpy()[sel])
    note = "framed on all the ground the views ever gave to Ukraine or called contested there"
    return _grow(geom, label, note)


def _bbox_extent(theatre: Theatre, spec: str, numbers: list[float]) -> Extent:
    lon0, lat0, lon1, lat1 = numbers
    if not (-180 <= lon0 < lon1 <= 180 and -90 <= lat0 < lat1 <= 90):
        msg = (
            f"bad extent {spec!r}: a bounding box is min_lon,min_lat,max_lon,max_lat "
            "with min < max, in degrees"
        )
        raise InputError(msg)
    box = shapely.box(lon0, lat0, lon1, lat1)
    if not box.intersects(theatre.extent):
        msg = f"bad extent {spec!r}: the box does not touch the theatre"
        raise InputError(msg)
    x0, y0, x1, y1 = TO_DRAW.transform_bounds(lon0, lat0, lon1, lat1)
    if min(x1 - x0, y1 - y0) < 1_000:
        msg = f"bad extent {spec!r}: the box is under 1 km across"
        raise InputError(msg)
    return Extent(spec, (x0, y0, x1, y1))


def extent_from_permalink(value: str) -> tuple[float, float, float, float]:
    """Bounds (lon/lat) of the map page's view from its ``map=lat,lon,zoom`` parameter.

    Parameters
    ----------
    value : str
        The parameter's value, as the map page writes it.

    Returns
    -------
    tuple of float
        ``(min_lon, min_lat, max_lon, max_lat)`` of the map page's usual viewport.

    Raises
    ------
    InputError
        When the value is not three numbers in range.

    Examples
    --------
    >>> [round(v, 2) for v in extent_from_permalink("51.2,35.3,10")]
    [34.54, 50.96, 36.06, 51.44]
    """
    try:
        lat, lon, zoom = (float(v) for v in value.split(","))
    except ValueError:
        msg = f"bad map view {value!r}: expected lat,lon,zoom (e.g. 51.2,35.3,10)"
        raise InputError(msg) from None
    if not (abs(lat) <= 85 and abs(lon) <= 180 and 3 <= zoom <= 18):
        msg = f"bad map view {value!r}: latitude, longitude or zoom (3 to 18) out of range"
        raise InputError(msg)
    # Web Mercator: 256 px tiles, 2**zoom of them around the world.
    deg_per_px = 360.0 / (256 * 2**zoom)
    w, h = PERMALINK_VIEWPORT_PX
    half_lon = w / 2 * deg_per_px
    y = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
    dy = h / 2 * math.radians(deg_per_px)
    lat0 = math.degrees(2 * math.atan(math.exp(y - dy)) - math.pi / 2)
    lat1 = math.degrees(2 * math.atan(math.exp(y + dy)) - math.pi / 2)
    return (lon - half_lon, lat0, lon + half_lon, lat1)


def resolve_extent(theatre: Theatre, spec: str | None, views: Sequence[str]) -> Extent:
    """Turn an extent spelling into bounds.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    spec : str or None
        ``theatre``; a salient (``Kursk salient``: all the ground the views ever gave
        to Ukraine there); a region; a settlement, optionally with a margin
        (``Sudzha+25km``); ``map=lat,lon,zoom`` from the map page's permalink; or a box
        ``min_lon,min_lat,max_lon,max_lat``. None means :data:`DEFAULT_EXTENT`.
    views : sequence of str
        The figure's views (a salient is framed on theirs).

    Returns
    -------
    Extent
        The extent.

    Raises
    ------
    InputError
        When the spelling names nothing in the theatre (with suggestions for names).
    """
    text = (spec or DEFAULT_EXTENT).strip()
    if not text:
        text = DEFAULT_EXTENT
    if text.lower() == "theatre":
        return _grow(shapely.transform(theatre.extent, _project_xy), "theatre")
    if text.lower().startswith("map="):
        return _bbox_extent(theatre, text, list(extent_from_permalink(text[4:])))
    if re.fullmatch(r"[\d\s.,+-]+", text) and "," in text:  # numbers: a bounding box
        try:
            numbers = [float(p) for p in text.split(",")]
        except ValueError:
            numbers = []
        if len(numbers) != 4:
            msg = f"bad bounding box {text!r}: expected min_lon,min_lat,max_lon,max_lat"
            raise InputError(msg)
        return _bbox_extent(theatre, text, numbers)
    margin_km = PLACE_MARGIN_KM
    name = text
    m = re.fullmatch(r"(.+?)\s*\+\s*(\d+(?:\.\d+)?)\s*km", text, flags=re.IGNORECASE)
    if m is not None:
        name, margin_km = m[1], float(m[2])
        if not 0.5 <= margin_km <= 300:
            msg = f"bad extent {text!r}: the margin must be 0.5 to 300 km"
            raise InputError(msg)
    res = theatre.gazetteer.resolve(name)
    if not res.candidates:
        raise PlaceNotFoundError(name, theatre.gazetteer.suggest(res.parsed.name or name))
    if res.ambiguous:
        names = ", ".join(f"{c.name} ({c.region_id})" for c in res.candidates[:5])
        msg = f"extent {name!r} is ambiguous: {names}; add the region, e.g. '{name}, Kursk region'"
        raise InputError(msg)
    best = res.candidates[0]
    if res.kind == "salient":
        return _salient_extent(theatre, best.place_id, views, text)
    if best.kind == "region":
        region = theatre.regions.loc[theatre.regions["region_id"] == best.place_id]
        geom = shapely.transform(region.geometry.iloc[0], _project_xy)
        return _grow(geom, text)
    point = theatre.gazetteer.point(best.place_id)
    if point is None:
        msg = f"extent {name!r}: {best.name} has no known position (unlocated in the gazetteer)"
        raise InputError(msg)
    x, y = TO_DRAW.transform(*point)
    r = margin_km * 1000.0
    label = text if m is not None else f"{best.name}+{margin_km:g}km"
    return Extent(label, (x - r, y - r, x + r, y + r))


def _project_xy(coords: np.ndarray) -> np.ndarray:
    x, y = TO_DRAW.transform(coords[:, 0], coords[:, 1])
    return np.column_stack([x, y])


def to_draw_crs(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Reproject a frame to :data:`DRAW_CRS`, refusing one without a CRS.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Any frame with a CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        The frame in metres.

    Raises
    ------
    InputError
        When the frame has no CRS.
    """
    if gdf.crs is None:
        msg = "a frame without a CRS cannot be drawn"
        raise InputError(msg)
    return gdf.to_crs(DRAW_CRS)

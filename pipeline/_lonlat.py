"""Placing an upload's geometry in longitude/latitude: checks of the CRS and the coordinates.

A CRS must be on the Earth (PROJ knows Mars and the Moon, and refuses to transform
between bodies). Coordinates must be finite, in range for a geographic CRS, and within a
projected CRS's valid area: outside it an inverse projection can still return numbers
(Web Mercator wraps a longitude and clamps a latitude to the pole), so each coordinate
is projected back and must come back where it was.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from numpy.typing import NDArray
from pyproj.exceptions import ProjError

from pipeline import settings
from pipeline._upload_error import UploadError

EARTH_SEMI_MAJOR = (6_350_000.0, 6_400_000.0)
"""Semi-major axes (metres) of the ellipsoids taken to be the Earth's (all in use lie within)."""
ROUND_TRIP_RTOL = 1e-7
"""Relative tolerance on a projected coordinate sent to longitude/latitude and back."""
ROUND_TRIP_ATOL = 1.0
"""Absolute tolerance (in the CRS's units, metres or feet) on the same round trip."""


def check_earth(crs: pyproj.CRS, file_name: str) -> None:
    """Refuse a CRS whose ellipsoid is not the Earth's (or which has none).

    Parameters
    ----------
    crs : pyproj.CRS
        The upload's CRS.
    file_name : str
        The upload's name, for messages.

    Raises
    ------
    UploadError
        When the CRS has no ellipsoid or one of another body (Mars, the Moon).
    """
    ellipsoid = crs.ellipsoid
    if ellipsoid is None:
        reason = f"CRS {crs.name!r} has no ellipsoid: it cannot be placed on the Earth"
        raise UploadError(file_name, reason)
    low, high = EARTH_SEMI_MAJOR
    if not low <= ellipsoid.semi_major_metre <= high:
        reason = (
            f"CRS {crs.name!r} is not on the Earth (its ellipsoid {ellipsoid.name!r} has a "
            f"semi-major axis of {ellipsoid.semi_major_metre:,.0f} m)"
        )
        raise UploadError(file_name, reason)


def _first(bad: NDArray[np.bool_], owner: NDArray[np.int_]) -> tuple[int, int]:
    at = int(np.argmax(bad))
    return at, int(owner[at]) + 1


def to_lonlat(frame: gpd.GeoDataFrame, file_name: str) -> gpd.GeoDataFrame:
    """Check a frame's CRS and coordinates, then reproject it to longitude/latitude.

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        Two-dimensional geometry with a CRS.
    file_name : str
        The upload's name, for messages.

    Returns
    -------
    geopandas.GeoDataFrame
        A new frame in :data:`pipeline.settings.GEO_CRS`.

    Raises
    ------
    UploadError
        Naming the first bad feature: a NaN or infinite coordinate, a latitude or
        longitude out of range, a coordinate outside the CRS's valid area; or a CRS not
        on the Earth or that cannot be transformed.
    """
    coords = shapely.get_coordinates(frame.geometry.to_numpy())
    counts = shapely.get_num_coordinates(frame.geometry.to_numpy())
    owner = np.repeat(np.arange(len(frame)), counts)
    bad = np.asarray(~np.isfinite(coords).all(axis=1))
    if bad.any():
        _, feature = _first(bad, owner)
        raise UploadError(file_name, f"feature {feature}: a coordinate is NaN or infinite")
    crs = pyproj.CRS.from_user_input(frame.crs)
    check_earth(crs, file_name)
    if crs.is_geographic:
        lon, lat = coords[:, 0], coords[:, 1]
        for values, limit, name in ((lat, 90, "latitude"), (lon, 180, "longitude")):
            out = np.abs(values) > limit
            if out.any():
                at, feature = _first(out, owner)
                v = float(values[at])
                hint = " (projected coordinates without a CRS?)" if abs(v) > 1000 else ""
                reason = f"feature {feature}: {name} {v:g} is out of range{hint}"
                raise UploadError(file_name, reason)
    try:
        out_frame = frame.to_crs(settings.GEO_CRS)
    except (ProjError, ValueError) as e:
        reason = f"cannot reproject from {crs.name!r} ({str(e)[:160]})"
        raise UploadError(file_name, reason) from None
    after = shapely.get_coordinates(out_frame.geometry.to_numpy())
    outside = ~np.isfinite(after).all(axis=1)
    outside |= (np.abs(after[:, 0]) > 180) | (np.abs(after[:, 1]) > 90)
    if not crs.is_geographic and len(coords) and not outside.any():
        back = pyproj.Transformer.from_crs(settings.GEO_CRS, crs, always_xy=True)
        with np.errstate(invalid="ignore", over="ignore"):
            x, y = back.transform(after[:, 0], after[:, 1], errcheck=False)
            again = np.column_stack([x, y])
            outside = ~np.isclose(again, coords, rtol=ROUND_TRIP_RTOL, atol=ROUND_TRIP_ATOL)
        outside = outside.any(axis=1)
    if outside.any():
        at, feature = _first(outside, owner)
        x, y = (float(v) for v in coords[at])
        where = f"coordinate ({x:g}, {y:g}) is outside the valid area of {crs.name!r}"
        raise UploadError(file_name, f"feature {feature}: {where}")
    return out_frame

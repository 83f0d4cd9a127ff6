"""Boundaries of the theatre: its first-level regions, the two countries and their border.

Regions come from ``data/geo/regions.geojson`` (Natural Earth admin-1 clipped to the
OpenStreetMap border, see ``data/geo/BOUNDARIES.md``); the countries are the union of
their regions inside the theatre, so regions and countries share edges exactly.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from pipeline import settings
from pipeline.errors import CRSError, DataError

REGION_COLUMNS = (
    "region_id",
    "name_en",
    "name_ru",
    "name_uk",
    "country",
    "geonames_admin1",
    "official_area_km2",
    "source",
    "licence",
)


def require_crs(gdf: gpd.GeoDataFrame, what: str) -> gpd.GeoDataFrame:
    """Refuse a frame without a CRS.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        The frame to check.
    what : str
        How to name the frame in the error message.

    Returns
    -------
    geopandas.GeoDataFrame
        The same frame, unchanged.

    Raises
    ------
    CRSError
        When ``gdf.crs`` is None.
    """
    if gdf.crs is None:
        msg = f"{what} has no CRS; set one (e.g. EPSG:4326) before using it"
        raise CRSError(msg)
    return gdf


def _read_polygons(path: Path, columns: tuple[str, ...], what: str) -> gpd.GeoDataFrame:
    """Read polygons in EPSG:4326; every missing column and empty geometry is a problem.

    The first of ``columns`` is the id that names a polygon in the messages.
    """
    gdf = require_crs(gpd.read_file(path, engine="pyogrio"), str(path))
    problems = [f"missing column {c!r}" for c in columns if c not in gdf.columns]
    problems += [
        f"{what} {rid!r} has an empty geometry"
        for rid, geom in zip(gdf.get(columns[0], []), gdf.geometry, strict=False)
        if geom is None or geom.is_empty
    ]
    if problems:
        raise DataError(str(path), problems)
    return gdf.to_crs(settings.GEO_CRS)


@lru_cache(maxsize=4)
def regions_gdf(data_dir: Path = settings.DATA_DIR) -> gpd.GeoDataFrame:
    """Load the theatre's first-level regions.

    Parameters
    ----------
    data_dir : pathlib.Path
        Folder holding ``regions.geojson``.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per region in EPSG:4326 with the columns of :data:`REGION_COLUMNS`
        plus ``area_km2`` measured in the equal-area CRS. Treat as read-only (cached).

    Raises
    ------
    DataError
        When the file lacks a column or a region has an empty geometry.
    """
    gdf = _read_polygons(data_dir / "regions.geojson", REGION_COLUMNS, "region")
    gdf["area_km2"] = gdf.to_crs(settings.EQUAL_AREA_CRS).area / 1e6
    return gdf.sort_values("region_id").reset_index(drop=True)


@lru_cache(maxsize=4)
def countries_gdf(data_dir: Path = settings.DATA_DIR) -> gpd.GeoDataFrame:
    """The theatre's part of each country, as the union of its regions.

    Parameters
    ----------
    data_dir : pathlib.Path
        Folder holding ``regions.geojson``.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per country code (``RU``, ``UA``), EPSG:4326, with ``area_km2``.
    """
    regions = regions_gdf(data_dir)
    rows = []
    for country, part in regions.groupby("country", sort=True):
        rows.append({"country": country, "geometry": shapely.coverage_union_all(part.geometry)})
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs=settings.GEO_CRS)
    gdf["area_km2"] = gdf.to_crs(settings.EQUAL_AREA_CRS).area / 1e6
    return gdf


@lru_cache(maxsize=4)
def border_gdf(data_dir: Path = settings.DATA_DIR) -> gpd.GeoDataFrame:
    """The Russia-Ukraine border inside the theatre.

    Parameters
    ----------
    data_dir : pathlib.Path
        Folder holding ``border.geojson``.

    Returns
    -------
    geopandas.GeoDataFrame
        Line features in EPSG:4326 with ``source`` and ``licence``.
    """
    path = data_dir / "border.geojson"
    return require_crs(gpd.read_file(path, engine="pyogrio"), str(path)).to_crs(settings.GEO_CRS)


DISTRICT_COLUMNS = (
    "raion_id",
    "name",
    "name_ru",
    "name_uk",
    "alt_names",
    "kind",
    "country",
    "region_id",
    "source",
    "source_url",
    "licence",
)
"""Columns every district (raion) in ``raions.geojson`` carries."""


def empty_districts() -> gpd.GeoDataFrame:
    """A district frame with no rows, for theatres without ``raions.geojson``.

    Returns
    -------
    geopandas.GeoDataFrame
        The columns of :func:`districts_gdf`, no rows.
    """
    empty = gpd.GeoDataFrame(
        {c: pd.Series(dtype=str) for c in DISTRICT_COLUMNS},
        geometry=gpd.GeoSeries([], crs=settings.GEO_CRS),
    )
    return empty.assign(area_km2=pd.Series(dtype=float))


@lru_cache(maxsize=4)
def districts_gdf(data_dir: Path = settings.DATA_DIR) -> gpd.GeoDataFrame:
    """Load the theatre's districts (raions and city okrugs), if the theatre has them.

    Parameters
    ----------
    data_dir : pathlib.Path
        Folder holding ``raions.geojson`` (optional).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per district in EPSG:4326 with the columns of :data:`DISTRICT_COLUMNS`
        plus ``area_km2``; empty when the file is absent. Treat as read-only (cached).

    Raises
    ------
    DataError
        When the file lacks a column or a district has an empty geometry.
    """
    path = data_dir / "raions.geojson"
    if not path.exists():
        return empty_districts()
    gdf = _read_polygons(path, DISTRICT_COLUMNS, "district")
    for col in DISTRICT_COLUMNS:
        gdf[col] = gdf[col].fillna("").astype(str)
    gdf["area_km2"] = gdf.to_crs(settings.EQUAL_AREA_CRS).area / 1e6
    return gdf.sort_values("raion_id").reset_index(drop=True)

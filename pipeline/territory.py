"""Territory: the theatre cut into settlement cells, the units that claims move between sides.

Each located settlement owns its Voronoi cell, clipped to the country it lies in and to a
disc of :data:`pipeline.settings.CELL_MAX_RADIUS_M` around it; every cell is further split
along region lines. Ground farther than that from any settlement is "open ground": one
remainder piece per region that keeps the side of its country. Together the pieces
partition the theatre, so on any date UA + RU + contested area equals the theatre's area.

All overlay work runs on a 1 m grid in the equal-area CRS, so neighbouring pieces share
their vertices exactly and form a valid polygonal coverage (which is what lets
:func:`shapely.coverage_union_all` dissolve them quickly).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray

from pipeline import settings
from pipeline.boundaries import require_crs
from pipeline.errors import CRSError

GRID_M = 1.0
"""Precision grid of every overlay, in metres of the equal-area CRS."""

CELL_COLUMNS = ("cell_id", "place_id", "region_id", "country", "area_km2", "geometry")


def _voronoi_cells(points: NDArray[np.object_], extent: shapely.Polygon) -> NDArray[np.object_]:
    """Voronoi polygon of each point, in input order, covering ``extent``."""
    if len(points) == 0:
        return np.array([], dtype=object)
    if len(points) == 1:
        return np.array([extent], dtype=object)
    regions = shapely.voronoi_polygons(shapely.multipoints(points), extend_to=extent, ordered=True)
    return np.asarray(shapely.get_parts(regions), dtype=object)


def cells_from_points(
    points: gpd.GeoDataFrame,
    regions: gpd.GeoDataFrame,
    max_radius_m: float = settings.CELL_MAX_RADIUS_M,
) -> gpd.GeoDataFrame:
    """Cut regions into settlement cells and open-ground remainders.

    The linework of the Voronoi diagram, of the union of the settlements' discs and of
    the region boundaries is noded once on a 1 m grid and polygonised into faces; each
    face goes to the settlement nearest to it when that settlement is within
    ``max_radius_m`` and in the same country, else to its region's open ground. Pieces
    built from one noded arrangement share their edges exactly: a valid coverage.

    Parameters
    ----------
    points : geopandas.GeoDataFrame
        Located settlements with ``place_id`` and ``country`` columns. Points that share
        coordinates share one cell (the first ``place_id`` in order owns it).
    regions : geopandas.GeoDataFrame
        Non-overlapping regions with ``region_id`` and ``country`` columns; their union is
        the theatre.
    max_radius_m : float
        Largest distance from a settlement its cell reaches, in metres.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns of :data:`CELL_COLUMNS` in the equal-area CRS; ``place_id`` is None for
        open ground. Each settlement's cell lies in the country the settlement is in.

    Raises
    ------
    CRSError
        When either frame has no CRS.
    ValueError
        When ``max_radius_m`` is not positive.
    """
    require_crs(points, "points")
    require_crs(regions, "regions")
    if not max_radius_m > 0:
        msg = f"max_radius_m must be positive, got {max_radius_m!r}"
        raise ValueError(msg)
    regions_m = regions.to_crs(settings.EQUAL_AREA_CRS).reset_index(drop=True)
    region_geoms = regions_m.geometry.to_numpy()
    region_country = regions_m["country"].to_numpy()
    pts = points.to_crs(settings.EQUAL_AREA_CRS)
    pts = pts[pts.geometry.notna() & ~pts.geometry.is_empty]
    coords = shapely.get_coordinates(pts.geometry.to_numpy())
    _, first = np.unique(np.round(coords, 1), axis=0, return_index=True)
    pts = pts.iloc[np.sort(first)].reset_index(drop=True)
    point_geoms = pts.geometry.to_numpy()

    # The country a settlement is in: the region polygon holding it (declared otherwise).
    located_in = np.array(pts["country"], dtype=object)
    tree = shapely.STRtree(region_geoms)
    pt_idx, reg_idx = tree.query(point_geoms, predicate="within")
    located_in[pt_idx] = region_country[reg_idx]

    extent = shapely.box(*shapely.total_bounds(region_geoms)).buffer(max_radius_m * 2)
    lines = [shapely.boundary(g) for g in region_geoms]
    if len(point_geoms):
        reach = shapely.union_all(shapely.buffer(point_geoms, max_radius_m, quad_segs=16))
        shapely.prepare(reach)
        lines.append(shapely.boundary(reach))
        lines += [shapely.boundary(g) for g in _voronoi_cells(point_geoms, extent)]
    noded = shapely.union_all(lines, grid_size=GRID_M)
    faces = np.asarray(shapely.get_parts(shapely.polygonize(shapely.get_parts(noded))))
    faces = faces[shapely.area(faces) > 0]
    inside = shapely.point_on_surface(faces)

    # Region of each face (faces outside the theatre are dropped).
    f_idx, r_idx = tree.query(inside, predicate="within")
    face_region = np.full(len(faces), -1)
    face_region[f_idx] = r_idx
    # Owner of each face: the nearest settlement, if near enough and in the same country.
    # Reach is tested against the same polygon whose boundary cut the faces, so a face
    # is either wholly inside a settlement's reach or wholly outside it.
    owner = np.full(len(faces), -1)
    if len(point_geoms):
        f_near, p_near = shapely.STRtree(point_geoms).query_nearest(inside, all_matches=False)
        ok = (
            shapely.contains(reach, inside[f_near])
            & (located_in[p_near] == region_country[face_region[f_near]])
            & (face_region[f_near] >= 0)
        )
        owner[f_near[ok]] = p_near[ok]

    # Group faces by (owner, region): one piece per group, dissolved by coverage union.
    keep = np.flatnonzero(face_region >= 0)
    order = keep[np.lexsort((face_region[keep], owner[keep]))]
    key = np.stack([owner[order], face_region[order]], axis=1)
    starts = np.flatnonzero(np.r_[True, np.any(key[1:] != key[:-1], axis=1)])
    place_ids = pts["place_id"].to_numpy()
    region_ids = regions_m["region_id"].to_numpy()
    pieces: list[dict[str, object]] = []
    for group in np.split(order, starts[1:]):
        own, reg = int(owner[group[0]]), int(face_region[group[0]])
        pieces.append(
            {
                "place_id": None if own < 0 else place_ids[own],
                "region_id": region_ids[reg],
                "country": region_country[reg],
                "geometry": faces[group[0]]
                if len(group) == 1
                else shapely.coverage_union_all(faces[group]),
            }
        )
    out = gpd.GeoDataFrame(pieces, geometry="geometry", crs=settings.EQUAL_AREA_CRS)
    out.insert(0, "cell_id", np.arange(len(out), dtype=np.int64))
    out["area_km2"] = out.geometry.area / 1e6
    return out[list(CELL_COLUMNS)]


def dissolve_cells(cells: gpd.GeoDataFrame, mask: NDArray[np.bool_]) -> shapely.Geometry:
    """Union of the selected cells, by coverage union (they form a valid coverage).

    Parameters
    ----------
    cells : geopandas.GeoDataFrame
        Cells from :func:`cells_from_points`.
    mask : numpy.ndarray of bool
        Which cells to dissolve.

    Returns
    -------
    shapely.Geometry
        The union (an empty polygon when nothing is selected), in the cells' CRS.
    """
    if cells.crs is None:
        msg = "cells have no CRS"
        raise CRSError(msg)
    geoms = cells.geometry.to_numpy()[mask]
    if len(geoms) == 0:
        return shapely.Polygon()
    return shapely.coverage_union_all(geoms)

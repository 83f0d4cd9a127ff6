"""Territory: the theatre cut into settlement cells, the units that claims move between sides.

Each mapped settlement owns its Voronoi cell, clipped to the country it lies in and to a
disc of :data:`pipeline.settings.CELL_MAX_RADIUS_M` around it. Inside the *front zone*
(ground within :data:`pipeline.settings.FRONT_ZONE_M` of a settlement the ledger names,
see :func:`front_zone`) the cap is lifted and each piece of ground goes to the nearest
settlement of its own region, so the ground between two settlements is split between
them and no gap is left where the fighting was; there, cells are also cut by a square
grid of :data:`pipeline.settings.ZONE_GRID_M` so that inferred ground
(:mod:`pipeline.inference`) follows the shape of the ground enclosed by claims rather
than whole village cells. Every cell is further split along region lines. Ground
outside the zone and farther than the cap from any settlement is "open ground": one
remainder piece per region that keeps the side of its country. Together the pieces
partition the theatre, so on any date the areas of all statuses (UA, RU, contested,
inferred) add up to the theatre's area.

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

CELL_COLUMNS = (
    "cell_id",
    "place_id",
    "region_id",
    "country",
    "area_km2",
    "inner_x",
    "inner_y",
    "geometry",
)


def _voronoi_cells(points: NDArray[np.object_], extent: shapely.Polygon) -> NDArray[np.object_]:
    """Voronoi polygon of each point, in input order, covering ``extent``."""
    if len(points) == 0:
        return np.array([], dtype=object)
    if len(points) == 1:
        return np.array([extent], dtype=object)
    regions = shapely.voronoi_polygons(shapely.multipoints(points), extend_to=extent, ordered=True)
    return np.asarray(shapely.get_parts(regions), dtype=object)


def front_zone(
    named: gpd.GeoDataFrame, regions: gpd.GeoDataFrame, radius_m: float = settings.FRONT_ZONE_M
) -> shapely.Geometry:
    """Ground within ``radius_m`` of any settlement named in a claim, inside the theatre.

    Parameters
    ----------
    named : geopandas.GeoDataFrame
        Located settlements named in the ledger (any CRS).
    regions : geopandas.GeoDataFrame
        The theatre's regions.
    radius_m : float
        How far the zone reaches from each named settlement, in metres.

    Returns
    -------
    shapely.Geometry
        The zone in the equal-area CRS (empty when nothing is named).
    """
    require_crs(named, "named")
    require_crs(regions, "regions")
    pts = named.to_crs(settings.EQUAL_AREA_CRS).geometry
    pts = pts[pts.notna() & ~pts.is_empty].to_numpy()
    if len(pts) == 0:
        return shapely.Polygon()
    discs = shapely.union_all(shapely.buffer(pts, radius_m, quad_segs=16))
    theatre = shapely.union_all(regions.to_crs(settings.EQUAL_AREA_CRS).geometry.to_numpy())
    return shapely.intersection(discs, theatre, grid_size=GRID_M)


def _grid_lines(zone: shapely.Geometry, grid_m: float) -> shapely.Geometry:
    """Lines of a square grid of side ``grid_m`` (aligned on multiples of it), inside ``zone``."""
    x0, y0, x1, y1 = shapely.bounds(zone)
    xs = np.arange(np.floor(x0 / grid_m), np.ceil(x1 / grid_m) + 1) * grid_m
    ys = np.arange(np.floor(y0 / grid_m), np.ceil(y1 / grid_m) + 1) * grid_m
    grid = [shapely.LineString([(x, ys[0]), (x, ys[-1])]) for x in xs]
    grid += [shapely.LineString([(xs[0], y), (xs[-1], y)]) for y in ys]
    return shapely.intersection(shapely.multilinestrings(grid), zone, grid_size=GRID_M)


def cells_from_points(
    points: gpd.GeoDataFrame,
    regions: gpd.GeoDataFrame,
    max_radius_m: float = settings.CELL_MAX_RADIUS_M,
    zone: shapely.Geometry | None = None,
    grid_m: float = settings.ZONE_GRID_M,
) -> gpd.GeoDataFrame:
    """Cut regions into settlement cells and open-ground remainders.

    The linework of the Voronoi diagram, of the union of the settlements' discs and of
    the region boundaries is noded once on a 1 m grid and polygonised into faces; each
    face goes to the settlement nearest to it when that settlement is within
    ``max_radius_m`` and in the same country, else to its region's open ground. Inside
    ``zone`` a face goes to the nearest settlement of its own region, however far. Pieces
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
        Largest distance from a settlement its cell reaches, in metres, outside ``zone``.
    zone : shapely.Geometry, optional
        Ground (equal-area CRS, e.g. from :func:`front_zone`) where the cap does not
        apply: every face in it goes to its nearest settlement of the same country, and
        cells are cut by a square grid of ``grid_m``.
    grid_m : float
        Side of the grid squares inside ``zone``, in metres.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns of :data:`CELL_COLUMNS` in the equal-area CRS; ``place_id`` is None for
        open ground; ``inner_x``/``inner_y`` is a point inside the cell (metres), which the
        pieces an upload cuts from it keep. Each settlement's cell lies in the country the
        settlement is in.

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
    pt_region = np.full(len(point_geoms), -1)
    pt_region[pt_idx] = reg_idx

    extent = shapely.box(*shapely.total_bounds(region_geoms)).buffer(max_radius_m * 2)
    lines = [shapely.boundary(g) for g in region_geoms]
    if len(point_geoms):
        reach = shapely.union_all(shapely.buffer(point_geoms, max_radius_m, quad_segs=16))
        if zone is not None and not shapely.is_empty(zone):
            reach = shapely.union(reach, zone, grid_size=GRID_M)
            lines.append(shapely.boundary(zone))
            lines.append(_grid_lines(zone, grid_m))
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

    # Inside the zone a face goes to the nearest settlement of its own region, uncapped.
    in_zone = np.zeros(len(faces), dtype=bool)
    if zone is not None and not shapely.is_empty(zone):
        shapely.prepare(zone)
        in_zone = shapely.contains(zone, inside) & (face_region >= 0)
        for reg in np.unique(face_region[in_zone]):
            mine = np.flatnonzero(pt_region == reg)
            here = np.flatnonzero(in_zone & (face_region == reg))
            if len(mine) == 0:
                owner[here] = -1
                continue
            _, nearest = shapely.STRtree(point_geoms[mine]).query_nearest(
                inside[here], all_matches=False
            )
            owner[here] = mine[nearest]

    # Grid square of each face inside the zone (-1 outside it).
    square = np.full(len(faces), -1, dtype=np.int64)
    if zone is not None and not shapely.is_empty(zone):
        ix = np.floor(shapely.get_x(inside) / grid_m).astype(np.int64)
        iy = np.floor(shapely.get_y(inside) / grid_m).astype(np.int64)
        square[in_zone] = (ix[in_zone] - ix.min()) * 1_000_003 + (iy[in_zone] - iy.min())

    # Group faces by (owner, region, square): one piece per group, by coverage union.
    keep = np.flatnonzero(face_region >= 0)
    order = keep[np.lexsort((square[keep], face_region[keep], owner[keep]))]
    key = np.stack([owner[order], face_region[order], square[order]], axis=1)
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
    # A point inside each cell, fixed when the cell is made: the pieces an upload cuts a
    # cell into inherit it, so inferred ground does not move where an upload is silent.
    inner = shapely.get_coordinates(shapely.point_on_surface(out.geometry.to_numpy()))
    out["inner_x"], out["inner_y"] = inner[:, 0], inner[:, 1]
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

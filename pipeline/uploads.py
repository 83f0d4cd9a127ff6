"""Uploads on the timeline: stored control polygons become cells and events like claims.

An uploaded polygon rarely follows settlement cells, so the cells it crosses are split along
its edges. The polygons are first dissolved into *layers*, one per revision and side (the
ground that revision gives that side). All layers then cut the cells at once: the cells'
edges near the polygons and the polygons' edges are noded together in one snap-rounding
pass on the 1 m grid of :mod:`pipeline.territory` and polygonised, so a crossing is
computed once for both cells that share an edge, and the pieces still form a valid
coverage. Within a cell, the ground that the same layers hold is one piece, whatever the
number of polygons: every such piece inside a layer becomes a *unit* of its own (an id
such as ``pl-123#u17``) that inherits its settlement's claims, so derived views do not
change.

Each revision then becomes events, as a claim would, on its date and for its claimant:

``patch``
    every unit inside a polygon moves to the polygon's side;
``snapshot``
    the claimant's complete map: every unit inside a polygon moves to its side and every
    other unit to the side of its country, replacing the claimant's earlier map from that
    date on.

The view rules of :mod:`pipeline.timeline` then apply unchanged (the newest word stands,
disagreement on one date is contested), so uploaded claimants are views like any other.

The work grows with the polygons' vertices near cell edges, not with the number of
features: polygons are unioned only where they come within :data:`NEAR_M` of each other,
a polygon alone inside a cell becomes a hole of that cell as it is (no overlay), and the
same polygon in several revisions is cut once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from pipeline.claims import Claimant
from pipeline.inference import UNIT_MARK
from pipeline.territory import GRID_M

if TYPE_CHECKING:
    from pipeline.build import Theatre

NEAR_M = 2 * GRID_M
"""Polygons and cell edges closer than this are noded together.

Snap rounding moves an edge at most ``GRID_M / √2`` toward a vertex; anything farther
than twice the grid from an edge cannot move it, so an edge shared with a cell that no
polygon comes this near is left exactly as it was.
"""

DERIVED_VERSION = 2
"""Version of how uploads become cells and events; a change makes cached ones stale."""

LAYER_COLUMNS = ("revision_id", "side")
"""Uploaded polygons sharing these values form one layer in :func:`apply_uploads`."""

Geoms = NDArray[np.object_]
Signature = tuple[int, ...]
"""Indices of the layers holding a piece."""
Pieces = tuple[Geoms, NDArray[np.intp], list[Signature]]
"""Geometries, with the index of the cell or piece each lies in and the layers holding it."""


def _assemble(parts: Geoms, owner: NDArray[np.intp], n: int) -> Geoms:
    """One geometry per owner from polygons: a Polygon, a MultiPolygon, or None.

    Parameters
    ----------
    parts : numpy.ndarray of shapely.Polygon
        Polygons, pairwise disjoint within an owner.
    owner : numpy.ndarray of int
        Owner of each polygon, ``0 <= owner < n``.
    n : int
        Number of owners.

    Returns
    -------
    numpy.ndarray of shapely.Geometry
        ``n`` geometries; None for an owner without polygons.
    """
    out = np.full(n, None, dtype=object)
    if len(parts) == 0:
        return out
    order = np.argsort(owner, kind="stable")
    parts, owner = parts[order], owner[order]
    counts = np.bincount(owner, minlength=n)
    single = counts[owner] == 1
    out[owner[single]] = parts[single]
    if not single.all():
        shapely.multipolygons(parts[~single], indices=owner[~single], out=out)
    return out


def _polygonal(geoms: Geoms) -> Geoms:
    """The polygonal part of each geometry (None where it has no area).

    Parameters
    ----------
    geoms : numpy.ndarray of shapely.Geometry
        Overlay results (polygons, or collections mixing polygons, lines and points).

    Returns
    -------
    numpy.ndarray of shapely.Geometry
        A Polygon where one part has area, a MultiPolygon where several have, else None.
    """
    parts, owner = shapely.get_parts(geoms, return_index=True)
    keep = (shapely.get_type_id(parts) == shapely.GeometryType.POLYGON) & (shapely.area(parts) > 0)
    return _assemble(parts[keep], owner[keep], len(geoms))


def _components(a: NDArray[np.intp], b: NDArray[np.intp], n: int) -> NDArray[np.intp]:
    """Connected components of ``n`` nodes joined by the edges ``(a[i], b[i])``.

    Parameters
    ----------
    a, b : numpy.ndarray of int
        Edge ends.
    n : int
        Number of nodes.

    Returns
    -------
    numpy.ndarray of int
        For each node, the smallest node of its component.
    """
    root = np.arange(n)
    while True:
        ra, rb = root[a], root[b]
        differ = ra != rb
        if not differ.any():
            return root
        # Hook the larger root under the smaller, then compress every path to its root.
        np.minimum.at(root, np.maximum(ra, rb)[differ], np.minimum(ra, rb)[differ])
        while True:
            up = root[root]
            if (up == root).all():
                break
            root = up


class Layer(NamedTuple):
    """The ground one revision gives one side, as parts that form a valid multipolygon.

    Attributes
    ----------
    parts : numpy.ndarray of shapely.Polygon
        The parts (equal-area CRS).
    alone : numpy.ndarray of bool
        Parts farther than :data:`NEAR_M` from the layer's other parts, snapped to the
        grid, without holes and with no vertex within a grid cell of another edge, so
        no noding on the grid would change them (the first ones).
    """

    parts: Geoms
    alone: NDArray[np.bool_]


def _dissolve(geoms: Geoms) -> Layer:
    """The ground covered by ``geoms``, unioned only where polygons come near each other.

    Polygons within :data:`NEAR_M` of each other are unioned (by coverage union when they
    only share edges, else on the grid); the others are kept as they are, so thousands
    of disjoint squares cost no union at all.

    Parameters
    ----------
    geoms : numpy.ndarray of shapely.Geometry
        Polygons and multipolygons (equal-area CRS), possibly overlapping.

    Returns
    -------
    Layer
        The parts.
    """
    parts = shapely.get_parts(geoms)
    parts = parts[
        (shapely.get_type_id(parts) == shapely.GeometryType.POLYGON) & (shapely.area(parts) > 0)
    ]
    if len(parts) < 2:
        group = np.zeros(len(parts), dtype=np.intp)
    else:
        a, b = shapely.STRtree(parts).query(parts, predicate="dwithin", distance=NEAR_M)
        group = _components(a[a < b], b[a < b], len(parts))
    sizes = np.bincount(group, minlength=len(parts))
    alone = sizes[group] == 1
    # A lone part snapped to the grid as any noding would snap it; when that leaves it
    # clean, it can become a hole of the piece it lies in as it is: later nodings on the
    # grid leave its edges alone.
    snapped = shapely.set_precision(parts[alone], GRID_M, mode="pointwise")
    clean = (
        shapely.is_valid(snapped)
        & (shapely.get_num_interior_rings(snapped) == 0)
        & (shapely.minimum_clearance(snapped) > GRID_M)
    )
    out = [snapped[clean], parts[alone][~clean]]
    order = np.flatnonzero(~alone)
    order = order[np.argsort(group[order], kind="stable")]
    if len(order):
        starts = np.flatnonzero(np.r_[True, group[order][1:] != group[order][:-1]])
        for members in np.split(order, starts[1:]):
            group_parts = parts[members]
            # Tiles that only share edges (a raster exported as squares) form a coverage,
            # whose union is far cheaper than a general one.
            if shapely.coverage_is_valid(group_parts):
                merged = shapely.coverage_union_all(group_parts)
            else:
                merged = shapely.union_all(group_parts, grid_size=GRID_M)
            out.append(shapely.get_parts(_polygonal(np.array([merged], dtype=object))))
    merged_parts = np.concatenate(out).astype(object)
    return Layer(merged_parts, np.arange(len(merged_parts)) < int(clean.sum()))


def _merged(geoms: Geoms, extra: Geoms, owner: NDArray[np.intp]) -> Geoms:
    """Each geometry with the polygons ``extra`` (disjoint from it) added to its owner."""
    parts, index = shapely.get_parts(geoms, return_index=True)
    return _assemble(np.concatenate([parts, extra]), np.concatenate([index, owner]), len(geoms))


def _punched(geoms: Geoms, holes: Geoms, owner: NDArray[np.intp]) -> Geoms:
    """Each geometry with the polygons ``holes`` (strictly inside it) cut out as holes.

    The holes' rings are used as they are, so a hole and the polygon that fills it share
    their edges exactly: no overlay, no snapping.
    """
    polys, poly_owner = shapely.get_parts(geoms, return_index=True)
    hole_rings = shapely.get_exterior_ring(holes)
    starts = np.r_[0, np.cumsum(shapely.get_num_coordinates(hole_rings))[:-1]]
    corner = np.asarray(shapely.points(shapely.get_coordinates(hole_rings)[starts]), dtype=object)
    hole_i, poly_i = shapely.STRtree(polys).query(corner)
    mine = poly_owner[poly_i] == owner[hole_i]
    hole_i, poly_i = hole_i[mine], poly_i[mine]
    shapely.prepare(polys)
    mine = shapely.contains_properly(polys[poly_i], corner[hole_i])
    hole_i, poly_i = hole_i[mine], poly_i[mine]
    hole_i, first = np.unique(hole_i, return_index=True)
    poly_i = poly_i[first]
    rings, ring_poly = shapely.get_rings(polys, return_index=True)
    shell = np.r_[True, ring_poly[1:] != ring_poly[:-1]] if len(rings) else np.ones(0, bool)
    rings = np.concatenate([rings, hole_rings[hole_i]])
    ring_poly = np.concatenate([ring_poly, poly_i])
    order = np.lexsort((np.r_[~shell, np.ones(len(hole_i), dtype=bool)], ring_poly))
    rebuilt = np.asarray(shapely.polygons(rings[order], indices=ring_poly[order]), dtype=object)
    out = _assemble(rebuilt, poly_owner, len(geoms))
    # A hole no polygon holds cannot happen (see NEAR_M); cut it by overlay all the same.
    for i in np.setdiff1d(np.arange(len(holes)), hole_i):
        o = owner[i]
        out[o] = _polygonal(
            shapely.difference(np.array([out[o]]), holes[i : i + 1], grid_size=GRID_M)
        )[0]
    return out


def _edges(pieces: Geoms) -> Geoms:
    """Every edge of the pieces once, as two-point lines (shared edges are one line)."""
    xy, ring = shapely.get_coordinates(
        shapely.get_rings(shapely.get_parts(pieces)), return_index=True
    )
    same = ring[1:] == ring[:-1]
    seg = np.stack([xy[:-1][same], xy[1:][same]], axis=1)
    seg = seg[(seg[:, 0] != seg[:, 1]).any(axis=1)]
    flip = (seg[:, 0, 0] > seg[:, 1, 0]) | (
        (seg[:, 0, 0] == seg[:, 1, 0]) & (seg[:, 0, 1] > seg[:, 1, 1])
    )
    seg[flip] = seg[flip][:, ::-1]
    unique = np.unique(seg.reshape(-1, 4), axis=0).reshape(-1, 2, 2)
    return np.asarray(shapely.linestrings(unique), dtype=object)


def _faces(
    pieces: Geoms, cutters: Geoms, held_by: Sequence[Signature], *, everywhere: bool = False
) -> Pieces:
    """The faces that cutters cut pieces into, the linework near the cutters noded once.

    The pieces' edges within :data:`NEAR_M` of the cutters and the cutters' edges are
    noded together in one snap-rounding pass on the grid, then joined exactly with the
    kept edges next to them; the other edges are kept as they are, and the whole is
    polygonised. A crossing is thus computed once for both pieces that share an edge,
    and an edge shared with a piece no cutter comes near is not touched, so the faces and
    the other pieces form a valid coverage. Each face goes to the piece that holds its
    interior point (or, failing that, overlaps more than half of it); faces of no piece
    are dropped. When a piece's faces do not add up to it (broken linework), every edge
    is noded instead.

    Parameters
    ----------
    pieces : numpy.ndarray of shapely.Geometry
        Pieces of a valid coverage, vertices on the grid.
    cutters : numpy.ndarray of shapely.Polygon
        Polygons, possibly overlapping.
    held_by : sequence of tuple of int
        The layers each cutter belongs to.
    everywhere : bool, default False
        Node every edge of the pieces (the fallback when the faces do not add up).

    Returns
    -------
    faces : numpy.ndarray of shapely.Polygon
        The faces.
    owner : numpy.ndarray of int
        The piece of each face.
    layers_of : list of tuple of int
        The layers holding each face (those of the cutters holding its interior point).
    """
    edges = _edges(pieces)
    near = np.full(len(edges), everywhere)
    near[shapely.STRtree(edges).query(cutters, predicate="dwithin", distance=NEAR_M)[1]] = True
    cutter_edges = shapely.get_parts(shapely.boundary(cutters))
    noded = shapely.get_parts(
        shapely.union_all(
            shapely.multilinestrings(np.concatenate([edges[near], cutter_edges])), grid_size=GRID_M
        )
    )
    # Snapped lines may now run along or end on a kept edge next to them: those are noded
    # with them exactly (all on the grid now); the kept edges farther away only meet kept
    # edges, at their ends.
    kept = edges[~near]
    close = np.zeros(len(kept), dtype=bool)
    close[shapely.STRtree(kept).query(noded, predicate="dwithin", distance=NEAR_M)[1]] = True
    joined = shapely.union_all(shapely.multilinestrings(np.concatenate([noded, kept[close]])))
    lines = np.concatenate([shapely.get_parts(joined), kept[~close]])
    faces = shapely.get_parts(shapely.polygonize(lines))
    faces = faces[shapely.area(faces) > 0]
    points = shapely.STRtree(shapely.point_on_surface(faces))
    owner = np.full(len(faces), -1)
    piece_i, face_i = points.query(pieces, predicate="contains")
    owner[face_i] = piece_i
    lost = np.flatnonzero(owner < 0)
    if len(lost):
        face_j, piece_j = shapely.STRtree(pieces).query(faces[lost], predicate="intersects")
        share = shapely.area(shapely.intersection(faces[lost][face_j], pieces[piece_j]))
        best = share > 0.5 * shapely.area(faces[lost][face_j])
        owner[lost[face_j[best]]] = piece_j[best]
    # Snapping moves an edge less than a grid cell: each piece's faces cover it but for a
    # strip that thin along its noded edges, unless the linework was broken somewhere.
    piece_i, edge_j = shapely.STRtree(edges[near]).query(pieces, predicate="intersects")
    slack = np.bincount(piece_i, shapely.length(edges[near][edge_j]), minlength=len(pieces))
    held_area = np.bincount(owner[owner >= 0], shapely.area(faces[owner >= 0]), len(pieces))
    short = np.abs(held_area - shapely.area(pieces)) > 2 * GRID_M * slack + GRID_M**2
    if short.any() and not everywhere:
        return _faces(pieces, cutters, held_by, everywhere=True)
    layers: list[set[int]] = [set() for _ in faces]
    for c, f in zip(*points.query(cutters, predicate="contains"), strict=True):
        layers[f].update(held_by[c])
    keep = np.flatnonzero(owner >= 0)
    return faces[keep], owner[keep], [tuple(sorted(layers[f])) for f in keep]


def _distinct(layers: Sequence[Layer]) -> tuple[Geoms, list[Signature], NDArray[np.bool_]]:
    """The layers' parts, each polygon once with the layers holding it, and which are lone.

    The same polygon in several layers (a map uploaded again) is one part held by all. A
    part is lone when it is alone in its layer and no other layer's part comes within
    :data:`NEAR_M` of it either.
    """
    every = np.concatenate([layer.parts for layer in layers])
    layer_of = np.repeat(np.arange(len(layers)), [len(layer.parts) for layer in layers])
    _, first, copy_of = np.unique(shapely.to_wkb(every), return_index=True, return_inverse=True)
    parts: Geoms = every[first]
    pairs = np.unique(np.stack([copy_of, layer_of], axis=1), axis=0)
    held_by: list[Signature]
    if len(pairs) == len(parts):  # no polygon in two layers
        held_by = [(int(k),) for k in pairs[:, 1].tolist()]
    else:
        starts = np.flatnonzero(np.r_[True, pairs[1:, 0] != pairs[:-1, 0]])
        held_by = [tuple(int(k) for k in run) for run in np.split(pairs[:, 1], starts[1:])]
    lone = np.zeros(len(parts), dtype=bool)
    lone[copy_of[np.concatenate([layer.alone for layer in layers])]] = True
    if len(layers) > 1:
        lone_i = np.flatnonzero(lone)
        a, b = shapely.STRtree(parts).query(parts[lone_i], predicate="dwithin", distance=NEAR_M)
        lone[lone_i[a][lone_i[a] != b]] = False
    return parts, held_by, lone


def _split(cells: Geoms, layers: Sequence[Layer]) -> Pieces:
    """Cut cells by layers: each piece lies in one cell and in the same layers throughout.

    All layers cut at once. A lone part (:func:`_distinct`, and clean on the grid) in a
    cell's interior, farther than :data:`NEAR_M` from its edges, is taken as it is and cut
    out of the cell as a hole, edges shared exactly; the cells that other parts come near
    are cut into faces (:func:`_faces`), and the faces of one cell held by the same
    layers become one piece.

    Parameters
    ----------
    cells : numpy.ndarray of shapely.Geometry
        Cells forming a valid coverage on the grid (equal-area CRS).
    layers : sequence of Layer
        The layers, from :func:`_dissolve`.

    Returns
    -------
    geoms : numpy.ndarray of shapely.Geometry
        The pieces; a cell no layer comes near is kept whole.
    parent : numpy.ndarray of int
        Index of each piece's cell.
    layers_of : list of tuple of int
        Indices of the layers covering each piece (ascending; empty outside every layer).
    """
    geoms = np.asarray(cells, dtype=object)
    whole: Pieces = (geoms, np.arange(len(geoms)), [()] * len(geoms))
    if sum(len(layer.parts) for layer in layers) == 0:
        return whole
    parts, held_by, lone = _distinct(layers)
    cell, part = shapely.STRtree(parts).query(geoms, predicate="dwithin", distance=NEAR_M)
    if len(cell) == 0:
        return whole
    # Interior: a lone part whose box, grown by more than NEAR_M, lies inside the cell.
    interior = lone[part]
    x0, y0, x1, y1 = shapely.bounds(parts[part[interior]]).T
    grow = NEAR_M + GRID_M
    margin = shapely.box(x0 - grow, y0 - grow, x1 + grow, y1 + grow)
    fresh = geoms[~shapely.is_prepared(geoms)]
    shapely.prepare(fresh)
    interior[interior] = shapely.contains_properly(geoms[cell[interior]], margin)
    shapely.destroy_prepared(fresh)
    while True:
        pieces, parent, sigs = _cut_cells(geoms, parts, held_by, cell[~interior], part[~interior])
        index = {(c, sig): i for i, (c, sig) in enumerate(zip(parent, sigs, strict=True))}
        # Each hole goes into its cell's ground outside every layer, which surrounds it.
        homeless = np.array([(int(c), ()) not in index for c in cell[interior]], dtype=bool)
        if not homeless.any():
            break
        interior[np.flatnonzero(interior)[homeless]] = False  # cannot happen; cut them
    if interior.any():
        holes, hole_cell = parts[part[interior]], cell[interior]
        target = np.array([index[(int(c), ())] for c in hole_cell])
        slots, slot_of = np.unique(target, return_inverse=True)
        pieces[slots] = _punched(pieces[slots], holes, slot_of)
        # Each hole's part joins its cell's ground held by the part's layers.
        keys = [(int(c), held_by[j]) for c, j in zip(hole_cell, part[interior], strict=True)]
        for key in dict.fromkeys(keys):
            if key not in index:
                index[key] = len(parent)
                parent.append(key[0])
                sigs.append(key[1])
        pieces = np.concatenate([pieces, np.full(len(parent) - len(pieces), None, dtype=object)])
        pieces = _merged(pieces, holes, np.array([index[k] for k in keys]))
    has = ~(shapely.is_missing(pieces) | shapely.is_empty(pieces))
    return pieces[has], np.asarray(parent)[has], [s for s, h in zip(sigs, has, strict=True) if h]


def _cut_cells(
    geoms: Geoms,
    parts: Geoms,
    held_by: Sequence[Signature],
    cell: NDArray[np.intp],
    part: NDArray[np.intp],
) -> tuple[Geoms, list[int], list[Signature]]:
    """The cells, those in ``cell`` cut by the parts in ``part`` into one piece per layers.

    Parameters
    ----------
    geoms : numpy.ndarray of shapely.Geometry
        The cells.
    parts : numpy.ndarray of shapely.Polygon
        The distinct parts.
    held_by : sequence of tuple of int
        The layers holding each part.
    cell, part : numpy.ndarray of int
        Pairs of a cell and a part that cuts it.

    Returns
    -------
    pieces : numpy.ndarray of shapely.Geometry
        Uncut cells, then the pieces of the cut ones.
    parent : list of int
        The cell of each piece.
    layers_of : list of tuple of int
        The layers holding each piece.
    """
    cut = np.unique(cell)
    kept = np.ones(len(geoms), dtype=bool)
    kept[cut] = False
    pieces = list(geoms[kept])
    parent: list[int] = np.flatnonzero(kept).tolist()
    sigs: list[Signature] = [()] * len(pieces)
    if len(cut):
        cutters = np.unique(part)
        faces, owner, face_sigs = _faces(geoms[cut], parts[cutters], [held_by[j] for j in cutters])
        groups: dict[tuple[int, Signature], list[int]] = {}
        for f, (o, sig) in enumerate(zip(owner, face_sigs, strict=True)):
            groups.setdefault((int(cut[o]), sig), []).append(f)
        # Faces of one arrangement form a coverage: one coverage union per group.
        for (c, sig), members in groups.items():
            one = len(members) == 1
            pieces.append(faces[members[0]] if one else shapely.coverage_union_all(faces[members]))
            parent.append(c)
            sigs.append(sig)
    out = np.empty(len(pieces), dtype=object)
    out[:] = pieces
    return out, parent, sigs


def _refined(
    cells: gpd.GeoDataFrame, layers: Sequence[Layer]
) -> tuple[gpd.GeoDataFrame, list[Signature]]:
    """The cells cut by layers, as a frame, and the layers covering each row."""
    geoms, parent, sigs = _split(cells.geometry.to_numpy(), layers)
    order = np.argsort(parent, kind="stable")
    refined = cells.iloc[parent[order]].reset_index(drop=True)
    refined = refined.assign(parent_cell=refined["cell_id"].to_numpy())
    refined = gpd.GeoDataFrame(
        refined.drop(columns=refined.geometry.name),
        geometry=gpd.GeoSeries(geoms[order], crs=cells.crs),
        crs=cells.crs,
    )
    refined["cell_id"] = np.arange(len(refined), dtype=np.int64)
    refined["area_km2"] = refined.geometry.area / 1e6
    return refined, [sigs[i] for i in order]


def refine_cells(cells: gpd.GeoDataFrame, polygons: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Split the cells along uploaded polygons' edges.

    Parameters
    ----------
    cells : geopandas.GeoDataFrame
        Cells (equal-area CRS) from :func:`pipeline.territory.cells_from_points`.
    polygons : geopandas.GeoDataFrame
        Uploaded polygons, any CRS. Each row cuts the cells on its own; within a cell,
        the ground that the same rows cover stays one piece.

    Returns
    -------
    geopandas.GeoDataFrame
        The cells' columns plus ``parent_cell``; cells no edge crosses are kept whole.
    """
    if len(polygons) == 0:
        return cells.assign(parent_cell=cells["cell_id"])
    geoms = polygons.to_crs(cells.crs).geometry.to_numpy()
    refined, _ = _refined(cells, [_dissolve(np.array([g], dtype=object)) for g in geoms])
    return refined


def _events(*columns: NDArray[np.object_]) -> pd.DataFrame:
    """Map events (as :func:`pipeline.timeline.map_events` makes them) from their columns.

    Parameters
    ----------
    *columns : numpy.ndarray of object
        Dates (``datetime.date``), units, claimants, sides and claim ids.

    Returns
    -------
    pandas.DataFrame
        The events, none of them a denial.
    """
    days, units, claimants, sides, claim_ids = columns
    return pd.DataFrame(
        {
            "date": pd.Series(days, dtype=object),
            "place_id": units,
            "claimant": claimants,
            "side": sides,
            "claim_id": claim_ids,
            "denial": np.zeros(len(claim_ids), dtype=bool),
        }
    )


def _uploaded_events(
    unit: NDArray[np.object_],
    country: NDArray[np.object_],
    sigs: Sequence[Signature],
    keys: Sequence[tuple[object, str]],
    revisions: dict[object, tuple[dt.date, str, str]],
) -> pd.DataFrame:
    """The events of uploaded revisions, for every piece from the layers holding it.

    Parameters
    ----------
    unit : numpy.ndarray of object
        Each piece's unit or settlement (None for open ground outside every layer).
    country : numpy.ndarray of object
        Each piece's country.
    sigs : sequence of tuple of int
        The layers holding each piece.
    keys : sequence of tuple
        Each layer's revision id and side.
    revisions : dict
        Each revision's date, claimant and mode.

    Returns
    -------
    pandas.DataFrame
        Map events: each unit moves to the side of every layer holding it, on the date
        of the layer's revision; a snapshot moves every other unit and settlement to its
        country's side (a settlement's cells all lie in its country, so any gives it).
    """
    held = [i for i, s in enumerate(sigs) if s]
    unit_of = np.repeat(np.array(held, dtype=np.intp), [len(sigs[i]) for i in held])
    layer_of = np.fromiter((k for i in held for k in sigs[i]), dtype=np.intp, count=len(unit_of))
    rev_ids = list(revisions)
    position = {rev: i for i, rev in enumerate(rev_ids)}
    rev_of = np.array([position[rev] for rev, _ in keys], dtype=np.intp)[layer_of]
    days = np.array([revisions[r][0] for r in rev_ids], dtype=object)
    whos = np.array([revisions[r][1] for r in rev_ids], dtype=object)
    claim_ids = np.array([f"rev-{r}" for r in rev_ids], dtype=object)
    sides = np.array([side for _, side in keys], dtype=object)
    parts = [_events(days[rev_of], unit[unit_of], whos[rev_of], sides[layer_of], claim_ids[rev_of])]
    named = np.array([isinstance(u, str) for u in unit], dtype=bool)
    places, code = np.unique(unit[named].astype(str), return_inverse=True)
    place_country = np.empty(len(places), dtype=object)
    place_country[code] = country[named]
    place_of = np.full(len(unit), -1)
    place_of[named] = code
    for r, rev_id in enumerate(rev_ids):
        if revisions[rev_id][2] == "snapshot":
            rest = np.ones(len(places), dtype=bool)
            rest[place_of[unit_of[rev_of == r]]] = False
            n = int(rest.sum())
            parts.append(
                _events(
                    np.full(n, days[r], dtype=object),
                    places[rest].astype(object),
                    np.full(n, whos[r], dtype=object),
                    place_country[rest],
                    np.full(n, claim_ids[r], dtype=object),
                )
            )
    return pd.concat(parts, ignore_index=True)


def theatre_with_uploads(
    theatre: Theatre,
    claimants: dict[str, Claimant],
    fingerprint: str,
    cells: gpd.GeoDataFrame | None = None,
    events: pd.DataFrame | None = None,
) -> Theatre:
    """A theatre with uploads' claimants, and the cells and events derived with them.

    Parameters
    ----------
    theatre : Theatre
        A theatre built from claims alone.
    claimants : dict of str to Claimant
        Claimants registered by uploads (added to the theatre's, their maps private).
    fingerprint : str
        The new theatre's fingerprint.
    cells : geopandas.GeoDataFrame, optional
        Cells split by the uploads (default: the theatre's).
    events : pandas.DataFrame, optional
        Events with the uploads' (default: the theatre's).

    Returns
    -------
    Theatre
        A new theatre with empty memos; the input is unchanged.
    """
    return replace(
        theatre,
        fingerprint=fingerprint,
        claimants={**theatre.claimants, **claimants},
        private=frozenset(claimants),
        cells=theatre.cells if cells is None else cells,
        events=theatre.events if events is None else events,
        _tables={},
        _memo={},
    )


def apply_uploads(
    theatre: Theatre, polygons: gpd.GeoDataFrame, claimants: dict[str, Claimant]
) -> Theatre:
    """The theatre with uploaded revisions added as cells and events.

    Parameters
    ----------
    theatre : Theatre
        A theatre built from claims alone.
    polygons : geopandas.GeoDataFrame
        Live uploaded polygons (:meth:`pipeline.store.GeoPackageStore.polygons`), with
        ``revision_id``, ``claimant``, ``date``, ``side``, ``mode``.
    claimants : dict of str to Claimant
        Claimants registered by uploads (added to the theatre's).

    Returns
    -------
    Theatre
        A new theatre (its fingerprint joins the uploads'); the input is unchanged, and
        returned as it is when there is nothing to apply.
    """
    if len(polygons) == 0 and not claimants:
        return theatre  # an empty store changes nothing, not even the data stamp
    if polygons["revision_id"].dtype != np.int64:  # e.g. a draft added to an empty store
        polygons = polygons.assign(revision_id=polygons["revision_id"].astype(np.int64))
    # Revisions never change once committed, so their ids stand for their polygons.
    key = (theatre.fingerprint, sorted(set(polygons["revision_id"])), sorted(claimants))
    uploaded_theatre = theatre_with_uploads(
        theatre, claimants, hashlib.sha256(repr(key).encode()).hexdigest()[:16]
    )
    if len(polygons) == 0:
        return uploaded_theatre
    # One layer per revision and side: the ground that revision gives that side.
    polys = polygons.reset_index(drop=True)
    geoms = polys.to_crs(theatre.cells.crs).geometry.to_numpy()
    groups = polys.groupby(list(LAYER_COLUMNS), sort=True).indices
    keys = list(groups)
    cells, sigs = _refined(theatre.cells, [_dissolve(geoms[groups[k]]) for k in keys])
    # Units: a piece inside any layer gets its own id; others keep their settlement.
    place = cells["place_id"].to_numpy(dtype=object)
    parent = cells["parent_cell"].to_numpy()
    unit = place.copy()
    inside = np.array([bool(s) for s in sigs], dtype=bool)
    for i in np.flatnonzero(inside):
        owner = place[i] if isinstance(place[i], str) else f"open-{parent[i]}"
        unit[i] = f"{owner}{UNIT_MARK}{i}"
    cells = cells.assign(place_id=unit)
    # Derived claims reach every unit of their settlement.
    split = pd.DataFrame({"place_id": place[inside], "unit": unit[inside]}).dropna()
    derived = theatre.events.merge(split, on="place_id", how="inner")
    derived = derived.assign(place_id=derived["unit"]).drop(columns="unit")
    # A revision's polygons share its claimant, date and mode; its first polygon's stand.
    first = polys.groupby("revision_id", sort=True).head(1)
    revisions = {
        r["revision_id"]: (dt.date.fromisoformat(str(r["date"])), r["claimant"], r["mode"])
        for r in first.to_dict("records")
    }
    country = cells["country"].to_numpy(dtype=object)
    uploaded = _uploaded_events(unit, country, sigs, keys, revisions)
    uploaded = uploaded[list(theatre.events.columns)]
    events = pd.concat([theatre.events, derived, uploaded], ignore_index=True)
    events = events.sort_values(["date", "denial", "claim_id"], kind="stable")
    return replace(uploaded_theatre, cells=cells, events=events.reset_index(drop=True))

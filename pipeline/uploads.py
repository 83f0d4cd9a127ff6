"""Uploads on the timeline: stored control polygons become cells and events like claims.

An uploaded polygon rarely follows settlement cells, so the cells it crosses are split along
its edges: the cells' and the polygons' linework is noded once on the 1 m grid and
polygonised, as :mod:`pipeline.territory` does, so the pieces still form a valid coverage.
Every piece that lies inside an uploaded polygon becomes a *unit* of its own (an id such as
``pl-123#u17``) that inherits its settlement's claims, so derived views do not change.

Each revision then becomes events, as a claim would, on its date and for its claimant:

``patch``
    every unit inside a polygon moves to the polygon's side;
``snapshot``
    the claimant's complete map: every unit inside a polygon moves to its side and every
    other unit to the side of its country, replacing the claimant's earlier map from that
    date on.

The view rules of :mod:`pipeline.timeline` then apply unchanged (the newest word stands,
disagreement on one date is contested), so uploaded claimants are views like any other.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import replace
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipeline.claims import Claimant
from pipeline.territory import GRID_M

if TYPE_CHECKING:
    from pipeline.build import Theatre


def refine_cells(cells: gpd.GeoDataFrame, polygons: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Split the cells along uploaded polygons' edges.

    Parameters
    ----------
    cells : geopandas.GeoDataFrame
        Cells (equal-area CRS) from :func:`pipeline.territory.cells_from_points`.
    polygons : geopandas.GeoDataFrame
        Uploaded polygons, any CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        The cells' columns plus ``parent_cell``; cells no edge crosses are kept whole.
    """
    out = cells.assign(parent_cell=cells["cell_id"])
    if len(polygons) == 0:
        return out
    edges = shapely.set_precision(
        polygons.to_crs(cells.crs).boundary.to_numpy(), GRID_M, mode="pointwise"
    )
    geoms = cells.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    _, hit = tree.query(edges, predicate="intersects")
    touched = np.unique(hit)
    if len(touched) == 0:
        return out
    # Faces of the uploads' own arrangement; each touched cell is cut by them with
    # grid-snapped overlays, which keep the cell's vertices and compute a crossing of
    # two edges the same way in both neighbours, so the pieces still form a coverage.
    noded = shapely.union_all(edges, grid_size=GRID_M)
    faces = np.asarray(shapely.get_parts(shapely.polygonize([noded])), dtype=object)
    faces = faces[shapely.area(faces) > 0]
    covered = shapely.union_all(faces, grid_size=GRID_M)
    cell_of, face_of = shapely.STRtree(faces).query(geoms[touched], predicate="intersects")
    parts = shapely.intersection(geoms[touched][cell_of], faces[face_of], grid_size=GRID_M)
    rest = shapely.difference(geoms[touched], covered, grid_size=GRID_M)
    owners = np.concatenate([touched[cell_of], touched])
    pieces_geom = np.concatenate([parts, rest])
    owner_list, piece_list = [], []
    for owner, geom in zip(owners, pieces_geom, strict=True):
        polys = [g for g in shapely.get_parts(geom) if g.geom_type == "Polygon" and g.area > 0]
        if polys:
            owner_list.append(owner)
            piece_list.append(polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys))
    pieces = out.iloc[owner_list].copy()
    pieces["geometry"] = piece_list
    pieces = gpd.GeoDataFrame(pieces, geometry="geometry", crs=cells.crs)
    whole = out.drop(index=out.index[touched])
    refined = pd.concat([whole, pieces], ignore_index=True)
    refined = gpd.GeoDataFrame(refined, geometry="geometry", crs=cells.crs)
    refined = refined.sort_values(["parent_cell"], kind="stable").reset_index(drop=True)
    refined["cell_id"] = np.arange(len(refined), dtype=np.int64)
    refined["area_km2"] = refined.geometry.area / 1e6
    return refined


def _membership(cells: gpd.GeoDataFrame, polygons: gpd.GeoDataFrame) -> tuple[
    np.ndarray, np.ndarray
]:  # fmt: skip
    """Pairs (cell, polygon row) where the cell lies inside the polygon."""
    points = shapely.point_on_surface(cells.geometry.to_numpy())
    geoms = polygons.to_crs(cells.crs).geometry.to_numpy()
    poly_idx, cell_idx = shapely.STRtree(points).query(geoms, predicate="contains")
    return cell_idx, poly_idx


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
    # Revisions never change once committed, so their ids stand for their polygons.
    key = (theatre.fingerprint, sorted(set(polygons["revision_id"])), sorted(claimants))
    uploaded_theatre = replace(
        theatre,
        fingerprint=hashlib.sha256(repr(key).encode()).hexdigest()[:16],
        claimants={**theatre.claimants, **claimants},
        private=frozenset(claimants),
        _tables={},
        _memo={},
    )
    if len(polygons) == 0:
        return uploaded_theatre
    cells = refine_cells(theatre.cells, polygons)
    cell_idx, poly_idx = _membership(cells, polygons)
    inside = np.zeros(len(cells), dtype=bool)
    inside[cell_idx] = True
    # Units: a cell inside any uploaded polygon gets its own id; others keep their place.
    place = cells["place_id"].to_numpy(dtype=object)
    unit = place.copy()
    for i in np.flatnonzero(inside):
        owner = place[i] if isinstance(place[i], str) else f"open-{cells['parent_cell'].iat[i]}"
        unit[i] = f"{owner}#u{i}"
    cells = cells.assign(place_id=unit)
    # Derived claims reach every unit of their settlement.
    split = pd.DataFrame({"place_id": place[inside], "unit": unit[inside]}).dropna()
    derived = theatre.events.merge(split, on="place_id", how="inner")
    derived = derived.assign(place_id=derived["unit"]).drop(columns="unit")
    rows: list[tuple[object, ...]] = []
    country = cells["country"].to_numpy(dtype=object)
    # A settlement's cells all lie in its country, so any of them gives the unit's side.
    unit_country = {u: c for u, c in zip(unit, country, strict=True) if isinstance(u, str)}
    polys = polygons.reset_index(drop=True)
    for rev_id, part in polys.groupby("revision_id", sort=True):
        first = part.iloc[0]
        day = dt.date.fromisoformat(str(first["date"]))
        mask = np.isin(poly_idx, part.index.to_numpy())
        sides: dict[str, set[str]] = {}
        for c, p in zip(cell_idx[mask], poly_idx[mask], strict=True):
            sides.setdefault(str(unit[c]), set()).add(str(polys.at[p, "side"]))
        claim_id = f"rev-{rev_id}"
        for u, claimed in sides.items():
            rows += [(day, u, first["claimant"], s, claim_id, False) for s in sorted(claimed)]
        if first["mode"] == "snapshot":
            rows += [
                (day, u, first["claimant"], c, claim_id, False)
                for u, c in unit_country.items()
                if u not in sides
            ]
    uploaded = pd.DataFrame(rows, columns=list(theatre.events.columns))
    events = pd.concat([theatre.events, derived, uploaded], ignore_index=True)
    events = events.sort_values(["date", "denial", "claim_id"], kind="stable")
    return replace(uploaded_theatre, cells=cells, events=events.reset_index(drop=True))

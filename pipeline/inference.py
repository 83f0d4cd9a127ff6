"""Inference: unclaimed ground enclosed by one side's claimed settlements.

Claims name a few settlements; between them lie villages and fields nobody spoke of.
Ground that lies among settlements a side is said to hold beyond its own border is, on
the claimant's own reasoning, behind that side's line. This module marks such ground as
*inferred* to that side: a status of its own (``UA inferred``, ``RU inferred``), drawn
lighter, labelled "inferred" and counted apart from claimed ground, never folded into a
claimed figure.

The rule, applied to every change date of every view:

1. Take the settlements the view gives to a side beyond that side's own country (UA-held
   villages in Russia, say), plus anchor points every :data:`ANCHOR_STEP_M` along the
   state border (a salient is attached to its own side's country).
2. Triangulate them (Delaunay) and keep the triangles that have at least one claimed
   settlement as a corner and no edge longer than
   :data:`pipeline.settings.INFER_MAX_EDGE_M`: the side's enclosure.
3. Every cell (a settlement's cell cut by the front zone's grid, or open ground) whose
   representative point (fixed when the cell is made, and kept by the pieces an upload
   cuts it into) lies in the enclosure, whose settlement no claimant of the view
   has spoken of, and which would otherwise keep its country's side, is inferred to the
   enclosing side.

A claim always beats an inference: the cell of a settlement anyone in the view has
claimed keeps its claimed status. Areas are measured on the same cells as claimed
ground, so UA + RU + contested + UA inferred + RU inferred is the whole theatre on every
date.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray

from pipeline import settings
from pipeline.boundaries import require_crs

ANCHOR_STEP_M = 2_000.0
"""Spacing of the anchor points placed along the state border, in metres."""

UNIT_MARK = "#u"
"""Joins a settlement id and the number of an upload's piece of its cell (``pl-1#u17``)."""

INFERRED: Mapping[str, str] = {"UA": "UA inferred", "RU": "RU inferred"}
"""The inferred status of each side."""


@dataclass(frozen=True)
class Inference:
    """What the rule needs: settlement points, cell points and the border anchors.

    Attributes
    ----------
    points : dict of str to tuple of float
        Settlement id to ``(x, y)`` in the equal-area CRS.
    cell_xy : numpy.ndarray
        ``float [n_cells, 2]``: a point inside each cell, equal-area CRS.
    anchors : numpy.ndarray
        ``float [k, 2]``: points along the state border, equal-area CRS.
    max_edge_m : float
        Longest triangle edge of an enclosure, in metres.
    """

    points: dict[str, tuple[float, float]]
    cell_xy: NDArray[np.float64]
    anchors: NDArray[np.float64]
    max_edge_m: float = settings.INFER_MAX_EDGE_M
    _enclosures: dict[bytes, shapely.Geometry] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def from_frames(
        cls,
        places: gpd.GeoDataFrame,
        cells: gpd.GeoDataFrame,
        border: gpd.GeoDataFrame,
        max_edge_m: float = settings.INFER_MAX_EDGE_M,
    ) -> Inference:
        """Build from the mapped settlements, the cells and the border line.

        Parameters
        ----------
        places : geopandas.GeoDataFrame
            Settlements with ``place_id`` (any CRS; rows without a point are skipped).
        cells : geopandas.GeoDataFrame
            Cells from :func:`pipeline.territory.cells_from_points`.
        border : geopandas.GeoDataFrame
            The state border as lines (any CRS).
        max_edge_m : float
            Longest triangle edge of an enclosure, in metres.

        Returns
        -------
        Inference
            The inputs of :meth:`enclosed`.
        """
        require_crs(places, "places")
        require_crs(cells, "cells")
        require_crs(border, "border")
        if {"inner_x", "inner_y"} <= set(cells.columns) and cells.crs == settings.EQUAL_AREA_CRS:
            # The point fixed when the cell was made (an upload's pieces keep their cell's).
            cell_xy = cells[["inner_x", "inner_y"]].to_numpy(dtype=float)
        else:
            inside = shapely.point_on_surface(
                cells.to_crs(settings.EQUAL_AREA_CRS).geometry.to_numpy()
            )
            cell_xy = shapely.get_coordinates(inside).reshape(-1, 2)
        pts = places.to_crs(settings.EQUAL_AREA_CRS)
        pts = pts[pts.geometry.notna() & ~pts.geometry.is_empty]
        xy = shapely.get_coordinates(pts.geometry.to_numpy())
        points = {
            str(p): (float(x), float(y)) for p, (x, y) in zip(pts["place_id"], xy, strict=True)
        }
        lines = border.to_crs(settings.EQUAL_AREA_CRS).geometry.to_numpy()
        anchors = np.empty((0, 2))
        for line in lines:
            if line is None or line.is_empty:
                continue
            steps = np.arange(0.0, float(shapely.length(line)), ANCHOR_STEP_M)
            along = shapely.line_interpolate_point(np.full(len(steps), line), steps)
            anchors = np.vstack([anchors, shapely.get_coordinates(along)])
        return cls(points, cell_xy, anchors, max_edge_m)

    def coordinates(self, place_ids: Sequence[str]) -> NDArray[np.float64]:
        """Equal-area coordinates of settlements in the given order (NaN when unknown).

        An upload's piece of a settlement's cell (``pl-1#u17``) stands at its settlement's
        point, so the enclosure a side's held ground makes does not change where an upload
        cut a cell.

        Parameters
        ----------
        place_ids : sequence of str
            Settlement ids (or units of them).

        Returns
        -------
        numpy.ndarray
            ``float [n, 2]``.
        """
        nan = (np.nan, np.nan)
        return np.array(
            [self.points.get(p.split(UNIT_MARK, 1)[0], nan) for p in place_ids], dtype=float
        ).reshape(-1, 2)

    def enclosure(self, held: NDArray[np.float64]) -> shapely.Geometry:
        """The ground enclosed by a side's held settlements and the border anchors.

        Parameters
        ----------
        held : numpy.ndarray
            ``float [n, 2]``: points of the settlements the side holds beyond its border.

        Returns
        -------
        shapely.Geometry
            Union of the kept triangles (equal-area CRS); empty when there are none.
        """
        held = np.unique(held[~np.isnan(held).any(axis=1)], axis=0)  # units share a point
        if len(held) == 0:
            return shapely.Polygon()
        near = self.anchors
        if len(near):
            # Only anchors within reach of a held settlement can form a kept triangle.
            d2 = ((near[:, None, :] - held[None, :, :]) ** 2).sum(axis=2).min(axis=1)
            near = near[d2 <= self.max_edge_m**2]
        corners = np.vstack([held, near])
        if len(corners) < 3:
            return shapely.Polygon()
        tris = shapely.get_parts(shapely.delaunay_triangles(shapely.multipoints(corners)))
        if len(tris) == 0:
            return shapely.Polygon()
        ring = shapely.get_coordinates(shapely.get_exterior_ring(tris)).reshape(len(tris), 4, 2)
        edges = np.sqrt(((ring[:, 1:] - ring[:, :-1]) ** 2).sum(axis=2)).max(axis=1)
        held_keys = {(round(x, 3), round(y, 3)) for x, y in held}
        has_held = np.array(
            [any((round(x, 3), round(y, 3)) in held_keys for x, y in t[:3]) for t in ring]
        )
        keep = (edges <= self.max_edge_m) & has_held
        if not keep.any():
            return shapely.Polygon()
        return shapely.union_all(tris[keep])

    def enclosed(
        self,
        xy: NDArray[np.float64],
        status: NDArray[np.int8],
        base: NDArray[np.int8],
        cell_status: NDArray[np.int8],
        cell_open: NDArray[np.bool_],
        baseline: NDArray[np.int8],
        codes: Mapping[str, int],
    ) -> tuple[NDArray[np.int64], NDArray[np.int8]]:
        """The cells inferred on one date, and their inferred status.

        Parameters
        ----------
        xy : numpy.ndarray
            ``float [n_places, 2]`` settlement points (from :meth:`coordinates`).
        status, base : numpy.ndarray
            ``int8 [n_places]``: claimed status of each settlement on the date, and its
            status before any claim.
        cell_status : numpy.ndarray
            ``int8 [n_cells]``: claimed status of each cell on the date.
        cell_open : numpy.ndarray
            ``bool [n_cells]``: the cell's settlement is unclaimed in the view (or the
            cell is open ground).
        baseline : numpy.ndarray
            ``int8 [n_cells]``: each cell's status before any claim.
        codes : mapping of str to int
            Status name to code, with ``UA``, ``RU``, ``UA inferred``, ``RU inferred``.

        Returns
        -------
        tuple of numpy.ndarray
            Cell indices (``int64``) and their inferred codes (``int8``).
        """
        cells: list[NDArray[np.int64]] = []
        labels: list[NDArray[np.int8]] = []
        valid = ~np.isnan(xy).any(axis=1)
        taken = np.zeros(len(cell_status), dtype=bool)
        for side, inferred in INFERRED.items():
            code = codes[side]
            held = (status == code) & (base != code) & valid
            if not held.any():
                continue
            # Consecutive change dates mostly hold the same settlements: triangulate once.
            key = xy[held].tobytes()
            if key not in self._enclosures:
                self._enclosures[key] = self.enclosure(xy[held])
            area = self._enclosures[key]
            if shapely.is_empty(area):
                continue
            idx = np.flatnonzero(
                cell_open & (baseline != code) & (cell_status == baseline) & ~taken
            )
            if len(idx) == 0:
                continue
            idx = idx[shapely.contains_xy(area, self.cell_xy[idx, 0], self.cell_xy[idx, 1])]
            taken[idx] = True
            cells.append(idx)
            labels.append(np.full(len(idx), codes[inferred], dtype=np.int8))
        if not cells:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int8)
        return np.concatenate(cells), np.concatenate(labels)

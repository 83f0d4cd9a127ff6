"""Figure plumbing: the offline style, page layout, geometry paths and label placement.

Private to :mod:`pipeline.render`: nothing here knows about claims or theatres.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from matplotlib.path import Path as MplPath
from numpy.typing import NDArray

FILL_ALPHA = 0.5
"""Opacity of the filled view's ground."""

LAND_COLOURS: dict[str, str] = {"RU": "#f6f2e9", "UA": "#eceee6"}
"""Land of each country in the offline style."""

OFFLINE_STYLE: dict[str, str] = {
    "sea": "#dde3e8",
    "region_edge": "#9c9488",
    "border": "#2b2b2b",
    "place": "#4a4a4a",
    "text": "#1a1a1a",
    "muted": "#5c5c5c",
}
"""Colours of the offline style: a quiet, paper-like base that lets the claims stand out."""

RC: dict[Any, Any] = {
    "svg.fonttype": "none",  # text stays text: searchable and selectable
    "svg.hashsalt": "frontline",  # stable ids: the same figure gives the same SVG
    "pdf.fonttype": 42,
    "font.family": "DejaVu Sans",
    "hatch.linewidth": 0.9,
    "text.parse_math": False,  # a "$" in a title or a name is a dollar sign, never mathtext
}


def polygon_path(
    geoms: Sequence[shapely.Geometry] | NDArray[np.object_] | shapely.Geometry,
) -> MplPath:
    """One compound matplotlib path of every ring of (multi)polygons (holes included)."""
    parts = shapely.get_parts(np.atleast_1d(np.asarray(geoms, dtype=object)))
    parts = parts[shapely.get_type_id(parts) == 3]
    rings = shapely.get_rings(parts)
    if len(rings) == 0:
        return MplPath(np.zeros((0, 2)))
    coords, index = shapely.get_coordinates(rings, return_index=True)
    codes = np.full(len(coords), MplPath.LINETO, dtype=np.uint8)
    starts = np.r_[0, np.flatnonzero(np.diff(index)) + 1]
    ends = np.r_[starts[1:] - 1, len(coords) - 1]
    codes[starts] = MplPath.MOVETO
    codes[ends] = MplPath.CLOSEPOLY
    return MplPath(coords, codes)


def line_segments(geoms: Sequence[shapely.Geometry] | NDArray[np.object_]) -> list[np.ndarray]:
    """The coordinates of every part of (multi)line strings, one array per part."""
    lines = shapely.get_parts(np.asarray(geoms, dtype=object))
    return [shapely.get_coordinates(line) for line in lines]


@dataclass(frozen=True)
class Layout:
    """Where things go on the page, in inches and points.

    Attributes
    ----------
    width, height : float
        Figure size in inches.
    font : float
        Base font size in points.
    map_box : tuple of float
        ``(left, bottom, width, height)`` of the map as figure fractions.
    """

    width: float
    height: float
    font: float
    map_box: tuple[float, float, float, float]


def wrap(text: str, width_in: float, font_pt: float) -> tuple[str, ...]:
    """Wrap text to a width in inches at a font size (an estimate: 0.55 em a character)."""
    chars = max(30, int(width_in * 72 / (font_pt * 0.55)))
    return tuple(textwrap.wrap(text, chars))


def layout(width: float, height: float, subtitle: str, sources: str) -> Layout:
    """Lay out the page: title band on top, map, source band at the bottom.

    Parameters
    ----------
    width, height : float
        Figure size in inches.
    subtitle, sources : str
        Texts whose wrapped lines set the heights of the top and bottom bands.

    Returns
    -------
    Layout
        The layout.
    """
    font = min(max(min(width, height) * 1.3, 7.0), 14.0)
    margin = 0.25 + 0.02 * width
    sub = wrap(subtitle, width - 2 * margin, font * 0.85)
    src = wrap(sources, width - 2 * margin, font * 0.62)
    top = (font * 1.9 + len(sub) * font * 0.85 * 1.35 + font * 0.9) / 72 + margin * 0.6
    bottom = (len(src) + 1) * font * 0.62 * 1.4 / 72 + margin * 0.7
    box = (margin / width, bottom / height, 1 - 2 * margin / width, 1 - (top + bottom) / height)
    return Layout(width, height, font, box)


def capital(text: str) -> str:
    """The text with its first letter capitalised (``str.capitalize`` lowers the rest)."""
    return text[:1].upper() + text[1:]


def nice_length(width_m: float) -> float:
    """A round scale-bar length near a fifth of the map's width, in metres."""
    target = width_m / 5
    exp = 10 ** math.floor(math.log10(target))
    return float(max(m * exp for m in (1, 2, 5) if m * exp <= target))


OFFSETS: tuple[tuple[int, int, str, str], ...] = (
    (1, 0, "left", "center"),
    (-1, 0, "right", "center"),
    (0, 1, "center", "bottom"),
)
"""Where a label may go, in order: right of its point, left of it, above it (``dx``, ``dy``,
horizontal and vertical alignment)."""


def place_labels(
    points: NDArray[np.float64],
    widths: NDArray[np.float64],
    line: float,
    gap: float,
    frame: tuple[float, float],
    budget: int,
) -> list[tuple[int, int]]:
    """Greedy label placement: each label in priority order takes the first free slot.

    Parameters
    ----------
    points : numpy.ndarray
        ``float [n, 2]`` positions in pixels from the frame's lower left, in priority order.
    widths : numpy.ndarray
        ``float [n]`` label widths in pixels.
    line : float
        Label height in pixels.
    gap : float
        Distance between a point and its label in pixels.
    frame : tuple of float
        Width and height of the frame in pixels; labels stay inside it.
    budget : int
        At most this many labels.

    Returns
    -------
    list of tuple of int
        ``(label index, index into OFFSETS)`` of every placed label.

    Examples
    --------
    Two points side by side: the second label cannot go right (the first label is
    there), so it goes left; with a budget of one, only the first is placed.

    >>> pts = np.array([[50.0, 50.0], [52.0, 50.0]])
    >>> place_labels(pts, np.array([40.0, 40.0]), 10.0, 2.0, (200.0, 100.0), 5)
    [(0, 0), (1, 1)]
    >>> place_labels(pts, np.array([40.0, 40.0]), 10.0, 2.0, (200.0, 100.0), 1)
    [(0, 0)]
    """
    placed: list[tuple[float, float, float, float]] = []
    out: list[tuple[int, int]] = []
    for i, ((px, py), w) in enumerate(zip(points, widths, strict=True)):
        if len(out) >= budget:
            break
        for k, (dx, dy, _, _) in enumerate(OFFSETS):
            bx = px + gap * dx - (w if dx < 0 else w / 2 if dx == 0 else 0)
            by = py + gap * dy - (line / 2 if dy == 0 else 0)
            box = (bx, by, bx + w, by + line)
            inside = box[0] > 2 and box[1] > 2 and box[2] < frame[0] - 2 and box[3] < frame[1] - 2
            clash = any(
                box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed
            )
            if inside and not clash:
                placed.append(box)
                out.append((i, k))
                break
    return out

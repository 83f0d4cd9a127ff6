"""Walking WKB without GEOS: count vertices, rings and parts and check them before building.

The walk is iterative (an explicit stack of the collections still open, never recursion),
so a deeply nested geometry costs one stack entry per level and is refused past
:data:`MAX_NESTING`. It stops at the first problem, so a feature claiming ten million
rings or parts is refused after reading :data:`MAX_RINGS` or :data:`MAX_PARTS` of them at
most. Every count read from the blob is checked against the bytes left before it is used.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

MAX_NESTING = 32
"""Deepest nesting of multi-geometries and collections in one feature.

A MultiPolygon is nested 1 deep, a GeometryCollection of MultiPolygons 2. Deeper
nesting has no use in a control map and makes recursive readers (GEOS's WKT reader,
which segfaults past ~40,000 levels) run out of stack.
"""
MAX_PARTS = 100_000
"""Most parts in one feature: members of its multi-geometries and collections, all levels.

Empty parts cost no vertices, so the vertex cap alone would let a small file hold
millions of them.
"""
MAX_RINGS = 100_000
"""Most polygon rings (exteriors and holes) in one feature, all its polygons together."""

_KINDS = {
    1: "Point",
    2: "LineString",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
    7: "GeometryCollection",
}
_MEMBER = {4: 1, 5: 2, 6: 3, 7: 0}  # the member type of each collection (0: any)
_SMALLEST = 9  # bytes in the smallest WKB geometry (an empty one: order, type, count)


@dataclass
class WkbCounts:
    """What a walk over one WKB geometry found.

    Attributes
    ----------
    vertices : int
        Coordinates read (a point is one, an empty point too).
    rings : int
        Polygon rings.
    parts : int
        Members of multi-geometries and collections, at every level.
    depth : int
        Deepest nesting of collections (0 for a simple geometry).
    dims : int
        Most coordinate dimensions seen (2, 3 with Z or M, 4 with both).
    kinds : set of str
        Geometry kinds seen (``Polygon``, ``MultiPolygon``, ...).
    problems : list of str
        What is wrong; the walk stops at the first problem, so at most one.
    """

    vertices: int = 0
    rings: int = 0
    parts: int = 0
    depth: int = 0
    dims: int = 2
    kinds: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


class _Reader:
    """A cursor over WKB bytes that refuses to read past their end."""

    def __init__(self, blob: bytes) -> None:
        self.blob, self.pos = blob, 0

    def left(self) -> int:
        return len(self.blob) - self.pos

    def u32(self, order: str) -> int:
        (value,) = struct.unpack_from(order + "I", self.blob, self.pos)
        self.pos += 4
        return int(value)

    def header(self) -> tuple[str, int, int]:
        """Byte order, geometry type code (1-7 or other) and coordinate dimensions."""
        flag = self.blob[self.pos]
        if flag not in (0, 1):
            raise KeyError(flag)
        order = "<" if flag == 1 else ">"
        self.pos += 1
        code = self.u32(order)
        dims = 2 + bool(code & 0x80000000) + bool(code & 0x40000000)
        if code & 0x20000000:  # extended WKB with an SRID: skip it
            self.u32(order)
        code &= 0x0FFFFFFF
        if code >= 1000:
            dims = {1: 3, 2: 3, 3: 4}[code // 1000]
            code %= 1000
        return order, code, dims

    def coords(self, order: str, n: int, dims: int) -> NDArray[np.float64]:
        """The next ``n`` points' x and y (the bytes for all dimensions must be present)."""
        end = self.pos + n * dims * 8
        if end > len(self.blob):
            raise IndexError(end)
        dtype = np.dtype("<f8" if order == "<" else ">f8")
        values = np.frombuffer(self.blob, dtype=dtype, count=n * dims, offset=self.pos)
        self.pos = end
        return values.reshape(n, dims)[:, :2]


def _simple(r: _Reader, c: WkbCounts, order: str, code: int, dims: int) -> str | None:
    """Read a point, line or polygon; the problem found, if any."""
    if code == 1:
        xy = r.coords(order, 1, dims)
        c.vertices += 1
        if not np.isnan(xy).all() and not np.isfinite(xy).all():  # all-NaN: POINT EMPTY
            return "a coordinate is NaN or infinite"
        return None
    if code == 2:
        n = r.u32(order)
        xy = r.coords(order, n, dims)
        c.vertices += n
        if n == 1:
            return "a line of 1 point (at least 2 are needed)"
        return None if np.isfinite(xy).all() else "a coordinate is NaN or infinite"
    rings = r.u32(order)
    c.rings += rings
    if c.rings > MAX_RINGS:
        return f"more than {MAX_RINGS:,} rings in one feature"
    if rings * 4 > r.left():
        raise IndexError(rings)
    for _ in range(rings):
        n = r.u32(order)
        ring = r.coords(order, n, dims)
        c.vertices += n
        if not np.isfinite(ring).all():
            return "a coordinate is NaN or infinite"
        if n < 4:
            return f"a ring of {n} points (at least 4 are needed)"
        if not np.array_equal(ring[0], ring[-1]):
            return "a ring that is not closed"
    return None


def _walk(r: _Reader, c: WkbCounts) -> str | None:
    # One entry per open collection: (members still to read, its type code).
    stack: list[tuple[int, int]] = []
    while True:
        order, code, dims = r.header()
        c.dims = max(c.dims, dims)
        kind = _KINDS.get(code, f"type {code}")
        c.kinds.add(kind)
        if stack and _MEMBER[stack[-1][1]] not in (0, code):
            return f"a {_KINDS[stack[-1][1]]} holding a {kind}"
        if code in _MEMBER:
            n = r.u32(order)
            c.parts += n
            if c.parts > MAX_PARTS:
                return f"more than {MAX_PARTS:,} parts in one feature"
            if n * _SMALLEST > r.left():
                raise IndexError(n)
            if n:
                if len(stack) == MAX_NESTING:
                    return f"geometries nested more than {MAX_NESTING} deep"
                stack.append((n, code))
                c.depth = max(c.depth, len(stack))
                continue
        elif code in _KINDS:
            problem = _simple(r, c, order, code, dims)
            if problem:
                return problem
        else:
            return f"an unsupported geometry ({kind})"
        # One geometry read: close the collections it completes.
        while stack:
            left, parent = stack.pop()
            if left > 1:
                stack.append((left - 1, parent))
                break
        if not stack:
            return None


def count_wkb(blob: bytes | None) -> WkbCounts:
    """Count a WKB geometry's vertices, rings and parts, and find its first problem.

    Parameters
    ----------
    blob : bytes or None
        ISO or extended WKB.

    Returns
    -------
    WkbCounts
        The counts; ``problems`` holds the first problem (a cap passed, a bad ring, a
        truncated blob), after which the walk stopped.

    Examples
    --------
    >>> import shapely
    >>> c = count_wkb(shapely.MultiPolygon([shapely.box(0, 0, 1, 1)]).wkb)
    >>> (c.vertices, c.rings, c.parts, c.depth, c.problems)
    (5, 1, 1, 1, [])
    """
    c = WkbCounts()
    if blob is None:
        return c
    try:
        problem = _walk(_Reader(bytes(blob)), c)
    except (struct.error, IndexError, KeyError):
        problem = "a truncated or malformed geometry"
    if problem:
        c.problems.append(problem)
    return c


def walk_wkb(blob: bytes | None) -> tuple[int, set[str], list[str]]:
    """Count a WKB geometry's vertices and find bad rings, without GEOS.

    Parameters
    ----------
    blob : bytes or None
        ISO or extended WKB.

    Returns
    -------
    tuple
        ``(vertices, geometry kinds, problems)``, as :func:`count_wkb` finds them.

    Examples
    --------
    >>> import shapely
    >>> walk_wkb(shapely.box(0, 0, 1, 1).wkb)
    (5, {'Polygon'}, [])
    """
    c = count_wkb(blob)
    return c.vertices, c.kinds, c.problems

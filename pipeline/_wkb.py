"""Walking WKB without GEOS: count vertices and check rings before building geometries."""

from __future__ import annotations

import struct

import numpy as np
from numpy.typing import NDArray


class _Wkb:
    def __init__(self, blob: bytes) -> None:
        self.blob, self.pos, self.vertices = blob, 0, 0
        self.problems: list[str] = []
        self.kinds: set[str] = set()

    def _u32(self, order: str) -> int:
        (value,) = struct.unpack_from(order + "I", self.blob, self.pos)
        self.pos += 4
        return int(value)

    def _coords(self, order: str, n: int, dims: int) -> NDArray[np.float64]:
        """The next ``n`` points, checked to be present and finite."""
        end = self.pos + n * dims * 8
        if end > len(self.blob):
            raise IndexError(end)
        dtype = np.dtype("<f8" if order == "<" else ">f8")
        values = np.frombuffer(self.blob, dtype=dtype, count=n * dims, offset=self.pos)
        self.pos = end
        xy = values.reshape(n, dims)[:, :2]
        if not np.isfinite(xy).all():
            self.problems.append("a coordinate is NaN or infinite")
        return xy

    def geometry(self) -> None:
        order = "<" if self.blob[self.pos] == 1 else ">"
        self.pos += 1
        code = self._u32(order)
        dims = 2
        if code & 0x80000000:
            dims += 1
        if code & 0x40000000:
            dims += 1
        code &= 0x0FFFFFFF
        if code >= 1000:
            dims = {1: 3, 2: 3, 3: 4}[code // 1000]
            code %= 1000
        width = 8 * dims  # bytes per point
        kind = {1: "Point", 2: "LineString", 3: "Polygon", 4: "MultiPoint"}.get(code)
        kind = kind or {5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection"}.get(
            code, f"type {code}"
        )
        self.kinds.add(kind)
        if code == 1:
            self.vertices += 1
            end = self.pos + width
            if end > len(self.blob):
                raise IndexError(end)
            dtype = np.dtype("<f8" if order == "<" else ">f8")
            xy = np.frombuffer(self.blob, dtype=dtype, count=2, offset=self.pos)
            self.pos = end
            if not np.isnan(xy).all() and not np.isfinite(xy).all():  # all-NaN: POINT EMPTY
                self.problems.append("a coordinate is NaN or infinite")
        elif code == 2:
            n = self._u32(order)
            self.vertices += n
            self._coords(order, n, dims)
        elif code == 3:
            for _ in range(self._u32(order)):
                n = self._u32(order)
                self.vertices += n
                ring = self._coords(order, n, dims)
                if n < 4:
                    self.problems.append(f"a ring of {n} points (at least 4 are needed)")
                elif not np.array_equal(ring[0], ring[-1]):
                    self.problems.append("a ring that is not closed")
        elif code in (4, 5, 6, 7):
            for _ in range(self._u32(order)):
                self.geometry()
        else:
            self.problems.append(f"an unsupported geometry ({kind})")
            self.pos = len(self.blob)


def walk_wkb(blob: bytes | None) -> tuple[int, set[str], list[str]]:
    """Count a WKB geometry's vertices and find bad rings, without GEOS.

    Parameters
    ----------
    blob : bytes or None
        ISO or extended WKB.

    Returns
    -------
    tuple
        ``(vertices, geometry kinds, problems)``.

    Examples
    --------
    >>> import shapely
    >>> walk_wkb(shapely.box(0, 0, 1, 1).wkb)
    (5, {'Polygon'}, [])
    """
    if blob is None:
        return 0, set(), []
    w = _Wkb(bytes(blob))
    try:
        w.geometry()
    except (struct.error, IndexError, KeyError):
        w.problems.append("a truncated or malformed geometry")
    return w.vertices, w.kinds, w.problems

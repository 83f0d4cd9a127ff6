"""Walking WKB without GEOS: count vertices and check rings before building geometries."""

from __future__ import annotations

import struct


class _Wkb:
    def __init__(self, blob: bytes) -> None:
        self.blob, self.pos, self.vertices = blob, 0, 0
        self.problems: list[str] = []
        self.kinds: set[str] = set()

    def _u32(self, order: str) -> int:
        (value,) = struct.unpack_from(order + "I", self.blob, self.pos)
        self.pos += 4
        return int(value)

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
        width = 8 * dims
        kind = {1: "Point", 2: "LineString", 3: "Polygon", 4: "MultiPoint"}.get(code)
        kind = kind or {5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection"}.get(
            code, f"type {code}"
        )
        self.kinds.add(kind)
        if code == 1:
            self.vertices += 1
            self.pos += width
        elif code == 2:
            n = self._u32(order)
            self.vertices += n
            self.pos += n * width
        elif code == 3:
            for _ in range(self._u32(order)):
                n = self._u32(order)
                self.vertices += n
                ring = self.blob[self.pos : self.pos + n * width]
                self.pos += n * width
                if n < 4:
                    self.problems.append(f"a ring of {n} points (at least 4 are needed)")
                elif ring[:16] != ring[(n - 1) * width : (n - 1) * width + 16]:
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

"""Reading a Parquet file's Thrift structures ourselves: its footer's chunks, its page headers.

Two reasons not to take these from pyarrow. A footer's sizes (``total_uncompressed_size``)
are only what the writer claims, while pyarrow allocates what each page's own header
declares: so every page header of every column chunk is read here, from the bytes pyarrow
would read (the chunk's range as the footer gives it). And pyarrow's Python accessors of a
column chunk's metadata (``RowGroupMetaData.column``) abort the whole process on some
malformed footers (a C++ exception no binding catches: found by the fuzz test), so the
footer's row groups and chunks are read here too, and pyarrow only ever reads the file
through calls that turn such errors into exceptions.

The reader of Thrift's compact protocol keeps integers, strings, lists and structures and
skips the rest. Every length is checked against the bytes left; structures nested past
:data:`MAX_THRIFT_DEPTH`, a page header of more than :data:`MAX_HEADER_ITEMS` values and a
footer of more than :data:`MAX_FOOTER_ITEMS` are refused, so a file built to be slow to
read is refused after a bounded number of steps.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

MAX_THRIFT_DEPTH = 16
"""Deepest nesting of Thrift structures and lists (a footer nests about ten deep)."""
MAX_HEADER_ITEMS = 64
"""Most Thrift values (fields and list elements) in one page header; an honest one holds ~15."""
MAX_FOOTER_ITEMS = 500_000
"""Most Thrift values in a footer; an honest one holds a few dozen per column chunk."""

_DICTIONARY_PAGE = 2
_DATA_PAGE_HEADERS = (5, 8)  # PageHeader fields: data_page_header, data_page_header_v2
_DICTIONARY_PAGE_HEADER = 7
_PARQUET_816_PADDING = 100  # bytes old parquet-mr writers left out of a chunk's length

Value = int | bool | bytes | list["Value"] | dict[int, "Value"] | None


class ThriftError(ValueError):
    """A footer or page header is truncated or malformed."""


class TooManyPagesError(ThriftError):
    """A column chunk holds more pages than it may."""


@dataclass(frozen=True)
class Chunk:
    """One column chunk, as the footer describes it.

    Attributes
    ----------
    file_path : bytes
        Another file holding the chunk (empty: this file).
    values : int
        Values it holds, nulls included.
    decoded_bytes : int
        Its pages' size once decompressed, as the footer claims it.
    start : int
        Offset of its first page (the dictionary page, if it has one).
    length : int
        Its pages' size as stored.
    """

    file_path: bytes
    values: int
    decoded_bytes: int
    start: int
    length: int


@dataclass(frozen=True)
class Footer:
    """What a Parquet footer declares.

    Attributes
    ----------
    rows : int
        Rows, as the file says.
    row_groups : list of tuple
        Each row group's rows and column chunks.
    created_by : str
        The writer.
    """

    rows: int
    row_groups: list[tuple[int, list[Chunk]]]
    created_by: str


@dataclass
class ChunkPages:
    """What a column chunk's page headers declare.

    Attributes
    ----------
    pages : int
        Pages read.
    decoded_bytes : int
        Bytes of the pages once decompressed, headers included.
    values : int
        Values the data pages hold (nulls included).
    dictionary_values : int
        Entries in the dictionary page (0 without one).
    """

    pages: int = 0
    decoded_bytes: int = 0
    values: int = 0
    dictionary_values: int = 0


class _Compact:
    """A cursor over Thrift compact-protocol bytes that never reads past ``end``."""

    def __init__(self, data: bytes, pos: int, end: int, budget: int) -> None:
        self.data, self.pos, self.end = data, pos, end
        self.budget = budget

    def item(self, n: int = 1) -> None:
        self.budget -= n
        if self.budget < 0:
            raise ThriftError("a Thrift structure holds too many values")

    def byte(self) -> int:
        if self.pos >= self.end:
            raise ThriftError("a Thrift structure runs past its end")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise ThriftError("a Thrift structure runs past its end")
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def varint(self) -> int:
        value = shift = 0
        for _ in range(10):
            b = self.byte()
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7
        raise ThriftError("a Thrift integer is too long")

    def zigzag(self) -> int:
        v = self.varint()
        return (v >> 1) ^ -(v & 1)

    def value(self, kind: int, depth: int) -> Value:
        """Read one value of a compact-protocol type (doubles and maps are skipped)."""
        self.item()
        if depth > MAX_THRIFT_DEPTH:
            raise ThriftError(f"Thrift structures nested more than {MAX_THRIFT_DEPTH} deep")
        if kind in (1, 2):  # a boolean inside a collection: one byte
            return self.byte() == 1
        if kind == 3:
            return self.byte()
        if kind in (4, 5, 6):
            return self.zigzag()
        if kind == 7:
            self.take(8)
            return None
        if kind == 8:
            return self.take(self.varint())
        if kind in (9, 10):
            head = self.byte()
            size = head >> 4 if head >> 4 != 15 else self.varint()
            self.item(size)  # every element costs one, checked before any is read
            self.budget += size
            return [self.value(head & 0x0F, depth + 1) for _ in range(size)]
        if kind == 11:
            size = self.varint()
            self.item(2 * size)
            self.budget += 2 * size
            if size:
                types = self.byte()
                for _ in range(size):
                    self.value(types >> 4, depth + 1)
                    self.value(types & 0x0F, depth + 1)
            return None
        if kind == 12:
            return self.fields(depth + 1)
        raise ThriftError(f"an unknown Thrift type {kind}")

    def fields(self, depth: int) -> dict[int, Value]:
        """Read a structure's fields by id."""
        if depth > MAX_THRIFT_DEPTH:
            raise ThriftError(f"Thrift structures nested more than {MAX_THRIFT_DEPTH} deep")
        out: dict[int, Value] = {}
        last = 0
        while True:
            head = self.byte()
            kind = head & 0x0F
            if kind == 0:
                return out
            self.item()
            last = last + (head >> 4) if head >> 4 else self.zigzag()
            out[last] = kind == 1 if kind in (1, 2) else self.value(kind, depth + 1)


def _int(fields: dict[int, Value], key: int, default: int | None = None) -> int:
    value = fields.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ThriftError(f"a Thrift field {key} is missing or not an integer")
    return value


def _struct(value: Value) -> dict[int, Value]:
    if not isinstance(value, dict):
        raise ThriftError("a Thrift structure is missing")
    return value


def _list(value: Value) -> list[Value]:
    if not isinstance(value, list):
        raise ThriftError("a Thrift list is missing")
    return value


def _chunk(raw: Value) -> Chunk:
    column = _struct(raw)
    meta = _struct(column.get(3))  # ColumnChunk.meta_data
    path = column.get(1, b"")
    start = _int(meta, 9)  # data_page_offset
    dictionary = meta.get(11)  # dictionary_page_offset
    if isinstance(dictionary, int) and not isinstance(dictionary, bool) and 0 < dictionary < start:
        start = dictionary
    return Chunk(
        file_path=path if isinstance(path, bytes) else b"?",
        values=_int(meta, 5),
        decoded_bytes=_int(meta, 6),
        start=start,
        length=_int(meta, 7),
    )


def read_footer(data: bytes) -> Footer:
    """Read a Parquet file's footer: its rows, row groups and column chunks.

    Parameters
    ----------
    data : bytes
        The whole Parquet file (ending with the footer, its length and ``PAR1``).

    Returns
    -------
    Footer
        What it declares.

    Raises
    ------
    ThriftError
        When the footer is truncated, malformed or too large to read.
    """
    if len(data) < 12 or data[-4:] != b"PAR1":
        raise ThriftError("no Parquet footer")
    (length,) = struct.unpack("<I", data[-8:-4])
    start = len(data) - 8 - length
    if start < 4:
        raise ThriftError("the footer's length is larger than the file")
    meta = _Compact(data, start, len(data) - 8, MAX_FOOTER_ITEMS).fields(0)
    groups = []
    for raw in _list(meta.get(4, [])):  # FileMetaData.row_groups
        group = _struct(raw)
        chunks = [_chunk(c) for c in _list(group.get(1))]
        groups.append((_int(group, 3), chunks))
    writer = meta.get(6, b"")
    created_by = writer.decode("utf-8", "replace") if isinstance(writer, bytes) else ""
    return Footer(_int(meta, 3), groups, created_by)


def _num_values(header: dict[int, Value], fields: tuple[int, ...]) -> int:
    for f in fields:
        inner = header.get(f)
        if isinstance(inner, dict):
            return max(_int(inner, 1, 0), 0)
    return 0


def chunk_pages(data: bytes, chunk: Chunk, *, padded: bool, max_pages: int) -> ChunkPages:
    """Read every page header of one column chunk.

    Parameters
    ----------
    data : bytes
        The whole Parquet file.
    chunk : Chunk
        The chunk, as the footer describes it.
    padded : bool
        Whether the chunk may run on past its length by up to 100 bytes, as pyarrow
        allows for files from old parquet-mr writers.
    max_pages : int
        Most pages to read; a chunk with more is refused (pages may be a few bytes each).

    Returns
    -------
    ChunkPages
        Pages, decoded bytes and values the headers declare.

    Raises
    ------
    ThriftError
        When a header is truncated or malformed, a size is negative, a page runs past
        the chunk's end, or (:class:`TooManyPagesError`) the chunk holds more than
        ``max_pages`` pages.
    """
    end = chunk.start + chunk.length
    limit = min(len(data), end + (_PARQUET_816_PADDING if padded else 0))
    if chunk.start < 0 or chunk.length < 0 or end > len(data):
        raise ThriftError("a column chunk lies outside the file")
    out = ChunkPages()
    pos = chunk.start
    while pos < end:
        reader = _Compact(data, pos, limit, MAX_HEADER_ITEMS)
        header = reader.fields(0)
        decoded, stored = _int(header, 2), _int(header, 3)
        if decoded < 0 or stored < 0:
            raise ThriftError("a page header declares a negative size")
        out.pages += 1
        if out.pages > max_pages:
            raise TooManyPagesError(f"more than {max_pages:,} pages")
        out.decoded_bytes += (reader.pos - pos) + decoded
        if header.get(1) == _DICTIONARY_PAGE:
            out.dictionary_values += _num_values(header, (_DICTIONARY_PAGE_HEADER,))
        else:
            out.values += _num_values(header, _DATA_PAGE_HEADERS)
        pos = reader.pos + stored
        if pos > limit:
            raise ThriftError("a page runs past its column chunk")
    return out

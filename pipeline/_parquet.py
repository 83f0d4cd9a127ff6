"""Reading a GeoParquet upload with pyarrow, every size checked before data is decoded.

A Parquet file is small on disk and large in memory by design: a 2 KB file can hold one
200 KB string dictionary-encoded for 50,000 rows (10 GB decoded), or a page of ten
million empty rings. So, in order, and each step refusing before the next runs:

1. the footer is read with Thrift limits, and its counts are checked: rows, row groups,
   columns, values per column, the decompressed size it declares, and chunks stored in
   other files;
2. every page header of every column chunk is read (:mod:`pipeline._parquet_thrift`,
   which reads the footer's row groups and chunks too),
   and the bytes the pages decompress to are capped (:data:`MAX_DECODED_BYTES`, and
   :data:`MAX_DECODED_RATIO` times the file's size) - the headers, not the footer's
   claims, are what pyarrow allocates by;
3. only flat columns are read (nested ones are ignored, with a note), text and binary
   ones as dictionaries, so repeated values are not expanded; their expanded size is
   computed from dictionary and indices and capped before any value is copied out.

The ``geo`` metadata is parsed as JSON and its CRS must be PROJJSON (or, as GeoParquet
0.x wrote it, WKT or an ``AUTHORITY:CODE``): anything else is refused in one line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pyproj
from pyproj.exceptions import CRSError

from pipeline._containers import MAX_UNZIPPED_BYTES, MAX_ZIP_RATIO
from pipeline._parquet_thrift import (
    Footer,
    ThriftError,
    TooManyPagesError,
    chunk_pages,
    read_footer,
)
from pipeline._upload_error import UploadError, listed, quoted, size

MAX_ROW_GROUPS = 1_000
"""Most row groups in a GeoParquet file (an honest one of 50,000 rows has a few)."""
MAX_PAGES = 50_000
"""Most pages in a GeoParquet file, all column chunks together."""
MAX_COLUMN_VALUES = 2_000_000
"""Most values in one Parquet column, all row groups together (a flat column holds one
per row; a list column more)."""
MAX_DECODED_BYTES = MAX_UNZIPPED_BYTES
"""Largest size of a GeoParquet's data once decompressed, and again once dictionary
values are expanded (256 MiB, as for the members of a zip)."""
MAX_DECODED_RATIO = MAX_ZIP_RATIO
"""Largest ratio of a GeoParquet's decompressed pages to the file's size (as for a zip)."""
MAX_SCHEMA_DEPTH = 16
"""Deepest nesting of a Parquet schema pyarrow is allowed to parse."""
MAX_FOOTER_STRING = 16 * 1024 * 1024
"""Longest string (a metadata value, a statistic) pyarrow may read from a footer (16 MiB)."""
MAX_FOOTER_LIST = 100_000
"""Longest list (columns, row groups, key-value pairs) pyarrow may read from a footer."""

_WKT_CRS = re.compile(r"^\s*[A-Z][A-Z0-9_]*\s*\[", re.IGNORECASE)
_AUTHORITY_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_.]*:[A-Za-z0-9_.]+$")
_INDEX_COLUMN = re.compile(r"^__index_level_\d+__$")


@dataclass
class GeoParquet:
    """What was read from a GeoParquet file.

    Attributes
    ----------
    attributes : pandas.DataFrame
        The flat attribute columns, one row per feature.
    wkb : list of bytes or None
        The primary geometry column's WKB.
    crs : pyproj.CRS or None
        Its CRS (None when the file says it has none).
    notes : list of str
        Columns ignored, and why.
    """

    attributes: pd.DataFrame
    wkb: list[bytes | None]
    crs: pyproj.CRS | None
    notes: list[str] = field(default_factory=list)


def _open(data: bytes, file_name: str, read_dictionary: list[int] | None) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(
            pa.BufferReader(data),
            read_dictionary=read_dictionary,
            thrift_string_size_limit=MAX_FOOTER_STRING,
            thrift_container_size_limit=MAX_FOOTER_LIST,
            schema_depth_limit=MAX_SCHEMA_DEPTH,
            arrow_extensions_enabled=False,
        )
    except Exception as e:  # pyarrow raises several kinds for a bad file
        raise UploadError(file_name, f"not readable as GeoParquet ({str(e)[:200]})") from None


def _check_footer(
    md: Any, footer: Footer, file_name: str, max_features: int, max_columns: int, max_values: int
) -> None:
    """Counts the footer declares: rows, row groups, columns, values; chunks elsewhere."""
    rows, columns = max(footer.rows, md.num_rows), md.num_columns
    if rows > max_features:
        raise UploadError(file_name, f"{rows:,} features (at most {max_features:,})")
    if len(footer.row_groups) > MAX_ROW_GROUPS:
        reason = f"{len(footer.row_groups):,} row groups (at most {MAX_ROW_GROUPS:,})"
        raise UploadError(file_name, reason)
    if columns > max_columns:
        raise UploadError(file_name, f"{columns:,} columns (at most {max_columns:,})")
    if rows * columns > max_values:
        reason = f"{rows:,} rows x {columns:,} columns of values (at most {max_values:,})"
        raise UploadError(file_name, reason)
    if len(footer.row_groups) * columns > MAX_PAGES:
        reason = f"{len(footer.row_groups) * columns:,} column chunks (at most {MAX_PAGES:,})"
        raise UploadError(file_name, reason)
    grouped = claimed = 0
    values = [0] * columns
    for g, (group_rows, chunks) in enumerate(footer.row_groups):
        grouped += max(group_rows, 0)
        if len(chunks) != columns:
            reason = f"row group {g + 1} has {len(chunks)} column chunks for {columns} columns"
            raise UploadError(file_name, reason)
        for c, chunk in enumerate(chunks):
            if chunk.file_path:
                where = quoted(chunk.file_path.decode("utf-8", "replace"))
                raise UploadError(file_name, f"column chunk stored in another file ({where})")
            values[c] += max(chunk.values, 0)
            claimed += max(chunk.decoded_bytes, 0)
    if claimed > MAX_DECODED_BYTES:
        reason = f"its footer declares more than {size(MAX_DECODED_BYTES)} of pages"
        raise UploadError(file_name, reason)
    if grouped > max_features:
        raise UploadError(file_name, f"{grouped:,} features (at most {max_features:,})")
    for c, n in enumerate(values):
        if n > MAX_COLUMN_VALUES:
            name = quoted(md.schema.column(c).path)
            reason = f"column {name} holds {n:,} values (at most {MAX_COLUMN_VALUES:,})"
            raise UploadError(file_name, reason)


def _check_pages(data: bytes, md: Any, footer: Footer, file_name: str) -> None:
    """Read every page header; cap the pages, their decoded bytes and their values."""
    padded = "parquet-mr" in footer.created_by
    pages = decoded = 0
    values = [0] * md.num_columns
    for _, chunks in footer.row_groups:
        for c, chunk in enumerate(chunks):
            try:
                found = chunk_pages(data, chunk, padded=padded, max_pages=MAX_PAGES - pages)
            except TooManyPagesError:
                raise UploadError(file_name, f"more than {MAX_PAGES:,} pages") from None
            except ThriftError as e:
                name = quoted(md.schema.column(c).path)
                raise UploadError(file_name, f"column {name}: {e}") from None
            pages += found.pages
            decoded += found.decoded_bytes
            values[c] += found.values + found.dictionary_values
            if decoded > MAX_DECODED_BYTES:
                reason = f"its pages decompress to more than {size(MAX_DECODED_BYTES)}"
                raise UploadError(file_name, reason)
            if values[c] > MAX_COLUMN_VALUES:
                name = quoted(md.schema.column(c).path)
                reason = f"column {name}'s pages hold more than {MAX_COLUMN_VALUES:,} values"
                raise UploadError(file_name, reason)
    ratio = decoded / max(len(data), 1)
    if ratio > MAX_DECODED_RATIO:
        reason = (
            f"its pages decompress {ratio:,.0f}-fold (at most {MAX_DECODED_RATIO}): a Parquet bomb?"
        )
        raise UploadError(file_name, reason)


def _crs(value: object, file_name: str) -> pyproj.CRS | None:
    """The CRS a GeoParquet column names: PROJJSON, or WKT or AUTHORITY:CODE text."""
    shown = repr(value)[:80]
    try:
        if value is None:
            return None
        if isinstance(value, dict):
            return pyproj.CRS.from_json_dict(value)
        if isinstance(value, str) and _AUTHORITY_CODE.match(value):
            return pyproj.CRS.from_user_input(value)
        if isinstance(value, str) and _WKT_CRS.match(value):
            return pyproj.CRS.from_wkt(value)
    except (CRSError, TypeError, ValueError) as e:
        reason = f"its GeoParquet CRS {shown} is not a valid CRS ({str(e)[:120]})"
        raise UploadError(file_name, reason) from None
    raise UploadError(file_name, f"its GeoParquet CRS {shown} is not PROJJSON, WKT or a code")


def _geo(md: Any, file_name: str) -> tuple[str, set[str], pyproj.CRS | None]:
    """The primary geometry column, other geometry and covering columns, and the CRS."""
    meta = (md.metadata or {}).get(b"geo")
    if meta is None:
        raise UploadError(file_name, "a Parquet file without GeoParquet 'geo' metadata")
    try:
        geo = json.loads(meta)
        column = str(geo["primary_column"])
        spec = geo["columns"][column]
        encoding = spec.get("encoding", "WKB")
        crs_json = spec.get("crs", "OGC:CRS84")
        others = {str(c) for c in geo["columns"]} - {column}
        covering = spec.get("covering") or {}
        others |= {str(p[0]) for p in (covering.get("bbox") or {}).values() if p}
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError):
        raise UploadError(file_name, "its GeoParquet 'geo' metadata is malformed") from None
    if str(encoding).upper() != "WKB":
        raise UploadError(file_name, f"GeoParquet geometry encoding {encoding!r} (WKB needed)")
    return column, others, _crs(crs_json, file_name)


def _leaves(t: pa.DataType) -> int:
    """Parquet leaf columns an Arrow type takes (recursion bounded by MAX_SCHEMA_DEPTH)."""
    if isinstance(t, pa.ExtensionType):
        return _leaves(t.storage_type)
    if pa.types.is_struct(t):
        return sum(_leaves(t.field(i).type) for i in range(t.num_fields))
    if pa.types.is_map(t):
        return _leaves(t.key_type) + _leaves(t.item_type)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return _leaves(t.value_type)
    return 1


def _flat_columns(pf: pq.ParquetFile, file_name: str) -> tuple[dict[str, int], list[str]]:
    """Leaf index of each flat top-level column, and the names of the nested ones."""
    schema = pf.schema_arrow
    names = [str(n) for n in schema.names]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UploadError(file_name, f"columns named twice: {listed(twice)}")
    flat: dict[str, int] = {}
    nested: list[str] = []
    leaf = 0
    for f in schema:
        n = _leaves(f.type)
        if pa.types.is_nested(f.type) or n != 1:
            nested.append(str(f.name))
        else:
            flat[str(f.name)] = leaf
        leaf += n
    if leaf != pf.metadata.num_columns:
        raise UploadError(file_name, "its Arrow schema does not match its Parquet columns")
    return flat, nested


def _expanded_bytes(column: pa.ChunkedArray) -> int:
    """Bytes a column takes once every dictionary value is copied out to its rows."""
    total = 0
    for chunk in column.chunks:
        if pa.types.is_dictionary(chunk.type):
            values = chunk.dictionary
            if pa.types.is_binary(values.type) or pa.types.is_string(values.type):
                lengths = pc.binary_length(values)
                total += int(pc.sum(pc.take(lengths, chunk.indices)).as_py() or 0)
            else:
                total += (values.nbytes // max(len(values), 1) + 1) * len(chunk)
            total += 8 * len(chunk)
        else:
            total += chunk.nbytes
    return total


def read_geoparquet(
    data: bytes, file_name: str, *, max_features: int, max_columns: int, max_values: int
) -> GeoParquet:
    """Read a GeoParquet upload, every cap checked before the data is decoded.

    Parameters
    ----------
    data : bytes
        The file's bytes (read from memory).
    file_name : str
        Its name, for messages.
    max_features, max_columns, max_values : int
        Most rows, columns and values (rows x columns).

    Returns
    -------
    GeoParquet
        Attributes, WKB, CRS and notes.

    Raises
    ------
    UploadError
        When the file is unreadable, not GeoParquet, its CRS is not valid, or any size
        (rows, row groups, columns, pages, decoded bytes, ratio) passes its cap.
    """
    try:
        return _read(data, file_name, max_features, max_columns, max_values)
    except UnicodeDecodeError:  # pyarrow decodes the footer's names strictly as UTF-8
        reason = "not readable as GeoParquet (a name in its footer is not UTF-8)"
        raise UploadError(file_name, reason) from None


def _read(
    data: bytes, file_name: str, max_features: int, max_columns: int, max_values: int
) -> GeoParquet:
    md = _open(data, file_name, None).metadata
    try:
        footer = read_footer(data)
    except ThriftError as e:
        raise UploadError(file_name, f"not readable as GeoParquet ({e})") from None
    _check_footer(md, footer, file_name, max_features, max_columns, max_values)
    column, others, crs = _geo(md, file_name)
    _check_pages(data, md, footer, file_name)
    binary = [i for i in range(md.num_columns) if md.schema.column(i).physical_type == "BYTE_ARRAY"]
    pf = _open(data, file_name, binary)
    flat, nested = _flat_columns(pf, file_name)
    if column not in flat:
        where = "is nested" if column in nested else "is not in the file"
        raise UploadError(file_name, f"GeoParquet geometry column {quoted(column)} {where}")
    keep = [n for n in flat if n not in others and not _INDEX_COLUMN.match(n)]
    try:
        table = pf.reader.read_all(column_indices=[flat[n] for n in keep], use_threads=False)
    except Exception as e:  # pyarrow raises several kinds for a bad file
        raise UploadError(file_name, f"not readable as GeoParquet ({str(e)[:200]})") from None
    expanded = sum(_expanded_bytes(table.column(n)) for n in keep)
    if expanded > MAX_DECODED_BYTES:
        reason = f"its values expand to more than {size(MAX_DECODED_BYTES)}"
        raise UploadError(file_name, reason)
    geometry = table.column(column)
    storage = geometry.type.value_type if pa.types.is_dictionary(geometry.type) else geometry.type
    if not (pa.types.is_binary(storage) or pa.types.is_large_binary(storage)):
        reason = f"GeoParquet geometry column {quoted(column)} is {storage}, not WKB binary"
        raise UploadError(file_name, reason)
    wkb = [None if b is None else bytes(b) for b in geometry.to_pylist()]
    try:
        attributes = table.drop([column]).to_pandas(ignore_metadata=True, use_threads=False)
    except Exception as e:  # pyarrow and pandas raise several kinds for odd types
        reason = f"its attributes cannot be read ({str(e)[:200]})"
        raise UploadError(file_name, reason) from None
    notes = []
    ignored = sorted(set(nested) - others)
    if ignored:
        notes.append(f"ignored nested columns: {listed(ignored)}")
    skipped = sorted(others & set(flat))
    if skipped:
        notes.append(f"ignored other geometry columns: {listed(skipped)}")
    return GeoParquet(attributes, wkb, crs, notes)

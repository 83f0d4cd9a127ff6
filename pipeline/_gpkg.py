"""Checks of an uploaded GeoPackage's SQLite tables before GDAL opens it.

GDAL reads whatever a GeoPackage's ``gpkg_contents`` lists, views included, and counting
a view's features evaluates it: a 64 KB file whose layer is a view over an infinite
recursive query spins forever, and one over a bounded query can expand to gigabytes. So
the file is first inspected with the standard library's ``sqlite3``, from an in-memory
copy (``Connection.deserialize``: no temporary file), read-only, with a progress handler
that interrupts any statement after :data:`MAX_SQLITE_STEPS` virtual-machine steps.

Only ``sqlite_master``, ``gpkg_contents``, ``gpkg_geometry_columns`` and each table's
column list are read, and a layer's rows are counted with ``count(*)`` on a real table
(the name quoted from ``sqlite_master``, never from user text). Anything whose reading
would run SQL from the file is refused: views, virtual tables (except a GeoPackage's
R-tree indexes) and generated columns.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from pipeline._upload_error import UploadError, listed, quoted

MAX_SQLITE_STEPS = 10_000_000
"""Most SQLite virtual-machine steps spent inspecting one GeoPackage (well under a second).

Inspecting an honest file takes a few thousand steps per table; the cap only stops
a file built to make the inspection itself slow.
"""
MAX_SQLITE_VALUE = 4 * 1024 * 1024
"""Largest string or blob SQLite may hand the inspection, in bytes (4 MiB)."""

_PROGRESS_EVERY = 1_000  # virtual-machine steps between two calls of the progress handler


@dataclass(frozen=True)
class GpkgLayer:
    """A GeoPackage feature layer that passed the checks.

    Attributes
    ----------
    name : str
        The layer's name in ``gpkg_contents`` (as GDAL names it).
    rows : int
        Rows in its table.
    """

    name: str
    rows: int


@dataclass(frozen=True)
class _Contents:
    name: str
    data_type: str


def _ident(name: str) -> str:
    """An SQL identifier, double-quoted with inner quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def _text(raw: bytes) -> str:
    """SQLite text as str: the file's bytes need not be valid UTF-8."""
    return raw.decode("utf-8", "replace")


def _connect(data: bytes) -> sqlite3.Connection:
    image = bytearray(data)
    if image[18:20] == b"\x02\x02":  # WAL mode: an in-memory copy reads as rollback-journal
        image[18:20] = b"\x01\x01"
    con = sqlite3.connect(":memory:")
    con.text_factory = _text
    con.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_SQLITE_VALUE)
    con.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    calls = 0
    every = max(1, min(_PROGRESS_EVERY, MAX_SQLITE_STEPS))

    def progress() -> int:
        nonlocal calls
        calls += 1
        return int(calls * every > MAX_SQLITE_STEPS)

    con.set_progress_handler(progress, every)
    con.deserialize(bytes(image))
    for pragma in ("query_only = ON", "trusted_schema = OFF", "cell_size_check = ON"):
        con.execute(f"PRAGMA {pragma}")
    return con


def _schema(con: sqlite3.Connection, file_name: str) -> dict[str, tuple[str, str]]:
    """Tables by lower-case name: ``(name, type)``; views, odd virtual tables refused."""
    rows = con.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
    views = [str(name) for kind, name, _ in rows if kind == "view"]
    if views:
        reason = f"holds SQL views ({listed(views)}): views are not read, they run queries"
        raise UploadError(file_name, reason)
    tables: dict[str, tuple[str, str]] = {}
    for kind, name, sql in rows:
        if kind != "table":
            continue
        text = " ".join(str(sql or "").upper().split())
        virtual = text.startswith("CREATE VIRTUAL TABLE")
        if virtual and not (str(name).lower().startswith("rtree_") and "USING RTREE(" in text):
            raise UploadError(file_name, f"holds a virtual table {quoted(str(name))}: refused")
        tables[str(name).lower()] = (str(name), "virtual" if virtual else "table")
    for name, kind in tables.values():
        if kind != "table":
            continue
        generated = con.execute(
            "SELECT name FROM pragma_table_xinfo(?) WHERE hidden IN (2, 3)", (name,)
        ).fetchall()
        if generated:
            column = quoted(str(generated[0][0]))
            reason = f"table {quoted(name)} has a generated column {column}: refused"
            raise UploadError(file_name, reason)
    return tables


def _contents(
    con: sqlite3.Connection, file_name: str, tables: dict[str, tuple[str, str]]
) -> tuple[list[_Contents], dict[str, str]]:
    """The layers ``gpkg_contents`` lists, and the geometry column of each feature table."""
    if tables.get("gpkg_contents", ("", ""))[1] != "table":
        raise UploadError(file_name, "an SQLite database but not a GeoPackage (no gpkg_contents)")
    try:
        rows = con.execute(
            "SELECT table_name, data_type FROM gpkg_contents ORDER BY rowid"
        ).fetchall()
        geometry_rows = (
            con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns").fetchall()
            if tables.get("gpkg_geometry_columns", ("", ""))[1] == "table"
            else []
        )
    except sqlite3.OperationalError as e:
        if "interrupted" in str(e):
            raise
        raise UploadError(file_name, f"its GeoPackage tables are malformed ({e})") from None
    layers = [_Contents(str(name), str(kind).lower()) for name, kind in rows if name is not None]
    geometry = {str(t).lower(): str(c) for t, c in geometry_rows if t is not None and c}
    return layers, geometry


def _choose(
    layers: list[_Contents], geometry: dict[str, str], layer: str | None, file_name: str
) -> _Contents:
    """The layer asked for, or the only feature layer; refusals name the file's layers."""
    names = [c.name for c in layers]
    features = [c for c in layers if c.data_type == "features" and c.name.lower() in geometry]
    if layer is not None:
        found = [c for c in layers if c.name == layer] or [
            c for c in layers if c.name.lower() == layer.lower()
        ]
        if not found:
            reason = f"no layer {layer!r}; layers: {listed(names) or '(none)'}"
            raise UploadError(file_name, reason)
        return found[0]
    if len(features) == 1:
        return features[0]
    if len(features) > 1:
        reason = f"several layers ({listed([c.name for c in features])}): choose one"
        raise UploadError(file_name, reason)
    if len(layers) == 1:
        return layers[0]
    if not layers:
        raise UploadError(file_name, "the GeoPackage lists no layers")
    raise UploadError(file_name, f"none of its layers holds geometry ({listed(names)})")


def _check_layer(
    con: sqlite3.Connection,
    chosen: _Contents,
    geometry: dict[str, str],
    tables: dict[str, tuple[str, str]],
    file_name: str,
) -> int:
    """Rows in the chosen layer's table, once it is known to be a real feature table."""
    shown = quoted(chosen.name)
    if chosen.data_type != "features" or chosen.name.lower() not in geometry:
        reason = f"layer {shown} holds no geometry (data type {quoted(chosen.data_type)})"
        raise UploadError(file_name, reason)
    if chosen.name.lower() not in tables:
        reason = f"layer {shown} is listed in gpkg_contents but no such table exists"
        raise UploadError(file_name, reason)
    table, kind = tables[chosen.name.lower()]
    if kind != "table":
        raise UploadError(file_name, f"layer {shown} is a virtual table: refused")
    columns = {
        str(row[0]).lower()
        for row in con.execute("SELECT name FROM pragma_table_xinfo(?)", (table,)).fetchall()
    }
    column = geometry[chosen.name.lower()]
    if column.lower() not in columns:
        reason = f"layer {shown}: its geometry column {quoted(column)} does not exist"
        raise UploadError(file_name, reason)
    (rows,) = con.execute(f"SELECT count(*) FROM {_ident(table)}").fetchone()  # noqa: S608
    return int(rows)


def geopackage_layer(
    data: bytes, file_name: str, layer: str | None, *, max_features: int
) -> GpkgLayer:
    """Check a GeoPackage's tables with ``sqlite3`` and choose the layer GDAL will read.

    Parameters
    ----------
    data : bytes
        The file's bytes (copied into memory; never written to disk).
    file_name : str
        Its name, for messages.
    layer : str or None
        The layer asked for; None to take the only feature layer.
    max_features : int
        Most rows the layer may hold.

    Returns
    -------
    GpkgLayer
        The layer's name and row count.

    Raises
    ------
    UploadError
        When the file is not a GeoPackage, holds views, virtual tables or generated
        columns, lists a layer that is not a real feature table, has several layers and
        none was chosen, or its layer holds more than ``max_features`` rows.
    """
    con: sqlite3.Connection | None = None
    try:
        con = _connect(data)
        tables = _schema(con, file_name)
        layers, geometry = _contents(con, file_name, tables)
        chosen = _choose(layers, geometry, layer, file_name)
        rows = _check_layer(con, chosen, geometry, tables, file_name)
    except sqlite3.Error as e:
        if "interrupted" in str(e):
            reason = f"inspecting its SQLite tables took more than {MAX_SQLITE_STEPS:,} steps"
            raise UploadError(file_name, reason) from None
        raise UploadError(file_name, f"not a readable GeoPackage ({e})") from None
    except UnicodeDecodeError:  # SQLite's message quotes the file's bytes, not valid UTF-8
        raise UploadError(file_name, "not a readable GeoPackage (a malformed schema)") from None
    finally:
        if con is not None:
            con.close()
    if rows > max_features:
        raise UploadError(file_name, f"{rows:,} features (at most {max_features:,})")
    return GpkgLayer(chosen.name, rows)

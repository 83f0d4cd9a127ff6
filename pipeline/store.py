"""Store: uploaded control polygons with an append-only revision history.

The default backend is a GeoPackage file (it opens in QGIS) written through SQLite
transactions: WAL journal, a busy timeout, ``BEGIN IMMEDIATE`` per commit, and never a
rewrite of the file. A revision is never changed or deleted; reverting one appends a new
revision that marks it reverted. The interface is small so that a PostGIS backend can
follow with the same tests.

The file (and its folder) is created by the first commit: opening or reading a store, a
dry run and a refused upload leave nothing behind. A store whose file, folder or file
system cannot be written is read through a read-only connection, and every write to it is
refused with one message.

An *upload* is one file's bytes read for one claimant with one mapping (one revision per
date). It is stored at most once while any of its revisions is live: the check and the
insert run in one write transaction (:meth:`GeoPackageStore.commit_upload`), and the
database holds the rule too, for any writer. Each upload revision gets a row in
``upload_keys``, written by a trigger on ``revisions``: its file hash, claimant, mapping,
date, and *generation*, the number of earlier revisions of the same key that were
reverted. ``upload_keys`` is UNIQUE on all five, so a second live copy has the same
generation as the first and is refused, while a copy stored after a revert has a higher
one. The trigger computes the generation from the history itself, so every writer,
whatever its version, is held to the rule. Revisions stored before the
table existed are keyed when a store is upgraded, oldest first; a duplicate an earlier
race stored stays in the history without a key, and the upgrade names it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import sqlite3
import struct
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import astuple, dataclass, fields, replace
from pathlib import Path
from typing import Protocol

import geopandas as gpd
import numpy as np
import shapely
import shapely.errors

from pipeline import settings
from pipeline.claims import Claimant
from pipeline.errors import FrontlineError, InputError

GPKG_APPLICATION_ID = 0x47504B47  # "GPKG"
GPKG_USER_VERSION = 10300  # GeoPackage 1.3
SRS_ID = 4326
_POSTGIS = ("postgresql://", "postgres://")
MODES = ("snapshot", "patch", "revert")
MAX_REVISION_ID = 2**63 - 1
"""The largest id SQLite (and PostgreSQL's ``bigint``) can hold."""


class StoreError(FrontlineError):
    """The store could not be read or written; nothing was committed."""


class StoreWarning(UserWarning):
    """Part of the store could not be read and was skipped; the rest was read."""


@dataclass(frozen=True)
class Revision:
    """One committed change to the store.

    Attributes
    ----------
    revision_id : int
        Increasing id.
    committed_at : str
        UTC timestamp (ISO 8601).
    who, claimant, mode, source, licence, file_name, file_sha256 : str
        Who committed what, from which file, under which licence.
    date : str
        The date the polygons describe (ISO).
    features : int
        Number of polygons committed.
    area_km2 : float
        Their area, measured in the equal-area CRS.
    reverts : int or None
        For a revert, the revision it reverts.
    mapping : str
        How the file's features were read (date, mode, side mapping, clip), as JSON; the
        same file with the same mapping is never stored twice while it is live.
    """

    revision_id: int
    committed_at: str
    who: str
    claimant: str
    date: str
    mode: str
    source: str
    licence: str
    file_name: str
    file_sha256: str
    features: int
    area_km2: float
    reverts: int | None
    mapping: str = ""


@dataclass(frozen=True)
class UploadCommit:
    """What committing an upload did.

    Attributes
    ----------
    revisions : tuple of Revision
        The new revisions, one per date; or, when ``existing``, the live revisions that
        already hold the upload.
    existing : bool
        True when the upload was already stored: then nothing was written.
    """

    revisions: tuple[Revision, ...]
    existing: bool


class Store(Protocol):
    """What every backend offers (GeoPackage now, PostGIS later)."""

    @property
    def read_only(self) -> bool:
        """Whether every write is refused."""

    def commit(
        self,
        polygons: gpd.GeoDataFrame,
        *,
        who: str,
        claimant: str,
        date: dt.date,
        mode: str,
        source: str,
        licence: str,
        file_name: str,
        file_sha256: str,
    ) -> Revision:
        """Append a revision with its polygons, atomically."""

    def commit_batch(
        self,
        batches: Sequence[tuple[dt.date, gpd.GeoDataFrame]],
        *,
        who: str,
        claimant: str,
        mode: str,
        source: str,
        licence: str,
        file_name: str,
        file_sha256: str,
        mapping: str = "",
        new_claimant: Claimant | None = None,
    ) -> list[Revision]:
        """Append one revision per date, and register a new claimant, atomically."""

    def commit_upload(
        self,
        batches: Sequence[tuple[dt.date, gpd.GeoDataFrame]],
        *,
        who: str,
        claimant: str,
        mode: str,
        source: str,
        licence: str,
        file_name: str,
        file_sha256: str,
        mapping: str,
        new_claimant: Claimant | None = None,
    ) -> UploadCommit:
        """Store an upload once: its revisions, or the live ones already holding it."""

    def revert(self, revision_id: int, *, who: str) -> Revision:
        """Append a revision that reverts an earlier one."""

    def find(self, file_sha256: str, claimant: str, mapping: str) -> list[Revision]:
        """Live revisions made from the same file, claimant and mapping."""

    def claimants(self) -> dict[str, Claimant]:
        """Claimants registered by uploads."""

    def fingerprint(self) -> str:
        """A hash that changes whenever a revision is committed."""

    def revisions(self, claimant: str | None = None) -> list[Revision]:
        """All revisions, oldest first."""

    def polygons(self) -> gpd.GeoDataFrame:
        """Polygons of every revision that is not reverted."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


_REVISION_COLUMNS = tuple(f.name for f in fields(Revision))
_ADDED_COLUMNS = {
    # Columns of ``revisions`` that older stores lack: how to add one, and what a SELECT
    # reads in its place from a store that cannot be upgraded (opened read-only).
    "mapping": ("ALTER TABLE revisions ADD COLUMN mapping TEXT NOT NULL DEFAULT ''", "''"),
}


def _append_revision(con: sqlite3.Connection, draft: Revision) -> Revision:
    """Insert a revision (its ``revision_id`` is ignored) and return it with its id."""
    cur = con.execute(
        "INSERT INTO revisions (committed_at, who, claimant, date, mode, source, licence, "
        "file_name, file_sha256, features, area_km2, reverts, mapping) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        astuple(draft)[1:],
    )
    return replace(draft, revision_id=int(cur.lastrowid or 0))


def _select_revisions(con: sqlite3.Connection) -> str:
    """``SELECT <every Revision field> FROM revisions``, for this store's columns.

    Names come only from the fixed :data:`_REVISION_COLUMNS`; a column an older store
    lacks is read as its default.
    """
    present = {row[1] for row in con.execute("PRAGMA table_info(revisions)")}
    names = []
    for name in _REVISION_COLUMNS:
        if name in present:
            names.append(name)
        elif name in _ADDED_COLUMNS:
            names.append(f"{_ADDED_COLUMNS[name][1]} AS {name}")
        else:
            msg = f"table 'revisions' has no column {name!r}: not a Frontline store"
            raise StoreError(msg)
    return f"SELECT {', '.join(names)} FROM revisions"  # noqa: S608 (fixed names only)


_LIVE = (
    " WHERE file_sha256 = ? AND claimant = ? AND mapping = ? AND mode != 'revert' "
    "AND revision_id NOT IN (SELECT reverts FROM revisions WHERE reverts IS NOT NULL) "
    "ORDER BY revision_id"
)


def _live(con: sqlite3.Connection, file_sha256: str, claimant: str, mapping: str) -> list[Revision]:
    rows = con.execute(_select_revisions(con) + _LIVE, (file_sha256, claimant, mapping))
    return [Revision(*row) for row in rows.fetchall()]


def _gpkg_blob(geom: shapely.Geometry) -> bytes:
    """GeoPackage binary geometry: header, xy envelope, little-endian WKB."""
    minx, miny, maxx, maxy = (float(v) for v in shapely.bounds(geom))
    header = b"GP" + bytes([0, 0b00000011]) + struct.pack("<i", SRS_ID)
    envelope = struct.pack("<4d", minx, maxx, miny, maxy)
    return header + envelope + shapely.to_wkb(geom, byte_order=1)


_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


def _from_blob(blob: object) -> shapely.Geometry:
    """The polygon in a GeoPackage geometry blob.

    Raises
    ------
    ValueError
        Naming what is wrong, when the blob is not a readable polygon.
    """
    if not isinstance(blob, bytes) or len(blob) < 8 or blob[:2] != b"GP":
        start = blob[:8] if isinstance(blob, str | bytes) else blob
        msg = f"not a GeoPackage geometry ({type(blob).__name__} {start!r})"
        raise ValueError(msg)
    flags = blob[3]
    envelope = _ENVELOPE_BYTES.get((flags >> 1) & 0b111)
    if envelope is None or flags & 0b100000:
        msg = f"unsupported GeoPackage geometry flags {flags:#010b}"
        raise ValueError(msg)
    try:
        geom = shapely.from_wkb(blob[8 + envelope :])
    except (shapely.errors.ShapelyError, ValueError) as e:
        msg = f"unreadable WKB ({str(e).splitlines()[0] if str(e) else type(e).__name__})"
        raise ValueError(msg) from e
    if geom is None or geom.geom_type not in ("Polygon", "MultiPolygon"):
        kind = "nothing" if geom is None else geom.geom_type
        msg = f"a {kind}, not a polygon"
        raise ValueError(msg)
    return geom


# The upload key of revision ``{row}``: its generation counts the revisions of the same
# key and date that were reverted. Used by the trigger (row NEW) and the upgrade (row r).
_KEY_SQL = """(revision_id, file_sha256, claimant, mapping, date, generation)
  SELECT {row}.revision_id, {row}.file_sha256, {row}.claimant, {row}.mapping, {row}.date,
    (SELECT count(*) FROM upload_keys k WHERE k.file_sha256 = {row}.file_sha256
      AND k.claimant = {row}.claimant AND k.mapping = {row}.mapping AND k.date = {row}.date
      AND k.revision_id IN (SELECT reverts FROM revisions WHERE reverts IS NOT NULL))"""

# Every object of the schema, by name, in the order they are created: tables first, then
# what refers to them. Each statement is idempotent and runs inside a write transaction.
_TABLES = (
    """CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT)""",
    """CREATE TABLE IF NOT EXISTS gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '', last_change DATETIME NOT NULL
    DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER)""",
    """CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name))""",
    """CREATE TABLE IF NOT EXISTS revisions (
  revision_id INTEGER PRIMARY KEY AUTOINCREMENT, committed_at TEXT NOT NULL,
  who TEXT NOT NULL, claimant TEXT NOT NULL, date TEXT NOT NULL, mode TEXT NOT NULL,
  source TEXT NOT NULL, licence TEXT NOT NULL, file_name TEXT NOT NULL,
  file_sha256 TEXT NOT NULL, features INTEGER NOT NULL, area_km2 REAL NOT NULL,
  reverts INTEGER REFERENCES revisions(revision_id), mapping TEXT NOT NULL DEFAULT '')""",
    """CREATE TABLE IF NOT EXISTS control_polygons (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, geom MULTIPOLYGON NOT NULL,
  revision_id INTEGER NOT NULL REFERENCES revisions(revision_id),
  claimant TEXT NOT NULL, date TEXT NOT NULL, side TEXT NOT NULL, mode TEXT NOT NULL,
  label TEXT NOT NULL DEFAULT '', properties TEXT NOT NULL DEFAULT '{}')""",
    """CREATE TABLE IF NOT EXISTS claimants (
  claimant_id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL,
  affiliation TEXT NOT NULL, licence TEXT NOT NULL,
  revision_id INTEGER NOT NULL REFERENCES revisions(revision_id))""",
    """CREATE TABLE IF NOT EXISTS upload_keys (
  revision_id INTEGER PRIMARY KEY REFERENCES revisions(revision_id),
  file_sha256 TEXT NOT NULL, claimant TEXT NOT NULL, mapping TEXT NOT NULL,
  date TEXT NOT NULL, generation INTEGER NOT NULL,
  CONSTRAINT upload_stored_once UNIQUE (file_sha256, claimant, mapping, date, generation))""",
)
_RULES = (
    """CREATE TRIGGER IF NOT EXISTS claimants_append_only_update BEFORE UPDATE ON claimants
  BEGIN SELECT RAISE(ABORT, 'claimants are append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS claimants_append_only_delete BEFORE DELETE ON claimants
  BEGIN SELECT RAISE(ABORT, 'claimants are append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS polygons_append_only_update BEFORE UPDATE ON control_polygons
  BEGIN SELECT RAISE(ABORT, 'polygons are append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS revisions_append_only_update BEFORE UPDATE ON revisions
  BEGIN SELECT RAISE(ABORT, 'revisions are append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS revisions_append_only_delete BEFORE DELETE ON revisions
  BEGIN SELECT RAISE(ABORT, 'revisions are append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS polygons_append_only_delete BEFORE DELETE ON control_polygons
  BEGIN SELECT RAISE(ABORT, 'polygons are append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS upload_keys_append_only_update BEFORE UPDATE ON upload_keys
  BEGIN SELECT RAISE(ABORT, 'upload keys are append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS upload_keys_append_only_delete BEFORE DELETE ON upload_keys
  BEGIN SELECT RAISE(ABORT, 'upload keys are append-only'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS revisions_upload_key AFTER INSERT ON revisions
  WHEN NEW.mapping != '' AND NEW.mode != 'revert'
  BEGIN INSERT INTO upload_keys {_KEY_SQL.format(row="NEW")}; END""",
)
_NAMED = re.compile(r"IF NOT EXISTS (\w+)")


def _name(statement: str) -> str:
    found = _NAMED.search(statement)
    assert found is not None  # every statement above names its object
    return found.group(1)


def _pending(con: sqlite3.Connection) -> list[str]:
    """The statements that would bring this file up to the schema (read-only check)."""
    have = {row[0] for row in con.execute("SELECT name FROM sqlite_master")}
    steps = [sql for sql in _TABLES if _name(sql) not in have]
    if "revisions" in have:
        present = {row[1] for row in con.execute("PRAGMA table_info(revisions)")}
        steps += [ddl for column, (ddl, _) in _ADDED_COLUMNS.items() if column not in present]
    steps += [sql for sql in _RULES if _name(sql) not in have]
    return steps


_WGS84 = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
    'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433],AUTHORITY["EPSG","4326"]]'
)


def _upgrade(con: sqlite3.Connection) -> list[int]:
    """Create what the schema lacks, inside the caller's write transaction.

    Only statements that are needed run, so a store that is up to date is not written.

    Returns
    -------
    list of int
        Revisions that repeat an upload that was live when they were stored (an earlier
        race): kept in the history, without an upload key.
    """
    had_keys = con.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'upload_keys'"
    ).fetchone()
    steps = _pending(con)
    for sql in steps:
        con.execute(sql)
    repeats: list[int] = []
    if not had_keys:  # key the uploads stored before the table existed, oldest first
        older = con.execute(
            "SELECT revision_id FROM revisions WHERE mapping != '' AND mode != 'revert' "
            "ORDER BY revision_id"
        ).fetchall()
        for (revision_id,) in older:
            cur = con.execute(
                "INSERT OR IGNORE INTO upload_keys "
                + _KEY_SQL.format(row="r")
                + " FROM revisions r WHERE r.revision_id = ?",
                (revision_id,),
            )
            if cur.rowcount == 0:
                repeats.append(int(revision_id))
    if not any(sql.startswith("CREATE TABLE") for sql in steps):
        return repeats
    con.execute(f"PRAGMA application_id = {GPKG_APPLICATION_ID}")
    con.execute(f"PRAGMA user_version = {GPKG_USER_VERSION}")
    con.execute(
        "INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?,?,?,?,?,?)",
        ("WGS 84", SRS_ID, "EPSG", SRS_ID, _WGS84, "longitude/latitude"),
    )
    for srs in ((-1, "undefined cartesian"), (0, "undefined geographic")):
        con.execute(
            "INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?,?,?,?,?,?)",
            (srs[1], srs[0], "NONE", srs[0], "undefined", srs[1]),
        )
    con.execute(
        "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, "
        "srs_id) VALUES ('control_polygons', 'features', 'control_polygons', ?)",
        (SRS_ID,),
    )
    for table in ("revisions", "claimants", "upload_keys"):
        con.execute(
            "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier) "
            "VALUES (?, 'attributes', ?)",
            (table, table),
        )
    con.execute(
        "INSERT OR IGNORE INTO gpkg_geometry_columns VALUES "
        "('control_polygons', 'geom', 'MULTIPOLYGON', ?, 0, 0)",
        (SRS_ID,),
    )
    return repeats


class GeoPackageStore:
    """The store as a GeoPackage file, written only through SQLite transactions.

    Parameters
    ----------
    path : pathlib.Path
        The ``.gpkg`` file. It need not exist: reading a missing store gives an empty
        history, and the first commit creates the file and its folder.
    busy_timeout_ms : int, default 30000
        How long a writer waits for another to finish.
    read_only : bool, default False
        Never write: read through a read-only connection and refuse every commit and
        revert. A store whose file, folder or file system cannot be written is read-only
        whatever this says.

    Notes
    -----
    Opening an existing store that lacks part of the schema (a store from an older
    Frontline) adds it in one write transaction; an up-to-date store is only read. When
    that upgrade cannot be written, a :class:`StoreWarning` says so and the store is read
    as it is.

    A read-only connection to a WAL database needs its ``-shm`` index. In a folder that
    cannot be written, and with no ``-wal`` file left over, the file is read as
    ``immutable``; a left-over ``-wal`` without its ``-shm`` is refused, since reading
    around it would miss committed revisions.
    """

    def __init__(
        self, path: Path, busy_timeout_ms: int = 30_000, *, read_only: bool = False
    ) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = int(busy_timeout_ms)
        self._read_only = read_only
        if self.read_only or not self.path.exists():
            return
        with self._reading() as con:
            # An empty file or a GeoPackage without our tables gets them from the first
            # commit; an older store is upgraded now, once.
            stale = con is not None and bool(_pending(con))
        if stale:
            try:
                with self._connection(write=True) as con:
                    con.execute("BEGIN IMMEDIATE")
                    self._upgrade(con)
                    con.execute("COMMIT")
            except StoreError as e:
                msg = f"{e}; reading it without the upgrade"
                warnings.warn(msg, StoreWarning, stacklevel=2)

    def _upgrade(self, con: sqlite3.Connection) -> None:
        """Bring the schema up to date in the open write transaction; name old repeats."""
        repeats = _upgrade(con)
        if repeats:
            msg = (
                f"store {str(self.path)!r}: revision(s) {repeats} repeat an upload that was "
                "live when they were stored; kept in the history"
            )
            warnings.warn(msg, StoreWarning, stacklevel=3)

    @property
    def read_only(self) -> bool:
        """Whether every write is refused.

        True when asked for, or when the file or its folder cannot be written (a
        missing store: when its nearest existing folder cannot be written).

        Returns
        -------
        bool
            Whether writes are refused.
        """
        if self._read_only:
            return True
        if not self.path.exists():
            folder = self.path.parent
            while not folder.exists() and folder != folder.parent:
                folder = folder.parent
            return not os.access(folder, os.W_OK)
        # Not the -wal and -shm files: other connections delete and make them at any
        # moment; when they cannot be written, SQLite reads without writing them.
        return not (os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK))

    def _open(self, *, write: bool) -> sqlite3.Connection:
        """A connection: read-write (creating the file only to write), or read-only."""
        uri = self.path.absolute().as_uri()
        timeout = self.busy_timeout_ms / 1000
        if write or not self.read_only:
            mode = "rwc" if write else "rw"
            con = sqlite3.connect(
                f"{uri}?mode={mode}", uri=True, timeout=timeout, isolation_level=None
            )
            try:
                con.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
                if write:
                    self._wal(con)
                    con.execute("PRAGMA synchronous = FULL")
                    con.execute("PRAGMA foreign_keys = ON")
            except sqlite3.Error:
                con.close()
                raise
            return con
        con = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=timeout, isolation_level=None)
        try:
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return con
        except sqlite3.OperationalError as e:
            con.close()
            if e.sqlite_errorcode & 0xFF != sqlite3.SQLITE_CANTOPEN:
                raise
        # A WAL database in a folder that cannot be written: no -shm can be made. With
        # no write-ahead log left over, the main file holds every commit.
        wal = Path(f"{self.path}-wal")
        if wal.exists() and wal.stat().st_size > 0:
            msg = (
                f"store {str(self.path)!r} cannot be read: it is read-only and its "
                f"write-ahead log {wal.name!r} has no index (-shm); open it once where it "
                "can be written"
            )
            raise StoreError(msg)
        return sqlite3.connect(
            f"{uri}?mode=ro&immutable=1", uri=True, timeout=timeout, isolation_level=None
        )

    def _wal(self, con: sqlite3.Connection) -> None:
        """Put the file in WAL mode (it stays so), waiting out writers that create it too.

        Switching a new file to WAL takes an exclusive lock, and SQLite answers "database
        is locked" at once, without its busy handler, while another process holds one;
        racing first writers retry for up to the busy timeout.
        """
        deadline = time.monotonic() + self.busy_timeout_ms / 1000
        while True:
            try:
                if con.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    con.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    @contextmanager
    def _connection(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        where = str(self.path)
        failed = "nothing was written" if write else "cannot be read"
        if write:
            if self.read_only:
                msg = f"store {where!r} is read-only: nothing was written"
                raise StoreError(msg)
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                msg = f"store {where!r}: its folder cannot be made, nothing was written ({e})"
                raise StoreError(msg) from e
        try:
            con = self._open(write=write)
        except sqlite3.Error as e:
            msg = f"store {where!r} cannot be opened, {failed} ({e})"
            raise StoreError(msg) from e
        try:
            yield con
        except sqlite3.Error as e:
            if con.in_transaction:
                with suppress(sqlite3.Error):  # closing the connection rolls back too
                    con.execute("ROLLBACK")
            msg = f"store {where!r}: {failed} ({e})"
            raise StoreError(msg) from e
        finally:
            con.close()

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection | None]:
        """A connection to read, or None when there is nothing to read (no store yet)."""
        if not self.path.exists():
            yield None
            return
        with self._connection(write=False) as con:
            found = con.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'revisions'"
            ).fetchone()
            yield con if found else None

    def commit(
        self,
        polygons: gpd.GeoDataFrame,
        *,
        who: str,
        claimant: str,
        date: dt.date,
        mode: str,
        source: str,
        licence: str,
        file_name: str,
        file_sha256: str,
    ) -> Revision:
        """Append a revision and its polygons in one transaction.

        Parameters
        ----------
        polygons : geopandas.GeoDataFrame
            Polygonal geometries with a ``side`` column (optional ``label`` and
            ``properties`` text columns), in any CRS (stored as EPSG:4326).
        who, claimant, source, licence, file_name, file_sha256 : str
            Provenance of the revision.
        date : datetime.date
            The date the polygons describe.
        mode : str
            ``snapshot`` or ``patch``.

        Returns
        -------
        Revision
            The committed revision.

        Raises
        ------
        StoreError
            When the polygons or the mode are unacceptable, the store is read-only, or
            the write fails; then nothing is stored.
        """
        (rev,) = self.commit_batch(
            [(date, polygons)],
            who=who,
            claimant=claimant,
            mode=mode,
            source=source,
            licence=licence,
            file_name=file_name,
            file_sha256=file_sha256,
        )
        return rev

    def commit_batch(
        self,
        batches: Sequence[tuple[dt.date, gpd.GeoDataFrame]],
        *,
        who: str,
        claimant: str,
        mode: str,
        source: str,
        licence: str,
        file_name: str,
        file_sha256: str,
        mapping: str = "",
        new_claimant: Claimant | None = None,
    ) -> list[Revision]:
        """Append one revision per date (and register a new claimant) in one transaction.

        Parameters
        ----------
        batches : sequence of (datetime.date, geopandas.GeoDataFrame)
            The polygons of each date, as for :meth:`commit`.
        who, claimant, mode, source, licence, file_name, file_sha256 : str
            As for :meth:`commit`.
        mapping : str, optional
            How the features were read, as JSON (see :attr:`Revision.mapping`). With a
            mapping the batches are an upload, stored at most once (see
            :meth:`commit_upload`).
        new_claimant : Claimant, optional
            Register this claimant with the first revision (refused if the id exists).

        Returns
        -------
        list of Revision
            The committed revisions, in the order of ``batches``.

        Raises
        ------
        StoreError
            When anything is unacceptable, the upload is already stored, the store is
            read-only or the write fails; then nothing is stored.
        """
        done = self._write(
            batches,
            who=who,
            claimant=claimant,
            mode=mode,
            source=source,
            licence=licence,
            file_name=file_name,
            file_sha256=file_sha256,
            mapping=mapping,
            new_claimant=new_claimant,
        )
        if done.existing:
            ids = [r.revision_id for r in done.revisions]
            msg = (
                f"upload {file_name!r} for {claimant!r} is already stored as revision(s) "
                f"{ids}: nothing was written"
            )
            raise StoreError(msg)
        return list(done.revisions)

    def commit_upload(
        self,
        batches: Sequence[tuple[dt.date, gpd.GeoDataFrame]],
        *,
        who: str,
        claimant: str,
        mode: str,
        source: str,
        licence: str,
        file_name: str,
        file_sha256: str,
        mapping: str,
        new_claimant: Claimant | None = None,
    ) -> UploadCommit:
        """Store an upload once: one revision per date, unless it is stored already.

        Whether the same file was stored for the same claimant with the same mapping,
        and not reverted in full, is decided inside the write transaction that would
        insert it, so writers racing with the same upload store it once.

        Parameters
        ----------
        batches : sequence of (datetime.date, geopandas.GeoDataFrame)
            The polygons of each date (one batch per date), as for :meth:`commit`.
        who, claimant, mode, source, licence, file_name, file_sha256 : str
            As for :meth:`commit`.
        mapping : str
            How the features were read, as JSON: with the file's hash and the claimant,
            what makes two uploads the same.
        new_claimant : Claimant, optional
            Register this claimant with the first revision (refused if the id exists).

        Returns
        -------
        UploadCommit
            The new revisions; or the live revisions holding the upload, with
            ``existing`` set (then nothing was written).

        Raises
        ------
        StoreError
            When anything is unacceptable, the store is read-only or the write fails;
            then nothing is stored.
        """
        if not mapping:
            msg = f"upload {file_name!r}: an upload needs its mapping"
            raise StoreError(msg)
        return self._write(
            batches,
            who=who,
            claimant=claimant,
            mode=mode,
            source=source,
            licence=licence,
            file_name=file_name,
            file_sha256=file_sha256,
            mapping=mapping,
            new_claimant=new_claimant,
        )

    def _write(
        self,
        batches: Sequence[tuple[dt.date, gpd.GeoDataFrame]],
        *,
        who: str,
        claimant: str,
        mode: str,
        source: str,
        licence: str,
        file_name: str,
        file_sha256: str,
        mapping: str,
        new_claimant: Claimant | None,
    ) -> UploadCommit:
        if mode not in ("snapshot", "patch"):
            msg = f"unknown mode {mode!r}; expected snapshot or patch"
            raise StoreError(msg)
        rows = [(date, self._prepare(polygons)) for date, polygons in batches]
        if not rows:
            msg = "a commit needs at least one date's polygons"
            raise StoreError(msg)
        days = [date for date, _ in rows]
        if mapping and len(set(days)) < len(days):
            twice = sorted(d.isoformat() for d in days if days.count(d) > 1)[0]
            msg = f"upload {file_name!r}: more than one batch for {twice}"
            raise StoreError(msg)
        revisions: list[Revision] = []
        with self._connection(write=True) as con:
            con.execute("BEGIN IMMEDIATE")
            self._upgrade(con)
            if mapping:
                live = _live(con, file_sha256, claimant, mapping)
                if live:
                    con.execute("ROLLBACK")
                    return UploadCommit(tuple(live), existing=True)
            if new_claimant is not None:
                known = con.execute(
                    "SELECT 1 FROM claimants WHERE claimant_id = ?", (new_claimant.claimant_id,)
                ).fetchone()
                if known:
                    con.execute("ROLLBACK")
                    msg = f"claimant {new_claimant.claimant_id!r} is already registered"
                    raise StoreError(msg)
            for date, (geo, multi, area) in rows:
                draft = Revision(
                    0, _now(), who, claimant, date.isoformat(), mode, source, licence,
                    file_name, file_sha256, len(geo), area, None, mapping,
                )  # fmt: skip
                rev = _append_revision(con, draft)
                revisions.append(rev)
                labels = geo["label"] if "label" in geo else [""] * len(geo)
                props = geo["properties"] if "properties" in geo else ["{}"] * len(geo)
                con.executemany(
                    "INSERT INTO control_polygons (geom, revision_id, claimant, date, side, "
                    "mode, label, properties) VALUES (?,?,?,?,?,?,?,?)",
                    [
                        (_gpkg_blob(g), rev.revision_id, claimant, rev.date, str(side), mode,
                         str(label or ""), str(prop or "{}"))
                        for g, side, label, prop in zip(
                            multi, geo["side"], labels, props, strict=True
                        )
                    ],
                )  # fmt: skip
            if new_claimant is not None:
                con.execute(
                    "INSERT INTO claimants VALUES (?,?,?,?,?,?)",
                    (*astuple(new_claimant), revisions[0].revision_id),
                )
            con.execute("COMMIT")
        return UploadCommit(tuple(revisions), existing=False)

    @staticmethod
    def _prepare(
        polygons: gpd.GeoDataFrame,
    ) -> tuple[gpd.GeoDataFrame, list[shapely.MultiPolygon], float]:
        if polygons.crs is None:
            msg = "polygons have no CRS"
            raise StoreError(msg)
        geo = polygons.to_crs(settings.GEO_CRS)
        kinds = set(geo.geom_type)
        if not kinds <= {"Polygon", "MultiPolygon"} or len(geo) == 0:
            msg = f"a revision needs polygons; got {sorted(kinds) or 'nothing'}"
            raise StoreError(msg)
        area = float(geo.to_crs(settings.EQUAL_AREA_CRS).area.sum() / 1e6)
        multi = [
            g if g.geom_type == "MultiPolygon" else shapely.MultiPolygon([g]) for g in geo.geometry
        ]
        return geo, multi, area

    def revert(self, revision_id: int, *, who: str) -> Revision:
        """Append a revision that reverts an earlier one (nothing is deleted).

        Parameters
        ----------
        revision_id : int
            The revision to revert.
        who : str
            Who reverts it.

        Returns
        -------
        Revision
            The new revision.

        Raises
        ------
        StoreError
            When the id is out of range, the revision does not exist, is a revert, or is
            already reverted, or the store is read-only.
        """
        if not 0 < revision_id <= MAX_REVISION_ID:
            msg = f"bad revision id {revision_id!r}: expected 1 to {MAX_REVISION_ID}"
            raise StoreError(msg)
        unknown = f"revision {revision_id!r} cannot be reverted (unknown, a revert, or done)"
        if not self.path.exists():
            raise StoreError(unknown)
        with self._connection(write=True) as con:
            con.execute("BEGIN IMMEDIATE")
            if "revisions" not in {row[0] for row in con.execute("SELECT name FROM sqlite_master")}:
                con.execute("ROLLBACK")
                raise StoreError(unknown)
            self._upgrade(con)
            row = con.execute(
                "SELECT claimant, date, mode FROM revisions WHERE revision_id = ?",
                (revision_id,),
            ).fetchone()
            done = con.execute(
                "SELECT 1 FROM revisions WHERE reverts = ?", (revision_id,)
            ).fetchone()
            if row is None or row[2] == "revert" or done:
                con.execute("ROLLBACK")
                raise StoreError(unknown)
            draft = Revision(
                0, _now(), who, row[0], row[1], "revert", "", "", "", "", 0, 0.0, revision_id, ""
            )
            rev = _append_revision(con, draft)
            con.execute("COMMIT")
        return rev

    def revisions(self, claimant: str | None = None) -> list[Revision]:
        """All revisions, oldest first, optionally of one claimant.

        Parameters
        ----------
        claimant : str, optional
            Keep only this claimant's.

        Returns
        -------
        list of Revision
            The revisions (none for a store that does not exist yet).
        """
        with self._reading() as con:
            if con is None:
                return []
            query = _select_revisions(con)
            args: tuple[str, ...] = ()
            if claimant is not None:
                query += " WHERE claimant = ?"
                args = (claimant,)
            rows = con.execute(query + " ORDER BY revision_id", args).fetchall()
        return [Revision(*row) for row in rows]

    def find(self, file_sha256: str, claimant: str, mapping: str) -> list[Revision]:
        """Live (not reverted) revisions made from the same file, claimant and mapping.

        Use :meth:`commit_upload` to store an upload: it asks the same question inside
        its write transaction.

        Parameters
        ----------
        file_sha256 : str
            The file's content hash.
        claimant : str
            The claimant.
        mapping : str
            The mapping JSON.

        Returns
        -------
        list of Revision
            Oldest first; empty when this upload is new.
        """
        with self._reading() as con:
            return [] if con is None else _live(con, file_sha256, claimant, mapping)

    def claimants(self) -> dict[str, Claimant]:
        """Claimants registered by uploads.

        Returns
        -------
        dict of str to Claimant
            Keyed by id, in registration order.
        """
        with self._reading() as con:
            rows = (
                []
                if con is None
                else con.execute(
                    "SELECT claimant_id, name, description, affiliation, licence FROM claimants "
                    "ORDER BY revision_id"
                ).fetchall()
            )
        return {r[0]: Claimant(*r) for r in rows}

    def polygons(self) -> gpd.GeoDataFrame:
        """Polygons of every revision that has not been reverted.

        A polygon whose stored geometry cannot be read (a damaged file, an edit made
        outside Frontline) is skipped with a :class:`StoreWarning` naming its revision
        and row; the others are read.

        Returns
        -------
        geopandas.GeoDataFrame
            ``revision_id``, ``claimant``, ``date``, ``side``, ``mode``, ``label``,
            ``properties`` (JSON text), geometry (EPSG:4326), in commit order.
        """
        with self._reading() as con:
            rows = (
                []
                if con is None
                else con.execute(
                    "SELECT p.fid, p.geom, p.revision_id, p.claimant, p.date, p.side, p.mode, "
                    "p.label, p.properties "
                    "FROM control_polygons p WHERE p.revision_id NOT IN "
                    "(SELECT reverts FROM revisions WHERE reverts IS NOT NULL) ORDER BY p.fid"
                ).fetchall()
            )
        kept, geoms = [], []
        for row in rows:
            try:
                geoms.append(_from_blob(row[1]))
            except ValueError as e:
                msg = (
                    f"store {str(self.path)!r}: revision {row[2]!r}, polygon fid {row[0]!r}: "
                    f"{e}; skipped"
                )
                warnings.warn(msg, StoreWarning, stacklevel=2)
                continue
            kept.append(row)
        cols = ["revision_id", "claimant", "date", "side", "mode", "label", "properties"]
        data = {c: [r[i + 2] for r in kept] for i, c in enumerate(cols)}
        return gpd.GeoDataFrame(data, geometry=np.array(geoms, dtype=object), crs=settings.GEO_CRS)

    def fingerprint(self) -> str:
        """A hash of the revision history (changes whenever a revision is committed).

        The history is append-only, so its newest revision identifies all of it: one
        indexed row is read, whatever the history's length.

        Returns
        -------
        str
            16 hex digits.
        """
        with self._reading() as con:
            newest = (
                None
                if con is None
                else con.execute(
                    "SELECT revision_id, committed_at FROM revisions "
                    "ORDER BY revision_id DESC LIMIT 1"
                ).fetchone()
            )
        return hashlib.sha256(f"{self.path} {newest}".encode()).hexdigest()[:16]


def content_hash(data: bytes) -> str:
    """SHA-256 of uploaded bytes (the same file twice has the same hash).

    Parameters
    ----------
    data : bytes
        The file's bytes.

    Returns
    -------
    str
        Hex digest.
    """
    return hashlib.sha256(data).hexdigest()


def open_store(location: str | None = None, *, read_only: bool = False) -> GeoPackageStore:
    """Open the store at a location (a file path; PostGIS URLs come with a later backend).

    Parameters
    ----------
    location : str, optional
        Path of a ``.gpkg`` file or a ``postgresql://`` URL; default
        :func:`pipeline.settings.store_location`.
    read_only : bool, default False
        Never write (see :class:`GeoPackageStore`).

    Returns
    -------
    GeoPackageStore
        The store; a missing file is created by the first commit, not here.

    Raises
    ------
    InputError
        For a ``postgresql://`` URL (that backend is not built yet) or a non-``.gpkg`` path.
    """
    where = location or settings.store_location()
    if where.startswith(_POSTGIS):
        msg = f"store {where.split('@')[-1]!r}: the PostGIS backend is not available yet"
        raise InputError(msg)
    if not where.endswith(".gpkg"):
        msg = f"store {where!r}: expected a .gpkg file path"
        raise InputError(msg)
    return GeoPackageStore(Path(where), read_only=read_only)


def existing_store(location: str | None = None) -> GeoPackageStore | None:
    """The store, or None when its file does not exist yet: reading never creates one.

    Parameters
    ----------
    location : str, optional
        As for :func:`open_store`.

    Returns
    -------
    GeoPackageStore or None
        The store, if there is one.
    """
    where = location or settings.store_location()
    if not where.startswith(_POSTGIS) and not Path(where).exists():
        return None
    return open_store(where)

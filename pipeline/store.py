"""Store: uploaded control polygons with an append-only revision history.

The default backend is a GeoPackage file (it opens in QGIS) written through SQLite
transactions: WAL journal, a busy timeout, ``BEGIN IMMEDIATE`` per commit, and never a
rewrite of the file. A revision is never changed or deleted; reverting one appends a new
revision that marks it reverted. The interface is small so that a PostGIS backend can
follow with the same tests.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import astuple, dataclass, replace
from pathlib import Path
from typing import Protocol

import geopandas as gpd
import numpy as np
import shapely

from pipeline import settings
from pipeline.claims import Claimant
from pipeline.errors import FrontlineError, InputError

GPKG_APPLICATION_ID = 0x47504B47  # "GPKG"
GPKG_USER_VERSION = 10300  # GeoPackage 1.3
SRS_ID = 4326
_POSTGIS = ("postgresql://", "postgres://")
MODES = ("snapshot", "patch", "revert")


class StoreError(FrontlineError):
    """The store could not be read or written; nothing was committed."""


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
        same file with the same mapping is never stored twice.
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


class Store(Protocol):
    """What every backend offers (GeoPackage now, PostGIS later)."""

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


def _append_revision(con: sqlite3.Connection, draft: Revision) -> Revision:
    """Insert a revision (its ``revision_id`` is ignored) and return it with its id."""
    cur = con.execute(
        "INSERT INTO revisions (committed_at, who, claimant, date, mode, source, licence, "
        "file_name, file_sha256, features, area_km2, reverts, mapping) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        astuple(draft)[1:],
    )
    return replace(draft, revision_id=int(cur.lastrowid or 0))


def _gpkg_blob(geom: shapely.Geometry) -> bytes:
    """GeoPackage binary geometry: header, xy envelope, little-endian WKB."""
    minx, miny, maxx, maxy = (float(v) for v in shapely.bounds(geom))
    header = b"GP" + bytes([0, 0b00000011]) + struct.pack("<i", SRS_ID)
    envelope = struct.pack("<4d", minx, maxx, miny, maxy)
    return header + envelope + shapely.to_wkb(geom, byte_order=1)


def _from_blob(blob: bytes) -> shapely.Geometry:
    flags = blob[3]
    envelope = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[(flags >> 1) & 0b111]
    return shapely.from_wkb(blob[8 + envelope :])


_SCHEMA = """
CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE IF NOT EXISTS gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '', last_change DATETIME NOT NULL
    DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER);
CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name));
CREATE TABLE IF NOT EXISTS revisions (
  revision_id INTEGER PRIMARY KEY AUTOINCREMENT, committed_at TEXT NOT NULL,
  who TEXT NOT NULL, claimant TEXT NOT NULL, date TEXT NOT NULL, mode TEXT NOT NULL,
  source TEXT NOT NULL, licence TEXT NOT NULL, file_name TEXT NOT NULL,
  file_sha256 TEXT NOT NULL, features INTEGER NOT NULL, area_km2 REAL NOT NULL,
  reverts INTEGER REFERENCES revisions(revision_id), mapping TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS control_polygons (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, geom MULTIPOLYGON NOT NULL,
  revision_id INTEGER NOT NULL REFERENCES revisions(revision_id),
  claimant TEXT NOT NULL, date TEXT NOT NULL, side TEXT NOT NULL, mode TEXT NOT NULL,
  label TEXT NOT NULL DEFAULT '', properties TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS claimants (
  claimant_id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL,
  affiliation TEXT NOT NULL, licence TEXT NOT NULL,
  revision_id INTEGER NOT NULL REFERENCES revisions(revision_id));
CREATE TRIGGER IF NOT EXISTS claimants_append_only_update BEFORE UPDATE ON claimants
  BEGIN SELECT RAISE(ABORT, 'claimants are append-only'); END;
CREATE TRIGGER IF NOT EXISTS claimants_append_only_delete BEFORE DELETE ON claimants
  BEGIN SELECT RAISE(ABORT, 'claimants are append-only'); END;
CREATE TRIGGER IF NOT EXISTS polygons_append_only_update BEFORE UPDATE ON control_polygons
  BEGIN SELECT RAISE(ABORT, 'polygons are append-only'); END;
CREATE TRIGGER IF NOT EXISTS revisions_append_only_update BEFORE UPDATE ON revisions
  BEGIN SELECT RAISE(ABORT, 'revisions are append-only'); END;
CREATE TRIGGER IF NOT EXISTS revisions_append_only_delete BEFORE DELETE ON revisions
  BEGIN SELECT RAISE(ABORT, 'revisions are append-only'); END;
CREATE TRIGGER IF NOT EXISTS polygons_append_only_delete BEFORE DELETE ON control_polygons
  BEGIN SELECT RAISE(ABORT, 'polygons are append-only'); END;
"""

_WGS84 = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
    'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433],AUTHORITY["EPSG","4326"]]'
)


class GeoPackageStore:
    """The store as a GeoPackage file, written only through SQLite transactions.

    Parameters
    ----------
    path : pathlib.Path
        The ``.gpkg`` file; created (with its folder) if missing.
    busy_timeout_ms : int, default 30000
        How long a writer waits for another to finish.
    """

    def __init__(self, path: Path, busy_timeout_ms: int = 30_000) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            # Idempotent DDL first (executescript would end an open transaction), then the
            # metadata rows in one transaction; a store that has them is only read, so
            # opening one (the app does on every rerun) never writes.
            tables = con.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                "('revisions', 'control_polygons', 'claimants', 'gpkg_contents')"
            ).fetchone()[0]
            if tables == 4:
                return
            con.executescript(_SCHEMA)
            con.execute("BEGIN IMMEDIATE")
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
            for table in ("revisions", "claimants"):
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
            con.execute("COMMIT")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            con = sqlite3.connect(
                self.path, timeout=self.busy_timeout_ms / 1000, isolation_level=None
            )
        except sqlite3.Error as e:
            msg = f"store {str(self.path)!r} cannot be opened: {e}"
            raise StoreError(msg) from e
        try:
            con.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
            con.execute("PRAGMA journal_mode = WAL")
            con.execute("PRAGMA synchronous = FULL")
            con.execute("PRAGMA foreign_keys = ON")
            yield con
        except sqlite3.Error as e:
            if con.in_transaction:
                con.execute("ROLLBACK")
            msg = f"store {str(self.path)!r}: nothing was written ({e})"
            raise StoreError(msg) from e
        finally:
            con.close()

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
            When the polygons or the mode are unacceptable, or the write fails; then
            nothing is stored.
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
            How the features were read, as JSON (see :attr:`Revision.mapping`).
        new_claimant : Claimant, optional
            Register this claimant with the first revision (refused if the id exists).

        Returns
        -------
        list of Revision
            The committed revisions, in the order of ``batches``.

        Raises
        ------
        StoreError
            When anything is unacceptable or the write fails; then nothing is stored.
        """
        if mode not in ("snapshot", "patch"):
            msg = f"unknown mode {mode!r}; expected snapshot or patch"
            raise StoreError(msg)
        rows = [(date, self._prepare(polygons)) for date, polygons in batches]
        if not rows:
            msg = "a commit needs at least one date's polygons"
            raise StoreError(msg)
        revisions: list[Revision] = []
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
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
                known = con.execute(
                    "SELECT 1 FROM claimants WHERE claimant_id = ?", (new_claimant.claimant_id,)
                ).fetchone()
                if known:
                    con.execute("ROLLBACK")
                    msg = f"claimant {new_claimant.claimant_id!r} is already registered"
                    raise StoreError(msg)
                con.execute(
                    "INSERT INTO claimants VALUES (?,?,?,?,?,?)",
                    (*astuple(new_claimant), revisions[0].revision_id),
                )
            con.execute("COMMIT")
        return revisions

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
            When the revision does not exist, is a revert, or is already reverted.
        """
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            row = con.execute(
                "SELECT claimant, date, mode FROM revisions WHERE revision_id = ?",
                (revision_id,),
            ).fetchone()
            done = con.execute(
                "SELECT 1 FROM revisions WHERE reverts = ?", (revision_id,)
            ).fetchone()
            if row is None or row[2] == "revert" or done:
                con.execute("ROLLBACK")
                msg = f"revision {revision_id!r} cannot be reverted (unknown, a revert, or done)"
                raise StoreError(msg)
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
            The revisions.
        """
        query = "SELECT * FROM revisions"
        args: tuple[str, ...] = ()
        if claimant is not None:
            query += " WHERE claimant = ?"
            args = (claimant,)
        with self._connect() as con:
            rows = con.execute(query + " ORDER BY revision_id", args).fetchall()
        return [Revision(*row) for row in rows]

    def find(self, file_sha256: str, claimant: str, mapping: str) -> list[Revision]:
        """Live (not reverted) revisions made from the same file, claimant and mapping.

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
        with self._connect() as con:
            rows = con.execute(
                "SELECT * FROM revisions WHERE file_sha256 = ? AND claimant = ? AND mapping = ? "
                "AND mode != 'revert' AND revision_id NOT IN "
                "(SELECT reverts FROM revisions WHERE reverts IS NOT NULL) ORDER BY revision_id",
                (file_sha256, claimant, mapping),
            ).fetchall()
        return [Revision(*row) for row in rows]

    def claimants(self) -> dict[str, Claimant]:
        """Claimants registered by uploads.

        Returns
        -------
        dict of str to Claimant
            Keyed by id, in registration order.
        """
        with self._connect() as con:
            rows = con.execute(
                "SELECT claimant_id, name, description, affiliation, licence FROM claimants "
                "ORDER BY revision_id"
            ).fetchall()
        return {r[0]: Claimant(*r) for r in rows}

    def polygons(self) -> gpd.GeoDataFrame:
        """Polygons of every revision that has not been reverted.

        Returns
        -------
        geopandas.GeoDataFrame
            ``revision_id``, ``claimant``, ``date``, ``side``, ``mode``, ``label``,
            ``properties`` (JSON text), geometry (EPSG:4326), in commit order.
        """
        with self._connect() as con:
            rows = con.execute(
                "SELECT p.geom, p.revision_id, p.claimant, p.date, p.side, p.mode, p.label, "
                "p.properties "
                "FROM control_polygons p WHERE p.revision_id NOT IN "
                "(SELECT reverts FROM revisions WHERE reverts IS NOT NULL) ORDER BY p.fid"
            ).fetchall()
        geoms = np.array([_from_blob(r[0]) for r in rows], dtype=object)
        cols = ["revision_id", "claimant", "date", "side", "mode", "label", "properties"]
        data = {c: [r[i + 1] for r in rows] for i, c in enumerate(cols)}
        return gpd.GeoDataFrame(data, geometry=geoms, crs=settings.GEO_CRS)

    def fingerprint(self) -> str:
        """A hash of the revision history (changes whenever a revision is committed).

        The history is append-only, so its newest revision identifies all of it: one
        indexed row is read, whatever the history's length.

        Returns
        -------
        str
            16 hex digits.
        """
        with self._connect() as con:
            newest = con.execute(
                "SELECT revision_id, committed_at FROM revisions ORDER BY revision_id DESC LIMIT 1"
            ).fetchone()
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


def open_store(location: str | None = None) -> GeoPackageStore:
    """Open the store at a location (a file path; PostGIS URLs come with a later backend).

    Parameters
    ----------
    location : str, optional
        Path of a ``.gpkg`` file or a ``postgresql://`` URL; default
        :func:`pipeline.settings.store_location`.

    Returns
    -------
    GeoPackageStore
        The store (created when missing).

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
    return GeoPackageStore(Path(where))


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

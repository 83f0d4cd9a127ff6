"""The store under attack and damage: racing writers, read-only files, stray files, bad rows.

Each test reproduces one finding of the security review and checks that it now ends in
one clean refusal or a correct result.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import multiprocessing
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import mapping

from pipeline import cli, ingest
from pipeline.build import Theatre
from pipeline.ingest import Mapping
from pipeline.store import (
    MAX_REVISION_ID,
    GeoPackageStore,
    Revision,
    StoreError,
    StoreWarning,
    UploadCommit,
    _gpkg_blob,
)
from tests.conftest import deepstate_style_geojson

D = dt.date(2024, 8, 20)
D2 = dt.date(2024, 8, 27)
PROVENANCE: dict[str, Any] = {
    "who": "tester",
    "claimant": "ua-gs",
    "source": "test",
    "licence": "CC0",
    "file_name": "t.geojson",
    "file_sha256": "a" * 64,
}
UPLOAD_KEY = '{"m": 1}'
INGEST = ["--side-from", "name", "--map", "Liberated=UA", "--map", "Occupied=RU"]
NEW_CLAIMANT = ["--name", "My team", "--affiliation", "independent", "--licence", "CC0-1.0"]
EVIL = "\x1b[2J\r\x1b]0;pwned\x07\x9b31m"
"""Clears the screen, returns the carriage, retitles the window, recolours (8-bit CSI)."""


def _polys(n: int = 2) -> gpd.GeoDataFrame:
    geoms = [shapely.Point(35.2 + i * 0.05, 51.2).buffer(0.02) for i in range(n)]
    return gpd.GeoDataFrame({"side": ["UA"] * n}, geometry=geoms, crs="EPSG:4326")


def _upload(store: GeoPackageStore, *days: dt.date) -> UploadCommit:
    return store.commit_upload(
        [(day, _polys()) for day in days or (D,)], mode="snapshot", mapping=UPLOAD_KEY, **PROVENANCE
    )


def _ids(revisions: Iterable[Revision]) -> list[int]:
    return [r.revision_id for r in revisions]


def _state(folder: Path) -> list[tuple[str, int, int]]:
    return [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in sorted(folder.iterdir())]


def _controls(text: str) -> set[str]:
    return {c for c in text if (ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0}


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI in this process (the theatre is loaded once): exit code, stdout, stderr."""
    capsys.readouterr()
    out = io.StringIO()
    try:
        code = cli.main(list(args), out=out)
    except SystemExit as e:  # argparse refusing an argument
        code = int(e.code or 0)
    return code, out.getvalue(), capsys.readouterr().err


def _one_line(err: str) -> str:
    """The error line (argparse puts its usage above it); no traceback."""
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def _two_dates() -> bytes:
    features = [
        {"type": "Feature", "properties": {"day": day}, "geometry": mapping(geom)}
        for day, geom in (
            (D.isoformat(), shapely.box(35.21, 51.13, 35.33, 51.25)),
            (D2.isoformat(), shapely.box(35.15, 51.10, 35.35, 51.28)),
        )
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


# --- 1. one upload, stored once ----------------------------------------------------------


def test_an_upload_is_stored_again_only_once_all_of_it_is_reverted(tmp_path: Path) -> None:
    store = GeoPackageStore(tmp_path / "s.gpkg")
    first = _upload(store, D, D2)  # one revision per date, sharing the file's hash
    assert (first.existing, _ids(first.revisions)) == (False, [1, 2])
    again = _upload(store, D, D2)
    assert (again.existing, _ids(again.revisions)) == (True, [1, 2])
    store.revert(1, who="t")  # half of it is still live: still stored
    assert _ids(_upload(store, D, D2).revisions) == [2]
    store.revert(2, who="t")
    third = _upload(store, D, D2)
    assert (third.existing, _ids(third.revisions)) == (False, [5, 6])
    assert _keys(store.path) == [(1, 0), (2, 0), (5, 1), (6, 1)]
    with pytest.raises(StoreError, match=r"already stored as revision\(s\) \[5, 6\]"):
        store.commit_batch([(D, _polys())], mode="snapshot", mapping=UPLOAD_KEY, **PROVENANCE)
    with pytest.raises(StoreError, match="more than one batch for 2024-08-20"):
        store.commit_upload(
            [(D, _polys()), (D, _polys(1))], mode="patch", mapping='{"m": 2}', **PROVENANCE
        )
    with pytest.raises(StoreError, match="an upload needs its mapping"):
        store.commit_upload([(D, _polys())], mode="patch", mapping="", **PROVENANCE)
    assert len(store.revisions()) == 6


def _keys(path: Path) -> list[tuple[int, int]]:
    con = sqlite3.connect(path)
    keys = con.execute("SELECT revision_id, generation FROM upload_keys ORDER BY 1").fetchall()
    con.close()
    return keys


COPY = (  # what a writer that does not ask first (an older Frontline, a script) inserts
    "INSERT INTO revisions (committed_at, who, claimant, date, mode, source, licence, "
    "file_name, file_sha256, features, area_km2, reverts, mapping) SELECT committed_at, who, "
    "claimant, date, mode, source, licence, file_name, file_sha256, features, area_km2, "
    "reverts, mapping FROM revisions WHERE revision_id = ?"
)


def test_the_upload_key_holds_for_a_writer_that_skips_the_check(tmp_path: Path) -> None:
    path = tmp_path / "s.gpkg"
    store = GeoPackageStore(path)
    _upload(store, D, D2)
    con = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE constraint failed: upload_keys"):
        con.execute(COPY, (2,))
    assert _ids(store.revisions()) == [1, 2]
    store.revert(2, who="t")
    con.execute(COPY, (2,))  # once reverted, the same date of the upload can be stored again
    con.close()
    assert _keys(path) == [(1, 0), (2, 0), (4, 1)]


def _commit_when_told(
    path: Path,
    draft: ingest.Draft,
    go: Any,
    ready: multiprocessing.Queue[int],
    results: multiprocessing.Queue[tuple[list[int], list[int], str]],
) -> None:
    go.wait(60)
    try:
        store = GeoPackageStore(path)
        ready.put(os.getpid())
        revisions = ingest.commit(store, draft, who="w", source="fixture", licence="CC0")
        results.put((_ids(revisions), draft.report.existing, ""))
    except Exception as e:  # reported, so that the test fails with the reason
        results.put(([], [], repr(e)))


def test_ingests_waiting_for_the_write_lock_store_the_upload_once(
    kursk: Theatre, tmp_path: Path
) -> None:
    path = tmp_path / "s.gpkg"
    GeoPackageStore(path).commit(_polys(1), mode="patch", date=D, **PROVENANCE)
    mapped = Mapping("ua-gs", date=D, side_field="name", patterns=(("Liberated", "UA"),))
    draft = ingest.ingest_bytes(deepstate_style_geojson(), "ds.geojson", mapped, kursk)
    ctx = multiprocessing.get_context("fork")  # the workers inherit the draft
    go = ctx.Event()
    ready: multiprocessing.Queue[int] = ctx.Queue()
    results: multiprocessing.Queue[tuple[list[int], list[int], str]] = ctx.Queue()
    workers = [
        ctx.Process(target=_commit_when_told, args=(path, draft, go, ready, results))
        for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another connection holds the write lock
        go.set()
        for _ in workers:
            ready.get(timeout=60)  # each opened the store and is committing
        time.sleep(0.5)  # room to reach BEGIN IMMEDIATE and wait there
        assert results.empty()  # no commit can finish while the lock is held
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    outcomes = sorted(results.get(timeout=60) for _ in workers)
    for worker in workers:
        worker.join(60)
    assert outcomes == [([], [2], ""), ([], [2], ""), ([2], [], "")]
    assert _ids(GeoPackageStore(path).revisions()) == [1, 2]


def test_racing_ingests_of_one_file_store_it_once(kursk: Theatre, tmp_path: Path) -> None:
    # Six processes commit one two-date upload, with a new claimant, at once.
    path = tmp_path / "new" / "s.gpkg"  # the racers create the store, too
    mapped = Mapping("my-team", date_field="day", side="UA")
    mine = ingest.new_claimant("my-team", "My team", "independent", "CC0-1.0")
    draft = ingest.ingest_bytes(_two_dates(), "two.geojson", mapped, kursk, claimant=mine)
    ctx = multiprocessing.get_context("fork")
    go = ctx.Event()
    ready: multiprocessing.Queue[int] = ctx.Queue()
    results: multiprocessing.Queue[tuple[list[int], list[int], str]] = ctx.Queue()
    racers = [
        ctx.Process(target=_commit_when_told, args=(path, draft, go, ready, results))
        for _ in range(6)
    ]
    for racer in racers:
        racer.start()
    go.set()
    outcomes = sorted(results.get(timeout=120) for _ in racers)
    for racer in racers:
        racer.join(60)
    assert outcomes == [*[([], [1, 2], "")] * 5, ([1, 2], [], "")]
    store = GeoPackageStore(path)
    assert [r.date for r in store.revisions()] == [D.isoformat(), D2.isoformat()]
    assert _keys(path) == [(1, 0), (2, 0)]
    assert list(store.claimants()) == ["my-team"]


def _legacy_store(path: Path) -> None:
    """A store as Frontline wrote it before upload keys: an upload (1), reverted (2),
    stored again (3), and the copy of it that a race stored (4)."""
    store = GeoPackageStore(path)
    _upload(store)
    store.revert(1, who="t")
    _upload(store)
    con = sqlite3.connect(path, isolation_level=None)
    for trigger in ("revisions_upload_key", "upload_keys_append_only_update"):
        con.execute(f"DROP TRIGGER {trigger}")
    con.execute("DROP TRIGGER upload_keys_append_only_delete")
    con.execute("DROP TABLE upload_keys")
    con.execute("DELETE FROM gpkg_contents WHERE table_name = 'upload_keys'")
    con.execute(COPY, (3,))
    con.execute(
        "INSERT INTO control_polygons (geom, revision_id, claimant, date, side, mode, label, "
        "properties) SELECT geom, 4, claimant, date, side, mode, label, properties "
        "FROM control_polygons WHERE revision_id = 3"
    )
    con.close()


def _names(path: Path) -> set[str]:
    con = sqlite3.connect(path)
    names = {row[0] for row in con.execute("SELECT name FROM sqlite_master")}
    con.close()
    return names


def test_an_old_store_is_upgraded_once_and_keeps_its_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "s.gpkg"
    _legacy_store(path)
    old = GeoPackageStore(path, read_only=True)  # read as it is, not upgraded
    assert _ids(old.revisions()) == [1, 2, 3, 4]
    assert "upload_keys" not in _names(path)
    with pytest.warns(StoreWarning, match=r"revision\(s\) \[4\] repeat an upload .* history$"):
        store = GeoPackageStore(path)
    assert {"upload_keys", "revisions_upload_key"} <= _names(path)
    assert _keys(path) == [(1, 0), (3, 1)]  # the repeat stays in the history, unkeyed
    assert len(store.polygons()) == 4
    again = _upload(store)
    assert (again.existing, _ids(again.revisions)) == (True, [3, 4])
    before = _state(tmp_path)
    time.sleep(0.01)
    GeoPackageStore(path).fingerprint()  # up to date: opening it writes nothing
    assert _state(tmp_path) == before
    store.revert(3, who="t")
    store.revert(4, who="t")
    assert _ids(_upload(store).revisions) == [7]
    assert _keys(path)[-1] == (7, 2)


# --- 2. a store that cannot be written is still read ------------------------------------


def test_a_read_only_store_reads_and_refuses_every_write(tmp_path: Path) -> None:
    # Tests run as root, for whom file modes stop nothing: this asks for read-only.
    path = tmp_path / "s.gpkg"
    (rev,) = _upload(GeoPackageStore(path)).revisions
    data = path.read_bytes()
    store = GeoPackageStore(path, read_only=True)
    assert store.read_only
    assert store.revisions() == [rev]
    assert store.find(rev.file_sha256, rev.claimant, UPLOAD_KEY) == [rev]
    assert len(store.polygons()) == 2
    assert store.claimants() == {}
    assert store.fingerprint() == GeoPackageStore(path).fingerprint()
    for write in (
        lambda: _upload(store, D2),
        lambda: store.commit(_polys(), mode="patch", date=D2, **PROVENANCE),
        lambda: store.revert(1, who="t"),
    ):
        with pytest.raises(StoreError, match=r"^store '.*s\.gpkg' is read-only: nothing was"):
            write()
    assert path.read_bytes() == data
    missing = GeoPackageStore(tmp_path / "none" / "s.gpkg", read_only=True)
    assert (missing.revisions(), len(missing.polygons())) == ([], 0)
    assert not (tmp_path / "none").exists()


@contextmanager
def _immutable(*paths: Path) -> Iterator[None]:
    """Make files and folders immutable (``chattr +i``): then not even root writes them."""
    if shutil.which("chattr") is None:
        pytest.skip("no chattr here")
    done: list[Path] = []
    try:
        for p in paths:
            res = subprocess.run(["chattr", "+i", str(p)], capture_output=True, check=False)
            if res.returncode:
                pytest.skip(f"chattr +i is not possible here: {res.stderr.decode().strip()}")
            done.append(p)
        yield
    finally:
        for p in reversed(done):
            subprocess.run(["chattr", "-i", str(p)], check=True)


def test_an_immutable_store_is_read_by_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "ro"
    path = folder / "s.gpkg"
    GeoPackageStore(path).commit(_polys(), mode="patch", date=D, **PROVENANCE)
    upload = tmp_path / "ds.geojson"
    upload.write_bytes(deepstate_style_geojson())
    assert [f.name for f in folder.iterdir()] == ["s.gpkg"]  # closed cleanly: no -wal
    data = path.read_bytes()
    ingest_args = ["ingest", str(upload), "--claimant", "ua-gs", "--date", "2024-08-20", *INGEST]
    ingest_args += ["--source", "s", "--licence", "l"]
    with _immutable(path, folder):
        with pytest.raises(PermissionError):
            path.open("ab")  # what the test proves: the file cannot be written, even by root
        assert GeoPackageStore(path).read_only
        code, out, err = _cli(capsys, "--store", str(path), "revisions", "--format", "json")
        assert (code, [r["revision_id"] for r in json.loads(out)]) == (0, [1]), err
        on = ["--on", "2024-08-25", "--claimant", "ua-gs", "--side", "UA"]
        code, out, err = _cli(capsys, "--store", str(path), "area", *on)
        assert code == 0, err
        assert float(out.strip().splitlines()[-1]) > 0
        code, out, err = _cli(capsys, "--store", str(path), *ingest_args, "--dry-run")
        assert (code, out.strip().splitlines()[-1]) == (0, "note: dry run: nothing stored"), err
        for args in (ingest_args, ["revert", "1"]):
            code, out, err = _cli(capsys, "--store", str(path), *args)
            assert code == 2
            refusal = f"frontline: error: store {str(path)!r} is read-only: nothing was written"
            assert err.startswith(refusal)
            assert err.count("\n") == 1
    assert path.read_bytes() == data
    assert [f.name for f in folder.iterdir()] == ["s.gpkg"]


def test_an_immutable_store_with_its_write_ahead_log_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "s.gpkg"
    store = GeoPackageStore(path)
    store.commit(_polys(), mode="patch", date=D, **PROVENANCE)
    keeper = sqlite3.connect(path)  # while it is open, the WAL is not folded into the file
    keeper.execute("SELECT count(*) FROM revisions").fetchone()
    store.commit(_polys(1), mode="patch", date=D2, **PROVENANCE)
    # What a writer that died (or another user's open connection) leaves: the file, its
    # write-ahead log holding revision 2, and the log's -shm index; copied, so that no
    # connection of this process shares them.
    crashed, stray = tmp_path / "crashed", tmp_path / "stray"
    for folder, suffixes in ((crashed, ("", "-wal", "-shm")), (stray, ("", "-wal"))):
        folder.mkdir()
        for suffix in suffixes:
            shutil.copy2(f"{path}{suffix}", folder / f"s.gpkg{suffix}")
    keeper.close()
    frozen = [*crashed.iterdir(), crashed, *stray.iterdir(), stray]
    with _immutable(*frozen):
        uri = f"{(crashed / 's.gpkg').absolute().as_uri()}?mode=ro&immutable=1"
        main_file_only = sqlite3.connect(uri, uri=True)
        assert main_file_only.execute("SELECT count(*) FROM revisions").fetchone() == (1,)
        main_file_only.close()
        copy = GeoPackageStore(crashed / "s.gpkg")
        assert copy.read_only
        assert _ids(copy.revisions()) == [1, 2]  # the log's revision is read too
        with pytest.raises(StoreError, match=r"write-ahead log 's\.gpkg-wal' has no index"):
            GeoPackageStore(stray / "s.gpkg").revisions()
    assert sorted(f.name for f in crashed.iterdir()) == ["s.gpkg", "s.gpkg-shm", "s.gpkg-wal"]


# --- 3. commands that store nothing create nothing --------------------------------------


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["ingest", "{upload}", "--date", "2024-08-20", *INGEST, "--dry-run"], 0),
        (["ingest", "{upload}", "--date", "2024-08-20", "--side-from", "nom", "--map", "x=UA"], 2),
        (["ingest", "{garbage}", "--date", "2024-08-20", "--side", "UA"], 2),
        (["ingest", "{upload}", "--date", "2024-08-20", "--side-from", "name"], 2),
        (["revisions"], 0),
        (["revisions", "--format", "json"], 0),
        (["area", "--on", "2024-08-25", "--claimant", "ua-gs", "--side", "UA"], 0),
        (["revert", "1"], 2),
    ],
    ids=["dry-run", "bad-mapping", "bad-file", "no-patterns", "table", "json", "area", "revert"],
)
def test_what_stores_nothing_creates_nothing(
    args: list[str], code: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    upload, garbage = tmp_path / "ds.geojson", tmp_path / "garbage.geojson"
    upload.write_bytes(deepstate_style_geojson())
    garbage.write_bytes(b"\x00not json at all")
    if args[0] == "ingest":
        args = [*args, "--claimant", "ua-gs", "--source", "s", "--licence", "l"]
    filled = [a.format(upload=upload, garbage=garbage) for a in args]
    store = tmp_path / "new" / "s.gpkg"
    got, _, err = _cli(capsys, "--store", str(store), *filled)
    assert got == code, err
    if code:
        assert _one_line(err).startswith("frontline: error: ")
    assert not (tmp_path / "new").exists()


# --- 4. integer arguments ---------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["99999999999999999999", str(MAX_REVISION_ID + 1), "0", "-1", "1.5", "0x10", "١", "9" * 5000],
)
def test_a_revision_id_out_of_range_is_one_line(
    value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _cli(capsys, "--store", str(tmp_path / "s.gpkg"), "revert", value)
    assert code == 2
    line = _one_line(err)
    assert line.endswith(f"bad revision id {value[:40]!r}{'…' if len(value) > 40 else ''}: "
                         f"expected a whole number from 1 to {MAX_REVISION_ID}")  # fmt: skip
    assert len(line) < 200
    assert not (tmp_path / "s.gpkg").exists()


def test_the_largest_revision_id_is_looked_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "s.gpkg"
    GeoPackageStore(path).commit(_polys(), mode="patch", date=D, **PROVENANCE)
    code, _, err = _cli(capsys, "--store", str(path), "revert", str(MAX_REVISION_ID))
    assert (code, _one_line(err)) == (
        2,
        f"frontline: error: revision {MAX_REVISION_ID} cannot be reverted "
        "(unknown, a revert, or done)",
    )
    with pytest.raises(StoreError, match=f"bad revision id {2**64}"):
        GeoPackageStore(path).revert(2**64, who="t")


# --- 5. a damaged polygon is skipped, not fatal -----------------------------------------


def _damage(path: Path, revision_id: int, blob: object) -> int:
    """Overwrite one polygon's geometry as disk damage or an outside edit would."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("DROP TRIGGER polygons_append_only_update")
    (fid,) = con.execute(
        "SELECT min(fid) FROM control_polygons WHERE revision_id = ?", (revision_id,)
    ).fetchone()
    con.execute("UPDATE control_polygons SET geom = ? WHERE fid = ?", (blob, fid))
    con.close()
    return int(fid)


GOOD_BLOB = _gpkg_blob(shapely.box(35.2, 51.1, 35.3, 51.2))
DAMAGE = {
    "garbage": bytes(range(256)) * 3,
    "truncated": GOOD_BLOB[: len(GOOD_BLOB) // 2],
    "bad-wkb": GOOD_BLOB[:40] + b"\xff" * 60,
    "header-only": GOOD_BLOB[:8],
    "text": "POLYGON((0 0, 1 0, 1 1, 0 0))",
    "point": _gpkg_blob(shapely.Point(35.2, 51.1)),
    "empty": b"",
    "number": 42,
}


@pytest.mark.parametrize("blob", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_polygon_is_named_and_skipped(tmp_path: Path, blob: object) -> None:
    path = tmp_path / "s.gpkg"
    store = GeoPackageStore(path)
    first = store.commit(_polys(2), mode="patch", date=D, **PROVENANCE)
    second = store.commit(_polys(1), mode="patch", date=D2, **PROVENANCE)
    fid = _damage(path, first.revision_id, blob)
    pattern = rf"s\.gpkg': revision {first.revision_id}, polygon fid {fid}: .+; skipped$"
    with pytest.warns(StoreWarning, match=pattern) as caught:
        frame = GeoPackageStore(path).polygons()
    assert len(caught) == 1
    assert list(frame["revision_id"]) == [first.revision_id, second.revision_id]
    assert set(frame.geom_type) == {"MultiPolygon"}


def test_commands_load_a_store_with_a_damaged_polygon(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "s.gpkg"
    upload = tmp_path / "ds.geojson"
    upload.write_bytes(deepstate_style_geojson())
    rev = GeoPackageStore(path).commit(_polys(2), mode="patch", date=D, **PROVENANCE)
    fid = _damage(path, rev.revision_id, DAMAGE["garbage"])
    warning = f"frontline: warning: store {str(path)!r}: revision 1, polygon fid {fid}: "
    on = ["--on", "2024-08-25", "--claimant", "ua-gs", "--side", "UA"]
    dry = ["ingest", str(upload), "--claimant", "ua-gs", "--date", "2024-08-21", *INGEST]
    for args in (["area", *on], [*dry, "--source", "s", "--licence", "l", "--dry-run"]):
        code, _, err = _cli(capsys, "--store", str(path), *args)
        assert code == 0, err
        lines = err.strip().splitlines()
        assert len(lines) == 1  # once, though the ingest reads the polygons more than once
        assert lines[0].startswith(warning)
        assert lines[0].endswith("; skipped")


# --- 6. stored text cannot drive the terminal -------------------------------------------


def test_stored_text_reaches_the_terminal_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "s.gpkg"
    upload = tmp_path / "ds.geojson"
    upload.write_bytes(deepstate_style_geojson())
    args = ["ingest", str(upload), "--claimant", "ua-gs", "--date", "2024-08-20", *INGEST]
    code, out, err = _cli(
        capsys, "--store", str(path), *args, "--who", EVIL, "--source", EVIL, "--licence", "CC0"
    )
    assert code == 0, err
    assert not _controls(out)
    # Upload reading refuses such file names now; a store written before (or by another
    # tool) may still hold one.
    GeoPackageStore(path).commit(
        _polys(), mode="patch", date=D, **{**PROVENANCE, "file_name": f"map{EVIL}.geojson"}
    )
    escaped = "\\x1b[2J\\x0d\\x1b]0;pwned\\x07\\x9b31m"
    code, table, _ = _cli(capsys, "--store", str(path), "revisions")
    assert code == 0
    assert not _controls(table)
    assert table.count(escaped) == 2  # the first one's who, the second one's file name
    code, text, _ = _cli(capsys, "--store", str(path), "revisions", "--format", "json")
    assert not _controls(text)
    rows = json.loads(text)  # escaped for the terminal, and still the same text
    assert [(r["who"], r["source"]) for r in rows] == [(EVIL, EVIL), ("tester", "test")]
    assert rows[1]["file_name"] == f"map{EVIL}.geojson"
    assert GeoPackageStore(path).revisions()[0].who == EVIL  # stored verbatim
    code, _, err = _cli(capsys, "--store", str(path), "ingest", str(tmp_path / f"{EVIL}.json"),
                        "--claimant", "ua-gs", "--date", "2024-08-20", "--side", "UA")  # fmt: skip
    assert (code, _controls(err)) == (2, set())
    assert "pwned" in _one_line(err)

"""The GeoPackage store: append-only revisions, real GeoPackage files, and faults."""

from __future__ import annotations

import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
import pytest
import shapely

from pipeline import settings
from pipeline.store import GeoPackageStore, StoreError

D = dt.date(2024, 8, 25)
PROVENANCE: dict[str, Any] = {
    "who": "tester",
    "claimant": "analyst-1",
    "date": D,
    "source": "test",
    "licence": "CC0",
    "file_name": "t.geojson",
    "file_sha256": "0" * 64,
}


def _polys(n: int = 2, vertices: int = 16) -> gpd.GeoDataFrame:
    geoms = [
        shapely.Point(35.2 + i * 0.05, 51.2).buffer(0.02, quad_segs=vertices) for i in range(n)
    ]
    return gpd.GeoDataFrame({"side": ["UA"] * n}, geometry=geoms, crs="EPSG:4326")


def test_commit_writes_a_geopackage_gdal_reads(tmp_path: Path) -> None:
    store = GeoPackageStore(tmp_path / "s.gpkg")
    rev = store.commit(_polys(3), mode="snapshot", **PROVENANCE)
    assert rev.revision_id == 1
    assert rev.features == 3
    assert store.revisions() == [rev]  # what commit returns is what was stored
    read = pyogrio.read_dataframe(tmp_path / "s.gpkg", layer="control_polygons")
    assert len(read) == 3
    assert read.crs.to_epsg() == 4326
    assert set(read["side"]) == {"UA"}
    area = read.to_crs(settings.EQUAL_AREA_CRS).area.sum() / 1e6
    assert area == pytest.approx(rev.area_km2, rel=1e-9)
    assert "revisions" in {name for name, _ in pyogrio.list_layers(tmp_path / "s.gpkg")}


def test_history_is_append_only(tmp_path: Path) -> None:
    store = GeoPackageStore(tmp_path / "s.gpkg")
    store.commit(_polys(), mode="patch", **PROVENANCE)
    con = sqlite3.connect(tmp_path / "s.gpkg")
    for sql in (
        "UPDATE revisions SET who = 'x'",
        "DELETE FROM revisions",
        "DELETE FROM control_polygons",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            con.execute(sql)
    con.close()
    assert len(store.revisions()) == 1


def test_revert_is_a_new_revision(tmp_path: Path) -> None:
    store = GeoPackageStore(tmp_path / "s.gpkg")
    first = store.commit(_polys(2), mode="snapshot", **PROVENANCE)
    second = store.commit(_polys(1), mode="patch", **PROVENANCE)
    undo = store.revert(first.revision_id, who="tester")
    assert (undo.mode, undo.reverts) == ("revert", first.revision_id)
    assert store.revisions()[-1] == undo
    assert [r.revision_id for r in store.revisions()] == [1, 2, 3]
    assert set(store.polygons()["revision_id"]) == {second.revision_id}
    with pytest.raises(StoreError, match="cannot be reverted"):
        store.revert(first.revision_id, who="tester")
    with pytest.raises(StoreError, match="cannot be reverted"):
        store.revert(99, who="tester")


@pytest.mark.parametrize(
    ("frame", "mode", "message"),
    [
        (_polys(), "replace", "unknown mode 'replace'"),
        (_polys().set_crs(None, allow_override=True), "patch", "no CRS"),
        (
            gpd.GeoDataFrame({"side": ["UA"]}, geometry=[shapely.Point(35, 51)], crs=4326),
            "patch",
            "needs polygons",
        ),
    ],
)
def test_bad_revisions_store_nothing(
    tmp_path: Path, frame: gpd.GeoDataFrame, mode: str, message: str
) -> None:
    store = GeoPackageStore(tmp_path / "s.gpkg")
    store.commit(_polys(), mode="patch", **PROVENANCE)
    with pytest.raises(StoreError, match=message):
        store.commit(frame, mode=mode, **PROVENANCE)
    assert len(store.revisions()) == 1
    assert len(store.polygons()) == 2


WRITER = textwrap.dedent("""
    import sys, datetime as dt
    import geopandas as gpd, shapely
    from pipeline.store import GeoPackageStore
    path, n, vertices = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    store = GeoPackageStore(path)
    frame = gpd.GeoDataFrame({"side": ["RU"]}, crs="EPSG:4326",
        geometry=[shapely.Point(35.3, 51.1).buffer(0.05, quad_segs=vertices)])
    for i in range(n):
        store.commit(frame, who="w", claimant="c", date=dt.date(2024, 9, 1), mode="patch",
                     source="s", licence="CC0", file_name=f"f{i}", file_sha256="1" * 64)
""")


def _writer(path: Path, n: int, vertices: int, **kwargs: Any) -> subprocess.Popen[bytes]:
    proc: subprocess.Popen[bytes] = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(n), str(vertices)],
        cwd=settings.ROOT,
        stderr=subprocess.PIPE,
        **kwargs,
    )
    return proc


@pytest.mark.slow
def test_two_writers_commit_400_revisions(tmp_path: Path) -> None:
    path = tmp_path / "s.gpkg"
    GeoPackageStore(path)
    writers = [_writer(path, 200, 4), _writer(path, 200, 4)]
    for w in writers:
        _, err = w.communicate(timeout=300)
        assert w.returncode == 0, err.decode()
    store = GeoPackageStore(path)
    assert len(store.revisions()) == 400
    assert len(store.polygons()) == 400


@pytest.mark.slow
def test_killed_writer_leaves_no_partial_revision(tmp_path: Path) -> None:
    path = tmp_path / "s.gpkg"
    GeoPackageStore(path)
    writer = _writer(path, 10_000, 4_000)  # big polygons: commits take a while
    time.sleep(3)
    os.kill(writer.pid, signal.SIGKILL)
    writer.communicate(timeout=30)
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    per_revision = dict(
        con.execute(
            "SELECT r.revision_id, r.features - COUNT(p.fid) FROM revisions r "
            "LEFT JOIN control_polygons p USING (revision_id) GROUP BY r.revision_id"
        ).fetchall()
    )
    con.close()
    assert per_revision, "the writer should have committed something before it was killed"
    assert set(per_revision.values()) == {0}


def test_disk_full_is_a_clean_error(tmp_path: Path) -> None:
    path = tmp_path / "s.gpkg"
    store = GeoPackageStore(path)
    store.commit(_polys(), mode="patch", **PROVENANCE)
    before = path.stat().st_size
    limit = before + 64 * 1024  # the file may not grow much: a big commit must fail

    def small_files() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    writer = _writer(path, 1, 60_000, preexec_fn=small_files)
    _, err = writer.communicate(timeout=120)
    assert writer.returncode != 0
    message = err.decode().strip().splitlines()[-1]
    assert "nothing was written" in message
    again = GeoPackageStore(path)
    assert [r.revision_id for r in again.revisions()] == [1]
    assert len(again.polygons()) == 2


def test_a_batch_registers_its_claimant_atomically(tmp_path: Path) -> None:
    from pipeline.claims import Claimant

    store = GeoPackageStore(tmp_path / "s.gpkg")
    mine = Claimant("my-team", "My team", "d", "independent", "CC0")
    prov = {k: v for k, v in PROVENANCE.items() if k not in ("date", "claimant")}
    revs = store.commit_batch(
        [(D, _polys(1)), (D + dt.timedelta(days=3), _polys(2))],
        claimant="my-team",
        mode="snapshot",
        mapping='{"m": 1}',
        new_claimant=mine,
        **prov,
    )
    assert [r.date for r in revs] == ["2024-08-25", "2024-08-28"]
    assert store.claimants() == {"my-team": mine}
    assert store.find("0" * 64, "my-team", '{"m": 1}') == revs
    assert store.find("0" * 64, "my-team", '{"m": 2}') == []
    # Registering the same id again fails as a whole: no revision is added either.
    with pytest.raises(StoreError, match="already registered"):
        store.commit_batch(
            [(D, _polys(1))], claimant="my-team", mode="patch", new_claimant=mine, **prov
        )
    assert len(store.revisions()) == 2
    assert len(store.polygons()) == 3
    store.revert(revs[0].revision_id, who="t")
    assert store.find("0" * 64, "my-team", '{"m": 1}') == [revs[1]]


def test_fingerprint_follows_commits_and_opening_never_writes(tmp_path: Path) -> None:
    path = tmp_path / "s.gpkg"
    store = GeoPackageStore(path)
    empty = store.fingerprint()
    first = store.commit(_polys(), mode="patch", **PROVENANCE)
    after_commit = store.fingerprint()
    store.revert(first.revision_id, who="t")
    after_revert = store.fingerprint()
    assert len({empty, after_commit, after_revert}) == 3

    def state() -> list[tuple[str, int, int]]:
        files = sorted(tmp_path.iterdir())
        return [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files]

    before = state()
    time.sleep(0.01)
    again = GeoPackageStore(path)  # the app opens the store on every rerun
    assert again.fingerprint() == after_revert
    assert [r.revision_id for r in again.revisions()] == [1, 2]
    assert state() == before


def test_a_store_is_created_by_its_first_commit(tmp_path: Path) -> None:
    path = tmp_path / "new" / "s.gpkg"
    store = GeoPackageStore(path)
    assert (store.revisions(), store.claimants(), len(store.polygons())) == ([], {}, 0)
    assert store.find("0" * 64, "analyst-1", "{}") == []
    empty = store.fingerprint()
    with pytest.raises(StoreError, match="cannot be reverted"):
        store.revert(1, who="tester")
    assert not (tmp_path / "new").exists()  # reading and refusing wrote nothing
    store.commit(_polys(), mode="patch", **PROVENANCE)
    assert sorted(f.name for f in (tmp_path / "new").iterdir()) == ["s.gpkg"]
    assert store.fingerprint() != empty

"""The upload worker: honest files read as in-process; hostile readers end in one refusal.

The ``hostile_*`` functions below are the worker's test hooks: :mod:`pipeline.upload_worker`
runs a reader only from an allowlist, :data:`~pipeline.upload_worker.READ_UPLOAD` or a
``hostile_*`` function of this module. They stand in for a reader that a hostile file has
driven into a crash, a loop, a bomb or a compromised state, so that these tests never depend
on a real hole in GDAL or GEOS. Limits are set low so that every case ends in seconds; after
each test no worker is left, alive or zombie.
"""

from __future__ import annotations

import ctypes
import dataclasses
import datetime as dt
import json
import multiprocessing
import os
import pickle
import signal
import struct
import sys
import time
from collections.abc import Iterator
from multiprocessing import connection
from pathlib import Path
from typing import Any, NoReturn

import geopandas as gpd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry.base import BaseGeometry

from pipeline import ingest, settings, side_patterns, upload_read, upload_worker
from pipeline.build import Theatre
from pipeline.errors import InputError, SettingsError
from pipeline.upload_read import RawUpload, UploadError, read_upload
from pipeline.upload_worker import WorkerLimits, read_upload_isolated

HOOKS = __name__
LOW = WorkerLimits(memory_mb=1024, cpu_s=2, wall_s=20, output_mb=8)
GPKG_FROM_MEMORY = "ignore:.*non conformant file extension:RuntimeWarning"
SUDZHA = shapely.box(35.20, 51.15, 35.35, 51.25)


def _fc(*features: dict[str, Any]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


def _feature(geom: BaseGeometry | None, **props: object) -> dict[str, Any]:
    geometry = None if geom is None else shapely.geometry.mapping(geom)
    return {"type": "Feature", "properties": props, "geometry": geometry}


HONEST = _fc(
    _feature(SUDZHA, name="Liberated", n=3, share=0.5, flag=True, missing=None),
    _feature(None, name="no geometry", n=4, share=1.25, flag=False, missing="x"),
    _feature(
        shapely.Polygon([(35.1, 51.3, 150.0), (35.2, 51.3, 151.0), (35.2, 51.4, 152.0)]),
        name="Окуповано {{at:25.03}}",
        n=None,
        share=None,
        flag=None,
        missing=None,
    ),
)


# ---------------------------------------------------------------------------------------
# Test hooks: what a hostile file could make of the reader. Run only in the worker.


def hostile_segfault(data: bytes, file_name: str, **_: object) -> NoReturn:
    ctypes.string_at(0)  # reads address 0: SIGSEGV
    raise AssertionError("unreachable")


def hostile_abort(data: bytes, file_name: str, **_: object) -> NoReturn:
    os.abort()


def hostile_spin(data: bytes, file_name: str, **_: object) -> NoReturn:
    while True:
        pass


def hostile_sleep(data: bytes, file_name: str, **_: object) -> NoReturn:
    time.sleep(3600)
    raise AssertionError("unreachable")


def hostile_bomb(data: bytes, file_name: str, **_: object) -> NoReturn:
    inflated = []
    while True:  # like an archive member inflating 32 MB at a time
        inflated.append(bytes(32 << 20))


def hostile_bomb_reported_as_unreadable(data: bytes, file_name: str, **_: object) -> NoReturn:
    try:
        hostile_bomb(data, file_name)
    except MemoryError:
        # What read_upload does with a GDAL failure: its own refusal, hiding the cause.
        raise UploadError(file_name, "not readable as GeoJSON ()") from None


def hostile_flood(data: bytes, file_name: str, **_: object) -> RawUpload:
    frame = gpd.GeoDataFrame(
        {"text": ["x" * (1 << 20)] * 12}, geometry=[SUDZHA] * 12, crs="EPSG:4326"
    )
    return RawUpload(file_name, "GeoJSON", "GeoJSON", None, frame, "file", 60)


def hostile_input_error(data: bytes, file_name: str, **_: object) -> NoReturn:
    raise InputError("bad option 'x': expected 'y'")


def hostile_unexpected(data: bytes, file_name: str, **_: object) -> NoReturn:
    raise RuntimeError("secret detail from /etc/passwd")


def hostile_exit(data: bytes, file_name: str, **_: object) -> NoReturn:
    os._exit(3)


def _answer_pipe() -> int:
    """The worker's answer pipe, as code that took over the worker would find it."""
    frame = sys._getframe(2)  # the worker's entry point, which called the reader
    return int(frame.f_locals["send"].fileno())


def hostile_forged_answer(data: bytes, file_name: str, **_: object) -> NoReturn:
    """Send ``data`` itself as the answer, as a compromised worker could."""
    fd = _answer_pipe()
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os._exit(0)


def hostile_stalled_answer(data: bytes, file_name: str, **_: object) -> NoReturn:
    """Start an answer, then never finish it."""
    os.write(_answer_pipe(), data[:7])
    time.sleep(3600)
    raise AssertionError("unreachable")


def hostile_slow_honest(data: bytes, file_name: str, **kwargs: Any) -> RawUpload:
    time.sleep(1)
    return read_upload(data, file_name, **kwargs)


# ---------------------------------------------------------------------------------------
# No worker outlives its test.


def _processes() -> dict[int, tuple[int, str, bytes]]:
    """Every process: pid -> (parent pid, state, command line), from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # ended meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        found[int(entry.name)] = (int(fields[1]), fields[0], cmdline)
    return found


def _workers() -> list[int]:
    """Our forkserver's children (the workers), and any zombie child of ours."""
    procs = _processes()
    servers = {
        pid
        for pid, (ppid, _, cmd) in procs.items()
        if ppid == os.getpid() and b"multiprocessing.forkserver" in cmd
    }
    return sorted(
        pid
        for pid, (ppid, state, _) in procs.items()
        if ppid in servers or (ppid == os.getpid() and state == "Z")
    )


@pytest.fixture(autouse=True)
def _no_worker_left() -> Iterator[None]:
    yield
    assert multiprocessing.active_children() == []
    assert _workers() == []


def _refused(reader: str, limits: WorkerLimits = LOW, data: bytes = HONEST) -> UploadError:
    with pytest.raises(UploadError) as info:
        read_upload_isolated(data, "hostile.geojson", limits=limits, reader=f"{HOOKS}.{reader}")
    err = info.value
    assert err.file_name == "hostile.geojson"
    assert str(err) == f"file 'hostile.geojson': {err.reason}"
    return err


# ---------------------------------------------------------------------------------------
# Honest files: the same RawUpload as read in-process.


def _assert_same(isolated: RawUpload, direct: RawUpload) -> None:
    for f in dataclasses.fields(RawUpload):
        if f.name != "frame":
            assert getattr(isolated, f.name) == getattr(direct, f.name), f.name
    assert_geodataframe_equal(isolated.frame, direct.frame)
    assert isolated.frame.geometry.name == direct.frame.geometry.name
    assert list(isolated.frame.dtypes) == list(direct.frame.dtypes)
    assert list(isolated.frame.index) == list(direct.frame.index)
    wkb = [
        shapely.to_wkb(f.geometry.to_numpy(), output_dimension=4)
        for f in (isolated.frame, direct.frame)
    ]
    assert list(wkb[0]) == list(wkb[1])
    for a, b in zip(
        isolated.frame.drop(columns="geometry").itertuples(),
        direct.frame.drop(columns="geometry").itertuples(),
        strict=True,
    ):
        assert a == b
        assert [type(v) for v in a] == [type(v) for v in b]


def _gpkg(tmp_path: Path) -> bytes:
    path = tmp_path / "two.gpkg"
    gpd.GeoDataFrame({"name": ["a"]}, geometry=[SUDZHA], crs="EPSG:4326").to_file(
        path, layer="sudzha"
    )
    utm = gpd.GeoDataFrame({"name": ["b"], "n": [2]}, geometry=[SUDZHA], crs="EPSG:4326")
    utm.to_crs("EPSG:32636").to_file(path, layer="utm", mode="a")
    return path.read_bytes()


def _geoparquet(tmp_path: Path) -> bytes:
    path = tmp_path / "a.parquet"
    gpd.GeoDataFrame({"name": ["a", None]}, geometry=[SUDZHA, None], crs="EPSG:4326").to_parquet(
        path
    )
    return path.read_bytes()


@pytest.mark.filterwarnings(GPKG_FROM_MEMORY)
@pytest.mark.parametrize(
    ("file_name", "build", "options"),
    [
        pytest.param("areas.geojson", lambda p: HONEST, {}, id="geojson"),
        pytest.param(
            "areas.csv",
            lambda p: b'wkt,name\n"POINT (35.2 51.2)",a\n"POINT (35.3 51.1)",\n',
            {"crs": "EPSG:4326"},
            id="csv-confirmed-crs",
        ),
        pytest.param("two.gpkg", _gpkg, {"layer": "utm"}, id="gpkg-layer-reprojected"),
        pytest.param("a.geoparquet", _geoparquet, {}, id="geoparquet"),
    ],
)
def test_honest_file_reads_as_in_process(
    tmp_path: Path, file_name: str, build: Any, options: dict[str, Any]
) -> None:
    data = build(tmp_path)
    _assert_same(
        read_upload_isolated(data, file_name, limits=LOW, **options),
        read_upload(data, file_name, **options),
    )


def test_default_limits_come_from_settings() -> None:
    limits = WorkerLimits()
    assert limits.memory_mb == settings.READ_MEMORY_MB
    assert limits.cpu_s == settings.READ_CPU_S
    assert limits.wall_s == settings.READ_WALL_S
    assert limits.output_mb == settings.READ_OUTPUT_MB
    _assert_same(read_upload_isolated(HONEST, "a.geojson"), read_upload(HONEST, "a.geojson"))


@pytest.mark.parametrize(
    ("raw", "whole", "expected"),
    [("", True, 30), (" 45 ", True, 45), ("2.5", False, 2.5), ("7", False, 7.0)],
)
def test_limit_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, raw: str, whole: bool, expected: float
) -> None:
    monkeypatch.setenv("FRONTLINE_TEST_LIMIT", raw)
    assert settings._positive_env("FRONTLINE_TEST_LIMIT", 30, whole=whole) == expected


@pytest.mark.parametrize(
    ("raw", "whole", "reason"),
    [
        ("abc", True, "is not a whole number"),
        ("1.5", True, "is not a whole number"),
        ("0", True, "is not a whole number above 0"),
        ("-1", False, "is not a number above 0"),
        ("nan", False, "is not a number above 0"),
        ("inf", False, "is not a number above 0"),
    ],
)
def test_bad_limit_in_the_environment_is_named(
    monkeypatch: pytest.MonkeyPatch, raw: str, whole: bool, reason: str
) -> None:
    monkeypatch.setenv("FRONTLINE_TEST_LIMIT", raw)
    with pytest.raises(SettingsError) as info:
        settings._positive_env("FRONTLINE_TEST_LIMIT", 30, whole=whole)
    assert str(info.value) == f"environment variable FRONTLINE_TEST_LIMIT={raw!r} {reason}"


@pytest.mark.parametrize(
    ("field", "value"),
    [("memory_mb", 0), ("cpu_s", 1.5), ("wall_s", -1.0), ("output_mb", True)],
)
def test_bad_limit_is_named(field: str, value: object) -> None:
    with pytest.raises(InputError, match=f"worker limit {field}={value!r} is not a positive"):
        WorkerLimits(**{field: value})  # type: ignore[arg-type]


def test_progress_is_called_with_seconds_elapsed() -> None:
    seen: list[float] = []
    raw = read_upload_isolated(
        HONEST, "a.geojson", limits=LOW, progress=seen.append, reader=f"{HOOKS}.hostile_slow_honest"
    )
    _assert_same(raw, read_upload(HONEST, "a.geojson"))
    assert seen
    assert seen == sorted(seen)
    assert seen[0] > 0


def test_the_callers_caps_apply_in_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _fc(_feature(SUDZHA), _feature(SUDZHA))
    monkeypatch.setattr(upload_read, "MAX_FEATURES", 1)
    with pytest.raises(UploadError) as direct:
        read_upload(data, "a.geojson")
    with pytest.raises(UploadError) as isolated:
        read_upload_isolated(data, "a.geojson", limits=LOW)
    assert isolated.value.reason == direct.value.reason == "2 features (at most 1)"


# ---------------------------------------------------------------------------------------
# Refusals pass through with their class and text.


@pytest.mark.parametrize(
    ("data", "file_name", "options"),
    [
        pytest.param(b"", "a.geojson", {}, id="empty"),
        pytest.param(b"<kml/>", "a.geojson", {}, id="declared-json-is-xml"),
        pytest.param(HONEST, "a.exe", {}, id="extension"),
        pytest.param(HONEST, "a.geojson", {"crs": "EPSG:999999"}, id="unknown-crs"),
        pytest.param(b'wkt\n"POINT (1 2)"\n', "a.csv", {}, id="csv-without-crs"),
        pytest.param(HONEST, "a.gpkg", {"layer": "../etc"}, id="unsafe-layer"),
    ],
)
def test_reader_refusal_passes_through(
    data: bytes, file_name: str, options: dict[str, Any]
) -> None:
    with pytest.raises(UploadError) as direct:
        read_upload(data, file_name, **options)
    with pytest.raises(UploadError) as isolated:
        read_upload_isolated(data, file_name, limits=LOW, **options)
    assert type(isolated.value) is UploadError
    assert str(isolated.value) == str(direct.value)
    assert isolated.value.reason == direct.value.reason


def test_input_error_passes_through_as_input_error() -> None:
    with pytest.raises(InputError) as info:
        read_upload_isolated(HONEST, "a.geojson", limits=LOW, reader=f"{HOOKS}.hostile_input_error")
    assert type(info.value) is InputError
    assert str(info.value) == "bad option 'x': expected 'y'"


def test_unexpected_error_is_one_line_without_detail() -> None:
    err = _refused("hostile_unexpected")
    assert err.reason == "could not be read (RuntimeError)"


# ---------------------------------------------------------------------------------------
# Hostile readers: each ends the worker with one message; this process carries on.


@pytest.mark.parametrize(
    ("reader", "name"), [("hostile_segfault", "SIGSEGV"), ("hostile_abort", "SIGABRT")]
)
def test_crash_is_refused(reader: str, name: str) -> None:
    assert _refused(reader).reason == f"the reader crashed (signal {name}): refused"
    _assert_same(
        read_upload_isolated(HONEST, "a.geojson", limits=LOW), read_upload(HONEST, "a.geojson")
    )  # and the next read works


def test_endless_loop_meets_the_cpu_limit() -> None:
    limits = WorkerLimits(memory_mb=1024, cpu_s=1, wall_s=60, output_mb=8)
    err = _refused("hostile_spin", limits)
    assert err.reason == "the file needed more than 1 s of CPU time to read: refused"


def test_endless_loop_meets_the_wall_limit() -> None:
    limits = WorkerLimits(memory_mb=1024, cpu_s=60, wall_s=1, output_mb=8)
    assert _refused("hostile_spin", limits).reason == "the file took more than 1 s to read: refused"


def test_endless_wait_meets_the_wall_limit() -> None:
    limits = WorkerLimits(memory_mb=1024, cpu_s=60, wall_s=1.5, output_mb=8)
    err = _refused("hostile_sleep", limits)
    assert err.reason == "the file took more than 1.5 s to read: refused"


def test_waiting_does_not_spin(monkeypatch: pytest.MonkeyPatch) -> None:
    """The parent sleeps in wait() between ticks, with or without a progress callback."""
    calls: list[float] = []

    def counted(objects: list[Any], timeout: float | None = None) -> list[Any]:
        calls.append(0.0 if timeout is None else timeout)
        return connection.wait(objects, timeout)

    monkeypatch.setattr(upload_worker, "wait", counted)
    limits = WorkerLimits(memory_mb=1024, cpu_s=60, wall_s=1, output_mb=8)
    _refused("hostile_sleep", limits)
    assert len(calls) < 40  # about 1 s / 0.25 s; a loop that spins calls it thousands of times
    assert all(t > 0 for t in calls)


@pytest.mark.parametrize("reader", ["hostile_bomb", "hostile_bomb_reported_as_unreadable"])
def test_bomb_meets_the_memory_limit(reader: str) -> None:
    err = _refused(reader)
    assert err.reason == "the file needed more than 1,024 MB of memory to read: refused"


def test_flood_meets_the_output_limit() -> None:
    err = _refused("hostile_flood")
    assert err.reason == "its contents exceed 8 MB once read: refused"


def test_exit_without_answer_is_refused() -> None:
    err = _refused("hostile_exit")
    assert err.reason == "the reader stopped without an answer (exit code 3): refused"


def test_stalled_answer_meets_the_wall_limit() -> None:
    limits = WorkerLimits(memory_mb=1024, cpu_s=60, wall_s=1, output_mb=8)
    good = upload_worker._encode_upload(read_upload(HONEST, "a.geojson"))
    err = _refused("hostile_stalled_answer", limits, data=good)
    assert err.reason == "the file took more than 1 s to read: refused"


class _Stopped(BaseException):
    """Like Streamlit's StopException: derives from BaseException."""


def test_progress_that_raises_kills_the_worker() -> None:
    running: list[int] = []

    def stop(seconds: float) -> None:
        running.extend(_workers())
        raise _Stopped

    with pytest.raises(_Stopped):
        read_upload_isolated(
            HONEST, "a.geojson", limits=LOW, progress=stop, reader=f"{HOOKS}.hostile_sleep"
        )
    assert len(running) == 1
    assert not Path(f"/proc/{running[0]}").exists()  # killed and reaped before the return


def _forkservers() -> list[int]:
    return sorted(
        pid
        for pid, (ppid, _, cmd) in _processes().items()
        if ppid == os.getpid() and b"multiprocessing.forkserver" in cmd
    )


def _ended(pid: int) -> bool:
    """Whether the process is gone or a zombie, waiting a little for a signal to land."""
    deadline = time.monotonic() + 10
    while _processes().get(pid, (0, "Z", b""))[1] != "Z" and time.monotonic() < deadline:
        time.sleep(0.05)
    return _processes().get(pid, (0, "Z", b""))[1] == "Z"


def test_worker_dies_with_its_forkserver() -> None:
    running: list[int] = []

    def kill_the_server(seconds: float) -> None:
        servers = set(_forkservers())
        workers = [pid for pid, (ppid, _, _) in _processes().items() if ppid in servers]
        if running or not workers:  # once, and only when the worker has been forked
            return
        running.extend(workers)
        for server in _forkservers():  # started by this test process
            os.kill(server, signal.SIGKILL)

    limits = WorkerLimits(memory_mb=1024, cpu_s=60, wall_s=20, output_mb=8)
    with pytest.raises(UploadError) as info:
        read_upload_isolated(
            HONEST,
            "a.geojson",
            limits=limits,
            progress=kill_the_server,
            reader=f"{HOOKS}.hostile_sleep",
        )
    assert info.value.reason == "the reader stopped without an answer (exit code 255): refused"
    assert len(running) == 1
    assert _ended(running[0])  # killed by PR_SET_PDEATHSIG, not sleeping on as an orphan
    # The next read starts a new forkserver (and reaps the old one).
    _assert_same(
        read_upload_isolated(HONEST, "a.geojson", limits=LOW), read_upload(HONEST, "a.geojson")
    )


# ---------------------------------------------------------------------------------------
# A compromised worker's answer is parsed as data, never run.


def _good_header() -> tuple[dict[str, Any], list[bytes | None]]:
    raw = read_upload(HONEST, "a.geojson")
    answer = upload_worker._encode_upload(raw)
    header, _ = upload_worker._header(answer)
    blobs = list(shapely.to_wkb(raw.frame.geometry.to_numpy(), output_dimension=4))
    assert upload_worker._encode(header, blobs) == answer
    return header, blobs


def _forged(change: str) -> bytes:
    header, blobs = _good_header()
    ring = struct.pack("<BIII", 1, 3, 1, 4) + struct.pack("<8d", 0, 0, 1, 0, 1, 1, 0, 1)
    if change == "pickle":
        marker = Path("/tmp") / f"frontline-pickle-ran-{os.getpid()}"

        class Evil:
            def __reduce__(self) -> tuple[Any, tuple[str, str]]:
                return (open, (str(marker), "w"))

        return pickle.dumps(Evil())
    if change == "magic":
        return b"XXXX" + upload_worker._encode(header, blobs)[4:]
    if change == "truncated":
        return upload_worker._encode(header, blobs)[:-5]
    if change == "trailing":
        return upload_worker._encode(header, blobs) + b"\0"
    if change == "unclosed-ring":
        return upload_worker._encode(header, [ring, *blobs[1:]])
    if change == "too-many-rows":
        header["rows"] = upload_read.MAX_FEATURES + 1
    elif change == "values-not-text":
        header["values"][0][0] = {"$eval": "x"}
    elif change == "column-length":
        header["values"][0].append("extra")
    elif change == "duplicate-columns":
        header["columns"][1] = header["columns"][0]
    elif change == "extra-field":
        header["fields"]["__class__"] = "x"
    elif change == "field-type":
        header["fields"]["vertices"] = [1.5]
    elif change == "error-kind":
        header = {"kind": "refused", "error": "SystemExit", "message": "x"}
    elif change == "unexpected-name":
        header = {"kind": "refused", "error": "unexpected", "message": "Bad name; rm -rf"}
    elif change == "epsg":
        header["epsg"] = "+proj=longlat +init=/etc/passwd"
    return upload_worker._encode(header, blobs)


@pytest.mark.parametrize(
    "change",
    [
        "pickle",
        "magic",
        "truncated",
        "trailing",
        "unclosed-ring",
        "too-many-rows",
        "values-not-text",
        "column-length",
        "duplicate-columns",
        "extra-field",
        "field-type",
        "error-kind",
        "unexpected-name",
        "epsg",
    ],
)
def test_forged_answer_is_refused(change: str) -> None:
    err = _refused("hostile_forged_answer", data=_forged(change))
    assert err.reason == "the reader's answer is malformed: refused"
    assert not list(Path("/tmp").glob(f"frontline-pickle-ran-{os.getpid()}"))


def test_forged_answer_decoder_accepts_the_real_one() -> None:
    header, blobs = _good_header()
    answer = upload_worker._encode(header, blobs)
    raw = read_upload_isolated(
        answer, "a.geojson", limits=LOW, reader=f"{HOOKS}.hostile_forged_answer"
    )
    _assert_same(raw, read_upload(HONEST, "a.geojson"))


# ---------------------------------------------------------------------------------------
# Only allowed readers run; user input never names one.


@pytest.mark.parametrize(
    "reader",
    [
        "os.system",
        "pipeline.upload_read.check_name",
        "pipeline.upload_read.read_upload.__globals__",
        f"{HOOKS}._workers",
        f"{HOOKS}.test_crash_is_refused",
        "tests.other.hostile_segfault",
        "hostile_segfault",
    ],
)
def test_only_allowed_readers_run(reader: str) -> None:
    with pytest.raises(ValueError, match="is not allowed"):
        read_upload_isolated(HONEST, "a.geojson", reader=reader)


def test_ingest_reads_in_the_worker_by_default(
    kursk: Theatre, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime as dt

    from tests.conftest import deepstate_style_geojson

    calls: list[str] = []

    def spy(data: bytes, file_name: str, **kwargs: Any) -> RawUpload:
        calls.append(file_name)
        return read_upload_isolated(data, file_name, **kwargs)

    monkeypatch.setattr(ingest, "read_upload_isolated", spy)
    mapping = ingest.Mapping(
        claimant="deepstate",
        date=dt.date(2024, 8, 20),
        side_field="name",
        patterns=side_patterns.parse_patterns(["Liberated=UA", "Occupied=RU"]),
    )
    data, today = deepstate_style_geojson(), dt.date(2025, 1, 1)
    direct = ingest.ingest_bytes(data, "ds.geojson", mapping, kursk, isolated=False, today=today)
    assert calls == []
    isolated = ingest.ingest_bytes(data, "ds.geojson", mapping, kursk, limits=LOW, today=today)
    assert calls == ["ds.geojson"]
    assert isolated.report.to_dict() == direct.report.to_dict()
    assert_geodataframe_equal(isolated.polygons, direct.polygons)


def _streamlit_read(data: bytes, reader: str, wall_s: float) -> None:
    import streamlit as st

    from pipeline.errors import FrontlineError
    from pipeline.upload_worker import WorkerLimits, read_upload_isolated

    ticker = st.empty()

    def tick(seconds: float) -> None:
        ticker.caption(f"reading … {seconds:.0f} s")

    limits = WorkerLimits(memory_mb=1024, cpu_s=30, wall_s=wall_s, output_mb=8)
    try:
        raw = read_upload_isolated(data, "a.geojson", limits=limits, progress=tick, reader=reader)
        st.write(f"{len(raw.frame)} features")
    except FrontlineError as e:
        st.error(str(e))


@pytest.mark.parametrize(
    ("reader", "wall_s", "shown"),
    [
        (f"{HOOKS}.hostile_slow_honest", 30.0, "3 features"),
        (f"{HOOKS}.hostile_sleep", 1.5, "the file took more than 1.5 s to read: refused"),
    ],
)
def test_worker_runs_from_a_streamlit_script(reader: str, wall_s: float, shown: str) -> None:
    """AppTest runs the script in this process, with the script installed as __main__."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_streamlit_read, args=(HONEST, reader, wall_s), default_timeout=60)
    at.run()
    assert not at.exception
    texts = [m.value for m in at.markdown] + [e.value for e in at.error]
    assert any(shown in t for t in texts), texts
    assert any(c.value.startswith("reading … ") for c in at.caption)


UPLOAD = str(Path(__file__).resolve().parent.parent / "pages" / "3_Upload.py")


def test_upload_page_reads_in_the_worker_with_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.conftest import deepstate_style_geojson

    monkeypatch.setenv("FRONTLINE_STORE", str(tmp_path / "s.gpkg"))
    read: list[str] = []

    def spy(data: bytes, file_name: str, **kwargs: Any) -> RawUpload:
        kwargs["progress"](1.4)  # the page's ticker, as the worker's wait would call it
        read.append(file_name)
        return read_upload_isolated(data, file_name, **kwargs)

    monkeypatch.setattr(upload_worker, "read_upload_isolated", spy)  # the page's reader
    at = AppTest.from_file(UPLOAD, default_timeout=120)
    at.run()
    # The form's required fields first (a new claimant, its name and licence, the date).
    for key, value in (("licence", "CC0"), ("new_id", "my-team"), ("new_name", "My team")):
        at.text_input(key=key).set_value(value)
    at.date_input(key="upload_date").set_value(dt.date(2024, 8, 20))
    upload = ("ds.geojson", deepstate_style_geojson(), "application/geo+json")
    at.file_uploader(key="file").set_value(upload).run()
    assert not at.exception
    assert not at.error
    assert read == ["ds.geojson"]
    assert [s.value for s in at.subheader] == ["Preview"]
    # Once read, the Cancel button and the ticker are gone.
    assert "cancel_read" not in [b.key for b in at.button]
    assert not [c.value for c in at.caption if c.value.startswith("Reading ")]
    at.file_uploader(key="file").set_value(("bad.geojson", b"nope", "application/json")).run()
    assert not at.exception
    (error,) = (e.value for e in at.error)  # as Markdown, escaped
    assert "bad" in error
    assert "declared GeoJSON but the content is text or binary data of an unknown kind" in error
    assert read == ["ds.geojson", "bad.geojson"]

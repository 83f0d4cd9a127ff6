"""Reading an untrusted upload in a worker process with hard limits.

:func:`read_upload_isolated` runs :func:`pipeline.upload_read.read_upload` in a child
process, so that a crash inside GDAL, GEOS or PROJ, a reader that never ends or a
decompression bomb ends that child, never the server or the CLI calling it. The child caps
its own address space (``RLIMIT_AS``) and CPU time (``RLIMIT_CPU``) before it reads; the
parent kills it when the wall-clock limit passes or when its answer grows past the output
cap. Every outcome is one :class:`~pipeline.upload_read.UploadError` (or the reader's own
:class:`~pipeline.errors.InputError`) naming the file and the reason.

Children come from a ``forkserver``: a clean server process, started once on first use, that
has imported the reader (geopandas, GDAL, PROJ); each read forks from it (about 60 ms per
read). Plain ``fork`` from the Streamlit server would copy a multi-threaded process (a lock
held by another thread at the fork stays locked in the child forever); ``spawn`` would import
geopandas again for every read (about 1.5 s). A worker does not re-import ``__main__`` (under
Streamlit, the page script being run) and is killed if the forkserver ends, which it does
when the process that started it ends.

The child's answer is never unpickled. It is one byte string: a 4-byte magic, the length of
a JSON header, the header (the :class:`~pipeline.upload_read.RawUpload`'s scalar fields and
the attributes as lists of text), then each geometry's WKB behind its length. The parent
parses it defensively, walks every WKB without GEOS (:func:`pipeline._wkb.walk_wkb`) before
``shapely.from_wkb`` builds anything, and rebuilds the frame itself.
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import importlib
import json
import multiprocessing
import multiprocessing.spawn
import os
import re
import resource
import signal
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.context import ForkServerContext, ForkServerProcess
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from pyproj.exceptions import CRSError as ProjCRSError

from pipeline import settings, upload_read
from pipeline._upload_error import UploadError
from pipeline._wkb import walk_wkb
from pipeline.errors import InputError
from pipeline.upload_read import RawUpload

__all__ = ["PROGRESS_EVERY_S", "READ_UPLOAD", "WorkerLimits", "read_upload_isolated"]

READ_UPLOAD = "pipeline.upload_read.read_upload"
"""Import path of the one reader production code runs in the worker."""

PROGRESS_EVERY_S = 0.25
"""How often, in seconds, the ``progress`` callback of :func:`read_upload_isolated` is called."""

_TEST_HOOKS = "tests.test_upload_worker"
"""The only other module a reader may come from: its ``hostile_*`` functions, for tests."""

_WORKER_NAME = "frontline-read"
"""The worker process's name (its preparation data leaves ``__main__`` out)."""

_GRACE_S = 1.0
"""How long a worker asked to terminate (SIGTERM) has before it is killed (SIGKILL)."""

_CAP = re.compile(r"MAX_[A-Z0-9_]+")
"""Module constants that are the reader's caps, passed to the worker as the caller holds them."""

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_ORPHANED = 70  # the worker's exit code when its forkserver ended before it started
_MAGIC = b"FLR1"
_HEAD = struct.Struct(">4sI")  # magic, length of the JSON header
_LEN = struct.Struct(">I")  # length of one WKB
_NO_GEOMETRY = 0xFFFFFFFF
_MAX_TEXT = 65_536  # longest name, note or message accepted from the worker
_CHUNK = 1 << 20


@dataclass(frozen=True)
class WorkerLimits:
    """Hard limits on the worker process that reads one upload.

    Parameters
    ----------
    memory_mb : int
        Address space of the worker, in MB (``RLIMIT_AS``).
    cpu_s : int
        CPU time of the worker, in seconds (``RLIMIT_CPU``).
    wall_s : float
        Wall-clock time the parent waits before killing the worker.
    output_mb : int
        Largest answer the parent accepts from the worker, in MB.

    Raises
    ------
    InputError
        When a limit is not a positive number (``cpu_s`` and ``memory_mb`` whole).
    """

    memory_mb: int = settings.READ_MEMORY_MB
    cpu_s: int = settings.READ_CPU_S
    wall_s: float = settings.READ_WALL_S
    output_mb: int = settings.READ_OUTPUT_MB

    def __post_init__(self) -> None:
        for name in ("memory_mb", "cpu_s", "output_mb", "wall_s"):
            value = getattr(self, name)
            whole = name != "wall_s"
            kinds = (int,) if whole else (int, float)
            if isinstance(value, bool) or not isinstance(value, kinds) or not value > 0:
                kind = "a positive integer" if whole else "a positive number"
                raise InputError(f"worker limit {name}={value!r} is not {kind}")


def read_upload_isolated(
    data: bytes,
    file_name: str,
    *,
    layer: str | None = None,
    crs: str | None = None,
    limits: WorkerLimits | None = None,
    progress: Callable[[float], None] | None = None,
    reader: str = READ_UPLOAD,
) -> RawUpload:
    """Read an upload as :func:`pipeline.upload_read.read_upload` does, in a limited worker.

    Parameters
    ----------
    data : bytes
        The file's bytes.
    file_name : str
        Its name; the extension declares the format.
    layer, crs : str, optional
        As for :func:`pipeline.upload_read.read_upload`.
    limits : WorkerLimits, optional
        Limits on the worker (default: those of :mod:`pipeline.settings`).
    progress : callable, optional
        Called about every :data:`PROGRESS_EVERY_S` seconds with the seconds elapsed. If it
        raises (Streamlit stops a script that way), the worker is killed and the exception
        goes on.
    reader : str
        Import path of the function the worker runs: :data:`READ_UPLOAD`, or a
        ``hostile_*`` function of the test module ``tests.test_upload_worker``. Never
        taken from user input.

    Returns
    -------
    RawUpload
        What the reader read, rebuilt in this process from plain data.

    Raises
    ------
    UploadError
        When the reader refuses the file, or the worker crashes, passes a limit or answers
        with anything malformed; the message names the file and the reason.
    InputError
        When the reader raises one (re-raised with the same message).
    ValueError
        When ``reader`` is not an allowed reader.
    """
    limits = limits or WorkerLimits()
    _allowed_reader(reader)
    caps = _caps()
    context = _context()
    receive, send = context.Pipe(duplex=False)
    worker = context.Process(
        target=_work,
        args=(
            send,
            reader,
            data,
            file_name,
            layer,
            crs,
            limits.memory_mb,
            limits.cpu_s,
            caps,
            os.getpid(),
        ),
        name=_WORKER_NAME,
        daemon=True,
    )
    try:
        worker.start()
        send.close()  # the worker holds the only write end: its exit means end of answer
        answer = _collect(worker, receive, limits, file_name, progress)
    finally:
        send.close()
        receive.close()
        code = _stop(worker)
    if code != 0:
        raise UploadError(file_name, _exit_reason(code, limits))
    return _decode(answer, file_name, limits)


# ---------------------------------------------------------------------------------------
# The parent: start, wait, stop.


@functools.cache
def _context() -> ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["pipeline.upload_read", __name__])
    original = multiprocessing.spawn.get_preparation_data
    if not getattr(original, "_frontline_worker", False):
        setattr(multiprocessing.spawn, "get_preparation_data", _without_main(original))  # noqa: B010
    return context


def _without_main(get_data: Callable[[str], dict[str, Any]]) -> Callable[[str], dict[str, Any]]:
    """Wrap multiprocessing's preparation data so that a worker never re-runs ``__main__``.

    A child of multiprocessing first imports the parent's ``__main__`` again. Streamlit
    installs each page script as ``__main__`` while it runs, so without this every worker
    would run the page again, without limits. The worker's entry point is importable by
    name and needs nothing from ``__main__``; other processes keep the usual behaviour.
    """

    @functools.wraps(get_data)
    def get_preparation_data(name: str) -> dict[str, Any]:
        data = get_data(name)
        if name == _WORKER_NAME:
            data.pop("init_main_from_path", None)
            data.pop("init_main_from_name", None)
        return data

    get_preparation_data._frontline_worker = True  # type: ignore[attr-defined]
    return get_preparation_data


def _allowed_reader(reader: str) -> tuple[str, str]:
    module, _, name = reader.rpartition(".")
    hook = module == _TEST_HOOKS and name.startswith("hostile_") and name.isidentifier()
    if reader != READ_UPLOAD and not hook:
        msg = f"reader {reader!r} is not allowed (only {READ_UPLOAD!r} or a test hook)"
        raise ValueError(msg)
    return module, name


def _caps() -> dict[str, dict[str, int | float]]:
    """Every loaded ``pipeline`` module's caps (``MAX_*`` numbers), as this process holds them.

    A worker forks from a server that imported the reader when it started; these values make
    it read under the caller's caps (a test or a deployment may have changed them since).
    """
    caps: dict[str, dict[str, int | float]] = {}
    for module_name, module in list(sys.modules.items()):
        if module is None or not module_name.startswith("pipeline."):
            continue
        values = {
            name: value
            for name, value in list(vars(module).items())
            if _CAP.fullmatch(name) and isinstance(value, int | float) and type(value) is not bool
        }
        if values:
            caps[module_name] = values
    return caps


def _collect(
    worker: ForkServerProcess,
    receive: Connection,
    limits: WorkerLimits,
    file_name: str,
    progress: Callable[[float], None] | None,
) -> bytes:
    """The worker's answer, read until it ends and the worker has exited."""
    started = time.monotonic()
    deadline = started + limits.wall_s
    tick = started + PROGRESS_EVERY_S
    cap = limits.output_mb * 2**20
    chunks: list[bytes] = []
    size = 0
    ended = False
    while not (ended and worker.exitcode is not None):
        now = time.monotonic()
        if now >= deadline:
            reason = f"the file took more than {limits.wall_s:g} s to read: refused"
            raise UploadError(file_name, reason)
        waiting: list[Any] = [worker.sentinel] if ended else [receive, worker.sentinel]
        ready = wait(waiting, timeout=min(deadline, tick) - now)
        if not ended and receive in ready:
            # Readable: os.read returns what is there without blocking on a stalled writer.
            chunk = os.read(receive.fileno(), _CHUNK)
            ended = not chunk
            size += len(chunk)
            if size > cap:
                reason = f"its contents exceed {limits.output_mb:,} MB once read: refused"
                raise UploadError(file_name, reason)
            chunks.append(chunk)
        if time.monotonic() >= tick:
            tick = time.monotonic() + PROGRESS_EVERY_S
            if progress is not None:
                progress(time.monotonic() - started)
    return b"".join(chunks)


def _stop(worker: ForkServerProcess) -> int | None:
    """End the worker if it still runs (terminate, then kill), reap it; its exit code."""
    if worker.pid is None:  # never started
        return None
    if worker.exitcode is None:
        worker.terminate()
        worker.join(_GRACE_S)
    if worker.exitcode is None:
        worker.kill()
        worker.join(5 * _GRACE_S)
    code = worker.exitcode
    if code is not None:
        worker.close()  # releases the sentinel's file descriptor
    return code


def _exit_reason(code: int | None, limits: WorkerLimits) -> str:
    if code is not None and code < 0:
        if -code == signal.SIGXCPU:
            return f"the file needed more than {limits.cpu_s} s of CPU time to read: refused"
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return f"the reader crashed (signal {name}): refused"
    return f"the reader stopped without an answer (exit code {code}): refused"


# ---------------------------------------------------------------------------------------
# The worker: limit itself, read, answer with plain data.


def _work(
    send: Connection,
    reader: str,
    data: bytes,
    file_name: str,
    layer: str | None,
    crs: str | None,
    memory_mb: int,
    cpu_s: int,
    caps: dict[str, dict[str, int | float]],
    caller: int,
) -> None:
    """The worker's entry point: limits first, then the read, then one answer."""
    _limit(resource.RLIMIT_CORE, 0, 0)
    _limit(resource.RLIMIT_AS, memory_mb * 2**20, memory_mb * 2**20)
    _limit(resource.RLIMIT_CPU, cpu_s, cpu_s + 1)  # SIGXCPU, then SIGKILL a second later
    _die_with(caller)
    out_of_memory = _encode({"kind": "refused", "error": "memory", "message": ""})
    try:
        try:
            for module_name, values in caps.items():
                module = sys.modules.get(module_name)
                for name, value in values.items():
                    if module is not None and hasattr(module, name):
                        setattr(module, name, value)
            read = _resolve(reader)
            answer = _encode_upload(read(data, file_name, layer=layer, crs=crs))
        except MemoryError:
            answer = out_of_memory
        except Exception as e:  # every failure becomes one message; nothing else leaves
            answer = _encode_failure(e)
    except MemoryError:
        answer = out_of_memory
    view = memoryview(answer)
    try:
        while view:
            view = view[os.write(send.fileno(), view) :]
    except BrokenPipeError:  # the caller gave up on this read and is ending the worker
        pass
    send.close()


def _die_with(caller: int) -> None:
    """Be killed when the forkserver ends; end now if it already has.

    The forkserver may die between forking this worker and the ``prctl`` call, and the
    worker is then a child of init (or a subreaper): its parent is no longer a child of
    the process that asked for the read.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if _parent_of(os.getppid()) != caller:  # the forkserver ended before the request took
        os._exit(_ORPHANED)


def _parent_of(pid: int) -> int | None:
    """The parent of a process, from ``/proc``; None when it has ended."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def _limit(which: int, soft: int, hard: int) -> None:
    _, current = resource.getrlimit(which)
    if current != resource.RLIM_INFINITY:
        soft, hard = min(soft, current), min(hard, current)
    resource.setrlimit(which, (soft, hard))


def _resolve(reader: str) -> Callable[..., RawUpload]:
    module_name, name = _allowed_reader(reader)
    module = importlib.import_module(module_name)
    if module_name == _TEST_HOOKS:
        where = Path(str(module.__file__)).resolve().parent
        if where != settings.ROOT / "tests":
            raise ValueError(f"test hooks found outside the project: {where}")
    function = getattr(module, name)
    if not callable(function) or getattr(function, "__module__", None) != module_name:
        raise ValueError(f"{reader!r} is not a function of {module_name}")
    return function  # type: ignore[no-any-return]


def _encode_failure(e: Exception) -> bytes:
    chain: BaseException | None = e
    while chain is not None:  # a reader that turned a MemoryError into a refusal
        if isinstance(chain, MemoryError):
            return _encode({"kind": "refused", "error": "memory", "message": ""})
        chain = chain.__context__
    if isinstance(e, UploadError):
        failure = {"error": "UploadError", "message": e.reason}
    elif isinstance(e, InputError):
        failure = {"error": "InputError", "message": str(e)}
    else:
        failure = {"error": "unexpected", "message": type(e).__name__}
    return _encode({"kind": "refused", **failure})


def _encode_upload(raw: RawUpload) -> bytes:
    frame = raw.frame
    geometry = frame.geometry.name
    epsg = None if frame.crs is None else frame.crs.to_epsg()
    if frame.crs is not None and epsg is None:
        raise TypeError("the frame's CRS has no EPSG code")
    if not frame.columns.is_unique:
        raise TypeError("the frame has duplicate column names")
    columns = [c for c in frame.columns if c != geometry]
    values = [[_wire_text(v) for v in frame[c].tolist()] for c in columns]
    fields = {f.name: getattr(raw, f.name) for f in dataclasses.fields(RawUpload)}
    del fields["frame"]
    header = {
        "kind": "upload",
        "fields": fields,
        "geometry": geometry,
        "epsg": epsg,
        "columns": columns,
        "values": values,
        "rows": len(frame),
    }
    wkb = shapely.to_wkb(frame.geometry.to_numpy(), output_dimension=4)
    return _encode(header, list(wkb))


def _wire_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if value is pd.NA or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return None  # a missing value (RawUpload's frames hold None; never NaN on the wire)
    raise TypeError(f"an attribute value of type {type(value).__name__}, not text")


def _encode(header: dict[str, Any], blobs: list[bytes | None] | None = None) -> bytes:
    head = json.dumps(header, ensure_ascii=True, allow_nan=False).encode("ascii")
    parts = [_HEAD.pack(_MAGIC, len(head)), head]
    for blob in blobs or []:
        parts.append(_LEN.pack(_NO_GEOMETRY if blob is None else len(blob)))
        if blob is not None:
            parts.append(blob)
    return b"".join(parts)


# ---------------------------------------------------------------------------------------
# The parent again: parse the answer, trusting nothing in it.


class _MalformedError(Exception):
    """The worker's answer does not follow the format."""


_PARSE_ERRORS = (
    _MalformedError,
    ValueError,  # JSON, UTF-8 and number parsing
    TypeError,
    KeyError,
    RecursionError,
    struct.error,
    shapely.errors.GEOSException,
    ProjCRSError,
)


def _decode(answer: bytes, file_name: str, limits: WorkerLimits) -> RawUpload:
    try:
        header, offset = _header(answer)
        if header.get("kind") == "upload":
            return _upload(header, answer, offset, file_name)
        refusal = _refusal(header, file_name, limits)
    except _PARSE_ERRORS:
        raise UploadError(file_name, "the reader's answer is malformed: refused") from None
    raise refusal


def _header(answer: bytes) -> tuple[dict[str, Any], int]:
    magic, length = _HEAD.unpack_from(answer, 0)
    if magic != _MAGIC or _HEAD.size + length > len(answer):
        raise _MalformedError("header")
    header = json.loads(answer[_HEAD.size : _HEAD.size + length].decode("ascii"))
    if not isinstance(header, dict):
        raise _MalformedError("header")
    return header, _HEAD.size + length


def _refusal(header: dict[str, Any], file_name: str, limits: WorkerLimits) -> InputError:
    if header.get("kind") != "refused":
        raise _MalformedError("kind")
    error, message = header.get("error"), _text(header.get("message"))
    if error == "UploadError":
        return UploadError(file_name, message)
    if error == "InputError":
        return InputError(message)
    if error == "memory":
        reason = f"the file needed more than {limits.memory_mb:,} MB of memory to read: refused"
        return UploadError(file_name, reason)
    if error == "unexpected" and message.isidentifier():
        return UploadError(file_name, f"could not be read ({message})")
    raise _MalformedError("refusal")


def _text(value: object) -> str:
    if not isinstance(value, str) or len(value) > _MAX_TEXT:
        raise _MalformedError("text")
    return value


def _upload(header: dict[str, Any], answer: bytes, offset: int, file_name: str) -> RawUpload:
    rows = header["rows"]
    max_rows = int(upload_read.MAX_FEATURES)  # the caller's caps bound the answer too
    if type(rows) is not int or not 0 <= rows <= max_rows:
        raise _MalformedError("rows")
    columns, values = header["columns"], header["values"]
    if not isinstance(columns, list) or not isinstance(values, list):
        raise _MalformedError("columns")
    if len(columns) != len(values) or len(set(map(_text, columns))) != len(columns):
        raise _MalformedError("columns")
    geometry = _text(header["geometry"])
    if geometry in columns:
        raise _MalformedError("geometry")
    for column in values:
        if not isinstance(column, list) or len(column) != rows:
            raise _MalformedError("values")
        if not all(v is None or isinstance(v, str) for v in column):
            raise _MalformedError("values")
    blobs = _blobs(answer, offset, rows, int(upload_read.MAX_VERTICES))
    epsg = header["epsg"]
    if epsg is not None and (type(epsg) is not int or not 0 < epsg < 1_000_000):
        raise _MalformedError("epsg")
    attrs = pd.DataFrame(
        {c: pd.Series(v, dtype=object) for c, v in zip(columns, values, strict=True)},
        index=pd.RangeIndex(rows),
        dtype=object,
    )
    geoms = shapely.from_wkb(np.array(blobs, dtype=object), on_invalid="raise")
    frame = gpd.GeoDataFrame(
        attrs, geometry=geoms, crs=None if epsg is None else pyproj.CRS.from_epsg(epsg)
    )
    if geometry != frame.geometry.name:
        frame = frame.rename_geometry(geometry)
    fields = _fields(header["fields"])
    fields["file_name"] = file_name
    return RawUpload(frame=frame, **fields)


def _blobs(answer: bytes, offset: int, rows: int, max_vertices: int) -> list[bytes | None]:
    blobs: list[bytes | None] = []
    vertices = 0
    for _ in range(rows):
        (length,) = _LEN.unpack_from(answer, offset)
        offset += _LEN.size
        if length == _NO_GEOMETRY:
            blobs.append(None)
            continue
        blob = answer[offset : offset + length]
        offset += length
        if len(blob) != length:
            raise _MalformedError("truncated")
        count, _, problems = walk_wkb(blob)
        vertices += count
        if problems or vertices > max_vertices:
            raise _MalformedError("geometry")
        blobs.append(blob)
    if offset != len(answer):
        raise _MalformedError("trailing bytes")
    return blobs


def _fields(sent: object) -> dict[str, Any]:
    """The RawUpload's fields other than the frame: text, whole numbers, None, lists of text."""
    wanted = {f.name for f in dataclasses.fields(RawUpload)} - {"frame"}
    if not isinstance(sent, dict) or set(sent) != wanted:
        raise _MalformedError("fields")
    for value in sent.values():
        if isinstance(value, list):
            if len(value) > 10_000:
                raise _MalformedError("fields")
            for item in value:
                _text(item)
        elif isinstance(value, str):
            _text(value)
        elif not (value is None or (type(value) is int and 0 <= value < 2**63)):
            raise _MalformedError("fields")
    return dict(sent)

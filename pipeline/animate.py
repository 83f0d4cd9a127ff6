"""Snapshots over time: dates of a series, animated GIF and MP4, and zip batches of figures.

A series shows one request (extent, size, views, ``since``) on several dates. Frames come
from :func:`pipeline.render.frames`, which draws the date-independent layers once; GIF is
written by Pillow, MP4 (H.264) by the ffmpeg binary that ``imageio-ffmpeg`` ships, and a
zip holds one figure per date with ``manifest.json`` and ``CITATION.txt``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pipeline.basemap import Basemap
from pipeline.build import Theatre
from pipeline.errors import InputError
from pipeline.render import FORMATS as FIGURE_FORMATS
from pipeline.render import canvases, frames
from pipeline.snapshot import Snapshot, citation, data_version, figure_id, source_line

MAX_FRAMES = 400
"""At most this many dates in one animation or batch."""

FRAME_MS = 700
"""How long each date shows in an animation."""


def parse_step(spec: str) -> dt.timedelta:
    """Read a step between dates: ``7d``, ``2w`` or a number of days.

    Parameters
    ----------
    spec : str
        The step.

    Returns
    -------
    datetime.timedelta
        At least one day.

    Raises
    ------
    InputError
        When the spelling is unknown or the step not positive.

    Examples
    --------
    >>> parse_step("2w").days
    14
    """
    m = re.fullmatch(r"\s*(\d{1,4})\s*([dw]?)\s*", spec.lower())
    if m is None or int(m[1]) == 0:
        msg = f"bad step {spec!r}: use a positive number of days or weeks, e.g. 7d or 2w"
        raise InputError(msg)
    return dt.timedelta(days=int(m[1]) * (7 if m[2] == "w" else 1))


def series_days(start: dt.date, end: dt.date, step: dt.timedelta) -> list[dt.date]:
    """Dates from ``start`` to ``end`` by ``step``; ``end`` is always the last one.

    Parameters
    ----------
    start, end : datetime.date
        First and last date.
    step : datetime.timedelta
        Step.

    Returns
    -------
    list of datetime.date
        The dates.

    Raises
    ------
    InputError
        When ``end`` is before ``start`` or there would be more than :data:`MAX_FRAMES`.

    Examples
    --------
    >>> [d.day for d in series_days(dt.date(2024, 8, 1), dt.date(2024, 8, 20), dt.timedelta(7))]
    [1, 8, 15, 20]
    """
    if end < start:
        msg = f"bad date range: the last date {end.isoformat()} is before {start.isoformat()}"
        raise InputError(msg)
    count = (end - start) // step + 1
    if count > MAX_FRAMES:
        msg = (
            f"too many dates ({count}) from {start} to {end}: at most {MAX_FRAMES}; "
            "use a longer step"
        )
        raise InputError(msg)
    days = [start + i * step for i in range(count)]
    if days[-1] != end:
        days.append(end)
    return days


def gif_bytes(
    theatre: Theatre,
    snap: Snapshot,
    days: Sequence[dt.date],
    basemap: Basemap | str = "none",
    notes: list[str] | None = None,
) -> bytes:
    """An animated GIF of the snapshot over dates (loops; the last date holds longer).

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    snap : Snapshot
        The request (extent, size, views and ``since`` hold for every frame).
    days : sequence of datetime.date
        The dates.
    basemap : Basemap or str, default "none"
        Tiles under the map.
    notes : list of str, optional
        Receives the basemap's note.

    Returns
    -------
    bytes
        The GIF.
    """
    from PIL import Image

    images = [
        Image.fromarray(rgb).quantize(
            colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
        for rgb in frames(theatre, snap, days, basemap, notes)
    ]
    durations = [FRAME_MS] * len(images)
    durations[-1] = FRAME_MS * 4
    buf = io.BytesIO()
    images[0].save(
        buf,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=durations,
        loop=0,
        optimize=False,
    )
    return buf.getvalue()


def mp4_bytes(
    theatre: Theatre,
    snap: Snapshot,
    days: Sequence[dt.date],
    basemap: Basemap | str = "none",
    notes: list[str] | None = None,
) -> bytes:
    """An H.264 MP4 of the snapshot over dates, through ``imageio-ffmpeg``'s ffmpeg.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    snap : Snapshot
        The request.
    days : sequence of datetime.date
        The dates.
    basemap : Basemap or str, default "none"
        Tiles under the map.
    notes : list of str, optional
        Receives the basemap's note.

    Returns
    -------
    bytes
        The MP4 (yuv420p, so every player opens it; odd sizes are padded by a pixel).
    """
    import imageio_ffmpeg

    w, h = snap.size.width, snap.size.height
    fps = 1000 / FRAME_MS
    with tempfile.TemporaryDirectory(prefix="frontline-mp4-") as tmp:
        path = Path(tmp) / "snapshot.mp4"
        writer = imageio_ffmpeg.write_frames(
            str(path),
            (w + w % 2, h + h % 2),
            fps=fps,
            codec="libx264",
            pix_fmt_out="yuv420p",
            macro_block_size=1,
            output_params=["-movflags", "+faststart"],
            ffmpeg_log_level="error",
        )
        try:
            writer.send(None)
            for rgb in frames(theatre, snap, [*days, days[-1], days[-1]], basemap, notes):
                padded = np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
                writer.send(np.ascontiguousarray(padded))
        finally:
            writer.close()  # waits for ffmpeg and closes its pipes, also on error
        return path.read_bytes()


def zip_bytes(
    theatre: Theatre,
    snap: Snapshot,
    days: Sequence[dt.date],
    inner: str = "png",
    basemap: Basemap | str = "none",
    notes: list[str] | None = None,
) -> bytes:
    """One figure per date in a zip, with ``manifest.json`` and ``CITATION.txt``.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    snap : Snapshot
        The request.
    days : sequence of datetime.date
        The dates.
    inner : {"png", "svg", "pdf"}, default "png"
        Format of each figure.
    basemap : Basemap or str, default "none"
        Tiles under the maps.
    notes : list of str, optional
        Receives the basemap's note.

    Returns
    -------
    bytes
        The zip (deterministic: fixed timestamps, files in date order).
    """
    if inner not in FIGURE_FORMATS:
        msg = f"bad figure format {inner!r} for a batch: use one of {', '.join(FIGURE_FORMATS)}"
        raise InputError(msg)
    buf = io.BytesIO()
    manifest: list[dict[str, str]] = []
    cites: list[str] = []
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for canvas in canvases(theatre, snap, days, basemap, notes):
            day, frame = canvas.snap.day, canvas.snap
            data = canvas.to_bytes(inner)
            name = f"frontline-{day.isoformat()}.{inner}"
            zf.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data)
            manifest.append(
                {
                    "file": name,
                    "date": day.isoformat(),
                    "figure_id": figure_id(theatre, frame),
                    "sha256": hashlib.sha256(data).hexdigest(),
                }
            )
            cites.append(f"{name}: {citation(theatre, frame)}")
        doc = {
            "claimants": list(snap.views),
            "since": snap.since.isoformat() if snap.since else None,
            "extent": snap.extent.label,
            "data_version": data_version(theatre),
            "sources": source_line(theatre, snap),
            "files": manifest,
        }
        fixed = (2024, 1, 1, 0, 0, 0)
        zf.writestr(
            zipfile.ZipInfo("manifest.json", fixed), json.dumps(doc, indent=2, ensure_ascii=False)
        )
        zf.writestr(zipfile.ZipInfo("CITATION.txt", fixed), "\n".join(cites) + "\n")
    return buf.getvalue()

"""The ``snapshot`` command: a citable figure, map or data file of any date.

``python -m pipeline snapshot --on D --claimant C [--claimant C2 ...] [--since D0]
[--extent NAME|bbox] [--size a4|slide|square|WxH] [--basemap auto|none|NAME|URL]
[--side-by-side] [--to D2 --step 7d] [--title TEXT] --out FILE``

The format comes from the extension of ``--out`` (png, svg, pdf, html, geojson, gpkg, gif,
mp4, zip). The file is written whole or not at all (a temporary file renamed into place).
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pipeline import settings
from pipeline._files import atomic_write
from pipeline.errors import InputError

if TYPE_CHECKING:
    from pipeline.build import Theatre

SERIES_SIZE = "960x540"
"""Default size of an animation (small enough to post, large enough to read)."""


def add_parser(sub: Any, date_type: Callable[[str], dt.date]) -> None:
    """Add the ``snapshot`` sub-command to the CLI's sub-parsers.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The CLI's sub-parsers.
    date_type : callable
        Parses and checks a date argument.
    """
    snap = sub.add_parser(
        "snapshot",
        help="a citable figure (png/svg/pdf), offline map (html), data (geojson/gpkg), "
        "animation (gif/mp4) or batch (zip) of a date",
    )
    snap.add_argument("--on", type=date_type, required=True, help="the date shown (YYYY-MM-DD)")
    snap.add_argument(
        "--claimant",
        action="append",
        required=True,
        help="a view: claimant id or consolidated; repeat for up to 4 (the first is filled)",
    )
    snap.add_argument("--since", type=date_type, help="outline the change since this earlier date")
    snap.add_argument(
        "--extent",
        default=None,
        help=f"theatre, a place or region (Sudzha+20km, Kursk region), a salient, "
        f"map=lat,lon,zoom from the map page, or min_lon,min_lat,max_lon,max_lat "
        f"(default: {settings.DEFAULT_EXTENT})",
    )
    snap.add_argument(
        "--size",
        default=None,
        help=f"{', '.join(settings.SIZE_PRESETS)} or WIDTHxHEIGHT pixels "
        f"(default: slide; {SERIES_SIZE} for gif/mp4)",
    )
    snap.add_argument(
        "--basemap",
        default="auto",
        help="tiles under the map: auto (OpenStreetMap when reachable), none, osm, "
        "esri-gray, opentopomap, or a tile URL with {z}/{x}/{y} (default: auto)",
    )
    snap.add_argument(
        "--side-by-side",
        action="store_true",
        help="png/svg/pdf: the --since date beside --on (needs --since)",
    )
    snap.add_argument("--to", type=date_type, help="gif/mp4/zip: the last date of the series")
    snap.add_argument("--step", default="7d", help="gif/mp4/zip: days between frames (7d, 2w)")
    snap.add_argument(
        "--batch-format",
        choices=settings.FIGURE_FORMATS,
        default="png",
        help="zip: the format of each figure (default: png)",
    )
    snap.add_argument("--title", help="a title instead of the date in words")
    snap.add_argument("--out", type=Path, required=True, help="the file to write")


def _write_atomically(path: Path, data: bytes) -> None:
    folder = path.parent if str(path.parent) else Path()
    if not folder.is_dir():
        msg = f"bad output {str(path)!r}: folder {str(folder)!r} does not exist"
        raise InputError(msg)
    atomic_write(path, lambda p: p.write_bytes(data))


def cmd_snapshot(theatre: Theatre, args: argparse.Namespace, out: TextIO) -> int:
    """Write a snapshot export and print what was written, with its citation.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    args : argparse.Namespace
        Parsed ``snapshot`` arguments.
    out : TextIO
        Where the summary goes.

    Returns
    -------
    int
        0 when written.

    Raises
    ------
    InputError
        For any bad argument (nothing is written).
    """
    from pipeline.animate import parse_step, series_days
    from pipeline.export import SERIES_FORMATS, export_snapshot, format_of
    from pipeline.snapshot import citation, data_version, figure_id, make_snapshot

    path: Path = args.out
    fmt = format_of(str(path))
    if path.is_dir():
        msg = f"bad output {str(path)!r}: it is a folder"
        raise InputError(msg)
    series = fmt in SERIES_FORMATS
    if args.to is not None and not series:
        msg = f"--to makes a series: write it as {', '.join(SERIES_FORMATS)}, not .{fmt}"
        raise InputError(msg)
    if args.side_by_side and fmt not in settings.FIGURE_FORMATS:
        msg = f"--side-by-side makes a figure: write it as png, svg or pdf, not .{fmt}"
        raise InputError(msg)
    size = args.size or (SERIES_SIZE if fmt in ("gif", "mp4") else "slide")
    snap = make_snapshot(theatre, args.on, args.claimant, args.since, args.extent, size, args.title)
    days = series_days(args.on, args.to, parse_step(args.step)) if args.to else None
    result = export_snapshot(
        theatre,
        snap,
        fmt,
        days=days,
        basemap=args.basemap,
        side_by_side=args.side_by_side,
        batch_format=args.batch_format,
    )
    _write_atomically(path, result.data)
    frames = f", {len(days)} dates" if days else ""
    out.write(f"wrote {path} ({fmt}, {len(result.data):,} bytes, {size}{frames})\n")
    drawn = result.snap or snap  # its basemap says what the figure shows under the map
    out.write(f"data {data_version(theatre)} · figure {figure_id(theatre, drawn)}\n")
    for note in result.notes:
        out.write(f"basemap: {note}\n")
    out.write(f"cite: {citation(theatre, drawn)}\n")
    return 0

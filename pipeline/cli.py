"""Command-line interface: ``python -m pipeline COMMAND ...``.

Commands (a stable contract; tests and users call them):

``build``
    (Re)derive everything and print a summary.
``geocode NAME [--on D] [--claimant C] [--region R]``
    A GeoJSON FeatureCollection for a settlement, a region or a salient.
``area --on D --claimant C --side S [--within NAME]``
    Area held by a side; the last line is the number of km².
``timeline --claimant C --side S [--within NAME] [--format csv|json]``
    Area held by a side at every change date.
``ingest FILE --claimant C (--date D | --date-from FIELD) (--side S | --side-from FIELD
--map PATTERN=SIDE ...) [--mode snapshot|patch] [--clip theatre|none] [--layer NAME]
[--crs CRS] [--accept-repairs] [--dry-run]``
    Read, check and store an uploaded control map; prints the same report as the Upload page.
``revisions [--claimant C] [--format table|json]``
    The store's revision history (JSON: a list, one object per revision).
``revert REVISION --who NAME``
    Revert a revision (a new revision; nothing is deleted).
``snapshot --on D --claimant C [...] --out FILE.png|svg|pdf|html|geojson|gpkg|gif|mp4|zip``
    A citable figure, offline map, data file, animation or batch (see
    :mod:`pipeline.cli_snapshot`).

Every command reads the store named by ``--store`` (default ``FRONTLINE_STORE`` or
``data/store/frontline.gpkg``), so uploaded claimants work like any other.

Bad input gets one line on stderr naming the value and the reason, and a non-zero exit:
2 for bad input (unknown place: with the closest candidates), 3 for an ambiguous place
(stdout still carries the ranked candidates as GeoJSON). A damaged part of the store is
skipped with a ``frontline: warning:`` line naming it.

Text that came from outside (stored names, sources, file names, upload reports, error
messages) reaches the terminal with its control characters shown as escapes, so it cannot
move the cursor, clear the screen or retitle the window.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pipeline import cli_snapshot, settings
from pipeline.errors import AmbiguousPlaceError, FrontlineError, InputError
from pipeline.safetext import terminal_json, terminal_text

if TYPE_CHECKING:
    from pipeline.build import Theatre
    from pipeline.store import GeoPackageStore

# The heavy modules (pandas, geopandas, matplotlib, folium) are imported by the commands
# that use them, so `--help` and a bad argument answer at once.


@contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Print each store warning once, as one ``frontline: warning:`` line on stderr."""
    from pipeline.store import StoreWarning

    seen: set[str] = set()
    with warnings.catch_warnings():
        warnings.simplefilter("always", StoreWarning)
        show_other = warnings.showwarning

        def show(
            message: Warning | str,
            category: type[Warning],
            filename: str,
            lineno: int,
            file: TextIO | None = None,
            line: str | None = None,
        ) -> None:
            if not issubclass(category, StoreWarning):
                show_other(message, category, filename, lineno, file, line)
                return
            text = f"frontline: warning: {terminal_text(str(message), one_line=True)}"
            if text not in seen:
                seen.add(text)
                print(text, file=sys.stderr)

        warnings.showwarning = show
        yield


def _revision_id(value: str) -> int:
    from pipeline.store import MAX_REVISION_ID

    # At most 19 digits before int(): a longer number is out of range anyway, and int()
    # refuses more than 4,300 digits with its own message.
    if value.isascii() and value.isdigit() and len(value) <= 19:
        number = int(value)
        if 0 < number <= MAX_REVISION_ID:
            return number
    shown = repr(value[:40]) + ("…" if len(value) > 40 else "")
    msg = f"bad revision id {shown}: expected a whole number from 1 to {MAX_REVISION_ID}"
    raise argparse.ArgumentTypeError(msg)


def _date(value: str) -> dt.date:
    from pipeline.build import check_day
    from pipeline.claims import parse_date

    try:
        return check_day(parse_date(value))
    except (ValueError, InputError) as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def _side(value: str) -> str:
    for side in settings.STATUSES:
        if value.lower() == side.lower():
            return side
    msg = f"unknown side {value!r}; expected one of {', '.join(settings.STATUSES)}"
    raise argparse.ArgumentTypeError(msg)


_VIEW_HELP = "claimant id (filled), 'own:<claimant>' (own word only) or 'consolidated[:a+b]'"


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every sub-command.

    Returns
    -------
    argparse.ArgumentParser
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="Frontline: dated, attributed claims of control turned into maps.",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=settings.DATA_DIR,
        help="theatre data folder (default: %(default)s)",
    )
    parser.add_argument(
        "--store",
        default=None,
        help="store of uploads: a .gpkg path (default: $FRONTLINE_STORE or data/store/)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("build", help="(re)derive everything and print a summary")

    geo = sub.add_parser("geocode", help="GeoJSON for a settlement, region or salient")
    geo.add_argument("name", help='e.g. Gornal, Горналь, "Kursk region", "the Kursk salient"')
    geo.add_argument("--on", type=_date, help="date (YYYY-MM-DD) for status and salients")
    geo.add_argument(
        "--claimant", help="claimant id, 'own:<claimant>' or 'consolidated[:a+b]' (default: all)"
    )
    geo.add_argument("--region", help="region context for ambiguous names, e.g. Belgorod")

    area = sub.add_parser("area", help="area held by a side; last line is km²")
    area.add_argument("--on", type=_date, required=True, help="date (YYYY-MM-DD)")
    area.add_argument(
        "--claimant", required=True, help="claimant id, 'own:<claimant>' or 'consolidated[:a+b]'"
    )
    area.add_argument("--side", type=_side, required=True, help="UA, RU or contested")
    area.add_argument("--within", help='a region, e.g. "Kursk region"')

    tl = sub.add_parser("timeline", help="area held by a side at every change date")
    tl.add_argument(
        "--claimant", required=True, help="claimant id, 'own:<claimant>' or 'consolidated[:a+b]'"
    )
    tl.add_argument("--side", type=_side, required=True, help="UA, RU or contested")
    tl.add_argument("--within", help='a region, e.g. "Kursk region"')
    tl.add_argument("--format", choices=("csv", "json"), default="csv", help="output format")

    ing = sub.add_parser("ingest", help="read, check and store an uploaded control map")
    ing.add_argument("file", type=Path, help="GeoJSON, KML, KMZ, zipped shapefile, GPKG, ...")
    ing.add_argument("--claimant", required=True, help="existing or new claimant id")
    when = ing.add_mutually_exclusive_group(required=True)
    when.add_argument("--date", type=_date, help="the date of every feature (YYYY-MM-DD)")
    when.add_argument("--date-from", metavar="FIELD", help="attribute holding each date")
    side = ing.add_mutually_exclusive_group(required=True)
    side.add_argument("--side", type=_side, help="the side of every feature")
    side.add_argument("--side-from", metavar="FIELD", help="attribute deciding the side")
    ing.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="PATTERN=SIDE",
        help="with --side-from: features whose value contains PATTERN go to SIDE "
        '(a "quoted" PATTERN matches the whole value)',
    )
    ing.add_argument("--mode", choices=settings.UPLOAD_MODES, default="snapshot")
    ing.add_argument("--clip", choices=("theatre", "none"), default="theatre")
    ing.add_argument("--layer", help="layer of a GeoPackage or multi-layer zip")
    ing.add_argument("--crs", help="confirm the CRS of a file that names none, e.g. EPSG:4326")
    ing.add_argument("--accept-repairs", action="store_true", help="store repaired geometry")
    ing.add_argument("--dry-run", action="store_true", help="report only; store nothing")
    ing.add_argument("--who", default=os.environ.get("USER", "cli"), help="who commits")
    ing.add_argument("--source", default="", help="where the data come from (required)")
    ing.add_argument("--licence", default="", help="licence of the data (required)")
    ing.add_argument("--name", default="", help="a new claimant's full name")
    ing.add_argument("--affiliation", default="", help="a new claimant's side: UA, RU, independent")
    ing.add_argument("--format", choices=("text", "json"), default="text", help="report format")

    rev = sub.add_parser("revisions", help="the store's revision history")
    rev.add_argument("--claimant", help="only this claimant's revisions")
    rev.add_argument("--format", choices=("table", "json"), default="table")

    undo = sub.add_parser("revert", help="revert a revision (appends a new one)")
    undo.add_argument("revision", type=_revision_id, help="revision id")
    undo.add_argument("--who", default=os.environ.get("USER", "cli"), help="who reverts it")
    cli_snapshot.add_parser(sub, _date)
    return parser


def _load(data_dir: Path, show_progress: bool, store: GeoPackageStore | None) -> Theatre:
    from tqdm import tqdm

    from pipeline.build import LOAD_STEPS, load_theatre

    bar = tqdm(
        total=LOAD_STEPS,
        desc="build",
        unit="step",
        file=sys.stderr,
        disable=not show_progress or not sys.stderr.isatty(),
        leave=False,
    )

    def step(label: str) -> None:
        bar.set_postfix_str(label)
        bar.update(1)

    try:
        base = load_theatre(data_dir, progress=step)
    finally:
        bar.close()
    if store is None:
        return base
    from pipeline import ingest

    return ingest.stored_theatre(base, store)


def cmd_ingest(base: Theatre, args: argparse.Namespace, out: TextIO) -> int:
    """Read, check and (unless ``--dry-run``) store an uploaded control map.

    Parameters
    ----------
    base : Theatre
        The theatre built from claims alone.
    args : argparse.Namespace
        Parsed ``ingest`` arguments.
    out : TextIO
        Where the report goes.

    Returns
    -------
    int
        0 when stored (or already stored, or a dry run).
    """
    from pipeline import ingest, side_patterns
    from pipeline.store import StoreError, open_store
    from pipeline.upload_read import MAX_BYTES

    path: Path = args.file
    if not path.is_file():
        raise InputError(f"file {str(path)!r} does not exist or is not a file")
    if path.stat().st_size > MAX_BYTES:
        raise InputError(f"file {path.name!r}: larger than {MAX_BYTES // 2**20} MiB")
    if args.map and not args.side_from:
        raise InputError("--map needs --side-from FIELD")
    store = open_store(args.store)  # a missing store is created by the commit alone
    if store.read_only and not args.dry_run:
        msg = f"store {str(store.path)!r} is read-only: nothing was written (try --dry-run)"
        raise StoreError(msg)
    known = {**base.claimants, **store.claimants()}
    claimant = None
    if args.claimant not in known:
        claimant = ingest.new_claimant(args.claimant, args.name, args.affiliation, args.licence)
    mapping = ingest.Mapping(
        claimant=args.claimant,
        date=args.date,
        date_field=args.date_from,
        side=args.side,
        side_field=args.side_from,
        patterns=side_patterns.parse_patterns(args.map),
        mode=args.mode,
        clip=args.clip == "theatre",
        accept_repairs=args.accept_repairs,
    )
    theatre = ingest.stored_theatre(base, store)
    draft = ingest.ingest_bytes(
        path.read_bytes(), path.name, mapping, theatre, layer=args.layer, crs=args.crs,
        claimant=claimant,
    )  # fmt: skip
    ingest.preview(base, store, draft, before=theatre)
    if not args.dry_run:
        ingest.commit(store, draft, who=args.who, source=args.source, licence=args.licence)
    else:
        draft.report.notes.append("dry run: nothing stored")
    if args.format == "json":
        out.write(terminal_json(draft.report.to_dict()) + "\n")
    else:
        lines = draft.report.lines()
        out.write("".join(terminal_text(line, one_line=True) + "\n" for line in lines))
    return 0


def cmd_revisions(args: argparse.Namespace, out: TextIO) -> int:
    """Print the store's revision history.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed ``revisions`` arguments.
    out : TextIO
        Where it goes.

    Returns
    -------
    int
        0.
    """
    import pandas as pd

    from pipeline.store import existing_store

    store = existing_store(args.store)
    revisions = [] if store is None else store.revisions(args.claimant)
    rows = [asdict(r) for r in revisions]
    if args.format == "json":
        out.write(terminal_json(rows) + "\n")
        return 0
    rows = [
        {k: terminal_text(v, one_line=True) if isinstance(v, str) else v for k, v in row.items()}
        for row in rows
    ]
    cols = ["revision_id", "committed_at", "who", "claimant", "date", "mode", "features",
            "area_km2", "reverts", "file_name", "licence"]  # fmt: skip
    frame = pd.DataFrame(rows, columns=cols)
    frame["committed_at"] = frame["committed_at"].str.slice(0, 19)
    frame["area_km2"] = frame["area_km2"].round(1)
    out.write(frame.to_string(index=False) + "\n" if len(frame) else "no revisions\n")
    return 0


def cmd_build(theatre: Theatre, out: TextIO) -> int:
    """Print a summary of the derived theatre.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    out : TextIO
        Where to print.

    Returns
    -------
    int
        Exit status.
    """
    regions, pl, cells, ledger = theatre.regions, theatre.places, theatre.cells, theatre.claims
    first, last = theatre.date_range()
    is_curated = pl["place_id"].str.startswith("cur-")
    mapped = ledger["place_id"].isin(set(cells["place_id"].dropna()))
    print(f"theatre: {len(regions)} regions, {regions['area_km2'].sum():,.0f} km²", file=out)
    for r in regions.itertuples(index=False):
        print(
            f"  {r.region_id:7} {r.name_en:18} {r.area_km2:9,.0f} km² "
            f"(official {float(r.official_area_km2):,.0f})",
            file=out,
        )
    print(
        f"places: {len(pl)} settlements ({int((~is_curated & ~pl['dense']).sum())} GeoNames "
        f"cities500, {int(pl['dense'].sum())} from the dense extracts, "
        f"{int(is_curated.sum())} curated); located {int(pl['located'].sum())}, "
        f"with a cell {int(pl['mapped'].sum())}, "
        f"unverified {int((pl['located'] & ~pl['verified']).sum())}, "
        f"unlocated {int((~pl['located']).sum())}",
        file=out,
    )
    n_open = int(cells["place_id"].isna().sum())
    print(
        f"cells: {len(cells) - n_open} settlement pieces, {n_open} open-ground pieces; "
        f"uncapped within {settings.FRONT_ZONE_M / 1000:g} km of a named settlement "
        f"(cut by a {settings.ZONE_GRID_M / 1000:g} km grid), else at most "
        f"{settings.CELL_MAX_RADIUS_M / 1000:g} km",
        file=out,
    )
    kinds = ledger["kind"].value_counts().to_dict()
    print(
        f"claims: {len(ledger)} from {first} to {last} "
        + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())),
        file=out,
    )
    for claimant, n in ledger["claimant"].value_counts().sort_index().items():
        print(f"  {claimant:10} {n}", file=out)
    control = ledger["kind"] == "control"
    print(
        f"control claims on the map: {int((control & mapped).sum())}; "
        f"at places without a cell: {int((control & ~mapped).sum())}",
        file=out,
    )
    print(f"fingerprint: {theatre.fingerprint}", file=out)
    return 0


def cmd_geocode(theatre: Theatre, args: argparse.Namespace, out: TextIO) -> int:
    """Print the GeoJSON of a place, region or salient.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    args : argparse.Namespace
        Parsed arguments (name, on, claimant, region).
    out : TextIO
        Where to print.

    Returns
    -------
    int
        Exit status (3 when ambiguous).
    """
    from pipeline.geocode import geocode_to_features

    collection = geocode_to_features(
        theatre, args.name, on=args.on, claimant=args.claimant, region=args.region
    )
    note = theatre.after_last(args.on) if args.on is not None else None
    if note is not None:
        collection["note"] = note  # beside the answer, in the answer
        print(f"frontline: note: {note}; the answer is the state the last claims left",
              file=sys.stderr)  # fmt: skip
    json.dump(collection, out, ensure_ascii=False)
    out.write("\n")
    if collection.get("ambiguous"):
        names = [
            f"{f['properties']['name']} [{f['properties']['place_id']}]"
            for f in collection["features"]
        ]
        regions = [str(f["properties"].get("region_id") or "") for f in collection["features"]]
        raise AmbiguousPlaceError(args.name, names, regions)
    return 0


def cmd_area(theatre: Theatre, args: argparse.Namespace, out: TextIO) -> int:
    """Print the area a side holds; the last line is the km² alone.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    args : argparse.Namespace
        Parsed arguments (on, claimant, side, within).
    out : TextIO
        Where to print.

    Returns
    -------
    int
        Exit status.
    """
    import pandas as pd

    from pipeline.claims import area_figures
    from pipeline.timeline import side_areas

    view = theatre.view(args.claimant)
    within = theatre.region_id(args.within) if args.within else None
    areas = side_areas(theatre.table(view), theatre.cells, args.on, within)
    where = within or "whole theatre"
    note = theatre.after_last(args.on)
    print(
        f"view {view.label}, {args.on.isoformat()}, {where}" + (f" ({note})" if note else ""),
        file=out,
    )
    for side, km2 in areas.items():
        print(
            f"  {side:9} {km2:12,.1f} km²  {km2 * settings.SQ_MILES_PER_KM2:10,.1f} mi²", file=out
        )
    if within is not None:
        figures = area_figures(theatre.claims, within, args.on)
        unmapped = unmapped_claims(theatre, args.on, within)
        print(
            f"mapped from the cells of located settlements; {unmapped} control claim(s) "
            "in this region up to this date are about unlocated villages",
            file=out,
        )
        for f in figures.to_dict("records"):
            count = "" if pd.isna(f["settlements"]) else f", {int(f['settlements'])} settlements"
            area = "" if pd.isna(f["area_km2"]) else f"{float(f['area_km2']):,.0f} km²"
            print(
                f"  claimed figure: {f['claimant']} {f['date']} {f['side']} {area}{count} "
                f"({f['publisher']}; {f['claim_id']})",
                file=out,
            )
    print(f"{areas[args.side]:.1f}", file=out)
    return 0


def unmapped_claims(theatre: Theatre, on: dt.date, region_id: str) -> int:
    """Count control claims up to a date in a region whose settlement has no cell.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    on : datetime.date
        Latest date to count.
    region_id : str
        The region.

    Returns
    -------
    int
        Number of such claims.
    """
    ledger = theatre.claims
    mapped = set(theatre.cells["place_id"].dropna())
    sel = (ledger["kind"] == "control") & (ledger["region_id"] == region_id)
    sel &= (ledger["date"] <= on) & ~ledger["place_id"].isin(mapped)
    return int(sel.sum())


def cmd_timeline(theatre: Theatre, args: argparse.Namespace, out: TextIO) -> int:
    """Print the area series of a side.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    args : argparse.Namespace
        Parsed arguments (claimant, side, within, format).
    out : TextIO
        Where to print.

    Returns
    -------
    int
        Exit status.
    """
    from pipeline.timeline import area_series

    view = theatre.view(args.claimant)
    within = theatre.region_id(args.within) if args.within else None
    series = area_series(theatre.table(view), theatre.cells, args.side, within)
    series.insert(0, "view", view.label)
    series.insert(1, "side", args.side)
    if args.format == "json":
        json.dump(series.to_dict(orient="records"), out, ensure_ascii=False, indent=1)
        out.write("\n")
    else:
        series.to_csv(out, index=False, lineterminator="\n")
    return 0


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the CLI.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default: ``sys.argv[1:]``).
    out : TextIO, optional
        Standard output (default: ``sys.stdout``).

    Returns
    -------
    int
        Exit status: 0 ok, 2 bad input, 3 ambiguous place.
    """
    out = out or sys.stdout
    args = build_parser().parse_args(argv)
    commands: dict[str, Any] = {
        "geocode": cmd_geocode,
        "area": cmd_area,
        "timeline": cmd_timeline,
        "snapshot": cli_snapshot.cmd_snapshot,
    }
    try:
        with _warnings_as_lines():
            return _run(args, out, commands)
    except FrontlineError as e:
        print(f"frontline: error: {terminal_text(str(e))}", file=sys.stderr)
        return e.exit_code
    except BrokenPipeError:  # e.g. `... | head`: the reader left; exit quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _run(args: argparse.Namespace, out: TextIO, commands: dict[str, Any]) -> int:
    from pipeline.store import existing_store, open_store

    if args.command == "revisions":
        return cmd_revisions(args, out)
    if args.command == "revert":
        rev = open_store(args.store).revert(args.revision, who=args.who)
        out.write(f"revision {rev.revision_id} reverts revision {rev.reverts}\n")
        return 0
    if args.command == "ingest":
        return cmd_ingest(_load(args.data, False, None), args, out)
    theatre = _load(args.data, args.command == "build", existing_store(args.store))
    if args.command == "build":
        return cmd_build(theatre, out)
    return int(commands[args.command](theatre, args, out))

"""``make bench``: the truth table, build time of the Kursk theatre, CLI start-up, uploads,
snapshots, the map page and a synthetic whole front.

Every figure is measured in this run, beside the naive baseline it is compared with.
Run on one core: ``taskset -c 0 python -m bench`` (the Makefile does so when it can).
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import shapely

from bench.app_bench import bench_browser, bench_script_time, clear_caches
from bench.cli_bench import bench_cli
from bench.snapshot_bench import bench_snapshots
from bench.synthetic import START, synthetic_claims, synthetic_places, synthetic_regions
from bench.truth_bench import bench_truth
from bench.upload_bench import bench_uploads
from pipeline import settings
from pipeline.build import load_theatre
from pipeline.territory import cells_from_points, front_zone
from pipeline.timeline import View, area_series, polygons_on, status_table

T = TypeVar("T")


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """Run ``fn`` once and return its result and the seconds it took."""
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def bench_kursk() -> None:
    """Cold build, warm load and every view's timeline of the embedded theatre."""
    print("== Kursk theatre (data/geo) ==")
    with tempfile.TemporaryDirectory() as tmp:
        clear_caches()
        theatre, cold = timed(lambda: load_theatre(settings.DATA_DIR, cache_dir=Path(tmp)))
        print(
            f"cold build (validate {len(theatre.claims)} claims, "
            f"{len(theatre.cells)} cells): {cold:.2f} s"
        )
        _, warm = timed(lambda: load_theatre(settings.DATA_DIR, cache_dir=Path(tmp)))
        print(f"warm load (in-process caches): {warm * 1000:.1f} ms")
    views = [*theatre.claimants, "consolidated"]
    _, t_tables = timed(lambda: [theatre.table(v) for v in views])
    print(f"status tables for {len(views)} views: {t_tables * 1000:.1f} ms")
    day = dt.date(2024, 8, 25)
    _, t_poly = timed(lambda: polygons_on(theatre.table("ua-gs"), theatre.cells, day))
    print(f"polygons of one view on one date: {t_poly * 1000:.1f} ms")
    # The cells before the dense gazetteer and the front zone, cut in the same run.
    sparse = theatre.places[theatre.places["mapped"] & ~theatre.places["dense"]]
    old, t_old = timed(lambda: cells_from_points(sparse, theatre.regions))
    mapped = theatre.places[theatre.places["mapped"]]
    named = mapped[mapped["place_id"].isin(set(theatre.claims["place_id"].dropna()))]
    new, t_new = timed(
        lambda: cells_from_points(mapped, theatre.regions, zone=front_zone(named, theatre.regions))
    )
    print(
        f"cells before (cities500 + curated, 5 km cap): {len(old):,} in {t_old:.2f} s; "
        f"now (dense gazetteer, front zone, grid): {len(new):,} in {t_new:.2f} s "
        f"({t_new / t_old:.1f}x the time)"
    )


def bench_synthetic(n_places: int, days: int, plain_sample: int) -> None:
    """Whole-front run: cells, claims, status table, area series, daily polygons."""
    print(f"== synthetic whole front: {n_places:,} settlements, {days:,} days ==")
    regions = synthetic_regions()
    pl = synthetic_places(n_places)
    cells, t_cells = timed(lambda: cells_from_points(pl, regions, settings.CELL_MAX_RADIUS_M))
    print(f"cells: {len(cells):,} pieces in {t_cells:.2f} s")
    events, t_claims = timed(lambda: synthetic_claims(pl, days))
    print(f"claims generated: {len(events):,} ({t_claims:.2f} s, not counted)")
    view = View("ru-mod", ("deepstate", "isw", "ua-gs"))
    table, t_table = timed(lambda: status_table(cells, events, view))
    print(f"status table: {len(table.dates):,} change dates in {t_table:.2f} s")
    _, t_series = timed(lambda: [area_series(table, cells, s) for s in settings.STATUSES])
    print(f"area series, {len(settings.STATUSES)} statuses, every date: {t_series:.2f} s")
    dates = [START + dt.timedelta(days=d) for d in range(days)]

    def daily() -> int:
        count = 0
        for day in dates:
            held = polygons_on(table, cells, day, beyond_border=True)
            count += int(held["cells"].sum())
        return count

    dissolved, t_daily = timed(daily)
    per_day = t_daily / days
    print(
        f"daily polygons (coverage union, ground beyond the border): {t_daily:.2f} s "
        f"({per_day * 1000:.1f} ms/day, {dissolved / days:,.0f} cells/day)"
    )

    geoms = cells.geometry.to_numpy()
    sample = dates[:: max(1, days // plain_sample)][:plain_sample]

    def by_union(union: Callable[[np.ndarray], shapely.Geometry]) -> float:
        start = time.perf_counter()
        for day in sample:
            status = table.cell_status(day)
            for code in range(3):
                sel = (status == code) & (status != table.baseline)
                if sel.any():
                    union(geoms[sel])
        return (time.perf_counter() - start) / len(sample)

    plain = by_union(shapely.union_all)
    cover = by_union(shapely.coverage_union_all)
    total = t_cells + t_table + t_series + t_daily
    print(
        f"union per day on {len(sample)} sampled days: plain {plain * 1000:.1f} ms, "
        f"coverage {cover * 1000:.1f} ms, ratio {plain / cover:.1f}x"
    )
    print(
        f"naive daily polygons with plain union (extrapolated from the sample): "
        f"{plain * days:.1f} s"
    )
    print(
        f"whole run (cells + status + series + daily polygons): {total:.1f} s "
        f"(target < 30 s: {'met' if total < 30 else 'NOT met'})"
    )


def build_parser() -> argparse.ArgumentParser:
    """The benchmarks' command line (the README names its flags)."""
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--places", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=1_000)
    parser.add_argument("--plain-sample", type=int, default=20)
    parser.add_argument(
        "--only", choices=("truth", "snapshots", "uploads", "cli"), help="run one group alone"
    )
    parser.add_argument(
        "--squares",
        type=int,
        default=50_000,
        help="squares in the upload bench (the issue's 50,000)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="uploads: 5,000 squares and no naive baseline"
    )
    return parser


def main() -> int:
    """Run the benchmarks."""
    args = build_parser().parse_args()
    squares, naive = (5_000, 0) if args.quick else (args.squares, 5_000)
    if args.only == "truth":
        bench_truth(load_theatre(settings.DATA_DIR))
        return 0
    if args.only == "snapshots":
        bench_snapshots()
        return 0
    if args.only == "cli":
        bench_cli()
        return 0
    if args.only == "uploads":
        bench_uploads(squares, naive)
        return 0
    bench_truth(load_theatre(settings.DATA_DIR))
    bench_kursk()
    bench_cli()
    bench_uploads(squares, naive)
    bench_snapshots()
    print("== map page ==")
    bench_script_time()
    bench_browser()
    bench_synthetic(args.places, args.days, args.plain_sample)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

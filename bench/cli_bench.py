"""Start-up of the CLI: ``--help`` and ``geocode Sudzha``, each in a fresh process.

The naive baselines are measured in the same run: ``--help`` with every heavy module
imported first (as the CLI did when it imported them all at start), and ``geocode``
without the load cache (claims validated and names indexed again, cells still cached).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from pipeline import settings
from pipeline.build import inputs_fingerprint, loaded_cache_path

RUNS = 5
"""Processes timed per command; the median is reported."""

_EAGER = (
    "import pipeline.export, pipeline.ingest, pipeline.geocode, pipeline.store; "
    "from pipeline.cli import main; raise SystemExit(main(['--help']))"
)


def _seconds(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - start


def _median(argv: list[str], before: list[str] | None = None) -> float:
    times = []
    for _ in range(RUNS):
        if before is not None:
            subprocess.run(before, check=True, capture_output=True)
        times.append(_seconds(argv))
    return statistics.median(times)


def bench_cli() -> None:
    """Print the start-up times, their targets and the ratio to the naive baselines."""
    print("== CLI start-up (fresh process each, median of 5) ==")
    cli = [sys.executable, "-m", "pipeline"]
    geocode = [*cli, "geocode", "Sudzha"]
    subprocess.run(geocode, check=True, capture_output=True)  # the caches exist
    help_s = _median([*cli, "--help"])
    eager_s = _median([sys.executable, "-c", _EAGER])
    geo_s = _median(geocode)
    folder = settings.CACHE_DIR / inputs_fingerprint(settings.DATA_DIR, settings.CELL_MAX_RADIUS_M)
    cached = loaded_cache_path(folder)
    drop = [sys.executable, "-c", f"import pathlib; pathlib.Path({str(cached)!r}).unlink()"]
    naive_s = _median(geocode, before=drop)
    print(
        f"--help: {help_s:.2f} s (target < 1 s: {'met' if help_s < 1 else 'NOT met'}); "
        f"with every module imported first: {eager_s:.2f} s ({eager_s / help_s:.1f}x)"
    )
    print(
        f"geocode Sudzha: {geo_s:.2f} s (target < 1.5 s: {'met' if geo_s < 1.5 else 'NOT met'}); "
        f"without the load cache: {naive_s:.2f} s ({naive_s / geo_s:.1f}x)"
    )

"""Snapshot speed: a 1600×1200 PNG of the Kursk theatre and a 30-frame GIF, against naive ways.

Naive PNG: what a notebook does: ``GeoDataFrame.plot`` of every settlement cell coloured by
its side (no dissolve), the regions, the border and an ``annotate`` per settlement, through
pyplot, saved at the same size. Naive GIF: a whole new figure per frame.
"""

from __future__ import annotations

import datetime as dt
import io
import statistics
import time
from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from pipeline import settings
from pipeline.animate import gif_bytes, series_days
from pipeline.build import Theatre, load_theatre
from pipeline.render import Canvas
from pipeline.snapshot import make_snapshot
from pipeline.webmap import SIDE_COLOURS

DAY = dt.date(2024, 8, 25)


def _median(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _naive_png(t: Theatre, extent: tuple[float, float, float, float]) -> bytes:
    status = t.table("ua-gs").cell_status(DAY)
    cells = t.cells.to_crs(settings.EQUAL_AREA_CRS)
    colours = np.array([SIDE_COLOURS[s] for s in settings.STATUSES])[status]
    fig, ax = plt.subplots(figsize=(1600 / 150, 1200 / 150), dpi=150)
    cells.plot(ax=ax, color=colours, alpha=0.5, edgecolor="none")
    t.regions.to_crs(settings.EQUAL_AREA_CRS).boundary.plot(ax=ax, color="grey", linewidth=0.6)
    t.border_lines().to_crs(settings.EQUAL_AREA_CRS).plot(ax=ax, color="black", linewidth=1.5)
    places = t.places[t.places["located"]].to_crs(settings.EQUAL_AREA_CRS)
    places.plot(ax=ax, color="#444444", markersize=4)
    for name, p in zip(places["name"], places.geometry, strict=True):
        ax.annotate(str(name), (p.x, p.y), fontsize=6)
    x0, y0, x1, y1 = extent
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_title(f"ua-gs on {DAY}")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150)
    plt.close(fig)
    return buf.getvalue()


def _naive_gif(t: Theatre, size: str, days: list[dt.date]) -> bytes:
    images = []
    for day in days:
        snap = make_snapshot(t, day, ["ua-gs"], size=size)
        images.append(Image.fromarray(Canvas(t, snap).to_rgb()).quantize(colors=128))
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=700)
    return buf.getvalue()


def bench_snapshots() -> None:
    """Print the PNG and GIF figures beside their naive baselines."""
    print("== snapshots ==")
    theatre = load_theatre(settings.DATA_DIR)
    for extent in ("theatre", "Kursk salient"):
        snap = make_snapshot(theatre, DAY, ["ua-gs", "ru-mod"], extent=extent, size="1600x1200")
        start = time.perf_counter()
        png = Canvas(theatre, snap).to_bytes("png")
        cold = time.perf_counter() - start
        warm = _median(lambda s=snap: Canvas(theatre, s).to_bytes("png"), 5)  # type: ignore[misc]
        naive = _median(lambda s=snap: _naive_png(theatre, s.extent.bounds), 3)  # type: ignore[misc]
        assert Image.open(io.BytesIO(png)).size == (1600, 1200)
        print(
            f"1600x1200 PNG, extent {extent!r}, 2 claimants: first {cold:.2f} s, "
            f"then {warm:.2f} s (median of 5); naive per-cell plot {naive:.2f} s, "
            f"ratio {naive / warm:.1f}x "
            f"(target < 1 s: {'met' if max(cold, warm) < 1 else 'NOT met'})"
        )
    days = series_days(dt.date(2024, 8, 6), dt.date(2025, 2, 25), dt.timedelta(days=7))[:30]
    size = "960x540"
    snap = make_snapshot(theatre, days[0], ["ua-gs"], size=size)
    start = time.perf_counter()
    gif = gif_bytes(theatre, snap, days)
    t_gif = time.perf_counter() - start
    start = time.perf_counter()
    _naive_gif(theatre, size, days)
    t_naive = time.perf_counter() - start
    frames = getattr(Image.open(io.BytesIO(gif)), "n_frames", 1)
    print(
        f"{frames}-frame GIF {size}, weekly from {days[0]} to {days[-1]}: {t_gif:.2f} s "
        f"({len(gif) / 1e6:.1f} MB); naive (a new figure per frame) {t_naive:.2f} s, "
        f"ratio {t_naive / t_gif:.1f}x (target < 15 s: {'met' if t_gif < 15 else 'NOT met'})"
    )

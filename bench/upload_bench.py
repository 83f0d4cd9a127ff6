"""Upload speed: one large honest upload, then commands on the store that holds it.

50,000 squares of 200 m on a grid inside the Kursk theatre (a GeoJSON within every cap)
are ingested with the CLI, then ``area`` runs on that store and on an empty one, each a
fresh process as an analyst would run it. The ingest's preview caches the cells it split,
so even the first ``area`` reads them back; the cost without any cache (read the store,
split the cells) is measured in process. The naive baseline, run
on a sample of the squares in the same run, is how uploads were applied before: every
polygon's edges noded together with the cells' on the grid and polygonised, each cell cut
by every face with an overlay, and each face a unit of its own.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from pipeline import settings
from pipeline.build import Theatre, load_theatre
from pipeline.claims import Claimant
from pipeline.ingest import stored_theatre
from pipeline.store import GeoPackageStore
from pipeline.territory import GRID_M
from pipeline.uploads import apply_uploads

DAY = dt.date(2025, 1, 10)
SIZE_M = 200.0
STEP_M = 400.0
CENTRE = (35.27, 51.19)
"""Sudzha: the grid of squares is centred here and spreads over Kursk and Sumy."""
MINE = Claimant("my-team", "My team", "bench", "independent", "CC0")


def squares(theatre: Theatre, n: int) -> gpd.GeoDataFrame:
    """``n`` squares of :data:`SIZE_M` every :data:`STEP_M`, all inside the theatre.

    Parameters
    ----------
    theatre : Theatre
        The theatre (its extent bounds the grid).
    n : int
        How many squares.

    Returns
    -------
    geopandas.GeoDataFrame
        One square a row, nearest the centre first (EPSG:4326).
    """
    extent = gpd.GeoSeries([theatre.extent], crs=settings.GEO_CRS).to_crs(settings.EQUAL_AREA_CRS)
    inside = extent.iloc[0]
    shapely.prepare(inside)
    centre = gpd.GeoSeries(shapely.points([CENTRE]), crs=settings.GEO_CRS)
    cx, cy = shapely.get_coordinates(centre.to_crs(settings.EQUAL_AREA_CRS).iloc[0])[0]
    side = int(np.ceil(np.sqrt(n))) + 2
    while True:
        i, j = np.meshgrid(np.arange(-side, side), np.arange(-side, side))
        x = np.round(cx) + i.ravel() * STEP_M
        y = np.round(cy) + j.ravel() * STEP_M
        boxes = shapely.box(x, y, x + SIZE_M, y + SIZE_M)
        boxes = boxes[shapely.contains_properly(inside, boxes)]
        if len(boxes) >= n:
            break
        side *= 2
    order = np.argsort(np.hypot(*(shapely.get_coordinates(shapely.centroid(boxes)) - (cx, cy)).T))
    frame = gpd.GeoDataFrame(
        {"n": np.arange(n)}, geometry=boxes[order[:n]], crs=settings.EQUAL_AREA_CRS
    )
    return frame.to_crs(settings.GEO_CRS)


def _geojson(frame: gpd.GeoDataFrame, path: Path) -> None:
    features = [
        {"type": "Feature", "properties": {"n": int(k)}, "geometry": json.loads(g)}
        for k, g in zip(frame["n"], shapely.to_geojson(frame.geometry.to_numpy()), strict=True)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))


def _cli(*args: str) -> float:
    """Seconds one ``python -m pipeline`` command takes, as a fresh process."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        cwd=settings.ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - start
    if done.returncode != 0:
        msg = f"python -m pipeline {' '.join(args)} failed:\n{done.stderr[-2000:]}"
        raise RuntimeError(msg)
    return took


def _area(store: Path, claimant: str) -> float:
    return _cli(
        "--store",
        str(store),
        "area",
        "--on",
        DAY.isoformat(),
        "--claimant",
        claimant,
        "--side",
        "UA",
    )


def _naive_pieces(cells: gpd.GeoDataFrame, polygons: gpd.GeoDataFrame) -> int:
    """How uploads were applied before: all edges noded together, one unit per face."""
    edges = shapely.set_precision(
        polygons.to_crs(cells.crs).boundary.to_numpy(), GRID_M, mode="pointwise"
    )
    geoms = cells.geometry.to_numpy()
    _, hit = shapely.STRtree(geoms).query(edges, predicate="intersects")
    touched = np.unique(hit)
    noded = shapely.union_all(edges, grid_size=GRID_M)
    faces = np.asarray(shapely.get_parts(shapely.polygonize([noded])), dtype=object)
    faces = faces[shapely.area(faces) > 0]
    covered = shapely.union_all(faces, grid_size=GRID_M)
    cell_of, face_of = shapely.STRtree(faces).query(geoms[touched], predicate="intersects")
    parts = shapely.intersection(geoms[touched][cell_of], faces[face_of], grid_size=GRID_M)
    rest = shapely.difference(geoms[touched], covered, grid_size=GRID_M)
    pieces = np.concatenate([parts, rest])
    pieces = pieces[~shapely.is_empty(pieces)]
    # Membership: which pieces lie inside which polygon (each a unit of its own).
    points = shapely.STRtree(shapely.point_on_surface(pieces))
    points.query(polygons.to_crs(cells.crs).geometry.to_numpy(), predicate="contains")
    return len(pieces)


def _stored(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Squares as the store hands them out: one snapshot revision of my-team."""
    return frame.assign(
        revision_id=1, claimant=MINE.claimant_id, date=DAY.isoformat(), side="UA", mode="snapshot"
    )


def bench_uploads(n: int = 50_000, naive: int = 5_000, runs: int = 3) -> None:
    """Print ingest and area times for ``n`` squares, beside an empty store and the naive way.

    Parameters
    ----------
    n : int
        Squares in the upload (the issue's figure is 50,000, the most an upload may hold).
    naive : int
        Squares in the sample the naive baseline runs on (0: skip it).
    runs : int
        ``area`` runs per store (the median is shown).
    """
    print(f"== uploads: {n:,} squares of {SIZE_M:.0f} m ==")
    theatre = load_theatre(settings.DATA_DIR)
    frame = squares(theatre, n)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        upload = folder / "squares.geojson"
        _geojson(frame, upload)
        empty, loaded = folder / "empty.gpkg", folder / "loaded.gpkg"
        empty.touch()  # an existing store without revisions
        t_ingest = _cli(
            "--store",
            str(loaded),
            "ingest",
            str(upload),
            "--claimant",
            MINE.claimant_id,
            "--name",
            MINE.name,
            "--affiliation",
            MINE.affiliation,
            "--date",
            DAY.isoformat(),
            "--side",
            "UA",
            "--source",
            "bench",
            "--licence",
            "CC0",
            "--who",
            "bench",
        )
        size = upload.stat().st_size / 2**20
        print(
            f"ingest {n:,} squares ({size:.1f} MiB GeoJSON), CLI: {t_ingest:.1f} s "
            f"(target < 30 s, well under a minute: {'met' if t_ingest < 30 else 'NOT met'})"
        )
        t_first = _area(loaded, MINE.claimant_id)
        t_empty = statistics.median(_area(empty, "ua-gs") for _ in range(runs))
        t_loaded = statistics.median(_area(loaded, MINE.claimant_id) for _ in range(runs))
        t_other = statistics.median(_area(loaded, "ua-gs") for _ in range(runs))
        start = time.perf_counter()
        applied = stored_theatre(theatre, GeoPackageStore(loaded), cache_dir=None)
        t_cold = time.perf_counter() - start
    ratio = t_loaded / t_empty
    print(f"area, empty store: {t_empty:.2f} s (median of {runs})")
    print(
        f"area, store with the upload: first {t_first:.2f} s (the cells the ingest split "
        f"are read back), then {t_loaded:.2f} s for my-team, {t_other:.2f} s for ua-gs "
        f"(median of {runs})"
    )
    print(
        f"ratio loaded / empty: {ratio:.2f}x, first run {t_first / t_empty:.2f}x "
        f"(target <= 2x: {'met' if max(ratio, t_first / t_empty) <= 2 else 'NOT met'})"
    )
    print(
        f"the store's uploads without any cache (read {n:,} polygons, split the cells): "
        f"{t_cold:.2f} s, {len(applied.cells):,} pieces; an area would take about "
        f"{(t_empty + t_cold) / t_empty:.2f}x an empty store's"
    )
    stored = _stored(frame)
    if naive:
        sample = stored.iloc[:naive]
        start = time.perf_counter()
        apply_uploads(theatre, sample, {MINE.claimant_id: MINE})
        t_new = time.perf_counter() - start
        start = time.perf_counter()
        pieces = _naive_pieces(theatre.cells, sample)
        t_naive = time.perf_counter() - start
        print(
            f"split the cells by {naive:,} squares: {t_new:.2f} s; naive (every edge "
            f"noded, a unit per face, {pieces:,} pieces) {t_naive:.2f} s, "
            f"ratio {t_naive / t_new:.1f}x"
        )

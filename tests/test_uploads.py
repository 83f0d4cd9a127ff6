"""Uploaded revisions on the timeline: split cells, snapshot and patch rules, private views."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from pipeline import ingest, settings
from pipeline.build import Theatre
from pipeline.claims import Claimant
from pipeline.ingest import stored_theatre
from pipeline.store import GeoPackageStore, content_hash
from pipeline.timeline import side_areas
from pipeline.upload_read import read_upload
from pipeline.uploads import apply_uploads, refine_cells
from tests.conftest import feature, feature_collection

MINE = Claimant("my-team", "My team", "test", "independent", "CC0")
D1, D2, D3 = dt.date(2024, 8, 20), dt.date(2024, 9, 1), dt.date(2024, 9, 10)


def _square(lon: float, lat: float, half: float) -> shapely.Polygon:
    return shapely.box(lon - half, lat - half, lon + half, lat + half)


def _frame(*items: tuple[shapely.Geometry, str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"side": [s for _, s in items]}, geometry=[g for g, _ in items], crs=settings.GEO_CRS
    )


def _km2(geom: shapely.Geometry) -> float:
    series = gpd.GeoSeries([geom], crs=settings.GEO_CRS).to_crs(settings.EQUAL_AREA_CRS)
    return float(series.area.iloc[0] / 1e6)


def _held(t: Theatre, view: str, day: dt.date, side: str = "UA") -> float:
    ground = t.ground(view, day)
    return float(ground.loc[ground["side"] == side, "area_km2"].sum())


@pytest.fixture
def store(tmp_path: Path) -> GeoPackageStore:
    return GeoPackageStore(tmp_path / "s.gpkg")


def _commit(
    store: GeoPackageStore, day: dt.date, frame: gpd.GeoDataFrame, mode: str = "snapshot"
) -> int:
    known = store.claimants()
    (rev,) = store.commit_batch(
        [(day, frame)],
        who="t",
        claimant=MINE.claimant_id,
        mode=mode,
        source="s",
        licence="CC0",
        file_name="f.geojson",
        file_sha256=f"{day}{mode}",
        new_claimant=None if known else MINE,
    )
    return rev.revision_id


def _applied(kursk: Theatre, store: GeoPackageStore) -> Theatre:
    return apply_uploads(kursk, store.polygons(), store.claimants())


def test_refined_cells_still_partition_the_theatre(kursk: Theatre) -> None:
    square = _frame((_square(35.27, 51.19, 0.06), "UA"), (_square(35.5, 51.3, 0.03), "RU"))
    refined = refine_cells(kursk.cells, square)
    assert len(refined) > len(kursk.cells)
    # Within 0.01 km² of 179,000: what snapping new crossings to the 1 m grid moves.
    assert refined["area_km2"].sum() == pytest.approx(kursk.cells["area_km2"].sum(), abs=0.01)
    assert shapely.coverage_is_valid(refined.geometry.to_numpy())
    # Each piece stays inside its parent cell and keeps its settlement and region.
    parents = kursk.cells.set_index("cell_id").loc[refined["parent_cell"]]
    assert (parents["region_id"].to_numpy() == refined["region_id"].to_numpy()).all()
    inside = shapely.within(
        shapely.point_on_surface(refined.geometry.to_numpy()), parents.geometry.to_numpy()
    )
    assert inside.all()
    # ... and the point inferred ground is tested at: a cut never moves inference.
    for axis in ("inner_x", "inner_y"):
        assert (parents[axis].to_numpy() == refined[axis].to_numpy()).all()
    assert shapely.within(
        shapely.points(parents[["inner_x", "inner_y"]].to_numpy()), parents.geometry.to_numpy()
    ).all()


def test_snapshots_replace_the_earlier_map_and_patches_add(
    kursk: Theatre, store: GeoPackageStore
) -> None:
    big, small = _square(35.27, 51.19, 0.06), _square(35.27, 51.19, 0.03)
    _commit(store, D1, _frame((big, "UA")))
    _commit(store, D2, _frame((small, "UA")))
    _commit(store, D3, _frame((_square(35.5, 51.3, 0.02), "UA")), mode="patch")
    t = _applied(kursk, store)
    assert _held(t, "my-team", D1 - dt.timedelta(days=1)) == 0
    assert _held(t, "my-team", D1) == pytest.approx(_km2(big), rel=0.01)
    assert _held(t, "my-team", D2) == pytest.approx(_km2(small), rel=0.01)
    patched = _km2(small) + _km2(_square(35.5, 51.3, 0.02))
    assert _held(t, "my-team", D3) == pytest.approx(patched, rel=0.01)


def test_two_sides_on_one_spot_are_contested(kursk: Theatre, store: GeoPackageStore) -> None:
    spot = _square(35.27, 51.19, 0.03)
    _commit(store, D1, _frame((spot, "UA"), (spot, "RU")))
    t = _applied(kursk, store)
    assert _held(t, "my-team", D1, "contested") == pytest.approx(_km2(spot), rel=0.01)
    assert _held(t, "my-team", D1, "UA") == 0


def test_an_uploaded_map_leaves_other_views_alone(kursk: Theatre, store: GeoPackageStore) -> None:
    _commit(store, D1, _frame((_square(35.27, 51.19, 0.2), "UA")))
    t = _applied(kursk, store)
    for view in ("ua-gs", "ru-mod", "consolidated"):
        for side in settings.SIDES:
            expected = _held(kursk, view, D2, side)
            assert _held(t, view, D2, side) == pytest.approx(expected, abs=0.01)
    assert t.view("my-team").sources == ()
    assert "my-team" not in t.view("consolidated").sources
    assert "my-team" in t.view("consolidated:my-team+isw").sources
    assert t.fingerprint != kursk.fingerprint


def test_a_revert_takes_the_upload_off_the_map(kursk: Theatre, store: GeoPackageStore) -> None:
    first = _commit(store, D1, _frame((_square(35.27, 51.19, 0.06), "UA")))
    _commit(store, D2, _frame((_square(35.27, 51.19, 0.03), "UA")))
    store.revert(first, who="t")
    t = _applied(kursk, store)
    assert _held(t, "my-team", D1) == 0  # the first snapshot is gone
    assert _held(t, "my-team", D2) == pytest.approx(_km2(_square(35.27, 51.19, 0.03)), rel=0.01)
    assert [r.mode for r in store.revisions()] == ["snapshot", "snapshot", "revert"]


def _grid_of_squares(gap_m: float, n: int = 20, size_m: float = 200.0) -> gpd.GeoDataFrame:
    """``n`` x ``n`` squares of ``size_m`` around Sudzha, ``gap_m`` apart (EPSG:4326)."""
    step = size_m + gap_m
    i, j = (a.ravel() for a in np.meshgrid(np.arange(n), np.arange(n)))
    # Around Sudzha (LAEA origin 35 E 51 N), across the edges of several cells.
    x, y = 18_000.0 + i * step, 19_000.0 + j * step
    squares = gpd.GeoSeries(shapely.box(x, y, x + size_m, y + size_m), crs=settings.EQUAL_AREA_CRS)
    return gpd.GeoDataFrame({"side": ["UA"] * len(x)}, geometry=squares.to_crs(settings.GEO_CRS))


@pytest.mark.parametrize("gap_m", [0.0, 150.0], ids=["touching", "apart"])
def test_many_small_squares_hold_the_ground_of_their_union(
    kursk: Theatre, tmp_path: Path, gap_m: float
) -> None:
    squares = _grid_of_squares(gap_m)
    half = squares.iloc[: len(squares) // 2].assign(side="RU")
    union = shapely.coverage_union_all(squares.geometry.to_numpy())
    half_union = shapely.coverage_union_all(half.geometry.to_numpy())
    many, one = GeoPackageStore(tmp_path / "many.gpkg"), GeoPackageStore(tmp_path / "one.gpkg")
    _commit(many, D1, squares)
    _commit(many, D2, half, mode="patch")
    _commit(one, D1, _frame((union, "UA")))
    _commit(one, D2, _frame((half_union, "RU")), mode="patch")
    by_squares, by_union = _applied(kursk, many), _applied(kursk, one)
    assert shapely.coverage_is_valid(by_squares.cells.geometry.to_numpy())
    # One unit per cell and layer, however many squares: not one per square.
    assert len(by_squares.cells) == len(by_union.cells) < len(kursk.cells) + 100
    assert _held(by_squares, "my-team", D1) == pytest.approx(_km2(union), rel=1e-3)
    for view in ("my-team", "consolidated:my-team+isw"):
        for day in (D1 - dt.timedelta(days=1), D1, D2, D3):
            for side in settings.SIDES:
                expected = _held(by_union, view, day, side)
                assert _held(by_squares, view, day, side) == pytest.approx(expected, abs=1e-3)
            a = side_areas(by_squares.table(view), by_squares.cells, day)
            b = side_areas(by_union.table(view), by_union.cells, day)
            assert a == pytest.approx(b, abs=1e-3)


def test_the_same_map_uploaded_again_holds_its_ground_on_both_dates(
    kursk: Theatre, store: GeoPackageStore
) -> None:
    squares = _grid_of_squares(150.0, n=6)
    big = _square(35.5, 51.3, 0.02)
    _commit(store, D1, pd.concat([squares, _frame((big, "UA"))], ignore_index=True))
    _commit(store, D2, squares)
    t = _applied(kursk, store)
    area = sum(_km2(g) for g in squares.geometry)
    assert _held(t, "my-team", D1) == pytest.approx(area + _km2(big), rel=1e-3)
    assert _held(t, "my-team", D2) == pytest.approx(area, rel=1e-3)  # big is gone
    # The squares are one piece per cell they touch, held by both revisions, not one piece
    # per upload or per square: each touched cell gains one piece per set of revisions.
    added = len(t.cells) - len(kursk.cells)
    assert added <= _touched(kursk.cells, squares) + _touched(kursk.cells, _frame((big, "UA")))
    assert _touched(kursk.cells, squares) < len(squares)


def test_stored_uploads_are_cached_until_the_store_changes(
    kursk: Theatre, store: GeoPackageStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    _commit(store, D1, _frame((_square(35.27, 51.19, 0.03), "UA")))
    first = stored_theatre(kursk, store, cache_dir=cache)
    assert len(list((cache / "uploads").glob("*.meta.json"))) == 1
    with monkeypatch.context() as patched:
        # An unchanged store is recognised by its fingerprint: not even its polygons are read.
        patched.setattr(ingest, "apply_uploads", _refuse)
        patched.setattr(store, "polygons", _refuse)
        again = stored_theatre(kursk, store, cache_dir=cache)
    assert again.fingerprint == first.fingerprint
    assert again.claimants == first.claimants
    assert again.private == first.private
    geoms = again.cells.geometry.to_numpy(), first.cells.geometry.to_numpy()
    assert shapely.equals_exact(*geoms).all()
    pd.testing.assert_frame_equal(again.events, first.events)
    assert _held(again, "my-team", D1) == _held(first, "my-team", D1)
    # A commit changes the store's fingerprint: the new state is derived, not read back.
    _commit(store, D2, _frame((_square(35.27, 51.19, 0.01), "UA")))
    after = stored_theatre(kursk, store, cache_dir=cache)
    assert after.fingerprint != first.fingerprint
    assert _held(after, "my-team", D2) == pytest.approx(_km2(_square(35.27, 51.19, 0.01)), rel=0.01)
    uncached = stored_theatre(kursk, store, cache_dir=None)
    assert uncached.fingerprint == after.fingerprint
    pd.testing.assert_frame_equal(uncached.events, after.events)


def _refuse(*_: object) -> object:
    raise AssertionError("the uploads were read and applied again")


def test_a_previewed_upload_is_not_split_again_after_its_commit(
    kursk: Theatre, store: GeoPackageStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    _commit(store, D1, _frame((_square(35.5, 51.3, 0.02), "UA")))
    spot = _square(35.27, 51.19, 0.03)
    data = feature_collection(feature(spot, name="mine"))
    draft = ingest.prepare(
        read_upload(data, "spot.geojson"),
        ingest.Mapping(MINE.claimant_id, date=D2, side="UA"),
        stored_theatre(kursk, store, cache_dir=None),
        sha256=content_hash(data),
        today=D3,
    )
    previewed = ingest.preview(kursk, store, draft, cache_dir=cache)
    ingest.commit(store, draft, who="t", source="s", licence="CC0")
    with monkeypatch.context() as patched:
        patched.setattr(ingest, "apply_uploads", _refuse)
        cached = stored_theatre(kursk, store, cache_dir=cache)
    fresh = stored_theatre(kursk, store, cache_dir=None)
    assert cached.fingerprint == fresh.fingerprint == previewed.fingerprint
    pd.testing.assert_frame_equal(cached.events, fresh.events)
    assert shapely.equals_exact(
        cached.cells.geometry.to_numpy(), fresh.cells.geometry.to_numpy()
    ).all()
    assert _held(cached, "my-team", D2) == pytest.approx(_km2(spot), rel=0.01)


def _touched(cells: gpd.GeoDataFrame, ground: gpd.GeoDataFrame) -> int:
    """How many cells the uploaded ground overlaps."""
    union = shapely.union_all(ground.to_crs(cells.crs).geometry.to_numpy())
    return int(cells.geometry.intersects(union).sum())

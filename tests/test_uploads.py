"""Uploaded revisions on the timeline: split cells, snapshot and patch rules, private views."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from pipeline import settings
from pipeline.build import Theatre
from pipeline.claims import Claimant
from pipeline.store import GeoPackageStore
from pipeline.uploads import apply_uploads, refine_cells

MINE = Claimant("my-team", "My team", "test", "independent", "CC0")
D1, D2, D3 = dt.date(2024, 8, 20), dt.date(2024, 9, 1), dt.date(2024, 9, 10)


def _square(lon: float, lat: float, half: float) -> shapely.Polygon:
    return shapely.box(lon - half, lat - half, lon + half, lat + half)


def _frame(*items: tuple[shapely.Polygon, str]) -> gpd.GeoDataFrame:
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

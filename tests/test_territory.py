"""Settlement cells partition the theatre: disjoint, and their union is the theatre."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import settings as fl_settings
from pipeline.errors import CRSError
from pipeline.territory import GRID_M, cells_from_points, dissolve_cells

# Two regions of one country and one of the other, sharing edges (EPSG:4326).
REGIONS = gpd.GeoDataFrame(
    {"region_id": ["RU-A", "RU-B", "UA-C"], "country": ["RU", "RU", "UA"]},
    geometry=[
        shapely.box(35.0, 51.0, 35.3, 51.3),
        shapely.box(35.3, 51.0, 35.6, 51.3),
        shapely.Polygon([(35.0, 50.7), (35.6, 50.7), (35.6, 51.0), (35.3, 51.0), (35.0, 51.0)]),
    ],
    crs="EPSG:4326",
)

coords = st.tuples(st.floats(34.95, 35.65), st.floats(50.65, 51.35))


def _points(pts: list[tuple[float, float]]) -> gpd.GeoDataFrame:
    geoms = [shapely.Point(lon, lat) for lon, lat in pts]
    country = ["RU" if lat >= 51.0 else "UA" for _, lat in pts]
    return gpd.GeoDataFrame(
        {"place_id": [f"p{i}" for i in range(len(pts))], "country": country},
        geometry=geoms,
        crs="EPSG:4326",
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pts=st.lists(coords, min_size=0, max_size=25), radius=st.floats(2_000, 20_000))
def test_cells_partition_the_theatre(pts: list[tuple[float, float]], radius: float) -> None:
    cells = cells_from_points(_points(pts), REGIONS, radius)
    theatre = REGIONS.to_crs(fl_settings.EQUAL_AREA_CRS).union_all()
    geoms = cells.geometry.to_numpy()
    # Disjoint: the areas add up to the area of their union ...
    union = shapely.union_all(geoms)
    assert cells["area_km2"].sum() == pytest.approx(union.area / 1e6, rel=1e-6)
    # ... and the union is the theatre, up to the 1 m grid along its boundary.
    assert union.symmetric_difference(theatre).area < theatre.length * GRID_M
    # A valid coverage, which coverage_union relies on.
    assert bool(shapely.coverage_is_valid(geoms))
    # Every piece lies in one region of its country, and no cell is wider than the radius.
    regions = REGIONS.to_crs(fl_settings.EQUAL_AREA_CRS).set_index("region_id")
    points = _points(pts).to_crs(fl_settings.EQUAL_AREA_CRS).set_index("place_id")
    for rid, country, geom, pid in zip(
        cells["region_id"], cells["country"], geoms, cells["place_id"], strict=True
    ):
        region = regions.loc[rid]
        assert region["country"] == country
        assert geom.difference(region.geometry).area < region.geometry.length * GRID_M
        if isinstance(pid, str):
            point = points.loc[pid]
            # The cell lies in the country whose region holds the point (declared if none).
            holder = regions[regions.geometry.contains(point.geometry)]
            expected = holder["country"].iloc[0] if len(holder) else point["country"]
            assert country == expected
            assert shapely.hausdorff_distance(geom, point.geometry) <= radius + 2


def test_settlement_near_the_border_keeps_its_cell_in_its_country() -> None:
    cells = cells_from_points(_points([(35.3, 51.01), (35.3, 50.99)]), REGIONS, 10_000)
    for pid, country in (("p0", "RU"), ("p1", "UA")):
        assert set(cells.loc[cells["place_id"] == pid, "country"]) == {country}


def test_coverage_union_equals_plain_union() -> None:
    rng = np.random.default_rng(7)
    pts = list(zip(rng.uniform(35.0, 35.6, 60), rng.uniform(50.7, 51.3, 60), strict=True))
    cells = cells_from_points(_points(pts), REGIONS, 6_000)
    mask = rng.random(len(cells)) < 0.5
    fast = dissolve_cells(cells, mask)
    slow = shapely.union_all(cells.geometry.to_numpy()[mask])
    assert shapely.symmetric_difference(fast, slow).area < 1.0


def test_cells_refuse_frames_without_crs() -> None:
    with pytest.raises(CRSError, match="points"):
        cells_from_points(_points([(35.1, 51.1)]).set_crs(None, allow_override=True), REGIONS)


def test_cells_refuse_non_positive_radius() -> None:
    with pytest.raises(ValueError, match="-5"):
        cells_from_points(_points([(35.1, 51.1)]), REGIONS, -5)

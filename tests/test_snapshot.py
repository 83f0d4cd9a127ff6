"""Snapshot requests: sizes, extents, checks at the door, stamps and the layers drawn."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import shapely

from pipeline.build import Theatre, load_theatre
from pipeline.errors import InputError, PlaceNotFoundError
from pipeline.extent import TO_DRAW, extent_from_permalink, resolve_extent
from pipeline.ingest import stored_theatre
from pipeline.snapshot import (
    data_version,
    drawn_layers,
    figure_id,
    label_candidates,
    make_snapshot,
    parse_size,
    source_line,
)
from pipeline.store import GeoPackageStore
from tests.conftest import claim_row, make_theatre_dir

AUG25 = dt.date(2024, 8, 25)
SUDZHA = (35.2708, 51.1924)  # checked against the gazetteer in test_named_place_frames_it


@pytest.mark.parametrize(
    ("spec", "width", "height", "inches"),
    [
        ("a4", 3508, 2480, (3508 / 300, 2480 / 300)),
        ("slide", 1920, 1080, (12.8, 7.2)),
        ("square", 1080, 1080, (7.2, 7.2)),
        ("1600x1200", 1600, 1200, (1600 / 150, 8.0)),
        ("400 x 400", 400, 400, (6.0, 6.0)),  # small: kept 6 in wide so text stays legible
    ],
)
def test_sizes(spec: str, width: int, height: int, inches: tuple[float, float]) -> None:
    size = parse_size(spec)
    assert (size.width, size.height) == (width, height)
    assert size.inches == pytest.approx(inches)


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("huge", "use a4, slide, square"),
        ("100x100", "320 to 8000"),
        ("8000x8000", "over the cap"),
        ("1600x", "WIDTHxHEIGHT"),
    ],
)
def test_bad_sizes_name_the_value(spec: str, reason: str) -> None:
    with pytest.raises(InputError, match=reason) as err:
        parse_size(spec)
    assert repr(spec) in str(err.value)


def _lonlat_centre(bounds: tuple[float, float, float, float]) -> tuple[float, float]:
    x0, y0, x1, y1 = bounds
    lon, lat = TO_DRAW.transform((x0 + x1) / 2, (y0 + y1) / 2, direction="INVERSE")
    return float(lon), float(lat)


def test_named_place_frames_it(kursk: Theatre) -> None:
    point = kursk.gazetteer.point(kursk.gazetteer.lookup("Sudzha").place_id)
    assert point == pytest.approx(SUDZHA, abs=0.01)
    ext = resolve_extent(kursk, "Суджа", ["ua-gs"])
    x0, y0, x1, y1 = ext.bounds
    assert (x1 - x0, y1 - y0) == pytest.approx((30_000, 30_000))
    assert _lonlat_centre(ext.bounds) == pytest.approx(point, abs=1e-6)
    assert ext.label == "Sudzha+15km"
    wider = resolve_extent(kursk, "Sudzha + 25 km", ["ua-gs"])
    assert wider.bounds[2] - wider.bounds[0] == pytest.approx(50_000)


def test_salient_frames_all_the_ground_ever_given_to_ukraine(kursk: Theatre) -> None:
    ext = resolve_extent(kursk, "Kursk salient", ["ua-gs"])
    box = shapely.box(*ext.lonlat_bounds)
    # Sudzha and the ground ua-gs gave Ukraine on 25 August 2024 are inside.
    assert box.contains(shapely.Point(SUDZHA))
    held = kursk.ground("ua-gs", AUG25)
    ua = held.loc[held["side"] == "UA", "geometry"].iloc[0]
    assert box.contains(ua)
    assert "ever gave to Ukraine" in ext.note
    # The whole theatre is much larger than the salient.
    theatre = resolve_extent(kursk, "theatre", ["ua-gs"])
    assert shapely.box(*theatre.lonlat_bounds).area > 5 * box.area


def test_region_bbox_and_permalink_extents(kursk: Theatre) -> None:
    region = resolve_extent(kursk, "Kursk region", ["ua-gs"])
    assert shapely.box(*region.lonlat_bounds).contains(
        kursk.regions.loc[kursk.regions["region_id"] == "RU-KRS", "geometry"].iloc[0]
    )
    bbox = resolve_extent(kursk, "35.0,51.0,35.6,51.4", ["ua-gs"])
    assert bbox.lonlat_bounds == pytest.approx((35.0, 51.0, 35.6, 51.4), abs=0.01)
    link = resolve_extent(kursk, "map=51.2,35.3,10", ["ua-gs"])
    assert _lonlat_centre(link.bounds) == pytest.approx((35.3, 51.2), abs=0.01)


def test_permalink_bounds_follow_the_zoom() -> None:
    near = extent_from_permalink("51.2,35.3,12")
    far = extent_from_permalink("51.2,35.3,10")
    assert far[2] - far[0] == pytest.approx(4 * (near[2] - near[0]))


@pytest.mark.parametrize(
    ("spec", "error", "reason"),
    [
        ("Atlantis", PlaceNotFoundError, "Atlantis"),
        ("36.0,51.0,35.0,51.4", InputError, "min < max"),
        ("10.0,10.0,11.0,11.0", InputError, "does not touch the theatre"),
        ("35.0,51.0,35.001,51.001", InputError, "under 1 km"),
        ("35,51,35.6", InputError, "bad bounding box '35,51,35.6'"),
        ("35,51,,51.4", InputError, "bad bounding box"),
        ("Sudzha+900km", InputError, "0.5 to 300 km"),
        ("map=51.2,35.3", InputError, "lat,lon,zoom"),
        ("map=91,35.3,10", InputError, "out of range"),
    ],
)
def test_bad_extents_name_the_value(
    kursk: Theatre, spec: str, error: type[Exception], reason: str
) -> None:
    with pytest.raises(error, match=reason):
        resolve_extent(kursk, spec, ["ua-gs"])


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"views": ["nobody"]}, "bad claimant 'nobody'"),
        ({"views": []}, "no claimant given"),
        ({"views": ["ua-gs", "ru-mod", "isw", "deepstate", "consolidated"]}, "at most 4"),
        ({"day": dt.date(2023, 1, 1)}, "bad date '2023-01-01'"),
        ({"since": dt.date(2024, 9, 1)}, "bad since date '2024-09-01': after"),
        ({"size": "tiny"}, "bad size 'tiny'"),
    ],
)
def test_bad_requests_name_the_value(
    kursk: Theatre, kwargs: dict[str, object], reason: str
) -> None:
    args: dict[str, object] = {"day": AUG25, "views": ["ua-gs"], **kwargs}
    with pytest.raises(InputError, match=reason):
        make_snapshot(kursk, **args)  # type: ignore[arg-type]


def _theatre(root: Path, publisher: str) -> Theatre:
    claims = [claim_row(claim_id="a", date="2024-08-15", place="Sudzha", publisher=publisher)]
    folder = make_theatre_dir(root / "geo", claims)
    return load_theatre(folder, cache_dir=root / "cache", max_radius_m=8_000)


def test_stamps_follow_the_inputs(tmp_path: Path) -> None:
    a = _theatre(tmp_path / "a", "Test Wire")
    same = _theatre(tmp_path / "same", "Test Wire")
    other = _theatre(tmp_path / "other", "Other Wire")  # one publisher changed in one row
    assert data_version(a) == data_version(same)
    assert data_version(a) != data_version(other)
    day = dt.date(2024, 8, 20)
    snap = make_snapshot(a, day, ["ua-gs"], extent="theatre")
    assert figure_id(a, snap) == figure_id(
        same, make_snapshot(same, day, ["ua-gs"], extent="theatre")
    )
    assert figure_id(a, snap) != figure_id(
        other, make_snapshot(other, day, ["ua-gs"], extent="theatre")
    )
    # The request counts, the output size does not.
    later = make_snapshot(a, dt.date(2024, 8, 21), ["ua-gs"], extent="theatre")
    bigger = make_snapshot(a, day, ["ua-gs"], extent="theatre", size="a4")
    assert figure_id(a, later) != figure_id(a, snap)
    assert figure_id(a, bigger) == figure_id(a, snap)
    assert "Test Wire" in source_line(a, snap)
    assert "Other Wire" in source_line(other, snap)


@pytest.mark.parametrize("views", [["ua-gs", "ru-mod"], ["consolidated", "ua-gs"]])
def test_every_drawn_layer_names_its_claimant_and_sources(kursk: Theatre, views: list[str]) -> None:
    snap = make_snapshot(kursk, AUG25, views, since=dt.date(2024, 8, 12))
    layers = drawn_layers(kursk, snap)
    assert set(layers) == {"ground", "disagreement", "change"}
    for frame in layers.values():
        assert len(frame)
        assert frame["claimant_name"].notna().all()
        assert frame["sources"].notna().all()
        assert frame["sources"].str.len().gt(0).all()


def test_drawn_layers_carry_their_sources(kursk: Theatre) -> None:
    snap = make_snapshot(kursk, AUG25, ["ua-gs", "ru-mod"], since=dt.date(2024, 8, 12))
    layers = drawn_layers(kursk, snap)
    assert set(layers) == {"ground", "disagreement", "change"}
    ground = layers["ground"]
    ua = ground[(ground["view"] == "ua-gs") & (ground["side"] == "UA")]
    assert ua.geometry.iloc[0].intersects(shapely.Point(SUDZHA).buffer(0.02))
    table = kursk.table("ua-gs")
    status = table.cell_status(AUG25)
    beyond = (status == 0) & (table.baseline != 0)
    assert ua["area_km2"].iloc[0] == pytest.approx(kursk.cells["area_km2"][beyond].sum(), abs=1)
    for frame in layers.values():
        assert len(frame)
        assert (frame["data_version"] == data_version(kursk)).all()
        assert frame["attribution"].str.contains("GeoNames").all()
        assert frame["sources"].str.len().gt(0).all()
    a, b = kursk.table("ua-gs").cell_status(AUG25), kursk.table("ru-mod").cell_status(AUG25)
    differ = kursk.cells["area_km2"][a != b].sum()
    assert layers["disagreement"]["area_km2"].sum() == pytest.approx(differ, abs=1)


def test_the_days_claims_are_labelled_first(kursk: Theatre) -> None:
    day = dt.date(2025, 3, 13)
    snap = make_snapshot(kursk, day, ["ru-mod"])
    order = label_candidates(kursk, snap)
    today = set(
        kursk.claims.loc[
            (kursk.claims["date"] == day) & kursk.claims["claimant"].isin(["ru-mod", "ua-gs"]),
            "place_id",
        ].dropna()
    )
    n = int(order["today"].sum())
    assert n > 0
    assert set(order["place_id"].iloc[:n]) <= today
    assert not order["today"].iloc[n:].any()


def test_an_empty_store_keeps_the_data_stamp(kursk: Theatre, tmp_path: Path) -> None:
    store = GeoPackageStore(tmp_path / "s.gpkg")
    assert data_version(stored_theatre(kursk, store)) == data_version(kursk)

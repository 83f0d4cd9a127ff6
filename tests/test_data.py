"""The embedded theatre in data/geo/: every row sourced, every point where it belongs."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from pipeline import settings
from pipeline.build import Theatre

DATA = settings.DATA_DIR
OFFICIAL_AREA_KM2 = {
    # Published areas of the oblasts (Rosstat / State Statistics Service of Ukraine, as given
    # in regions.geojson's official_area_source); the measured areas must be within 3%.
    "RU-KRS": 29_997,
    "RU-BEL": 27_134,
    "RU-BRY": 34_857,
    "UA-59": 23_834,
    "UA-63": 31_415,
    "UA-74": 31_865,
}


def test_regions_are_the_six_of_the_theatre(kursk: Theatre) -> None:
    assert sorted(kursk.regions["region_id"]) == sorted(OFFICIAL_AREA_KM2)
    assert kursk.regions["source"].str.len().min() > 0
    assert kursk.regions["licence"].str.len().min() > 0


@pytest.mark.parametrize(("region_id", "official"), sorted(OFFICIAL_AREA_KM2.items()))
def test_region_area_is_within_3_percent_of_official(
    kursk: Theatre, region_id: str, official: int
) -> None:
    row = kursk.regions.set_index("region_id").loc[region_id]
    assert float(row["official_area_km2"]) == official
    assert abs(row["area_km2"] - official) / official < 0.03


def test_regions_do_not_overlap(kursk: Theatre) -> None:
    geoms = kursk.regions.to_crs(settings.EQUAL_AREA_CRS).geometry.to_numpy()
    for i in range(len(geoms)):
        for j in range(i + 1, len(geoms)):
            assert geoms[i].intersection(geoms[j]).area < 1e4  # under 0.01 km²


def test_border_runs_between_the_countries(kursk: Theatre) -> None:
    from pipeline.boundaries import border_gdf, countries_gdf

    border = border_gdf(DATA).to_crs(settings.EQUAL_AREA_CRS).union_all()
    countries = countries_gdf(DATA).to_crs(settings.EQUAL_AREA_CRS).set_index("country")
    shared = countries.loc["RU"].geometry.boundary.intersection(
        countries.loc["UA"].geometry.boundary
    )
    # The RU-UA edge of the regions is the border line (within 100 m along its length).
    assert shared.length > 300_000
    assert shared.difference(border.buffer(100)).length / shared.length < 0.02


def test_every_place_has_source_licence_and_precision(kursk: Theatre) -> None:
    pl = kursk.places
    assert (pl["source"].str.len() > 0).all()
    assert (pl["licence"].str.len() > 0).all()
    located = pl[pl["located"]]
    assert (located["precision_m"] > 0).all()
    # An unverified position never claims to be precise.
    assert (located.loc[~located["verified"], "precision_m"] >= 1000).all()


def test_no_two_mapped_places_share_a_point(kursk: Theatre) -> None:
    pl = kursk.places[kursk.places["mapped"]]
    xy = pd.Series([(round(g.x, 4), round(g.y, 4)) for g in pl.geometry])
    assert not xy.duplicated().any(), pl[xy.duplicated(keep=False).to_numpy()][["place_id", "name"]]


def test_every_point_lies_in_the_theatre_and_its_own_country(kursk: Theatre) -> None:
    from pipeline.boundaries import countries_gdf

    countries = countries_gdf(DATA).set_index("country")
    pl = kursk.places[kursk.places["mapped"]]
    for country, part in pl.groupby("country"):
        outside = part[~part.geometry.within(countries.loc[country].geometry)]
        assert outside.empty, outside[["place_id", "name"]]


def test_imprecise_or_shared_points_are_not_mapped(kursk: Theatre) -> None:
    pl = kursk.places
    unmapped = pl[pl["located"] & ~pl["mapped"]]
    assert len(unmapped) > 0
    assert unmapped["dense"].all()
    mapped_ids = set(kursk.cells["place_id"].dropna())
    assert mapped_ids.isdisjoint(unmapped["place_id"])


def test_every_claim_has_a_source(kursk: Theatre) -> None:
    c = kursk.claims
    for col in ("publisher", "title", "paraphrase", "confidence"):
        assert (c[col].str.strip().str.len() > 0).all(), col
    assert c["url"].map(lambda u: u == "" or u.startswith(("https://", "http://"))).all()


def test_ledger_covers_the_story(kursk: Theatre) -> None:
    c = kursk.claims
    control = c[c["kind"] == "control"]
    assert len(control) >= 60
    assert set(c["claimant"]) >= {"ru-mod", "ua-gs", "deepstate", "isw"}
    assert str(min(c["date"])) <= "2024-08-07"
    assert str(max(c["date"])) >= "2025-04-26"
    gornal = c[
        (c["claimant"] == "ru-mod")
        & (c["place_id"] == "cur-gornal")
        & (c["date"].astype(str) == "2025-04-26")
    ]
    assert len(gornal) == 1
    denial = c[(c["kind"] == "denial") & (c["claimant"] == "ua-gs")]
    assert any(gornal["claim_id"].iloc[0] in d for d in denial["disputes"])
    area = c[(c["kind"] == "area") & (c["claimant"] == "ua-gs")]
    assert 1263 in set(area["area_km2"])


def test_geonames_extract_rebuilds_identically(tmp_path: Path) -> None:
    tool = settings.ROOT / "tools" / "build_places.py"
    sys.path.insert(0, str(tool.parent))
    try:
        import build_places
    finally:
        sys.path.pop(0)
    rebuilt = build_places.render_csv(build_places.geonames_rows())
    assert rebuilt == (DATA / "places_geonames.csv").read_text(encoding="utf-8")


def test_sources_file_names_every_licence() -> None:
    text = (DATA / "SOURCES.md").read_text(encoding="utf-8")
    for needle in (
        "GeoNames",
        "CC BY 4.0",
        "OpenStreetMap",
        "ODbL",
        "Natural Earth",
        "public domain",
    ):
        assert needle in text


def test_claimed_settlements_lie_near_the_border(kursk: Theatre) -> None:
    # A guard against homonyms: every located settlement a control claim names lies
    # within 80 km of the Russia-Ukraine border (this theatre's front).
    from pipeline.boundaries import border_gdf

    border = border_gdf(DATA).to_crs(settings.EQUAL_AREA_CRS).union_all()
    named = set(kursk.claims.loc[kursk.claims["kind"] == "control", "place_id"])
    pl = kursk.places[kursk.places["located"] & kursk.places["place_id"].isin(named)]
    far = pl[pl.to_crs(settings.EQUAL_AREA_CRS).distance(border) > 80_000]
    assert far.empty, far[["place_id", "name"]]

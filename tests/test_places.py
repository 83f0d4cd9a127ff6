"""Name resolution on the embedded theatre: every curated village and a dozen GeoNames places."""

from __future__ import annotations

import csv

import pytest

from pipeline import settings
from pipeline.build import Theatre
from pipeline.errors import AmbiguousPlaceError, PlaceNotFoundError
from pipeline.places import Gazetteer, gazetteer

REGION_WORD = {"Kursk": "Kursk region", "Belgorod": "Belgorod oblast", "Sumy": "Sumy Oblast"}


def _curated_spellings() -> list[tuple[str, str, str]]:
    """(place_id, spelling, region) for every spelling of every curated village."""
    out = []
    with (settings.DATA_DIR / "places_curated.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            names = [row["name"], row["name_ru"], row["name_uk"], *row["alt_names"].split(";")]
            spellings = {n.strip() for n in names if n.strip()}
            spellings |= {f"the village of {row['name']}", f"village {row['name']}"}
            if row["name_ru"]:
                spellings.add(f"село {row['name_ru']}")
            out += [(row["place_id"], s, row["region"]) for s in sorted(spellings)]
    return out


CURATED = _curated_spellings()


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return gazetteer(settings.DATA_DIR)


@pytest.mark.parametrize(
    ("place_id", "spelling", "region"), CURATED, ids=[f"{p}:{s}" for p, s, _ in CURATED]
)
def test_every_spelling_of_every_curated_village(
    gaz: Gazetteer, place_id: str, spelling: str, region: str
) -> None:
    # With its region as context every spelling must find the village, unless another
    # village of that name lies in the same region (a true homonym: then both are
    # reported); without context it must find it too, or report a tie that includes it.
    in_region = gaz.resolve(spelling, region=region)
    if in_region.ambiguous:
        tied = [c for c in in_region.candidates if c.score == in_region.candidates[0].score]
        assert place_id in [c.place_id for c in tied]
        assert len({c.region_id for c in tied}) == 1
    else:
        assert in_region.best.place_id == place_id
    res = gaz.resolve(spelling)
    assert place_id in [c.place_id for c in res.candidates]
    if not res.ambiguous:
        assert res.candidates[0].place_id == place_id


@pytest.mark.parametrize(
    ("geonameid", "spellings"),
    [
        (486816, ["Sudzha", "Суджа", "Sudža", "Sudscha", "the town of Sudzha"]),
        (538560, ["Kursk", "Курск", "Курськ", "city of Kursk"]),
        (578072, ["Belgorod", "Белгород", "Bilhorod", "Білгород"]),
        (571476, ["Bryansk", "Брянск", "Briansk", "Брянськ"]),
        (692194, ["Sumy", "Суми", "Сумы"]),
        (706483, ["Kharkiv", "Kharkov", "Харків", "Харьков", "Charkiw"]),
        (710735, ["Chernihiv", "Chernigov", "Чернігів", "Чернигов"]),
        (544906, ["Korenevo", "Коренево", "Korenewo"]),
        (560995, ["Glushkovo", "Глушково", "Hlushkovo"]),
        (483166, ["Tyotkino", "Tetkino", "Тёткино", "Теткино", "Tiotkino"]),
        (557731, ["Guyevo", "Гуево", "Гуєво", "Huieve"]),
        (688077, ["Yunakivka", "Юнаківка", "Yunakovka"]),
    ],
)
def test_geonames_places_in_many_spellings(
    gaz: Gazetteer, geonameid: int, spellings: list[str]
) -> None:
    for spelling in spellings:
        assert gaz.lookup(spelling).place_id == f"gn-{geonameid}", spelling


@pytest.mark.parametrize(
    ("query", "region_id"),
    [
        ("Kursk region", "RU-KRS"),
        ("Kursk Oblast", "RU-KRS"),
        ("Курская область", "RU-KRS"),
        ("Kurskaya oblast", "RU-KRS"),
        ("Курська область", "RU-KRS"),
        ("Sumy region", "UA-59"),
        ("Сумська область", "UA-59"),
        ("Belgorod oblast", "RU-BEL"),
        ("Kharkiv Oblast", "UA-63"),
    ],
)
def test_regions_resolve_to_their_polygon(gaz: Gazetteer, query: str, region_id: str) -> None:
    cand = gaz.lookup(query)
    assert (cand.kind, cand.place_id) == ("region", region_id)


def test_salient_resolves_to_its_region(gaz: Gazetteer) -> None:
    res = gaz.resolve("the Kursk salient")
    assert res.kind == "salient"
    assert res.best.place_id == "RU-KRS"


def test_popovka_is_ambiguous_without_context(gaz: Gazetteer) -> None:
    res = gaz.resolve("Popovka")
    assert res.ambiguous
    assert len(res.candidates) >= 2
    with pytest.raises(AmbiguousPlaceError, match="Popovka"):
        gaz.lookup("Popovka")
    belgorod = gaz.lookup("Popovka, Belgorod region")
    assert belgorod.region_id == "RU-BEL"


def test_an_ambiguity_hint_names_the_candidates_own_regions(gaz: Gazetteer) -> None:
    res = gaz.resolve("Popovka")
    with pytest.raises(AmbiguousPlaceError) as e:
        gaz.lookup("Popovka")
    regions = {c.region_id for c in res.candidates}
    assert set(e.value.regions) == regions
    assert "Kursk region" not in str(e.value)
    # The example the hint gives narrows the choice to one of those regions.
    example = str(e.value).rsplit("e.g. '", 1)[1].rstrip("'")
    narrowed = gaz.resolve(example)
    assert {c.region_id for c in narrowed.candidates} == {e.value.regions[0]}


@pytest.mark.parametrize(
    ("regions", "hint"),
    [
        (["UA-63", "UA-59", "UA-63"], "add a region: one of UA-63, UA-59, e.g. 'X, UA-63'"),
        (["UA-59", "UA-59"], "all lie in UA-59: choose among the ranked candidates"),
        ([], "add a region"),
    ],
)
def test_an_ambiguity_hint_follows_the_regions(regions: list[str], hint: str) -> None:
    assert str(AmbiguousPlaceError("X", ["a", "b"], regions)).endswith(hint)


def test_unknown_name_suggests_the_closest(gaz: Gazetteer) -> None:
    with pytest.raises(PlaceNotFoundError) as info:
        gaz.lookup("Gornalburg")
    assert any("Gornal" in s for s in info.value.suggestions)


def test_place_in_another_region_is_named(gaz: Gazetteer) -> None:
    with pytest.raises(PlaceNotFoundError, match="found elsewhere: Sudzha"):
        gaz.lookup("Sudzha", region="Belgorod")


def test_unlocated_villages_are_reported(kursk: Theatre) -> None:
    unlocated = kursk.places[~kursk.places["located"]]
    assert len(unlocated) > 0
    assert unlocated.geometry.isna().all()
    assert (unlocated["place_id"].str.startswith("cur-")).all()


@pytest.mark.parametrize(
    ("query", "district_id"),
    [
        ("Sudzhansky district", "ru-krs-sudzhansky-district"),
        ("Sudzha district", "ru-krs-sudzhansky-district"),
        ("Суджанский район", "ru-krs-sudzhansky-district"),
        ("Korenevo district", "ru-krs-korenevsky-district"),
        ("Glushkovsky raion", "ru-krs-glushkovsky-district"),
        ("Sumy raion", "wof-102088997"),
    ],
)
def test_districts_resolve_by_name_or_seat(gaz: Gazetteer, query: str, district_id: str) -> None:
    res = gaz.resolve(query)
    assert res.kind == "district"
    assert not res.ambiguous
    assert res.best.place_id == district_id


@pytest.mark.parametrize(
    ("query", "place_id"),
    [
        ("Basivka, Sumy raion", "gn-712763"),
        ("Basivka, Romenskyi raion", "wof-1242830905"),
    ],
)
def test_a_district_as_context_picks_the_namesake_inside_it(
    gaz: Gazetteer, query: str, place_id: str
) -> None:
    assert gaz.lookup(query).place_id == place_id


def test_a_curated_village_outranks_a_dense_namesake(gaz: Gazetteer) -> None:
    res = gaz.resolve("Makhnovka")
    assert not res.ambiguous
    assert res.best.place_id == "cur-makhnovka"
    assert any(c.place_id.startswith("wof-") for c in res.candidates[1:])


def test_district_geocodes_to_its_sourced_polygon(kursk: Theatre) -> None:
    from pipeline.geocode import geocode_to_features

    out = geocode_to_features(kursk, "Sudzhansky district")
    (feature,) = out["features"]
    props = feature["properties"]
    assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert props["kind"] == "district"
    assert "OpenStreetMap" in props["source"]
    assert "ODbL" in props["licence"]
    assert 500 < props["area_km2"] < 2_000


def test_an_extract_point_locates_the_one_curated_namesake_of_its_district(
    kursk: Theatre,
) -> None:
    places = kursk.places.set_index("place_id")
    porechnoye = places.loc["cur-cherkasskoye-porechnoye"]
    assert porechnoye["located"]
    assert "GeoNames postal RU 307832" in porechnoye["source"]
    assert porechnoye["source"].startswith("TASS")  # the curated source is kept
    assert "gnp-ru-307832" not in places.index  # folded in, not a second place
    # A curated row "unlocated on purpose" (a part of Sudzha) stays unlocated.
    assert not places.loc["cur-zamostye-sudzha", "located"]
    assert "gnp-ru-307820" in places.index

"""View rules, areas, change and disagreement on the tiny hand-built theatre."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pipeline.build import LOAD_STEPS, Theatre, load_theatre, loaded_cache_path
from pipeline.errors import InputError
from pipeline.timeline import (
    area_series,
    change_between,
    disagreement,
    parse_view,
    polygons_on,
    side_areas,
)
from tests.conftest import claim_row, make_theatre_dir

D = dt.date.fromisoformat
KURSK = "RU-KRS"


def _cell_area(t: Theatre, place_id: str) -> float:
    return float(t.cells.loc[t.cells["place_id"] == place_id, "area_km2"].sum())


def _side_of(t: Theatre, view: str, place_id: str, day: str) -> str:
    status = t.table(view).cell_status(D(day))
    codes = {int(s) for s in status[(t.cells["place_id"] == place_id).to_numpy()]}
    assert len(codes) == 1
    return ("UA", "RU", "contested")[codes.pop()]


@pytest.mark.parametrize("view", ["ua-gs", "ru-mod", "isw", "consolidated"])
def test_before_any_claim_every_cell_has_its_countrys_side(
    tiny_theatre: Theatre, view: str
) -> None:
    areas = side_areas(tiny_theatre.table(view), tiny_theatre.cells, D("2024-08-01"), KURSK)
    assert areas["UA"] == 0
    assert areas["contested"] == 0
    assert areas["RU"] == pytest.approx(
        tiny_theatre.cells.query("region_id == @KURSK")["area_km2"].sum()
    )


def test_claim_moves_the_settlements_cell(tiny_theatre: Theatre) -> None:
    t = tiny_theatre
    assert _side_of(t, "ua-gs", "gn-1", "2024-08-14") == "RU"
    assert _side_of(t, "ua-gs", "gn-1", "2024-08-15") == "UA"
    ua = side_areas(t.table("ua-gs"), t.cells, D("2024-08-25"), KURSK)["UA"]
    assert ua == pytest.approx(_cell_area(t, "gn-1") + _cell_area(t, "cur-gornal"))


def test_stale_claim_is_overridden_by_a_newer_claim_of_another_claimant(
    tiny_theatre: Theatre,
) -> None:
    # ua-gs claimed Sudzha in Aug 2024 and never said it lost it; ru-mod's March 2025
    # claim is newer, so ua-gs's view no longer shows Sudzha as Ukrainian: contested (its
    # opponent's word alone is not its concession), Russian in every other view.
    t = tiny_theatre
    assert _side_of(t, "ua-gs", "gn-1", "2025-03-12") == "UA"
    assert _side_of(t, "ua-gs", "gn-1", "2025-04-20") == "contested"
    assert _side_of(t, "isw", "gn-1", "2025-04-20") == "RU"
    assert _side_of(t, "consolidated", "gn-1", "2025-04-20") == "RU"


def test_own_claim_wins_over_older_claims_of_others(tiny_theatre: Theatre) -> None:
    # ru-mod says Korenevo RU on the same day isw says contested: ru-mod's view keeps
    # its own word, isw's keeps its own.
    t = tiny_theatre
    assert _side_of(t, "ru-mod", "gn-2", "2024-08-21") == "RU"
    assert _side_of(t, "isw", "gn-2", "2024-08-21") == "contested"


def test_consolidated_view_makes_same_day_disagreement_contested(tiny_theatre: Theatre) -> None:
    t = tiny_theatre
    assert _side_of(t, "consolidated", "gn-2", "2024-08-21") == "contested"
    assert _side_of(t, "consolidated:ru-mod", "gn-2", "2024-08-21") == "RU"


def test_denial_makes_the_disputed_place_contested_in_the_deniers_view(
    tiny_theatre: Theatre,
) -> None:
    t = tiny_theatre
    assert _side_of(t, "ru-mod", "cur-gornal", "2025-04-27") == "RU"
    assert _side_of(t, "ua-gs", "cur-gornal", "2025-04-27") == "contested"
    ru = side_areas(t.table("ru-mod"), t.cells, D("2025-04-27"), KURSK)
    ua = side_areas(t.table("ua-gs"), t.cells, D("2025-04-27"), KURSK)
    assert ru["UA"] == 0
    assert ru["contested"] == 0
    assert ua["UA"] + ua["contested"] > 0


@pytest.mark.parametrize("day", ["2024-08-01", "2024-08-20", "2025-03-13", "2025-04-27"])
@pytest.mark.parametrize("view", ["ua-gs", "ru-mod", "consolidated"])
def test_sides_add_up_to_the_theatre(tiny_theatre: Theatre, view: str, day: str) -> None:
    areas = side_areas(tiny_theatre.table(view), tiny_theatre.cells, D(day))
    # Cells are cut on a 1 m grid, so the sum may differ from the raw regions by rounding.
    assert sum(areas.values()) == pytest.approx(tiny_theatre.regions["area_km2"].sum(), rel=1e-5)


def test_polygons_match_their_areas(tiny_theatre: Theatre) -> None:
    t = tiny_theatre
    held = polygons_on(t.table("ua-gs"), t.cells, D("2024-08-25"), KURSK)
    assert list(held["side"]) == ["UA", "RU", "contested", "UA inferred", "RU inferred"]
    assert held.crs.to_epsg() == 4326
    ua = held.iloc[0]
    assert ua["area_km2"] == pytest.approx(held.to_crs(t.cells.crs).area.iloc[0] / 1e6, rel=1e-3)
    assert ua["area_mi2"] == pytest.approx(ua["area_km2"] / 2.589988, rel=1e-4)
    # Korenevo: ru-mod says RU and isw says contested on the same day; ua-gs has no word.
    contested = held.iloc[2]
    assert contested["area_km2"] == pytest.approx(_cell_area(t, "gn-2"), rel=1e-3)
    assert polygons_on(t.table("ua-gs"), t.cells, D("2024-08-01")).iloc[2].geometry.is_empty


def test_change_between_reports_gains_and_losses(tiny_theatre: Theatre) -> None:
    t = tiny_theatre
    sudzha, korenevo = _cell_area(t, "gn-1"), _cell_area(t, "gn-2")
    # isw's report of fighting at Korenevo (20 Aug) lapses after 30 days: back to RU.
    for view, goes_to, gained in (("ua-gs", "contested", sudzha), ("isw", "RU", sudzha + korenevo)):
        change = change_between(t.table(view), t.cells, D("2024-08-25"), D("2025-03-20"))
        by = {(r.side, r.change): r.area_km2 for r in change.itertuples()}
        assert by[("UA", "lost")] == pytest.approx(sudzha, rel=1e-3)
        assert by[(goes_to, "gained")] == pytest.approx(gained, rel=1e-3)
        assert by[("UA", "gained")] == 0
        # Each change says where the ground went: Sudzha's loss is UA → goes_to.
        moves = {(r.side, r.change): r.moves for r in change.itertuples()}
        assert moves[("UA", "lost")] == f"UA → {goes_to} {sudzha:,.0f} km²"
        assert moves[("UA", "gained")] == ""


def test_change_between_refuses_reversed_dates(tiny_theatre: Theatre) -> None:
    with pytest.raises(InputError, match="2025-01-01"):
        change_between(
            tiny_theatre.table("ua-gs"), tiny_theatre.cells, D("2025-01-01"), D("2024-01-01")
        )


def test_disagreement_finds_where_two_views_differ(tiny_theatre: Theatre) -> None:
    t = tiny_theatre
    diff = disagreement(t.table("ua-gs"), t.table("ru-mod"), t.cells, D("2025-04-27"))
    assert len(diff) == 1
    row = diff.iloc[0]
    assert (row["side_a"], row["side_b"]) == ("contested", "RU")
    # Gornal (ua-gs denies ru-mod's claim) and Sudzha (ua-gs never conceded it); Korenevo's
    # mixed word of 20 Aug 2024 (ru-mod RU, isw reporting fighting) lapsed long before.
    expected = _cell_area(t, "cur-gornal") + _cell_area(t, "gn-1")
    assert row["area_km2"] == pytest.approx(expected, rel=1e-3)
    same = disagreement(t.table("ua-gs"), t.table("ua-gs"), t.cells, D("2025-04-27"))
    assert len(same) == 0


def test_area_series_rises_and_falls(tiny_theatre: Theatre) -> None:
    t = tiny_theatre
    series = area_series(t.table("ua-gs"), t.cells, "UA", KURSK)
    assert series["area_km2"].iloc[0] == 0
    peak = int(series["area_km2"].to_numpy().argmax())
    assert series["date"].iloc[peak] == "2024-08-20"
    assert series["area_km2"].iloc[-1] == 0
    assert series["change_km2"].sum() == pytest.approx(0, abs=1e-6)


@pytest.mark.parametrize("spec", ["nobody", "consolidated:nobody", "consolidated:"])
def test_parse_view_names_the_unknown_claimant(spec: str) -> None:
    with pytest.raises(InputError, match=r"nobody|consolidated"):
        parse_view(spec, ["ru-mod", "ua-gs"])


@pytest.mark.parametrize(
    ("spec", "drawn", "words"),
    [
        ("ua-gs", "", "in ua-gs's view (filled)"),
        ("own:ru-mod", "outline", "in ru-mod's view (own word, outline)"),
        ("consolidated:ru-mod+ua-gs", "outline", "in the consolidated:ru-mod+ua-gs view (outline)"),
    ],
)
def test_a_view_says_whose_it_is(spec: str, drawn: str, words: str) -> None:
    assert parse_view(spec, ["ru-mod", "ua-gs"]).in_view(drawn) == words


def test_area_series_refuses_unknown_side(tiny_theatre: Theatre) -> None:
    with pytest.raises(InputError, match="'blue'"):
        area_series(tiny_theatre.table("ua-gs"), tiny_theatre.cells, "blue")


def test_silence_against_the_other_side_is_contested_not_conceded(tiny_theatre: Theatre) -> None:
    # Only ua-gs claimed Gornal in Aug 2024: in ru-mod's view Russia never conceded it, so
    # it is contested; an independent tracker's view takes ua-gs's word.
    t = tiny_theatre
    assert t.view("ru-mod").opponents == ("ua-gs",)
    assert t.view("isw").opponents == ()
    assert _side_of(t, "ru-mod", "cur-gornal", "2024-08-25") == "contested"
    assert _side_of(t, "isw", "cur-gornal", "2024-08-25") == "UA"
    diff = disagreement(t.table("ua-gs"), t.table("ru-mod"), t.cells, D("2024-08-25"))
    assert ("UA", "contested") in set(zip(diff["side_a"], diff["side_b"], strict=True))


def test_theatre_reports_progress_as_many_times_as_it_says(tmp_path: Path) -> None:
    steps: list[str] = []
    root = make_theatre_dir(tmp_path / "geo", [claim_row()])
    for _ in range(2):  # cold (cells built) and warm (cells cached)
        steps.clear()
        load_theatre(root, cache_dir=tmp_path / "cache", progress=steps.append)
        assert len(steps) == LOAD_STEPS


def test_a_second_load_reads_the_derived_claims_and_names_from_the_cache(tmp_path: Path) -> None:
    root = make_theatre_dir(tmp_path / "geo", [claim_row()])
    first = load_theatre(root, cache_dir=tmp_path / "cache")
    (cached,) = (tmp_path / "cache").glob("*/loaded-*.pickle")
    assert cached == loaded_cache_path(cached.parent)
    second = load_theatre(root, cache_dir=tmp_path / "cache")
    assert second.gazetteer is not first.gazetteer  # read from the cache, not the process's index
    assert second.claims.equals(first.claims)
    best = second.gazetteer.resolve("Горналь").best
    assert best.place_id == first.gazetteer.resolve("Gornal").best.place_id
    # A damaged cache file is derived again, never trusted.
    cached.write_bytes(b"not a pickle")
    third = load_theatre(root, cache_dir=tmp_path / "cache")
    assert third.claims.equals(first.claims)
    assert cached.read_bytes() != b"not a pickle"


def test_memoised_change_matches_the_computation(tiny_theatre: Theatre) -> None:
    t = tiny_theatre
    fresh = change_between(t.table("ua-gs"), t.cells, D("2024-08-25"), D("2025-03-20"))
    memo = t.change("ua-gs", D("2024-08-25"), D("2025-03-20"))
    assert list(memo["area_km2"]) == list(fresh["area_km2"])
    # Another day between the same change dates reuses the entry, with its own dates.
    again = t.change("ua-gs", D("2024-08-26"), D("2025-03-21"))
    assert list(again["area_km2"]) == list(fresh["area_km2"])
    assert set(again["since"]) == {"2024-08-26"}
    assert set(again["date"]) == {"2025-03-21"}
    assert len(t._memo) == 1

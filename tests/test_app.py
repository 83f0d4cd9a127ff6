"""The map page under streamlit.testing: figures follow the widgets and the permalink."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from pipeline import settings
from tests.conftest import shown

APP = str(settings.ROOT / "app.py")


def _open(**params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception
    return at


def _held(at: AppTest, view: str) -> str:
    return str(next(m.value for m in at.metric if shown(m.label).startswith(f"{view}:")))


def test_default_view_shows_two_claimants_and_the_map() -> None:
    at = _open()
    assert at.title[0].value.startswith("Frontline")
    assert [shown(m.label).split(":")[0] for m in at.metric] == ["ua-gs", "ru-mod"]
    assert _held(at, "ua-gs") != "0 km²"
    assert not at.warning


def test_moving_the_date_changes_the_figures() -> None:
    at = _open()
    before = _held(at, "ua-gs")
    at.slider(key="date").set_value(dt.date(2024, 8, 6)).run()
    assert not at.exception
    assert _held(at, "ua-gs") == "0 km²"
    assert before != "0 km²"
    assert at.query_params["date"] == "2024-08-06"


def _figure_rows(at: AppTest) -> dict[str, dict[str, Any]]:
    frame = next(d.value for d in at.dataframe if "UA change km²" in d.value.columns)
    return {str(r["view"]): {str(k): v for k, v in r.items()} for r in frame.to_dict("records")}


@pytest.mark.parametrize(
    ("params", "since"),
    [
        ({"date": "2024-08-15"}, "2024-08-08"),
        ({"date": "2024-08-15", "compare": "2024-08-10"}, "2024-08-10"),
    ],
    ids=["a week earlier by default", "the chosen date"],
)
def test_ua_change_compares_with_a_week_earlier_or_the_chosen_date(
    params: dict[str, str], since: str
) -> None:
    at = _open(claimants="ua-gs", **params)
    row = _figure_rows(at)["ua-gs"]
    assert row["since"] == since
    # The advance of 8-15 August shows: the change is the difference of the two dates' UA
    # ground, not 0 (as against the last change date before 15 August).
    earlier = _open(claimants="ua-gs", date=since)
    before = _figure_rows(earlier)["ua-gs"]["UA km²"]
    assert row["UA change km²"] == pytest.approx(row["UA km²"] - before, abs=1)  # rounding
    assert row["UA change km²"] != 0


def test_permalink_27_april_2025_shows_the_disagreement() -> None:
    at = _open(date="2025-04-27", claimants="ua-gs,ru-mod")
    assert _held(at, "ru-mod") == "0 km²"
    assert _held(at, "ua-gs") != "0 km²"
    assert any("disagree on" in shown(c.value) for c in at.caption)


def test_permalink_restores_claimants_and_compare() -> None:
    at = _open(date="2024-09-01", claimants="isw,deepstate", compare="2024-08-10")
    assert at.multiselect(key="views").value == ["isw", "deepstate"]
    assert at.slider(key="date").value == dt.date(2024, 9, 1)
    assert any("2024-08-10 → 2024-09-01" in shown(c.value) for c in at.caption)


@pytest.mark.parametrize(
    ("params", "notice"),
    [
        ({"date": "not-a-date"}, "bad date 'not-a-date'"),
        ({"date": "2030-01-01"}, "outside the timeline"),
        ({"claimants": "kremlin,ua-gs"}, "unknown claimant(s) 'kremlin'"),
        ({"compare": "yesterday"}, "bad compare date 'yesterday'"),
    ],
)
def test_bad_permalink_gives_a_notice_and_the_default(params: dict[str, str], notice: str) -> None:
    at = _open(**params)
    assert any(notice in shown(w.value) for w in at.warning), [shown(w.value) for w in at.warning]
    # The bad part falls back to the default view; a good part is kept.
    assert at.slider(key="date").value == dt.date(2024, 8, 25)
    expected = ["ua-gs"] if "claimants" in params else ["ua-gs", "ru-mod"]
    assert at.multiselect(key="views").value == expected
    assert at.date_input(key="compare").value is None
    assert [shown(m.label).split(":")[0] for m in at.metric] == expected


def test_next_change_button_jumps_to_the_next_change_date() -> None:
    at = _open(date="2024-08-08", claimants="ua-gs")
    at.button(key="next").click().run()
    assert at.slider(key="date").value == dt.date(2024, 8, 9)


def test_a_permalink_notice_stays_until_the_view_changes() -> None:
    at = _open(date="not-a-date", claimants="ua-gs")
    assert any("bad date 'not-a-date'" in shown(w.value) for w in at.warning)
    at.run()  # a rerun that changes nothing keeps it
    assert any("bad date 'not-a-date'" in shown(w.value) for w in at.warning)
    at.slider(key="date").set_value(dt.date(2024, 8, 26)).run()
    assert not any("not-a-date" in shown(w.value) for w in at.warning)


def test_a_view_beyond_the_limit_is_named_not_dropped_silently() -> None:
    at = _open(claimants="ua-gs,ru-mod,isw,deepstate,consolidated")
    assert at.multiselect(key="views").value == ["ua-gs", "ru-mod", "isw", "deepstate"]
    warnings = [shown(w.value) for w in at.warning]
    assert any("at most 4 views at once" in w and "'consolidated'" in w for w in warnings)


@pytest.mark.parametrize(
    ("asked", "views"), [("ISW", ["isw"]), ("UA-GS,Own:ISW", ["ua-gs", "own:isw"])]
)
def test_claimants_match_whatever_their_case(asked: str, views: list[str]) -> None:
    at = _open(claimants=asked)
    assert at.multiselect(key="views").value == views
    assert not at.warning


@pytest.mark.parametrize("bad", ["999,999,99", "51.2,35.2", "51.2,35.2,40", "nan,35,10", "a,b,c"])
def test_a_bad_map_view_is_named_and_dropped(bad: str) -> None:
    at = _open(claimants="ua-gs", map=bad)
    warnings = [shown(w.value) for w in at.warning]
    assert any(f"map view {bad!r}" in w for w in warnings), warnings
    assert "map" not in at.query_params


def test_a_good_map_view_is_kept() -> None:
    at = _open(claimants="ua-gs", map="51.2000,35.2000,11")
    assert not at.warning
    assert at.query_params["map"] == "51.2000,35.2000,11"

"""Claims validation: every problem reported at once, each naming the row and the value."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from pipeline.build import Theatre
from pipeline.claims import CLAIM_COLUMNS, parse_date, validate_claims
from pipeline.errors import DataError
from tests.conftest import claim_row


def _validate(theatre: Theatre, rows: list[dict[str, str]]) -> pd.DataFrame:
    raw = pd.DataFrame(rows, columns=list(CLAIM_COLUMNS))
    return validate_claims(
        raw, theatre.gazetteer, theatre.claimants, source="test.csv", today=dt.date(2026, 1, 1)
    )


def test_valid_rows_resolve_places_and_types(tiny_theatre: Theatre) -> None:
    out = _validate(
        tiny_theatre, [claim_row(place="Горналь"), claim_row(claim_id="c2", place="Sudscha")]
    )
    assert list(out["place_id"]) == ["cur-gornal", "gn-1"]
    assert out["date"].iloc[0] == dt.date(2024, 8, 15)
    assert out["region_id"].iloc[0] == "RU-KRS"


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"place": "Gornalovka"}, "unknown place 'Gornalovka'; closest: Gornal"),
        ({"place": "Popovka", "region": ""}, "ambiguous place 'Popovka'"),
        ({"date": "2024-02-30"}, "bad date '2024-02-30'"),
        ({"date": "15/08/2024"}, "bad date '15/08/2024'"),
        ({"date": "2027-01-01"}, "date '2027-01-01' is in the future"),
        ({"claimant": "kremlin-tv"}, "unknown claimant 'kremlin-tv'"),
        ({"side": "blue"}, "unknown side 'blue'"),
        ({"kind": "rumour"}, "unknown kind 'rumour'"),
        ({"confidence": "sure"}, "unknown confidence 'sure'"),
        ({"publisher": ""}, "needs publisher, title and paraphrase"),
        ({"url": "javascript:alert(1)"}, "url 'javascript:alert(1)' is not http(s)"),
        ({"kind": "area", "place": "Kursk region"}, "needs area_km2 or settlements"),
        ({"kind": "area", "place": "Kursk region", "area_km2": "-4"}, "area_km2 '-4'"),
        ({"kind": "denial", "place": "Kursk region"}, "needs the claim ids it disputes"),
        ({"kind": "denial", "place": "Kursk region", "disputes": "nope"}, "unknown claim 'nope'"),
        ({"place": "Kursk region"}, "a control claim needs a settlement"),
    ],
)
def test_each_problem_is_named(
    tiny_theatre: Theatre, override: dict[str, str], expected: str
) -> None:
    with pytest.raises(DataError) as info:
        _validate(tiny_theatre, [claim_row(**override)])
    assert any(expected in p for p in info.value.problems), info.value.problems
    assert "line 2 (c1)" in info.value.problems[0]


def test_all_problems_are_reported_at_once(tiny_theatre: Theatre) -> None:
    rows = [
        claim_row(claim_id="a", claimant="nobody"),
        claim_row(claim_id="b", date="tomorrow"),
        claim_row(claim_id="b", side="purple"),
    ]
    with pytest.raises(DataError) as info:
        _validate(tiny_theatre, rows)
    problems = info.value.problems
    assert len(problems) == 4
    assert "duplicate claim_id 'b'" in problems
    assert str(info.value).startswith("test.csv: 4 problem(s)")


def test_missing_column_is_named(tiny_theatre: Theatre) -> None:
    raw = pd.DataFrame([claim_row()]).drop(columns=["confidence"])
    with pytest.raises(DataError, match="missing column 'confidence'"):
        validate_claims(raw, tiny_theatre.gazetteer, tiny_theatre.claimants)


def test_place_id_may_stand_for_the_name(tiny_theatre: Theatre) -> None:
    out = _validate(tiny_theatre, [claim_row(place="gn-5", region="")])
    assert out["place_id"].iloc[0] == "gn-5"


@pytest.mark.parametrize("bad", ["2024-8-5", "", "2024-08-05T00:00", "yesterday"])
def test_parse_date_names_the_bad_value(bad: str) -> None:
    with pytest.raises(ValueError, match=f"bad date {bad!r}"):
        parse_date(bad)

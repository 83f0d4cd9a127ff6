"""Ledger views: filters, conflicts, and a CSV export that cannot run formulas."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pandas as pd
import pytest

from pipeline.build import Theatre
from pipeline.errors import InputError
from pipeline.ledger import (
    CONFLICT_COLUMNS,
    CONFLICT_KINDS,
    CONFLICT_WINDOW_DAYS,
    claims_to_csv,
    conflicts,
    conflicts_involving,
    filter_claims,
    with_conflicts,
)
from pipeline.safetext import spreadsheet_cell

D0 = dt.date(2024, 8, 20)


def _ledger(*claims: tuple[str, str, str, int]) -> pd.DataFrame:
    """Control claims about one settlement: (claim id, claimant, side, days after D0)."""
    return pd.DataFrame(
        {
            "claim_id": [c[0] for c in claims],
            "kind": "control",
            "place_id": "gn-1",
            "claimant": [c[1] for c in claims],
            "side": [c[2] for c in claims],
            "date": [D0 + dt.timedelta(days=c[3]) for c in claims],
        }
    )


def test_filters_combine(kursk: Theatre) -> None:
    gornal = filter_claims(kursk.claims, kursk.gazetteer, place="Горналь")
    assert len(gornal) > 0
    assert set(gornal["place_id"]) == {"cur-gornal"}
    ru = filter_claims(
        kursk.claims,
        kursk.gazetteer,
        claimants=["ru-mod"],
        place="Hornal",
        start=dt.date(2025, 4, 26),
        end=dt.date(2025, 4, 26),
    )
    assert list(ru["claim_id"]) == ["2025-04-26-ru-mod-gornal"]
    none = filter_claims(kursk.claims, kursk.gazetteer, sides=["UA"], end=dt.date(2024, 8, 1))
    assert none.empty


def test_conflicts_pair_contradicting_claimants(tiny_theatre: Theatre) -> None:
    pairs = conflicts(tiny_theatre.claims)
    korenevo = pairs[pairs["place_id"] == "gn-2"]
    assert len(korenevo) == 1
    row = korenevo.iloc[0]
    assert {row["side_a"], row["side_b"]} == {"RU", "contested"}
    # ua-gs (Aug 2024, UA) and ru-mod (Mar 2025, RU) on Sudzha overlap from March on.
    sudzha = pairs[pairs["place_id"] == "gn-1"].iloc[0]
    assert sudzha["from"] == dt.date(2025, 3, 13)
    assert sudzha["to"] is None
    marked = with_conflicts(tiny_theatre.claims).set_index("claim_id")
    assert marked.at["ru-korenevo", "conflict_with"] == "isw-korenevo"
    assert marked.at["ua-area", "conflict_with"] == ""


@pytest.mark.parametrize(
    ("window", "kind"),
    [(7, "disagreement"), (3, "disagreement"), (2, "reversal"), (0, "reversal")],
)
def test_a_pair_three_days_apart_is_kind_by_window(window: int, kind: str) -> None:
    ledger = _ledger(("ru", "ru-mod", "RU", 0), ("isw", "isw", "contested", 3))
    pairs = conflicts(ledger, window_days=window)
    assert list(pairs.columns) == list(CONFLICT_COLUMNS)
    assert len(pairs) == 1
    row = pairs.iloc[0]
    assert (row["claim_a"], row["claim_b"]) == ("isw", "ru")  # claimants in sorted order
    assert row["gap_days"] == 3
    assert row["kind"] == kind
    assert row["from"] == D0 + dt.timedelta(days=3)
    assert row["to"] is None


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param([("a", "isw", "RU", 0), ("b", "ru-mod", "RU", 1)], id="same side"),
        pytest.param([("a", "ru-mod", "UA", 0), ("b", "ru-mod", "RU", 1)], id="same claimant"),
        # isw said UA, then RU a day before ru-mod said RU: opposite claims 3 days apart
        # that never stood together.
        pytest.param(
            [("a", "isw", "UA", 0), ("a2", "isw", "RU", 2), ("b", "ru-mod", "RU", 3)],
            id="revised before the other spoke",
        ),
    ],
)
@pytest.mark.parametrize("window", [0, CONFLICT_WINDOW_DAYS, 90])
def test_no_conflict_without_standing_opposite_claims(
    claims: list[tuple[str, str, str, int]], window: int
) -> None:
    assert conflicts(_ledger(*claims), window_days=window).empty


def test_a_standing_claim_outlived_by_news_is_a_reversal() -> None:
    # ua-gs said UA on day 0 and nothing since; ru-mod says RU 40 days later, then isw
    # agrees with ua-gs on day 41: one reversal (ua-gs/ru-mod), one disagreement.
    ledger = _ledger(("ua", "ua-gs", "UA", 0), ("ru", "ru-mod", "RU", 40), ("isw", "isw", "UA", 41))
    pairs = conflicts(ledger)
    found = set(pairs[["claim_a", "claim_b", "gap_days", "kind"]].itertuples(index=False))
    assert found == {("isw", "ru", 1, "disagreement"), ("ru", "ua", 40, "reversal")}


@pytest.mark.parametrize("window", [-1, 1.5, True, "7", None])
def test_bad_window_is_refused_by_name(window: object) -> None:
    ledger = _ledger(("a", "isw", "RU", 0))
    with pytest.raises(InputError, match=repr(window).replace(".", r"\.")):
        conflicts(ledger, window_days=window)  # type: ignore[arg-type]


@pytest.mark.parametrize("window", [1, 2, CONFLICT_WINDOW_DAYS, 30, 90])
def test_window_splits_the_same_pairs(kursk: Theatre, window: int) -> None:
    default = conflicts(kursk.claims)
    pairs = conflicts(kursk.claims, window_days=window)
    same = ["claim_a", "claim_b", "from", "gap_days"]
    assert pairs[same].reset_index(drop=True).equals(default[same].reset_index(drop=True))
    assert set(pairs["kind"]) <= set(CONFLICT_KINDS)
    assert ((pairs["kind"] == "disagreement") == (pairs["gap_days"] <= window)).all()
    dates = kursk.claims.set_index("claim_id")["date"]
    gaps = [
        abs((dates[a] - dates[b]).days)
        for a, b in zip(pairs["claim_a"], pairs["claim_b"], strict=True)
    ]
    assert pairs["gap_days"].tolist() == gaps


def test_embedded_ledger_has_both_kinds(kursk: Theatre) -> None:
    kinds = conflicts(kursk.claims)["kind"].value_counts()
    assert kinds["disagreement"] > 0
    assert kinds["reversal"] > 0


def test_conflicts_involving_keeps_pairs_with_either_claim(kursk: Theatre) -> None:
    pairs = conflicts(kursk.claims)
    one = pairs.iloc[0]
    for claim in (one["claim_a"], one["claim_b"]):
        kept = conflicts_involving(pairs, [claim])
        assert len(kept) > 0
        assert ((kept["claim_a"] == claim) | (kept["claim_b"] == claim)).all()
    assert conflicts_involving(pairs, []).empty
    assert len(conflicts_involving(pairs, kursk.claims["claim_id"])) == len(pairs)


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_formula_cells_are_neutralised(value: str) -> None:
    assert spreadsheet_cell(value) == "'" + value


def test_csv_export_is_safe_and_complete(tiny_theatre: Theatre) -> None:
    ledger = tiny_theatre.claims.copy()
    ledger.loc[0, "paraphrase"] = '=HYPERLINK("http://evil.example","x")'
    text = claims_to_csv(with_conflicts(ledger))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(ledger)
    assert rows[0]["paraphrase"].startswith("'=HYPERLINK")
    assert all(not v.startswith(("=", "+", "@")) for r in rows for v in r.values())
    assert "conflict_with" in rows[0]

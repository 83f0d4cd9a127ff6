"""Ledger views: filters, conflicts, and a CSV export that cannot run formulas."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from pipeline.build import Theatre
from pipeline.ledger import claims_to_csv, conflicts, filter_claims, with_conflicts
from pipeline.safetext import spreadsheet_cell


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

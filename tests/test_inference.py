"""Inferred ground, lapsing reports of fighting and own-word views."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from pipeline import settings
from pipeline.build import Theatre, load_theatre
from pipeline.inference import Inference
from pipeline.timeline import STATUS_CODES, side_areas
from tests.conftest import claim_row, make_theatre_dir

D = dt.date.fromisoformat
KURSK = "RU-KRS"


def _inference(max_edge_m: float = 10_000.0) -> Inference:
    return Inference(
        {}, np.array([[1_000.0, 1_000.0], [6_000.0, 1_000.0]]), np.empty((0, 2)), max_edge_m
    )


def _status(t: Theatre, view: str, place_id: str, day: str) -> str:
    status = t.table(view).cell_status(D(day))
    codes = {int(s) for s in status[(t.cells["place_id"] == place_id).to_numpy()]}
    assert len(codes) == 1
    return settings.STATUSES[codes.pop()]


@pytest.mark.parametrize(
    ("held", "inside"),
    [
        ([[0, 0], [4_000, 0], [0, 4_000]], True),  # a small triangle around cell 0
        ([[0, 0], [40_000, 0], [0, 40_000]], False),  # edges longer than the limit
        ([[0, 0], [4_000, 0]], False),  # two points enclose nothing
    ],
)
def test_unclaimed_cells_inside_a_sides_triangles_are_inferred(
    held: list[list[float]], inside: bool
) -> None:
    inf = _inference()
    xy = np.array(held, dtype=float)
    ua, ru = STATUS_CODES["UA"], STATUS_CODES["RU"]
    status = np.full(len(xy), ua, dtype=np.int8)
    base = np.full(len(xy), ru, dtype=np.int8)
    baseline = np.full(2, ru, dtype=np.int8)
    cells, codes = inf.enclosed(
        xy, status, base, baseline.copy(), np.ones(2, dtype=bool), baseline, STATUS_CODES
    )
    assert (0 in cells) is inside
    assert 1 not in cells  # (6 km, 1 km) lies outside every triangle
    assert set(codes.tolist()) <= {STATUS_CODES["UA inferred"]}


def test_a_claimed_cell_is_never_inferred() -> None:
    inf = _inference()
    xy = np.array([[0, 0], [4_000, 0], [0, 4_000]], dtype=float)
    ua, ru = STATUS_CODES["UA"], STATUS_CODES["RU"]
    status = np.full(3, ua, dtype=np.int8)
    base = np.full(3, ru, dtype=np.int8)
    baseline = np.full(2, ru, dtype=np.int8)
    claimed_cells = np.array([False, True])
    cells, _ = inf.enclosed(
        xy, status, base, baseline.copy(), claimed_cells, baseline, STATUS_CODES
    )
    assert cells.tolist() == []


@pytest.fixture
def lapse_theatre(tmp_path: Path) -> Theatre:
    """Fighting reported at Korenevo, never followed; Sudzha reported, then claimed."""
    claims = [
        claim_row(
            claim_id="r1", date="2024-08-20", claimant="isw", place="Korenevo", side="contested"
        ),
        claim_row(
            claim_id="r2", date="2024-08-20", claimant="isw", place="Sudzha", side="contested"
        ),
        claim_row(claim_id="c1", date="2024-09-01", claimant="isw", place="Sudzha", side="UA"),
        claim_row(claim_id="c2", date="2024-12-01", claimant="ru-mod", place="Gornal", side="RU"),
    ]
    root = make_theatre_dir(tmp_path / "geo", claims)
    return load_theatre(root, cache_dir=tmp_path / "cache", max_radius_m=8_000)


@pytest.mark.parametrize(
    ("place", "day", "expected"),
    [
        ("gn-2", "2024-09-18", "contested"),  # Korenevo: within the lapse
        ("gn-2", "2024-09-20", "RU"),  # 31 days on, no newer word: back to before
        ("gn-1", "2024-10-30", "UA"),  # Sudzha: a newer claim stands, no lapse
    ],
)
def test_reports_of_fighting_lapse_unless_followed(
    lapse_theatre: Theatre, place: str, day: str, expected: str
) -> None:
    assert lapse_theatre.places.set_index("place_id").loc[place, "name"] in ("Korenevo", "Sudzha")
    assert _status(lapse_theatre, "isw", place, day) == expected


@pytest.mark.parametrize("day", ["2024-08-25", "2024-11-01", "2025-03-13", "2025-04-27"])
@pytest.mark.parametrize("view", ["ua-gs", "own:ua-gs", "deepstate", "own:ru-mod"])
def test_every_status_adds_up_to_the_region(kursk: Theatre, view: str, day: str) -> None:
    areas = side_areas(kursk.table(view), kursk.cells, D(day), KURSK)
    assert set(areas) == set(settings.STATUSES)
    total = kursk.cells.query("region_id == @KURSK")["area_km2"].sum()
    assert sum(areas.values()) == pytest.approx(total)
    assert areas["RU inferred"] == 0  # Russia holds nothing of its own region "beyond" it


def test_own_word_view_counts_only_the_claimants_claims(kursk: Theatre) -> None:
    own = kursk.view("own:isw")
    assert own.own
    assert own.sources == ()
    assert own.opponents == ()
    assert own.label == "own:isw"
    assert "own word only" in own.description
    assert "filled from" in kursk.view("isw").description
    ledger = kursk.claims
    said = set(ledger.loc[ledger["claimant"] == "isw", "place_id"])
    others = set(ledger.loc[ledger["claimant"] != "isw", "place_id"]) - said
    table = kursk.table("own:isw")
    cells = kursk.cells["place_id"].isin(others).to_numpy()
    for day in table.dates:
        moved = table.cell_status(day)[cells] != table.baseline[cells]
        inferred = np.isin(
            table.cell_status(day)[cells],
            [STATUS_CODES["UA inferred"], STATUS_CODES["RU inferred"]],
        )
        assert not (moved & ~inferred).any(), day


def test_on_27_april_2025_russia_says_none_ukraine_still_holds_or_contests(
    kursk: Theatre,
) -> None:
    day = D("2025-04-27")
    ru = side_areas(kursk.table("own:ru-mod"), kursk.cells, day, KURSK)
    ua = side_areas(kursk.table("ua-gs"), kursk.cells, day, KURSK)
    assert ru["UA"] == 0
    assert ua["UA"] + ua["contested"] > 0


def test_the_salient_grows_in_august_and_collapses_by_april(kursk: Theatre) -> None:
    def held(day: str) -> float:
        a = side_areas(kursk.table("deepstate"), kursk.cells, D(day), KURSK)
        return a["UA"] + a["contested"] + a["UA inferred"]

    assert held("2024-08-05") == 0
    assert held("2024-08-20") > 300
    assert held("2025-03-20") < held("2024-08-20")
    assert held("2025-04-27") < held("2025-03-01")


@pytest.mark.parametrize(
    ("place_id", "expected"),
    [
        ("pl-1", [10.0, 20.0]),
        ("pl-1#u17", [10.0, 20.0]),  # an upload's piece of pl-1's cell stands at pl-1
        ("pl-2#u3", [np.nan, np.nan]),  # no point for pl-2
        ("open-5#u9", [np.nan, np.nan]),  # a piece of open ground is no settlement
    ],
)
def test_an_uploads_pieces_stand_at_their_settlement(place_id: str, expected: list[float]) -> None:
    inference = Inference({"pl-1": (10.0, 20.0)}, np.empty((0, 2)), np.empty((0, 2)), 10_000.0)
    np.testing.assert_array_equal(inference.coordinates([place_id]), [expected])

"""The Claims & sources and Gazetteer pages under streamlit.testing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pipeline import ingest, settings
from pipeline.build import Theatre
from pipeline.store import GeoPackageStore
from tests.conftest import deepstate_style_geojson

CLAIMS = str(settings.ROOT / "pages" / "1_Claims_and_sources.py")
GAZETTEER = str(settings.ROOT / "pages" / "2_Gazetteer.py")


def _run(path: str) -> AppTest:
    at = AppTest.from_file(path, default_timeout=120)
    at.run()
    assert not at.exception
    return at


def _count(at: AppTest) -> int:
    text = next(m.value for m in at.markdown if " claims**" in m.value)
    return int(text.split("**")[1].split()[0])


def test_claims_page_filters_the_ledger() -> None:
    at = _run(CLAIMS)
    everything = _count(at)
    assert everything >= 150
    at.multiselect(key="claimants").set_value(["ru-mod"]).run()
    ru = _count(at)
    assert 0 < ru < everything
    at.text_input(key="place").set_value("Горналь").run()
    assert not at.exception
    assert 0 < _count(at) < ru
    at.slider(key="span").set_value((dt.date(2025, 4, 26), dt.date(2025, 4, 26))).run()
    assert _count(at) == 1


def test_claims_page_shows_only_conflicts() -> None:
    at = _run(CLAIMS)
    at.checkbox(key="only_conflicts").check().run()
    text = next(m.value for m in at.markdown if " claims**" in m.value)
    total, in_conflict = _count(at), int(text.split(",")[1].split()[0])
    assert total == in_conflict > 0


def test_claims_page_unknown_place_says_so() -> None:
    at = _run(CLAIMS)
    at.text_input(key="place").set_value("Atlantis").run()
    assert any("Atlantis" in i.value for i in at.info)


def test_gazetteer_ranks_candidates_and_lists_unlocated() -> None:
    at = _run(GAZETTEER)
    at.text_input(key="query").set_value("Hornal").run()
    assert not at.exception
    candidates, unlocated, unverified = (d.value for d in at.dataframe)
    assert candidates.iloc[0]["place_id"] == "cur-gornal"
    assert candidates.iloc[0]["source"]
    assert len(unlocated) > 0
    assert not unlocated["place_id"].isin(["cur-gornal"]).any()
    assert (unverified["precision_m"] >= 5000).all()


def test_gazetteer_reports_ambiguity() -> None:
    at = _run(GAZETTEER)
    at.text_input(key="query").set_value("Popovka").run()
    assert any("ambiguous" in w.value for w in at.warning)


UPLOAD = str(settings.ROOT / "pages" / "3_Upload.py")


def test_upload_page_lists_revisions_and_reverts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kursk: Theatre
) -> None:
    store_path = tmp_path / "s.gpkg"
    monkeypatch.setenv("FRONTLINE_STORE", str(store_path))
    store = GeoPackageStore(store_path)
    mapping = ingest.Mapping(
        claimant="deepstate",
        date=dt.date(2024, 8, 20),
        side_field="name",
        patterns=ingest.parse_patterns(["Liberated=UA", "Occupied=RU"]),
    )
    draft = ingest.ingest_bytes(deepstate_style_geojson(), "ds.geojson", mapping, kursk)
    ingest.commit(store, draft, who="t", source="fixture", licence="CC0")
    at = _run(UPLOAD)
    table = at.dataframe[-1].value  # the Revisions view comes last
    assert list(table["revision_id"]) == [1]
    assert list(table["claimant"]) == ["deepstate"]
    at.text_input(key="date").set_value("2024-13-01").run()
    assert not at.exception
    assert any("bad date of the map '2024-13-01'" in e.value for e in at.error)
    at.number_input(key="revert_id").set_value(1).run()
    at.button(key="revert").click().run()
    assert not at.exception
    assert [r.mode for r in store.revisions()] == ["snapshot", "revert"]
    assert len(store.polygons()) == 0

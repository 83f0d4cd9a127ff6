"""The Claims & sources and Gazetteer pages under streamlit.testing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import shapely
from streamlit.testing.v1 import AppTest

from pipeline import ingest, settings, side_patterns
from pipeline.build import Theatre
from pipeline.ledger import CONFLICT_WINDOW_DAYS, conflicts, conflicts_involving, filter_claims
from pipeline.snapshot import data_version
from pipeline.store import GeoPackageStore
from tests.conftest import deepstate_style_geojson, feature, feature_collection, shown

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
    assert any("Atlantis" in shown(i.value) for i in at.info)


def _pair_counts(at: AppTest) -> dict[str, int]:
    return {m.label: int(m.value) for m in at.metric}


@pytest.mark.parametrize("window", [None, 2, 30])
def test_claims_page_splits_conflicts_by_window(kursk: Theatre, window: int | None) -> None:
    at = _run(CLAIMS)
    if window is not None:
        at.number_input(key="window").set_value(window).run()
        assert not at.exception
    n = CONFLICT_WINDOW_DAYS if window is None else window
    assert at.number_input(key="window").value == n
    assert [shown(h.value) for h in at.subheader] == [
        f"Disagreements (opposite sides within {n} days)",
        f"Reversals (more than {n} days apart)",
    ]
    pairs = conflicts(kursk.claims, window_days=n)
    kinds = pairs["kind"].value_counts()
    counts = _pair_counts(at)
    assert counts == {"Disagreements": kinds["disagreement"], "Reversals": kinds["reversal"]}
    assert sum(counts.values()) == len(pairs)
    *_, disagreements, reversals = (d.value for d in at.dataframe)
    assert (len(disagreements), len(reversals)) == (counts["Disagreements"], counts["Reversals"])
    assert (disagreements["gap_days"] <= n).all()
    assert (reversals["gap_days"] > n).all()
    rule = shown(at.caption[-1].value)
    assert f"at most {n} days apart is a disagreement" in rule
    assert f"more than {n} days apart is a reversal" in rule
    assert not any("at the same time" in shown(c.value) for c in at.caption)


def test_claims_page_counts_the_pairs_of_the_claims_shown(kursk: Theatre) -> None:
    at = _run(CLAIMS)
    at.text_input(key="place").set_value("Горналь").run()
    assert not at.exception
    shown_ids = filter_claims(kursk.claims, kursk.gazetteer, place="Горналь")["claim_id"]
    pairs = conflicts_involving(conflicts(kursk.claims), shown_ids)
    assert 0 < sum(_pair_counts(at).values()) == len(pairs) < len(conflicts(kursk.claims))


def test_gazetteer_ranks_candidates_and_lists_unlocated(kursk: Theatre) -> None:
    at = _run(GAZETTEER)
    at.text_input(key="query").set_value("Hornal").run()
    assert not at.exception
    candidates, unlocated, unverified = (d.value for d in at.dataframe)
    assert candidates.iloc[0]["place_id"] == "cur-gornal"
    assert candidates.iloc[0]["source"]
    places = kursk.places
    # Every unlocated village and every unverified position, and nothing else.
    assert set(unlocated["place_id"]) == set(places.loc[~places["located"], "place_id"])
    expected = places.loc[places["located"] & ~places["verified"], "place_id"]
    assert set(unverified["place_id"]) == set(expected) != set()
    assert not unlocated["place_id"].isin(["cur-gornal"]).any()
    # Shown with the precision the data gives, never finer than the 1 km floor.
    stated = places.set_index("place_id").loc[unverified["place_id"], "precision_m"]
    assert (unverified["precision_m"].to_numpy() == stated.to_numpy()).all()
    assert (unverified["precision_m"] >= 1000).all()


def test_gazetteer_reports_ambiguity() -> None:
    at = _run(GAZETTEER)
    at.text_input(key="query").set_value("Popovka").run()
    assert any("ambiguous" in shown(w.value) for w in at.warning)


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
        patterns=side_patterns.parse_patterns(["Liberated=UA", "Occupied=RU"]),
    )
    draft = ingest.ingest_bytes(deepstate_style_geojson(), "ds.geojson", mapping, kursk)
    ingest.commit(store, draft, who="t", source="fixture", licence="CC0")
    at = _run(UPLOAD)
    table = at.dataframe[-1].value  # the Revisions view comes last
    assert list(table["revision_id"]) == [1]
    assert list(table["claimant"]) == ["deepstate"]
    at.number_input(key="revert_id").set_value(1).run()
    at.button(key="revert").click().run()
    assert not at.exception
    assert [r.mode for r in store.revisions()] == ["snapshot", "revert"]
    assert len(store.polygons()) == 0


DAY = dt.date(2024, 8, 20)


def _upload_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[AppTest, Path]:
    store_path = tmp_path / "s.gpkg"
    monkeypatch.setenv("FRONTLINE_STORE", str(store_path))
    return _run(UPLOAD), store_path


def _give(at: AppTest, data: bytes, *, new_id: str = "my-team", day: dt.date | None = DAY) -> None:
    """Upload a file and fill the form: a new claimant, its date and the provenance."""
    at.file_uploader(key="file").set_value(("map.geojson", data, "application/geo+json"))
    for key, value in (
        ("who", "tester"),
        ("source", "test fixture"),
        ("licence", "CC0"),
        ("new_id", new_id),
        ("new_name", "My team"),
    ):
        at.text_input(key=key).set_value(value)
    at.date_input(key="upload_date").set_value(day)
    at.run()
    assert not at.exception


def _report(at: AppTest) -> str:
    return str(at.text[0].value)


def _stored(store_path: Path) -> int:
    return len(GeoPackageStore(store_path).revisions()) if store_path.exists() else 0


def test_upload_page_defaults_to_a_new_claimant_and_shows_no_error_before_typing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at, _ = _upload_page(tmp_path, monkeypatch)
    assert at.selectbox(key="claimant").value == "new claimant …"  # never ru-mod by default
    assert at.text_input(key="new_id").value == ""
    assert at.date_input(key="upload_date").value is None  # no date until one is picked
    assert not at.error  # no "bad claimant id ''"
    assert any("New claimant id" in shown(i.value) for i in at.info)
    at.text_input(key="new_name").set_value("My team").run()
    assert not at.error
    at.text_input(key="new_id").set_value("My Team").run()
    assert [shown(e.value) for e in at.error] == [
        "bad claimant id 'My Team': use 2-32 lower-case letters, digits or dashes"
    ]
    at.text_input(key="new_id").set_value("ru-mod").run()  # an embedded claimant's id
    assert [shown(e.value) for e in at.error] == [
        "claimant id 'ru-mod' is taken: choose ru-mod under Whose map to add to its map, "
        "or type another id"
    ]


@pytest.mark.parametrize(
    ("empty", "field"), [("new_id", "New claimant id"), ("upload_date", "Date of the map")]
)
def test_upload_page_commit_names_the_one_empty_field_and_stores_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty: str, field: str
) -> None:
    at, store_path = _upload_page(tmp_path, monkeypatch)
    _give(
        at,
        deepstate_style_geojson(),
        new_id="" if empty == "new_id" else "my-team",
        day=None if empty == "upload_date" else DAY,
    )
    assert not at.error  # nothing typed wrong yet: the empty field is only listed
    assert not at.text  # no preview without it
    at.button(key="commit").click().run()
    assert not at.exception
    errors = [shown(e.value) for e in at.error]
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"**{field}** is needed: ")
    assert errors[0].endswith("Nothing was stored.")
    assert _stored(store_path) == 0


def test_upload_page_lists_skipped_features_readably_and_counts_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    grey = "Сіра\xa0зона /// Grey zone\u202e"
    squares = [shapely.box(35.40 + k / 100, 51.10, 35.405 + k / 100, 51.105) for k in range(23)]
    data = feature_collection(
        feature(shapely.box(35.2, 51.15, 35.35, 51.25), name="Звільнено\xa0/// Liberated"),
        *(feature(g, name=grey) for g in squares),
    )
    at, _ = _upload_page(tmp_path, monkeypatch)
    _give(at, data)
    report = _report(at)
    assert "skipped 23: name matches no pattern" in report
    assert "feature 2: name matches no pattern ('Сіра зона /// Grey zone\\u202e')" in report
    assert "  … and 3 more" in report.splitlines()
    assert "\\xa0" not in report
    assert not set(report) & {"\xa0", "\u202e"}


def _status_geojson() -> bytes:
    """DeepState-like polygons whose side is in ``status``; two have an unknown status."""
    return feature_collection(
        feature(shapely.box(35.2, 51.15, 35.35, 51.25), status="Liberated"),
        feature(shapely.box(35.4, 51.10, 35.5, 51.15), status="Unknown status"),
        feature(shapely.box(34.9, 51.30, 35.1, 51.40), status="Unknown status"),
        feature(shapely.Point(35.27, 51.19), status="Fighting"),
    )


def test_upload_page_maps_unknown_status_to_contested_by_a_value_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at, store_path = _upload_page(tmp_path, monkeypatch)
    at.text_input(key="side_field").set_value("status")
    _give(at, _status_geojson())
    table = at.data_editor(key="side_values").value
    assert table.to_dict("list") == {
        "value": ["Liberated", "Unknown status"],  # the polygons' values (not the point's)
        "polygons": [1, 2],
        "side": ["UA", "skip"],  # prefilled from the patterns
    }
    assert "skipped 2: status matches no pattern" in _report(at)
    at.session_state["side_values"] = {
        "edited_rows": {1: {"side": "contested"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    assert not at.exception
    assert not at.error
    report = _report(at)
    assert "3 polygons for my-team (snapshot) on 2024-08-20" in report
    assert "area contested: " in report
    assert "status matches no pattern" not in report
    at.button(key="commit").click().run()
    assert not at.exception
    assert [shown(s.value) for s in at.success] == ["Committed as revision(s) [1]."]
    polygons = GeoPackageStore(store_path).polygons()
    assert sorted(polygons["side"]) == ["UA", "contested", "contested"]
    assert _stored(store_path) == 1


SNAPSHOTS = str(settings.ROOT / "pages" / "4_Snapshots.py")


def _snapshots(**params: str) -> AppTest:
    at = AppTest.from_file(SNAPSHOTS, default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception
    return at


def _stamp(at: AppTest) -> str:
    return next(shown(c.value) for c in at.caption if shown(c.value).startswith("Frontline "))


def test_snapshots_page_offers_the_figure_with_its_citation(kursk: Theatre) -> None:
    at = _snapshots()
    assert not at.error
    assert not at.warning
    assert at.image[0].captions == ["figure, slide (1920×1080 px)"]
    download = at.download_button(key="download")
    assert download.label == "Download PNG"
    assert download.proto.url.endswith(".png")
    version = data_version(kursk)
    cite, snippet = at.code
    assert f"data {version}, figure " in cite.value
    assert "claimants: ua-gs, ru-mod" in cite.value
    assert cite.value.endswith("/?date=2024-08-25&claimants=ua-gs,ru-mod")
    assert f"data {version}" in _stamp(at)
    assert _stamp(at).endswith("extent Kursk salient")
    # The embed snippet names the downloaded file and escapes the citation's "&".
    assert snippet.language == "html"
    name = "frontline-2024-08-25-ua-gs-ru-mod-Kursk-salient.png"
    assert snippet.value.startswith(f'<figure><img src="{name}"')
    assert "claimants=ua-gs,ru-mod" in snippet.value
    assert "&amp;claimants" in snippet.value
    assert "&claimants" not in snippet.value.replace("&amp;", "")


Step = tuple[str, str, str]  # widget kind, key, value


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([("text_input", "date", "2024-13-40")], "bad date '2024-13-40'"),
        ([("text_input", "since", "2024-09-30")], "bad since date '2024-09-30': after the date"),
        ([("checkbox", "side_by_side", "")], "side by side needs a 'Change since' date"),
        (
            [("selectbox", "extent_mode", "bounding box"), ("text_input", "bbox", "10,10,11,11")],
            "bad extent '10,10,11,11': the box does not touch the theatre",
        ),
        (
            [("selectbox", "extent_mode", "bounding box"), ("text_input", "bbox", "35,51,35.6")],
            "bad bounding box '35,51,35.6'",
        ),
        (
            [("selectbox", "extent_mode", "named place"), ("text_input", "place", "Atlantis")],
            "unknown place 'Atlantis'",
        ),
        (
            [("selectbox", "extent_mode", "map page permalink")],
            "has no map= parameter",
        ),
        (
            [("selectbox", "size", "custom"), ("text_input", "custom_size", "99x99")],
            "bad size '99x99'",
        ),
        ([("selectbox", "format", "gif"), ("text_input", "step", "0d")], "bad step '0d'"),
        (
            [("selectbox", "format", "zip"), ("text_input", "to", "2024-08-01")],
            "is before 2024-08-25",
        ),
    ],
)
def test_snapshots_page_names_a_bad_input(steps: list[Step], message: str) -> None:
    at = _snapshots()
    for kind, key, value in steps:
        widget = getattr(at, kind)(key=key)
        (widget.check() if kind == "checkbox" else widget.set_value(value)).run()
        assert not at.exception
    errors = [shown(e.value) for e in at.error]
    assert len(errors) == 1, errors
    assert message in errors[0]
    assert not at.download_button  # nothing to download from a bad request
    # The page kept running past the error: its widgets and title are all drawn.
    assert at.title[0].value == "Snapshots"
    assert at.selectbox(key="basemap").value == "none"


def test_snapshots_page_says_when_the_date_is_past_the_last_claim(kursk: Theatre) -> None:
    at = _snapshots()
    at.text_input(key="date").set_value("2025-12-01").run()
    last = kursk.date_range()[1]
    assert any(f"no claims after {last}" in shown(i.value) for i in at.info)
    assert not at.error


def test_snapshots_page_warns_about_an_unknown_claimant_in_its_link() -> None:
    at = _snapshots(date="2024-09-01", claimants="kremlin,isw")
    assert any("unknown claimant(s) 'kremlin'" in shown(w.value) for w in at.warning)
    assert at.multiselect(key="claimants").value == ["isw"]
    assert "claimants: isw;" in at.code[0].value
    assert not at.error


def test_snapshots_page_frames_the_map_page_view_of_its_link(kursk: Theatre) -> None:
    at = _snapshots(date="2024-08-25", claimants="ua-gs,ru-mod", map="51.2,35.3,10")
    assert not at.error
    assert at.selectbox(key="extent_mode").value == "map page permalink"
    assert "map=51.2,35.3,10" in str(at.text_input(key="permalink").value)
    assert _stamp(at).endswith("extent map=51.2,35.3,10")
    assert f"data {data_version(kursk)}" in _stamp(at)
    assert at.code[0].value.endswith("/?date=2024-08-25&claimants=ua-gs,ru-mod&map=51.2,35.3,10")
    # The page keeps its own URL in step, so its address is a permalink too.
    at.text_input(key="date").set_value("2024-08-30").run()
    assert at.query_params["date"] == "2024-08-30"
    assert at.query_params["map"] == "51.2,35.3,10"


def test_snapshots_page_takes_a_pasted_map_page_url() -> None:
    at = _snapshots()
    at.selectbox(key="extent_mode").set_value("map page permalink").run()
    url = "http://localhost:8501/?date=2024-09-01&claimants=isw,nobody&compare=2024-08-10&map=51.3,35.0,11"
    at.text_input(key="permalink").set_value(url).run()
    assert not at.exception
    assert not at.error
    assert at.text_input(key="date").value == "2024-09-01"
    assert at.text_input(key="since").value == "2024-08-10"
    assert at.multiselect(key="claimants").value == ["isw"]
    assert any("unknown claimant(s) 'nobody'" in shown(w.value) for w in at.warning)
    assert _stamp(at).endswith("extent map=51.3,35.0,11")


@pytest.mark.parametrize(
    ("fmt", "preview"),
    [("svg", "preview (PNG) of the SVG"), ("geojson", "preview (PNG) of the GEOJSON")],
)
def test_snapshots_page_previews_other_formats_as_png(fmt: str, preview: str) -> None:
    at = _snapshots()
    at.selectbox(key="format").set_value(fmt).run()
    assert not at.exception
    assert at.image[0].captions[0].startswith(preview)
    download = at.download_button(key="download")
    assert download.label == f"Download {fmt.upper()}"
    assert download.proto.url.endswith(f".{fmt}")  # the export itself, not the PNG preview
    assert any(
        shown(c.value).startswith(f"frontline-2024-08-25-ua-gs-ru-mod-Kursk-salient.{fmt}: ")
        for c in at.caption
    )


def test_snapshots_page_makes_a_gif_only_when_asked() -> None:
    at = _snapshots()
    at.selectbox(key="format").set_value("gif").run()
    at.text_input(key="to").set_value("2024-09-08").run()
    assert not at.download_button
    assert any("3 dates, 2024-08-25 to 2024-09-08" in shown(i.value) for i in at.info)
    assert at.image[0].captions[0].startswith("preview (PNG) of the GIF")
    at.button(key="make").click().run()
    assert not at.exception
    assert at.download_button(key="download").label == "Download GIF"
    assert at.image[0].captions == ["GIF, 3 dates"]
    caption = "frontline-2024-08-25-to-2024-09-08-ua-gs-ru-mod-Kursk-salient.gif: "
    assert any(
        shown(c.value).startswith(caption) and shown(c.value).endswith("3 dates")
        for c in at.caption
    )


def test_map_page_links_to_snapshots_and_back() -> None:
    at = AppTest.from_file(str(settings.ROOT / "app.py"), default_timeout=120)
    at.query_params["date"] = "2024-09-01"
    at.query_params["claimants"] = "isw,deepstate"
    at.run()
    assert not at.exception
    link = next(p for p in at.get("page_link") if p.proto.page == "Snapshots")
    assert link.proto.query_string == "date=2024-09-01&claimants=isw%2Cdeepstate"
    # The pages share session state: the map's date slider and the snapshot's date text
    # share a key, and switching both ways must not trip over the other's value.
    at.switch_page("pages/4_Snapshots.py").run()
    assert not at.exception
    assert at.text_input(key="date").value == "2024-09-01"
    assert at.multiselect(key="claimants").value == ["isw", "deepstate"]
    at.switch_page("pages/0_Map.py").run()
    assert not at.exception
    assert at.slider(key="date").value == dt.date(2024, 9, 1)

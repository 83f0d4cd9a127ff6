"""Ingest: mapping an upload's features to a claimant's dated, sided polygons, and storing them.

Fixtures are built here: a DeepState-style GeoJSON (``Звільнено /// Liberated`` polygons with
``fill``/``stroke`` styling, settlement points, a grey-zone polygon no pattern matches) on the
embedded Kursk theatre, and a store in ``tmp_path``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely

from pipeline import ingest, settings
from pipeline.build import Theatre
from pipeline.errors import InputError
from pipeline.ingest import Mapping, commit, ingest_bytes, preview
from pipeline.safetext import value_text
from pipeline.side_patterns import exact_patterns, parse_patterns
from pipeline.store import GeoPackageStore
from pipeline.upload_read import UploadError, read_upload
from tests.conftest import feature as _feature
from tests.conftest import feature_collection as _fc

DAY = dt.date(2024, 8, 20)
TODAY = dt.date(2025, 6, 1)
SIDES = parse_patterns(["Liberated=UA", "Occupied=RU"])
DEEPSTATE = Mapping("deepstate", date=DAY, side_field="name", patterns=SIDES)
DEEPSTATE_PATCH = Mapping("deepstate", date=DAY, side_field="name", patterns=SIDES, mode="patch")
PROVENANCE = {"who": "tester", "source": "DeepStateMap export", "licence": "CC BY-NC 4.0"}

# Inside Kursk Oblast (Russia), so the ground a view holds there is all "beyond the border".
SUDZHA = shapely.box(35.20, 51.15, 35.35, 51.25)
KORENEVO = shapely.box(34.90, 51.30, 35.10, 51.40)
GREY = shapely.box(35.40, 51.10, 35.50, 51.15)
FAR_AWAY = shapely.box(10.0, 10.0, 10.1, 10.1)
BOW_TIE = shapely.Polygon([(35.20, 51.15), (35.35, 51.25), (35.35, 51.15), (35.20, 51.25)])
XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"


def _deepstate() -> bytes:
    style_ua = {"fill": "#0000ff", "fill-opacity": 0.25, "stroke": "#0000ff"}
    style_ru = {"fill": "#ff0000", "fill-opacity": 0.25, "stroke": "#a52714"}
    return _fc(
        _feature(SUDZHA, name="Звільнено /// Liberated", **style_ua),
        _feature(shapely.Point(35.27, 51.19), name="Суджа /// Sudzha", **{"marker-color": "#f00"}),
        _feature(KORENEVO, name="Окуповано /// Occupied", **style_ru),
        _feature(shapely.Point(35.10, 51.35), name="Кореневе /// Korenevo"),
        _feature(GREY, name="Сіра зона /// Grey zone", fill="#888888"),
    )


def _km2(geom: shapely.Geometry) -> float:
    series = gpd.GeoSeries([geom], crs=settings.GEO_CRS).to_crs(settings.EQUAL_AREA_CRS)
    return float(series.area.iloc[0]) / 1e6


def _ground_km2(theatre: Theatre, day: dt.date, view: str = "deepstate") -> dict[str, float]:
    ground = theatre.ground(view, day)
    return {str(s): float(a) for s, a in zip(ground["side"], ground["area_km2"], strict=True)}


@pytest.fixture
def store(tmp_path: Path) -> GeoPackageStore:
    return GeoPackageStore(tmp_path / "s.gpkg")


# ---------------------------------------------------------------------------------------
# Mapping a DeepState-style file


def test_deepstate_export_maps_with_one_line(kursk: Theatre) -> None:
    draft = ingest_bytes(_deepstate(), "deepstate.geojson", DEEPSTATE, kursk, today=TODAY)
    report = draft.report
    assert (report.features, report.kept) == (5, 2)
    assert report.skipped == {"not a polygon (Point)": 2, "name matches no pattern": 1}
    assert "feature 5: name matches no pattern ('Сіра зона /// Grey zone')" in report.examples
    assert list(draft.polygons["side"]) == ["UA", "RU"]
    assert list(draft.polygons["label"]) == ["Звільнено /// Liberated", "Окуповано /// Occupied"]
    assert list(draft.polygons["date"]) == ["2024-08-20", "2024-08-20"]
    assert list(draft.polygons["feature"]) == [1, 3]
    assert report.area_km2["UA"] == pytest.approx(_km2(SUDZHA), rel=1e-3)
    assert report.area_km2["RU"] == pytest.approx(_km2(KORENEVO), rel=1e-3)
    style = json.loads(draft.polygons["properties"].iloc[0])
    assert style["name"] == "Звільнено /// Liberated"
    assert (style["fill"], style["fill-opacity"], style["stroke"]) == ("#0000ff", "0.25", "#0000ff")
    lines = report.lines()
    assert "skipped 2: not a polygon (Point)" in lines
    assert "skipped 1: name matches no pattern" in lines


def _strict_json(text: str) -> dict[str, Any]:
    def refuse(token: str) -> None:
        raise ValueError(token)

    data: dict[str, Any] = json.loads(text, parse_constant=refuse)
    return data


def test_properties_are_strict_json_without_missing_attributes(kursk: Theatre) -> None:
    draft = ingest_bytes(_deepstate(), "deepstate.geojson", DEEPSTATE, kursk, today=TODAY)
    props = [_strict_json(text) for text in draft.polygons["properties"]]
    assert "marker-color" not in props[0]  # only the Sudzha point has it


def test_feature_without_the_side_attribute_matches_no_pattern(kursk: Theatre) -> None:
    data = _fc(_feature(SUDZHA, name="Ukrainian-held"), _feature(KORENEVO, other="x"))
    mapping = Mapping("deepstate", date=DAY, side_field="name", patterns=parse_patterns(["an=UA"]))
    draft = ingest_bytes(data, "a.geojson", mapping, kursk, today=TODAY)
    assert list(draft.polygons["feature"]) == [1]
    assert draft.report.skipped == {"name matches no pattern": 1}


def test_patterns_are_case_insensitive_and_first_match_wins(kursk: Theatre) -> None:
    data = _fc(
        _feature(SUDZHA, status="LIBERATED then occupied"),
        _feature(KORENEVO, status="occupied"),
    )
    mapping = Mapping(
        "deepstate", date=DAY, side_field="status", patterns=parse_patterns(["liberated=UA"])
    )
    draft = ingest_bytes(data, "a.geojson", mapping, kursk, today=TODAY)
    assert list(draft.polygons["side"]) == ["UA"]
    assert draft.report.skipped == {"status matches no pattern": 1}


def test_hostile_text_is_stored_verbatim(kursk: Theatre, store: GeoPackageStore) -> None:
    data = _fc(
        _feature(SUDZHA, name=f"{XSS_IMG} Liberated", note=XSS_SCRIPT),
        _feature(KORENEVO, name="Occupied", note=XSS_IMG),
    )
    draft = ingest_bytes(data, "xss.geojson", DEEPSTATE, kursk, today=TODAY)
    commit(store, draft, **PROVENANCE)
    stored = store.polygons()
    assert list(stored["label"]) == [f"{XSS_IMG} Liberated", "Occupied"]
    notes = [json.loads(text)["note"] for text in stored["properties"]]
    assert notes == [XSS_SCRIPT, XSS_IMG]
    assert XSS_SCRIPT in stored["properties"].iloc[0]  # not escaped on the way in


# ---------------------------------------------------------------------------------------
# Dates


@pytest.mark.parametrize(
    ("mapping", "dates", "message"),
    [
        pytest.param(
            Mapping("deepstate", date=dt.date(2099, 1, 1), side="UA"),
            ("", ""),
            "file 'd.geojson': date 2099-01-01 is in the future",
            id="future",
        ),
        pytest.param(
            Mapping("deepstate", date=dt.date(2020, 1, 1), side="UA"),
            ("", ""),
            "file 'd.geojson': date 2020-01-01 is before the theatre's start 2024-08-06",
            id="before-start",
        ),
        pytest.param(
            Mapping("deepstate", date_field="day", side="UA"),
            ("2024-08-20", "2099-01-01"),
            "file 'd.geojson', feature 2: date 2099-01-01 is in the future",
            id="future-attribute",
        ),
        pytest.param(
            Mapping("deepstate", date_field="day", side="UA"),
            ("2024-08-20", "20 August"),
            "file 'd.geojson', feature 2: bad day '20 August'",
            id="bad-attribute",
        ),
        pytest.param(
            Mapping("deepstate", date_field="day", side="UA"),
            ("2024-08-20", ""),
            "file 'd.geojson', feature 2: bad day ''",
            id="empty-attribute",
        ),
        pytest.param(
            Mapping("deepstate", date_field="day", side="UA"),
            ("2024-08-20", None),
            "file 'd.geojson', feature 2: bad day",
            id="missing-attribute",
        ),
    ],
)
def test_bad_dates_refused(
    kursk: Theatre, mapping: Mapping, dates: tuple[str, str | None], message: str
) -> None:
    second = {} if dates[1] is None else {"day": dates[1]}
    data = _fc(_feature(SUDZHA, day=dates[0]), _feature(KORENEVO, **second))
    with pytest.raises(InputError) as info:
        ingest_bytes(data, "d.geojson", mapping, kursk)
    assert str(info.value).startswith(message)


def test_impossible_date_attribute_refused(kursk: Theatre) -> None:
    # GDAL types an all-dates GeoJSON property as a date and refuses the whole file.
    data = _fc(_feature(SUDZHA, day="2024-08-20"), _feature(KORENEVO, day="2024-02-30"))
    mapping = Mapping("deepstate", date_field="day", side="UA")
    with pytest.raises(InputError) as info:
        ingest_bytes(data, "d.geojson", mapping, kursk)
    assert str(info.value).startswith("file 'd.geojson'")
    assert "feature 2: bad day '2024-02-30'" in str(info.value)


def test_dates_from_an_attribute_make_one_revision_each(
    kursk: Theatre, store: GeoPackageStore
) -> None:
    data = _fc(
        _feature(SUDZHA, day="2024-08-20"),
        _feature(KORENEVO, day="2024-09-01T12:00:00"),
    )
    mapping = Mapping("deepstate", date_field="day", side="UA", mode="patch")
    draft = ingest_bytes(data, "days.geojson", mapping, kursk, today=TODAY)
    assert draft.report.dates == ["2024-08-20", "2024-09-01"]
    revisions = commit(store, draft, **PROVENANCE)
    assert [(r.date, r.features, r.mode) for r in revisions] == [
        ("2024-08-20", 1, "patch"),
        ("2024-09-01", 1, "patch"),
    ]


# ---------------------------------------------------------------------------------------
# Geometry repairs and clipping


def test_bow_tie_needs_confirmed_repair(kursk: Theatre, store: GeoPackageStore) -> None:
    assert not BOW_TIE.is_valid
    data = _fc(_feature(SUDZHA, name="Liberated"), _feature(BOW_TIE, name="Liberated"))
    mapping = Mapping("deepstate", date=DAY, side="UA")
    with pytest.raises(InputError) as info:
        ingest_bytes(data, "bowtie.geojson", mapping, kursk, today=TODAY)
    message = str(info.value)
    assert message.startswith("file 'bowtie.geojson': 1 invalid geometries would be repaired")
    assert "feature 2: Self-intersection" in message
    assert "area 0.000 →" in message
    assert "confirm the repairs" in message
    assert store.revisions() == []

    confirmed = Mapping("deepstate", date=DAY, side="UA", accept_repairs=True)
    draft = ingest_bytes(data, "bowtie.geojson", confirmed, kursk, today=TODAY)
    assert len(draft.report.repairs) == 1
    assert draft.report.repairs[0].startswith("feature 2: Self-intersection")
    (revision,) = commit(store, draft, **PROVENANCE)
    stored = store.polygons()
    assert len(stored) == 2
    repaired = stored.geometry.iloc[1]
    assert repaired.is_valid
    assert _km2(repaired) == pytest.approx(_km2(SUDZHA) / 2, rel=1e-2)  # two triangles
    assert revision.area_km2 == pytest.approx(_km2(SUDZHA) * 1.5, rel=1e-2)


@pytest.mark.parametrize(("clip", "kept"), [(True, 1), (False, 2)])
def test_clip_skips_features_outside_the_theatre(kursk: Theatre, clip: bool, kept: int) -> None:
    data = _fc(_feature(SUDZHA), _feature(FAR_AWAY))
    mapping = Mapping("deepstate", date=DAY, side="UA", clip=clip)
    draft = ingest_bytes(data, "far.geojson", mapping, kursk, today=TODAY)
    assert draft.report.kept == kept
    if clip:
        assert draft.report.skipped == {"outside the theatre": 1}
        assert draft.report.examples == ["feature 2: outside the theatre"]
    else:
        assert not draft.report.skipped
        assert draft.polygons.geometry.iloc[1].equals(FAR_AWAY)


def test_clip_cuts_a_feature_at_the_theatre_edge(kursk: Theatre) -> None:
    extent = shapely.union_all(kursk.regions.geometry.to_numpy())
    edge = shapely.get_coordinates(extent.boundary)
    x, y = edge[edge[:, 0].argmin()]  # the theatre's westernmost point
    straddling = shapely.box(x - 0.2, y - 0.2, x + 0.2, y + 0.2)
    mapping = Mapping("deepstate", date=DAY, side="UA")
    draft = ingest_bytes(_fc(_feature(straddling)), "edge.geojson", mapping, kursk, today=TODAY)
    kept = draft.polygons.geometry.iloc[0]
    assert kept.bounds[0] == pytest.approx(x)
    assert 0 < _km2(kept) < _km2(straddling)
    assert draft.report.area_km2["UA"] == pytest.approx(_km2(kept), rel=1e-3)


# ---------------------------------------------------------------------------------------
# Claimants and mappings


def test_unknown_claimant_refused(kursk: Theatre) -> None:
    mapping = Mapping("osint-x", date=DAY, side="UA")
    with pytest.raises(InputError) as info:
        ingest_bytes(_fc(_feature(SUDZHA)), "a.geojson", mapping, kursk, today=TODAY)
    assert "unknown claimant 'osint-x'" in str(info.value)
    assert "deepstate" in str(info.value)  # the known ones are listed


def test_new_claimant_is_registered_with_the_commit(kursk: Theatre, store: GeoPackageStore) -> None:
    claimant = ingest.new_claimant("osint-x", " OSINT X ", "independent", "CC BY 4.0")
    mapping = Mapping("osint-x", date=DAY, side="UA")
    draft = ingest_bytes(
        _fc(_feature(SUDZHA)), "a.geojson", mapping, kursk, claimant=claimant, today=TODAY
    )
    assert draft.claimant == claimant
    after = preview(kursk, store, draft)
    assert _ground_km2(after, DAY, "osint-x")["UA"] == pytest.approx(_km2(SUDZHA), rel=1e-2)
    commit(store, draft, **PROVENANCE)
    registered = store.claimants()
    assert list(registered) == ["osint-x"]
    assert (registered["osint-x"].name, registered["osint-x"].affiliation) == (
        "OSINT X",
        "independent",
    )
    view = ingest.stored_theatre(kursk, store)
    assert "osint-x" in view.claimants


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("OSINT X", "X", "independent", "CC0"), "bad claimant id 'OSINT X'"),
        (("x", "X", "independent", "CC0"), "bad claimant id 'x'"),
        (("../etc", "X", "independent", "CC0"), "bad claimant id '../etc'"),
        (("osint-x", "X", "neutral", "CC0"), "bad affiliation 'neutral'"),
        (("osint-x", " ", "UA", "CC0"), "needs a name"),
        (("osint-x", "X", "UA", ""), "needs a licence"),
    ],
)
def test_bad_new_claimant_refused(args: tuple[str, str, str, str], message: str) -> None:
    with pytest.raises(InputError) as info:
        ingest.new_claimant(*args)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["Liberated=XX"], "bad mapping 'Liberated=XX': side 'XX' is not UA, RU or contested"),
        (["Liberated"], "bad mapping 'Liberated': expected PATTERN=SIDE"),
        (["=UA"], "bad mapping '=UA': expected PATTERN=SIDE"),
        (["Liberated=UA", "Occupied=ru"], "bad mapping 'Occupied=ru'"),
        (['"Unknown=contested'], "bad mapping '\"Unknown=contested': a quoted pattern must"),
        (['"a" "b"=UA'], 'bad mapping \'"a" "b"=UA\': a quoted pattern must'),
    ],
)
def test_bad_pattern_refused(items: list[str], message: str) -> None:
    with pytest.raises(InputError) as info:
        parse_patterns(items)
    assert str(info.value).startswith(message)


# Values from the file, matched exactly: anything a file may hold in a value, pattern
# syntax included, is matched as whole text.
ODD_VALUES = ["Unknown status", "a=b", 'say "hi"=RU', " padded ", "back\\slash", "new\nline"]


@pytest.mark.parametrize("value", ODD_VALUES)
def test_exact_pattern_matches_its_value_and_nothing_else(kursk: Theatre, value: str) -> None:
    near = [value + " 2", value.upper(), value.strip() or "x", value[1:]]
    near = [v for v in near if v != value]
    features = [_feature(SUDZHA, status=value)] + [
        _feature(shapely.box(35.40 + k / 50, 51.10, 35.41 + k / 50, 51.11), status=v)
        for k, v in enumerate(near)
    ]
    patterns = exact_patterns([(value, "contested")])
    assert parse_patterns([f"{p}={s}" for p, s in patterns]) == patterns  # round trip
    mapping = Mapping("deepstate", date=DAY, side_field="status", patterns=patterns)
    draft = ingest_bytes(_fc(*features), "a.geojson", mapping, kursk, today=TODAY, isolated=False)
    assert list(draft.polygons["feature"]) == [1]
    assert list(draft.polygons["side"]) == ["contested"]
    assert draft.report.skipped == {"status matches no pattern": len(near)}


def test_side_values_lists_each_polygon_value_with_the_patterns_side(kursk: Theatre) -> None:
    data = _fc(
        _feature(SUDZHA, status="Liberated"),
        _feature(shapely.Point(35.27, 51.19), status="Fighting"),  # a point: not listed
        _feature(KORENEVO, status="Unknown status"),
        _feature(GREY, status="Unknown status"),
        _feature(FAR_AWAY),  # no status: the empty text
    )
    raw = read_upload(data, "a.geojson")
    assert ingest.side_values(raw, "status", SIDES) == [
        ("Liberated", 1, "UA"),
        ("Unknown status", 2, None),
        ("", 1, None),
    ]
    with pytest.raises(UploadError, match="no attribute 'side' for the side attribute"):
        ingest.side_values(raw, "side", SIDES)


def test_a_value_table_maps_unknown_status_to_contested(kursk: Theatre) -> None:
    data = _fc(
        _feature(SUDZHA, status="Liberated"),
        _feature(KORENEVO, status="Unknown status"),
        _feature(GREY, status="Unknown status"),
    )
    raw = read_upload(data, "a.geojson")
    table = {
        text: side or "contested" for text, _, side in ingest.side_values(raw, "status", SIDES)
    }
    mapping = Mapping(
        "deepstate", date=DAY, side_field="status", patterns=exact_patterns(table.items())
    )
    draft = ingest.prepare(raw, mapping, kursk, sha256="0" * 64, today=TODAY)
    assert list(draft.polygons["side"]) == ["UA", "contested", "contested"]
    assert draft.report.area_km2["contested"] == pytest.approx(
        _km2(KORENEVO) + _km2(GREY), rel=1e-3
    )


def test_skipped_values_read_as_text_and_the_rest_are_counted(kursk: Theatre) -> None:
    grey = "Сіра\xa0зона /// Grey\u202fzone \x1b[2J\u202e"
    squares = [shapely.box(35.40 + k / 100, 51.10, 35.405 + k / 100, 51.105) for k in range(25)]
    data = _fc(_feature(SUDZHA, name="Liberated"), *(_feature(g, name=grey) for g in squares))
    draft = ingest_bytes(data, "a.geojson", DEEPSTATE, kursk, today=TODAY, isolated=False)
    lines = draft.report.lines()
    assert (
        "  feature 2: name matches no pattern ('Сіра зона /// Grey zone \\x1b[2J\\u202e')" in lines
    )
    assert len(draft.report.examples) == ingest.EXAMPLES
    assert "  … and 5 more" in lines
    text = "\n".join(lines)
    assert "\\xa0" not in text
    assert not set(text) & {"\xa0", "\x1b", "\u202e"}
    assert value_text("x" * 100) == "x" * 59 + "…"


def test_pattern_may_hold_an_equals_sign() -> None:
    assert parse_patterns(["status=free=UA", " Occupied = RU "]) == (
        ("status=free", "UA"),
        ("Occupied", "RU"),
    )


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (Mapping("deepstate", side="UA"), "give either one date or a date attribute"),
        (
            Mapping("deepstate", date=DAY, date_field="day", side="UA"),
            "give either one date or a date attribute",
        ),
        (Mapping("deepstate", date=DAY), "give either one side or a side attribute"),
        (Mapping("deepstate", date=DAY, side="NATO"), "unknown side 'NATO'"),
        (Mapping("deepstate", date=DAY, side_field="name"), "needs PATTERN=SIDE mappings"),
        (Mapping("deepstate", date=DAY, side="UA", mode="replace"), "unknown mode 'replace'"),
        (
            Mapping("deepstate", date=DAY, side_field="nom", patterns=SIDES),
            "file 'a.geojson': no attribute 'nom' for the side attribute; has: name",
        ),
        (
            Mapping("deepstate", date=DAY, side_field="../name", patterns=SIDES),
            "side attribute '../name' is not a plain name",
        ),
    ],
)
def test_inconsistent_mapping_refused(kursk: Theatre, mapping: Mapping, message: str) -> None:
    with pytest.raises(InputError) as info:
        ingest_bytes(_fc(_feature(SUDZHA, name="Liberated")), "a.geojson", mapping, kursk)
    assert message in str(info.value)


# ---------------------------------------------------------------------------------------
# Commit, preview, revert


def test_commit_twice_is_idempotent(kursk: Theatre, store: GeoPackageStore) -> None:
    data = _deepstate()
    first = ingest_bytes(data, "deepstate.geojson", DEEPSTATE, kursk, today=TODAY)
    revisions = commit(store, first, **PROVENANCE)
    assert [r.features for r in revisions] == [2]
    assert first.report.committed == [revisions[0].revision_id]
    again = ingest_bytes(data, "renamed.geojson", DEEPSTATE, kursk, today=TODAY)
    assert commit(store, again, **PROVENANCE) == []
    assert again.report.existing == [revisions[0].revision_id]
    assert again.report.committed == []
    assert any("already stored as revision(s)" in line for line in again.report.lines())
    assert store.revisions() == revisions
    assert len(store.polygons()) == 2
    # The same file read another way is a different upload.
    other = ingest_bytes(data, "deepstate.geojson", DEEPSTATE_PATCH, kursk, today=TODAY)
    assert len(commit(store, other, **PROVENANCE)) == 1


@pytest.mark.parametrize("missing", ["who", "source", "licence"])
def test_commit_needs_provenance(kursk: Theatre, store: GeoPackageStore, missing: str) -> None:
    draft = ingest_bytes(_deepstate(), "d.geojson", DEEPSTATE, kursk, today=TODAY)
    with pytest.raises(InputError, match=f"a commit needs a {missing}"):
        commit(store, draft, **{**PROVENANCE, missing: "  "})
    assert store.revisions() == []


@pytest.mark.parametrize("mode", ["snapshot", "patch"])
def test_preview_diff_snapshot_and_patch(kursk: Theatre, store: GeoPackageStore, mode: str) -> None:
    before = _ground_km2(kursk, DAY)
    assert before["UA"] > 0
    assert before["contested"] > 0  # the ledger's own deepstate map, to be replaced or kept
    mapping = Mapping("deepstate", date=DAY, side="UA", mode=mode)
    draft = ingest_bytes(_fc(_feature(SUDZHA)), "sudzha.geojson", mapping, kursk, today=TODAY)
    after = preview(kursk, store, draft)
    diff = {d["side"]: d for d in draft.report.diff}
    assert diff["UA"]["date"] == "2024-08-20"
    assert diff["UA"]["gained_km2"] > 0
    ground = _ground_km2(after, DAY)
    uploaded = _km2(SUDZHA)
    if mode == "snapshot":
        # The claimant's whole map on the date: only the uploaded polygon is UA.
        assert ground["UA"] == pytest.approx(uploaded, rel=0.01)
        assert ground["contested"] == 0
        assert diff["UA"]["lost_km2"] > 0
        assert diff["contested"]["lost_km2"] == pytest.approx(before["contested"], rel=0.01)
    else:
        # A patch adds to the map: what it held elsewhere stays.
        assert ground["UA"] > uploaded
        assert ground["contested"] == pytest.approx(before["contested"], rel=1e-6)
        assert diff["UA"]["lost_km2"] == 0
        assert "contested" not in diff
    assert ground["UA"] == pytest.approx(
        before["UA"] + diff["UA"]["gained_km2"] - diff["UA"]["lost_km2"], abs=0.5
    )
    assert _ground_km2(kursk, DAY) == before  # the base theatre is unchanged
    assert store.revisions() == []  # a preview stores nothing


def test_a_tracker_export_is_that_trackers_own_word_map(
    kursk: Theatre, store: GeoPackageStore
) -> None:
    # The ledger's own-word deepstate view on DAY has reports of its own (UA and contested).
    before = _ground_km2(kursk, DAY, "own:deepstate")
    assert before["UA"] > 0
    assert before["contested"] > 0
    draft = ingest_bytes(_deepstate(), "deepstate.geojson", DEEPSTATE, kursk, today=TODAY)
    commit(store, draft, **PROVENANCE)
    after = ingest.stored_theatre(kursk, store, cache_dir=None)
    own = after.view("own:deepstate")
    assert own.description == "deepstate, own word only (silence unknown)"
    # On the export's date the view is the export: its Liberated polygon is all UA ground,
    # nothing else is contested or inferred.
    ground = _ground_km2(after, DAY, "own:deepstate")
    assert ground["UA"] == pytest.approx(_km2(SUDZHA), rel=0.01)
    assert ground["contested"] == ground["UA inferred"] == 0
    # Before it, the view is the ledger's own deepstate claims, unchanged.
    earlier = DAY - dt.timedelta(days=1)
    # (Within 0.01 km²: the upload's edges split cells, which rounds their areas.)
    assert _ground_km2(after, earlier, "own:deepstate") == pytest.approx(
        _ground_km2(kursk, earlier, "own:deepstate"), abs=0.01
    )


def test_revert_removes_the_upload(kursk: Theatre, store: GeoPackageStore) -> None:
    before = _ground_km2(kursk, DAY)
    mapping = Mapping("deepstate", date=DAY, side="UA")
    draft = ingest_bytes(_fc(_feature(SUDZHA)), "sudzha.geojson", mapping, kursk, today=TODAY)
    (revision,) = commit(store, draft, **PROVENANCE)
    stored = _ground_km2(ingest.stored_theatre(kursk, store), DAY)
    assert stored["UA"] == pytest.approx(_km2(SUDZHA), rel=0.01)
    assert stored != before
    store.revert(revision.revision_id, who="tester")
    reverted = _ground_km2(ingest.stored_theatre(kursk, store), DAY)
    assert reverted == pytest.approx(before)
    # Once reverted, the same upload may be committed again.
    again = ingest_bytes(_fc(_feature(SUDZHA)), "sudzha.geojson", mapping, kursk, today=TODAY)
    assert len(commit(store, again, **PROVENANCE)) == 1


def test_refused_upload_leaves_the_store_unchanged(
    kursk: Theatre, store: GeoPackageStore, tmp_path: Path
) -> None:
    commit(store, ingest_bytes(_deepstate(), "d.geojson", DEEPSTATE, kursk), **PROVENANCE)
    revisions, files = store.revisions(), sorted(tmp_path.iterdir())
    points = _fc(_feature(shapely.Point(35.27, 51.19), name="Liberated"))
    with pytest.raises(UploadError, match="nothing polygonal to store"):
        ingest_bytes(points, "points.geojson", DEEPSTATE, kursk)
    assert store.revisions() == revisions
    assert sorted(tmp_path.iterdir()) == files


def test_swapped_latitude_and_longitude_are_refused(kursk: Theatre) -> None:
    swapped = shapely.transform(SUDZHA, lambda xy: xy[:, ::-1])
    data = _fc(_feature(swapped, name="Liberated"))
    mapping = Mapping("deepstate", date=DAY, side="UA")
    with pytest.raises(InputError, match="latitude and longitude swapped") as info:
        ingest_bytes(data, "swapped.geojson", mapping, kursk, today=TODAY)
    assert "swapped.geojson" in str(info.value)
    fixed = ingest_bytes(_fc(_feature(SUDZHA, name="x")), "ok.geojson", mapping, kursk, today=TODAY)
    assert fixed.report.kept == 1

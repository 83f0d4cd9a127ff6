"""The folium map, rendered to HTML without a browser, and its static layer files."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from pipeline.build import Theatre, load_theatre
from pipeline.timeline import side_areas
from pipeline.webmap import (
    PLAYBACK_FORMAT,
    SIDE_COLOURS,
    map_of_view,
    playback_data,
    write_static_layers,
)
from tests.conftest import add_place, claim_row, make_theatre_dir


def test_map_html_draws_the_held_ground_offline(tiny_theatre: Theatre) -> None:
    html = map_of_view(tiny_theatre, "ua-gs", dt.date(2024, 8, 25)).get_root().render()
    assert SIDE_COLOURS["UA"] in html
    assert "Held by Ukraine in ua-gs\\u0027s view (filled) on 2024-08-25" in html  # whose view
    assert '"place_id":"gn-1"' in html  # settlements inlined for a standalone map
    assert "cdn.jsdelivr" not in html
    assert "code.jquery" not in html
    assert "/app/static/vendor/leaflet-" in html


def test_map_before_the_incursion_draws_no_ukrainian_ground(tiny_theatre: Theatre) -> None:
    html = map_of_view(tiny_theatre, "ua-gs", dt.date(2024, 8, 1)).get_root().render()
    assert "Held by Ukraine in" not in html


def test_two_views_draw_their_disagreement(tiny_theatre: Theatre) -> None:
    html = map_of_view(tiny_theatre, ["ua-gs", "ru-mod"], dt.date(2025, 4, 27)).get_root().render()
    assert "disagreement on 2025-04-27: ua-gs says contested, ru-mod says RU" in html


def test_static_layers_are_written_once(tiny_theatre: Theatre, tmp_path: Path) -> None:
    url = write_static_layers(tiny_theatre, tmp_path, ["ua-gs"])
    folder = tmp_path / url.rsplit("/", 1)[1]
    settlements = json.loads((folder / "settlements.json").read_text())
    assert len(settlements["features"]) == int(tiny_theatre.places["located"].sum())
    playback = json.loads((folder / f"playback{PLAYBACK_FORMAT}-ua-gs.json").read_text())
    assert playback["dates"][0] == "2024-08-15"
    assert all(len(f) == len(playback["base"]) for f in playback["frames"])
    before = (folder / "settlements.json").stat().st_mtime_ns
    write_static_layers(tiny_theatre, tmp_path, ["ua-gs"])
    assert (folder / "settlements.json").stat().st_mtime_ns == before


@pytest.mark.parametrize("within", [None, "RU-KRS"])
def test_playback_areas_are_the_pages_figures(tiny_theatre: Theatre, within: str | None) -> None:
    # The map's timeline states, per change date, the areas the page's figures compute.
    data = playback_data(tiny_theatre, "ua-gs", within=within)
    table = tiny_theatre.table("ua-gs")
    assert len(data["areas"]) == len(data["dates"]) == len(table.dates)
    for day, areas in zip(table.dates, data["areas"], strict=True):
        page = side_areas(table, tiny_theatre.cells, day, within=within)
        assert areas == {side: round(page[side]) for side in ("UA", "contested", "UA inferred")}
    assert any(a["UA"] > 0 for a in data["areas"])


def test_place_names_are_never_html(tmp_path: Path) -> None:
    payload = "<img src=x onerror=alert(1)>"
    root = make_theatre_dir(
        tmp_path / "geo", [claim_row(place="cur-evil", region="", claim_id="evil")]
    )
    add_place(root, "cur-evil", payload, source="test <script>alert(2)</script>")
    theatre = load_theatre(root, cache_dir=tmp_path / "cache")
    html = map_of_view(theatre, "ua-gs", dt.date(2024, 8, 25)).get_root().render()
    assert payload not in html
    assert "<script>alert(2)" not in html
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in html  # JSON data, shown via textContent


def test_change_since_is_drawn(tiny_theatre: Theatre) -> None:
    layer_html = map_of_view(tiny_theatre, "ua-gs", dt.date(2025, 3, 20)).get_root().render()
    assert "UA lost" not in layer_html
    from pipeline.webmap import base_map, ground_layer

    fmap = base_map(tiny_theatre)
    ground_layer(tiny_theatre, ["ua-gs"], dt.date(2025, 3, 20), since=dt.date(2024, 8, 25)).add_to(
        fmap
    )
    html = fmap.get_root().render()
    assert "ua-gs: UA lost" in html
    assert "ua-gs: contested gained" in html


def test_settlements_carry_the_claims_behind_them(tiny_theatre: Theatre) -> None:
    from pipeline.webmap import theatre_layers

    features = theatre_layers(tiny_theatre)["settlements"]["features"]
    sudzha = next(f["properties"] for f in features if f["properties"]["place_id"] == "gn-1")
    assert [c["date"] for c in sudzha["claims"]] == ["2024-08-15", "2025-03-13"]
    assert sudzha["claims"][0]["publisher"] == "Test Wire"


def test_published_json_is_strict(tmp_path: Path) -> None:
    from pipeline.webmap import publish_json

    url = publish_json(tmp_path, "abc", "ok", [{"a": None, "b": 1.5}])
    assert url == "/app/static/frontline-abc/ok.json"
    assert json.loads((tmp_path / "frontline-abc" / "ok.json").read_text()) == [
        {"a": None, "b": 1.5}
    ]
    with pytest.raises(ValueError, match="JSON"):
        publish_json(tmp_path, "abc", "bad", [{"a": float("nan")}])  # NaN is not JSON
    assert sorted(p.name for p in (tmp_path / "frontline-abc").iterdir()) == ["ok.json"]


def test_ground_and_upload_groups_are_added_to_the_map(tiny_theatre: Theatre) -> None:
    import re

    import geopandas as gpd
    import shapely

    from pipeline.webmap import upload_layer

    fmap = map_of_view(tiny_theatre, ["ua-gs"], dt.date(2024, 8, 25))
    polygons = gpd.GeoDataFrame(
        {"side": ["UA"], "label": ["x"]}, geometry=[shapely.box(35.1, 51.1, 35.2, 51.2)], crs=4326
    )
    upload_layer(polygons).add_to(fmap)
    html = fmap.get_root().render()
    groups = set(re.findall(r"var (feature_group_\w+) = L\.featureGroup", html))
    added = set(re.findall(r"(feature_group_\w+)\.addTo\(map_\w+\)", html))
    assert len(groups) == 2
    assert added == groups


def test_no_map_output_is_compiled_as_a_template(tiny_theatre: Theatre) -> None:
    import branca.element

    from pipeline._leaflet import Literal, SafeElement

    fmap = map_of_view(tiny_theatre, ["ua-gs", "ru-mod"], dt.date(2025, 4, 27))
    root = fmap.get_root()
    assert isinstance(root, branca.element.Figure)
    root.render()
    ours: list[str] = []
    stack: list[branca.element.Element] = [fmap]
    while stack:
        element = stack.pop()
        stack.extend(element._children.values())
        if isinstance(element, SafeElement):
            ours.append(element.get_name())
    assert len(ours) >= 6  # map, hatch, URL view, theatre layers, group, ground layers
    # What the map and its own layers rendered reaches the page as Literal text: there is
    # no second Jinja pass over it. (Folium's tile layer and "a.addTo(b)" glue carry no data.)
    rendered = {**root.header._children, **root.html._children, **root.script._children}
    assert {type(rendered[name]) for name in ours if name in rendered} == {Literal}
    assert sum(name in rendered for name in ours) == len(ours)

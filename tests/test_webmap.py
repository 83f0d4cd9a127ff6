"""The folium map, rendered to HTML without a browser."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from pipeline.build import Theatre, load_theatre
from pipeline.webmap import SIDE_COLOURS, map_of_view
from tests.conftest import claim_row, make_theatre_dir


def test_map_html_draws_the_held_ground_and_escapes_text(tiny_theatre: Theatre) -> None:
    html = map_of_view(tiny_theatre, "ua-gs", dt.date(2024, 8, 25)).get_root().render()
    assert SIDE_COLOURS["UA"] in html
    assert "held by Ukraine" in html
    assert "Sudzha [gn-1]" in html
    assert "cdn.jsdelivr" not in html
    assert "code.jquery" not in html
    assert "/app/static/vendor/leaflet-" in html


def test_map_before_the_incursion_draws_no_ukrainian_ground(tiny_theatre: Theatre) -> None:
    html = map_of_view(tiny_theatre, "ua-gs", dt.date(2024, 8, 1)).get_root().render()
    assert "held by Ukraine:" not in html


def test_place_names_are_rendered_as_text(tmp_path: Path) -> None:
    payload = "<img src=x onerror=alert(1)>"
    root = make_theatre_dir(
        tmp_path / "geo", [claim_row(place="cur-evil", region="", claim_id="evil")]
    )
    with (root / "places_curated.csv").open("a", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerow(
            [
                "cur-evil",
                payload,
                "",
                "",
                "",
                "RU",
                "Kursk",
                "",
                "51.25",
                "35.40",
                "1000",
                "true",
                "test <script>alert(2)</script>",
                "",
                "CC0",
                "",
            ]
        )
    theatre = load_theatre(root, cache_dir=tmp_path / "cache")
    html = map_of_view(theatre, "ua-gs", dt.date(2024, 8, 25)).get_root().render()
    assert payload not in html
    assert "<script>alert(2)" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html

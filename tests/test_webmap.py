"""The folium map, rendered to HTML without a browser."""

from __future__ import annotations

import datetime as dt

from pipeline.build import Theatre
from pipeline.webmap import SIDE_COLOURS, map_of_view


def test_map_html_draws_the_held_ground_and_escapes_text(tiny_theatre: Theatre) -> None:
    html = map_of_view(tiny_theatre, "ua-gs", dt.date(2024, 8, 25)).get_root().render()
    assert SIDE_COLOURS["UA"] in html
    assert "held by Ukraine" in html
    assert "Sudzha (gn-1)" in html


def test_map_before_the_incursion_draws_no_ukrainian_ground(tiny_theatre: Theatre) -> None:
    html = map_of_view(tiny_theatre, "ua-gs", dt.date(2024, 8, 1)).get_root().render()
    assert "held by Ukraine:" not in html

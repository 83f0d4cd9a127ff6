"""Untrusted text is data on every path: template, HTML, Markdown and formula payloads.

Each payload goes in where a visitor or an uploaded file can put text, and the test asserts
on what comes out: the payload shown as itself, nothing evaluated. The code-execution
payloads would create a folder (in the working directory, or under ``tmp_path``) if any
template engine ever evaluated them, so "no folder" proves that nothing ran.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import folium
import geopandas as gpd
import pytest
import shapely
from streamlit.testing.v1 import AppTest

from pipeline import ingest, settings, side_patterns
from pipeline._leaflet import UnsafeElementError
from pipeline.build import Theatre
from pipeline.errors import InputError
from pipeline.export import embed_snippet, export_snapshot, html_bytes
from pipeline.ledger import claims_to_csv
from pipeline.safetext import js_json, markdown_text
from pipeline.snapshot import make_snapshot
from pipeline.store import GeoPackageStore
from pipeline.viewstate import date_from_map
from pipeline.webmap import map_of_view, upload_layer
from tests.conftest import feature, feature_collection, shown, svg_texts

PWNED = "frontline_pwned"
"""The folder the quote-free code-execution payload would create in the working directory."""

PAYLOADS = [
    "{{ 7*7 }}",
    "{{at:25.03}}",
    "{% for x in range(3) %}X{% endfor %}",
    f"{{{{ cycler.__init__.__globals__.os.mkdir(dict({PWNED}=1)|list|first) }}}}",
    "{#",
    "{%raw%}",
    "<img src=x onerror=alert(1)> {{ 7*7 }} {% if 1 %}IF{% endif %}",
]
MARKDOWN = "[**Your session expired: sign in again**](http://x.invalid/phish) ![p](http://x.invalid/px.png)"


QUOTED = "quoted"
"""Stands for :func:`_quoted` in parameter lists (it needs the test's ``tmp_path``)."""


def _quoted(tmp_path: Path) -> str:
    """A payload with quotes that would create ``tmp_path/quoted`` if evaluated."""
    return f"{{{{ lipsum.__globals__['os'].mkdir('{tmp_path / 'quoted'}') }}}}"


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in ``tmp_path``, where an evaluated payload would leave its folder."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _nothing_ran(where: Path) -> None:
    assert not (where / PWNED).exists(), "a template payload was evaluated"
    assert not (where / "quoted").exists(), "a template payload was evaluated"


def _as_data(text: str) -> str:
    """How a text appears inside the map's script: as an escaped JSON string."""
    return js_json(text)[1:-1]


@pytest.mark.parametrize("payload", [*PAYLOADS, QUOTED])
def test_upload_labels_reach_the_map_as_data(
    payload: str, tiny_theatre: Theatre, sandbox: Path
) -> None:
    payload = _quoted(sandbox) if payload == QUOTED else payload
    polygons = gpd.GeoDataFrame(
        {"side": ["UA"], "label": [payload]},
        geometry=[shapely.box(35.1, 51.1, 35.2, 51.2)],
        crs=settings.GEO_CRS,
    )
    fmap = map_of_view(tiny_theatre, ["ua-gs"], dt.date(2024, 8, 25))
    upload_layer(polygons).add_to(fmap)
    page = fmap.get_root().render()
    _nothing_ran(sandbox)
    label = _as_data(f"{payload} (UA)")
    assert label in page
    assert json.loads(f'"{label}"') == f"{payload} (UA)"  # a JSON string of the text itself
    assert "XXX" not in page  # the loop never ran
    assert "<img src=x" not in page


@pytest.mark.parametrize(
    "element",
    [
        lambda: folium.GeoJson({"type": "FeatureCollection", "features": []}),
        lambda: folium.Marker([51.2, 35.2], tooltip="{{ 7*7 }}"),
        lambda: folium.Element("{{ 7*7 }}"),
    ],
)
def test_elements_that_render_data_twice_are_refused(
    tiny_theatre: Theatre, element: Callable[[], folium.Element]
) -> None:
    fmap = map_of_view(tiny_theatre, ["ua-gs"], dt.date(2024, 8, 25))
    element().add_to(fmap)
    with pytest.raises(UnsafeElementError, match="is not allowed on a Frontline map"):
        fmap.get_root().render()


@pytest.mark.parametrize("payload", [PAYLOADS[0], PAYLOADS[3], PAYLOADS[6]])
def test_snapshot_titles_are_text_in_every_format(
    payload: str, tiny_theatre: Theatre, sandbox: Path
) -> None:
    snap = make_snapshot(tiny_theatre, dt.date(2024, 8, 25), ["ua-gs"], title=payload)
    page = html_bytes(tiny_theatre, snap).decode()
    assert _as_data(payload) in page
    assert payload in svg_texts(export_snapshot(tiny_theatre, snap, "svg").data)
    # PNG and PDF are drawn from the same figure as the SVG, whose text is checked above.
    assert export_snapshot(tiny_theatre, snap, "png").data.startswith(b"\x89PNG")
    assert export_snapshot(tiny_theatre, snap, "pdf").data.startswith(b"%PDF")
    _nothing_ran(sandbox)
    snippet = embed_snippet("a.png", "png", payload, payload)
    assert "{" not in snippet
    assert "<img src=x" not in snippet


def test_dollar_signs_and_control_characters_in_titles(tiny_theatre: Theatre) -> None:
    snap = make_snapshot(
        tiny_theatre, dt.date(2024, 8, 25), ["ua-gs"], title="$x^2$ costs $5\x1b[2J\x07"
    )
    texts = svg_texts(export_snapshot(tiny_theatre, snap, "svg").data)  # valid XML
    assert "$x^2$ costs $5\ufffd[2J\ufffd" in texts  # a dollar is a dollar, never mathtext


def test_csv_export_keeps_payloads_as_text() -> None:
    import pandas as pd

    rows = pd.DataFrame(
        {"claim_id": ["c1", "c2"], "quote": [PAYLOADS[0], '=HYPERLINK("http://x")']}
    )
    text = claims_to_csv(rows)
    assert PAYLOADS[0] in text
    assert "'=HYPERLINK" in text


@pytest.mark.parametrize("payload", [*PAYLOADS, MARKDOWN])
def test_markdown_text_renders_nothing_but_text(payload: str) -> None:
    """CommonMark with GFM autolinks renders the escaped text as the text, tags and all.

    The browser is the final judge (it finds autolinks after escapes are resolved, which
    this parser does not): see the browser test of a Markdown link in a permalink.
    """
    import html

    import markdown_it

    rendered = markdown_it.MarkdownIt("gfm-like").render(markdown_text(payload))
    for tag in ("<a ", "<img", "<strong>", "<em>"):
        assert tag not in rendered
    assert rendered.startswith("<p>")
    assert rendered.endswith("</p>\n")
    assert html.unescape(rendered[3:-5]).replace("\u2060", "") == payload


# -- pages --------------------------------------------------------------------------------

UPLOAD = str(settings.ROOT / "pages" / "3_Upload.py")
CLAIMS = str(settings.ROOT / "pages" / "1_Claims_and_sources.py")
GAZETTEER = str(settings.ROOT / "pages" / "2_Gazetteer.py")
SNAPSHOTS = str(settings.ROOT / "pages" / "4_Snapshots.py")
APP = str(settings.ROOT / "app.py")


def _payload_geojson(label: str) -> bytes:
    square = shapely.box(35.21, 51.13, 35.33, 51.25)
    return feature_collection(feature(square, name=f"Liberated {label}", note=label))


def test_committed_payloads_stay_text_on_the_map_and_upload_pages(
    kursk: Theatre, sandbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # AppTest cannot drop a file on the uploader: the page's own call is made here, and
    # the preview map it draws is rendered in test_upload_labels_reach_the_map_as_data
    # (and in Chromium by the browser test).
    monkeypatch.setenv("FRONTLINE_STORE", str(sandbox / "s.gpkg"))
    payload = " ".join(PAYLOADS)
    mapping = ingest.Mapping(
        claimant="my-team",
        date=dt.date(2024, 8, 20),
        side_field="name",
        patterns=side_patterns.parse_patterns(["Liberated=UA"]),
    )
    team = ingest.new_claimant("my-team", PAYLOADS[6], "independent", PAYLOADS[1])
    draft = ingest.ingest_bytes(
        _payload_geojson(payload), f"{PWNED}.geojson", mapping, kursk, claimant=team
    )
    ingest.commit(
        GeoPackageStore(sandbox / "s.gpkg"), draft, who=payload, source=payload, licence=payload
    )
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["claimants"] = "my-team,ua-gs"
    at.query_params["date"] = "2024-08-21"
    at.run()
    assert not at.exception
    assert [shown(m.label).split(":")[0] for m in at.metric] == ["my-team", "ua-gs"]
    assert _held(at, "my-team") != "0 km²"  # the upload is drawn
    _nothing_ran(sandbox)
    at = AppTest.from_file(UPLOAD, default_timeout=180)
    at.run()
    assert not at.exception
    revisions = at.dataframe[-1].value
    for column in ("who", "source", "licence"):
        assert list(revisions[column]) == [payload]  # table cells: text
    _nothing_ran(sandbox)


def _held(at: AppTest, view: str) -> str:
    return str(next(m.value for m in at.metric if shown(m.label).startswith(f"{view}:")))


@pytest.mark.parametrize(
    ("page", "key", "shown"),
    [
        (CLAIMS, "place", "info"),
        (GAZETTEER, "query", "warning"),
    ],
)
def test_typed_text_is_shown_as_text(page: str, key: str, shown: str) -> None:
    at = AppTest.from_file(page, default_timeout=120)
    at.run()
    at.text_input(key=key).set_value(MARKDOWN).run()
    assert not at.exception
    messages = [m.value for m in getattr(at, shown)]
    assert any(markdown_text(MARKDOWN) in m for m in messages), messages
    assert not any("](http" in m for m in messages)


@pytest.mark.parametrize("page", [APP, SNAPSHOTS])
def test_link_parameters_are_shown_as_text(page: str) -> None:
    at = AppTest.from_file(page, default_timeout=120)
    at.query_params["claimants"] = MARKDOWN
    at.run()
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert warnings
    assert all("](http" not in w for w in warnings), warnings
    assert any(markdown_text("sign in again**](http://x.invalid/phish)") in w for w in warnings)


MESSAGES = {"markdown", "error", "warning", "info", "success", "caption", "toast", "write"}
MESSAGES |= {"title", "header", "subheader", "exception", "metric"}


def _message_calls(path: Path) -> list[tuple[int, str]]:
    """Streamlit message calls whose text is neither a literal nor ``markdown_format``."""
    bad = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in MESSAGES or not node.args:
            continue
        arg = node.args[0]
        literal = isinstance(arg, ast.Constant) and isinstance(arg.value, str)
        formatted = (
            isinstance(arg, ast.Call)
            and isinstance(arg.func, ast.Name)
            and arg.func.id == "markdown_format"
            and bool(arg.args)
            and isinstance(arg.args[0], ast.Constant)
        )
        if not (literal or formatted):
            bad.append((node.lineno, ast.unparse(node)[:80]))
    return bad


@pytest.mark.parametrize(
    "path", [settings.ROOT / "app.py", *sorted((settings.ROOT / "pages").glob("*.py"))]
)
def test_pages_show_data_only_through_markdown_format(path: Path) -> None:
    assert _message_calls(path) == []


# -- CLI ----------------------------------------------------------------------------------


def _cli(tmp_path: Path, store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI in ``tmp_path`` (where an evaluated payload would leave its folder)."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "--store", str(store), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(settings.ROOT)},
    )


def test_cli_provenance_and_titles_stay_text(tmp_path: Path) -> None:
    payload = PAYLOADS[3] + " " + _quoted(tmp_path) + " <img src=x onerror=alert(1)>"
    title = PAYLOADS[3] + " <img src=x onerror=alert(1)>"
    upload = tmp_path / "upload.geojson"
    upload.write_bytes(_payload_geojson(payload))
    store = tmp_path / "s.gpkg"
    mapping = ["--affiliation", "independent", "--date", "2024-08-20", "--side", "UA"]
    refused = _cli(
        tmp_path, store, "ingest", str(upload), "--claimant", "my-team", "--name", payload,
        *mapping, "--source", payload, "--licence", "CC0", "--who", payload,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "bad name" in refused.stderr  # a name that long is refused at the door
    ok = _cli(
        tmp_path, store, "ingest", str(upload), "--claimant", "my-team", "--name", PAYLOADS[6],
        *mapping, "--source", payload, "--licence", PAYLOADS[1], "--who", PAYLOADS[0],
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    listing = _cli(tmp_path, store, "revisions")
    assert listing.returncode == 0, listing.stderr
    assert PAYLOADS[0] in listing.stdout
    out = tmp_path / "fig.html"
    snap = _cli(
        tmp_path, store, "snapshot", "--on", "2024-08-21", "--claimant", "my-team",
        "--title", title, "--out", str(out),
    )  # fmt: skip
    assert snap.returncode == 0, snap.stderr
    page = out.read_text(encoding="utf-8")
    assert _as_data(title) in page
    assert _as_data(PAYLOADS[6]) in page  # the claimant's name, in the source line
    _nothing_ran(tmp_path)


def test_a_huge_or_control_laden_claimant_name_still_draws(tiny_theatre: Theatre) -> None:
    import dataclasses

    from defusedxml.ElementTree import fromstring

    claimant = tiny_theatre.claimants["ua-gs"]
    name = "\x1b]0;pwned\x07" + "N" * 20_000
    tiny_theatre.claimants["ua-gs"] = dataclasses.replace(claimant, name=name)
    snap = make_snapshot(tiny_theatre, dt.date(2024, 8, 25), ["ua-gs"])
    svg = export_snapshot(tiny_theatre, snap, "svg").data.decode()
    fromstring(svg.encode())  # valid XML: the control characters were replaced
    assert "\ufffd]0;pwned\ufffd" + "N" * 40 in svg
    assert "N" * 200 not in svg  # cut to a name's length


@pytest.mark.parametrize(
    ("name", "reason"),
    [("N" * 20_000, r"20,000 characters \(at most 120\)"), ("", "needs a name")],
)
def test_registration_refuses_unusable_names(name: str, reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        ingest.new_claimant("my-team", name, "independent", "CC0")


def test_claimant_ids_are_matched_whole() -> None:
    with pytest.raises(InputError, match="bad claimant id"):
        ingest.new_claimant("my-team\n", "My team", "independent", "CC0")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (MARKDOWN, "expected a calendar date as YYYY-MM-DD"),
        ("{{ 7*7 }}", "expected a calendar date as YYYY-MM-DD"),
        ("2024-02-30", "expected a calendar date as YYYY-MM-DD"),
        ("2031-01-01", "is outside the timeline"),
        (20240810, "is not a date string"),
        ({"x": 1}, "is not a date string"),
    ],
)
def test_the_maps_date_value_is_parsed_never_trusted(value: object, reason: str) -> None:
    # The map tells the page its date as a component value: outside text, like a URL.
    with pytest.raises(ValueError, match=reason) as e:
        date_from_map(value, dt.date(2024, 8, 5), dt.date(2025, 5, 31))
    assert repr(value)[:20] in str(e.value)


def test_the_maps_date_value_is_read_when_good() -> None:
    day = date_from_map("2024-08-10", dt.date(2024, 8, 5), dt.date(2025, 5, 31))
    assert day == dt.date(2024, 8, 10)

"""The app in a real browser: Debian's Chromium driven by Playwright.

Starts ``streamlit run app.py`` on a free port, polls ``/_stcore/health``, and checks the
page as a person sees it. A screenshot is saved under ``test-artifacts/`` on failure.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Dialog, Locator, Page, expect, sync_playwright

from pipeline import settings
from tests.conftest import (
    DEEPSTATE_LABEL,
    add_place,
    claim_row,
    deepstate_style_geojson,
    make_theatre_dir,
)

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = settings.ROOT / "test-artifacts"
pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _serve(name: str, env: dict[str, str]) -> Iterator[str]:
    """Run ``streamlit run app.py`` on a free port until the block ends."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)")
    port = _free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / f"streamlit-{name}.log"
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(settings.ROOT / "app.py"),
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]
    with log.open("w") as out:
        proc = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=settings.ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    time.sleep(0.5)
            else:
                pytest.fail(f"streamlit did not answer on {url}; see {log}")
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=20)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = tmp_path_factory.mktemp("store") / "s.gpkg"  # no uploads: the embedded claims only
    with _serve("kursk", {"FRONTLINE_STORE": str(store)}) as url:
        yield url


@pytest.fixture(scope="module")
def upload_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = tmp_path_factory.mktemp("upload-store") / "s.gpkg"
    with _serve("upload", {"FRONTLINE_STORE": str(store)}) as url:
        yield url


PAYLOAD = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on a tiny theatre whose settlement name and claim quote are HTML payloads."""
    root = make_theatre_dir(
        tmp_path_factory.mktemp("hostile") / "geo",
        [
            claim_row(
                claim_id="evil",
                place="cur-evil",
                region="",
                date="2024-08-20",
                quote=PAYLOAD + " {{ 7*7 }} {% for x in range(3) %}X{% endfor %}",
            )
        ],
    )
    add_place(root, "cur-evil", PAYLOAD, source="source " + PAYLOAD)
    (root / "events.csv").write_text("date,label,claim_id\n2024-08-20,evil,evil\n")
    cache = tmp_path_factory.mktemp("hostile-cache")
    with _serve("hostile", {"FRONTLINE_DATA": str(root), "FRONTLINE_CACHE": str(cache)}) as url:
        yield url


@pytest.fixture
def page(request: pytest.FixtureRequest) -> Iterator[Page]:

    profile = ARTIFACTS / "chromium-profile"
    shutil.rmtree(profile, ignore_errors=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        pg = browser.new_page(viewport={"width": 1400, "height": 900})
        yield pg
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
        browser.close()


def _held(pg: Page, view: str) -> str:
    metric = pg.locator('[data-testid="stMetric"]', has_text=f"{view}:")
    return str(metric.locator('[data-testid="stMetricValue"]').inner_text())


def _map_paths(pg: Page) -> Locator:
    return pg.frame_locator("iframe").first.locator("path.leaflet-interactive")


_WHOLE_TEXT = """b => [b, ...b.querySelectorAll("*")].every(
    (e) => e.scrollWidth <= e.clientWidth + 1
)"""
"""True when no part of an element's text is cut off (no ellipsis, no overflow)."""


def test_map_draws_offline_with_figures(server: str, page: Page) -> None:
    page.goto(f"{server}/?date=2024-08-25&claimants=ua-gs,ru-mod")
    expect(page.get_by_text("Frontline: the Kursk incursion")).to_be_visible(timeout=60_000)
    expect(page.locator('[data-testid="stMetric"]')).to_have_count(2, timeout=60_000)
    # Leaflet comes from the app's static folder: polygons draw with no internet.
    _map_paths(page).first.wait_for(state="attached", timeout=60_000)
    deadline = time.monotonic() + 30  # the layers arrive one after another under load
    while _map_paths(page).count() <= 50 and time.monotonic() < deadline:
        time.sleep(0.25)
    assert _map_paths(page).count() > 50
    filled = page.frame_locator("iframe").first.locator('path[fill="#1f5fbf"]')
    assert filled.count() >= 1
    assert _held(page, "ua-gs") != "0 km²"
    # The analyst's page: no developer toolbar, and the change buttons' labels are whole.
    expect(page.get_by_role("button", name="Deploy")).to_have_count(0)
    for label in ("◀ previous change", "next change ▶"):
        button = page.get_by_role("button", name=label)
        deadline = time.monotonic() + 20  # the sidebar may still be laid out under load
        while not button.evaluate(_WHOLE_TEXT) and time.monotonic() < deadline:
            time.sleep(0.25)
        assert button.evaluate(_WHOLE_TEXT), label
    # The navigation names every page by what it is; the map is "Map", not the script's name.
    nav = page.locator('[data-testid="stSidebarNav"] a')
    expect(nav).to_have_count(5, timeout=30_000)
    assert [t.strip() for t in nav.all_inner_texts()] == [
        "Map", "Claims & sources", "Gazetteer", "Upload", "Snapshots"
    ]  # fmt: skip
    page.screenshot(path=str(ARTIFACTS / "map-2024-08-25.png"), full_page=True)


def test_permalink_27_april_2025(server: str, page: Page) -> None:
    page.goto(f"{server}/?date=2025-04-27&claimants=ua-gs,ru-mod")
    expect(page.locator('[data-testid="stMetric"]')).to_have_count(2, timeout=60_000)
    expect(
        page.locator('[data-testid="stMetric"]', has_text="ru-mod:").locator(
            '[data-testid="stMetricValue"]'
        )
    ).to_have_text("0 km²", timeout=60_000)
    assert _held(page, "ua-gs") != "0 km²"
    _map_paths(page).first.wait_for(state="attached", timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "map-2025-04-27.png"), full_page=True)


def test_slider_moves_the_figure(server: str, page: Page) -> None:
    page.goto(f"{server}/?date=2024-08-10&claimants=ua-gs")
    expect(page.locator('[data-testid="stMetric"]')).to_have_count(1, timeout=60_000)
    before = _held(page, "ua-gs")
    slider = page.get_by_role("slider")
    slider.focus()
    for _ in range(5):  # back to 5 Aug 2024, one day per key press
        slider.press("ArrowLeft")
    expect(
        page.locator('[data-testid="stMetric"]', has_text="ua-gs:").locator(
            '[data-testid="stMetricValue"]'
        )
    ).to_have_text("0 km²", timeout=60_000)
    assert before != "0 km²"


def test_bad_permalink_shows_a_notice_not_a_traceback(server: str, page: Page) -> None:
    page.goto(f"{server}/?date=not-a-date&claimants=nobody")
    expect(page.get_by_text("bad date 'not-a-date'")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("unknown claimant(s) 'nobody'")).to_be_visible()
    assert page.locator('[data-testid="stException"]').count() == 0


def test_play_animates_the_timeline_in_the_browser(server: str, page: Page) -> None:
    page.goto(f"{server}/?date=2024-08-25&claimants=ua-gs")
    frame = page.frame_locator("iframe").first
    _map_paths(page).first.wait_for(state="attached", timeout=60_000)
    label = frame.locator(".frontline-playback-date")
    assert label.inner_text().strip() == "ua-gs"
    frame.get_by_role("button", name="play the timeline").click()
    expect(label).to_contain_text("2024-08-", timeout=10_000)
    expect(label).to_contain_text("2025-", timeout=60_000)  # frames advance client-side


_OPEN_POPUP = """(body, id) => {
    // Open the popup of the settlement whose tooltip names this place id; return its text.
    const map = Object.values(window).find((v) => v instanceof L.Map);
    let found = null;
    map.eachLayer((layer) => {
        const tip = layer.getTooltip && layer.getTooltip();
        if (!found && tip && layer.getPopup && layer.getPopup()
            && tip.getContent().textContent.includes("[" + id + "]")) { found = layer; }
    });
    found.openPopup();
    return document.querySelector(".leaflet-popup-content").innerText;
}"""


def test_a_popup_lists_the_claims_up_to_the_date_shown(server: str, page: Page) -> None:
    page.goto(f"{server}/?date=2024-08-10&claimants=ua-gs")
    expect(page.locator('[data-testid="stMetric"]')).to_have_count(1, timeout=60_000)
    body = page.frame_locator("iframe").first.locator("body")
    page.frame_locator("iframe").first.locator("path.frontline-settlement").first.wait_for(
        state="attached", timeout=60_000
    )
    sudzha = "gn-486816"
    text = str(body.evaluate(_OPEN_POPUP, sudzha))
    assert "claim(s) up to 2024-08-10" in text
    assert "2024-08-07 deepstate" in text
    assert "2024-08-15" not in text
    assert "2025-" not in text
    assert "later claim(s) not shown" in text
    # The date moves (six days, one per key press): the popup follows it.
    slider = page.get_by_role("slider")
    slider.focus()
    for _ in range(6):
        slider.press("ArrowRight")
    expect(page).to_have_url(re.compile("date=2024-08-16"), timeout=60_000)
    expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0, timeout=60_000)
    deadline = time.monotonic() + 30
    while "up to 2024-08-16" not in text and time.monotonic() < deadline:
        time.sleep(0.5)
        text = str(body.evaluate(_OPEN_POPUP, sudzha))
    assert "claim(s) up to 2024-08-16" in text
    assert "2024-08-15 ua-gs" in text
    assert "2025-" not in text


def test_playback_steps_by_week_and_ends_on_the_pages_date(server: str, page: Page) -> None:
    page.goto(f"{server}/?date=2024-08-25&claimants=ua-gs")
    frame = page.frame_locator("iframe").first
    _map_paths(page).first.wait_for(state="attached", timeout=60_000)
    label = frame.locator(".frontline-playback-date")
    frame.get_by_role("button", name="play the timeline").click()
    # The track marks every change date of the view (fetched with the frames).
    expect(frame.locator(".frontline-playback-tick").first).to_be_attached(timeout=10_000)
    ticks = frame.locator(".frontline-playback-tick").evaluate_all("ts => ts.map(t => t.title)")
    assert ticks == sorted(ticks)
    assert len(ticks) > 20
    # Frames are a week apart from the first change date, whatever the change dates are.
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = label.inner_text().strip()
        if text == "ua-gs" and seen:
            break  # playback ended
        day = text.removeprefix("ua-gs").strip()
        if day and (not seen or seen[-1] != day):
            seen.append(day)
        time.sleep(0.05)
    days = [dt.date.fromisoformat(d) for d in seen]
    assert days[0] == dt.date.fromisoformat(ticks[0])
    assert days[-1] == dt.date.fromisoformat(ticks[-1])  # it ends where it says
    gaps = [(b - a).days for a, b in itertools.pairwise(days)]
    # Whole weeks (a busy machine may hide a frame from the poll), the last step the rest.
    assert all(g % 7 == 0 for g in gaps[:-1])
    assert 7 in gaps
    assert gaps[-1] % 7 == (days[-1] - days[0]).days % 7
    # Ended: the page's own date is back for the map, its label and the popups.
    assert label.inner_text().strip() == "ua-gs"
    expect(frame.get_by_role("button", name="play the timeline")).to_have_text("▶ play")
    shown = frame.locator("body").evaluate("() => window.frontlineShownDate")
    assert shown == "2024-08-25"


def _runs(pg: Page) -> int:
    caption = pg.get_by_text(re.compile(r"Page computed in \d+ ms \(run \d+ of this session\)"))
    found = re.search(r"run (\d+) of", caption.inner_text())
    assert found is not None
    return int(found.group(1))


def test_scrubbing_the_map_redraws_in_the_browser_then_the_page_follows(
    server: str, page: Page
) -> None:
    page.goto(f"{server}/?date=2024-08-25&claimants=ua-gs")
    expect(page.locator('[data-testid="stMetric"]')).to_have_count(1, timeout=60_000)
    frame = page.frame_locator("iframe").first
    _map_paths(page).first.wait_for(state="attached", timeout=60_000)
    scrub = frame.get_by_role("slider", name="date on the map")
    expect(scrub).to_be_enabled(timeout=30_000)
    _settled(page)
    runs = _runs(page)
    label = frame.locator(".frontline-playback-date")
    figures = frame.locator(".frontline-timeline-figures")
    scrub.focus()
    seen = []
    for _ in range(15):  # back to 10 Aug 2024, a day per key press, faster than the settle time
        scrub.press("ArrowLeft")
        seen.append(figures.inner_text())
    # Every frame was drawn in the browser: label, figures and the URL moved with the key.
    assert label.inner_text().strip() == "ua-gs 2024-08-10"
    assert "Ukrainian-held or contested" in seen[-1]
    assert len(set(seen)) > 3  # the area changed along the way, frame by frame
    expect(page).to_have_url(re.compile("date=2024-08-10"), timeout=5_000)
    # Once the control is still, the server follows once: the page's slider, figures and
    # popups show the map's date, and the map hands back to the server's layers.
    expect(page.get_by_role("slider")).to_have_attribute(
        "aria-valuetext", re.compile("2024/08/10|2024-08-10"), timeout=30_000
    )
    _settled(page)
    held = seen[-1].split("or contested ")[1].split(" km²")[0]
    expect(
        page.locator('[data-testid="stMetric"]', has_text="ua-gs:").locator(
            '[data-testid="stMetricValue"]'
        )
    ).to_have_text(f"{held} km²", timeout=30_000)
    expect(label).to_have_text(" ua-gs", timeout=30_000)
    assert frame.locator("body").evaluate("() => window.frontlineShownDate") == "2024-08-10"
    assert _runs(page) - runs <= 3  # one debounced rerun (and its redraw), not fifteen
    page.screenshot(path=str(ARTIFACTS / "scrubbed-2024-08-10.png"), full_page=True)


_POST_MAP_VALUE = """(body, value) => window.parent.postMessage({
    isStreamlitMessage: true, type: "streamlit:setComponentValue",
    value: {frontline_date: value, n: 1000}, dataType: "json"
}, "*")"""


def test_a_bad_date_from_the_map_is_named_and_changes_nothing(server: str, page: Page) -> None:
    page.goto(f"{server}/?date=2024-08-25&claimants=ua-gs")
    expect(page.locator('[data-testid="stMetric"]')).to_have_count(1, timeout=60_000)
    _map_paths(page).first.wait_for(state="attached", timeout=60_000)
    _settled(page)
    before = _held(page, "ua-gs")
    body = page.frame_locator("iframe").first.locator("body")
    hostile = "[**sign in**](http://x.invalid/phish) {{ 7*7 }}"
    body.evaluate(_POST_MAP_VALUE, hostile)
    notice = page.get_by_text(re.compile("Map timeline: bad map date"))
    expect(notice).to_be_visible(timeout=30_000)
    # Shown as typed (a word joiner after each colon stops autolinks), never as a link.
    assert hostile in notice.inner_text().replace("\u2060", "")
    assert page.locator('a[href="http://x.invalid/phish"]').count() == 0
    assert page.locator('[data-testid="stException"]').count() == 0
    assert _held(page, "ua-gs") == before
    expect(page).to_have_url(re.compile("date=2024-08-25"))


def test_hostile_text_is_shown_as_text(hostile_server: str, page: Page) -> None:
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(f"{hostile_server}/?date=2024-08-20&claimants=ua-gs")
    frame = page.frame_locator("iframe").first
    markers = frame.locator("path.frontline-settlement")
    markers.first.wait_for(state="attached", timeout=60_000)
    shown = ""
    for k in range(markers.count()):
        markers.nth(k).click(force=True)
        popup = frame.locator(".leaflet-popup-content")
        if popup.count() and PAYLOAD in popup.inner_text():
            shown = popup.inner_text()
            assert popup.locator("img").count() == 0
            break
    assert PAYLOAD in shown, "the payload should be visible as text in the claims popup"
    assert "{{ 7*7 }} {% for x in range(3) %}X{% endfor %}" in shown
    time.sleep(1)
    assert dialogs == []


def test_disagreement_is_hatched(server: str, page: Page) -> None:
    page.goto(f"{server}/?date=2025-04-27&claimants=ua-gs,ru-mod")
    frame = page.frame_locator("iframe").first
    hatched = frame.locator('path[fill="url(#frontline-hatch)"]')
    hatched.first.wait_for(state="attached", timeout=60_000)
    assert frame.locator("pattern#frontline-hatch").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "disagreement-2025-04-27.png"), full_page=True)


def test_map_view_lives_in_the_url(server: str, page: Page) -> None:
    page.goto(f"{server}/?date=2024-08-25&claimants=ua-gs&map=51.3000,35.0000,12")
    _map_paths(page).first.wait_for(state="attached", timeout=60_000)
    # The map opened where the URL said, and panning rewrites the URL without a rerun.
    expect(page).to_have_url(
        re.compile(r"map=51\.3000%2C35\.0000%2C12|map=51\.3000,35\.0000,12"), timeout=20_000
    )
    frame = page.frame_locator("iframe").first
    # Zoomed out once about the same centre (Leaflet may move it by a few metres).
    zoomed = re.compile(r"map=51\.(299\d|300\d)(%2C|,)(34\.999\d|35\.000\d)(%2C|,)11")
    # The map's scripts have all run once its timeline is ready; one click then zooms once
    # (retrying clicks under load zoomed out twice more before the URL caught up).
    expect(frame.get_by_role("slider", name="date on the map")).to_be_enabled(timeout=60_000)
    _settled(page)
    frame.locator(".leaflet-control-zoom-out").click()
    expect(page).to_have_url(zoomed, timeout=30_000)
    # A rerun (the date moves) keeps the map's view in the URL.
    slider = page.get_by_role("slider")
    slider.focus()
    slider.press("ArrowRight")
    expect(page).to_have_url(re.compile(r"date=2024-08-26.*map=51\.3000"), timeout=20_000)


def _choose(pg: Page, label: str, option: str) -> None:
    pg.get_by_label(label).click()
    pg.get_by_role("option", name=option, exact=True).click()


def _settled(pg: Page) -> None:
    """Wait until the rerun the last input started has finished.

    While a run is in flight Streamlit shows its status widget and may redraw the widgets;
    a file given to the uploader during that redraw goes to an element that is replaced.
    """
    expect(pg.locator('[data-testid="stStatusWidget"]')).to_have_count(0, timeout=60_000)


def _upload(pg: Page, path: Path) -> None:
    """Give ``path`` to the page's file uploader once the page is idle, and see it taken.

    The status widget may not have appeared yet for a rerun just started, so a file that a
    redraw dropped is given again; the assertion is that the uploader shows its name.
    """
    chip = pg.locator('[data-testid="stFileUploader"] [data-testid="stFileChipName"]')
    for _ in range(3):
        _settled(pg)
        pg.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
        try:
            expect(chip).to_have_attribute("title", path.name, timeout=20_000)
            return
        except AssertionError:
            continue
    expect(chip).to_have_attribute("title", path.name)


def test_upload_preview_commit_and_see_it_on_the_map(
    upload_server: str, page: Page, tmp_path: Path
) -> None:
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    upload = tmp_path / "deepstate-style.geojson"
    upload.write_bytes(deepstate_style_geojson())
    page.goto(f"{upload_server}/Upload")
    expect(page.get_by_text("Upload a control map")).to_be_visible(timeout=60_000)
    page.get_by_label("Who is committing").fill("browser-test")
    page.get_by_label("Source of the data (URL or description)").fill("test fixture")
    page.get_by_label("Licence of the data").fill("CC0-1.0")
    _choose(page, "Whose map", "new claimant …")
    page.get_by_label("New claimant id").fill("my-team")
    page.get_by_label("Full name").fill("My team's map")
    page.get_by_label("Full name").press("Enter")
    page.get_by_role("spinbutton", name="year, Date of the map").click()
    page.keyboard.type("20240820")
    page.get_by_text("Upload a control map").click()  # leaving the field sends the date
    _upload(page, upload)
    report = page.locator('[data-testid="stText"]').first
    expect(report).to_contain_text("polygons for my-team (snapshot) on 2024-08-20", timeout=60_000)
    expect(report).to_contain_text("skipped 2: not a polygon (Point)")
    expect(report).to_contain_text("name matches no pattern")
    preview = page.frame_locator("iframe").first.locator("path.leaflet-interactive")
    preview.first.wait_for(state="attached", timeout=60_000)
    # The uploaded outline's tooltip shows DeepState's label as it is, template tag included.
    frame = page.frame_locator("iframe").first
    outline = frame.locator('path[stroke-dasharray="6 4"]').first
    outline.hover(force=True, position={"x": 12, "y": 12})  # off Sudzha's marker at its centre
    expect(frame.locator(".leaflet-tooltip")).to_contain_text(
        DEEPSTATE_LABEL + " (UA)", timeout=10_000
    )
    page.screenshot(path=str(ARTIFACTS / "upload-preview.png"), full_page=True)
    page.get_by_role("button", name="Commit").click()
    expect(page.get_by_text("Committed as revision(s) [1]")).to_be_visible(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "upload-committed.png"), full_page=True)
    # The new claimant is a view on the map page, beside ua-gs and ru-mod.
    page.goto(f"{upload_server}/?date=2024-08-21&claimants=my-team,ua-gs,ru-mod")
    expect(page.locator('[data-testid="stMetric"]')).to_have_count(3, timeout=60_000)
    _map_paths(page).first.wait_for(state="attached", timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "upload-on-map.png"), full_page=True)
    assert _held(page, "my-team") == "112 km²"  # the Liberated square around Sudzha
    assert dialogs == []


def test_snapshot_page_downloads_the_previewed_png(server: str, page: Page, tmp_path: Path) -> None:
    import datetime as dt
    import io

    import numpy as np
    from matplotlib.colors import to_rgb
    from PIL import Image

    from pipeline.build import load_theatre
    from pipeline.render import FILL_ALPHA, LAND_COLOURS, Canvas
    from pipeline.snapshot import make_snapshot
    from pipeline.webmap import SIDE_COLOURS

    page.goto(f"{server}/Snapshots?date=2024-08-25&claimants=ua-gs,ru-mod")
    preview = page.get_by_role("img", name="Claimed control on 25 August 2024: ua-gs, ru-mod")
    expect(preview).to_be_visible(timeout=60_000)
    expect(page.get_by_text("figure, slide (1920×1080 px)")).to_be_visible()
    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name="Download PNG").click()
    download = info.value
    assert download.suggested_filename == "frontline-2024-08-25-ua-gs-ru-mod-Kursk-salient.png"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    data = saved.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == (1920, 1080)  # the slide preset
        rgb = np.asarray(im.convert("RGB")).astype(int)
    # Ukraine's fill at FILL_ALPHA over Russia's land colour, as Agg blends it.
    fill, land = (255 * np.array(to_rgb(c)) for c in (SIDE_COLOURS["UA"], LAND_COLOURS["RU"]))
    blue = FILL_ALPHA * fill + (1 - FILL_ALPHA) * land
    assert (np.abs(rgb - blue).max(axis=2) <= 3).sum() > 5_000
    # The server's theatre is the embedded one (its store is empty), and rendering is
    # deterministic: the download is exactly the figure this request renders.
    t = load_theatre(settings.DATA_DIR)
    snap = make_snapshot(t, dt.date(2024, 8, 25), ["ua-gs", "ru-mod"])
    assert data == Canvas(t, snap).to_bytes("png")
    page.screenshot(path=str(ARTIFACTS / "snapshots-page.png"), full_page=True)
    name = "frontline-2024-08-25-ua-gs-ru-mod-Kursk-salient.png"
    snippet = page.get_by_text(f'<figure><img src="{name}"')
    snippet.scroll_into_view_if_needed()  # the citation and embed snippet, below the figure
    expect(page.get_by_text("Cite as")).to_be_visible()
    # The citation links the same view on the map page, at the address the browser used.
    expect(page.get_by_text(f"{server}/?date=2024-08-25&claimants=ua-gs,ru-mod")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "snapshots-page-citation.png"))


MARKDOWN_PAYLOAD = (
    "[**Your session expired: sign in again**](http://x.invalid/phish) "
    "![p](http://x.invalid/px.png) www.x.invalid a@b.invalid :smile: :red[RED] "
    ":material/home: $x^2$ <b>B</b>"
)


def test_markdown_in_a_link_is_shown_as_text(server: str, page: Page) -> None:
    outside: list[str] = []
    page.on(
        "request",
        lambda r: (
            outside.append(r.url) if urllib.parse.urlsplit(r.url).hostname == "x.invalid" else None
        ),
    )
    page.goto(f"{server}/?claimants={urllib.parse.quote(MARKDOWN_PAYLOAD)}")
    alert = page.locator('[data-testid="stAlert"]').first
    alert.wait_for(timeout=60_000)
    shown = alert.inner_text().replace("\u2060", "")
    assert MARKDOWN_PAYLOAD in shown  # every character as typed
    for element in ("a", "img", "strong", "b", "span.katex", "span[style]"):
        assert alert.locator(element).count() == 0, element
    assert outside == []

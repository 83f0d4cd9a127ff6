"""Exports: data files of exactly what is drawn, offline HTML, animations and batches."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import subprocess
import zipfile
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pyogrio
import pytest
import shapely
from PIL import Image
from playwright.sync_api import Route, sync_playwright

from pipeline._files import atomic_write
from pipeline.animate import parse_step, series_days
from pipeline.build import Theatre
from pipeline.errors import InputError
from pipeline.export import (
    export_snapshot,
    file_name,
    format_of,
    geojson_bytes,
    gpkg_bytes,
    html_bytes,
)
from pipeline.render import Canvas
from pipeline.snapshot import data_version, drawn_layers, figure_id, make_snapshot

AUG25 = dt.date(2024, 8, 25)
SUDZHA = shapely.Point(35.2708, 51.1924)
CHROMIUM = "/usr/bin/chromium"


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("a.png", "png"), ("b.SVG", "svg"), ("dir/c.gpkg", "gpkg"), ("x.geojson", "geojson")],
)
def test_format_from_the_extension(name: str, fmt: str) -> None:
    assert format_of(name) == fmt


@pytest.mark.parametrize("name", ["kursk", "kursk.txt", "kursk.jpeg"])
def test_unknown_extension_is_refused(name: str) -> None:
    with pytest.raises(InputError, match=re.escape(repr(name))):
        format_of(name)


@pytest.mark.parametrize(("spec", "days"), [("7d", 7), ("1", 1), ("2w", 14), (" 3D ", 3)])
def test_steps(spec: str, days: int) -> None:
    assert parse_step(spec) == dt.timedelta(days=days)


@pytest.mark.parametrize("spec", ["0d", "week", "-1", "7h"])
def test_bad_steps(spec: str) -> None:
    with pytest.raises(InputError, match="bad step"):
        parse_step(spec)


def test_series_days_end_on_the_last_date_and_are_capped() -> None:
    days = series_days(AUG25, dt.date(2024, 9, 10), dt.timedelta(days=7))
    assert days == [AUG25, dt.date(2024, 9, 1), dt.date(2024, 9, 8), dt.date(2024, 9, 10)]
    with pytest.raises(InputError, match="before"):
        series_days(AUG25, dt.date(2024, 8, 1), dt.timedelta(days=1))
    with pytest.raises(InputError, match="too many dates"):
        series_days(dt.date(2024, 8, 6), dt.date(2026, 1, 1), dt.timedelta(days=1))


@pytest.mark.parametrize(
    ("extent", "since", "name"),
    [
        (None, None, "frontline-2024-08-25-ua-gs-ru-mod-Kursk-salient.png"),
        ("theatre", None, "frontline-2024-08-25-ua-gs-ru-mod-theatre.png"),
        ("Sudzha+15km", None, "frontline-2024-08-25-ua-gs-ru-mod-Sudzha-15km.png"),
        (
            None,
            dt.date(2024, 8, 10),
            "frontline-2024-08-25-ua-gs-ru-mod-since-2024-08-10-Kursk-salient.png",
        ),
    ],
)
def test_download_names_say_the_extent_and_the_change_date(
    kursk: Theatre, extent: str | None, since: dt.date | None, name: str
) -> None:
    snap = make_snapshot(
        kursk, dt.date(2024, 8, 25), ["ua-gs", "ru-mod"], since=since, extent=extent
    )
    assert file_name(snap, "png") == name


def test_exports_get_the_umask_mode(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        atomic_write(tmp_path / "a.png", lambda p: p.write_bytes(b"x"))
    finally:
        os.umask(old)
    assert (tmp_path / "a.png").stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]  # no temporary left


def test_geojson_holds_what_the_figure_draws(kursk: Theatre) -> None:
    snap = make_snapshot(kursk, AUG25, ["ua-gs", "ru-mod"], since=dt.date(2024, 8, 12))
    doc = json.loads(geojson_bytes(kursk, snap))
    assert doc["data_version"] == data_version(kursk)
    assert doc["figure_id"] == figure_id(kursk, snap)
    assert doc["claimants"] == ["ua-gs", "ru-mod"]
    layers = drawn_layers(kursk, snap)
    by_layer: dict[str, list[dict[str, object]]] = {}
    for f in doc["features"]:
        by_layer.setdefault(f["properties"]["layer"], []).append(f)
    for name, frame in layers.items():
        assert len(by_layer[name]) == len(frame)
    ua = next(
        f
        for f in by_layer["ground"]
        if f["properties"]["view"] == "ua-gs" and f["properties"]["side"] == "UA"  # type: ignore[index]
    )
    assert shapely.geometry.shape(ua["geometry"]).distance(SUDZHA) < 0.01  # type: ignore[arg-type]
    props = ua["properties"]
    assert props["claimant_name"].startswith("General Staff")  # type: ignore[index]
    assert "GeoNames" in props["attribution"]  # type: ignore[index]
    assert props["data_version"] == data_version(kursk)  # type: ignore[index]
    # Settlements carry their own source and licence.
    sudzha = [f for f in by_layer["settlement"] if f["properties"]["name"] == "Sudzha"]  # type: ignore[index]
    assert sudzha
    assert "GeoNames" in sudzha[0]["properties"]["source"]  # type: ignore[index]


def test_geopackage_has_one_table_per_layer(kursk: Theatre, tmp_path: Path) -> None:
    snap = make_snapshot(kursk, AUG25, ["ua-gs", "ru-mod"])
    path = tmp_path / "s.gpkg"
    path.write_bytes(gpkg_bytes(kursk, snap))
    names = {str(n) for n, _ in pyogrio.list_layers(path)}
    assert names == {"ground", "disagreement", "settlement", "snapshot"}
    ground = pyogrio.read_dataframe(path, layer="ground")
    assert ground.crs.to_epsg() == 4326
    assert (ground["data_version"] == data_version(kursk)).all()
    assert len(ground) == len(drawn_layers(kursk, snap)["ground"])
    meta = pyogrio.read_dataframe(path, layer="snapshot", read_geometry=False)
    assert meta["figure_id"].iloc[0] == figure_id(kursk, snap)


def test_html_needs_nothing_from_the_network(kursk: Theatre, tmp_path: Path) -> None:
    snap = make_snapshot(kursk, AUG25, ["ua-gs", "ru-mod"], extent="Sudzha+20km")
    page = html_bytes(kursk, snap).decode()
    assert not re.search(r"<script[^>]+src=", page)
    assert not re.search(r"<link[^>]+stylesheet", page)
    assert "data:image/png;base64" in page  # Leaflet's own images, inlined
    assert data_version(kursk) in page
    path = tmp_path / "map.html"
    path.write_text(page, encoding="utf-8")
    requests: list[str] = []

    def refuse(route: Route) -> None:
        requests.append(route.request.url)
        route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        pg = browser.new_page()
        pg.route(re.compile(r"^https?://"), refuse)  # the network is gone
        pg.goto(path.as_uri())
        pg.wait_for_function("() => window.L !== undefined")
        drawn = pg.locator("path.leaflet-interactive")
        drawn.first.wait_for(state="attached")
        assert drawn.count() > 5
        assert "Claimed control on 25 August 2024" in pg.inner_text("body")
        # Place names by importance, none over another; Sudzha (a town) among them.
        labels = pg.locator(".frontline-place-label")
        labels.filter(has_text="Sudzha").first.wait_for()
        boxes = [b for b in (labels.nth(i).bounding_box() for i in range(labels.count())) if b]
        assert len(boxes) > 5
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                apart = a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                assert apart or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"]
        # Every settlement's tooltip gives its precision, verified or not.
        box = labels.filter(has_text="Sudzha").first.bounding_box()
        assert box is not None
        # Its marker: the settlement point nearest its label (left of the name), above the
        # ground layers, so the pointer reaches it inside held ground.
        x, y = pg.evaluate(
            """([x, y]) => {
                const near = [...document.querySelectorAll(".frontline-settlement")]
                    .map(e => e.getBoundingClientRect()).filter(r => r.width > 0)
                    .map(r => [r.x + r.width / 2, r.y + r.height / 2])
                    .sort((a, b) => Math.hypot(a[0] - x, a[1] - y)
                        - Math.hypot(b[0] - x, b[1] - y));
                return near[0];
            }""",
            [box["x"] - 5, box["y"] + box["height"] / 2],
        )
        pg.mouse.move(x, y)
        tip = pg.locator(".leaflet-tooltip").filter(has_text="Sudzha [")
        tip.wait_for()
        assert "position ± 1 km" in tip.inner_text()
        browser.close()
    # Only map tiles were asked for (they draw when online); nothing the page needs.
    assert all("tile.openstreetmap.org" in url for url in requests)


def test_gif_has_one_frame_per_date(kursk: Theatre) -> None:
    snap = make_snapshot(kursk, dt.date(2024, 8, 6), ["ua-gs"], size="480x360")
    days = series_days(dt.date(2024, 8, 6), dt.date(2024, 9, 3), dt.timedelta(days=7))
    result = export_snapshot(kursk, snap, "gif", days=days)
    gif = Image.open(io.BytesIO(result.data))
    assert gif.format == "GIF"
    assert gif.size == (480, 360)
    assert getattr(gif, "n_frames", 1) == len(days) == 5
    firsts = []
    for i in (0, 4):
        gif.seek(i)
        firsts.append(np.asarray(gif.convert("RGB")))
    assert not np.array_equal(firsts[0], firsts[1])  # the ground moves from 6 Aug to 3 Sep
    assert result.mime == "image/gif"


def test_mp4_plays_the_dates(kursk: Theatre, tmp_path: Path) -> None:
    snap = make_snapshot(kursk, dt.date(2024, 8, 6), ["ua-gs"], size="481x361")  # odd sides
    days = series_days(dt.date(2024, 8, 6), dt.date(2024, 8, 27), dt.timedelta(days=7))
    data = export_snapshot(kursk, snap, "mp4", days=days).data
    assert data[4:8] == b"ftyp"
    path = tmp_path / "s.mp4"
    path.write_bytes(data)
    probe = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert re.search(r"Video: h264 .*yuv420p.* 482x362", probe.stderr), probe.stderr
    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    assert frames == len(days) + 2  # the last date held for two more frames


def test_zip_batch_has_figures_manifest_and_citations(kursk: Theatre) -> None:
    snap = make_snapshot(kursk, AUG25, ["ua-gs"], size="480x360")
    days = [AUG25, dt.date(2024, 9, 25)]
    data = export_snapshot(kursk, snap, "zip", days=days, batch_format="svg").data
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        assert names == [
            "frontline-2024-08-25.svg",
            "frontline-2024-09-25.svg",
            "manifest.json",
            "CITATION.txt",
        ]
        manifest = json.loads(zf.read("manifest.json"))
        for entry in manifest["files"]:
            body = zf.read(entry["file"])
            assert hashlib.sha256(body).hexdigest() == entry["sha256"]
            assert body.startswith(b"<?xml")
        first = zf.read("frontline-2024-08-25.svg")
        assert first == Canvas(kursk, snap).to_bytes("svg")
        assert manifest["data_version"] == data_version(kursk)
        assert "frontline-2024-09-25.svg" in zf.read("CITATION.txt").decode()
    # The same batch twice is the same zip.
    assert data == export_snapshot(kursk, snap, "zip", days=days, batch_format="svg").data


def test_a_range_needs_a_series_format(kursk: Theatre) -> None:
    snap = make_snapshot(kursk, AUG25, ["ua-gs"])
    with pytest.raises(InputError, match="needs a series format"):
        export_snapshot(kursk, snap, "png", days=[AUG25, dt.date(2024, 9, 1)])

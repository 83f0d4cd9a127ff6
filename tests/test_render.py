"""Static figures: sizes, formats, what is drawn where, text, determinism, and the network."""

from __future__ import annotations

import datetime as dt
import http.server
import io
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from pipeline.build import Theatre
from pipeline.errors import InputError
from pipeline.export import export_snapshot
from pipeline.extent import TO_DRAW
from pipeline.render import FILL_ALPHA, LAND_COLOURS, OFFLINE_STYLE, Canvas, compare_figure, render
from pipeline.snapshot import (
    Size,
    Snapshot,
    data_version,
    drawn_layers,
    figure_id,
    make_snapshot,
)
from pipeline.webmap import SIDE_COLOURS
from tests.conftest import svg_texts

AUG25 = dt.date(2024, 8, 25)
SUDZHA = (35.2708, 51.1924)


def _rgb(hex_colour: str) -> np.ndarray[tuple[int], np.dtype[np.float64]]:
    return np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.float64)


UA_ON_LAND = FILL_ALPHA * _rgb(SIDE_COLOURS["UA"]) + (1 - FILL_ALPHA) * _rgb(LAND_COLOURS["RU"])


def _png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=float)


def _near(pixels: np.ndarray, colour: np.ndarray, tol: float = 8.0) -> int:
    return int((np.abs(pixels - colour).max(axis=-1) <= tol).sum())


def _window(canvas: Canvas, pixels: np.ndarray, lonlat: tuple[float, float], r: int) -> np.ndarray:
    x, y = TO_DRAW.transform(*lonlat)
    px, py = canvas.ax.transData.transform((x, y))
    row, col = pixels.shape[0] - round(py), round(px)
    return pixels[row - r : row + r, col - r : col + r]


@pytest.mark.parametrize(
    ("size", "pixels"), [("slide", (1920, 1080)), ("square", (1080, 1080)), ("800x600", (800, 600))]
)
def test_png_has_the_asked_size(kursk: Theatre, size: str, pixels: tuple[int, int]) -> None:
    snap = make_snapshot(kursk, AUG25, ["ua-gs"], size=size)
    assert Image.open(io.BytesIO(render(kursk, snap))).size == pixels


def test_a4_is_a4_at_300_dpi_in_every_format(kursk: Theatre) -> None:
    snap = make_snapshot(kursk, AUG25, ["ua-gs", "ru-mod"], size="a4")
    canvas = Canvas(kursk, snap)
    png = Image.open(io.BytesIO(canvas.to_bytes("png")))
    assert png.size == (3508, 2480)
    assert png.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    svg = canvas.to_bytes("svg").decode()
    width = float(re.search(r'<svg[^>]*\swidth="([\d.]+)pt"', svg)[1])  # type: ignore[index]
    assert width == pytest.approx(297 / 25.4 * 72, abs=0.5)  # 297 mm
    pdf = canvas.to_bytes("pdf")
    assert pdf.startswith(b"%PDF")
    box = re.search(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert box is not None
    assert (float(box[1]), float(box[2])) == pytest.approx((841.89, 595.28), abs=0.5)


@pytest.mark.parametrize(
    ("view", "day", "ua_pixels"),
    [("ua-gs", AUG25, True), ("ru-mod", dt.date(2025, 4, 27), False)],
)
def test_ukraine_colour_over_sudzha(
    kursk: Theatre, view: str, day: dt.date, ua_pixels: bool
) -> None:
    snap = make_snapshot(kursk, day, [view], extent="Sudzha+10km", size="800x800")
    canvas = Canvas(kursk, snap)
    pixels = _png(canvas.to_bytes("png"))
    around = _window(canvas, pixels, SUDZHA, 40)
    assert (_near(around, UA_ON_LAND) > 500) is ua_pixels
    # The rest of the figure is drawn either way: land and the Sudzha label are there.
    assert _near(pixels, _rgb(LAND_COLOURS["RU"]), 2) > 10_000
    assert kursk.gazetteer.lookup("Sudzha").place_id in canvas.labelled


def test_svg_keeps_its_text(kursk: Theatre) -> None:
    snap = make_snapshot(kursk, AUG25, ["ua-gs", "ru-mod"], since=dt.date(2024, 8, 12))
    canvas = Canvas(kursk, snap)
    svg_bytes = canvas.to_bytes("svg")
    svg = svg_bytes.decode()
    # The source line wraps where its length says: read the figure's text, lines joined.
    words = " ".join(" ".join(svg_texts(svg_bytes)).split())
    names = kursk.places.set_index("place_id")["name"]
    assert len(canvas.labelled) >= 10
    for pid in canvas.labelled:
        assert f">{names[pid]}" in svg
    layers = drawn_layers(kursk, snap)
    ground = layers["ground"]
    ua = ground[(ground["view"] == "ua-gs") & (ground["side"] == "UA")]["area_km2"].iloc[0]
    differ = layers["disagreement"]["area_km2"].sum()
    for text in (
        "Claimed control on 25 August 2024",  # title
        "25 Aug 2024",  # date stamp
        f"Held by Ukraine in ua-gs's view (filled), {ua:,.0f} km²",  # legend: whose view
        "in ru-mod's view (filled, outline)",
        f"ua-gs and ru-mod disagree: {differ:,.0f} km²",
        "gained since 2024-08-12",
        "Russia–Ukraine border",
        "GeoNames (CC BY 4.0; postal codes CC BY 3.0)",  # source line
        "Who's On First (CC0/CC BY)",
        "© OpenStreetMap contributors",
        "(ODbL)",
        "Natural Earth",
        "General Staff of Ukraine",  # the claimant by name
        f"data {data_version(kursk)}",  # stamp
        f"figure {figure_id(kursk, snap)}",
        "20 km",  # scale bar
        ">N<",  # north arrow
    ):
        assert text in words or text in svg, text


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_the_same_request_gives_the_same_bytes(kursk: Theatre, fmt: str) -> None:
    snap = make_snapshot(kursk, AUG25, ["ua-gs", "ru-mod"], size="800x600")
    first = render(kursk, snap, fmt)  # type: ignore[arg-type]
    assert first == render(kursk, snap, fmt)  # type: ignore[arg-type]
    other = make_snapshot(kursk, dt.date(2024, 9, 25), ["ua-gs", "ru-mod"], size="800x600")
    assert first != render(kursk, other, fmt)  # type: ignore[arg-type]


def test_a_canvas_redraws_dates_as_a_new_canvas_would(kursk: Theatre) -> None:
    first = make_snapshot(kursk, AUG25, ["ua-gs"], size="640x480")
    later = make_snapshot(kursk, dt.date(2025, 3, 20), ["ua-gs"], size="640x480")
    canvas = Canvas(kursk, first)
    canvas.set_date(later)
    assert np.array_equal(canvas.to_rgb(), Canvas(kursk, later).to_rgb())
    with pytest.raises(InputError, match="keeps its extent and size"):
        canvas.set_date(make_snapshot(kursk, AUG25, ["ua-gs"], size="800x600"))


def test_comparison_puts_two_dates_side_by_side(kursk: Theatre) -> None:
    snap = make_snapshot(kursk, AUG25, ["ua-gs"], since=dt.date(2024, 8, 10), size="1200x500")
    pixels = _png(compare_figure(kursk, snap))
    assert pixels.shape == (500, 1200, 3)
    # Left: the earlier date alone; right: the later date with the change outlined; each
    # as the figure of its date alone at half the width would be.
    half = replace(snap, size=Size("600x500", 600, 500, snap.size.dpi))
    before = Canvas(kursk, replace(half, day=dt.date(2024, 8, 10), since=None)).to_rgb()
    after = Canvas(kursk, half).to_rgb()
    for got, alone in ((pixels[:, :600], before), (pixels[:, 600:], after)):
        assert (np.abs(got - alone).max(axis=-1) > 24).mean() < 0.005
    assert (np.abs(before.astype(float) - after).max(axis=-1) > 24).mean() > 0.01
    # Vector formats keep both figures as vector text and paths.
    svg = compare_figure(kursk, snap, "svg").decode()
    assert "Claimed control on 10 August 2024" in svg
    assert "Claimed control on 25 August 2024" in svg
    assert "<image" not in svg
    with pytest.raises(InputError, match="needs an earlier date"):
        compare_figure(kursk, make_snapshot(kursk, AUG25, ["ua-gs"]))


# -- the network -----------------------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, ...]]:
    """Block every outgoing connection of this process, as an offline machine would."""
    tried: list[tuple[object, ...]] = []

    def refuse(self: socket.socket, address: object) -> None:
        tried.append((address,))
        raise OSError(101, "Network is unreachable (blocked by the test)")

    def unresolvable(host: object, *args: object, **kwargs: object) -> None:
        tried.append((host,))
        raise socket.gaierror(-3, "Temporary failure in name resolution (blocked by the test)")

    monkeypatch.setattr(socket, "getaddrinfo", unresolvable)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", lambda self, address: refuse(self, address))
    return tried


def test_offline_rendering_with_the_network_blocked(
    kursk: Theatre, no_network: list[tuple[object, ...]]
) -> None:
    snap = make_snapshot(kursk, AUG25, ["ua-gs", "ru-mod"], size="800x600")
    canvas = Canvas(kursk, snap, basemap="auto")
    assert no_network, "the basemap should have tried the tile server"
    assert not canvas.tiles
    assert "offline style" in canvas.basemap_note
    assert "tile.openstreetmap.org not reachable" in canvas.basemap_note
    assert any("tile.openstreetmap.org" in str(t) for t in no_network)
    svg = canvas.to_bytes("svg").decode()
    assert "offline style" in svg
    # The offline figure is the same as one asked without tiles, but for its basemap note.
    plain = _png(Canvas(kursk, snap, basemap="none").to_bytes("png"))
    offline = _png(canvas.to_bytes("png"))
    assert (np.abs(plain - offline).max(axis=-1) > 0).mean() < 0.02


TILE_RGB = (0, 200, 0)


@pytest.fixture
def tile_server() -> Iterator[str]:
    """A local tile server answering every tile with one green 256 px PNG."""
    buf = io.BytesIO()
    Image.new("RGB", (256, 256), TILE_RGB).save(buf, format="PNG")
    body = buf.getvalue()

    class Tiles(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{{z}}/{{x}}/{{y}}.png"
    finally:
        server.shutdown()
        server.server_close()


def test_tiles_are_drawn_and_credited_when_reachable(kursk: Theatre, tile_server: str) -> None:
    snap: Snapshot = make_snapshot(kursk, AUG25, ["ua-gs"], size="800x600")
    canvas = Canvas(kursk, snap, basemap=tile_server)
    assert canvas.tiles, canvas.basemap_note
    pixels = _png(canvas.to_bytes("png"))
    tinted = 0.7 * np.array(TILE_RGB) + 0.3 * _rgb(OFFLINE_STYLE["sea"])
    assert _near(pixels, tinted) > 50_000
    words = " ".join(" ".join(svg_texts(canvas.to_bytes("svg"))).split())
    assert "Basemap: tiles from 127.0.0.1" in words


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("side_by_side", [False, True])
def test_the_figure_id_covers_the_basemap_drawn(
    kursk: Theatre, tile_server: str, side_by_side: bool
) -> None:
    snap = make_snapshot(kursk, AUG25, ["ua-gs"], dt.date(2024, 8, 15), size="800x600")
    dead = f"http://127.0.0.1:{_closed_port()}/{{z}}/{{x}}/{{y}}.png"
    ids = {}
    for name, basemap in (("none", "none"), ("tiles", tile_server), ("unreachable", dead)):
        done = export_snapshot(kursk, snap, "svg", basemap=basemap, side_by_side=side_by_side)
        assert done.snap is not None
        ids[name] = figure_id(kursk, done.snap)
        words = " ".join(" ".join(svg_texts(done.data)).split())
        assert f"figure {ids[name]}" in words  # the stamp drawn is the id reported
        assert bool(done.notes) == (name != "none")  # credit, or why the style is offline
    assert ids["tiles"] != ids["none"]  # tiles under the map: another figure
    assert ids["unreachable"] == ids["none"]  # fell back to the offline style: the same one
    assert ids["none"] == figure_id(kursk, snap)  # offline ids are those of the request

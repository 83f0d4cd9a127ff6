"""Static maps for reports: finished matplotlib figures of what claimants say on a date.

A figure shows the first view's ground beyond the border filled per side, the other views
outlined, the first two views' disagreement hatched, and (with ``since``) the ground gained
and lost since an earlier date; under it the theatre's regions, the border and the key
settlements (those in the day's claims first); around it a title, subtitle, date stamp,
legend, scale bar, north arrow, source line and the data-version stamp.

Figures are drawn on matplotlib's Agg canvas (no display, no pyplot state) in the
theatre's equal-area projection. Output is deterministic: the same request on the same
data gives the same PNG, SVG and PDF bytes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import matplotlib as mpl
import numpy as np
import shapely
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure, SubFigure
from matplotlib.legend_handler import HandlerPatch
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar  # type: ignore[import-untyped]

from pipeline import settings
from pipeline._figure import (
    FILL_ALPHA,
    LAND_COLOURS,
    OFFLINE_STYLE,
    OFFSETS,
    RC,
    capital,
    layout,
    line_segments,
    nice_length,
    place_labels,
    polygon_path,
    wrap,
)
from pipeline.basemap import Basemap, fetch_basemap, parse_basemap
from pipeline.build import Theatre
from pipeline.errors import InputError
from pipeline.extent import DRAW_CRS, TO_DRAW, TO_GEO, fit_bounds, to_draw_crs
from pipeline.snapshot import (
    Size,
    Snapshot,
    drawn_layers,
    label_candidates,
    source_line,
    stamp_line,
    title_of,
    view_name,
)
from pipeline.webmap import DISAGREEMENT_COLOUR, SIDE_COLOURS, SIDE_LABELS

Format = settings.FigureFormat
FORMATS: tuple[Format, ...] = settings.FIGURE_FORMATS


def _subtitle(theatre: Theatre, snap: Snapshot) -> str:
    parts = [f"Filled: {snap.views[0]} ({view_name(theatre, snap.views[0])})"]
    if len(snap.views) > 1:
        others = ", ".join(f"{v} ({view_name(theatre, v)})" for v in snap.views[1:])
        parts.append(f"outlined: {others}")
        parts.append(f"hatched: where {snap.views[0]} and {snap.views[1]} disagree")
    if snap.since is not None:
        parts.append(f"thick outlines: change in {snap.views[0]}'s map since {snap.since}")
    text = "; ".join(parts) + ". Ground shown beyond the border only."
    note = theatre.after_last(snap.day)
    if note is not None:
        text += f" {note.capitalize()}: the map shows the state the last claims left."
    return text


class Canvas:
    """A figure of one request whose date-dependent layers can be redrawn (for animation).

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    snap : Snapshot
        The request (its date is the first frame's).
    basemap : Basemap or str, default "none"
        Tiles under the map, see :func:`pipeline.basemap.parse_basemap`.
    """

    def __init__(
        self,
        theatre: Theatre,
        snap: Snapshot,
        basemap: Basemap | str = "none",
        parent: SubFigure | None = None,
    ) -> None:
        self.theatre = theatre
        self.snap = snap
        self.basemap = parse_basemap(basemap) if isinstance(basemap, str) else basemap
        self.basemap_note = ""
        w, h = snap.size.inches
        with mpl.rc_context(RC):
            self.figure: Figure | SubFigure
            if parent is None:
                self.figure = self.root = Figure(figsize=(w, h), dpi=snap.size.dpi)
                self.root.set_facecolor("white")
                FigureCanvasAgg(self.root)
            else:
                self.figure, self.root = parent, parent.get_figure(root=True)
            self._draw_static()
            self._dynamic: list[Artist] = []
            self.set_date(snap)

    # -- static parts -------------------------------------------------------------------
    def _draw_static(self) -> None:
        t, snap = self.theatre, self.snap
        w, h = snap.size.inches
        sources = source_line(t, snap, "x" * 60)
        if snap.extent.note:
            sources += f" Extent: {snap.extent.label}, {snap.extent.note}."
        lay = layout(w, h, _subtitle(t, snap), sources)
        ax = self.figure.add_axes(lay.map_box)
        self.ax: Axes = ax
        self.layout = lay
        aspect = (lay.map_box[2] * w) / (lay.map_box[3] * h)
        x0, y0, x1, y1 = fit_bounds(snap.extent.bounds, aspect)
        self.bounds = (x0, y0, x1, y1)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_aspect("equal", adjustable="box")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_linewidth(0.8)
            spine.set_color("#444444")
        self._tolerance = (x1 - x0) / (lay.map_box[2] * snap.size.width) * 0.6
        frame = shapely.box(x0, y0, x1, y1)
        regions = to_draw_crs(t.regions)
        geoms = shapely.intersection(
            shapely.simplify(regions.geometry.to_numpy(), self._tolerance), frame
        )
        image, extent, note = fetch_basemap(
            self.basemap,
            tuple(float(v) for v in TO_GEO.transform_bounds(x0, y0, x1, y1)),  # type: ignore[arg-type]
            DRAW_CRS,
            int(lay.map_box[2] * snap.size.width),
        )
        self.basemap_note = note
        self.tiles = image is not None
        # The request as drawn: its figure id (stamp, citation) covers the tiles, if any.
        self.snap = replace(self.snap, basemap=self.basemap.drawn(self.tiles))
        ax.set_facecolor(OFFLINE_STYLE["sea"])
        if image is not None and extent is not None:
            ax.imshow(image, extent=extent, zorder=0, interpolation="bilinear", alpha=0.7)
            ax.set_xlim(x0, x1)
            ax.set_ylim(y0, y1)
        for country in ("RU", "UA"):
            sel = (regions["country"] == country).to_numpy()
            if sel.any():
                ax.add_patch(
                    PathPatch(
                        polygon_path(geoms[sel]),
                        facecolor=LAND_COLOURS[country] if image is None else "none",
                        edgecolor=OFFLINE_STYLE["region_edge"],
                        linewidth=0.6,
                        zorder=1,
                    )
                )
        # Region names where enough of the region is in view, at the point of it farthest
        # from any settlement (so they stay clear of the claims and their labels).
        located = t.places[t.places["located"]]
        px, py = TO_DRAW.transform(located["lon"].to_numpy(), located["lat"].to_numpy())
        gx, gy = np.meshgrid(np.linspace(x0, x1, 24)[2:-2], np.linspace(y0, y1, 18)[2:-2])
        # The legend sits in the lower left: keep names out of it.
        free = ~((gx < x0 + 0.35 * (x1 - x0)) & (gy < y0 + 0.3 * (y1 - y0)))
        gx, gy = gx[free], gy[free]
        grid = shapely.points(gx, gy)
        dist = np.hypot(gx[:, None] - px[None, :], gy[:, None] - py[None, :]).min(axis=1)
        view_area = frame.area
        for name, geom in zip(regions["name_en"], geoms, strict=True):
            if geom.is_empty or geom.area < 0.04 * view_area:
                continue
            inside = shapely.contains(geom, grid)
            if not inside.any():
                continue
            best = int(np.argmax(np.where(inside, dist, -1.0)))
            # The next region's name keeps clear of this one.
            dist = np.minimum(dist, np.hypot(gx - gx[best], gy - gy[best]))
            ax.text(
                float(gx[best]),
                float(gy[best]),
                str(name).upper(),
                fontsize=lay.font * 0.7,
                color=OFFLINE_STYLE["muted"],
                alpha=0.8,
                ha="center",
                va="center",
                style="italic",
                zorder=2,
                clip_on=True,
            )
        border = to_draw_crs(t.border_lines())
        lines = shapely.intersection(border.geometry.to_numpy(), frame)
        ax.add_collection(
            LineCollection(
                line_segments(lines),
                colors=OFFLINE_STYLE["border"],
                linewidths=1.6,
                linestyles=(0, (6, 2, 1.5, 2)),
                zorder=6,
            )
        )
        self._draw_frame_furniture()

    def _draw_frame_furniture(self) -> None:
        ax, lay = self.ax, self.layout
        x0, y0, x1, y1 = self.bounds
        length = nice_length(x1 - x0)
        bar = AnchoredSizeBar(
            ax.transData,
            length,
            f"{length / 1000:g} km",
            "lower right",
            pad=0.6,
            sep=3,
            frameon=True,
            size_vertical=(y1 - y0) / 180,
            fontproperties={"size": lay.font * 0.7},
        )
        bar.patch.set_alpha(0.8)
        bar.set_zorder(20)
        ax.add_artist(bar)
        # North: the direction of the meridian through the map's centre.
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        lon, lat = TO_GEO.transform(cx, cy)
        nx, ny = TO_DRAW.transform(lon, lat + 0.05)
        angle = math.atan2(nx - cx, ny - cy)
        ax_w, ax_h = lay.map_box[2] * lay.width, lay.map_box[3] * lay.height
        length_in = 0.45 * lay.font / 10
        tip = (0.965, 0.955)
        tail = (
            tip[0] - math.sin(angle) * length_in / ax_w,
            tip[1] - math.cos(angle) * length_in / ax_h,
        )
        ax.annotate(
            "",
            xy=tip,
            xytext=tail,
            xycoords="axes fraction",
            arrowprops={"arrowstyle": "-|>", "color": OFFLINE_STYLE["text"], "lw": 1.6},
            zorder=20,
        )
        ax.text(
            tail[0],
            tail[1] - 0.01,
            "N",
            transform=ax.transAxes,
            ha="center",
            va="top",
            fontsize=lay.font * 0.9,
            fontweight="bold",
            zorder=20,
        )

    # -- date-dependent parts --------------------------------------------------------------
    def set_date(self, snap: Snapshot) -> None:
        """Draw (or redraw) everything that depends on the date and views.

        Parameters
        ----------
        snap : Snapshot
            The request; only its date, views and ``since`` may differ from the
            canvas's (extent and size are fixed once drawn, and so is the basemap, which
            :attr:`snap` records as drawn).

        Raises
        ------
        InputError
            When the extent or size differ from the canvas's.
        """
        if snap.extent != self.snap.extent or snap.size != self.snap.size:
            msg = "a canvas keeps its extent and size; make a new one for another"
            raise InputError(msg)
        with mpl.rc_context(RC):
            for artist in self._dynamic:
                artist.remove()
            self._dynamic = []
            self.snap = replace(snap, basemap=self.snap.basemap)
            self.layers = drawn_layers(self.theatre, snap)
            self._draw_ground()
            self._draw_places()
            self._draw_texts()

    def _short(self, view: str) -> str:
        """The view's legend label, saying whether it is its own word or filled."""
        return self.theatre.view(view).short

    def _add(self, artist: Artist) -> None:
        self._dynamic.append(artist)

    def _patch(self, geoms: Sequence[shapely.Geometry], **style: Any) -> PathPatch:
        x0, y0, x1, y1 = self.bounds
        frame = shapely.box(x0, y0, x1, y1)
        clipped = shapely.intersection(
            shapely.simplify(np.asarray(geoms, dtype=object), self._tolerance), frame
        )
        patch = PathPatch(polygon_path(clipped), **style)
        self.ax.add_patch(patch)
        self._add(patch)
        return patch

    def _draw_ground(self) -> None:
        snap, lay = self.snap, self.layout
        handles: list[Artist] = []
        ground = to_draw_crs(self.layers["ground"])
        for i, view in enumerate(snap.views):
            whose = self.theatre.view(view)
            mine = ground[ground["view"] == view]
            for row in mine.itertuples(index=False):
                side = str(row.side)
                colour = SIDE_COLOURS[side]
                area = f"{float(row.area_km2):,.0f} km²"
                if i == 0:
                    style: dict[str, Any] = {
                        "facecolor": mpl.colors.to_rgba(colour, FILL_ALPHA),
                        "edgecolor": colour,
                        "linewidth": 0.8,
                        "linestyle": "--" if side == "contested" else "-",
                        "zorder": 3,
                    }
                    label = f"{capital(SIDE_LABELS[side])} {whose.in_view()}, {area}"
                    handle: Artist = Patch(**style)
                else:
                    style = {
                        "facecolor": "none",
                        "edgecolor": colour,
                        "linewidth": 1.6,
                        "linestyle": (0, (4, 2)) if i == 1 else (0, (1, 1.5)),
                        "zorder": 5,
                    }
                    label = f"{capital(SIDE_LABELS[side])} {whose.in_view('outline')}, {area}"
                    handle = Patch(**style)
                self._patch([row.geometry], **style)
                handle.set_label(label)
                handles.append(handle)
        diff = self.layers.get("disagreement")
        if diff is not None and len(diff):
            diff = to_draw_crs(diff)
            hatch: dict[str, Any] = {
                "facecolor": "none",
                "edgecolor": DISAGREEMENT_COLOUR,
                "hatch": "////",
                "linewidth": 0.0,
                "zorder": 4,
            }
            self._patch(list(diff.geometry), **hatch)
            total = float(diff["area_km2"].sum())
            handle = Patch(facecolor="none", edgecolor=DISAGREEMENT_COLOUR, hatch="////")
            handle.set_label(f"{snap.views[0]} and {snap.views[1]} disagree: {total:,.0f} km²")
            handles.append(handle)
        change = self.layers.get("change")
        if change is not None and len(change):
            change = to_draw_crs(change)
            for row in change.itertuples(index=False):
                lost = row.change == "lost"
                change_style: dict[str, Any] = {
                    "facecolor": "none",
                    "edgecolor": SIDE_COLOURS[str(row.side)],
                    "linewidth": 2.6,
                    "linestyle": (0, (5, 2.5)) if lost else "-",
                    "zorder": 7,
                }
                self._patch([row.geometry], **change_style)
                handle = Patch(**change_style)
                handle.set_label(
                    f"{str(row.side).replace('contested', 'Contested')} {row.change} "
                    f"since {snap.since}: {row.moves or f'{float(row.area_km2):,.0f} km²'}"
                )
                handles.append(handle)
        border = Line2D(
            [],
            [],
            color=OFFLINE_STYLE["border"],
            linewidth=1.6,
            linestyle=(0, (6, 2, 1.5, 2)),
            label="Russia–Ukraine border",
        )
        place = Line2D(
            [],
            [],
            marker="o",
            linestyle="none",
            markersize=4,
            color=OFFLINE_STYLE["place"],
            label="Settlement",
        )
        unverified = Line2D(
            [],
            [],
            marker="o",
            linestyle="none",
            markersize=5,
            markerfacecolor="white",
            markeredgecolor=OFFLINE_STYLE["place"],
            label="Position unverified (?)",
        )
        handles += [border, place, unverified]
        legend = self.ax.legend(
            handles=handles,
            loc="lower left",
            fontsize=lay.font * 0.68,
            framealpha=0.92,
            edgecolor="#999999",
            fancybox=False,
            handler_map={Patch: HandlerPatch()},
            borderpad=0.6,
            title="Areas: ground beyond each country's border",
            title_fontsize=lay.font * 0.68,
            alignment="left",
        )
        legend.set_zorder(30)
        self._add(legend)

    def _draw_places(self) -> None:
        snap, lay, ax = self.snap, self.layout, self.ax
        places = label_candidates(self.theatre, snap)
        self.labelled: list[str] = []
        if places.empty:
            return
        ver = places[places["verified"]]
        unv = places[~places["verified"]]
        dots = ax.scatter(
            ver["x"], ver["y"], s=(lay.font * 0.35) ** 2, c=OFFLINE_STYLE["place"], zorder=8, lw=0
        )
        hollow = ax.scatter(
            unv["x"],
            unv["y"],
            s=(lay.font * 0.45) ** 2,
            facecolors="white",
            edgecolors=OFFLINE_STYLE["place"],
            linewidths=0.8,
            zorder=8,
        )
        self._add(dots)
        self._add(hollow)
        fig_w_px = lay.width * snap.size.dpi
        map_w_px = lay.map_box[2] * fig_w_px
        map_h_px = lay.map_box[3] * lay.height * snap.size.dpi
        x0, y0, x1, _ = self.bounds
        px_per_m = map_w_px / (x1 - x0)
        size_pt = lay.font * 0.72
        char_px = size_pt * 0.6 * snap.size.dpi / 72
        line_px = size_pt * 1.3 * snap.size.dpi / 72
        budget = max(8, int(map_w_px * map_h_px / (snap.size.dpi**2) * 1.5))
        gap = lay.font * 0.5 * snap.size.dpi / 72
        names = [
            str(n) + ("" if v else " (?)")
            for n, v in zip(places["name"], places["verified"], strict=True)
        ]
        today = places["today"].to_numpy(dtype=bool)
        xs, ys = places["x"].to_numpy(dtype=float), places["y"].to_numpy(dtype=float)
        points = np.column_stack([(xs - x0) * px_per_m, (ys - y0) * px_per_m])
        widths = np.array([len(n) for n in names], dtype=float) * char_px * np.where(today, 1.1, 1)
        frame = (map_w_px, map_h_px)
        for i, k in place_labels(points, widths, line_px, gap, frame, budget):
            dx, dy, ha, va = OFFSETS[k]
            text = ax.annotate(
                names[i],
                (float(xs[i]), float(ys[i])),
                xytext=(dx * lay.font * 0.5, dy * lay.font * 0.5),
                textcoords="offset points",
                ha=ha,
                va=va,
                fontsize=size_pt,
                fontweight="bold" if today[i] else "normal",
                color=OFFLINE_STYLE["text"],
                zorder=9,
                bbox={"boxstyle": "round,pad=0.12", "fc": "white", "alpha": 0.7, "lw": 0},
            )
            self._add(text)
            self.labelled.append(str(places["place_id"].iloc[i]))

    def _draw_texts(self) -> None:
        fig, lay, snap, t = self.figure, self.layout, self.snap, self.theatre
        day = snap.day
        left = lay.map_box[0]
        title = fig.text(
            left,
            1 - 0.35 * (1 - lay.map_box[1] - lay.map_box[3]) / 2.6,
            title_of(snap),
            fontsize=lay.font * 1.55,
            fontweight="bold",
            color=OFFLINE_STYLE["text"],
            va="top",
        )
        subtitle = fig.text(
            left,
            lay.map_box[1] + lay.map_box[3] + 0.5 * lay.font / 72 / lay.height,
            "\n".join(wrap(_subtitle(t, snap), lay.width * lay.map_box[2], lay.font * 0.85)),
            fontsize=lay.font * 0.85,
            color=OFFLINE_STYLE["muted"],
            va="bottom",
            linespacing=1.3,
        )
        self._add(title)
        self._add(subtitle)
        stamp = self.ax.text(
            0.015,
            0.975,
            f"{day.day} {day:%b %Y}",
            transform=self.ax.transAxes,
            ha="left",
            va="top",
            fontsize=lay.font * 1.35,
            fontweight="bold",
            color="white",
            zorder=25,
            bbox={"boxstyle": "round,pad=0.35", "facecolor": "#222222", "alpha": 0.85, "lw": 0},
        )
        self._add(stamp)
        credit = self.basemap_note if self.tiles else ""
        text = source_line(t, snap, credit or None)
        if not self.tiles and self.basemap_note:
            text += f" Basemap: {self.basemap_note}."
        src = wrap(text, lay.width * lay.map_box[2], lay.font * 0.62)
        if snap.extent.note:
            src = (*src, f"Extent: {snap.extent.label}, {snap.extent.note}.")
        footer = fig.text(
            lay.map_box[0],
            lay.map_box[1] - 0.45 * lay.font / 72 / lay.height,
            "\n".join(src),
            fontsize=lay.font * 0.62,
            color=OFFLINE_STYLE["muted"],
            va="top",
            linespacing=1.35,
        )
        self._add(footer)
        stamp_text = fig.text(
            1 - lay.map_box[0],
            0.012 + 0.1 * lay.font / 72 / lay.height,
            stamp_line(t, snap),
            fontsize=lay.font * 0.62,
            color=OFFLINE_STYLE["text"],
            ha="right",
            va="bottom",
            family="DejaVu Sans Mono",
        )
        self._add(stamp_text)

    # -- output ------------------------------------------------------------------------
    def to_bytes(self, fmt: Format = "png") -> bytes:
        """The figure as PNG, SVG or PDF bytes (deterministic for the same request).

        Parameters
        ----------
        fmt : {"png", "svg", "pdf"}
            Output format.

        Returns
        -------
        bytes
            The file's content.

        Raises
        ------
        InputError
            For another format.
        """
        return _save(self.root, fmt, self.snap.size.dpi, title_of(self.snap))

    def to_rgb(self) -> np.ndarray:
        """The figure rasterised, ``uint8 [height, width, 3]``.

        Returns
        -------
        numpy.ndarray
            RGB pixels.
        """
        canvas = self.root.canvas
        with mpl.rc_context(RC):
            canvas.draw()
        rgba = np.asarray(canvas.buffer_rgba())  # type: ignore[attr-defined]
        return np.ascontiguousarray(rgba[:, :, :3])


def _save(fig: Figure, fmt: str, dpi: float, title: str) -> bytes:
    """A figure's bytes, without dates or versions in the metadata (reproducible)."""
    if fmt not in FORMATS:
        msg = f"bad figure format {fmt!r}: use one of {', '.join(FORMATS)}"
        raise InputError(msg)
    buf = io.BytesIO()
    metadata: dict[str, Any] = {
        "png": {"Software": None},
        "svg": {"Date": None, "Creator": None},
        "pdf": {"CreationDate": None, "Creator": None, "Producer": None},
    }[fmt]
    metadata["Title"] = title
    with mpl.rc_context(RC):
        fig.savefig(buf, format=fmt, dpi=dpi, metadata=metadata)
    return buf.getvalue()


def render(
    theatre: Theatre, snap: Snapshot, fmt: Format = "png", basemap: Basemap | str = "none"
) -> bytes:
    """Render a snapshot to PNG, SVG or PDF bytes.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    snap : Snapshot
        The request (see :func:`pipeline.snapshot.make_snapshot`).
    fmt : {"png", "svg", "pdf"}, default "png"
        Output format.
    basemap : Basemap or str, default "none"
        Tiles under the map (``auto`` fetches them when reachable).

    Returns
    -------
    bytes
        The figure.
    """
    return Canvas(theatre, snap, basemap).to_bytes(fmt)


def canvases(
    theatre: Theatre,
    snap: Snapshot,
    days: Sequence[Any],
    basemap: Basemap | str = "none",
    notes: list[str] | None = None,
) -> Iterator[Canvas]:
    """One canvas, redrawn for each date in turn: the static parts are drawn once.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    snap : Snapshot
        The request (its extent, size, views and ``since`` hold for every date).
    days : sequence of datetime.date
        The dates, in order.
    basemap : Basemap or str, default "none"
        Tiles under the map.
    notes : list of str, optional
        Receives the basemap's note (credit, or why the offline style was used).

    Yields
    ------
    Canvas
        The canvas, showing the next date (its ``snap`` is that date's request).
    """
    canvas: Canvas | None = None
    for day in days:
        frame = replace(snap, day=day)
        if canvas is None:
            canvas = Canvas(theatre, frame, basemap)
            if notes is not None and canvas.basemap_note:
                notes.append(canvas.basemap_note)
        else:
            canvas.set_date(frame)
        yield canvas


def frames(
    theatre: Theatre,
    snap: Snapshot,
    days: Sequence[Any],
    basemap: Basemap | str = "none",
    notes: list[str] | None = None,
) -> Iterator[np.ndarray]:
    """RGB frames of one request over several dates (see :func:`canvases`).

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    snap : Snapshot
        The request.
    days : sequence of datetime.date
        The dates, in order.
    basemap : Basemap or str, default "none"
        Tiles under the map.
    notes : list of str, optional
        Receives the basemap's note.

    Yields
    ------
    numpy.ndarray
        ``uint8 [height, width, 3]`` per date.
    """
    for canvas in canvases(theatre, snap, days, basemap, notes):
        yield canvas.to_rgb()


def compare_figure(
    theatre: Theatre,
    snap: Snapshot,
    fmt: Format = "png",
    basemap: Basemap | str = "none",
    notes: list[str] | None = None,
) -> bytes:
    """Two maps side by side: the first view on ``since`` and on the date (with change).

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    snap : Snapshot
        The request; ``since`` is the left-hand date.
    fmt : {"png", "svg", "pdf"}, default "png"
        Output format.
    basemap : Basemap or str, default "none"
        Tiles under the maps.
    notes : list of str, optional
        Receives each half's basemap note (credit, or why the offline style was used).

    Returns
    -------
    bytes
        The figure, the size of the request; each half is the figure of its date at
        half the width (as :func:`render` would draw it alone), vector in SVG and PDF.

    Raises
    ------
    InputError
        When ``since`` is not set.
    """
    if snap.since is None:
        msg = "a comparison needs an earlier date (since)"
        raise InputError(msg)
    half = Size(
        f"{snap.size.width // 2}x{snap.size.height}",
        snap.size.width // 2,
        snap.size.height,
        snap.size.dpi,
    )
    w, h = snap.size.inches
    with mpl.rc_context(RC):
        fig = Figure(figsize=(w, h), dpi=snap.size.dpi)
        fig.set_facecolor("white")
        FigureCanvasAgg(fig)
        halves = fig.subfigures(1, 2, wspace=0.0)
        left, right = np.asarray(halves, dtype=object).ravel()
        drawn = [
            Canvas(theatre, replace(snap, day=snap.since, since=None, size=half), basemap, left),
            Canvas(theatre, replace(snap, size=half), basemap, right),
        ]
    if notes is not None:
        notes.extend(c.basemap_note for c in drawn if c.basemap_note)
    return _save(
        fig, fmt, snap.size.dpi, f"{title_of(replace(snap, day=snap.since))} and {snap.day}"
    )


__all__ = [
    "FILL_ALPHA",
    "FORMATS",
    "LAND_COLOURS",
    "OFFLINE_STYLE",
    "Canvas",
    "Format",
    "canvases",
    "compare_figure",
    "frames",
    "render",
]

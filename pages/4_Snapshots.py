"""Snapshots: a citable figure, animation or data file of a map view, for a report.

A thin page over :mod:`pipeline.snapshot` and :mod:`pipeline.export`. It reads the map
page's query parameters (``date``, ``claimants``, ``compare``, ``map``), so a link from the
map opens the same view, and a pasted map-page URL does the same. Tiles come only from
the named providers: the server never fetches an address a visitor typed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qs, urlencode, urlsplit

import streamlit as st

from appdata import theatre
from pipeline import animate, export, extent, snapshot
from pipeline.basemap import PROVIDERS
from pipeline.build import Theatre
from pipeline.claims import parse_date
from pipeline.errors import FrontlineError, InputError
from pipeline.render import FORMATS
from pipeline.safetext import markdown_format
from pipeline.snapshot import Snapshot
from pipeline.viewstate import MAX_VIEWS, ViewState, state_from_params

st.set_page_config(page_title="Frontline — snapshots", layout="wide")
EXTENT_MODES = ("Kursk salient", "theatre", "named place", "bounding box", "map page permalink")
DEFAULT = ViewState(dt.date(2024, 8, 25), ("ua-gs", "ru-mod"))
ss = st.session_state
Options = tuple[str, bool, str | None]  # basemap, side by side, permalink


@st.cache_data(max_entries=32, show_spinner="Drawing ...")
def exported(
    _t: Theatre, _snap: Snapshot, key: str, fmt: str, days: tuple[dt.date, ...], opts: Options
) -> export.Export:
    """One export, cached on ``key`` (data fingerprint and request), format, dates, options."""
    basemap, side, link = opts
    return export.export_snapshot(
        _t, _snap, fmt, days=days or None, basemap=basemap, side_by_side=side, permalink=link
    )


def map_root() -> str:
    """The map page's address (absolute when the browser told us where it is)."""
    return (st.context.url or "").removesuffix("/").removesuffix("/Snapshots")


def apply_link(t: Theatre, params: Mapping[str, str | Sequence[str]]) -> None:
    """Set date, claimants and since from map-page query parameters, noting bad ones."""
    views = [*t.claimants, "consolidated"]
    first, last = t.date_range()
    first -= dt.timedelta(days=1)
    default = ViewState(
        min(max(DEFAULT.day, first), last),
        tuple(v for v in DEFAULT.views if v in views) or (views[0],),
    )
    state, notices = state_from_params(params, views, first, last, default)
    ss["date"], ss["claimants"] = state.day.isoformat(), list(state.views)
    ss["since"] = state.compare.isoformat() if state.compare else ""
    ss["snapshot_notices"] = notices


def on_permalink(t: Theatre) -> None:
    """A map-page URL was pasted: take its view and frame its map."""
    apply_link(t, parse_qs(urlsplit(ss["permalink"].strip()).query))


def init_state(t: Theatre) -> None:
    """Prefill the widgets from the page's own query parameters on first load."""
    if isinstance(ss.get("date"), str) and "claimants" in ss:
        return
    params = st.query_params.to_dict()
    apply_link(t, params)
    if "map" in params:
        ss["extent_mode"] = "map page permalink"
        ss["permalink"] = f"{map_root()}/?{urlencode(params, safe=',')}"


def sidebar(t: Theatre) -> None:
    """Draw the request's widgets; their values live in session state."""
    last = t.date_range()[1]
    st.text_input("Date (YYYY-MM-DD)", key="date")
    st.text_input("Change since (YYYY-MM-DD)", key="since", placeholder="optional")
    views = [*t.claimants, "consolidated"]
    st.multiselect("Claimants (first is filled)", views, key="claimants", max_selections=MAX_VIEWS)
    mode = st.selectbox("Extent", EXTENT_MODES, key="extent_mode")
    if mode == "named place":
        st.text_input("Place (+margin)", value="Sudzha+15km", key="place")
    elif mode == "bounding box":
        st.text_input("min_lon,min_lat,max_lon,max_lat", key="bbox", placeholder="35,51,35.6,51.4")
    elif mode == "map page permalink":
        st.text_input("Map page URL", key="permalink", on_change=on_permalink, args=(t,))
    if st.selectbox("Size", [*snapshot.SIZES, "custom"], index=1, key="size") == "custom":
        st.text_input("Width x height (pixels)", value="1600x1200", key="custom_size")
    if st.selectbox("Format", export.EXPORTS, key="format") in export.SERIES_FORMATS:
        st.text_input("Last date (YYYY-MM-DD)", value=last.isoformat(), key="to")
        st.text_input("Step", value="7d", key="step", help="days (7d) or weeks (2w)")
    st.checkbox("Side by side: since vs date", key="side_by_side")
    st.selectbox("Basemap", ["none", *PROVIDERS], key="basemap")
    st.text_input("Title", key="title", placeholder="default: the date in words")


def extent_spec() -> str:
    """The extent spelling the widgets ask for (see pipeline.extent.resolve_extent)."""
    mode = ss["extent_mode"]
    if mode in ("Kursk salient", "theatre"):
        return extent.DEFAULT_EXTENT if mode == "Kursk salient" else "theatre"
    if mode == "named place":
        return str(ss["place"])
    if mode == "bounding box":
        return str(ss["bbox"])
    link = parse_qs(urlsplit(str(ss["permalink"]).strip()).query)
    if "map" not in link:
        msg = f"map page permalink {ss['permalink']!r} has no map= parameter; pan the map first"
        raise InputError(msg)
    return "map=" + link["map"][0]


def request(t: Theatre) -> tuple[Snapshot, tuple[dt.date, ...]]:
    """The checked snapshot and the dates of a series (empty for one date)."""
    try:
        day = parse_date(ss["date"], "date")
        since = parse_date(ss["since"], "since date") if ss["since"].strip() else None
        to = parse_date(ss["to"], "last date") if ss["format"] in export.SERIES_FORMATS else None
    except ValueError as e:
        raise InputError(str(e)) from None
    if ss["side_by_side"] and (since is None or ss["format"] not in FORMATS):
        msg = "side by side needs a 'Change since' date and a PNG, SVG or PDF figure"
        raise InputError(msg)
    size = ss["custom_size"] if ss["size"] == "custom" else ss["size"]
    snap = snapshot.make_snapshot(t, day, ss["claimants"], since, extent_spec(), size, ss["title"])
    days = tuple(animate.series_days(day, to, animate.parse_step(ss["step"]))) if to else ()
    return snap, days


def show(t: Theatre, snap: Snapshot, days: tuple[dt.date, ...]) -> None:
    """Preview, download, citation, stamps and embed snippet of the request."""
    fmt, series = str(ss["format"]), bool(days)
    view = ViewState(snap.day, snap.views, snap.since).to_params()
    if snap.extent.label.startswith("map="):  # framed on the map page's view: keep it
        view["map"] = snap.extent.label.removeprefix("map=")
    st.query_params.from_dict(view)
    permalink = f"{map_root()}/?{urlencode(view, safe=',')}"
    key = f"{t.fingerprint}|{snap!r}"
    args: Options = (ss["basemap"], bool(ss["side_by_side"]), permalink)
    png = exported(t, snap, key, "png", (), args)
    note = t.after_last(snap.day)
    if note is not None:
        st.info(markdown_format("{}: the figure shows the state the last claims left.", note))
    title = snapshot.title_of(snap)
    alt, size = f"{title}: {', '.join(snap.views)}", f"{snap.size.width}×{snap.size.height} px"
    out = png if fmt == "png" else None
    if series and st.button(f"Make it ({len(days)} dates)", key="make", type="primary"):
        ss["made"] = (key, fmt, days)
    if (not series and out is None) or ss.get("made") == (key, fmt, days):
        out = exported(t, snap, key, fmt, days, args)
    if fmt == "gif" and out is not None:
        st.image(out.data, caption=f"GIF, {len(days)} dates", alt=alt)
    else:
        what = "figure" if fmt == "png" else f"preview (PNG) of the {fmt.upper()}"
        st.image(png.data, caption=f"{what}, {snap.size.name} ({size})", alt=alt)
    if out is None:
        st.info(
            markdown_format(
                "{} dates, {} to {}: press “Make it” to generate it.", len(days), days[0], days[-1]
            )
        )
    else:
        if fmt == "mp4":
            st.video(out.data)
        name = export.file_name(snap, fmt, days)
        dates = f", {len(days)} dates" if series else ""
        st.caption(markdown_format("{}: {} KB{}", name, f"{len(out.data) / 1024:,.0f}", dates))
        st.download_button(
            f"Download {fmt.upper()}", out.data, name, out.mime, key="download", on_click="ignore"
        )
        for note in out.notes:
            st.caption(markdown_format("{}", note))
    drawn = (out or png).snap or snap  # as drawn: its figure id covers the basemap
    cite = snapshot.citation(t, drawn, permalink)
    st.markdown("**Cite as**")
    st.code(cite, language=None, wrap_lines=True)
    st.caption(markdown_format("{}", snapshot.stamp_line(t, drawn)))
    st.markdown("**Embed**")
    st.code(
        export.embed_snippet(export.file_name(snap, fmt, days), fmt, title, cite),
        "html",
        wrap_lines=True,
    )


def main() -> None:
    """Draw the snapshots page."""
    try:
        t = theatre()
    except FrontlineError as e:
        st.error(markdown_format("The theatre's data could not be loaded: {}", e))
        st.stop()
    init_state(t)
    st.title("Snapshots")
    st.caption(
        "A citable figure of a map view for a report: PNG, SVG or PDF, an offline HTML map, "
        "the drawn layers as GeoJSON or GeoPackage, or a GIF, MP4 or zip over dates."
    )
    for notice in ss.get("snapshot_notices", []):
        st.warning(markdown_format("Permalink: {}", notice))
    with st.sidebar:
        sidebar(t)
    try:
        snap, days = request(t)
        show(t, snap, days)
    except FrontlineError as e:
        st.error(markdown_format("{}", e))


main()

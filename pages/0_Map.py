"""Frontline map page: what each claimant says is held on a date, where they disagree, and why.

*Map* in the navigation, the app's first page (``/``). A thin shell over ``pipeline``:
every computation happens there. The view lives in the URL
(``?date=2024-08-25&claimants=ua-gs,ru-mod&compare=2024-08-10``).
"""

from __future__ import annotations

import copy
import datetime as dt
import time
from typing import Any

import altair as alt
import folium
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from appdata import theatre
from pipeline import settings
from pipeline.build import Theatre
from pipeline.claims import key_events
from pipeline.errors import FrontlineError, InputError
from pipeline.extent import extent_from_permalink
from pipeline.safetext import markdown_format
from pipeline.timeline import area_chart_frame, side_areas
from pipeline.viewstate import MAX_VIEWS, ViewState, date_from_map, state_from_params
from pipeline.webmap import base_map, ground_layer, publish_json, write_static_layers

FOCUS = "RU-KRS"
# Claimants keep one colour in every chart; the sides' colours stay for the map.
VIEW_COLOURS = {
    "ua-gs": "#e6a100",
    "ru-mod": "#6b2d5c",
    "deepstate": "#2a9d8f",
    "isw": "#264653",
    "consolidated": "#000000",
}
UPLOAD_COLOURS = ["#d62728", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"]
DEFAULT = ViewState(dt.date(2024, 8, 25), ("ua-gs", "ru-mod"))
# "UA change" without a chosen date compares with the ground a week earlier (the last
# change date would give 0 on every date that is not itself a change date).
CHANGE_SINCE_DEFAULT = dt.timedelta(days=7)

st.set_page_config(page_title="Frontline", layout="wide")


def view_scale(views: list[str]) -> alt.Scale:
    """One colour per view, the embedded claimants' fixed, uploaded ones from a palette."""
    extra = [v for v in views if v not in VIEW_COLOURS]
    colours = {**VIEW_COLOURS}
    for i, view in enumerate(extra):
        colours[view] = UPLOAD_COLOURS[i % len(UPLOAD_COLOURS)]
    return alt.Scale(domain=list(colours), range=list(colours.values()))


@st.cache_resource
def cached_base_map(_t: Theatre, fingerprint: str, playback: str) -> folium.Map:
    """The date-independent map, built once per primary view (its ids never change).

    Its layers and playback data are static files the browser fetches once, so the map
    script re-sent on every rerun stays a few kilobytes.
    """
    url = write_static_layers(_t, settings.ROOT / "static", [playback], within=FOCUS)
    return base_map(_t, FOCUS, playback=playback, static_url=url)


def _containers(fmap: folium.Map) -> dict[str, Any]:
    root: Any = fmap.get_root()
    return {"map": fmap, "header": root.header, "html": root.html, "script": root.script}


def session_base_map(t: Theatre, playback: str) -> folium.Map:
    """Return the session's copy of the base map, minus what earlier reruns attached.

    st_folium attaches the ground layer to the map it is given and renders it into the
    map's root figure; a per-session copy pruned back to its built state keeps the map's
    script identical across reruns, so only the ground layer is sent on a date change.
    """
    if st.session_state.get("base_map_view") != playback:
        copied = copy.deepcopy(cached_base_map(t, t.fingerprint, playback))
        st.session_state["base_map_view"] = playback
        st.session_state["base_map"] = copied
        st.session_state["base_map_keys"] = {
            name: set(box._children) for name, box in _containers(copied).items()
        }
    fmap: folium.Map = st.session_state["base_map"]
    keys = st.session_state["base_map_keys"]
    for name, box in _containers(fmap).items():
        for extra in [k for k in box._children if k not in keys[name]]:
            del box._children[extra]
    return fmap


def _init_state(t: Theatre, views: list[str]) -> None:
    if "views" in st.session_state:
        return
    first, last = t.date_range()
    # The default view, fitted to this theatre's timeline and claimants.
    default = ViewState(
        min(max(DEFAULT.day, first - dt.timedelta(days=1)), last),
        tuple(v for v in DEFAULT.views if v in views) or (views[0],),
    )
    state, notices = state_from_params(
        st.query_params.to_dict(), views, first - dt.timedelta(days=1), last, default
    )
    raw_map = st.query_params.get("map")
    if raw_map is not None:
        try:
            extent_from_permalink(raw_map)
        except InputError as e:
            notices.append(f"{e}; ignored")
    st.session_state["views"] = list(state.views)
    st.session_state["date"] = state.day
    st.session_state["compare"] = state.compare
    st.session_state["notices"] = notices
    # A notice speaks of the link as opened: it goes once the analyst changes the view.
    st.session_state["notices_for"] = state


def _good_map(raw: str | None) -> bool:
    """Whether the address's ``map=`` is a view to keep (a bad one is dropped)."""
    if raw is None:
        return False
    try:
        extent_from_permalink(raw)
    except InputError:
        return False
    return True


def _map_date() -> None:
    """The map's timeline was still on a date: the page shows it (set before the slider)."""
    value = st.session_state.get("map")
    if not isinstance(value, dict) or "frontline_date" not in value:
        return
    first, last = theatre().date_range()
    try:
        st.session_state["date"] = date_from_map(
            value["frontline_date"], first - dt.timedelta(days=1), last
        )
        st.session_state.pop("map_notice", None)
    except ValueError as e:
        st.session_state["map_notice"] = str(e)


def _step(dates: list[dt.date], direction: int) -> None:
    day = st.session_state["date"]
    later = [d for d in dates if d > day]
    earlier = [d for d in dates if d < day]
    if direction > 0 and later:
        st.session_state["date"] = later[0]
    if direction < 0 and earlier:
        st.session_state["date"] = earlier[-1]


def _figures(t: Theatre, views: list[str], day: dt.date, compare: dt.date | None) -> None:
    rows: list[dict[str, Any]] = []
    for view in views:
        table = t.table(view)
        areas = side_areas(table, t.cells, day, within=FOCUS)
        since = compare or day - CHANGE_SINCE_DEFAULT
        before = side_areas(table, t.cells, since, within=FOCUS)
        rows.append(
            {
                "view": view,
                "built": table.view.description,
                "UA km²": round(areas["UA"]),
                "contested km²": round(areas["contested"]),
                "inferred UA km²": round(areas["UA inferred"]),
                "UA mi²": round(areas["UA"] * settings.SQ_MILES_PER_KM2),
                "since": since.isoformat(),
                "UA change km²": round(areas["UA"] - before["UA"]),
            }
        )
    st.markdown("**Kursk Oblast: ground each view gives to Ukraine**")
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="figures")
    cols = st.columns(len(views))
    for col, row in zip(cols, rows, strict=True):
        held = row["UA km²"] + row["contested km²"]
        col.metric(markdown_format("{}: Ukrainian-held or contested", row["view"]), f"{held:,} km²")
    if len(views) >= 2:
        diff = t.disagreement(views[0], views[1], day)
        total = float(diff["area_km2"].sum()) if len(diff) else 0.0
        st.caption(
            markdown_format(
                "{} and {} disagree on {} km² of the theatre (purple hatching on the map).",
                views[0],
                views[1],
                f"{total:,.0f}",
            )
        )
    if compare is not None:
        change = t.change(views[0], compare, day, within=FOCUS)
        ua = change[change["side"] == "UA"].set_index("change")["area_km2"]
        st.caption(
            markdown_format(
                "{}, {} → {}: Ukraine gained {} km² and lost {} km².",
                views[0],
                compare,
                day,
                f"{ua['gained']:,.0f}",
                f"{ua['lost']:,.0f}",
            )
        )


@st.cache_resource
def chart_spec(_t: Theatre, fingerprint: str, views: tuple[str, ...]) -> dict[str, Any]:
    """Vega-Lite spec of the area chart for these views, built and validated once."""
    series = area_chart_frame([_t.table(v) for v in views], _t.cells, within=FOCUS)
    figures = _t.claims[
        (_t.claims["kind"] == "area")
        & (_t.claims["place_id"] == FOCUS)
        & (_t.claims["side"] == "UA")
        & _t.claims["area_km2"].notna()
    ][["claimant", "date", "area_km2", "settlements", "publisher"]].assign(
        date=lambda d: d["date"].astype(str)
    )
    events = key_events(_t.claims, _t.data_dir)[["date", "label", "publisher"]].assign(
        date=lambda d: d["date"].astype(str)
    )
    # The chart's data are static files the browser fetches once; the spec re-sent on
    # every date change is then a few hundred bytes.
    url = {
        name: publish_json(
            settings.ROOT / "static",
            _t.fingerprint,
            f"chart-{name}-{'+'.join(views)}",
            frame.astype(object).where(frame.notna(), None).to_dict(orient="records"),
        )
        for name, frame in (("series", series), ("figures", figures), ("events", events))
    }
    lines = (
        alt.Chart(alt.UrlData(url["series"]))
        .mark_line(interpolate="step-after")
        .encode(
            x=alt.X("date:T", title=None),
            y=alt.Y("area_km2:Q", title="km² of Kursk Oblast"),
            color=alt.Color("view:N", title="view", scale=view_scale([*_t.claimants, *views])),
            strokeDash=alt.StrokeDash("measure:N", title=None),
            tooltip=["view:N", "measure:N", "date:T", "area_km2:Q"],
        )
    )
    claimed = (
        alt.Chart(alt.UrlData(url["figures"]))
        .mark_point(shape="diamond", size=70, filled=True)
        .encode(
            x="date:T",
            y="area_km2:Q",
            color=alt.Color("claimant:N", title="view", scale=view_scale([*_t.claimants])),
            tooltip=["claimant:N", "date:T", "area_km2:Q", "settlements:Q", "publisher:N"],
        )
    )
    marks = (
        alt.Chart(alt.UrlData(url["events"]))
        .mark_rule(color="#999999", strokeDash=[2, 3])
        .encode(x="date:T", tooltip=["date:T", "label:N", "publisher:N"])
    )
    spec: dict[str, Any] = (lines + claimed + marks).to_dict()
    return spec


def _area_chart(t: Theatre, views: list[str], day: dt.date) -> None:
    spec = dict(chart_spec(t, t.fingerprint, tuple(views)))
    now = {
        "data": {"values": [{"date": day.isoformat()}]},
        "mark": {"type": "rule", "color": "black"},
        "encoding": {"x": {"field": "date", "type": "temporal"}},
    }
    spec["layer"] = [*spec["layer"], now]
    st.markdown(
        "**Area over time** (lines: mapped from settlement cells; diamonds: area figures "
        "the claimants published; dotted rules: key events; black rule: the date shown)"
    )
    st.vega_lite_chart(spec, width="stretch")


def _claims_of_day(t: Theatre, day: dt.date) -> None:
    ledger = t.claims
    today = ledger[ledger["date"] == day]
    st.markdown(markdown_format("**Claims dated {}** ({})", day, len(today)))
    if len(today):
        st.dataframe(
            today[["claimant", "kind", "place", "side", "publisher", "title", "url", "confidence"]],
            hide_index=True,
            column_config={"url": st.column_config.LinkColumn("source")},
            key="claims_of_day",
        )


def main() -> None:
    """Draw the map page."""
    started = time.perf_counter()
    try:
        t = theatre()
    except FrontlineError as e:
        st.error(markdown_format("The theatre's data could not be loaded: {}", e))
        st.stop()
    views = [
        *t.claimants,
        *(f"own:{c}" for c in t.claimants if c not in t.private),
        "consolidated",
    ]
    first, last = t.date_range()
    _init_state(t, views)
    st.title("Frontline: the Kursk incursion, claim by claim")
    shown_state = ViewState(
        st.session_state["date"], tuple(st.session_state["views"]), st.session_state["compare"]
    )
    if st.session_state.get("notices_for") == shown_state:
        for notice in st.session_state.get("notices", []):
            st.warning(markdown_format("Permalink: {}", notice))
    if "map_notice" in st.session_state:
        st.warning(
            markdown_format(
                "Map timeline: {}; the date is unchanged.", st.session_state.pop("map_notice")
            )
        )
    with st.sidebar:
        st.multiselect("Whose map (first is filled)", views, key="views", max_selections=MAX_VIEWS)
        st.slider(
            "Date",
            min_value=first - dt.timedelta(days=1),
            max_value=last,
            format="YYYY-MM-DD",
            key="date",
        )
        chosen = st.session_state["views"] or [DEFAULT.views[0]]
        dates = sorted(set().union(*(t.table(v).dates for v in chosen)))
        st.button(
            "◀ previous change", on_click=_step, args=(dates, -1), key="prev", width="stretch"
        )
        st.button("next change ▶", on_click=_step, args=(dates, 1), key="next", width="stretch")
        st.date_input(
            "Show change since", value=None, min_value=first, max_value=last, key="compare"
        )
    day: dt.date = st.session_state["date"]
    compare: dt.date | None = st.session_state["compare"]
    if compare is not None and compare > day:
        st.warning(markdown_format("Change since {} is after {}: ignored.", compare, day))
        compare = None
    params = ViewState(day, tuple(chosen), compare).to_params()
    if _good_map(st.query_params.get("map")):
        params["map"] = st.query_params["map"]  # the map's own view, kept by the browser
    st.query_params.from_dict(params)
    _figures(t, chosen, day, compare)
    st_folium(
        session_base_map(t, chosen[0]),
        feature_group_to_add=ground_layer(t, chosen, day, since=compare),
        height=560,
        use_container_width=True,
        returned_objects=[],
        key="map",
        on_change=_map_date,
    )
    st.caption(
        markdown_format(
            "Filled: the first view's ground beyond the border (blue Ukraine, red Russia, "
            "grey dashed contested, light blue or pink: inferred, i.e. ground no claimant of "
            "the view named but enclosed by one side's held settlements); outlines: the other "
            "views; purple hatching: where the first two views disagree; thick outlines: ground "
            "gained (solid) or lost (dashed) since the chosen date. A claimant's view is its "
            "word with its silence filled from the other claimants ('filled'); 'own:' views "
            "are its word only. Click a settlement for the claims behind it. Ground is the "
            "union of settlement cells (Voronoi, uncapped within {} km of a named settlement, "
            "elsewhere at most {} km from the settlement). "
            "Hollow dots with a dashed ring are unverified positions. "
            "Settlements: GeoNames (CC BY 4.0), Who's On First (CC0/CC BY) and cited sources; "
            "borders and districts: © OpenStreetMap contributors (ODbL) and Natural Earth.",
            f"{settings.FRONT_ZONE_M / 1000:g}",
            f"{settings.CELL_MAX_RADIUS_M / 1000:g}",
        )
    )
    st.page_link(  # pan and zoom reach the Snapshots page only through a pasted map URL
        "pages/4_Snapshots.py",
        label="Snapshot this view for a report (PNG, SVG, PDF, GIF …)",
        icon="📷",
        query_params={k: v for k, v in params.items() if k != "map"},
    )
    _area_chart(t, chosen, day)
    _claims_of_day(t, day)
    ms = (time.perf_counter() - started) * 1000
    runs = st.session_state["runs"] = st.session_state.get("runs", 0) + 1
    st.caption(
        markdown_format("Page computed in {} ms (run {} of this session).", f"{ms:.0f}", runs)
    )


main()

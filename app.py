"""Frontline map page: the claimed control area of a view on a date, with its figures.

A thin shell over ``pipeline``: every computation happens there.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st
from streamlit_folium import st_folium

from pipeline import settings
from pipeline.build import Theatre, load_theatre
from pipeline.timeline import side_areas
from pipeline.webmap import SIDE_LABELS, map_of_view

st.set_page_config(page_title="Frontline", layout="wide")


@st.cache_resource(show_spinner="Building the theatre ...")
def theatre() -> Theatre:
    """Load the embedded theatre once per server process."""
    return load_theatre(settings.DATA_DIR)


def main() -> None:
    """Draw the map page."""
    t = theatre()
    first, last = t.date_range()
    st.title("Frontline: the Kursk incursion, claim by claim")
    views = [*t.claimants, "consolidated"]
    view = st.sidebar.selectbox("Whose map", views, index=views.index("ua-gs"), key="view")
    day = st.sidebar.slider(
        "Date",
        min_value=first - dt.timedelta(days=1),
        max_value=last,
        value=dt.date(2024, 8, 25),
        format="YYYY-MM-DD",
        key="date",
    )
    areas = side_areas(t.table(view), t.cells, day, within="RU-KRS")
    cols = st.columns(3)
    for col, (side, km2) in zip(cols, areas.items(), strict=True):
        col.metric(
            f"Kursk Oblast, {SIDE_LABELS[side]}",
            f"{km2:,.0f} km²",
            help=f"{km2 * settings.SQ_MILES_PER_KM2:,.0f} square miles",
        )
    st_folium(
        map_of_view(t, view, day),
        height=560,
        use_container_width=True,
        returned_objects=[],
        key="map",
    )
    st.caption(
        "Ground is the union of settlement cells (Voronoi, at most "
        f"{settings.CELL_MAX_RADIUS_M / 1000:g} km from the settlement) whose settlement the "
        "view gives to a side. Settlements: GeoNames (CC BY 4.0) and curated sources; "
        "borders: OpenStreetMap (ODbL) and Natural Earth. Hollow dots are unverified positions."
    )


main()

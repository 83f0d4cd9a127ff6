"""Frontline's entry point (``streamlit run app.py``): the navigation between its pages.

Each page is a thin script in ``pages/``; this file only names them, so the navigation
reads *Map* (the first page, at ``/``), *Claims & sources*, *Gazetteer*, *Upload* and
*Snapshots*, and each page keeps its address (``/Upload``, ``/Snapshots?date=…``).
"""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Frontline", layout="wide")

PAGES = [
    st.Page("pages/0_Map.py", title="Map", default=True),
    st.Page(
        "pages/1_Claims_and_sources.py", title="Claims & sources", url_path="Claims_and_sources"
    ),
    st.Page("pages/2_Gazetteer.py", title="Gazetteer", url_path="Gazetteer"),
    st.Page("pages/3_Upload.py", title="Upload", url_path="Upload"),
    st.Page("pages/4_Snapshots.py", title="Snapshots", url_path="Snapshots"),
]

st.navigation(PAGES).run()

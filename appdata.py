"""What the app's pages share: the theatre, loaded once per server process.

Every page (``app.py`` and ``pages/``) takes its theatre from here, so one server holds
one copy of the derived data, and the map, the upload preview and the snapshots always
show the same uploads. Only this module and the pages import streamlit; ``pipeline/``
never does.
"""

from __future__ import annotations

import streamlit as st

from pipeline import assets, ingest, settings
from pipeline.build import Theatre, load_theatre
from pipeline.store import open_store


@st.cache_resource(show_spinner="Building the theatre ...")
def base_theatre() -> Theatre:
    """The theatre from claims alone, once per server process; installs Leaflet locally."""
    assets.install_static(settings.ROOT / "static")
    return load_theatre(settings.DATA_DIR)


@st.cache_resource(max_entries=4, show_spinner="Applying uploaded maps ...")
def uploaded_theatre(_base: Theatre, base_fp: str, store_fp: str) -> Theatre:
    """The theatre with the store's uploads, once per store state."""
    return ingest.stored_theatre(_base, open_store())


def theatre() -> Theatre:
    """The theatre the map shows: claims, plus uploaded maps when a store exists."""
    base = base_theatre()
    store_fp = ingest.store_fingerprint()
    return base if store_fp is None else uploaded_theatre(base, base.fingerprint, store_fp)

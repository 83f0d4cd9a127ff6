"""Claims & sources: the ledger, filtered, with conflicts highlighted and a safe CSV export."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from appdata import base_theatre
from pipeline import settings
from pipeline.build import Theatre
from pipeline.ledger import claims_to_csv, filter_claims, with_conflicts
from pipeline.safetext import markdown_format

st.set_page_config(page_title="Frontline — claims & sources", layout="wide")


@st.cache_resource
def ledger_with_conflicts(_t: Theatre, fingerprint: str) -> pd.DataFrame:
    """The ledger with each claim's conflicting claims, computed once."""
    return with_conflicts(_t.claims)


t = base_theatre()
first, last = t.date_range()
st.title("Claims & sources")
st.caption(
    "Every claim in the ledger, with its publisher, page and confidence. A claim conflicts "
    "with another when both speak of the same settlement at the same time, from different "
    "claimants, for different sides."
)
with st.sidebar:
    claimants = st.multiselect("Claimant", list(t.claimants), key="claimants")
    place = st.text_input("Place (any spelling)", key="place")
    sides = st.multiselect("Side", list(settings.SIDES), key="sides")
    span = st.slider(
        "Dates",
        min_value=first,
        max_value=last,
        value=(first, last),
        format="YYYY-MM-DD",
        key="span",
    )
    only_conflicts = st.checkbox("Only conflicting claims", key="only_conflicts")
ledger = ledger_with_conflicts(t, t.fingerprint)
start, end = span if isinstance(span, tuple) else (first, last)
rows = filter_claims(ledger, t.gazetteer, claimants, place, sides, start, end)
if only_conflicts:
    rows = rows[rows["conflict_with"] != ""]
if place.strip() and rows.empty:
    st.info(markdown_format("No claim about “{}” matches these filters.", place))
n_conflicts = int((rows["conflict_with"] != "").sum())
st.markdown(
    markdown_format(
        "**{} claims**, {} in conflict with another claimant's.", len(rows), n_conflicts
    )
)
view = rows[
    [
        "date",
        "claimant",
        "kind",
        "place",
        "side",
        "confidence",
        "conflict_with",
        "publisher",
        "title",
        "url",
        "paraphrase",
        "claim_id",
    ]
]
st.dataframe(
    view.style.apply(
        lambda r: ["background-color: #fde2e1" if r["conflict_with"] else "" for _ in r],
        axis=1,
    ),
    hide_index=True,
    column_config={
        "url": st.column_config.LinkColumn("source"),
        "date": st.column_config.DateColumn("date", format="YYYY-MM-DD"),
    },
    key="ledger",
)
st.download_button(
    "Download these claims (CSV)",
    data=claims_to_csv(rows),
    file_name=f"frontline-claims-{dt.date.today().isoformat()}.csv",
    mime="text/csv",
    key="download",
)

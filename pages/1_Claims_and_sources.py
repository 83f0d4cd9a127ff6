"""Claims & sources: the ledger, filtered, with conflicts split by a window; safe CSV export."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from appdata import base_theatre
from pipeline import settings
from pipeline.build import Theatre
from pipeline.ledger import (
    CONFLICT_WINDOW_DAYS,
    claims_to_csv,
    conflicts,
    conflicts_involving,
    filter_claims,
    with_conflicts,
)
from pipeline.safetext import markdown_format

st.set_page_config(page_title="Frontline — claims & sources", layout="wide")

PAIR_COLUMNS = [
    "from",
    "gap_days",
    "place",
    "claimant_a",
    "side_a",
    "claim_a",
    "claimant_b",
    "side_b",
    "claim_b",
    "to",
]


@st.cache_resource
def ledger_with_conflicts(_t: Theatre, fingerprint: str) -> pd.DataFrame:
    """The ledger with each claim's conflicting claims, computed once."""
    return with_conflicts(_t.claims)


@st.cache_resource(max_entries=8)
def conflicting_pairs(_t: Theatre, fingerprint: str, window_days: int) -> pd.DataFrame:
    """The ledger's conflicting pairs, each with its kind at this window, named places."""
    pairs = conflicts(_t.claims, window_days)
    names = _t.places.set_index("place_id")["name"]
    return pairs.assign(place=pairs["place_id"].map(names).fillna(pairs["place_id"]))


def show_pairs(pairs: pd.DataFrame, key: str) -> None:
    """One section's table of pairs."""
    st.dataframe(
        pairs[PAIR_COLUMNS],
        hide_index=True,
        column_config={
            "from": st.column_config.DateColumn("from", format="YYYY-MM-DD"),
            "to": st.column_config.DateColumn("to", format="YYYY-MM-DD"),
            "gap_days": st.column_config.NumberColumn("days apart"),
        },
        key=key,
    )


t = base_theatre()
first, last = t.date_range()
st.title("Claims & sources")
st.caption(
    "Every claim in the ledger, with its publisher, page and confidence. A claim is "
    "highlighted when it conflicts with another claimant's: both speak of the same "
    "settlement, give it to different sides, and both stand (a claim stands until its "
    "claimant's next claim about that settlement). Below the table, the conflicting pairs "
    "are split by how many days apart the two claims are dated."
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
window = int(
    st.number_input(
        "Conflict window (days)",
        min_value=1,
        max_value=90,
        value=CONFLICT_WINDOW_DAYS,
        step=1,
        key="window",
    )
)
days = "day" if window == 1 else "days"
pairs = conflicts_involving(conflicting_pairs(t, t.fingerprint, window), rows["claim_id"])
st.caption(
    markdown_format(
        "The conflicting pairs with at least one of the claims above. A pair whose two claims "
        "are dated at most {} {} apart is a disagreement: the claimants said different things "
        "within that time. A pair dated more than {} {} apart is a reversal: the later claim "
        "gives the settlement to another side, and the earlier claimant had made no newer "
        "claim about it by then.",
        window,
        days,
        window,
        days,
    )
)
disagreements = pairs[pairs["kind"] == "disagreement"]
reversals = pairs[pairs["kind"] == "reversal"]
st.subheader(markdown_format("Disagreements (opposite sides within {} {})", window, days))
st.metric("Disagreements", len(disagreements))
show_pairs(disagreements, key="disagreements")
st.subheader(markdown_format("Reversals (more than {} {} apart)", window, days))
st.metric("Reversals", len(reversals))
show_pairs(reversals, key="reversals")

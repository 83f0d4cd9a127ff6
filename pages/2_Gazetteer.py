"""Gazetteer: find a place in any spelling; see unlocated and unverified villages."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from appdata import base_theatre
from pipeline.safetext import markdown_format

st.set_page_config(page_title="Frontline — gazetteer", layout="wide")


t = base_theatre()
st.title("Gazetteer")
query = st.text_input(
    "Search a place in any spelling",
    key="query",
    placeholder="Gornal, Горналь, Hornal, the village of Gornal, Popovka, Belgorod region",
)
places = t.places.set_index("place_id")
if query.strip():
    res = t.gazetteer.resolve(query)
    if not res.candidates:
        st.warning(
            markdown_format(
                "No place matches “{}”. Closest: {}",
                query,
                ", ".join(t.gazetteer.suggest(res.parsed.name or query)),
            )
        )
    else:
        if res.ambiguous:
            st.warning(
                markdown_format(
                    "“{}” is ambiguous: {} places tie. Add a region, e.g. "
                    "'Popovka, Belgorod region'.",
                    query,
                    len(res.candidates),
                )
            )
        rows = []
        for rank, c in enumerate(res.candidates[:15], start=1):
            info = places.loc[c.place_id] if c.place_id in places.index else None
            rows.append(
                {
                    "rank": rank,
                    "name": c.name,
                    "place_id": c.place_id,
                    "kind": c.kind,
                    "region": c.region_id,
                    "score": c.score,
                    "matched": c.matched,
                    "located": None if info is None else bool(info["located"]),
                    "verified": None if info is None else bool(info["verified"]),
                    "precision_m": None if info is None else info["precision_m"],
                    "source": t.regions.set_index("region_id").loc[c.region_id, "source"]
                    if info is None
                    else info["source"],
                }
            )
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="candidates")
st.subheader("Unlocated villages")
st.caption(
    "Named in claims or sources, but no source we could read gives their position: "
    "their claims are listed, never drawn."
)
unlocated = t.places[~t.places["located"]]
st.dataframe(
    unlocated[["name", "place_id", "region_id", "source", "note"]], hide_index=True, key="unlocated"
)
st.subheader("Unverified positions")
st.caption(
    "Derived from a source's distance and direction; drawn hollow with their precision ring."
)
unverified = t.places[t.places["located"] & ~t.places["verified"]]
st.dataframe(
    unverified[["name", "place_id", "region_id", "precision_m", "source", "note"]],
    hide_index=True,
    key="unverified",
)

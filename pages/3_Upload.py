"""Upload: preview a control map over the current map, see what changes, commit, revert."""

from __future__ import annotations

import datetime as dt
from urllib.parse import unquote

import pandas as pd
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile
from streamlit_folium import st_folium

from appdata import base_theatre, uploaded_theatre
from pipeline import ingest, settings
from pipeline.build import Theatre
from pipeline.claims import Claimant, parse_date
from pipeline.errors import FrontlineError, InputError
from pipeline.safetext import markdown_format
from pipeline.store import GeoPackageStore, content_hash, open_store
from pipeline.upload_read import FORMATS, MAX_BYTES
from pipeline.webmap import map_of_view, upload_layer

st.set_page_config(page_title="Frontline — upload", layout="wide")
NEW = "new claimant …"


def _mapping(t: Theatre) -> tuple[ingest.Mapping, Claimant | None]:
    left, right = st.columns(2)
    with left:
        choice = st.selectbox("Whose map", [*t.claimants, NEW], key="claimant")
        claimant = None
        if choice == NEW:
            choice = st.text_input("New claimant id", key="new_id", placeholder="my-team")
            name = st.text_input("Full name", key="new_name")
            affiliation = st.selectbox(
                "Affiliation", ingest.AFFILIATIONS, index=2, key="new_affiliation"
            )
            claimant = ingest.new_claimant(choice, name, affiliation, st.session_state["licence"])
        by_attr = st.radio("Date", ["one date", "from an attribute"], key="date_mode")
        text = st.text_input(
            "Date of the map (YYYY-MM-DD)",
            value=t.date_range()[1].isoformat(),
            key="date",
            disabled=by_attr != "one date",
        )
        date_field = st.text_input("Date attribute", key="date_field")
        st.radio(
            "Mode",
            ingest.MODES,
            key="mode",
            help="snapshot: the claimant's complete map on that date; patch: ground that "
            "changed hands that day",
        )
    with right:
        side_mode = st.radio("Side", ["from an attribute", "one side"], key="side_mode")
        side = st.selectbox("Side of every feature", settings.SIDES, key="side")
        side_field = st.text_input("Side attribute", value="name", key="side_field")
        patterns = st.text_area(
            "Patterns (PATTERN=SIDE per line; case-insensitive substring, first match wins)",
            value="Liberated=UA\nOccupied=RU",
            key="patterns",
        )
        clip = st.checkbox("Clip to the theatre", value=True, key="clip")
        accept = st.checkbox("Accept geometry repairs that change area", key="accept_repairs")
    one_date = by_attr == "one date"
    try:
        date = parse_date(text, "date of the map") if one_date else None
    except ValueError as e:
        raise InputError(str(e)) from None
    mapping = ingest.Mapping(
        claimant=choice,
        date=date,
        date_field=None if one_date else date_field.strip(),
        side=side if side_mode == "one side" else None,
        side_field=side_field.strip() if side_mode != "one side" else None,
        patterns=ingest.parse_patterns([p for p in patterns.splitlines() if p.strip()])
        if side_mode != "one side"
        else (),
        mode=st.session_state["mode"],
        clip=clip,
        accept_repairs=accept,
    )
    return mapping, claimant


def _preview(base: Theatre, before: Theatre, store: GeoPackageStore, draft: ingest.Draft) -> None:
    after = ingest.preview(base, store, draft, before=before)
    report = draft.report
    st.subheader("Preview")
    st.text("\n".join(report.lines()))
    if report.diff:
        st.dataframe(pd.DataFrame(report.diff), hide_index=True, key="diff")
    day = dt.date.fromisoformat(report.dates[0])
    shown = draft.polygons[draft.polygons["date"] == report.dates[0]]
    fmap = map_of_view(after, [draft.mapping.claimant], day)
    upload_layer(shown).add_to(fmap)
    st.caption(
        markdown_format(
            "{} on {} after this upload (filled), with the uploaded polygons dashed. "
            "Property text is shown as text.",
            draft.mapping.claimant,
            day,
        )
    )
    st_folium(fmap, height=480, use_container_width=True, returned_objects=[], key="preview")
    sample = draft.polygons.drop(columns="geometry").head(50)
    st.dataframe(sample, hide_index=True, key="features")


def _revisions(store: GeoPackageStore) -> None:
    st.header("Revisions")
    revisions = store.revisions()
    if not revisions:
        st.info("No revisions yet.")
        return
    frame = pd.DataFrame([r.__dict__ for r in revisions]).drop(columns="mapping")
    st.dataframe(frame, hide_index=True, key="revisions")
    left, right = st.columns(2)
    target = left.number_input("Revert revision", min_value=1, step=1, key="revert_id")
    if right.button("Revert (adds a revision; nothing is deleted)", key="revert"):
        try:
            rev = store.revert(int(target), who=st.session_state.get("who") or "app")
            st.success(
                markdown_format("Revision {} reverts revision {}.", rev.revision_id, rev.reverts)
            )
            st.rerun()
        except FrontlineError as e:
            st.error(markdown_format("{}", e))


def _read(
    upload: UploadedFile,
    mapping: ingest.Mapping,
    t: Theatre,
    layer: str | None,
    crs: str | None,
    claimant: Claimant | None,
) -> ingest.Draft | None:
    """The upload's draft: read in a worker once per file, options and store state.

    Every click reruns the page; the draft of the same bytes read the same way against the
    same theatre is kept in the session, so previewing, then pressing Commit, reads the file
    once. While the worker reads, any click reruns the page, and Streamlit stops this run at
    its next ``st.*`` call, the ticker's, which ends the worker; the Cancel button's own
    rerun then does not read again. None when the reading was cancelled.
    """
    # Browsers send the file's name percent-encoded; the analyst knows it unencoded.
    name = unquote(upload.name)
    data = upload.getvalue()
    key = (content_hash(data), name, layer, crs, mapping, claimant, t.fingerprint)
    kept = st.session_state.get("draft")
    if kept is not None and kept[0] == key:
        return kept[1]  # type: ignore[no-any-return]
    reading = st.empty()
    with reading.container():
        cancelled = st.button("Cancel reading", key="cancel_read")
        ticker = st.empty()
    if cancelled:
        reading.empty()
        st.info("Reading cancelled: change an option or upload the file again.")
        return None

    def tick(seconds: float) -> None:
        ticker.caption(
            markdown_format(
                "Reading {} … {} s (limit {} s)", name, round(seconds), f"{settings.READ_WALL_S:g}"
            )
        )

    try:
        draft = ingest.ingest_bytes(
            data, name, mapping, t, layer=layer, crs=crs, claimant=claimant, progress=tick
        )
    finally:
        reading.empty()
    st.session_state["draft"] = (key, draft)
    return draft


def _commit_button(store: GeoPackageStore, draft: ingest.Draft) -> None:
    if not st.button("Commit", type="primary", key="commit"):
        return
    ingest.commit(
        store,
        draft,
        who=st.session_state["who"],
        source=st.session_state["source"],
        licence=st.session_state["licence"],
    )
    if draft.report.existing:
        st.info(markdown_format("Already stored as revision(s) {}.", draft.report.existing))
    else:
        st.success(markdown_format("Committed as revision(s) {}.", draft.report.committed))


def main() -> None:
    """Draw the upload page."""
    base = base_theatre()
    try:
        store = open_store()
    except FrontlineError as e:
        st.error(markdown_format("The store could not be opened: {}", e))
        st.stop()
    t = uploaded_theatre(base, base.fingerprint, store.fingerprint())
    st.title("Upload a control map")
    st.caption(
        markdown_format(
            "Accepted: {}; up to {} MiB. Files are read in memory, checked (format, CRS, "
            "coordinates, rings, size) and never run.",
            ", ".join(sorted(FORMATS)),
            MAX_BYTES // 2**20,
        )
    )
    upload = st.file_uploader("Control map file", type=[e.lstrip(".") for e in FORMATS], key="file")
    cols = st.columns(3)
    layer = cols[0].text_input("Layer (GeoPackage or multi-layer zip)", key="layer")
    crs = cols[1].text_input("Confirm CRS (only if the file names none)", key="crs")
    cols[2].text_input("Who is committing", key="who")
    src = st.columns(2)
    src[0].text_input("Source of the data (URL or description)", key="source")
    src[1].text_input("Licence of the data", key="licence")
    try:
        mapping, claimant = _mapping(t)
    except FrontlineError as e:
        st.error(markdown_format("{}", e))
        mapping = None
    if upload is not None and mapping is not None:
        try:
            draft = _read(upload, mapping, t, layer.strip() or None, crs.strip() or None, claimant)
            if draft is not None:
                _preview(base, t, store, draft)
                _commit_button(store, draft)
        except FrontlineError as e:
            st.error(markdown_format("{}", e))
    _revisions(store)


main()

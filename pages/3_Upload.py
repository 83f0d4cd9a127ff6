"""Upload: preview a control map over the current map, see what changes, commit, revert."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from urllib.parse import unquote

import pandas as pd
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile
from streamlit_folium import st_folium

from appdata import base_theatre, uploaded_theatre
from pipeline import ingest, safetext, settings, side_patterns
from pipeline.build import Theatre
from pipeline.claims import Claimant
from pipeline.errors import FrontlineError, InputError
from pipeline.safetext import markdown_format
from pipeline.store import GeoPackageStore, content_hash, open_store
from pipeline.upload_read import FORMATS, MAX_BYTES, RawUpload
from pipeline.upload_worker import read_upload_isolated
from pipeline.webmap import map_of_view, upload_layer

st.set_page_config(page_title="Frontline — upload", layout="wide")
NEW = "new claimant …"
SKIP = "skip"
MAX_TABLE_VALUES = 200  # most distinct values of the side attribute offered as a table
Patterns = tuple[tuple[str, str], ...]
Needed = tuple[str, str]  # a required field's label, and what to put in it


@dataclass(frozen=True)
class _Form:
    """What the mapping fields say.

    ``mapping`` is None until every required field is filled (``missing``) and no field
    holds a bad value (``errors``); ``side_field`` and ``patterns`` are kept apart so the
    value → side table can be offered before then.
    """

    mapping: ingest.Mapping | None
    claimant: Claimant | None
    side_field: str | None
    patterns: Patterns
    missing: tuple[Needed, ...]
    errors: tuple[str, ...]


def _form(t: Theatre) -> _Form:
    """Draw the mapping fields and read them; an empty field is missing, not an error."""
    missing: list[Needed] = []
    errors: list[str] = []
    left, right = st.columns(2)
    with left:
        options = [*t.claimants, NEW]
        choice = st.selectbox("Whose map", options, index=len(options) - 1, key="claimant")
        st.caption(
            "A new claimant is private: its view is its uploads alone. Choosing an existing "
            "claimant adds this map to that claimant's word."
        )
        claimant = None
        if choice == NEW:
            choice = st.text_input("New claimant id", key="new_id", placeholder="my-team").strip()
            name = st.text_input("Full name", key="new_name")
            affiliation = st.selectbox(
                "Affiliation", ingest.AFFILIATIONS, index=2, key="new_affiliation"
            )
            licence = st.session_state["licence"]
            if not choice:
                missing.append(
                    (
                        "New claimant id",
                        "type an id for the new claimant (2-32 lower-case letters, digits or "
                        "dashes), or choose an existing claimant under Whose map",
                    )
                )
            if not name.strip():
                missing.append(("Full name", "the new claimant's full name"))
            if not licence.strip():
                missing.append(
                    ("Licence of the data", "the licence the data (and the new claimant) carry")
                )
            try:
                if choice in t.claimants:
                    msg = (
                        f"claimant id {choice!r} is taken: choose {choice} under Whose map to "
                        "add to its map, or type another id"
                    )
                    raise InputError(msg)
                if choice:
                    ingest.check_claimant_id(choice)
                if choice and name.strip() and licence.strip():
                    claimant = ingest.new_claimant(choice, name, affiliation, licence)
            except FrontlineError as e:
                errors.append(str(e))
        by_attr = st.radio("Date", ["one date", "from an attribute"], key="date_mode")
        one_date = by_attr == "one date"
        day = st.date_input(
            "Date of the map (YYYY-MM-DD)",
            value=None,
            min_value=min(t.date_range()[0], settings.THEATRE_START),
            max_value=dt.datetime.now(dt.UTC).date(),
            format="YYYY-MM-DD",
            key="upload_date",
            disabled=not one_date,
        )
        date_field = st.text_input("Date attribute", key="date_field", disabled=one_date).strip()
        if one_date and day is None:
            missing.append(("Date of the map", "pick the date the map shows"))
        if not one_date and not date_field:
            missing.append(("Date attribute", "name the attribute holding each feature's date"))
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
        side_field = st.text_input("Side attribute", value="name", key="side_field").strip()
        text = st.text_area(
            "Patterns (PATTERN=SIDE per line; case-insensitive substring, first match wins)",
            value="Liberated=UA\nOccupied=RU",
            key="patterns",
        )
        clip = st.checkbox("Clip to the theatre", value=True, key="clip")
        accept = st.checkbox("Accept geometry repairs that change area", key="accept_repairs")
    by_field = side_mode != "one side"
    patterns: Patterns = ()
    if by_field:
        if not side_field:
            missing.append(("Side attribute", "name the attribute that decides the side"))
        try:
            patterns = side_patterns.parse_patterns([p for p in text.splitlines() if p.strip()])
        except InputError as e:
            errors.append(str(e))
    mapping = None
    if not missing and not errors:
        mapping = ingest.Mapping(
            claimant=choice,
            date=day if one_date else None,
            date_field=None if one_date else date_field,
            side=None if by_field else side,
            side_field=side_field if by_field else None,
            patterns=patterns,
            mode=st.session_state["mode"],
            clip=clip,
            accept_repairs=accept,
        )
    return _Form(
        mapping,
        claimant,
        side_field if by_field and side_field else None,
        patterns,
        tuple(missing),
        tuple(errors),
    )


def _value_table(raw: RawUpload, side_field: str, patterns: Patterns) -> Patterns:
    """Offer the side of each value of the side attribute; the patterns that apply.

    The table is prefilled with what the patterns give. Left as it is, the patterns
    apply (and the upload's mapping, its identity in the store, is unchanged); once a
    row is changed, the table applies: one exact pattern per value (values are matched
    as whole text, never read as pattern syntax), rows set to skip left out.
    """
    values = ingest.side_values(raw, side_field, patterns)
    if not values:
        return patterns
    if len(values) > MAX_TABLE_VALUES:
        st.caption(
            markdown_format(
                "{} distinct values of {} among the polygons: too many for a table (at most "
                "{}); the patterns decide.",
                f"{len(values):,}",
                side_field,
                MAX_TABLE_VALUES,
            )
        )
        return patterns
    prefill = [side or SKIP for _, _, side in values]
    st.caption(
        markdown_format(
            "Side of each value of {} among the polygons, as the patterns give it. Change a "
            "row (e.g. an unknown status to contested) and the table replaces the patterns: "
            "one exact rule per value; editing the patterns refills it.",
            side_field,
        )
    )
    table = pd.DataFrame(
        {
            "value": [safetext.value_text(text, 120) for text, _, _ in values],
            "polygons": [n for _, n, _ in values],
            "side": prefill,
        }
    )
    edited = st.data_editor(
        table,
        key="side_values",
        hide_index=True,
        num_rows="fixed",
        disabled=["value", "polygons"],
        column_config={
            "side": st.column_config.SelectboxColumn(
                "side", options=[*settings.SIDES, SKIP], required=True
            )
        },
    )
    chosen = [str(s) for s in edited["side"]]
    if chosen == prefill:
        return patterns
    return side_patterns.exact_patterns(
        (text, side)
        for (text, _, _), side in zip(values, chosen, strict=True)
        if side in settings.SIDES
    )


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


def _read(upload: UploadedFile, layer: str | None, crs: str | None) -> tuple[str, RawUpload] | None:
    """The upload's content hash and what was read: in a worker, once per file and options.

    Every click reruns the page; what the same bytes read the same way gave is kept in the
    session, so changing the mapping, previewing, then pressing Commit reads the file once.
    While the worker reads, any click reruns the page, and Streamlit stops this run at its
    next ``st.*`` call, the ticker's, which ends the worker; the Cancel button's own rerun
    then does not read again. None when the reading was cancelled.
    """
    # Browsers send the file's name percent-encoded; the analyst knows it unencoded.
    name = unquote(upload.name)
    data = upload.getvalue()
    sha256 = content_hash(data)
    key = (sha256, name, layer, crs)
    kept = st.session_state.get("raw")
    if kept is not None and kept[0] == key:
        return sha256, kept[1]
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
        raw = read_upload_isolated(data, name, layer=layer, crs=crs, progress=tick)
    finally:
        reading.empty()
    st.session_state["raw"] = (key, raw)
    return sha256, raw


def _draft(
    sha256: str, raw: RawUpload, mapping: ingest.Mapping, t: Theatre, claimant: Claimant | None
) -> ingest.Draft:
    """The upload mapped and checked; kept in the session for the same mapping and store."""
    key = (sha256, raw.file_name, raw.layer, mapping, claimant, t.fingerprint)
    kept = st.session_state.get("draft")
    if kept is not None and kept[0] == key:
        return kept[1]  # type: ignore[no-any-return]
    draft = ingest.prepare(raw, mapping, t, sha256=sha256, claimant=claimant)
    st.session_state["draft"] = (key, draft)
    return draft


def _commit_button(
    store: GeoPackageStore, form: _Form, upload: UploadedFile | None, draft: ingest.Draft | None
) -> None:
    """The Commit button; a missing field gets one message naming it, and nothing is stored."""
    if not st.button("Commit", type="primary", key="commit"):
        return
    needed = [] if upload is not None else [("Control map file", "choose the file to upload")]
    needed += form.missing
    for label, key, what in (
        ("Who is committing", "who", "your name or handle"),
        ("Source of the data (URL or description)", "source", "where the data come from"),
        ("Licence of the data", "licence", "the licence the data carry"),
    ):
        if not st.session_state[key].strip() and all(label != n[0] for n in needed):
            needed.append((label, what))
    for label, what in needed:
        st.error(markdown_format("**{}** is needed: {}. Nothing was stored.", label, what))
    if needed:
        return
    if draft is None:
        st.error("Nothing was stored: the problem above needs fixing first.")
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
    form = _form(t)
    for error in form.errors:
        st.error(markdown_format("{}", error))
    draft = None
    if upload is not None:
        try:
            read = _read(upload, layer.strip() or None, crs.strip() or None)
            if read is not None:
                sha256, raw = read
                patterns = form.patterns
                if form.side_field is not None:
                    patterns = _value_table(raw, form.side_field, patterns)
                if form.mapping is not None:
                    mapping = replace(form.mapping, patterns=patterns)
                    draft = _draft(sha256, raw, mapping, t, form.claimant)
                    _preview(base, t, store, draft)
        except FrontlineError as e:
            st.error(markdown_format("{}", e))
            draft = None
    if form.missing:
        st.info(
            markdown_format(
                "To preview and commit, fill in: {}.", ", ".join(label for label, _ in form.missing)
            )
        )
    try:
        _commit_button(store, form, upload, draft)
    except FrontlineError as e:
        st.error(markdown_format("{}", e))
    _revisions(store)


main()

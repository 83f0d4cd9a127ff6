"""Ingest: an uploaded file's features become dated, sided control polygons of a claimant.

:func:`prepare` maps and validates what :func:`pipeline.upload_read.read_upload` read:
claimant, date (one, or per feature from an attribute), side (one, or per feature from an
attribute's values by patterns), mode and clip; it repairs invalid geometry with
``make_valid`` (keeping the polygonal part and recording the area change, which must be
confirmed), skips and counts what cannot be used, and refuses the upload when nothing
polygonal remains. :func:`preview` adds the diff against the claimant's current map, and
:func:`commit` stores the result as new revisions, once: the same file with the same
mapping is recognised by its content hash and not stored again.

How an attribute's values decide the side is :mod:`pipeline.side_patterns`'s rule.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from pipeline import settings
from pipeline._files import atomic_write
from pipeline.build import Theatre
from pipeline.claims import MAX_NAME_CHARS, Claimant, parse_date
from pipeline.errors import InputError
from pipeline.safetext import plain_text, value_text
from pipeline.side_patterns import compile_rules, count_sides, match_text, side_of
from pipeline.store import GeoPackageStore, Revision, content_hash, existing_store
from pipeline.upload_read import RawUpload, UploadError, check_name, read_upload
from pipeline.upload_worker import WorkerLimits, read_upload_isolated
from pipeline.uploads import DERIVED_VERSION, apply_uploads, theatre_with_uploads

MODES = settings.UPLOAD_MODES
AFFILIATIONS = ("UA", "RU", "independent")
CLAIMANT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,31}$")
MAX_PROPERTY_CHARS = 4_000
"""Longest JSON text of one feature's properties kept with its polygon."""
EXAMPLES = 20
"""How many skipped features a report names one by one."""


@dataclass(frozen=True)
class Mapping:
    """How to read an upload's features.

    Attributes
    ----------
    claimant : str
        Whose map this is (existing id, or a new one registered with the commit).
    date : datetime.date or None
        The date of every feature; or None with ``date_field``.
    date_field : str or None
        Attribute holding each feature's date (``YYYY-MM-DD``).
    side : str or None
        The side of every feature (``UA``, ``RU``, ``contested``); or None with
        ``side_field``.
    side_field : str or None
        Attribute whose value decides the side, by ``patterns``.
    patterns : tuple of (str, str)
        ``(pattern, side)`` pairs, first match wins; unmatched features are skipped. A
        pattern is a case-insensitive substring, or a JSON string in double quotes that
        matches the whole value exactly (see :mod:`pipeline.side_patterns`).
    mode : str
        ``snapshot`` (the claimant's complete map on the date) or ``patch``.
    clip : bool
        Clip to the theatre (features wholly outside are skipped).
    accept_repairs : bool
        Accept geometry repairs that change area (else the upload is refused).
    """

    claimant: str
    date: dt.date | None = None
    date_field: str | None = None
    side: str | None = None
    side_field: str | None = None
    patterns: tuple[tuple[str, str], ...] = ()
    mode: str = "snapshot"
    clip: bool = True
    accept_repairs: bool = False

    def key(self) -> str:
        """The mapping as canonical JSON (part of an upload's identity).

        Returns
        -------
        str
            JSON text.
        """
        data = asdict(self)
        data.pop("accept_repairs")
        data["date"] = self.date.isoformat() if self.date else None
        return json.dumps(data, sort_keys=True, ensure_ascii=False)


def side_values(
    raw: RawUpload, side_field: str, patterns: Iterable[tuple[str, str]] = ()
) -> list[tuple[str, int, str | None]]:
    """Each distinct value of the side attribute among an upload's polygons.

    Parameters
    ----------
    raw : RawUpload
        What :func:`pipeline.upload_read.read_upload` read.
    side_field : str
        The side attribute.
    patterns : iterable of (str, str), optional
        ``(pattern, side)`` pairs, as in :attr:`Mapping.patterns`.

    Returns
    -------
    list of (str, int, str or None)
        ``(value, polygons, side)`` in the order the values first appear: the value's
        text (as the patterns see it), how many polygonal features carry it, and the side
        the patterns give it (None when none matches: :func:`prepare` skips them).

    Raises
    ------
    UploadError
        When the file has no such attribute (the message lists those it has).
    """
    column = str(_field(raw, side_field, "side attribute"))
    read = raw.frame.geometry.to_numpy()
    present = np.flatnonzero(~(shapely.is_missing(read) | shapely.is_empty(read)))
    polygonal = present[~shapely.is_empty(_polygonal_all(read[present]))]
    return count_sides(raw.frame[column].to_numpy(dtype=object)[polygonal], patterns)


def check_claimant_id(claimant_id: str) -> str:
    """A new claimant's id, checked.

    Parameters
    ----------
    claimant_id : str
        Lower-case id (letters, digits, dashes; 2-32 characters).

    Returns
    -------
    str
        The id.

    Raises
    ------
    InputError
        Naming the bad id.

    Examples
    --------
    >>> check_claimant_id("my-team")
    'my-team'
    """
    if not CLAIMANT_ID.fullmatch(claimant_id):
        msg = f"bad claimant id {claimant_id!r}: use 2-32 lower-case letters, digits or dashes"
        raise InputError(msg)
    return claimant_id


def new_claimant(claimant_id: str, name: str, affiliation: str, licence: str) -> Claimant:
    """A claimant to register with an upload, checked.

    Parameters
    ----------
    claimant_id : str
        Lower-case id (letters, digits, dashes; 2-32 characters).
    name : str
        Full name.
    affiliation : str
        ``UA``, ``RU`` or ``independent``.
    licence : str
        Licence of the claimant's data.

    Returns
    -------
    Claimant
        The claimant.

    Raises
    ------
    InputError
        Naming the bad value.
    """
    check_claimant_id(claimant_id)
    if affiliation not in AFFILIATIONS:
        msg = f"bad affiliation {affiliation!r}: expected UA, RU or independent"
        raise InputError(msg)
    for what, value in (("name", name), ("licence", licence)):
        if not value.strip():
            msg = f"a new claimant needs a {what}"
            raise InputError(msg)
        if len(value.strip()) > MAX_NAME_CHARS:
            msg = (
                f"bad {what} {value[:40]!r}…: {len(value):,} characters (at most {MAX_NAME_CHARS})"
            )
            raise InputError(msg)
    name, licence = plain_text(name.strip(), None), plain_text(licence.strip(), None)
    return Claimant(claimant_id, name, "registered by an upload", affiliation, licence)


@dataclass
class Report:
    """What an upload will store (or stored), and what it skipped and why.

    Attributes
    ----------
    file_name, sha256, fmt, driver : str
        The file, its content hash, declared format and reader.
    layer : str or None
        Layer read.
    claimant, mode : str
        Whose map, and how it applies.
    features : int
        Features in the file.
    kept : int
        Polygons to store.
    skipped : collections.Counter
        Skipped features by reason.
    examples : list of str
        The first skipped features, named one by one.
    repairs : list of str
        Geometry repairs with their area change.
    area_km2 : dict of str to float
        Area per side to store.
    dates : list of str
        Dates of the revisions.
    notes : list of str
        Other things noticed.
    diff : list of dict
        Per date and side: km² gained and lost against the claimant's current map.
    existing : list of int
        Revisions that already hold this upload (then nothing new is stored).
    committed : list of int
        Revisions created by the commit.
    """

    file_name: str
    sha256: str
    fmt: str
    driver: str
    layer: str | None
    claimant: str
    mode: str
    features: int
    kept: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)
    area_km2: dict[str, float] = field(default_factory=dict)
    dates: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    diff: list[dict[str, Any]] = field(default_factory=list)
    existing: list[int] = field(default_factory=list)
    committed: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data (for JSON).

        Returns
        -------
        dict
            Every attribute.
        """
        data = asdict(self)
        data["skipped"] = dict(self.skipped)
        return data

    def lines(self) -> list[str]:
        """The report as lines of text (the CLI prints them; the page shows them).

        Returns
        -------
        list of str
            Lines.
        """
        out = [
            f"file {self.file_name} ({self.fmt} via {self.driver}"
            + (f", layer {self.layer}" if self.layer else "")
            + f"), sha256 {self.sha256[:12]}…",
            f"{self.features} features read; {self.kept} polygons for {self.claimant} "
            f"({self.mode}) on {', '.join(self.dates) or 'no date'}",
        ]
        out += [f"skipped {n}: {reason}" for reason, n in sorted(self.skipped.items())]
        out += [f"  {e}" for e in self.examples]
        more = sum(self.skipped.values()) - len(self.examples)
        if self.examples and more > 0:
            out.append(f"  … and {more:,} more")
        out += [f"repaired: {r}" for r in self.repairs]
        out += [f"area {side}: {km2:,.1f} km²" for side, km2 in self.area_km2.items()]
        out += [
            f"{d['date']} {d['side']}: gained {d['gained_km2']:,.1f} km², "
            f"lost {d['lost_km2']:,.1f} km² against {self.claimant}'s current map"
            for d in self.diff
        ]
        out += [f"note: {n}" for n in self.notes]
        if self.existing:
            out.append(f"already stored as revision(s) {self.existing}: nothing new to store")
        if self.committed:
            out.append(f"committed as revision(s) {self.committed}")
        return out


@dataclass
class Draft:
    """A mapped, validated upload, ready to preview and commit.

    Attributes
    ----------
    raw : RawUpload
        What was read.
    mapping : Mapping
        How it was mapped.
    polygons : geopandas.GeoDataFrame
        ``date`` (ISO), ``side``, ``label``, ``properties`` (JSON text), geometry (EPSG:4326).
    report : Report
        The report.
    claimant : Claimant or None
        A new claimant to register with the commit.
    """

    raw: RawUpload
    mapping: Mapping
    polygons: gpd.GeoDataFrame
    report: Report
    claimant: Claimant | None = None


def _field(raw: RawUpload, name: str | None, what: str) -> str | None:
    if name is None:
        return None
    check_name(name, what)
    if name not in raw.frame.columns or name == raw.frame.geometry.name:
        known = ", ".join(c for c in raw.frame.columns if c != raw.frame.geometry.name)
        raise UploadError(raw.file_name, f"no attribute {name!r} for the {what}; has: {known}")
    return name


def _labels(frame: gpd.GeoDataFrame, rows: NDArray[np.intp], side_field: str | None) -> list[str]:
    """Each row's label: the first text among the side attribute, name, label and title."""
    keys = [
        k
        for k in (side_field, "name", "Name", "label", "title")
        if k and k in frame.columns and k != frame.geometry.name
    ]
    values = [frame[k].to_numpy(dtype=object) for k in keys]
    return [next((v[i][:200] for v in values if isinstance(v[i], str)), "") for i in rows]


def _properties(frame: gpd.GeoDataFrame, rows: NDArray[np.intp]) -> list[str]:
    """Each row's attributes (missing ones left out) as JSON text, truncated when long."""
    columns = [c for c in frame.columns if c != frame.geometry.name]
    values = [frame[c].to_numpy(dtype=object) for c in columns]
    out = []
    for i in rows:
        props = {c: v[i] for c, v in zip(columns, values, strict=True) if v[i] is not None}
        text = json.dumps(props, ensure_ascii=False)
        if len(text) > MAX_PROPERTY_CHARS:
            text = json.dumps({"truncated": text[:MAX_PROPERTY_CHARS]}, ensure_ascii=False)
        out.append(text)
    return out


def prepare(
    raw: RawUpload,
    mapping: Mapping,
    theatre: Theatre,
    *,
    sha256: str,
    claimant: Claimant | None = None,
    today: dt.date | None = None,
) -> Draft:
    """Map and validate an upload's features.

    Parameters
    ----------
    raw : RawUpload
        What :func:`pipeline.upload_read.read_upload` read.
    mapping : Mapping
        How to map it.
    theatre : Theatre
        The theatre (its extent clips, its start bounds dates, its claimants are known).
    sha256 : str
        The file's content hash.
    claimant : Claimant, optional
        The claimant to register when ``mapping.claimant`` is new.
    today : datetime.date, optional
        Latest acceptable date (default: today, UTC).

    Returns
    -------
    Draft
        Polygons to store, and the report.

    Raises
    ------
    InputError
        When the mapping is inconsistent, a date is bad, a repair needs confirming, or
        nothing polygonal remains; the message names the file and the feature.
    """
    name = raw.file_name
    if mapping.mode not in MODES:
        raise InputError(f"unknown mode {mapping.mode!r}; expected snapshot or patch")
    known = mapping.claimant in theatre.claimants
    if not known and (claimant is None or claimant.claimant_id != mapping.claimant):
        listed = ", ".join(theatre.claimants)
        msg = (
            f"unknown claimant {mapping.claimant!r} (known: {listed}); "
            "register it with a name, affiliation and licence"
        )
        raise InputError(msg)
    if (mapping.date is None) == (mapping.date_field is None):
        raise InputError("give either one date or a date attribute, not both or neither")
    if (mapping.side is None) == (mapping.side_field is None):
        raise InputError("give either one side or a side attribute with patterns")
    if mapping.side is not None and mapping.side not in settings.SIDES:
        raise InputError(f"unknown side {mapping.side!r}; expected UA, RU or contested")
    if mapping.side_field is not None and not mapping.patterns:
        raise InputError(f"side attribute {mapping.side_field!r} needs PATTERN=SIDE mappings")
    side_field = _field(raw, mapping.side_field, "side attribute")
    date_field = _field(raw, mapping.date_field, "date attribute")
    last = today or dt.datetime.now(dt.UTC).date()
    first = min(theatre.date_range()[0], settings.THEATRE_START)

    def check_day(value: dt.date, where: str) -> dt.date:
        if value > last:
            raise InputError(f"file {name!r}{where}: date {value} is in the future")
        if value < first:
            raise InputError(
                f"file {name!r}{where}: date {value} is before the theatre's start {first}"
            )
        return value

    if mapping.date is not None:
        check_day(mapping.date, "")
    frame = raw.frame
    report = Report(
        name, sha256, raw.fmt, raw.driver, raw.layer, mapping.claimant, mapping.mode, len(frame)
    )
    report.notes += raw.notes
    if raw.crs_source == "confirmed":
        report.notes.append("CRS confirmed by the analyst")
    extent = theatre.extent
    _refuse_swapped_axes(frame, extent, name)
    rules = compile_rules(mapping.patterns)
    # Every step runs on all features at once; ``live`` holds those still kept, in file
    # order, and ``skipped`` why the others were dropped.
    skipped: dict[int, tuple[str, str]] = {}
    read = frame.geometry.to_numpy()
    present = ~(shapely.is_missing(read) | shapely.is_empty(read))
    skipped.update((int(i), ("no geometry", "")) for i in np.flatnonzero(~present))
    live = np.flatnonzero(present)
    geoms = np.full(len(read), None, dtype=object)
    geoms[live] = _polygonal_all(read[live])
    flat = shapely.is_empty(geoms[live])
    skipped.update((int(i), (f"not a polygon ({read[i].geom_type})", "")) for i in live[flat])
    live = live[~flat]
    sides = np.full(len(read), mapping.side, dtype=object)
    if side_field is not None:
        values = frame[side_field].to_numpy(dtype=object)
        matched: dict[str, str | None] = {}
        for i in live:
            text = match_text(values[i])
            if text not in matched:
                matched[text] = side_of(text, rules)
            sides[i] = matched[text]
            if sides[i] is None:
                skipped[int(i)] = (f"{side_field} matches no pattern", f" ('{value_text(text)}')")
        live = live[sides[live] != None]  # noqa: E711 (elementwise)
    days = np.full(len(read), mapping.date, dtype=object)
    if date_field is not None:
        values = frame[date_field].to_numpy(dtype=object)
        parsed: dict[str, dt.date | ValueError] = {}
        for i in live:
            key = str(values[i])[:10] if values[i] else ""
            if key not in parsed:
                try:
                    parsed[key] = parse_date(key, f"{date_field}")
                except ValueError as e:
                    parsed[key] = e
            day = parsed[key]
            if isinstance(day, ValueError):
                raise InputError(f"file {name!r}, feature {i + 1}: {day}") from None
            days[i] = check_day(day, f", feature {i + 1}")
    repaired_change = 0.0
    broken = live[~shapely.is_valid(geoms[live])]
    if len(broken):
        reasons = shapely.is_valid_reason(geoms[broken])
        before = _km2_all(geoms[broken])
        geoms[broken] = _polygonal_all(shapely.make_valid(geoms[broken]))
        after = _km2_all(geoms[broken])
        for i, reason, km2_before, km2_after in zip(broken, reasons, before, after, strict=True):
            repaired_change += abs(km2_after - km2_before)
            report.repairs.append(
                f"feature {i + 1}: {reason}; area {km2_before:,.3f} → {km2_after:,.3f} km²"
            )
        gone = broken[shapely.is_empty(geoms[broken])]
        skipped.update((int(i), ("no area left after repair", "")) for i in gone)
        live = np.setdiff1d(live, gone)
    if mapping.clip and len(live):
        geoms[live] = _clipped(geoms[live], extent)
        gone = live[shapely.is_empty(geoms[live])]
        skipped.update((int(i), ("outside the theatre", "")) for i in gone)
        live = np.setdiff1d(live, gone)
    for feature in sorted(skipped):
        reason, detail = skipped[feature]
        report.skipped[reason] += 1
        if len(report.examples) < EXAMPLES:
            report.examples.append(f"feature {feature + 1}: {reason}{detail}")
    if report.repairs and repaired_change > 0 and not mapping.accept_repairs:
        first_repair = report.repairs[0]
        msg = (
            f"file {name!r}: {len(report.repairs)} invalid geometries would be repaired with an "
            f"area change ({first_repair}); confirm the repairs to store them"
        )
        raise InputError(msg)
    if len(live) == 0:
        why = "; ".join(f"{n} {reason}" for reason, n in sorted(report.skipped.items()))
        raise UploadError(name, f"nothing polygonal to store ({why or 'no features'})")
    polygons = gpd.GeoDataFrame(
        {
            "date": [days[i].isoformat() for i in live],
            "side": [str(sides[i]) for i in live],
            "label": _labels(frame, live, side_field),
            "properties": _properties(frame, live),
            "feature": [int(i) + 1 for i in live],
            "geometry": list(geoms[live]),
        },
        geometry="geometry",
        crs=settings.GEO_CRS,
    )
    report.kept = len(polygons)
    report.dates = sorted(set(polygons["date"]))
    area = polygons.to_crs(settings.EQUAL_AREA_CRS).area / 1e6
    report.area_km2 = {
        s: round(float(area[polygons["side"] == s].sum()), 3)
        for s in settings.SIDES
        if (polygons["side"] == s).any()
    }
    return Draft(raw, mapping, polygons, report, None if known else claimant)


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """The polygonal part of a geometry (empty when it has none)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _polygonal_all(geoms: NDArray[np.object_]) -> NDArray[np.object_]:
    """The polygonal part of each geometry (empty where it has none)."""
    out = np.array(geoms, dtype=object)
    kind = shapely.get_type_id(out)
    other = ~np.isin(kind, (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON))
    for i in np.flatnonzero(other & (kind == shapely.GeometryType.GEOMETRYCOLLECTION)):
        out[i] = _polygonal(out[i])
    out[other & (kind != shapely.GeometryType.GEOMETRYCOLLECTION)] = shapely.Polygon()
    return out


def _clipped(geoms: NDArray[np.object_], extent: shapely.Geometry) -> NDArray[np.object_]:
    """Each polygon clipped to the extent; only those crossing its edge are overlaid."""
    prepared = shapely.from_wkb(shapely.to_wkb(extent))  # a copy: the theatre's stays as is
    shapely.prepare(prepared)
    inside = shapely.contains_properly(prepared, geoms)
    crossing = ~inside & shapely.intersects(prepared, geoms)
    out = np.array(geoms, dtype=object)
    out[~inside] = shapely.Polygon()
    out[crossing] = _polygonal_all(shapely.intersection(geoms[crossing], extent))
    return out


def _refuse_swapped_axes(frame: gpd.GeoDataFrame, extent: shapely.Geometry, name: str) -> None:
    """Refuse data that miss the theatre but would fall in it with x and y swapped."""
    geoms = frame.geometry.to_numpy()
    geoms = geoms[~shapely.is_empty(geoms) & ~shapely.is_missing(geoms)]
    if len(geoms) == 0:
        return
    data = shapely.box(*shapely.total_bounds(geoms))
    swapped = shapely.transform(data, lambda xy: xy[:, ::-1])
    if not data.intersects(extent) and swapped.intersects(extent):
        x0, y0, x1, y1 = (round(float(v), 3) for v in shapely.total_bounds(geoms))
        msg = (
            f"file {name!r}: the data lie at longitude {x0}..{x1}, latitude {y0}..{y1}, "
            "outside the theatre, but inside it with latitude and longitude swapped: "
            "fix the file's axis order"
        )
        raise InputError(msg)


def _km2_all(geoms: NDArray[np.object_]) -> NDArray[np.float64]:
    series = gpd.GeoSeries(geoms, crs=settings.GEO_CRS).to_crs(settings.EQUAL_AREA_CRS)
    return np.asarray(series.area.to_numpy() / 1e6, dtype=np.float64)


UPLOADS_KEPT = 4
"""How many sets of uploads' derived cells and events stay cached (the latest used)."""


def stored_theatre(
    base: Theatre, store: GeoPackageStore, cache_dir: Path | None = settings.CACHE_DIR
) -> Theatre:
    """The theatre with every live upload of a store applied.

    The cells and events derived from the uploads are cached under ``cache_dir/uploads``,
    keyed by what they are derived from: the base theatre's fingerprint (its inputs and
    the package version), :data:`pipeline.uploads.DERIVED_VERSION`, the claimants, and
    every live polygon's revision, claimant, date, side, mode and coordinates. So a
    command on a store that has not changed, or whose new state :func:`preview` has
    already derived, reads them back instead of splitting the cells again. The store's
    fingerprint (which changes with every commit and revert) is remembered beside them,
    so an unchanged store is recognised without reading its polygons. A cache that cannot
    be read or written is only slower.

    Parameters
    ----------
    base : Theatre
        The theatre built from claims alone.
    store : GeoPackageStore
        The store.
    cache_dir : pathlib.Path or None, optional
        Where derived data is cached (default :data:`pipeline.settings.CACHE_DIR`, as for
        :func:`pipeline.build.load_theatre`); None to compute without a cache.

    Returns
    -------
    Theatre
        The theatre the map shows.
    """
    state = store.fingerprint()
    claimants = store.claimants()
    folder = None if cache_dir is None else cache_dir / "uploads"
    alias = _digest(base.fingerprint, str(DERIVED_VERSION), state)
    if folder is not None:
        cached = _read_uploads(folder, _read_alias(folder, alias), base)
        if cached is not None:
            return theatre_with_uploads(base, claimants, *cached)
    polygons = store.polygons()
    key = _content_key(base, polygons, claimants)
    cached = None if folder is None else _read_uploads(folder, key, base)
    if cached is not None:
        theatre = theatre_with_uploads(base, claimants, *cached)
    else:
        theatre = apply_uploads(base, polygons, claimants)
        if folder is not None and theatre.cells is not base.cells:
            _write_uploads(folder, key, theatre)
    # Remembered only when no commit came in while the polygons were read.
    if folder is not None and theatre.cells is not base.cells and store.fingerprint() == state:
        _write_alias(folder, alias, key)
    return theatre


def _digest(*parts: str | bytes) -> str:
    """24 hex digits of the SHA-256 of the parts, each ended by a NUL byte."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()[:24]


def _content_key(base: Theatre, polygons: gpd.GeoDataFrame, claimants: dict[str, Claimant]) -> str:
    """A digest of everything :func:`pipeline.uploads.apply_uploads` derives from."""
    columns = ["claimant", "date", "side", "mode"]
    attributes = (
        polygons[columns].astype(str).assign(revision_id=polygons["revision_id"].astype(np.int64))
    )
    rows = pd.util.hash_pandas_object(attributes, index=False)
    parts, part_of = shapely.get_parts(polygons.geometry.to_numpy(), return_index=True)
    rings, ring_of = shapely.get_rings(parts, return_index=True)
    return _digest(
        base.fingerprint,
        str(DERIVED_VERSION),
        " ".join(sorted(claimants)),
        rows.to_numpy().tobytes(),
        np.bincount(part_of, minlength=len(polygons)).tobytes(),
        np.bincount(ring_of, minlength=len(parts)).tobytes(),
        shapely.get_num_coordinates(rings).tobytes(),
        np.ascontiguousarray(shapely.get_coordinates(rings)).tobytes(),
    )


def _read_alias(folder: Path, alias: str) -> str:
    """The content key remembered for a store state ('' when none is)."""
    try:
        return str(json.loads((folder / f"{alias}.state.json").read_text("utf-8"))["uploads"])
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def _write_alias(folder: Path, alias: str, key: str) -> None:
    """Remember the content key of a store state; keep the latest few states."""
    text = json.dumps({"uploads": key})
    try:
        atomic_write(folder / f"{alias}.state.json", lambda p: p.write_text(text, "utf-8"))
        states = sorted(folder.glob("*.state.json"), key=_mtime, reverse=True)
        for old in states[4 * UPLOADS_KEPT :]:
            old.unlink(missing_ok=True)
    except OSError:
        return  # a cache that cannot be written is only slower


def _mtime(path: Path) -> float:
    """When a file was last written or used (0 when it is gone)."""
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _read_uploads(
    folder: Path, key: str, base: Theatre
) -> tuple[str, gpd.GeoDataFrame, pd.DataFrame] | None:
    """Cached fingerprint, cells and events of a set of uploads, or None."""
    if not key:
        return None
    meta = folder / f"{key}.meta.json"
    try:
        fingerprint = str(json.loads(meta.read_text(encoding="utf-8"))["fingerprint"])
        cells = gpd.read_parquet(folder / f"{key}.cells.parquet")
        events = pd.read_parquet(folder / f"{key}.events.parquet")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    with contextlib.suppress(OSError):  # a read-only cache is still read
        os.utime(meta)  # the latest used is kept longest
    if list(events.columns) != list(base.events.columns) or cells.crs != base.cells.crs:
        return None
    return fingerprint, cells, events


def _write_uploads(folder: Path, key: str, theatre: Theatre) -> None:
    """Cache a set of uploads' derived cells and events; keep the latest few sets."""
    meta = json.dumps({"fingerprint": theatre.fingerprint})
    try:
        atomic_write(
            folder / f"{key}.cells.parquet", lambda p: theatre.cells.to_parquet(p, index=False)
        )
        atomic_write(
            folder / f"{key}.events.parquet", lambda p: theatre.events.to_parquet(p, index=False)
        )
        # The metadata goes last: a set is cached once its metadata exists.
        atomic_write(folder / f"{key}.meta.json", lambda p: p.write_text(meta, "utf-8"))
        sets = sorted(folder.glob("*.meta.json"), key=_mtime, reverse=True)
        for old in sets[UPLOADS_KEPT:]:
            stale = old.name.removesuffix(".meta.json")
            for suffix in (".meta.json", ".cells.parquet", ".events.parquet"):
                (folder / f"{stale}{suffix}").unlink(missing_ok=True)
    except OSError:
        return  # a cache that cannot be written is only slower


def preview(
    base: Theatre,
    store: GeoPackageStore,
    draft: Draft,
    before: Theatre | None = None,
    cache_dir: Path | None = settings.CACHE_DIR,
) -> Theatre:
    """Apply a draft over the stored uploads and fill its report's diff.

    The theatre after the commit is cached as :func:`stored_theatre` caches it, so the
    first command after the commit reads it back instead of splitting the cells again.

    Parameters
    ----------
    base : Theatre
        The theatre built from claims alone.
    store : GeoPackageStore
        The store.
    draft : Draft
        The draft.
    before : Theatre, optional
        The theatre with the store's uploads, when the caller has it already
        (:func:`stored_theatre`); computed otherwise.
    cache_dir : pathlib.Path or None, optional
        As for :func:`stored_theatre`.

    Returns
    -------
    Theatre
        The theatre as it would be after the commit.
    """
    stored, registered = store.polygons(), store.claimants()
    extra = {} if draft.claimant is None else {draft.claimant.claimant_id: draft.claimant}
    if before is None:
        before = apply_uploads(base, stored, registered)
    next_id = int(stored["revision_id"].max()) + 1 if len(stored) else 1
    dates = sorted(set(draft.polygons["date"]))
    adding = draft.polygons.assign(
        revision_id=[next_id + dates.index(d) for d in draft.polygons["date"]],
        claimant=draft.mapping.claimant,
        mode=draft.mapping.mode,
    )
    cols = ["revision_id", "claimant", "date", "side", "mode", "label", "properties", "geometry"]
    combined = gpd.GeoDataFrame(
        pd.concat([stored[cols], adding[cols]], ignore_index=True),
        geometry="geometry",
        crs=settings.GEO_CRS,
    )
    after = apply_uploads(base, combined, {**registered, **extra})
    if cache_dir is not None:
        key = _content_key(base, combined, {**registered, **extra})
        _write_uploads(cache_dir / "uploads", key, after)
    claimant = draft.mapping.claimant
    draft.report.diff = []
    for iso in dates:
        day = dt.date.fromisoformat(iso)
        old = _sides(before, claimant, day) if claimant in before.claimants else {}
        new = _sides(after, claimant, day)
        for side in settings.SIDES:
            a = old.get(side, shapely.Polygon())
            b = new.get(side, shapely.Polygon())
            gained = float(shapely.area(shapely.difference(b, a, grid_size=1.0)) / 1e6)
            lost = float(shapely.area(shapely.difference(a, b, grid_size=1.0)) / 1e6)
            if gained or lost:
                draft.report.diff.append(
                    {
                        "date": iso,
                        "side": side,
                        "gained_km2": round(gained, 3),
                        "lost_km2": round(lost, 3),
                    }
                )
    return after


def _sides(theatre: Theatre, view: str, day: dt.date) -> dict[str, shapely.Geometry]:
    ground = theatre.ground(view, day).to_crs(settings.EQUAL_AREA_CRS)
    return dict(zip(ground["side"], ground.geometry, strict=True))


def commit(
    store: GeoPackageStore, draft: Draft, *, who: str, source: str, licence: str
) -> list[Revision]:
    """Store a draft as one revision per date, unless the same upload is already stored.

    Parameters
    ----------
    store : GeoPackageStore
        The store.
    draft : Draft
        The draft (from :func:`prepare`).
    who : str
        Who commits.
    source, licence : str
        Where the data come from and under which licence (both required).

    Returns
    -------
    list of Revision
        New revisions; empty when the upload was already stored (see the report).

    Raises
    ------
    InputError
        When source or licence is missing.
    pipeline.store.StoreError
        When the store is read-only or the write fails; then nothing is stored.
    """
    for what, value in (("who", who), ("source", source), ("licence", licence)):
        if not value.strip():
            raise InputError(f"a commit needs a {what}")
    batches = [
        (dt.date.fromisoformat(day), part.drop(columns=["date"]))
        for day, part in draft.polygons.groupby("date", sort=True)
    ]
    # Whether the upload is stored already is asked inside the write transaction that
    # would store it: two commits of one upload at once store it once.
    done = store.commit_upload(
        batches,
        who=who.strip(),
        claimant=draft.mapping.claimant,
        mode=draft.mapping.mode,
        source=source.strip(),
        licence=licence.strip(),
        file_name=draft.report.file_name,
        file_sha256=draft.report.sha256,
        mapping=draft.mapping.key(),
        new_claimant=draft.claimant,
    )
    if done.existing:
        draft.report.existing = [r.revision_id for r in done.revisions]
        return []
    draft.report.committed = [r.revision_id for r in done.revisions]
    return list(done.revisions)


def ingest_bytes(
    data: bytes,
    file_name: str,
    mapping: Mapping,
    theatre: Theatre,
    *,
    layer: str | None = None,
    crs: str | None = None,
    claimant: Claimant | None = None,
    today: dt.date | None = None,
    isolated: bool = True,
    limits: WorkerLimits | None = None,
    progress: Callable[[float], None] | None = None,
) -> Draft:
    """Read, map and validate an upload in one call.

    The file is read in a worker process with hard limits
    (:func:`pipeline.upload_worker.read_upload_isolated`) unless ``isolated`` is false.

    Parameters
    ----------
    data : bytes
        The file's bytes.
    file_name : str
        Its name (the extension declares the format).
    mapping : Mapping
        How to map it.
    theatre : Theatre
        The theatre.
    layer, crs : str, optional
        As for :func:`pipeline.upload_read.read_upload`.
    claimant : Claimant, optional
        A new claimant to register.
    today : datetime.date, optional
        Latest acceptable date.
    isolated : bool
        Read in a limited worker process (the default; a crash, a hang or a bomb in the
        file ends the worker with an :class:`~pipeline.upload_read.UploadError`), or in this
        process (trusted files only).
    limits : WorkerLimits, optional
        The worker's limits (default: those of :mod:`pipeline.settings`).
    progress : callable, optional
        Called with the seconds elapsed while the worker reads; if it raises, the worker
        is killed and the exception goes on.

    Returns
    -------
    Draft
        The draft.
    """
    if isolated:
        raw = read_upload_isolated(
            data, file_name, layer=layer, crs=crs, limits=limits, progress=progress
        )
    else:
        raw = read_upload(data, file_name, layer=layer, crs=crs)
    return prepare(raw, mapping, theatre, sha256=content_hash(data), claimant=claimant, today=today)


def store_fingerprint(location: str | None = None) -> str | None:
    """Fingerprint of the store's history, or None when no store file exists yet.

    Parameters
    ----------
    location : str, optional
        Store location (default :func:`pipeline.settings.store_location`).

    Returns
    -------
    str or None
        16 hex digits, changing with every commit.
    """
    store = existing_store(location)
    return None if store is None else store.fingerprint()

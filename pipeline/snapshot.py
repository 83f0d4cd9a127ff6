"""Snapshot requests: what a citable figure shows, where, how large, and from which data.

A :class:`Snapshot` names a date, the views (claimant ids or ``consolidated``; the first
is filled), an optional earlier date to show change since, an extent and a size. The same
request drives every export (:mod:`pipeline.render` for PNG/SVG/PDF, :mod:`pipeline.export`
for HTML, GeoJSON, GeoPackage, GIF, MP4 and zip batches), and :func:`drawn_layers` returns
exactly the geometries a figure draws, with their sources.

The **data-version stamp** is the theatre's fingerprint: a hash of every input file, the
cell settings, the package version and, with uploads, the store's revisions. The
**figure id** hashes that stamp with the request, so two figures with the same id show the
same thing drawn from the same data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

import pipeline
from pipeline import settings
from pipeline.build import Theatre, check_day
from pipeline.claims import MAX_NAME_CHARS
from pipeline.errors import FrontlineError, InputError
from pipeline.extent import TO_DRAW, Extent, resolve_extent
from pipeline.safetext import plain_text
from pipeline.viewstate import MAX_VIEWS

SIZES: dict[str, tuple[int, int, float]] = settings.SIZE_PRESETS
"""Size presets: width and height in pixels, and dots per inch (A4 landscape at 300 dpi)."""

MIN_SIDE_PX = 320
MAX_SIDE_PX = 8000
MAX_PIXELS = 40_000_000
MAX_TITLE_CHARS = 200
"""Longest title a figure accepts (it must fit the figure's title line)."""

ATTRIBUTION = (
    "Settlements: GeoNames (CC BY 4.0; postal codes CC BY 3.0), Who's On First (CC0/CC BY) "
    "and cited sources. Borders and districts: © OpenStreetMap contributors (ODbL), "
    "Natural Earth (public domain)."
)
"""What every figure made from ``data/geo/`` must credit (see ``data/geo/SOURCES.md``)."""


@dataclass(frozen=True)
class Size:
    """Output size of a figure.

    Attributes
    ----------
    name : str
        Preset name or ``WxH``.
    width, height : int
        Pixels of a raster export.
    dpi : float
        Dots per inch: ``width / dpi`` is the figure's width in inches (vector exports).
    """

    name: str
    width: int
    height: int
    dpi: float

    @property
    def inches(self) -> tuple[float, float]:
        """Width and height in inches."""
        return self.width / self.dpi, self.height / self.dpi


def parse_size(spec: str) -> Size:
    """Read a size: ``a4``, ``slide``, ``square`` or ``WIDTHxHEIGHT`` in pixels.

    Parameters
    ----------
    spec : str
        The size.

    Returns
    -------
    Size
        The size; a custom one gets a dpi that keeps text legible (width 6 to 16 in).

    Raises
    ------
    InputError
        When the spelling is unknown or the size out of bounds.

    Examples
    --------
    >>> parse_size("slide")
    Size(name='slide', width=1920, height=1080, dpi=150.0)
    >>> parse_size("1600x1200").inches
    (10.666666666666666, 8.0)
    """
    key = spec.strip().lower()
    if key in SIZES:
        w, h, dpi = SIZES[key]
        return Size(key, w, h, dpi)
    m = re.fullmatch(r"(\d{1,5})\s*[x×]\s*(\d{1,5})", key)
    if m is None:
        msg = (
            f"bad size {spec!r}: use {', '.join(SIZES)} or WIDTHxHEIGHT in pixels (e.g. 1600x1200)"
        )
        raise InputError(msg)
    w, h = int(m[1]), int(m[2])
    if not (MIN_SIDE_PX <= w <= MAX_SIDE_PX and MIN_SIDE_PX <= h <= MAX_SIDE_PX):
        msg = f"bad size {spec!r}: each side must be {MIN_SIDE_PX} to {MAX_SIDE_PX} pixels"
        raise InputError(msg)
    if w * h > MAX_PIXELS:
        msg = f"bad size {spec!r}: {w * h:,} pixels is over the cap of {MAX_PIXELS:,}"
        raise InputError(msg)
    width_in = min(max(w / 150.0, 6.0), 16.0)
    return Size(f"{w}x{h}", w, h, w / width_in)


@dataclass(frozen=True)
class Snapshot:
    """One figure's request.

    Attributes
    ----------
    day : datetime.date
        The date shown.
    views : tuple of str
        One to four views; the first is filled, the others outlined; the first two's
        disagreement is hatched.
    since : datetime.date or None
        Outline what the first view's sides gained and lost since this earlier date.
    extent : Extent
        What the figure frames.
    size : Size
        Output size.
    title : str or None
        A title instead of the default one.
    basemap : str
        What lies under the map as drawn: ``none`` (the offline style) or the tiles' URL
        template (:meth:`pipeline.basemap.Basemap.drawn`). The renderer sets it once it
        knows whether tiles came, so the figure id covers what is drawn.
    """

    day: dt.date
    views: tuple[str, ...]
    since: dt.date | None = None
    extent: Extent = field(default_factory=lambda: Extent("theatre", (0.0, 0.0, 1.0, 1.0)))
    size: Size = field(default_factory=lambda: parse_size("slide"))
    title: str | None = None
    basemap: str = "none"


def make_snapshot(
    theatre: Theatre,
    day: dt.date,
    views: Sequence[str],
    since: dt.date | None = None,
    extent: str | None = None,
    size: str = "slide",
    title: str | None = None,
) -> Snapshot:
    """Check a request at the door and build the :class:`Snapshot`.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    day : datetime.date
        The date.
    views : sequence of str
        Claimant ids or ``consolidated``, one to four, first is filled.
    since : datetime.date, optional
        Show change since this earlier date.
    extent : str, optional
        See :func:`resolve_extent`.
    size : str, default "slide"
        See :func:`parse_size`.
    title : str, optional
        Replaces the default title.

    Returns
    -------
    Snapshot
        The checked request.

    Raises
    ------
    InputError
        Naming the first bad value: an unknown view, too many views, a date before the
        theatre's start or in the future, ``since`` after ``day``, a bad extent or size,
        a title longer than :data:`MAX_TITLE_CHARS` (control characters in it are
        replaced, see :func:`pipeline.safetext.plain_text`).
    """
    chosen = list(dict.fromkeys(v.strip() for v in views if v.strip()))
    if not chosen:
        msg = "no claimant given: name at least one (e.g. ua-gs)"
        raise InputError(msg)
    if len(chosen) > MAX_VIEWS:
        msg = f"too many claimants ({len(chosen)}): a figure shows at most {MAX_VIEWS}"
        raise InputError(msg)
    for view in chosen:
        try:
            theatre.view(view)
        except FrontlineError as e:
            msg = f"bad claimant {view!r}: {e}"
            raise InputError(msg) from e
    for what, value in (("date", day), ("since date", since)):
        if value is not None:
            check_day(value, what)
    if since is not None and since > day:
        msg = f"bad since date {since.isoformat()!r}: after the date {day.isoformat()}"
        raise InputError(msg)
    clean_title = plain_text(title, max_chars=None).strip() if title else ""
    if len(clean_title) > MAX_TITLE_CHARS:
        msg = (
            f"bad title {clean_title[:40]!r}…: {len(clean_title):,} characters "
            f"(at most {MAX_TITLE_CHARS})"
        )
        raise InputError(msg)
    return Snapshot(
        day=day,
        views=tuple(chosen),
        since=since,
        extent=resolve_extent(theatre, extent, chosen),
        size=parse_size(size),
        title=clean_title or None,
    )


def data_version(theatre: Theatre) -> str:
    """The data-version stamp: a hash of every input the figure's data came from.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre (with uploads, its fingerprint covers the store's revisions).

    Returns
    -------
    str
        12 hex digits.
    """
    return hashlib.sha256(f"frontline-data {theatre.fingerprint}".encode()).hexdigest()[:12]


def figure_id(theatre: Theatre, snap: Snapshot) -> str:
    """Hash of the data-version stamp and of what is drawn.

    Date, views, since, extent, title, and the basemap's tiles when any were drawn.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    snap : Snapshot
        The request.

    Returns
    -------
    str
        8 hex digits: the same for the same data and drawing, whatever the size or format;
        a figure over tiles differs from the same figure in the offline style.
    """
    parts = [
        data_version(theatre),
        snap.day.isoformat(),
        ",".join(snap.views),
        snap.since.isoformat() if snap.since else "",
        ",".join(f"{v:.0f}" for v in snap.extent.bounds),
        snap.title or "",
    ]
    if snap.basemap != "none":  # ids of offline-style figures stay as they were
        parts.append(snap.basemap)
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:8]


def view_name(theatre: Theatre, view: str) -> str:
    """A view's display name (the claimant's name, or how a consolidated view is made).

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    view : str
        View spelling.

    Returns
    -------
    str
        For example ``"General Staff of Ukraine's Armed Forces / Ukrainian officials
        (own word only)"``.
    """
    parsed = theatre.view(view)
    if parsed.claimant is not None and parsed.claimant in theatre.claimants:
        name = plain_text(theatre.claimants[parsed.claimant].name, max_chars=MAX_NAME_CHARS)
        how = "own word only" if parsed.own else "silence filled from other claimants"
        return f"{name} ({how})"
    return f"consolidated ({parsed.label})"


def contributors(theatre: Theatre, view: str) -> set[str]:
    """The claimants whose claims a view's map draws on (its own, and those it weighs).

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    view : str
        View spelling.

    Returns
    -------
    set of str
        Claimant ids.
    """
    v = theatre.view(view)
    return {*([v.claimant] if v.claimant else []), *v.sources, *v.opponents}


def claim_sources(theatre: Theatre, view: str, day: dt.date, limit: int = 3) -> str:
    """The publishers of a view's own claims up to a date, most cited first.

    A claimant's view also weighs other claimants' claims (see
    :func:`pipeline.timeline.parse_view`); those are credited under their own names.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    view : str
        View spelling.
    day : datetime.date
        The date shown.
    limit : int, default 3
        Publishers named; the rest are counted.

    Returns
    -------
    str
        For example ``"Reuters, Kyiv Independent, TASS (+4 more)"``; ``"uploaded maps"``
        for a claimant with uploads only; ``"no claims by <date>"`` before its first claim.
    """
    v = theatre.view(view)
    claimants = {v.claimant} if v.claimant else set(v.sources)
    ledger = theatre.claims
    used = ledger[ledger["claimant"].isin(claimants) & (ledger["date"] <= day)]
    counts = used["publisher"].replace("", np.nan).dropna().value_counts()
    if counts.empty:
        if claimants & set(theatre.private) or not ledger["claimant"].isin(claimants).any():
            return "uploaded maps"
        return f"no claims by {day.isoformat()}"
    names = [str(n) for n in counts.index[:limit]]
    more = len(counts) - len(names)
    return ", ".join(names) + (f" (+{more} more)" if more else "")


def source_line(theatre: Theatre, snap: Snapshot, basemap: str | None = None) -> str:
    """The figure's source line: claimants and their sources, data and basemap credits.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    snap : Snapshot
        The request.
    basemap : str, optional
        The basemap's attribution, when tiles were drawn.

    Returns
    -------
    str
        One paragraph.
    """
    claims = "; ".join(
        f"{v} ({view_name(theatre, v)}) as reported by {claim_sources(theatre, v, snap.day)}"
        for v in snap.views
    )
    weighed = sorted(set().union(*(contributors(theatre, v) for v in snap.views)) - set(snap.views))
    also = f" The views also weigh claims of {', '.join(weighed)}." if weighed else ""
    base = f" Basemap: {basemap}." if basemap else ""
    return f"Claims: {claims}.{also} {ATTRIBUTION}{base}"


def stamp_line(theatre: Theatre, snap: Snapshot) -> str:
    """The figure's stamp: version, data-version stamp, figure id and extent.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    snap : Snapshot
        The request.

    Returns
    -------
    str
        For example ``"Frontline 0.1.0 · data 3f2a… · figure 9b1c… · extent Kursk salient"``.
    """
    return (
        f"Frontline {pipeline.__version__} · data {data_version(theatre)} · "
        f"figure {figure_id(theatre, snap)} · extent {snap.extent.label}"
    )


def citation(theatre: Theatre, snap: Snapshot, permalink: str | None = None) -> str:
    """A ready citation line for a report.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    snap : Snapshot
        The request.
    permalink : str, optional
        The map page's address for this view.

    Returns
    -------
    str
        Title, date, claimants, stamp and permalink in one line.
    """
    link = f" {permalink}" if permalink else ""
    return (
        f"Frontline, “{title_of(snap)}”, claimants: {', '.join(snap.views)}; "
        f"data {data_version(theatre)}, figure {figure_id(theatre, snap)}.{link}"
    )


def title_of(snap: Snapshot) -> str:
    """The figure's title: the one asked for, or the date in words.

    Parameters
    ----------
    snap : Snapshot
        The request.

    Returns
    -------
    str
        For example ``"Claimed control on 25 August 2024"``.
    """
    return snap.title or f"Claimed control on {snap.day.day} {snap.day:%B %Y}"


def label_candidates(theatre: Theatre, snap: Snapshot) -> pd.DataFrame:
    """Settlements to label inside the extent, in order of priority.

    The day's claims come first, then settlements the views' claims named before the
    date (most named first), then the rest by population.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    snap : Snapshot
        The request.

    Returns
    -------
    pandas.DataFrame
        ``place_id``, ``name``, ``lon``, ``lat``, ``x``, ``y`` (:data:`DRAW_CRS`), ``verified``,
        ``precision_m``, ``today`` (named in the day's claims), ``source``, ``licence``.
    """
    located = theatre.places[theatre.places["located"]]
    x, y = TO_DRAW.transform(located["lon"].to_numpy(), located["lat"].to_numpy())
    x0, y0, x1, y1 = snap.extent.bounds
    inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    frame = pd.DataFrame(
        {
            "place_id": located["place_id"].to_numpy(),
            "name": located["name"].to_numpy(),
            "lon": located["lon"].to_numpy(dtype=float),
            "lat": located["lat"].to_numpy(dtype=float),
            "x": x,
            "y": y,
            "verified": located["verified"].to_numpy(dtype=bool),
            "precision_m": located["precision_m"].to_numpy(dtype=float),
            "population": pd.to_numeric(located["population"], errors="coerce")
            .fillna(0)
            .to_numpy(),
            "source": located["source"].to_numpy(),
            "licence": located["licence"].to_numpy(),
        }
    )[inside]
    claimants = set().union(*(contributors(theatre, v) for v in snap.views))
    ledger = theatre.claims[theatre.claims["claimant"].isin(claimants)]
    today = set(ledger.loc[ledger["date"] == snap.day, "place_id"].dropna())
    named = ledger.loc[ledger["date"] <= snap.day, "place_id"].value_counts()
    frame["today"] = frame["place_id"].isin(today)
    frame["named"] = frame["place_id"].map(named).fillna(0).astype(int)
    frame = frame.sort_values(
        ["today", "named", "population", "name"], ascending=[False, False, False, True]
    )
    out: pd.DataFrame = frame.drop(columns=["population"]).reset_index(drop=True)
    return out


def drawn_layers(theatre: Theatre, snap: Snapshot) -> dict[str, gpd.GeoDataFrame]:
    """Exactly what a figure draws, in EPSG:4326, with the sources of every feature.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    snap : Snapshot
        The request.

    Returns
    -------
    dict of str to geopandas.GeoDataFrame
        ``ground`` (each view's ground beyond the border per side; the first view's is
        filled), ``disagreement`` (first two views), ``change`` (first view, when ``since``
        is set), each with ``view``, ``claimant_name``, ``sources``, ``date``, ``area_km2``,
        ``data_version``; empty geometries are dropped.
    """
    stamp = data_version(theatre)
    frames: dict[str, gpd.GeoDataFrame] = {}
    ground = []
    for i, view in enumerate(snap.views):
        held = theatre.ground(view, snap.day).assign(
            view=view, role="filled" if i == 0 else "outlined"
        )
        ground.append(held)
    frames["ground"] = pd.concat(ground, ignore_index=True)
    if len(snap.views) >= 2:
        frames["disagreement"] = theatre.disagreement(snap.views[0], snap.views[1], snap.day)
    if snap.since is not None:
        frames["change"] = theatre.change(snap.views[0], snap.since, snap.day).assign(
            view=snap.views[0]
        )
    # Ground rows name a view as asked, disagreement rows by its label: key both.
    spellings = {k: v for v in snap.views for k in (v, theatre.view(v).label)}
    names = {k: view_name(theatre, v) for k, v in spellings.items()}
    sources = {k: claim_sources(theatre, v, snap.day) for k, v in spellings.items()}
    out: dict[str, gpd.GeoDataFrame] = {}
    for name, frame in frames.items():
        gdf = gpd.GeoDataFrame(frame, geometry="geometry", crs=settings.GEO_CRS)
        geoms = gdf.geometry.to_numpy()
        gdf = gdf[~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)].copy()
        view_col = "view_a" if name == "disagreement" else "view"
        gdf["claimant_name"] = gdf[view_col].map(names)
        gdf["sources"] = gdf[view_col].map(sources)
        gdf["attribution"] = ATTRIBUTION
        gdf["data_version"] = stamp
        out[name] = gdf.reset_index(drop=True)
    return out

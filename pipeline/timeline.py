"""Timeline: who holds which cell on which date, per claimant or consolidated.

How claims combine (the *view* rules)
-------------------------------------
Every cell starts with the side of the country it lies in. A claim moves the settlement's
cell(s) to the claimed side from the claim's date on, until a later claim moves it again.

Claimant view (e.g. ``ua-gs``)
    For each settlement the **newest** claim stands, whoever made it, with two rules for
    whose word it is. The claimant's own claim wins a tie. And when the newest word comes
    only from an **opponent** (a claimant affiliated with the other side) giving the
    settlement to its own side, the claimant has not conceded it: the settlement is
    ``contested`` in the claimant's view. A side rarely announces its losses, so its last
    word on a village would otherwise stand for ever: ua-gs said Sudzha was taken in Aug
    2024; ru-mod's March 2025 claim is newer, so ua-gs's map no longer shows Sudzha as
    Ukrainian (contested, or Russian once a tracker or ua-gs itself says so).
    Where the claimant explicitly rejects a claim (a ``denial``), the disputed settlement
    becomes ``contested`` in the claimant's view from the date of the denial.
Consolidated view over a set of claimants
    The latest claim from any claimant in the set wins; when claims of the same latest
    date disagree, the settlement is ``contested``.

In both views, claims of one date that disagree (e.g. two sources of the same claimant)
make the settlement ``contested``; a claim is never silently dropped.

Reports of fighting lapse
    A ``contested`` claim reports fighting at a moment ("attacks repelled near X"). Unless
    a newer claim speaks of the settlement within
    :data:`pipeline.settings.CONTESTED_LAPSE_DAYS`, the report lapses and the settlement
    returns to the status it had before it; a change date records the lapse. Denials and
    the "not conceded" rule do not lapse: they are a claimant's standing word.

Inferred ground
    Given an :class:`pipeline.inference.Inference`, ground nobody in the view named that
    lies among one side's held settlements is marked ``UA inferred``/``RU inferred``
    (see :mod:`pipeline.inference`).
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from pipeline import settings
from pipeline.errors import InputError
from pipeline.inference import Inference
from pipeline.territory import dissolve_cells

SIDE_CODES: dict[str, int] = {side: i for i, side in enumerate(settings.SIDES)}
"""Side name to the small integer stored in status arrays (UA 0, RU 1, contested 2)."""

STATUS_CODES: dict[str, int] = {status: i for i, status in enumerate(settings.STATUSES)}
"""Every status a cell can have, claimed or inferred (UA inferred 3, RU inferred 4)."""

_NEVER = np.iinfo(np.int32).min
_FOREVER = np.iinfo(np.int32).max


@dataclass(frozen=True)
class View:
    """Whose map: one claimant's view, or the consolidated view of several claimants.

    Attributes
    ----------
    claimant : str or None
        The claimant whose view this is; None for a consolidated view.
    sources : tuple of str
        For a claimant view, the other claimants whose claims fill its silence and
        override its older claims; for a consolidated view, its members.
    opponents : tuple of str
        For a claimant view, the claimants of the other side: their claims override the
        claimant's older claims; where the claimant is silent, a newest claim of theirs
        for their own side makes the settlement contested.
    side : str or None
        The side the claimant belongs to (``UA``/``RU``), None for independent ones.
    own : bool
        True for an *own word only* view (``own:ua-gs``, or an uploaded map's view): only
        the claimant's claims count and its silence is unknown (the ground keeps its
        country's side and is not drawn as anyone's).
    private : bool
        An analyst's uploaded map: own word by nature, spelt by its bare name.
    """

    claimant: str | None
    sources: tuple[str, ...]
    opponents: tuple[str, ...] = ()
    side: str | None = None
    own: bool = False
    private: bool = False

    @property
    def label(self) -> str:
        """Short label: ``ua-gs``, ``own:ua-gs`` or ``consolidated:a+b+c``."""
        if self.claimant is not None:
            return f"own:{self.claimant}" if self.own and not self.private else self.claimant
        return "consolidated:" + "+".join(self.sources)

    @property
    def short(self) -> str:
        """Label saying how the view is built, for legends: ``ua-gs (filled)``."""
        if self.claimant is None:
            return self.label
        return f"{self.claimant} ({self._how})"

    @property
    def _how(self) -> str:
        return "own word" if self.own else "filled"

    def in_view(self, drawn: str = "") -> str:
        """Whose view a legend entry or a tooltip is, never a bare claimant id.

        A bare id ("Held by Ukraine: ru-mod") would read as that claimant's own statement.

        Parameters
        ----------
        drawn : str, optional
            How the layer is drawn (``outline``), added inside the brackets.

        Returns
        -------
        str
            E.g. ``"in ua-gs's view (filled)"``, ``"in ru-mod's view (own word, outline)"``
            or ``"in the consolidated:isw+ua-gs view (outline)"``.
        """
        if self.claimant is None:
            return f"in the {self.label} view" + (f" ({drawn})" if drawn else "")
        return f"in {self.claimant}'s view ({', '.join(p for p in (self._how, drawn) if p)})"

    @property
    def description(self) -> str:
        """How the view is built, in words, for legends, figures and exports.

        Returns
        -------
        str
            E.g. ``"ua-gs, own word only (silence unknown)"`` or ``"ua-gs, filled from
            deepstate, isw (opposed: ru-mod)"``.
        """
        if self.claimant is None:
            return f"consolidated over {', '.join(self.sources) or 'no claimant'}"
        if self.own:
            return f"{self.claimant}, own word only (silence unknown)"
        filled = f"{self.claimant}, filled from {', '.join(self.sources) or 'no one'}"
        return f"{filled} (opposed: {', '.join(self.opponents)})" if self.opponents else filled


def parse_view(
    spec: str,
    known: Sequence[str],
    affiliations: Mapping[str, str] | None = None,
    private: Collection[str] = (),
) -> View:
    """Read a view from its command-line spelling.

    Parameters
    ----------
    spec : str
        A claimant id (``ua-gs``: its word, silence filled from the others),
        ``own:ua-gs`` (its word only), ``consolidated`` (all claimants) or
        ``consolidated:ua-gs+isw`` (a chosen set; ``,`` also separates).
    known : sequence of str
        Known claimant ids.
    affiliations : mapping of str to str, optional
        Claimant id to ``UA``, ``RU`` or ``independent``; claimants affiliated with the
        other side are the view's opponents. Without it a view has no opponents.
    private : collection of str, optional
        Claimants whose claims stay in their own view (analysts' uploaded maps): they
        neither fill nor oppose another view, their own view has no other sources, and
        plain ``consolidated`` leaves them out (name them to include them).

    Returns
    -------
    View
        The view.

    Raises
    ------
    InputError
        When the spec names an unknown claimant or an empty set.

    Examples
    --------
    >>> parse_view("consolidated:isw+deepstate", ["ru-mod", "ua-gs", "deepstate", "isw"]).label
    'consolidated:deepstate+isw'
    >>> parse_view("own:isw", ["ru-mod", "ua-gs", "deepstate", "isw"]).description
    'isw, own word only (silence unknown)'
    """
    text = spec.strip()
    if text in private and text in known:
        return View(text, (), (), None, own=True, private=True)
    if text.startswith("own:"):
        who = text.split(":", 1)[1].strip()
        if who not in known:
            msg = f"unknown claimant {who!r} in view {spec!r}; known: {', '.join(known)}"
            raise InputError(msg)
        if who in private:
            return View(who, (), (), None, own=True, private=True)
        side = (affiliations or {}).get(who, "independent")
        return View(who, (), (), side if side in ("UA", "RU") else None, own=True)
    if text == "consolidated":
        return View(None, tuple(sorted(k for k in known if k not in private)))
    if text.startswith("consolidated:"):
        members = [m.strip() for m in text.split(":", 1)[1].replace(",", "+").split("+")]
        members = [m for m in members if m]
        unknown = [m for m in members if m not in known]
        if unknown or not members:
            msg = f"bad view {spec!r}: unknown claimant(s) {unknown}; known: {', '.join(known)}"
            raise InputError(msg)
        return View(None, tuple(sorted(set(members))))
    if text not in known:
        msg = f"unknown claimant {spec!r}; known: {', '.join(known)}, or 'consolidated'"
        raise InputError(msg)
    aff = affiliations or {}
    mine = aff.get(text, "independent")
    opponents = tuple(
        sorted(
            k
            for k in known
            if k != text
            and k not in private
            and mine in ("UA", "RU")
            and aff.get(k, "independent") in ("UA", "RU")
            and aff.get(k) != mine
        )
    )
    sources = tuple(
        sorted(k for k in known if k != text and k not in opponents and k not in private)
    )
    return View(text, sources, opponents, mine if mine in ("UA", "RU") else None)


def map_events(claims: pd.DataFrame) -> pd.DataFrame:
    """Turn the ledger into dated events that move settlements between sides.

    Control claims are events as they are. A denial becomes, for each disputed control
    claim, a ``contested`` event of the denying claimant at the disputed place on the
    denial's date. Area claims carry no geometry and make no event.

    Parameters
    ----------
    claims : pandas.DataFrame
        Validated claims (:func:`pipeline.claims.validate_claims`).

    Returns
    -------
    pandas.DataFrame
        Columns ``date`` (datetime.date), ``place_id``, ``claimant``, ``side``,
        ``claim_id``, ``denial`` (bool), sorted by date.
    """
    control = claims[claims["kind"] == "control"]
    rows: list[tuple[Any, ...]] = [
        (r["date"], r["place_id"], r["claimant"], r["side"], r["claim_id"], False)
        for r in control.to_dict("records")
    ]
    place_of = dict(zip(control["claim_id"], control["place_id"], strict=True))
    for r in claims[claims["kind"] == "denial"].to_dict("records"):
        rows += [
            (r["date"], place_of[d], r["claimant"], "contested", r["claim_id"], True)
            for d in r["disputes"]
            if d in place_of
        ]
    events = pd.DataFrame(
        rows, columns=["date", "place_id", "claimant", "side", "claim_id", "denial"]
    )
    return events.sort_values(["date", "denial", "claim_id"], kind="stable").reset_index(drop=True)


def _resolve(
    latest: NDArray[np.int64], masks: NDArray[np.int64], base: int, opponent_bit: int
) -> int:
    """Side of one settlement from its latest own, other and opponent claims."""
    own, other, opponent = (int(v) for v in latest)
    newest = max(own, other, opponent)
    if newest == _NEVER:
        return base
    if own == newest:
        return _side_of(int(masks[0]))
    if other == newest:
        return _side_of(int(masks[1]) | (int(masks[2]) if opponent == newest else 0))
    if int(masks[2]) == opponent_bit:
        return SIDE_CODES["contested"]  # only the other side says it took it: not conceded
    return _side_of(int(masks[2]))


def _side_of(mask: int) -> int:
    if mask in (1, 2, 4):
        return mask.bit_length() - 1
    return SIDE_CODES["contested"]


@dataclass(frozen=True)
class StatusTable:
    """Side of every cell at every change date of one view.

    Attributes
    ----------
    view : View
        The view this table was computed for.
    dates : tuple of datetime.date
        Change dates, ascending (dates with at least one event of the view).
    place_status : numpy.ndarray
        ``int8 [len(dates), n_places]``: side code of each settlement on each date.
    cell_place : numpy.ndarray
        ``int64 [n_cells]``: index of each cell's settlement, -1 for open ground.
    baseline : numpy.ndarray
        ``int8 [n_cells]``: side of each cell before any claim (its country).
    place_ids : tuple of str
        Settlement ids in the order of ``place_status`` columns.
    inferred : tuple of (numpy.ndarray, numpy.ndarray)
        Per date (empty when no inference ran): the cells inferred to a side and their
        inferred status codes (see :mod:`pipeline.inference`).
    """

    view: View
    dates: tuple[dt.date, ...]
    place_status: NDArray[np.int8]
    cell_place: NDArray[np.int64]
    baseline: NDArray[np.int8]
    place_ids: tuple[str, ...]
    inferred: tuple[tuple[NDArray[np.int64], NDArray[np.int8]], ...] = ()

    @cached_property
    def _days(self) -> NDArray[np.datetime64]:
        return np.array(self.dates, dtype="datetime64[D]")

    @cached_property
    def place_baseline(self) -> NDArray[np.int8]:
        """Side of each settlement before any claim (its country's), ``int8 [n_places]``."""
        base = np.zeros(len(self.place_ids), dtype=np.int8)
        has_place = self.cell_place >= 0
        base[self.cell_place[has_place]] = self.baseline[has_place]
        return base

    def row_on(self, day: dt.date) -> int:
        """Index of the last change date on or before ``day``; -1 before the first.

        Parameters
        ----------
        day : datetime.date
            Any date.

        Returns
        -------
        int
            Row of :attr:`place_status`, or -1.
        """
        return int(np.searchsorted(self._days, np.datetime64(day, "D"), side="right")) - 1

    def cell_status(self, day: dt.date) -> NDArray[np.int8]:
        """Status code of every cell on a date, inferred ground included.

        Parameters
        ----------
        day : datetime.date
            Any date.

        Returns
        -------
        numpy.ndarray
            ``int8 [n_cells]``.
        """
        row = self.row_on(day)
        if row < 0:
            return self.baseline.copy()
        status = self.baseline.copy()
        has_place = self.cell_place >= 0
        status[has_place] = self.place_status[row, self.cell_place[has_place]]
        if self.inferred:
            cells, codes = self.inferred[row]
            status[cells] = codes
        return status


def status_table(
    cells: gpd.GeoDataFrame,
    events: pd.DataFrame,
    view: View,
    inference: Inference | None = None,
) -> StatusTable:
    """Compute the status of every settlement at every change date of a view.

    Parameters
    ----------
    cells : geopandas.GeoDataFrame
        Cells from :func:`pipeline.territory.cells_from_points`.
    events : pandas.DataFrame
        Events from :func:`map_events`. Events at places without a cell are ignored.
    view : View
        Whose map.
    inference : Inference, optional
        When given, unclaimed settlements enclosed by a side's held ones are marked
        ``UA inferred``/``RU inferred`` on each date (see :mod:`pipeline.inference`).

    Returns
    -------
    StatusTable
        The table.
    """
    baseline = np.array([SIDE_CODES[c] for c in cells["country"]], dtype=np.int8)
    place_ids = tuple(sorted({p for p in cells["place_id"] if isinstance(p, str)}))
    index = {p: i for i, p in enumerate(place_ids)}
    cell_place = np.array(
        [index[p] if isinstance(p, str) else -1 for p in cells["place_id"]], dtype=np.int64
    )
    empty = StatusTable(
        view, (), np.zeros((0, len(place_ids)), np.int8), cell_place, baseline, place_ids
    )
    place_base = empty.place_baseline

    members = set(view.sources) | set(view.opponents)
    ev = events[
        events["place_id"].isin(index)
        & (events["claimant"].isin(members) | (events["claimant"] == view.claimant))
    ]
    # Latest claim date and the sides claimed that day, per settlement, for three kinds
    # of claimant: 0 the view's own, 1 the others that fill its silence, 2 its opponents.
    latest = np.full((3, len(place_ids)), _NEVER, dtype=np.int64)
    masks = np.zeros((3, len(place_ids)), dtype=np.int64)
    status = place_base.copy()
    dates: list[dt.date] = []
    rows: list[NDArray[np.int8]] = []
    inferred: list[tuple[NDArray[np.int64], NDArray[np.int8]]] = []
    has_place = cell_place >= 0
    days = np.array([d.toordinal() for d in ev["date"]], dtype=np.int64)
    pidx = np.array([index[p] for p in ev["place_id"]], dtype=np.int64)
    bits = np.array([1 << SIDE_CODES[s] for s in ev["side"]], dtype=np.int64)
    kind = np.where(
        (ev["claimant"] == view.claimant).to_numpy(),
        0,
        np.where(ev["claimant"].isin(set(view.opponents)).to_numpy(), 2, 1),
    )
    xy = inference.coordinates(place_ids) if inference is not None else np.empty((0, 2))
    other_side = {"UA": "RU", "RU": "UA"}.get(view.side or "")
    opponent_bit = 1 << SIDE_CODES[other_side] if other_side else 0
    # A report of fighting (a "contested" claim, not a denial) lapses after
    # CONTESTED_LAPSE_DAYS unless a newer claim speaks of the place: it then returns to
    # the status it had before the report. Lapses after the ledger's last date are not
    # applied, so the table's dates stay within the ledger.
    reports = ((ev["side"] == "contested") & ~ev["denial"].astype(bool)).to_numpy()
    last_day = max((d.toordinal() for d in events["date"]), default=0)
    lapse = int(settings.CONTESTED_LAPSE_DAYS)
    before_report = place_base.copy()
    pending: list[tuple[int, int, int]] = []
    start = 0
    while start < len(ev) or pending:
        next_event = int(days[start]) if start < len(ev) else _FOREVER
        today = min(next_event, pending[0][0] if pending else _FOREVER)
        end = start
        while end < len(ev) and days[end] == today:
            end += 1
        touched: set[int] = set()
        reported: set[int] = set()
        for k in range(start, end):
            p, day_k, who = int(pidx[k]), int(days[k]), int(kind[k])
            if day_k > latest[who, p]:
                latest[who, p], masks[who, p] = day_k, 0
            masks[who, p] |= int(bits[k])
            touched.add(p)
            if reports[k]:
                reported.add(p)
        contested = SIDE_CODES["contested"]
        for p in touched:
            was = int(status[p])
            status[p] = _resolve(latest[:, p], masks[:, p], int(place_base[p]), opponent_bit)
            if p in reported and status[p] == contested:
                if was != contested:
                    before_report[p] = was
                if today + lapse <= last_day:
                    heapq.heappush(pending, (today + lapse, p, today))
        while pending and pending[0][0] == today:
            _, p, reported_on = heapq.heappop(pending)
            if int(latest[:, p].max()) == reported_on and status[p] == contested:
                status[p] = before_report[p]
                touched.add(p)
        start = end
        if not touched:
            continue
        dates.append(dt.date.fromordinal(today))
        rows.append(status.copy())
        if inference is not None:
            claimed = (latest != _NEVER).any(axis=0)
            cells_now = baseline.copy()
            cells_now[has_place] = status[cell_place[has_place]]
            cell_open = np.ones(len(cell_place), dtype=bool)
            cell_open[has_place] = ~claimed[cell_place[has_place]]
            inferred.append(
                inference.enclosed(
                    xy, status, place_base, cells_now, cell_open, baseline, STATUS_CODES
                )
            )
    if not rows:
        return empty
    table = np.vstack(rows).astype(np.int8)
    return StatusTable(view, tuple(dates), table, cell_place, baseline, place_ids, tuple(inferred))


def _region_mask(cells: gpd.GeoDataFrame, within: str | None) -> NDArray[np.bool_]:
    if within is None:
        return np.ones(len(cells), dtype=bool)
    mask: NDArray[np.bool_] = (cells["region_id"] == within).to_numpy()
    if not mask.any():
        msg = f"no ground in region {within!r}"
        raise InputError(msg)
    return mask


def _to_frame(rows: list[dict[str, object]], cells: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs=cells.crs)
    if len(gdf):
        gdf["area_km2"] = gdf["area_km2"].astype(float).round(3)
        gdf["area_mi2"] = (gdf["area_km2"] * settings.SQ_MILES_PER_KM2).round(3)
    return gdf.to_crs(settings.GEO_CRS)


def side_areas(
    table: StatusTable, cells: gpd.GeoDataFrame, day: dt.date, within: str | None = None
) -> dict[str, float]:
    """Area held by each side on a date, in km².

    Parameters
    ----------
    table : StatusTable
        The view's status table.
    cells : geopandas.GeoDataFrame
        The cells the table was computed on.
    day : datetime.date
        The date.
    within : str, optional
        Restrict to one region (ISO 3166-2 id).

    Returns
    -------
    dict of str to float
        Every status of :data:`pipeline.settings.STATUSES` to km²: ``UA``, ``RU``,
        ``contested``, ``UA inferred``, ``RU inferred``.
    """
    mask = _region_mask(cells, within)
    status = table.cell_status(day)
    weights = np.where(mask, cells["area_km2"].to_numpy(), 0.0)
    sums = np.bincount(status, weights=weights, minlength=len(settings.STATUSES))
    return {side: float(sums[i]) for i, side in enumerate(settings.STATUSES)}


def polygons_on(
    table: StatusTable,
    cells: gpd.GeoDataFrame,
    day: dt.date,
    within: str | None = None,
    *,
    beyond_border: bool = False,
) -> gpd.GeoDataFrame:
    """The ground held by each side on a date, one (multi)polygon per side.

    Parameters
    ----------
    table : StatusTable
        The view's status table.
    cells : geopandas.GeoDataFrame
        The cells the table was computed on.
    day : datetime.date
        The date.
    within : str, optional
        Restrict to one region (ISO 3166-2 id).
    beyond_border : bool, default False
        Keep only ground a side holds outside its own country (and contested ground):
        what a map draws over the countries. Much cheaper to dissolve.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``view``, ``date``, ``side``, ``area_km2``, ``area_mi2``, ``cells``,
        ``geometry`` (EPSG:4326); a side holding nothing has an empty geometry.
    """
    mask = _region_mask(cells, within)
    status = table.cell_status(day)
    if beyond_border:
        mask = mask & (status != table.baseline)
    rows: list[dict[str, object]] = []
    for side, code in STATUS_CODES.items():
        sel = mask & (status == code)
        rows.append(
            {
                "view": table.view.label,
                "date": day.isoformat(),
                "side": side,
                "area_km2": float(cells["area_km2"].to_numpy()[sel].sum()),
                "cells": int(sel.sum()),
                "geometry": dissolve_cells(cells, sel),
            }
        )
    return _to_frame(rows, cells)


def change_between(
    table: StatusTable,
    cells: gpd.GeoDataFrame,
    since: dt.date,
    day: dt.date,
    within: str | None = None,
) -> gpd.GeoDataFrame:
    """Ground each side gained and lost between two dates.

    Parameters
    ----------
    table : StatusTable
        The view's status table.
    cells : geopandas.GeoDataFrame
        The cells the table was computed on.
    since, day : datetime.date
        Earlier and later date (``since <= day``).
    within : str, optional
        Restrict to one region (ISO 3166-2 id).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per side and change (``gained``/``lost``) with ``area_km2``,
        ``area_mi2``, ``moves`` (where the ground came from or went, e.g.
        ``"RU → contested 439 km²"``: a side's loss is often contested ground, not the
        other side's gain) and ``geometry`` (EPSG:4326).

    Raises
    ------
    InputError
        When ``since`` is after ``day``.
    """
    if since > day:
        msg = f"bad date range: since {since.isoformat()} is after {day.isoformat()}"
        raise InputError(msg)
    mask = _region_mask(cells, within)
    before, after = table.cell_status(since), table.cell_status(day)
    area = cells["area_km2"].to_numpy()
    rows: list[dict[str, object]] = []
    for side, code in STATUS_CODES.items():
        for change, sel in (
            ("gained", (after == code) & (before != code)),
            ("lost", (before == code) & (after != code)),
        ):
            sel = sel & mask
            other = before if change == "gained" else after
            parts = []
            for name, o in STATUS_CODES.items():
                moved = float(area[sel & (other == o)].sum())
                if moved > 0:
                    pair = (name, side) if change == "gained" else (side, name)
                    size = f"{moved:,.0f}" if moved >= 0.5 else "<1"
                    parts.append((moved, f"{pair[0]} → {pair[1]} {size} km²"))
            rows.append(
                {
                    "view": table.view.label,
                    "since": since.isoformat(),
                    "date": day.isoformat(),
                    "side": side,
                    "change": change,
                    "moves": ", ".join(text for _, text in sorted(parts, reverse=True)),
                    "area_km2": float(area[sel].sum()),
                    "cells": int(sel.sum()),
                    "geometry": dissolve_cells(cells, sel),
                }
            )
    return _to_frame(rows, cells)


def disagreement(
    table_a: StatusTable,
    table_b: StatusTable,
    cells: gpd.GeoDataFrame,
    day: dt.date,
    within: str | None = None,
) -> gpd.GeoDataFrame:
    """Where two views disagree on a date, grouped by what each says.

    Parameters
    ----------
    table_a, table_b : StatusTable
        The two views' tables, computed on the same cells.
    cells : geopandas.GeoDataFrame
        The cells.
    day : datetime.date
        The date.
    within : str, optional
        Restrict to one region (ISO 3166-2 id).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per pair of differing sides with ``view_a``, ``view_b``, ``side_a``,
        ``side_b``, ``area_km2``, ``area_mi2``, ``geometry`` (EPSG:4326); no rows when
        the views agree everywhere.
    """
    mask = _region_mask(cells, within)
    a, b = table_a.cell_status(day), table_b.cell_status(day)
    area = cells["area_km2"].to_numpy()
    rows: list[dict[str, object]] = []
    for side_a, ca in STATUS_CODES.items():
        for side_b, cb in STATUS_CODES.items():
            sel = mask & (a == ca) & (b == cb)
            if ca == cb or not sel.any():
                continue
            rows.append(
                {
                    "view_a": table_a.view.label,
                    "view_b": table_b.view.label,
                    "date": day.isoformat(),
                    "side_a": side_a,
                    "side_b": side_b,
                    "area_km2": float(area[sel].sum()),
                    "cells": int(sel.sum()),
                    "geometry": dissolve_cells(cells, sel),
                }
            )
    if not rows:
        return gpd.GeoDataFrame(
            columns=[
                "view_a",
                "view_b",
                "date",
                "side_a",
                "side_b",
                "area_km2",
                "area_mi2",
                "cells",
                "geometry",
            ],
            geometry="geometry",
            crs=settings.GEO_CRS,
        )
    return _to_frame(rows, cells)


def area_series(
    table: StatusTable,
    cells: gpd.GeoDataFrame,
    side: str,
    within: str | None = None,
    dates: Iterable[dt.date] | None = None,
) -> pd.DataFrame:
    """Area held by a side at every change date of the view (or at given dates).

    Parameters
    ----------
    table : StatusTable
        The view's status table.
    cells : geopandas.GeoDataFrame
        The cells the table was computed on.
    side : str
        ``UA``, ``RU`` or ``contested``.
    within : str, optional
        Restrict to one region (ISO 3166-2 id).
    dates : iterable of datetime.date, optional
        Dates to report; default: the day before the first change, then every change date.

    Returns
    -------
    pandas.DataFrame
        Columns ``date`` (ISO string), ``area_km2``, ``area_mi2``, ``change_km2``.

    Raises
    ------
    InputError
        When ``side`` is not a known side.
    """
    if side not in STATUS_CODES:
        msg = f"unknown side {side!r}; expected one of {', '.join(settings.STATUSES)}"
        raise InputError(msg)
    code = STATUS_CODES[side]
    mask = _region_mask(cells, within)
    area = np.where(mask, cells["area_km2"].to_numpy(), 0.0)
    if dates is None:
        first = [table.dates[0] - dt.timedelta(days=1)] if table.dates else []
        days = first + list(table.dates)
    else:
        days = sorted(dates)
    # One value per change date, then the value before any claim (picked by row -1).
    held = np.array(
        [area[table.cell_status(d) == code].sum() for d in table.dates]
        + [area[table.baseline == code].sum()],
        dtype=np.float64,
    )
    rows = np.array([table.row_on(day) for day in days], dtype=np.int64)
    km2 = np.round(held[rows], 3)
    return pd.DataFrame(
        {
            "date": [d.isoformat() for d in days],
            "area_km2": km2,
            "area_mi2": np.round(km2 * settings.SQ_MILES_PER_KM2, 3),
            "change_km2": np.round(np.diff(km2, prepend=km2[:1]), 3),
        }
    )


def area_chart_frame(
    tables: Sequence[StatusTable], cells: gpd.GeoDataFrame, within: str | None = None
) -> pd.DataFrame:
    """Ground each view gives to Ukraine over time, in long form for charts.

    Parameters
    ----------
    tables : sequence of StatusTable
        One per view.
    cells : geopandas.GeoDataFrame
        The cells the tables were computed on.
    within : str, optional
        Restrict to one region (ISO 3166-2 id).

    Returns
    -------
    pandas.DataFrame
        ``view``, ``date`` (ISO), ``measure`` (``held by Ukraine``, ``held or
        contested``, ``held, contested or inferred``) and ``area_km2``, at the union of
        the views' change dates.
    """
    days = sorted(set().union(*(t.dates for t in tables)))
    if days:
        days = [days[0] - dt.timedelta(days=1), *days]
    parts = []
    for table in tables:
        ua = area_series(table, cells, "UA", within, days)
        contested = area_series(table, cells, "contested", within, days)
        inferred = area_series(table, cells, "UA inferred", within, days)
        for measure, values in (
            ("held by Ukraine", ua["area_km2"]),
            ("held or contested", ua["area_km2"] + contested["area_km2"]),
            (
                "held, contested or inferred",
                ua["area_km2"] + contested["area_km2"] + inferred["area_km2"],
            ),
        ):
            parts.append(
                pd.DataFrame(
                    {
                        "view": table.view.label,
                        "date": ua["date"],
                        "measure": measure,
                        "area_km2": values,
                    }
                )
            )
    if not parts:
        return pd.DataFrame(columns=["view", "date", "measure", "area_km2"])
    return pd.concat(parts, ignore_index=True)

"""Ledger views: filtering the claims, where claimants disagree or reverse, exporting safely."""

from __future__ import annotations

import datetime as dt
import io
import numbers
from collections.abc import Collection

import numpy as np
import pandas as pd

from pipeline.claims import CLAIM_COLUMNS
from pipeline.errors import InputError
from pipeline.places import Gazetteer
from pipeline.safetext import spreadsheet_cell

EXPORT_COLUMNS = (*CLAIM_COLUMNS, "place_id", "region_id", "conflict_with")

CONFLICT_WINDOW_DAYS: int = 7
"""Default conflict window: claims at most this many days apart disagree; further, reverse.

A week, because that is how often every claimant speaks again: in the embedded ledger each
claimant's median interval between report dates is 3 to 5.5 days (ru-mod and deepstate 3,
isw 4.5, ua-gs 5.5), so two contradicting claims within a week are each claimant's current
word, not one claimant's old word outlived by the other's news. The ledger's gaps break
there too: when this was chosen, 48 of the 123 conflicting pairs were 0 to 7 days apart,
4 were 8 and none 9, and the rest spread out to 253 days.
"""

CONFLICT_KINDS = ("disagreement", "reversal")
"""What a conflicting pair is: within the window (``disagreement``) or beyond (``reversal``)."""

CONFLICT_COLUMNS = (
    "place_id",
    "claim_a",
    "claimant_a",
    "side_a",
    "claim_b",
    "claimant_b",
    "side_b",
    "from",
    "to",
    "gap_days",
    "kind",
)
"""Columns of :func:`conflicts`, in order."""


def filter_claims(
    ledger: pd.DataFrame,
    gaz: Gazetteer,
    claimants: Collection[str] = (),
    place: str = "",
    sides: Collection[str] = (),
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> pd.DataFrame:
    """Claims matching every given filter (an empty filter matches everything).

    Parameters
    ----------
    ledger : pandas.DataFrame
        Validated claims.
    gaz : Gazetteer
        Resolves ``place`` in any spelling; every candidate it ranks counts.
    claimants, sides : collection of str
        Keep these claimants / sides.
    place : str
        A place in any spelling (``"Горналь"``, ``"Hornal"``).
    start, end : datetime.date, optional
        Date range, inclusive.

    Returns
    -------
    pandas.DataFrame
        The matching rows, in ledger order.
    """
    keep = np.ones(len(ledger), dtype=bool)
    if claimants:
        keep &= ledger["claimant"].isin(set(claimants)).to_numpy()
    if sides:
        keep &= ledger["side"].isin(set(sides)).to_numpy()
    if start is not None:
        keep &= (ledger["date"] >= start).to_numpy()
    if end is not None:
        keep &= (ledger["date"] <= end).to_numpy()
    if place.strip():
        ids = {c.place_id for c in gaz.resolve(place).candidates}
        keep &= ledger["place_id"].isin(ids).to_numpy()
    return ledger[keep]


def conflicts(ledger: pd.DataFrame, window_days: int = CONFLICT_WINDOW_DAYS) -> pd.DataFrame:
    """Pairs of claims that contradict each other, each a disagreement or a reversal.

    A control claim stands from its date until its claimant's next claim about the same
    settlement. Two claims conflict when they are about the same settlement, come from
    different claimants, give it to different sides, and both stand on a common day. A
    conflicting pair dated at most ``window_days`` apart is a *disagreement* (the claimants
    said different things at about the same time); a pair further apart is a *reversal*
    (the later claim reports a change that the earlier claimant had not followed by then).

    Parameters
    ----------
    ledger : pandas.DataFrame
        Validated claims.
    window_days : int, default :data:`CONFLICT_WINDOW_DAYS`
        Largest gap, in days, between the two claims' dates for a disagreement (0: the
        same day only).

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`CONFLICT_COLUMNS`: ``place_id``, ``claim_a``,
        ``claimant_a``, ``side_a``, ``claim_b``, ``claimant_b``, ``side_b``, ``from`` and
        ``to`` (the overlap, ``to`` None when open-ended), ``gap_days`` (days between the
        two claims' dates) and ``kind`` (one of :data:`CONFLICT_KINDS`), sorted by
        ``from``. Which pairs conflict does not depend on ``window_days``; only ``kind``
        does.

    Raises
    ------
    InputError
        If ``window_days`` is not a whole number of days, or is negative.
    """
    window = _checked_window(window_days)
    pairs = _standing_pairs(ledger)
    kinds = np.where(pairs["gap_days"].to_numpy() <= window, *CONFLICT_KINDS)
    return pairs.assign(kind=kinds.astype(object))[list(CONFLICT_COLUMNS)]


def conflicts_involving(pairs: pd.DataFrame, claim_ids: Collection[str]) -> pd.DataFrame:
    """The conflicting pairs in which at least one of the given claims takes part.

    Parameters
    ----------
    pairs : pandas.DataFrame
        Pairs from :func:`conflicts`.
    claim_ids : collection of str
        Claim ids (for instance those a filter kept).

    Returns
    -------
    pandas.DataFrame
        The rows of ``pairs`` whose ``claim_a`` or ``claim_b`` is in ``claim_ids``, in
        their order.
    """
    ids = set(claim_ids)
    keep = pairs["claim_a"].isin(ids) | pairs["claim_b"].isin(ids)
    return pairs[keep.to_numpy()]


def _checked_window(window_days: object) -> int:
    """The window as an int, or an :class:`InputError` naming the bad value."""
    if isinstance(window_days, bool) or not isinstance(window_days, numbers.Integral):
        msg = f"conflict window must be a whole number of days, got {window_days!r}"
        raise InputError(msg)
    if window_days < 0:
        msg = f"conflict window must be 0 days or more, got {window_days!r}"
        raise InputError(msg)
    return int(window_days)


def _standing_pairs(ledger: pd.DataFrame) -> pd.DataFrame:
    """Conflicting pairs with their overlap and gap (every column of a conflict but kind)."""
    control = ledger.loc[
        (ledger["kind"] == "control") & ledger["place_id"].notna(),
        ["claim_id", "place_id", "claimant", "side", "date"],
    ].sort_values(["place_id", "claimant", "date"])
    control = control.assign(
        until=pd.to_datetime(control.groupby(["place_id", "claimant"])["date"].shift(-1)),
        day=pd.to_datetime(control["date"]),
        order=np.arange(len(control)),
    )
    both = control.merge(control, on="place_id", suffixes=("_a", "_b"))
    # Claimants sort apart, so each unordered pair of claims appears once, a before b.
    both = both[(both["claimant_a"] < both["claimant_b"]) & (both["side_a"] != both["side_b"])]
    start = both[["day_a", "day_b"]].max(axis=1)
    stop = both[["until_a", "until_b"]].min(axis=1)  # NaT when both stand open-ended
    both = both.assign(start=start, stop=stop)[stop.isna() | (start < stop)]
    both = both.sort_values(["start", "order_a", "order_b"], kind="stable")
    return pd.DataFrame(
        {
            "place_id": both["place_id"].to_numpy(),
            "claim_a": both["claim_id_a"].to_numpy(),
            "claimant_a": both["claimant_a"].to_numpy(),
            "side_a": both["side_a"].to_numpy(),
            "claim_b": both["claim_id_b"].to_numpy(),
            "claimant_b": both["claimant_b"].to_numpy(),
            "side_b": both["side_b"].to_numpy(),
            "from": [d.date() for d in both["start"]],
            "to": [None if pd.isna(d) else d.date() for d in both["stop"]],
            "gap_days": (both["day_b"] - both["day_a"]).abs().dt.days.to_numpy(dtype=np.int64),
        }
    )


def with_conflicts(ledger: pd.DataFrame) -> pd.DataFrame:
    """The ledger with a ``conflict_with`` column: the ids of the claims each contradicts.

    Every pair :func:`conflicts` finds counts, disagreement or reversal alike.

    Parameters
    ----------
    ledger : pandas.DataFrame
        Validated claims.

    Returns
    -------
    pandas.DataFrame
        A copy with ``conflict_with`` (``;``-separated claim ids, empty when none).
    """
    pairs = conflicts(ledger)
    other: dict[str, list[str]] = {}
    for a, b in zip(pairs["claim_a"], pairs["claim_b"], strict=True):
        other.setdefault(a, []).append(b)
        other.setdefault(b, []).append(a)
    out = ledger.copy()
    out["conflict_with"] = [";".join(sorted(other.get(c, []))) for c in ledger["claim_id"]]
    return out


def claims_to_csv(ledger: pd.DataFrame) -> str:
    """Export claims as CSV that opens safely in a spreadsheet.

    Parameters
    ----------
    ledger : pandas.DataFrame
        Claims (validated, optionally with ``conflict_with``).

    Returns
    -------
    str
        CSV text with the columns of :data:`EXPORT_COLUMNS` that are present; every text
        cell that could start a formula is neutralised.
    """
    cols = [c for c in EXPORT_COLUMNS if c in ledger.columns]
    out = ledger[cols].copy()
    if "disputes" in cols:
        out["disputes"] = [";".join(d) for d in out["disputes"]]
    out = out.astype(object).map(spreadsheet_cell)
    buf = io.StringIO()
    out.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()

"""Ledger views: filtering the claims, finding where claimants conflict, exporting safely."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Collection

import numpy as np
import pandas as pd

from pipeline.claims import CLAIM_COLUMNS
from pipeline.places import Gazetteer
from pipeline.safetext import spreadsheet_cell

EXPORT_COLUMNS = (*CLAIM_COLUMNS, "place_id", "region_id", "conflict_with")


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


def conflicts(ledger: pd.DataFrame) -> pd.DataFrame:
    """Pairs of claims that contradict each other.

    A control claim stands from its date until its claimant's next claim about the same
    settlement. Two claims conflict when they are about the same settlement, come from
    different claimants, give it to different sides, and stand at the same time.

    Parameters
    ----------
    ledger : pandas.DataFrame
        Validated claims.

    Returns
    -------
    pandas.DataFrame
        ``place_id``, ``claim_a``, ``claimant_a``, ``side_a``, ``claim_b``,
        ``claimant_b``, ``side_b``, ``from`` and ``to`` (the overlap, ``to`` empty when
        open-ended), sorted by date.
    """
    control = ledger[ledger["kind"] == "control"].sort_values(["place_id", "claimant", "date"])
    spans = control.assign(until=control.groupby(["place_id", "claimant"])["date"].shift(-1))
    rows = []
    for place_id, group in spans.groupby("place_id", sort=True):
        records = group.to_dict("records")
        for i, a in enumerate(records):
            for b in records[i + 1 :]:
                if a["claimant"] == b["claimant"] or a["side"] == b["side"]:
                    continue
                start = max(a["date"], b["date"])
                ends = [u for u in (a["until"], b["until"]) if isinstance(u, dt.date)]
                stop = min(ends) if ends else None
                if stop is None or start < stop:
                    rows.append(
                        {
                            "place_id": place_id,
                            "claim_a": a["claim_id"],
                            "claimant_a": a["claimant"],
                            "side_a": a["side"],
                            "claim_b": b["claim_id"],
                            "claimant_b": b["claimant"],
                            "side_b": b["side"],
                            "from": start,
                            "to": stop,
                        }
                    )
    cols = [
        "place_id",
        "claim_a",
        "claimant_a",
        "side_a",
        "claim_b",
        "claimant_b",
        "side_b",
        "from",
        "to",
    ]
    return pd.DataFrame(rows, columns=cols).sort_values("from", kind="stable")


def with_conflicts(ledger: pd.DataFrame) -> pd.DataFrame:
    """The ledger with a ``conflict_with`` column: the ids of the claims each contradicts.

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

"""Claims: the ledger of who said that which place was held by which side, and when.

A claim file is a CSV with the columns of :data:`CLAIM_COLUMNS`. Validation reports every
problem at once (unknown place with suggestions, bad date, unknown claimant, unknown side,
missing source ...), one message per problem naming the row and the bad value.

Kinds of claim:

``control``
    Claimant says that on ``date`` the settlement ``place`` is held by ``side``.
``area``
    An area figure without geometry (``area_km2`` and/or ``settlements`` held by ``side``
    in the region ``place``), e.g. "1,263 km² and 93 settlements".
``denial``
    Claimant rejects the claims listed in ``disputes`` (``;``-separated claim ids); in the
    claimant's own view each disputed place becomes ``contested`` from the denial's date.
``statement``
    A claim about a region that names no settlement ("our troops operate in Belgorod
    region"): kept in the ledger and shown with the evidence, never drawn.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import cast

import pandas as pd

from pipeline import settings
from pipeline.errors import AmbiguousPlaceError, DataError, PlaceNotFoundError
from pipeline.places import Gazetteer, gazetteer

CLAIM_COLUMNS = (
    "claim_id",
    "date",
    "date_certain",
    "claimant",
    "kind",
    "side",
    "place",
    "region",
    "area_km2",
    "settlements",
    "disputes",
    "publisher",
    "source_date",
    "title",
    "url",
    "quote",
    "paraphrase",
    "confidence",
    "note",
)
CLAIMANT_COLUMNS = ("claimant_id", "name", "description", "affiliation", "licence")
KINDS = ("control", "area", "denial", "statement")
CONFIDENCES = ("high", "medium", "low")
FUZZY_ONLY = 93.0
"""A ledger's place must match at least this well (a spelling, not a guess)."""


MAX_NAME_CHARS = 120
"""Longest claimant name: registration refuses a longer one, and figures cut one to it."""


@dataclass(frozen=True)
class Claimant:
    """Who makes claims.

    Attributes
    ----------
    claimant_id : str
        Short id used in claims and on the command line, e.g. ``ru-mod``.
    name : str
        Full name.
    description : str
        Who speaks under this id.
    affiliation : str
        ``UA``, ``RU`` or ``independent``.
    licence : str
        Terms of the claimant's published material as used here.
    """

    claimant_id: str
    name: str
    description: str
    affiliation: str
    licence: str


@lru_cache(maxsize=4)
def claimants(data_dir: Path = settings.DATA_DIR) -> dict[str, Claimant]:
    """Known claimants, from ``claimants.csv``.

    Parameters
    ----------
    data_dir : pathlib.Path
        Folder holding ``claimants.csv``.

    Returns
    -------
    dict of str to Claimant
        Keyed by claimant id, in file order.
    """
    raw = pd.read_csv(data_dir / "claimants.csv", dtype=str, keep_default_na=False)
    return {
        r["claimant_id"]: Claimant(*(r[c] for c in CLAIMANT_COLUMNS)) for _, r in raw.iterrows()
    }


def parse_date(value: str, what: str = "date") -> dt.date:
    """Parse an ISO date (``YYYY-MM-DD``), naming the value when it is not one.

    Parameters
    ----------
    value : str
        The text to parse.
    what : str, default "date"
        How to name the value in the error message.

    Returns
    -------
    datetime.date
        The date.

    Raises
    ------
    ValueError
        When ``value`` is not a real calendar date in ISO form.

    Examples
    --------
    >>> parse_date("2024-08-25")
    datetime.date(2024, 8, 25)
    """
    text = str(value).strip()
    try:
        if len(text) != 10:
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError as e:
        msg = f"bad {what} {value!r}: expected a calendar date as YYYY-MM-DD"
        raise ValueError(msg) from e


@dataclass(frozen=True)
class _Row:
    """One claims row, every field as text."""

    claim_id: str
    date: str
    date_certain: str
    claimant: str
    kind: str
    side: str
    place: str
    region: str
    area_km2: str
    settlements: str
    disputes: str
    publisher: str
    source_date: str
    title: str
    url: str
    quote: str
    paraphrase: str
    confidence: str
    note: str


def _resolve_place(gaz: Gazetteer, place: str, region: str, kind: str) -> tuple[str, str]:
    """Return (place_id, error message or '')."""
    if place in gaz:  # an explicit place id (gn-…, cur-…, RU-KRS …)
        return place, ""
    try:
        cand = gaz.lookup(place, region=region or None)
    except PlaceNotFoundError as e:
        return "", str(e)
    except AmbiguousPlaceError as e:
        return "", f"{e}; or write the place id instead of the name"
    if cand.score < FUZZY_ONLY:
        return "", (
            f"place {place!r} matches {cand.name!r} [{cand.place_id}] only fuzzily "
            f"(score {cand.score:.0f}); write its exact name or its place id"
        )
    if kind == "control" and cand.kind != "settlement":
        return "", f"place {place!r} is a region; a control claim needs a settlement"
    return cand.place_id, ""


def validate_claims(
    raw: pd.DataFrame,
    gaz: Gazetteer,
    known_claimants: dict[str, Claimant],
    source: str = "claims",
    today: dt.date | None = None,
) -> pd.DataFrame:
    """Check a claims table and resolve its places; report every problem at once.

    Parameters
    ----------
    raw : pandas.DataFrame
        Claims as read from CSV (all columns as strings).
    gaz : Gazetteer
        Gazetteer to resolve ``place`` against (with ``region`` as context).
    known_claimants : dict of str to Claimant
        Claimants a row may name.
    source : str, default "claims"
        How to name the table in the error.
    today : datetime.date, optional
        Dates after this are refused (default: today).

    Returns
    -------
    pandas.DataFrame
        The claims with ``date`` as ``datetime.date``, ``place_id``, ``region_id``,
        numeric ``area_km2``/``settlements`` and ``disputes`` as tuples; sorted by date.

    Raises
    ------
    DataError
        Listing one message per problem, each naming the row (line number and claim id)
        and the bad value.
    """
    missing = [c for c in CLAIM_COLUMNS if c not in raw.columns]
    if missing:
        raise DataError(source, [f"missing column {c!r}" for c in missing])
    today = today or dt.date.today()
    df = raw.fillna("").astype(str)[list(CLAIM_COLUMNS)].copy()
    problems: list[str] = []
    ids = set(df["claim_id"])
    dates: list[dt.date | None] = []
    place_ids: list[str] = []
    region_ids: list[str] = []
    records = cast("list[dict[str, str]]", df.to_dict("records"))
    for i, rec in enumerate(records, start=2):
        row = _Row(**rec)
        where = f"line {i} ({row.claim_id or 'no id'})"
        if not row.claim_id:
            problems.append(f"{where}: empty claim_id")
        try:
            day = parse_date(row.date)
            if day > today:
                problems.append(f"{where}: date {row.date!r} is in the future")
            dates.append(day)
        except ValueError as e:
            problems.append(f"{where}: {e}")
            dates.append(None)
        if row.claimant not in known_claimants:
            problems.append(
                f"{where}: unknown claimant {row.claimant!r}; known: " + ", ".join(known_claimants)
            )
        if row.kind not in KINDS:
            problems.append(f"{where}: unknown kind {row.kind!r}; expected one of {KINDS}")
        if row.side not in settings.SIDES:
            problems.append(f"{where}: unknown side {row.side!r}; expected UA, RU or contested")
        if row.confidence not in CONFIDENCES:
            problems.append(f"{where}: unknown confidence {row.confidence!r}")
        if row.date_certain.lower() not in ("true", "false"):
            problems.append(f"{where}: date_certain {row.date_certain!r} is not true/false")
        if not (row.publisher.strip() and row.title.strip() and row.paraphrase.strip()):
            problems.append(f"{where}: a claim needs publisher, title and paraphrase")
        if row.url and not row.url.startswith(("https://", "http://")):
            problems.append(f"{where}: url {row.url!r} is not http(s)")
        if row.source_date:
            try:
                parse_date(row.source_date, "source_date")
            except ValueError as e:
                problems.append(f"{where}: {e}")
        for num in ("area_km2", "settlements"):
            value = getattr(row, num)
            if value:
                try:
                    if float(value) < 0:
                        raise ValueError(value)
                except ValueError:
                    problems.append(f"{where}: {num} {value!r} is not a non-negative number")
        if row.kind == "area" and not (row.area_km2 or row.settlements):
            problems.append(f"{where}: an area claim needs area_km2 or settlements")
        disputes = [d for d in row.disputes.split(";") if d.strip()]
        if row.kind == "denial" and not disputes:
            problems.append(f"{where}: a denial needs the claim ids it disputes")
        problems += [
            f"{where}: disputes unknown claim {d.strip()!r}"
            for d in disputes
            if d.strip() not in ids
        ]
        pid, err = _resolve_place(gaz, row.place, row.region, row.kind)
        if err:
            problems.append(f"{where}: {err}")
        place_ids.append(pid)
        region_ids.append(gaz.region_of(pid) if pid else "")
    dupes = sorted(set(df["claim_id"][df["claim_id"].duplicated()]))
    problems += [f"duplicate claim_id {d!r}" for d in dupes]
    if problems:
        raise DataError(source, problems)
    out = df.copy()
    out["date"] = dates
    out["date_certain"] = df["date_certain"].str.lower() == "true"
    out["place_id"] = place_ids
    out["region_id"] = region_ids
    out["area_km2"] = pd.to_numeric(df["area_km2"].replace("", None))
    out["settlements"] = pd.to_numeric(df["settlements"].replace("", None))
    out["disputes"] = [tuple(d.strip() for d in v.split(";") if d.strip()) for v in df["disputes"]]
    return out.sort_values(["date", "claim_id"], kind="stable").reset_index(drop=True)


def read_claims_csv(path: Path) -> pd.DataFrame:
    """Read a claims CSV as strings, without interpreting any value.

    Parameters
    ----------
    path : pathlib.Path
        The CSV file.

    Returns
    -------
    pandas.DataFrame
        All columns as strings, empty cells as ``""``.
    """
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@lru_cache(maxsize=4)
def claims_df(data_dir: Path = settings.DATA_DIR) -> pd.DataFrame:
    """The embedded ledger, validated and resolved (cached; treat as read-only).

    Parameters
    ----------
    data_dir : pathlib.Path
        Folder holding ``claims.csv``.

    Returns
    -------
    pandas.DataFrame
        As returned by :func:`validate_claims`.
    """
    path = data_dir / "claims.csv"
    return validate_claims(
        read_claims_csv(path), gazetteer(data_dir), claimants(data_dir), source=str(path)
    )


def area_figures(ledger: pd.DataFrame, region_id: str, on: dt.date) -> pd.DataFrame:
    """Each claimant's latest area figure for a region on or before a date.

    Parameters
    ----------
    ledger : pandas.DataFrame
        Validated claims (:func:`validate_claims`).
    region_id : str
        The region the figures are about (ISO 3166-2 id).
    on : datetime.date
        Latest date to consider.

    Returns
    -------
    pandas.DataFrame
        One row per claimant and side: ``claimant``, ``side``, ``date``, ``area_km2``,
        ``settlements``, ``publisher``, ``claim_id``; newest first.
    """
    rows = ledger[
        (ledger["kind"] == "area") & (ledger["place_id"] == region_id) & (ledger["date"] <= on)
    ]
    latest = rows.sort_values("date").groupby(["claimant", "side"], sort=False).tail(1)
    cols = ["claimant", "side", "date", "area_km2", "settlements", "publisher", "claim_id"]
    return latest.sort_values("date", ascending=False)[cols].reset_index(drop=True)


def key_events(ledger: pd.DataFrame, data_dir: Path = settings.DATA_DIR) -> pd.DataFrame:
    """Key events to mark on charts, each tied to the claim that documents it.

    Parameters
    ----------
    ledger : pandas.DataFrame
        Validated claims.
    data_dir : pathlib.Path
        Folder holding ``events.csv`` (``date``, ``label``, ``claim_id``).

    Returns
    -------
    pandas.DataFrame
        ``date`` (datetime.date), ``label``, ``claim_id``, ``publisher``, ``url``.

    Raises
    ------
    DataError
        When an event names an unknown claim or a date other than its claim's.
    """
    path = data_dir / "events.csv"
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    by_id = ledger.set_index("claim_id")
    problems = []
    for i, row in enumerate(raw.to_dict("records"), start=2):
        if row["claim_id"] not in by_id.index:
            problems.append(f"line {i}: unknown claim_id {row['claim_id']!r}")
        elif str(by_id.at[row["claim_id"], "date"]) != row["date"]:
            problems.append(f"line {i}: date {row['date']!r} is not its claim's date")
    if problems:
        raise DataError(str(path), problems)
    linked = by_id.loc[raw["claim_id"], ["publisher", "url"]].reset_index(drop=True)
    out = pd.concat([raw, linked], axis=1)
    out["date"] = [parse_date(d) for d in raw["date"]]
    return out

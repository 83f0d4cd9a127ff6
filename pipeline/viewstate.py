"""View state: what the map page shows, and its permalink (URL query parameters).

``?date=2024-08-25&claimants=ua-gs,ru-mod&compare=2024-08-10`` restores a view. Every
parameter is checked: a bad value yields a notice naming it and the reason, and that
part of the view falls back to its default; nothing raises.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipeline.claims import parse_date

MAX_VIEWS = 4
"""At most this many views at once on the map."""


@dataclass(frozen=True)
class ViewState:
    """What the map page shows.

    Attributes
    ----------
    day : datetime.date
        The date.
    views : tuple of str
        Views (claimant ids or ``consolidated``), the first is primary.
    compare : datetime.date or None
        Earlier date to show change since, if any.
    """

    day: dt.date
    views: tuple[str, ...]
    compare: dt.date | None = None

    def to_params(self) -> dict[str, str]:
        """Query parameters that restore this view.

        Returns
        -------
        dict of str to str
            ``date``, ``claimants`` and, when set, ``compare``.
        """
        params = {"date": self.day.isoformat(), "claimants": ",".join(self.views)}
        if self.compare is not None:
            params["compare"] = self.compare.isoformat()
        return params


def timeline_date(raw: str, what: str, first: dt.date, last: dt.date) -> dt.date:
    """A date from outside text (a URL, the map's timeline), checked against the timeline.

    Parameters
    ----------
    raw : str
        The text, expected as ``YYYY-MM-DD``.
    what : str
        What the date is, for the message (``"date"``, ``"map date"``).
    first, last : datetime.date
        Date range the page offers.

    Returns
    -------
    datetime.date
        The date.

    Raises
    ------
    ValueError
        Naming the value and the reason: not an ISO date, or outside the range.
    """
    day = parse_date(raw, what)
    if not first <= day <= last:
        msg = f"{what} {raw!r} is outside the timeline ({first} to {last})"
        raise ValueError(msg)
    return day


def _first(value: str | Sequence[str] | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value[0] if value else None


def state_from_params(
    params: Mapping[str, str | Sequence[str]],
    known_views: Sequence[str],
    first: dt.date,
    last: dt.date,
    default: ViewState,
) -> tuple[ViewState, list[str]]:
    """Read a view from query parameters, with a notice for every bad value.

    Parameters
    ----------
    params : mapping
        Query parameters (``st.query_params`` or a plain dict).
    known_views : sequence of str
        Views that may be named.
    first, last : datetime.date
        Date range the slider offers.
    default : ViewState
        What to show for a missing or bad parameter.

    Returns
    -------
    tuple of (ViewState, list of str)
        The view, and one notice per bad parameter (empty when all were good).
    """
    notices: list[str] = []
    day = default.day
    raw_date = _first(params.get("date"))
    if raw_date is not None:
        try:
            day = timeline_date(raw_date, "date", first, last)
        except ValueError as e:
            notices.append(f"{e}; showing {default.day}")
    views = default.views
    raw_views = _first(params.get("claimants"))
    if raw_views is not None:
        asked = [v.strip() for v in raw_views.split(",") if v.strip()]
        # Claimant ids are lower case; a link may spell them otherwise (ISW, UA-GS).
        folded = {v.casefold(): v for v in known_views}
        unknown = [v for v in asked if v.casefold() not in folded]
        named = list(dict.fromkeys(folded[v.casefold()] for v in asked if v.casefold() in folded))
        good = named[:MAX_VIEWS]
        if len(named) > MAX_VIEWS:
            notices.append(
                f"at most {MAX_VIEWS} views at once; not shown: "
                f"{', '.join(repr(v) for v in named[MAX_VIEWS:])}"
            )
        if unknown:
            notices.append(
                f"unknown claimant(s) {', '.join(repr(u) for u in unknown)}; "
                f"known: {', '.join(known_views)}"
            )
        if good:
            views = tuple(good)
        elif asked or not unknown:
            notices.append("no known claimant given; showing the default view")
    compare = default.compare
    raw_compare = _first(params.get("compare"))
    if raw_compare is not None:
        try:
            compare = parse_date(raw_compare, "compare date")
            if compare > day:
                notices.append(f"compare date {raw_compare!r} is after the date {day}; ignored")
                compare = None
        except ValueError as e:
            notices.append(f"{e}; ignored")
            compare = None
    return ViewState(day, views, compare), notices


def date_from_map(value: object, first: dt.date, last: dt.date) -> dt.date:
    """The date the map's own timeline asks the page to show, checked.

    The map sends it as its component value once its date control is still; like a URL
    parameter it is outside text, so it is parsed, never trusted.

    Parameters
    ----------
    value : object
        What the map sent (an ISO date string, if it is well-formed).
    first, last : datetime.date
        Date range the page offers.

    Returns
    -------
    datetime.date
        The date.

    Raises
    ------
    ValueError
        Naming the value and the reason: not a string, not an ISO date, or outside the range.
    """
    if not isinstance(value, str):
        msg = f"map date {value!r} is not a date string"
        raise ValueError(msg)
    return timeline_date(value, "map date", first, last)

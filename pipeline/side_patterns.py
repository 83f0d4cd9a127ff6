"""Side patterns: how an attribute's values decide the side of an upload's polygons.

A pattern is a case-insensitive substring (``Liberated`` matches ``Звільнено ///
Liberated``), or a JSON string in double quotes (``"Unknown status"``) that matches that
whole value exactly, case included. Patterns are checked in the order given; the first that
matches decides, and a value no pattern matches decides nothing (its polygons are skipped).
:func:`exact_patterns` writes one exact pattern per value taken from a file, so no text of
the file is ever read as pattern syntax. Plain substrings and exact values keep matching
predictable and cannot be made to run for ever, as a regular expression can.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable

from pipeline import settings
from pipeline.errors import InputError


def parse_patterns(items: list[str]) -> tuple[tuple[str, str], ...]:
    """Parse ``PATTERN=SIDE`` items.

    ``PATTERN`` is a case-insensitive substring of the side attribute's value, or a JSON
    string in double quotes (``"Unknown status"=contested``) that matches the whole value
    exactly, case included. The side follows the last ``=``, so a pattern may hold one.

    Parameters
    ----------
    items : list of str
        E.g. ``["Liberated=UA", "Occupied=RU", '"Unknown status"=contested']``.

    Returns
    -------
    tuple of (str, str)
        ``(pattern, side)`` pairs.

    Raises
    ------
    InputError
        Naming the item that is malformed or names an unknown side.

    Examples
    --------
    >>> parse_patterns(["Liberated=UA", "Occupied = RU"])
    (('Liberated', 'UA'), ('Occupied', 'RU'))
    >>> parse_patterns(['"a=b"=contested'])
    (('"a=b"', 'contested'),)
    """
    out = []
    for item in items:
        pattern, sep, side = item.rpartition("=")
        pattern, side = pattern.strip(), side.strip()
        if not sep or not pattern:
            msg = f"bad mapping {item!r}: expected PATTERN=SIDE, e.g. Liberated=UA"
            raise InputError(msg)
        if side not in settings.SIDES:
            msg = f"bad mapping {item!r}: side {side!r} is not UA, RU or contested"
            raise InputError(msg)
        if pattern.startswith('"'):
            _exact_value(pattern, item)
        out.append((pattern, side))
    return tuple(out)


def _exact_value(pattern: str, item: str) -> str:
    """The value a quoted pattern matches exactly; InputError naming the item if malformed."""
    try:
        value = json.loads(pattern)
    except ValueError:
        value = None
    if not isinstance(value, str):
        msg = (
            f"bad mapping {item!r}: a quoted pattern must be one JSON string, "
            'e.g. "Unknown status"=contested'
        )
        raise InputError(msg)
    return value


def exact_pattern(value: str) -> str:
    r"""A pattern that matches exactly this value, and nothing else.

    Parameters
    ----------
    value : str
        A value of the side attribute, as a file holds it (any text).

    Returns
    -------
    str
        The value as a JSON string in double quotes: quotes, backslashes and control
        characters are escaped, so the text is never read as pattern syntax.

    Examples
    --------
    >>> exact_pattern('Unknown "status"=RU')
    '"Unknown \\"status\\"=RU"'
    >>> parse_patterns([exact_pattern("a=b") + "=UA"])
    (('"a=b"', 'UA'),)
    """
    return json.dumps(value, ensure_ascii=False)


def exact_patterns(sides: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Patterns for a value-to-side table: one exact pattern per value.

    Parameters
    ----------
    sides : iterable of (str, str)
        ``(value, side)`` pairs; values are the side attribute's text (see
        :func:`side_values`), sides are ``UA``, ``RU`` or ``contested``. A value left out
        matches no pattern, so its features are skipped.

    Returns
    -------
    tuple of (str, str)
        ``(pattern, side)`` pairs for :attr:`Mapping.patterns`, parsed by
        :func:`parse_patterns`.

    Raises
    ------
    InputError
        Naming a pair whose side is not ``UA``, ``RU`` or ``contested``.

    Examples
    --------
    >>> exact_patterns([("Unknown status", "contested")])
    (('"Unknown status"', 'contested'),)
    """
    return parse_patterns([f"{exact_pattern(value)}={side}" for value, side in sides])


Rule = tuple[bool, str, str]
"""A compiled pattern: exact?, the value (exact) or the case-folded substring, and the side."""


def compile_rules(patterns: Iterable[tuple[str, str]]) -> list[Rule]:
    """Patterns as rules :func:`side_of` checks in order.

    Parameters
    ----------
    patterns : iterable of (str, str)
        ``(pattern, side)`` pairs, as :func:`parse_patterns` returns them.

    Returns
    -------
    list of Rule
        One rule per pattern, in the order given.

    Raises
    ------
    InputError
        Naming a quoted pattern that is not one JSON string.
    """
    return [
        (True, _exact_value(p, f"{p}={s}"), s) if p.startswith('"') else (False, p.casefold(), s)
        for p, s in patterns
    ]


def side_of(text: str, rules: list[Rule]) -> str | None:
    """The side of the first rule that matches the text.

    Parameters
    ----------
    text : str
        An attribute value as :func:`match_text` gives it.
    rules : list of Rule
        From :func:`compile_rules`.

    Returns
    -------
    str or None
        ``UA``, ``RU`` or ``contested``; None when no rule matches.

    Examples
    --------
    >>> rules = compile_rules(parse_patterns(["Liberated=UA", '"Unknown status"=contested']))
    >>> side_of("Звільнено /// Liberated", rules), side_of("Unknown status", rules)
    ('UA', 'contested')
    >>> side_of("unknown status", rules) is None
    True
    """
    folded = text.casefold()
    return next(
        (side for exact, needle, side in rules if (text == needle if exact else needle in folded)),
        None,
    )


def match_text(value: object) -> str:
    """An attribute value as the text patterns are matched against.

    Parameters
    ----------
    value : object
        The value a file holds (None when the attribute is empty).

    Returns
    -------
    str
        ``""`` for None, else the value's ``str``.
    """
    return "" if value is None else str(value)


def count_sides(
    values: Iterable[object], patterns: Iterable[tuple[str, str]] = ()
) -> list[tuple[str, int, str | None]]:
    """Each distinct value, how often it occurs, and the side the patterns give it.

    Parameters
    ----------
    values : iterable of object
        Attribute values, one per feature.
    patterns : iterable of (str, str), optional
        ``(pattern, side)`` pairs.

    Returns
    -------
    list of (str, int, str or None)
        ``(text, count, side)`` in the order the values first appear; the side is None when
        no pattern matches.

    Examples
    --------
    >>> count_sides(["Occupied", "Liberated", "Occupied", None], parse_patterns(["Occ=RU"]))
    [('Occupied', 2, 'RU'), ('Liberated', 1, None), ('', 1, None)]
    """
    rules = compile_rules(patterns)
    counts = Counter(match_text(v) for v in values)
    return [(text, n, side_of(text, rules)) for text, n in counts.items()]

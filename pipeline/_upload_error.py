"""The error an upload is refused with, and how names from a file are listed in one.

Shared by the reader's private modules. A refusal is always one line: the reason is
folded onto one line and cut at :data:`MAX_REASON_CHARS`, and names read from a file
(layers, members, columns) are listed at most :data:`MAX_LISTED` at a time, each shown
plainly only when it is short and printable.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pipeline.errors import InputError
from pipeline.safetext import plain_text

MAX_LISTED = 10
"""Most names (layers, columns) listed in a refusal; the rest are counted, "(+990 more)"."""
MAX_REASON_CHARS = 500
"""Longest reason in a refusal, in characters; a longer one is cut and ends with an ellipsis."""
MAX_NAME_CHARS = 40
"""Longest name from a file shown as it is in a refusal; a longer one is shown cut, quoted."""

_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x85\u2028\u2029]+\s*")


class UploadError(InputError):
    """An uploaded file is refused; the message names the file and the reason.

    Parameters
    ----------
    file_name : str
        The upload's name, as given.
    reason : str
        Why it is refused (folded onto one line, at most :data:`MAX_REASON_CHARS`).
    """

    def __init__(self, file_name: str, reason: str) -> None:
        one_line = plain_text(_LINE_BREAKS.sub(" ", reason).strip(), MAX_REASON_CHARS)
        self.file_name = file_name
        self.reason = one_line
        super().__init__(f"file {file_name!r}: {one_line}")


def shown(name: str) -> str:
    """A name read from a file, as it may appear in a refusal.

    Parameters
    ----------
    name : str
        A layer, member or column name.

    Returns
    -------
    str
        The name itself when short and printable, else its first characters, quoted.

    Examples
    --------
    >>> shown("areas")
    'areas'
    >>> shown("a" * 50)
    "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'…"
    """
    if name.isprintable() and 0 < len(name) <= MAX_NAME_CHARS and name.strip() == name:
        return name
    return quoted(name)


def quoted(name: str) -> str:
    """A name read from a file, quoted as in ``repr`` and cut at :data:`MAX_NAME_CHARS`.

    Parameters
    ----------
    name : str
        A layer, member or column name.

    Returns
    -------
    str
        Its ``repr``, of its first characters when it is long.

    Examples
    --------
    >>> quoted("areas")
    "'areas'"
    """
    return repr(name[:MAX_NAME_CHARS]) + ("…" if len(name) > MAX_NAME_CHARS else "")


def size(n: int) -> str:
    """A size in bytes as a refusal names it.

    Parameters
    ----------
    n : int
        Bytes.

    Returns
    -------
    str
        Whole mebibytes when it is a whole number of them, else bytes.

    Examples
    --------
    >>> size(256 * 2**20), size(1000)
    ('256 MiB', '1,000 bytes')
    """
    return f"{n // 2**20:,} MiB" if n and n % 2**20 == 0 else f"{n:,} bytes"


def listed(names: Sequence[str]) -> str:
    """Names read from a file, comma-separated, at most :data:`MAX_LISTED` of them.

    Parameters
    ----------
    names : sequence of str
        The names, in the order to list them.

    Returns
    -------
    str
        E.g. ``"a, b, c"`` or ``"l0, l1, ..., l9 (+990 more)"``.

    Examples
    --------
    >>> listed(["a", "b"])
    'a, b'
    >>> listed([f"l{i}" for i in range(12)])
    'l0, l1, l2, l3, l4, l5, l6, l7, l8, l9 (+2 more)'
    """
    head = ", ".join(shown(n) for n in names[:MAX_LISTED])
    rest = len(names) - MAX_LISTED
    return f"{head} (+{rest:,} more)" if rest > 0 else head

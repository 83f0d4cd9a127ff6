r"""Untrusted text as data: the one place that says how text is written into each output.

Every text that comes from outside the code — uploaded attributes and file names, form
fields, URL parameters, CLI options, claim quotes, claimant names, titles — is data. It is
written into an output only through the function for that output's syntax:

========================  =====================================================
output                    function
========================  =====================================================
JavaScript / JSON in a    :func:`js_json` — JSON whose strings carry ``<``, ``>``,
``<script>`` or a         ``&``, ``'``, ``{`` and ``}`` as ``\uXXXX`` escapes: no tag
Jinja-rendered template   can close, and no ``{{``, ``{%`` or ``{#`` can reach a
                          template engine as syntax.
HTML text or attribute    :func:`html_text` — entities for ``<>&"'`` and for the
                          braces, so a page that is rendered again stays inert.
Streamlit Markdown        :func:`markdown_format` with :func:`markdown_text` —
(``st.error`` …)          every ASCII punctuation mark backslash-escaped: no link,
                          image, emphasis, LaTeX, colour or emoji directive can
                          form; the template's own formatting is the code's.
figures, SVG              :func:`plain_text` — control characters replaced, long
                          text cut.
terminal                  :func:`terminal_text`, :func:`terminal_json` — each
                          control character as a visible escape.
a quoted attribute value  :func:`value_text` — one line, no-break spaces plain,
(report line, table)      controls escaped, long values cut.
spreadsheet cell          :func:`spreadsheet_cell` — no formula can start.
========================  =====================================================

Folium renders a map's output through Jinja a second time, so text inside a folium map
must never reach that second pass as template source; :mod:`pipeline._leaflet` emits its
elements' output literally and embeds data only through :func:`js_json`.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata

MAX_TEXT_CHARS = 300
"""Longest text :func:`plain_text` keeps by default (a title, a name, a source)."""
VALUE_CHARS = 60
"""Longest attribute value :func:`value_text` quotes by default (longer ones end in ``…``)."""
_NO_BREAK_SPACES = str.maketrans(dict.fromkeys("\u00a0\u2007\u202f", " "))

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_IN_STRING = str.maketrans(
    {
        "<": "\\u003c",
        ">": "\\u003e",
        "&": "\\u0026",
        "'": "\\u0027",
        "{": "\\u007b",
        "}": "\\u007d",
    }
)
_MARKDOWN_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")
_AUTOLINK_TRIGGERS = re.compile(r"[:@]|(?<![A-Za-z0-9])www(?=\.)", re.IGNORECASE)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# What a terminal may obey: C0 controls but tab and newline, DEL, C1, and the bidirectional
# controls that reorder what is shown.
_BIDI = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
_CONTROLS = {
    c: (f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}")
    for c in (*range(0x20), *range(0x7F, 0xA0), *_BIDI)
    if c not in (9, 10)
}
_CONTROLS_ONE_LINE = {**_CONTROLS, 9: "\\t", 10: "\\n"}
# JSON escapes C0 itself; DEL, C1 and bidi controls become \u escapes (the same text).
_JSON_CONTROLS = {c: f"\\u{c:04x}" for c in (*range(0x7F, 0xA0), *_BIDI)}


def js_json(value: object) -> str:
    r"""JSON text that is safe inside a ``<script>`` and inert to a template engine.

    Parameters
    ----------
    value : object
        Anything :func:`json.dumps` accepts (no NaN or infinity).

    Returns
    -------
    str
        Compact ASCII JSON; inside strings, ``<``, ``>``, ``&``, ``'``, ``{`` and ``}``
        are ``\uXXXX`` escapes, so it evaluates to the same value in JavaScript while
        holding no ``</script>``, no ``{{`` and no ``{%``.

    Raises
    ------
    ValueError
        For NaN or infinite numbers, which JSON cannot carry.

    Examples
    --------
    >>> js_json({"name": "{{ 7*7 }} </script>"})
    '{"name":"\\u007b\\u007b 7*7 \\u007d\\u007d \\u003c/script\\u003e"}'
    >>> json.loads(js_json({"name": "{{ 7*7 }}"}))["name"]
    '{{ 7*7 }}'
    """
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return _JSON_STRING.sub(lambda m: m[0].translate(_IN_STRING), text)


def html_text(text: object) -> str:
    """Text for an HTML element's content or a quoted attribute value.

    Parameters
    ----------
    text : object
        Any value; it is shown as ``str(text)``.

    Returns
    -------
    str
        HTML that displays exactly the text: ``<>&"'`` and the braces are entities.

    Examples
    --------
    >>> html_text('<img src=x onerror=alert(1)> {{ 7*7 }}')
    '&lt;img src=x onerror=alert(1)&gt; &#123;&#123; 7*7 &#125;&#125;'
    """
    out = html.escape(str(text), quote=True)
    return out.replace("{", "&#123;").replace("}", "&#125;")


def markdown_text(text: object) -> str:
    r"""Text for Streamlit's Markdown (messages, captions): shown as it is written.

    Every ASCII punctuation mark is backslash-escaped, as CommonMark allows, so no link,
    image, emphasis, heading, list, table, HTML, LaTeX (``$``), emoji or colour
    directive (``:red[...]``) can form. The browser finds bare URLs, e-mail addresses,
    emoji shortcodes and colour directives in the text after escapes are resolved, so an
    invisible word joiner (U+2060) follows every ``:`` and ``@`` and splits ``www.``. Line
    breaks become spaces; control characters are replaced.

    Parameters
    ----------
    text : object
        Any value; it is shown as ``str(text)``.

    Returns
    -------
    str
        Markdown source that renders as the plain text.

    Examples
    --------
    >>> print(markdown_text("![p](x/i.png) *hi*"))
    \!\[p\]\(x\/i\.png\) \*hi\*
    >>> markdown_text("http://x").replace("\u2060", "^")
    'http\\:^\\/\\/x'
    """
    flat = plain_text(str(text), max_chars=None).replace("\n", " ").replace("\t", " ")
    # The browser's GFM autolinks, emoji shortcodes and colour directives are found in the
    # text *after* escapes are resolved: a word joiner after ":" and "@" and inside "www."
    # breaks ``http://``, ``a@b.c``, ``www.x``, ``:smile:`` and ``:red[…]`` invisibly.
    flat = _AUTOLINK_TRIGGERS.sub(lambda m: m[0] + "\u2060", flat)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat)


def plain_text(text: object, max_chars: int | None = MAX_TEXT_CHARS) -> str:
    r"""Text for a figure, an SVG or a terminal: printable, and not too long.

    Parameters
    ----------
    text : object
        Any value; it is shown as ``str(text)``.
    max_chars : int or None, default :data:`MAX_TEXT_CHARS`
        Cut longer text to this many characters, ending in ``…``; None keeps it whole.

    Returns
    -------
    str
        The text with every control character but newline and tab (C0, DEL, C1, and
        Unicode format controls such as bidirectional overrides) replaced by ``�``.

    Examples
    --------
    >>> plain_text("ok\x1b[2J\x07")
    'ok�[2J�'
    >>> plain_text("x" * 10, max_chars=5)
    'xxxx…'
    """
    out = "".join(
        c if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cf", "Cs") else "\ufffd"
        for c in str(text)
    )
    if max_chars is not None and len(out) > max_chars:
        out = out[: max(max_chars - 1, 0)] + "…"
    return out


def spreadsheet_cell(value: object) -> object:
    """A cell value that no spreadsheet evaluates as a formula.

    Parameters
    ----------
    value : object
        A cell value.

    Returns
    -------
    object
        Text starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a
        leading apostrophe; anything else is returned unchanged.

    Examples
    --------
    >>> spreadsheet_cell("=SUM(A1:A9)")
    "'=SUM(A1:A9)"
    >>> spreadsheet_cell(12.5)
    12.5
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def markdown_format(template: str, *values: object) -> str:
    r"""Fill a Markdown template written in the code with values shown as plain text.

    Parameters
    ----------
    template : str
        Markdown with ``{}`` placeholders, a constant of the code (never data).
    *values : object
        Data for the placeholders, each escaped by :func:`markdown_text`.

    Returns
    -------
    str
        Markdown whose formatting is the template's alone.

    Examples
    --------
    >>> print(markdown_format("**{} claims** about {}", 3, "[x](y)"))
    **3 claims** about \[x\]\(y\)
    """
    return template.format(*(markdown_text(v) for v in values))


def terminal_text(text: str, *, one_line: bool = False) -> str:
    r"""Text to print on a terminal: each control character as a visible escape.

    Control characters are C0 (but tab and newline), DEL, C1 and the bidirectional
    controls; each becomes its ``\xNN`` or ``\uNNNN`` escape, so stored text cannot move
    the cursor, clear the screen, set the window title or reorder a line. Everything
    else, Cyrillic included, is kept.

    Parameters
    ----------
    text : str
        Text from outside (stored names, file names, reports).
    one_line : bool, default False
        Escape tab and newline too (a table cell, a line of a report).

    Returns
    -------
    str
        The text, safe to print.

    Examples
    --------
    >>> terminal_text("Суджа\x1b]0;pwned\x07 \x9b2J \u202e")
    'Суджа\\x1b]0;pwned\\x07 \\x9b2J \\u202e'
    >>> terminal_text("a\nb"), terminal_text("a\nb", one_line=True)
    ('a\nb', 'a\\nb')
    """
    return text.translate(_CONTROLS_ONE_LINE if one_line else _CONTROLS)


def terminal_json(value: object) -> str:
    r"""JSON for a terminal: like ``json.dumps``, with DEL, C1 and bidi controls escaped.

    Parameters
    ----------
    value : object
        JSON-serialisable data.

    Returns
    -------
    str
        Indented JSON that decodes to ``value``.

    Examples
    --------
    >>> terminal_json(["\x1b[2J\x9b"])
    '[\n "\\u001b[2J\\u009b"\n]'
    """
    return json.dumps(value, ensure_ascii=False, indent=1).translate(_JSON_CONTROLS)


def value_text(value: str, max_chars: int | None = VALUE_CHARS) -> str:
    r"""An attribute value as readable text on one line (for a report or a table).

    No-break spaces become plain spaces; control and bidirectional characters become
    visible escapes (:func:`terminal_text`); long text is cut.

    Parameters
    ----------
    value : str
        The value, as the file holds it.
    max_chars : int or None, default :data:`VALUE_CHARS`
        Cut longer values to this many characters, ending in ``…``; None keeps them whole.

    Returns
    -------
    str
        Text that shows the value.

    Examples
    --------
    >>> value_text("Окуповано\xa0/// Occupied\x1b[2J")
    'Окуповано /// Occupied\\x1b[2J'
    """
    if max_chars is not None and len(value) > max_chars:
        return value_text(value[: max(max_chars - 1, 0)], None) + "…"
    return terminal_text(value.translate(_NO_BREAK_SPACES), one_line=True)

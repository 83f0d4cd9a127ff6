"""Name plumbing: normalising, transliterating and parsing place names.

Spellings differ by script (Горналь / Gornal), by transliteration scheme (Malaya Loknya /
Malaia Loknia / Malaja Loknja), by language (Russian Гуево vs Ukrainian Гуєво, Gornal vs
Hornal), by apostrophes for the soft sign (Gornal'), and by the words around the name
("the village of Gornal", "Kursk region", "Курская область"). This module turns each
spelling into a small set of comparable keys; :mod:`pipeline.places` indexes them.

Russian schemes come from ``iuliia`` (several official and common ones), Ukrainian schemes
from ``translitua`` (the national KMU 2010 system and others), and ``unidecode`` folds any
remaining diacritics.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

import iuliia
import translitua
from unidecode import unidecode

_RU_SCHEMES = (
    iuliia.WIKIPEDIA,
    iuliia.BGN_PCGN,
    iuliia.MOSMETRO,
    iuliia.ICAO_DOC_9303,
    iuliia.SCIENTIFIC,
    iuliia.GOST_779,
    iuliia.ALA_LC,
)
_UK_SCHEMES = (
    translitua.UkrainianKMU,
    translitua.UkrainianBGN,
    translitua.UkrainianSimple,
    translitua.UkrainianGerman,
)

_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_UKRAINIAN_LETTERS = re.compile(r"[єіїґ]")
_APOSTROPHES = re.compile(r"['’‘`´ʹʼʻ\"“”«»]")
_NON_WORD = re.compile(r"[^0-9a-z\u0400-\u04ff]+")

# Words that introduce a settlement name; removed before matching.
_SETTLEMENT_PREFIXES = (
    "the village of",
    "the town of",
    "the city of",
    "the settlement of",
    "the hamlet of",
    "village of",
    "town of",
    "city of",
    "settlement of",
    "hamlet of",
    "urban-type settlement",
    "village",
    "town",
    "city",
    "settlement",
    "hamlet",
    "khutor",
    "selo",
    "sloboda",
    "posyolok",
    "poselok",
    "smt",
    "the",
    "село",
    "деревня",
    "посёлок",
    "поселок",
    "хутор",
    "слобода",
    "пгт",
    "селище",
    "місто",
    "город",
    "с.",
    "д.",
    "п.",
    "х.",
    "м.",
    "г.",
)
# Words after a name that make it a first-level region (oblast).
_REGION_WORDS = (
    "oblast",
    "oblast'",
    "region",
    "province",
    "области",
    "область",
    "обл.",
    "обл",
)
_DISTRICT_WORDS = ("district", "raion", "rayon", "район", "р-н")
_SALIENT_WORDS = ("salient", "bulge", "incursion area", "pocket", "выступ", "виступ")
_SALIENT_PREFIXES = ("the salient in", "the salient of", "salient in", "salient of")


def has_cyrillic(text: str) -> bool:
    """Tell whether a string holds any Cyrillic letter.

    Parameters
    ----------
    text : str
        Any string.

    Returns
    -------
    bool
        True when at least one character is in the Cyrillic block.
    """
    return bool(_CYRILLIC.search(text))


def plain_key(text: str) -> str:
    """Reduce a spelling to lowercase words without apostrophes, diacritics or punctuation.

    Cyrillic letters are kept as they are (lowercased, ё folded to е, soft and hard signs
    dropped) so that Cyrillic queries match Cyrillic names; Latin diacritics are folded.

    Parameters
    ----------
    text : str
        A spelling, e.g. ``"Gornal'"`` or ``"Nikolayevo-Dar’ino"``.

    Returns
    -------
    str
        The key, e.g. ``"gornal"`` or ``"nikolayevo darino"``.

    Examples
    --------
    >>> plain_key("Nikolayevo-Dar’ino")
    'nikolayevo darino'
    >>> plain_key("Горналь")
    'горнал'
    """
    text = unicodedata.normalize("NFC", text).lower()
    text = _APOSTROPHES.sub("", text)
    text = text.replace("ё", "е").replace("ь", "").replace("ъ", "")
    if not has_cyrillic(text):
        text = unidecode(text).lower()
        text = _APOSTROPHES.sub("", text)
    return _NON_WORD.sub(" ", text).strip()


# Folds applied in order to a Latin plain key; they erase the differences between
# transliteration schemes (kh/h/x, y/j/i, ts/c, zh/z, ya/ia/ja ...) and between Russian
# and Ukrainian forms of the same name (Gornal/Hornal, Guyevo/Huievo).
_LOOSE_FOLDS: tuple[tuple[str, str], ...] = (
    ("shch", "sh"),
    ("sch", "sh"),
    ("kh", "h"),
    ("x", "h"),
    ("zh", "z"),
    ("ts", "c"),
    ("tz", "c"),
    ("ch", "c"),
    ("sh", "s"),
    ("h", "g"),
    ("w", "v"),
    ("j", "i"),
    ("y", "i"),
    ("ii", "i"),
    ("ie", "e"),
    ("io", "e"),
    ("iu", "u"),
    ("ia", "a"),
    ("ei", "e"),
    ("oi", "o"),
    ("ai", "a"),
)


def loose_key(text: str) -> str:
    """Reduce a Latin spelling to a scheme-independent skeleton for exact lookups.

    Parameters
    ----------
    text : str
        A spelling in Latin letters (Cyrillic is transliterated first).

    Returns
    -------
    str
        The skeleton; two spellings of one name usually share it.

    Examples
    --------
    >>> loose_key("Hornal") == loose_key("Gornal'")
    True
    >>> loose_key("Malaia Loknia") == loose_key("Malaya Loknya")
    True
    """
    key = plain_key(text)
    if has_cyrillic(key):
        if _UKRAINIAN_LETTERS.search(key):
            key = plain_key(translitua.translit(key, translitua.UkrainianKMU))
        else:
            key = plain_key(iuliia.WIKIPEDIA.translate(key))
    for old, new in _LOOSE_FOLDS:
        key = key.replace(old, new)
    key = re.sub(r"(.)\1+", r"\1", key)
    # Russian -ovka/-evka is Ukrainian -ivka (Lebedevka / Lebedivka).
    return re.sub(r"[oei]vk", "ovk", key)


def skeleton_key(text: str) -> str:
    """Consonant skeleton of a spelling: its loose key without vowels after each initial.

    Catches the vowel shifts between Russian and Ukrainian forms of one name
    (Snagost / Snahist, Melovoy / Melove, Plekhovo / Plekhove) at a lower score.

    Parameters
    ----------
    text : str
        A spelling.

    Returns
    -------
    str
        The skeleton.

    Examples
    --------
    >>> skeleton_key("Snagost") == skeleton_key("Snahist")
    True
    """
    return " ".join(w[0] + re.sub(r"[aeiouy]", "", w[1:]) for w in loose_key(text).split())


@lru_cache(maxsize=65_536)
def spelling_keys(spelling: str) -> frozenset[str]:
    """Every key a spelling should be found under: its own, and its transliterations.

    Parameters
    ----------
    spelling : str
        One spelling of a place name, Latin or Cyrillic.

    Returns
    -------
    frozenset of str
        Plain keys of the spelling and, for Cyrillic, of its Russian and Ukrainian
        transliterations in every supported scheme.
    """
    keys = {plain_key(spelling)}
    if has_cyrillic(spelling):
        for ru_scheme in _RU_SCHEMES:
            keys.add(plain_key(ru_scheme.translate(spelling)))
        for uk_scheme in _UK_SCHEMES:
            keys.add(plain_key(translitua.translit(spelling, uk_scheme)))
    return frozenset(k for k in keys if k)


# Adjective endings of district names (Sudzhansky, Sumskyi, Суджанский, Сумський ...).
_DISTRICT_ENDINGS = re.compile(
    r"(skiy|skyi|skii|sky|ski|ska|ske|sk|ский|ская|ское|ськии|ський|ська|ськ|ск)$"
)


def district_stem(text: str) -> str:
    """Reduce a district name to the stem it shares with its seat's name.

    ``"Sudzhansky District"``, ``"Суджанский район"`` and ``"Sudzha"`` (the seat) all
    reduce to a stem that starts ``"sudzh"``: district words, the adjective ending and
    trailing vowels are removed from the first word's loose key.

    Parameters
    ----------
    text : str
        A district name or the name of its seat, Latin or Cyrillic.

    Returns
    -------
    str
        The stem, lowercase Latin (Cyrillic is transliterated first).

    Examples
    --------
    >>> district_stem("Korenevsky District") == district_stem("Korenevo")
    True
    >>> district_stem("Суджанский район").startswith(district_stem("Sudzha"))
    True
    """
    name, _ = _strip_words(text.strip(), _DISTRICT_WORDS, at_end=True)
    words = loose_key(name).split()
    if not words:
        return ""
    stem = "-".join(words)
    stem = _DISTRICT_ENDINGS.sub("", stem)
    return stem.rstrip("aeiouy-")


@dataclass(frozen=True)
class ParsedName:
    """A query split into the bare name and what the words around it say.

    Attributes
    ----------
    name : str
        The bare name, e.g. ``"Gornal"`` for ``"the village of Gornal"``.
    kind : str
        ``"any"``, ``"region"`` (oblast words present), ``"district"`` or ``"salient"``.
    context : str or None
        A region named as context, e.g. ``"Belgorod"`` for ``"Popovka, Belgorod region"``.
    context_kind : str
        ``"district"`` when the context carried a district word (``"Basivka, Sumy raion"``),
        ``"region"`` for oblast words, else ``""``. Not part of equality.
    """

    name: str
    kind: str
    context: str | None
    context_kind: str = field(default="", compare=False, repr=False)


def _strip_words(text: str, words: tuple[str, ...], *, at_end: bool) -> tuple[str, bool]:
    low = text.lower()
    for word in sorted(words, key=len, reverse=True):
        if at_end and (low.endswith(" " + word) or low == word):
            return text[: len(text) - len(word)].strip(" ,-"), True
        if not at_end and low.startswith(word + " "):
            return text[len(word) :].strip(" ,-"), True
    return text, False


def parse_query(query: str) -> ParsedName:
    """Split a free-text place query into name, kind and region context.

    Parameters
    ----------
    query : str
        E.g. ``"the village of Gornal"``, ``"Kursk region"``, ``"Popovka, Belgorod oblast"``,
        ``"Popovka (Belgorod region)"``, ``"the Kursk salient"``, ``"Курская область"``.

    Returns
    -------
    ParsedName
        The parts of the query.

    Examples
    --------
    >>> parse_query("Popovka (Belgorod region)")
    ParsedName(name='Popovka', kind='any', context='Belgorod')
    >>> parse_query("the Kursk salient").kind
    'salient'
    """
    text = " ".join(query.replace("\u00a0", " ").split()).strip(" .,;")
    context: str | None = None
    paren = re.fullmatch(r"(.+?)\s*\((.+)\)", text)
    if paren:
        text, context = paren.group(1).strip(), paren.group(2).strip()
    else:
        for sep in (", ", " in ", " near "):
            head, found, tail = text.partition(sep)
            if found and head and tail:
                text, context = head.strip(), tail.strip()
                break
    context_kind = ""
    if context is not None:
        for label, words in (("region", _REGION_WORDS), ("district", _DISTRICT_WORDS)):
            context, stripped = _strip_words(context, words, at_end=True)
            context_kind = label if stripped else context_kind
        context, _ = _strip_words(context, ("the",), at_end=False)

    kind = "any"
    text, salient_first = _strip_words(text, _SALIENT_PREFIXES, at_end=False)
    text, is_salient = _strip_words(text, _SALIENT_WORDS, at_end=True)
    is_salient = is_salient or salient_first
    if is_salient:
        kind = "salient"
    text, is_region = _strip_words(text, _REGION_WORDS, at_end=True)
    if is_region and kind == "any":
        kind = "region"
    text, is_district = _strip_words(text, _DISTRICT_WORDS, at_end=True)
    if is_district and kind == "any":
        kind = "district"
    stripped = True
    while stripped:
        text, stripped = _strip_words(text, _SETTLEMENT_PREFIXES, at_end=False)
    if kind == "salient" and context is None:
        text, _ = _strip_words(text, _REGION_WORDS, at_end=True)
    return ParsedName(
        name=text.strip(" ,.-"), kind=kind, context=context, context_kind=context_kind
    )

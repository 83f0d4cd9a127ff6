"""Name normalisation, transliteration keys and query parsing."""

from __future__ import annotations

import pytest

from pipeline._names import loose_key, parse_query, plain_key, skeleton_key, spelling_keys


@pytest.mark.parametrize(
    ("query", "name", "kind", "context"),
    [
        ("Gornal", "Gornal", "any", None),
        ("the village of Gornal", "Gornal", "any", None),
        ("village Gornal", "Gornal", "any", None),
        ("село Горналь", "Горналь", "any", None),
        ("Kursk region", "Kursk", "region", None),
        ("Kursk Oblast", "Kursk", "region", None),
        ("Курская область", "Курская", "region", None),
        ("Popovka, Belgorod region", "Popovka", "any", "Belgorod"),
        ("Popovka (Belgorod oblast)", "Popovka", "any", "Belgorod"),
        ("Nikolayevka near Sudzha", "Nikolayevka", "any", "Sudzha"),
        ("the Kursk salient", "Kursk", "salient", None),
        ("salient of Kursk region", "Kursk", "salient", None),
        ("Sudzha district", "Sudzha", "district", None),
    ],
)
def test_parse_query(query: str, name: str, kind: str, context: str | None) -> None:
    parsed = parse_query(query)
    assert (parsed.name, parsed.kind, parsed.context) == (name, kind, context)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Hornal", "Gornal'"),
        ("Gornal’", "Gornal"),
        ("Malaia Loknia", "Malaya Loknya"),
        ("Malaja Loknja", "Malaya Loknya"),
        ("Lebedivka", "Lebedevka"),
        ("Liubymivka", "Lyubimovka"),
        ("Olhivka", "Olgovka"),
        ("Pohrebky", "Pogrebki"),
        ("Гуєво", "Guyevo"),
        ("Sudža", "Sudzha"),
    ],
)
def test_loose_key_folds_schemes_and_languages(a: str, b: str) -> None:
    assert loose_key(a) == loose_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Snagost", "Snahist"),
        ("Melovoy", "Melove"),
        ("Plekhovo", "Plekhove"),
        ("Kozacha Loknia", "Kazachya Loknya"),
    ],
)
def test_skeleton_key_folds_vowel_shifts(a: str, b: str) -> None:
    assert loose_key(a) != loose_key(b)
    assert skeleton_key(a) == skeleton_key(b)


@pytest.mark.parametrize(("a", "b"), [("Sudzha", "Korenevo"), ("Gornal", "Guyevo")])
def test_different_names_keep_different_keys(a: str, b: str) -> None:
    assert loose_key(a) != loose_key(b)
    assert skeleton_key(a) != skeleton_key(b)


def test_cyrillic_spelling_is_indexed_under_russian_and_ukrainian_schemes() -> None:
    keys = spelling_keys("Горналь")
    assert {"горнал", "gornal", "hornal"} <= keys


def test_plain_key_drops_apostrophes_and_punctuation() -> None:
    assert plain_key("Nikolayevo-Dar’ino") == "nikolayevo darino"
    assert plain_key("Ol'govka") == "olgovka"

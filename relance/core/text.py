"""Text folded for search: accents, case and spacing do not matter ("Jiménez" ≙ "jimenez")."""

from __future__ import annotations

import unicodedata

# letters NFKD does not decompose into a base letter and a mark
_SPECIAL = str.maketrans({"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ł": "l", "þ": "th", "ı": "i"})


def fold(text: str) -> str:
    """Lower case, without diacritics, whitespace collapsed: the form stored and searched.

    Portable (the same in SQLite and PostgreSQL): the database compares plain folded strings."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_SPECIAL))
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(bare.split())


def search_text(*parts: object) -> str:
    """The folded parts that are not empty, joined by `` | `` (a separator a query cannot span)."""
    return " | ".join(folded for part in parts if part and (folded := fold(str(part))))


def sentence(text: str) -> str:
    """``text`` as a sentence for people: a capital first, a full stop last
    ("the amount must be positive" → "The amount must be positive.")."""
    text = " ".join(str(text).split())
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."

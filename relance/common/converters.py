"""The ``<id:…>`` path converter: a row id, 1 to 18 digits.

Django's ``<int:…>`` takes any number of digits, and a 20-digit id reaches the database, where
SQLite refuses it ("Python int too large to convert to SQLite INTEGER"): a 500 for a mistyped or
hostile link. An id that cannot be a row (a 64-bit signed integer) is not a URL at all: a 404.
Registered by ``CommonConfig.ready``; every URL with a row id uses it.
"""

from __future__ import annotations


class IdConverter:
    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(int(value))


def row_id_or_none(text: str | None) -> int | None:
    """An id from a query string or form field: 1 to 18 ASCII digits, else None."""
    if text and len(text) <= 18 and text.isascii() and text.isdigit():
        return int(text)
    return None

"""CSV written for people to open in a spreadsheet, safe against formula injection.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a formula
by Excel, LibreOffice and Google Sheets (CWE-1236). Such cells get a leading apostrophe, which
spreadsheets show as text. Every CSV export of Relance writes through ``SafeCsvWriter``.
Pure: no Django.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: object) -> str:
    """The text of ``value``, prefixed with ``'`` when a spreadsheet would read it as a formula.

    Numbers are left alone (a negative amount ``-12.50`` is data, not a formula).
    """
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    if text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


class SafeCsvWriter:
    """``csv.writer`` whose every cell goes through ``neutralise_cell``."""

    def __init__(self, stream: Any, **fmtparams: Any) -> None:
        self._writer = csv.writer(stream, **fmtparams)

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([neutralise_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)

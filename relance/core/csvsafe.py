"""CSV written for people to open in a spreadsheet, safe against formula injection.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a formula
by Excel, LibreOffice and Google Sheets (CWE-1236). Such cells get a leading apostrophe, which
spreadsheets show as text.

A spreadsheet may also split a cell where Relance did not: a semicolon-locale Excel opens a
comma-separated file on ``;``, a tab-separated reader splits on tabs, and a reader that loses
the quoting splits rows on line breaks. So ``x;=1+1`` would become ``x`` and the formula
``=1+1``. An apostrophe therefore also goes before a trigger that follows any separator a
spreadsheet may use (``, ; | TAB CR LF``), and after leading spaces a reader may trim:
``x;'=1+1``, `` '=1``. The text is kept
otherwise; only apostrophes are added. Every CSV export of Relance writes through
``SafeCsvWriter``. Pure: no Django.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
SPREADSHEET_SEPARATORS = ",;|\t\r\n"
# A trigger at the start or after a separator, past spaces a reader may trim: ``'`` goes before it.
_TRIGGER = re.compile(r"((?:^|[,;|\t\r\n]) *)(?=[=+\-@])")


def neutralise_cell(value: object) -> str:
    """The text of ``value``, with ``'`` before every place a spreadsheet could start a formula.

    Numbers are left alone (a negative amount ``-12.50`` is data, not a formula).
    """
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    text = _TRIGGER.sub(r"\1'", text)
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

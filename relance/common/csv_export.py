"""The CSV download of every list in the back office: formula-safe, streamed, plain decimals.

Text goes through ``relance.core.csvsafe.neutralise_cell``, the rule of every Relance CSV
(ADR 0009): an apostrophe before ``=``, ``+``, ``-``, ``@``, a tab or a carriage return at the
start of a cell or after a separator a spreadsheet may split on, so a customer named
``=HYPERLINK(…)`` in the ledger cannot attack whoever opens the file (OWASP, "CSV Injection").
Numbers (``Decimal``, ``int``) are written as plain numbers, so ``-12.50`` stays a number; money
is a plain decimal (``1234.50``, never ``€1,234.50``) with its currency in a column of its own.

Rows are written as they are read (``StreamingHttpResponse``): a list of a million invoices is
never held in memory. What a user may see is the caller's business: callers pass the same scoped
rows as the page (``relance.accounts.selectors.customer_scope`` and friends).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone

from relance.core.csvsafe import neutralise_cell

BOM = "\ufeff"  # spreadsheets then read the file as UTF-8


def safe_cell(value: Any) -> str | int:
    """One cell: numbers and dates as they are, text neutralised when a spreadsheet would run it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, int):
        return value
    if isinstance(value, datetime):
        return (
            timezone.localtime(value).isoformat(timespec="seconds")
            if timezone.is_aware(value)
            else value.isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    return neutralise_cell(value)


def money(amount: Decimal | None) -> Decimal | None:
    """An amount for a cell: 2 decimals (``1234.50``), or 4 when the ledger holds more."""
    if amount is None:
        return None
    cents = amount.quantize(Decimal("0.01"))
    return cents if cents == amount else amount.quantize(Decimal("0.0001"))


class _Echo:
    """A file whose ``write`` returns what it was given: ``csv.writer`` then yields lines."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield BOM + writer.writerow([safe_cell(name) for name in header])
    for row in rows:
        yield writer.writerow([safe_cell(cell) for cell in row])


def csv_response(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> StreamingHttpResponse:
    """A streamed ``text/csv`` download named ``filename`` (``.csv`` added when missing)."""
    name = filename if filename.endswith(".csv") else f"{filename}.csv"
    response = StreamingHttpResponse(csv_lines(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response

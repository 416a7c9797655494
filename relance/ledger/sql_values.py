"""Values read with raw SQL or aggregates, made what the ORM gives for a stored column.

SQLite returns a sum of a decimal column as a float and ``MIN(date)`` as text; PostgreSQL returns
``Decimal`` and ``date``. Every reader of such values goes through these functions (the
dunning, portal, credit and cash-application selectors used to keep their own copies).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

STORED = Decimal("0.0001")  # the four places money is stored with
_ZERO = Decimal(0).quantize(STORED)


def stored_money(value: Any) -> Decimal:
    """``value`` as money with the four stored places; 0 for None. A float (a SQLite sum) is read
    through its shortest text form, as Django's own converter does, never its binary expansion."""
    if type(value) is Decimal:
        return value.quantize(STORED)
    if value is None:
        return _ZERO
    if isinstance(value, float):
        return Decimal(str(value)).quantize(STORED)
    return Decimal(value).quantize(STORED)


RATE_PLACES = Decimal("0.00000001")  # an exchange rate's eight stored places


def stored_rate(value: Any) -> Decimal:
    """An exchange rate read with raw SQL, as the ORM gives it (eight places; a SQLite float through
    its shortest text form)."""
    if isinstance(value, float):
        value = str(value)
    return Decimal(value).quantize(RATE_PLACES)


def stored_day(value: Any) -> date | None:
    """``value`` as a date (SQLite's text ``YYYY-MM-DD`` parsed); None stays None."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))

"""Business dates: parsing, month arithmetic, periods. Dates are ``datetime.date``, never datetimes."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from relance.core.errors import ValidationFailed


def parse_iso_date(text: str) -> date:
    """Parse ``YYYY-MM-DD`` strictly (no times, no other layouts)."""
    value = (text or "").strip()
    if len(value) != 10 or value[4] != "-" or value[7] != "-":
        raise ValidationFailed(f"not an ISO date YYYY-MM-DD: {text!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(f"not a valid calendar date: {text!r}") from None


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def months_spanned(start: date, end: date) -> int:
    """Number of calendar months touched by ``[start, end]`` (Jan 1–Mar 31 → 3)."""
    return (end.year - start.year) * 12 + (end.month - start.month) + 1


@dataclass(frozen=True)
class Period:
    """An inclusive range of business dates."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValidationFailed(f"period ends ({self.end}) before it starts ({self.start})")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def months(self) -> int:
        return months_spanned(self.start, self.end)

    @property
    def day_before(self) -> date:
        return self.start - timedelta(days=1)

    @classmethod
    def trailing_months(cls, end: date, months: int = 3) -> Period:
        """The ``months`` calendar months ending with the month of ``end`` (to ``end`` itself)."""
        return cls(month_start(add_months(end, -(months - 1))), end)

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

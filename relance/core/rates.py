"""Currency conversion with the rates an entity imported: one home for the rule.

The rule: the latest rate on or before the date; when only the opposite pair was stored, its
inverse; the same currency converts at 1; anything else is ``MissingRate`` (never a guess, never a
network fetch). Results are rounded to the target currency's minor units. Decimal throughout.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from relance.core.errors import ValidationFailed
from relance.core.money import Money

MISSING_RATE = (
    "no exchange rate {base}→{quote} on or before {on} (nor {quote}→{base}): "
    "import one with `relance rates import`"
)


class MissingRate(ValidationFailed):
    """No stored rate converts ``base`` to ``quote`` on ``on``."""

    def __init__(self, base: str, quote: str, on: date) -> None:
        super().__init__(MISSING_RATE.format(base=base, quote=quote, on=on.isoformat()), code="missing_rate")
        self.base = base
        self.quote = quote
        self.on = on


@dataclass(frozen=True)
class Rate:
    """1 ``base`` = ``rate`` ``quote`` from ``rate_date`` on (until a later rate of the pair)."""

    rate_date: date
    base: str
    quote: str
    rate: Decimal

    def __post_init__(self) -> None:
        if not isinstance(self.rate, Decimal):
            raise TypeError(f"a rate must be Decimal, got {type(self.rate).__name__}")
        if self.rate <= 0:
            raise ValueError(f"a rate must be above 0, got {self.rate}")


@dataclass(frozen=True)
class RateTable:
    """The rates of one entity, by pair and date: build with ``RateTable.of(rows)``."""

    _dates: dict[tuple[str, str], tuple[date, ...]] = field(default_factory=dict)
    _rates: dict[tuple[str, str], tuple[Decimal, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, rates: Iterable[Rate]) -> RateTable:
        by_pair: dict[tuple[str, str], dict[date, Decimal]] = {}
        for rate in rates:
            by_pair.setdefault((rate.base, rate.quote), {})[rate.rate_date] = rate.rate
        dates = {pair: tuple(sorted(days)) for pair, days in by_pair.items()}
        values = {pair: tuple(by_pair[pair][day] for day in dates[pair]) for pair in by_pair}
        return cls(dates, values)

    def __len__(self) -> int:
        return sum(len(days) for days in self._dates.values())

    def currencies(self) -> frozenset[str]:
        return frozenset(currency for pair in self._dates for currency in pair)

    def _latest(self, base: str, quote: str, on: date) -> tuple[date, Decimal] | None:
        days = self._dates.get((base, quote))
        if not days:
            return None
        index = bisect.bisect_right(days, on) - 1
        if index < 0:
            return None
        return days[index], self._rates[(base, quote)][index]

    def in_force(self, on: date) -> list[Rate]:
        """Each stored pair's rate that applies on ``on`` (its latest on or before it), by pair."""
        rates = []
        for base, quote in sorted(self._dates):
            latest = self._latest(base, quote, on)
            if latest is not None:
                rates.append(Rate(latest[0], base, quote, latest[1]))
        return rates

    def rate(self, from_currency: str, to_currency: str, on: date) -> Decimal:
        """How many ``to_currency`` one ``from_currency`` is worth on ``on`` (unrounded).

        The direct pair's latest rate on or before ``on``; otherwise the inverse of the opposite
        pair's. When both pairs are stored the direct one is used, whatever their dates."""
        if from_currency == to_currency:
            return Decimal(1)
        direct = self._latest(from_currency, to_currency, on)
        if direct is not None:
            return direct[1]
        inverse = self._latest(to_currency, from_currency, on)
        if inverse is not None:
            return Decimal(1) / inverse[1]
        raise MissingRate(from_currency, to_currency, on)

    def convert(self, amount: Decimal, from_currency: str, to_currency: str, on: date) -> Decimal:
        """``amount`` in ``to_currency``, rounded to its minor units as ``Money.rounded`` does."""
        if not isinstance(amount, Decimal):
            raise TypeError(f"amounts are Decimal, got {type(amount).__name__}")
        converted = amount * self.rate(from_currency, to_currency, on)
        return Money(converted, to_currency).rounded().amount

"""Money as ``Decimal`` plus an ISO 4217 currency. Never float.

Babel supplies the currency list and each currency's minor-unit precision (ADR 0002).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from relance.core.errors import ValidationFailed

# Historic or fund codes Babel still lists but nobody invoices in.
_EXCLUDED = {"XXX", "XTS", "XAU", "XAG", "XPD", "XPT", "XBA", "XBB", "XBC", "XBD", "XDR", "XSU", "XUA"}


@lru_cache(maxsize=1)
def iso_currencies() -> frozenset[str]:
    from babel.numbers import list_currencies  # on first use: Babel's data is not needed to start

    return frozenset(code for code in list_currencies() if len(code) == 3 and code not in _EXCLUDED)


def is_currency(code: str) -> bool:
    return code in iso_currencies()


def validate_currency(code: str) -> str:
    """Return the upper-cased code, or raise if it is not an ISO 4217 currency."""
    normalised = (code or "").strip().upper()
    if not is_currency(normalised):
        raise ValidationFailed(f"unknown currency {code!r}: expected an ISO 4217 code such as EUR")
    return normalised


@lru_cache(maxsize=512)
def minor_units(currency: str) -> int:
    from babel.numbers import get_currency_precision

    return int(get_currency_precision(currency))


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


# Money columns are ``max_digits=18, decimal_places=4``: at most 14 digits before the point.
MAX_INTEGER_DIGITS = 14


def parse_amount(text: str | int | Decimal) -> Decimal:
    """Parse a decimal-point amount (``1234.50``). Rejects floats, thousands separators, NaN and
    Infinity, digits other than ASCII (``Decimal`` reads "１２３") and amounts no column can hold."""
    if isinstance(text, float):  # pragma: no cover - defensive: floats never carry money here
        raise ValidationFailed("amounts must not be floats")
    if isinstance(text, str) and not text.isascii():
        raise ValidationFailed(f"not a decimal number: {text!r}")
    try:
        value = Decimal(str(text).strip())
    except (InvalidOperation, ValueError):
        raise ValidationFailed(f"not a decimal number: {text!r}") from None
    if not value.is_finite():
        raise ValidationFailed(f"not a finite number: {text!r}")
    if value and value.adjusted() >= MAX_INTEGER_DIGITS:
        raise ValidationFailed(f"too large for an amount (at most {MAX_INTEGER_DIGITS} digits): {text!r}")
    return value


@dataclass(frozen=True, order=False)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError(f"Money amount must be Decimal, got {type(self.amount).__name__}")
        object.__setattr__(self, "currency", validate_currency(self.currency))

    @classmethod
    def of(cls, amount: str | int | Decimal, currency: str) -> Money:
        return cls(parse_amount(amount), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError("Money can only be combined with Money")
        if other.currency != self.currency:
            raise ValueError(f"currency mismatch: {self.currency} vs {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def is_zero(self) -> bool:
        return self.amount == 0

    def rounded(self, rounding: str = ROUND_HALF_UP) -> Money:
        return Money(self.amount.quantize(quantum(self.currency), rounding=rounding), self.currency)

    def allocate(self, weights: list[int]) -> list[Money]:
        """Split into parts proportional to ``weights`` without creating or losing a minor unit."""
        if not weights or any(w < 0 for w in weights) or sum(weights) == 0:
            raise ValueError("weights must be non-negative and not all zero")
        step = quantum(self.currency)
        total_units = int((self.amount / step).to_integral_value(rounding=ROUND_HALF_EVEN))
        total_weight = sum(weights)
        shares = [total_units * w // total_weight for w in weights]
        for index in range(total_units - sum(shares)):
            shares[index % len(shares)] += 1
        return [Money(Decimal(units) * step, self.currency) for units in shares]

    def format(self, locale: str = "en") -> str:
        """For people, in ``locale`` (a language code): ``relance.core.formatting.format_money``."""
        from relance.core.formatting import format_money

        return format_money(self.amount, self.currency, locale)

    def __str__(self) -> str:
        return f"{self.amount.quantize(quantum(self.currency))} {self.currency}"

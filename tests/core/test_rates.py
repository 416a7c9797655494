"""The conversion rule (relance.core.rates): latest on or before, inverse, same currency, MissingRate."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relance.core.errors import ValidationFailed
from relance.core.money import quantum
from relance.core.rates import MissingRate, Rate, RateTable

JAN = date(2026, 1, 1)
FEB = date(2026, 2, 1)
MAR = date(2026, 3, 1)

TABLE = RateTable.of(
    [
        Rate(JAN, "EUR", "USD", Decimal("1.10")),
        Rate(FEB, "EUR", "USD", Decimal("1.20")),
        Rate(FEB, "GBP", "EUR", Decimal("1.15")),
        Rate(JAN, "USD", "JPY", Decimal("150")),
    ]
)


def test_the_latest_rate_on_or_before_the_date_converts():
    assert TABLE.convert(Decimal("100.00"), "EUR", "USD", JAN) == Decimal("110.00")
    assert TABLE.convert(Decimal("100.00"), "EUR", "USD", date(2026, 1, 31)) == Decimal("110.00")
    assert TABLE.convert(Decimal("100.00"), "EUR", "USD", FEB) == Decimal("120.00")
    assert TABLE.convert(Decimal("100.00"), "EUR", "USD", MAR) == Decimal("120.00")


def test_in_force_gives_each_pairs_latest_rate_on_or_before_the_date():
    assert TABLE.in_force(date(2026, 1, 15)) == [
        Rate(JAN, "EUR", "USD", Decimal("1.10")),
        Rate(JAN, "USD", "JPY", Decimal("150")),
    ]
    assert Rate(FEB, "EUR", "USD", Decimal("1.20")) in TABLE.in_force(MAR)


def test_the_inverse_of_the_stored_pair_is_used_when_only_that_exists():
    # 1 GBP = 1.15 EUR, so 115 EUR = 100 GBP.
    assert TABLE.convert(Decimal("115.00"), "EUR", "GBP", MAR) == Decimal("100.00")
    assert TABLE.rate("EUR", "GBP", MAR) == Decimal(1) / Decimal("1.15")


def test_the_same_currency_converts_at_one_even_without_rates():
    assert RateTable.of([]).convert(Decimal("12.34"), "CHF", "CHF", JAN) == Decimal("12.34")


def test_the_result_has_the_target_currency_minor_units():
    assert TABLE.convert(Decimal("1.01"), "USD", "JPY", JAN) == Decimal("152")
    assert TABLE.convert(Decimal("1.01"), "USD", "JPY", JAN).as_tuple().exponent == 0
    assert TABLE.convert(Decimal("152"), "JPY", "USD", JAN) == Decimal("1.01")


@pytest.mark.parametrize(
    ("from_currency", "to_currency", "on"),
    [
        ("EUR", "USD", date(2025, 12, 31)),  # before the first rate of the pair
        ("GBP", "EUR", JAN),  # the pair exists from February only
        ("EUR", "JPY", MAR),  # no chaining through USD: never a guess
        ("CHF", "EUR", MAR),
    ],
)
def test_a_missing_rate_names_the_pair_and_the_date(from_currency, to_currency, on):
    with pytest.raises(MissingRate) as caught:
        TABLE.convert(Decimal("1.00"), from_currency, to_currency, on)
    assert isinstance(caught.value, ValidationFailed)
    assert f"{from_currency}→{to_currency}" in caught.value.message
    assert on.isoformat() in caught.value.message
    assert caught.value.code == "missing_rate"


def test_floats_are_refused():
    with pytest.raises(TypeError):
        TABLE.convert(1.5, "EUR", "USD", JAN)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Rate(JAN, "EUR", "USD", 1.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="above 0"):
        Rate(JAN, "EUR", "USD", Decimal(0))


CURRENCIES = st.sampled_from(["EUR", "USD", "JPY", "KWD", "GBP"])


@given(
    base=CURRENCIES,
    quote=CURRENCIES,
    cents=st.integers(min_value=0, max_value=10**12),
    rate=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("10000"), places=8),
    inverse_stored=st.booleans(),
)
def test_convert_then_convert_back_stays_within_rounding(base, quote, cents, rate, inverse_stored):
    amount = Decimal(cents) * quantum(base)
    stored = Rate(JAN, base, quote, rate) if not inverse_stored else Rate(JAN, quote, base, Decimal(1) / rate)
    table = RateTable.of([stored] if base != quote else [])
    there = table.convert(amount, base, quote, MAR)
    back = table.convert(there, quote, base, MAR)
    assert isinstance(there, Decimal)
    assert isinstance(back, Decimal)
    # Rounding to the quote's unit loses at most half of it, worth half a unit / rate in the base;
    # rounding back loses at most half a base unit.
    effective = table.rate(base, quote, MAR)
    bound = quantum(base) / 2 + quantum(quote) / (2 * effective)
    assert abs(back - amount) <= bound * (1 + Decimal("1e-20"))

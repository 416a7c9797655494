from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relance.core.errors import ValidationFailed
from relance.core.money import Money, minor_units, parse_amount, validate_currency


def test_currency_codes_are_iso_4217():
    assert validate_currency(" eur ") == "EUR"
    assert minor_units("JPY") == 0
    assert minor_units("KWD") == 3
    with pytest.raises(ValidationFailed, match="ISO 4217"):
        validate_currency("EURO")
    with pytest.raises(ValidationFailed):
        validate_currency("ABC")


@pytest.mark.parametrize("text", ["12,50", "1 000", "NaN", "inf", "", "abc", "1e"])
def test_parse_amount_rejects_what_is_not_a_plain_decimal(text):
    with pytest.raises(ValidationFailed):
        parse_amount(text)


def test_parse_amount_keeps_exact_decimals():
    assert parse_amount("0.10") + parse_amount("0.20") == Decimal("0.30")


def test_money_refuses_floats_and_mixed_currencies():
    with pytest.raises(TypeError):
        Money(0.1, "EUR")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="currency mismatch"):
        Money.of("1", "EUR") + Money.of("1", "USD")


def test_money_formats_in_the_reader_locale():
    assert Money.of("1234.5", "EUR").format("fr") == "1\u202f234,50\u00a0€"
    assert Money.of("1234.5", "USD").format("en") == "$1,234.50"


@given(
    cents=st.integers(min_value=0, max_value=10**12),
    weights=st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=12).filter(any),
)
def test_allocate_never_creates_or_loses_a_cent(cents, weights):
    total = Money(Decimal(cents) / 100, "EUR")
    parts = total.allocate(weights)
    assert sum((p.amount for p in parts), Decimal(0)) == total.amount
    assert all(p.amount >= 0 for p in parts)
    assert len(parts) == len(weights)

from datetime import UTC, date, datetime

import pytest

from relance.core.calendar import Period, add_months, months_spanned, parse_iso_date
from relance.core.clock import FrozenClock
from relance.core.errors import FieldError, ValidationFailed
from relance.core.identifiers import (
    normalise_bic,
    normalise_iban,
    normalise_phone,
    normalise_tax_id,
    validate_country,
)


@pytest.mark.parametrize("text", ["2024-02-30", "24-01-01", "2024/01/01", "01/02/2024", "2024-1-1", ""])
def test_parse_iso_date_is_strict(text):
    with pytest.raises(ValidationFailed):
        parse_iso_date(text)


def test_periods_count_days_and_months():
    q1 = Period(date(2023, 1, 1), date(2023, 3, 31))
    assert q1.days == 90
    assert q1.months == 3
    assert q1.day_before == date(2022, 12, 31)
    assert Period.trailing_months(date(2023, 3, 15), 3) == Period(date(2023, 1, 1), date(2023, 3, 15))
    assert months_spanned(date(2023, 3, 1), date(2023, 3, 31)) == 1
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    with pytest.raises(ValidationFailed):
        Period(date(2023, 2, 1), date(2023, 1, 1))


def test_frozen_clock_needs_an_aware_instant_and_moves_only_when_told():
    with pytest.raises(ValueError, match="FrozenClock needs a timezone-aware instant"):
        FrozenClock(datetime(2024, 1, 1))
    clock = FrozenClock(datetime(2024, 1, 1, 23, 30, tzinfo=UTC))
    assert clock.today() == date(2024, 1, 1)
    clock.advance(hours=1)
    assert clock.today() == date(2024, 1, 2)


def test_identifiers_are_validated_and_normalised():
    assert normalise_iban("de89 3704 0044 0532 0130 00") == "DE89370400440532013000"
    assert normalise_bic("COBADEFFXXX") == "COBADEFFXXX"
    assert normalise_phone("06 12 34 56 78", "FR") == "+33612345678"
    assert validate_country("fr") == "FR"
    assert normalise_tax_id("FR 40 303 265 045", "FR") == "FR40303265045"
    for bad in [
        lambda: normalise_iban("DE89370400440532013001"),
        lambda: normalise_bic("NOTABIC"),
        lambda: normalise_phone("12345", "FR"),
        lambda: validate_country("XX"),
        lambda: validate_country("ZZ"),
        lambda: validate_country("EU"),
        lambda: normalise_tax_id("FR00000000000", "FR"),
    ]:
        with pytest.raises(ValidationFailed):
            bad()


def test_field_error_reads_like_a_compiler_message():
    error = FieldError(
        "due_date", "a date on or after issue_date 2024-01-10", "2024-01-01", 7, "invoices.csv"
    )
    assert (
        str(error)
        == "invoices.csv:7: due_date: expected a date on or after issue_date 2024-01-10, found '2024-01-01'"
    )

"""Statutory late-payment charges: the worked examples of docs/reference §5 and invariants."""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relance.core.errors import ValidationFailed
from relance.core.late_charges import (
    RATE_FIXINGS,
    RULE_PACKS,
    LateChargeRule,
    RateTable,
    ReferenceRates,
    check_contractual_terms,
    late_charge,
    load_reference_rates,
    minimum_contractual_rate,
    rule_pack,
)

EU, FR, UK, FI = (RULE_PACKS[code] for code in ("EU", "FR", "UK", "FI"))


def test_eu_worked_example():
    charge = late_charge(
        amount=Decimal("10000"),
        currency="EUR",
        due_date=date(2024, 8, 1),
        paid_or_as_of=date(2024, 9, 30),
        rule=EU,
    )
    assert charge.days_late == 60
    assert charge.rate == Decimal("12.25")  # ECB 4.25 on 1 Jul 2024 + 8
    assert charge.interest == Decimal("201.37")
    assert (charge.compensation, charge.compensation_currency) == (Decimal(40), "EUR")


def test_france_worked_example():
    charge = late_charge(
        amount=Decimal("10000"),
        currency="EUR",
        due_date=date(2024, 8, 31),
        paid_or_as_of=date(2024, 9, 30),
        rule=FR,
    )
    assert (charge.days_late, charge.rate) == (30, Decimal("14.25"))
    assert charge.interest == Decimal("117.12")
    assert charge.compensation == Decimal(40)


def test_uk_worked_example():
    charge = late_charge(
        amount=Decimal("5000"),
        currency="GBP",
        due_date=date(2024, 3, 15),
        paid_or_as_of=date(2024, 5, 14),
        rule=UK,
    )
    assert (charge.days_late, charge.rate) == (60, Decimal("13.25"))  # base rate 5.25 on 31 Dec 2023 + 8
    assert charge.interest == Decimal("108.90")
    assert (charge.compensation, charge.compensation_currency) == (Decimal(70), "GBP")


@pytest.mark.parametrize(
    ("amount", "expected"),
    [("999.99", 40), ("1000", 70), ("9999.99", 70), ("10000", 100), ("250000", 100)],
)
def test_uk_compensation_bands(amount, expected):
    charge = late_charge(
        amount=Decimal(amount),
        currency="GBP",
        due_date=date(2024, 3, 15),
        paid_or_as_of=date(2024, 3, 16),
        rule=UK,
    )
    assert charge.compensation == Decimal(expected)


@pytest.mark.parametrize(
    ("semester_start", "expected"),
    [
        (date(2022, 1, 1), "8.25"),
        (date(2022, 7, 1), "9.25"),
        (date(2023, 1, 1), "11.50"),
        (date(2023, 7, 1), "13.00"),
        (date(2024, 1, 1), "13.25"),
    ],
)
def test_uk_rates_match_the_published_table(semester_start, expected):
    """§5.3 'Recent rates': the base rate on 31 Dec / 30 Jun before the semester, + 8."""
    charge = late_charge(
        amount=Decimal(100),
        currency="GBP",
        due_date=semester_start,
        paid_or_as_of=semester_start + timedelta(10),
        rule=UK,
    )
    assert charge.rate == Decimal(expected)


def test_uk_interest_starting_on_1_july_uses_the_30_june_rate():
    # Due 30 Jun 2023 → interest starts 1 Jul 2023 → base rate on 30 Jun 2023 (5.00) + 8.
    charge = late_charge(
        amount=Decimal(100),
        currency="GBP",
        due_date=date(2023, 6, 30),
        paid_or_as_of=date(2023, 7, 5),
        rule=UK,
    )
    assert charge.rate == Decimal("13.00")


def test_semester_of_due_date_and_fixed_at_start_differ_only_on_the_semester_edge():
    due = date(2024, 6, 30)  # ECB 4.50 on 1 Jan 2024, 4.25 on 1 Jul 2024
    by_due = late_charge(
        amount=Decimal(1000), currency="EUR", due_date=due, paid_or_as_of=date(2024, 7, 30), rule=EU
    )
    at_start = late_charge(
        amount=Decimal(1000),
        currency="EUR",
        due_date=due,
        paid_or_as_of=date(2024, 7, 30),
        rule=LateChargeRule(**{**EU.__dict__, "rate_fixing": "fixed_at_start"}),
    )
    assert (by_due.rate, at_start.rate) == (Decimal("12.50"), Decimal("12.25"))


def test_split_by_semester_charges_each_semester_at_its_rate():
    split = LateChargeRule(**{**EU.__dict__, "rate_fixing": "split_by_semester"})
    charge = late_charge(
        amount=Decimal(10000),
        currency="EUR",
        due_date=date(2024, 6, 20),
        paid_or_as_of=date(2024, 7, 10),
        rule=split,
    )
    assert [(p.start, p.end, p.days, p.rate) for p in charge.periods] == [
        (date(2024, 6, 21), date(2024, 6, 30), 10, Decimal("12.50")),
        (date(2024, 7, 1), date(2024, 7, 10), 10, Decimal("12.25")),
    ]
    exact = Decimal(10000) * (Decimal("0.1250") * 10 + Decimal("0.1225") * 10) / 365
    assert charge.interest == exact.quantize(Decimal("0.01"))  # rounded once, not per period


def test_finland_rounds_the_reference_up_to_half_a_point():
    charge = late_charge(
        amount=Decimal(1000),
        currency="EUR",
        due_date=date(2024, 8, 1),
        paid_or_as_of=date(2024, 8, 31),
        rule=FI,
    )
    assert charge.rate == Decimal("12.5")  # 4.25 → 4.5, + 8


def test_day_count_actual_360():
    rule = LateChargeRule(**{**EU.__dict__, "day_count": "actual/360"})
    charge = late_charge(
        amount=Decimal(3600),
        currency="EUR",
        due_date=date(2024, 8, 1),
        paid_or_as_of=date(2024, 8, 11),
        rule=rule,
    )
    assert charge.interest == Decimal("12.25")  # 3600 × 12.25 % × 10/360


def test_contractual_rate_and_margin_override():
    kwargs: dict[str, Any] = dict(
        amount=Decimal(10000), currency="EUR", due_date=date(2024, 8, 31), paid_or_as_of=date(2024, 9, 30)
    )
    assert late_charge(**kwargs, rule=FR, contractual_rate=Decimal("15")).rate == Decimal(15)
    assert late_charge(**kwargs, rule=EU, margin_pp=Decimal(9)).rate == Decimal("13.25")


def test_france_floor_is_three_times_the_legal_rate():
    rates = load_reference_rates()
    assert minimum_contractual_rate(rule=FR, reference_rates=rates, on=date(2024, 9, 1)) == Decimal("14.76")
    check_contractual_terms(
        rule=FR, reference_rates=rates, on=date(2024, 9, 1), contractual_rate=Decimal("14.76")
    )
    with pytest.raises(
        ValidationFailed, match=r"below the FR minimum of 14.76 % \(3 × the legal rate of 4.92 %"
    ):
        check_contractual_terms(
            rule=FR, reference_rates=rates, on=date(2024, 9, 1), contractual_rate=Decimal("14.75")
        )


def test_eu_margin_below_eight_points_is_refused():
    with pytest.raises(ValidationFailed, match="margin 7 pp is below the EU minimum of 8 pp"):
        check_contractual_terms(
            rule=EU, reference_rates=load_reference_rates(), on=date(2024, 9, 1), margin_pp=Decimal(7)
        )


def test_unknown_jurisdiction_and_dates_before_the_table():
    with pytest.raises(ValidationFailed, match="unknown late-charge jurisdiction 'XX'"):
        rule_pack("XX")
    with pytest.raises(
        ValidationFailed, match=r"no ecb_mro rate known on 1999-07-01 \(the table starts on 2016-03-16\)"
    ):
        late_charge(
            amount=Decimal(1),
            currency="EUR",
            due_date=date(1999, 12, 1),
            paid_or_as_of=date(2000, 2, 1),
            rule=EU,
        )


def test_rate_tables_are_in_date_order_and_cite_a_source():
    rates = load_reference_rates()
    assert set(rates.tables) >= {"ecb_mro", "boe_base", "fr_legal"}
    for table in rates.tables.values():
        assert table.source.startswith("https://")
    with pytest.raises(ValueError, match="in date order"):
        RateTable(name="x", entries=((date(2024, 2, 1), Decimal(1)), (date(2024, 1, 1), Decimal(2))))


# --- invariants ---------------------------------------------------------------------------------------

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("10000000"), places=2)
due_dates = st.dates(min_value=date(2023, 1, 1), max_value=date(2025, 6, 1))
rules = st.sampled_from([EU, FR, UK, FI]).flatmap(
    lambda rule: st.sampled_from(RATE_FIXINGS).map(
        lambda fixing: LateChargeRule(**{**rule.__dict__, "rate_fixing": fixing})
    )
)


@given(amount=amounts, due=due_dates, days=st.integers(0, 900), extra=st.integers(0, 400), rule=rules)
def test_interest_grows_with_days_late(amount, due, days, extra, rule):
    shorter = late_charge(
        amount=amount, currency="EUR", due_date=due, paid_or_as_of=due + timedelta(days), rule=rule
    )
    longer = late_charge(
        amount=amount, currency="EUR", due_date=due, paid_or_as_of=due + timedelta(days + extra), rule=rule
    )
    assert longer.interest >= shorter.interest >= 0
    assert longer.days_late == days + extra


@given(amount=amounts, more=amounts, due=due_dates, days=st.integers(0, 900), rule=rules)
def test_interest_and_compensation_grow_with_the_amount(amount, more, due, days, rule):
    paid = due + timedelta(days)
    small = late_charge(amount=amount, currency="EUR", due_date=due, paid_or_as_of=paid, rule=rule)
    large = late_charge(amount=amount + more, currency="EUR", due_date=due, paid_or_as_of=paid, rule=rule)
    assert large.interest >= small.interest
    assert large.compensation >= small.compensation


@given(amount=amounts, due=due_dates, early=st.integers(0, 400), rule=rules)
def test_nothing_is_due_when_paid_on_time(amount, due, early, rule):
    charge = late_charge(
        amount=amount, currency="EUR", due_date=due, paid_or_as_of=due - timedelta(early), rule=rule
    )
    assert (charge.interest, charge.compensation, charge.days_late) == (0, 0, 0)
    assert not charge.is_late


@given(amount=amounts, due=due_dates, days=st.integers(1, 900))
def test_interest_is_rounded_to_the_minor_unit(amount, due, days):
    for currency, places in (("EUR", 2), ("JPY", 0), ("BHD", 3)):
        charge = late_charge(
            amount=amount, currency=currency, due_date=due, paid_or_as_of=due + timedelta(days), rule=EU
        )
        assert charge.interest.as_tuple().exponent == -places


def test_a_custom_table_can_replace_the_shipped_ones():
    rates = ReferenceRates(
        tables={"ecb_mro": RateTable(name="ecb_mro", entries=((date(2020, 1, 1), Decimal(2)),))}
    )
    charge = late_charge(
        amount=Decimal(365),
        currency="EUR",
        due_date=date(2024, 1, 1),
        paid_or_as_of=date(2024, 1, 2),
        rule=EU,
        reference_rates=rates,
    )
    assert (charge.rate, charge.interest) == (Decimal(10), Decimal("0.10"))

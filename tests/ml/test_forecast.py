"""The cash forecast from pay-date quantiles (relance.ml.forecast): sums, bands, weeks, scenarios."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np

from relance.core.rates import Rate, RateTable
from relance.ml.forecast import (
    METHOD_ANALYTIC,
    METHOD_SIMULATION,
    PayDateArrays,
    Scenario,
    forecast,
    paid_by,
    spans,
)
from relance.ml.predictions import InvoicePrediction

AS_OF = date(2026, 12, 2)  # a Wednesday: the first week starts on Monday 7 December


def prediction(ref, customer, amount, p10, median, p90, currency="EUR"):
    day = lambda n: AS_OF + timedelta(days=n)  # noqa: E731
    return InvoicePrediction(
        invoice_id=0,
        invoice_ref=ref,
        customer_ref=customer,
        currency=currency,
        open_amount=Decimal(amount),
        as_of=AS_OF,
        p_late=0.5,
        expected_pay_date=day(median),
        pay_date_p10=day(p10),
        pay_date_p90=day(p90),
        drivers=(),
        model="baseline",
    )


BOOK = [
    prediction("A", "ACME", "100.00", 3, 10, 20),
    prediction("B", "ACME", "250.50", 1, 1, 1),
    prediction("C", "BETA", "999.99", 20, 40, 90),
    prediction("D", "BETA", "42.42", 5, 6, 30),
    prediction("E", "GAMMA", "1234.56", 8, 15, 25),
]


def _partition_sum(result):
    parts = [*result.weeks, result.after]
    if result.before_first_week is not None:
        parts.append(result.before_first_week)
    return sum((p.expected for p in parts), Decimal(0))


def test_week_starts_are_the_monday_after_then_every_seven_days():
    report = forecast(BOOK, AS_OF, currency="EUR", weeks=13)
    starts = [week.start for week in report.total.weeks]
    assert len(starts) == 13
    assert starts[0] == date(2026, 12, 7) and starts[0].weekday() == 0
    assert all((b - a).days == 7 for a, b in zip(starts, starts[1:], strict=False))
    assert report.total.before_first_week.start == date(2026, 12, 3)
    assert report.total.before_first_week.end == date(2026, 12, 6)
    assert [day.start for day in report.total.days] == [AS_OF + timedelta(days=n) for n in range(1, 15)]
    # As of a Sunday the first week starts the next day: no days before it.
    sunday = date(2026, 12, 6)
    assert spans(sunday)[0].kind == "week" and spans(sunday)[0].first == 1
    report = forecast([prediction("A", "ACME", "1", 1, 2, 3)], sunday, currency="EUR")
    assert report.total.before_first_week is None
    assert report.total.weeks[0].start == date(2026, 12, 7)


def test_the_buckets_add_up_to_the_open_total_to_the_cent():
    report = forecast(BOOK, AS_OF, currency="EUR", weeks=4)
    assert report.total.open_amount == Decimal("2627.47")
    assert _partition_sum(report.total) == Decimal("2627.47")
    # B pays on day 1 for sure: the whole of it on 3 December.
    assert report.total.days[0].expected >= Decimal("250.50")


def test_low_expected_high_are_ordered_in_every_bucket():
    for method in (METHOD_SIMULATION, METHOD_ANALYTIC):
        report = forecast(BOOK, AS_OF, currency="EUR", method=method)
        buckets = [
            *report.total.weeks,
            *report.total.days,
            report.total.after,
            report.total.before_first_week,
        ]
        for bucket in buckets:
            assert Decimal(0) <= bucket.low <= bucket.expected <= bucket.high <= report.total.open_amount


def test_the_fit_gives_back_the_quantiles_it_was_fitted_to():
    q10, q50, q90 = np.array([3.0]), np.array([10.0]), np.array([20.0])
    assert paid_by(q10, q50, q90, 2)[0] < 0.1 < paid_by(q10, q50, q90, 3)[0]
    assert paid_by(q10, q50, q90, 9)[0] < 0.5 <= paid_by(q10, q50, q90, 10)[0]
    assert paid_by(q10, q50, q90, 19)[0] < 0.9 <= paid_by(q10, q50, q90, 20)[0]
    # all three equal: a point mass
    one = np.array([7.0])
    assert (paid_by(one, one, one, 6)[0], paid_by(one, one, one, 7)[0]) == (0.0, 1.0)


def test_same_seed_same_band_and_the_expected_does_not_depend_on_it():
    first = forecast(BOOK, AS_OF, currency="EUR", seed=7).to_json()
    assert forecast(BOOK, AS_OF, currency="EUR", seed=7).to_json() == first
    other = forecast(BOOK, AS_OF, currency="EUR", seed=8).to_json()
    assert [w["expected"] for w in other["weeks"]] == [w["expected"] for w in first["weeks"]]


def test_simulation_and_the_analytic_band_agree_on_a_large_book():
    rng = np.random.default_rng(3)
    n = 5_000
    median = rng.integers(1, 60, n)
    base = np.datetime64(AS_OF, "D")
    columns = PayDateArrays.of_columns(
        invoice_refs=[str(i) for i in range(n)],
        customer_refs=["X"] * n,
        currencies=["EUR"] * n,
        open_amounts=rng.uniform(10, 1000, n).round(2),
        p10=base + np.maximum(1, median - rng.integers(0, 10, n)).astype("timedelta64[D]"),
        median=base + median.astype("timedelta64[D]"),
        p90=base + (median + rng.integers(0, 30, n)).astype("timedelta64[D]"),
    )
    simulated = forecast(columns, AS_OF, currency="EUR", method=METHOD_SIMULATION).total
    analytic = forecast(columns, AS_OF, currency="EUR", method=METHOD_ANALYTIC).total
    for a, b in zip(simulated.weeks[:6], analytic.weeks[:6], strict=True):
        assert a.expected == b.expected
        width = float(b.high - b.low)
        assert abs(float(a.low - b.low)) < 0.15 * width
        assert abs(float(a.high - b.high)) < 0.15 * width


def test_scenario_later_shifts_only_those_customers():
    base = forecast(BOOK, AS_OF, currency="EUR", weeks=13)
    later = forecast(BOOK, AS_OF, currency="EUR", weeks=13, scenario=Scenario(later_days={"ACME": 14}))
    assert later.total.open_amount == base.total.open_amount
    # ACME's B (250.50, day 1 for sure) moves to day 15: out of the days before the first week.
    assert base.total.before_first_week.expected - later.total.before_first_week.expected >= Decimal("250.50")
    acme_only = forecast(BOOK[:2], AS_OF, currency="EUR", scenario=Scenario(later_days={"ACME": 14}))
    assert acme_only.total.weeks[1].expected >= Decimal("250.50")  # day 15 = Thursday 17 December
    assert later.to_json()["scenario"]["later_days"] == {"ACME": 14}


def test_scenario_write_off_removes_the_invoices():
    report = forecast(BOOK, AS_OF, currency="EUR", scenario=Scenario(written_off=frozenset({"C", "ZZZ"})))
    assert report.total.open_amount == Decimal("2627.47") - Decimal("999.99")
    assert _partition_sum(report.total) == report.total.open_amount
    assert report.written_off == {"EUR": Decimal("999.99")}
    assert any("ZZZ" in note for note in report.notes)


def test_currencies_converted_with_the_rates_rule_and_a_missing_rate_is_a_note():
    book = [*BOOK, prediction("U", "USCO", "100.00", 2, 5, 9, currency="USD")]
    rates = RateTable.of([Rate(date(2026, 11, 30), "USD", "EUR", Decimal("0.9"))])
    report = forecast(book, AS_OF, currency="EUR", rates=rates)
    assert [f.currency for f in report.by_currency] == ["EUR", "USD"]
    assert report.total.open_amount == Decimal("2627.47") + Decimal("90.00")
    assert _partition_sum(report.total) == report.total.open_amount
    # no GBP rate: left out of the EUR total, said, never guessed
    book.append(prediction("G", "UKCO", "500.00", 2, 5, 9, currency="GBP"))
    report = forecast(book, AS_OF, currency="EUR", rates=rates)
    assert report.total.open_amount == Decimal("2717.47")
    assert report.left_out == {"GBP": Decimal("500.00")}
    assert any("GBP→EUR" in note for note in report.notes)
    assert [f.currency for f in report.by_currency] == ["EUR", "GBP", "USD"]


def test_by_group_adds_up_to_the_total():
    labels = [p.customer_ref for p in BOOK]
    report = forecast(BOOK, AS_OF, currency="EUR", group_labels=labels)
    assert [g.group for g in report.groups] == ["ACME", "BETA", "GAMMA"]
    assert sum((g.open_amount for g in report.groups), Decimal(0)) == report.total.open_amount
    for week in range(13):
        total = sum((g.weeks[week].expected for g in report.groups), Decimal(0))
        assert abs(total - report.total.weeks[week].expected) <= Decimal("0.03")


def test_json_contract():
    payload = forecast(BOOK, AS_OF, currency="EUR").to_json()
    assert payload["currency"] == "EUR"
    week = payload["weeks"][0]
    assert {"week_start", "expected", "low", "high"} <= set(week)
    assert week["week_start"] == "2026-12-07"
    assert Decimal(week["low"]) <= Decimal(week["expected"]) <= Decimal(week["high"])


def test_nothing_open_is_an_empty_forecast_not_a_crash():
    report = forecast([], AS_OF, currency="EUR")
    assert report.total.open_amount == Decimal("0.00")
    assert all(week.expected == 0 for week in report.total.weeks)

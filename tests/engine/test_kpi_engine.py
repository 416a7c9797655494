"""The KPI engine through the full Ibis path, on every backend (SQLite, DuckDB, PostgreSQL)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from relance.core.errors import ValidationFailed
from relance.engine import formulas
from relance.engine.formulas import AgingBuckets
from relance.engine.kpi import KpiParams, KpiReport, compute_kpis
from tests.engine.ledgers import LedgerRows, shared_dataset

D = Decimal
END_Q1 = date(2023, 3, 31)


def only(reports: list[KpiReport]) -> KpiReport:
    assert len(reports) == 1, reports
    return reports[0]


def kpis(tables, as_of: date = END_Q1, start: date | None = None, **params) -> dict:
    params.setdefault("currency", "EUR")
    return only(compute_kpis(tables, KpiParams(as_of=as_of, period_start=start, **params))).to_json()


def test_shared_dataset_quarter_golden_numbers(backend):
    tables = backend(shared_dataset().rows())
    report = kpis(tables, start=date(2023, 1, 1))
    assert report["ar_total"] == "210000.00"
    assert report["ar_begin"] == "200000.00"
    assert report["credit_sales"] == "370000.00"
    assert report["ar_current"] == "140000.00"
    assert report["aging"] == {
        "current": "140000.00",
        "1-30": "35000.00",
        "31-60": "10000.00",
        "61-90": "5000.00",
        "91+": "20000.00",
    }
    assert report["days_in_period"] == 90
    assert report["dso"] == 51.08
    assert report["bpdso"] == 34.05
    assert report["add"] == 17.03
    assert report["dso_countback"] == 45.00
    assert report["dso_countback_stopped"] == formulas.COUNTBACK_COMPLETE
    assert report["cei"] == 61.82
    assert report["turnover"] == 1.805
    assert report["turnover_annualised"] == 7.22
    assert report["percent_current"] == 66.67
    assert report["open_invoices"] == 6


def test_shared_dataset_march_cei(backend):
    tables = backend(shared_dataset().rows())
    report = kpis(tables, start=date(2023, 3, 1))
    assert report["ar_begin"] == "190000.00"
    assert report["credit_sales"] == "150000.00"
    assert report["cei"] == 65.0
    assert report["dso_countback"] == 45.00  # countback does not depend on the period


def test_default_period_is_three_calendar_months(backend):
    tables = backend(shared_dataset().rows())
    report = kpis(tables, as_of=date(2023, 3, 31))
    assert (report["period_start"], report["period_end"]) == ("2023-01-01", "2023-03-31")
    assert report["dso"] == 51.08


def dbt_ledger() -> LedgerRows:
    """§4.6/§4.7: three invoices dated day 0 on net 30, paid on days 37, 25 and 50."""
    ledger = LedgerRows()
    day0 = date(2023, 1, 2)
    for amount, paid_day in ((10_000, 37), (30_000, 25), (10_000, 50)):
        invoice = ledger.invoice(amount, day0, day0 + timedelta(30))
        ledger.pay(invoice, amount, day0 + timedelta(paid_day))
    ledger.invoice(999, day0, day0 + timedelta(30))  # never paid: excluded from every measure
    return ledger


def test_paid_invoice_measures_through_the_engine(backend):
    tables = backend(dbt_ledger().rows())
    report = kpis(tables, as_of=date(2023, 3, 31), start=date(2023, 1, 1))
    assert report["invoices_paid_in_period"] == 3
    assert report["amount_paid_in_period"] == "50000.00"
    assert report["dbt"] == 5.4
    assert report["average_days_to_pay"] == 37.33
    assert report["weighted_average_days_to_pay"] == 32.40
    assert report["weighted_average_days_late"] == 2.40
    assert report["average_days_late"] == 7.33


def test_partial_payments_close_on_the_last_allocation(backend):
    ledger = LedgerRows()
    invoice = ledger.invoice(100, date(2023, 1, 1), date(2023, 1, 31))
    ledger.pay(invoice, 40, date(2023, 1, 20))
    ledger.pay(invoice, 60, date(2023, 2, 10))  # closes it: 10 days late
    tables = backend(ledger.rows())
    report = kpis(tables, as_of=date(2023, 3, 31), start=date(2023, 1, 1))
    assert report["invoices_paid_in_period"] == 1
    assert report["dbt"] == 10.0 and report["average_days_to_pay"] == 40.0
    # paid before the period: not in the March measures
    march = kpis(tables, as_of=date(2023, 3, 31), start=date(2023, 3, 1))
    assert march["invoices_paid_in_period"] == 0 and march["dbt"] is None


def test_credit_notes_settle_but_do_not_pay(backend):
    ledger = LedgerRows()
    credited = ledger.invoice(100, date(2023, 1, 1), date(2023, 1, 31))
    note = ledger.credit_note(100, date(2023, 3, 15))
    ledger.allocate(credited, 100, date(2023, 3, 15), credit_note=note)  # fully credited: no payment
    mixed = ledger.invoice(200, date(2023, 1, 1), date(2023, 1, 31))
    ledger.pay(mixed, 150, date(2023, 2, 10))  # the cash: 10 days late
    ledger.allocate(mixed, 50, date(2023, 3, 20), credit_note=ledger.credit_note(50, date(2023, 3, 20)))
    report = kpis(backend(ledger.rows()), as_of=date(2023, 3, 31), start=date(2023, 1, 1))
    assert report["ar_gross_invoices"] == "0.00"
    assert report["invoices_paid_in_period"] == 1  # only the one cash took part in
    assert report["dbt"] == 10.0  # dated by its last cash allocation, not the credit note
    assert report["average_days_to_pay"] == 40.0


def test_time_travel_ignores_later_allocations(backend):
    tables = backend(shared_dataset().rows())
    end_of_february = kpis(tables, as_of=date(2023, 2, 28), start=date(2023, 2, 1))
    assert end_of_february["ar_total"] == "190000.00"
    assert (
        end_of_february["ar_begin"]
        == kpis(tables, as_of=date(2023, 1, 31), start=date(2023, 1, 1))["ar_total"]
    )
    # invoices issued after the as-of date do not exist yet
    start_of_year = kpis(tables, as_of=date(2022, 12, 31), start=date(2022, 12, 1))
    assert start_of_year["ar_total"] == "200000.00"


def test_void_invoices_never_count(backend):
    ledger = LedgerRows()
    ledger.invoice(1_000, date(2023, 3, 1), date(2023, 3, 31))
    void = ledger.invoice(5_000, date(2023, 3, 2), date(2023, 3, 2), status="void")
    ledger.payment(700, date(2023, 3, 5))
    ledger.allocate(void, 700, date(2023, 3, 5), payment=1)  # applied before the void: back to unapplied
    report = kpis(backend(ledger.rows()), start=date(2023, 3, 1))
    assert report["ar_gross_invoices"] == "1000.00"
    assert report["unapplied_cash"] == "700.00"
    assert report["ar_total"] == "300.00"
    assert report["invoiced_in_period"] == "1000.00"
    assert report["open_invoices"] == 1


def test_a_later_void_does_not_rewrite_earlier_reports(backend):
    ledger = LedgerRows()
    ledger.invoice(1_000, date(2023, 1, 10), date(2023, 2, 9))
    voided = ledger.invoice(400, date(2023, 1, 15), date(2023, 2, 14), status="void")
    ledger.invoices[voided - 1]["voided_on"] = date(2023, 3, 1)
    tables = backend(ledger.rows())
    january = kpis(tables, as_of=date(2023, 1, 31), start=date(2023, 1, 1))
    assert january["ar_gross_invoices"] == "1400.00" and january["invoiced_in_period"] == "1400.00"
    assert kpis(tables, as_of=date(2023, 2, 28), start=date(2023, 2, 1))["ar_gross_invoices"] == "1400.00"
    march = kpis(tables, as_of=date(2023, 3, 1), start=date(2023, 1, 1))
    assert march["ar_gross_invoices"] == "1000.00" and march["invoiced_in_period"] == "1000.00"


def test_credit_notes_and_unapplied_cash(backend):
    ledger = LedgerRows()
    first = ledger.invoice(1_000, date(2023, 3, 1), date(2023, 4, 1))
    second = ledger.invoice(500, date(2023, 2, 1), date(2023, 3, 1))
    credit = ledger.credit_note(300, date(2023, 3, 10))
    ledger.allocate(first, 100, date(2023, 3, 12), credit_note=credit)  # 200 of the credit stays open
    payment = ledger.payment(800, date(2023, 3, 20))
    ledger.allocate(second, 500, date(2023, 3, 20), payment=payment)  # 300 of the cash is unapplied
    ledger.credit_note(50, date(2023, 4, 2))  # after the as-of date
    report = kpis(backend(ledger.rows()), start=date(2023, 3, 1))
    assert report["ar_gross_invoices"] == "900.00"
    assert report["open_credits"] == "200.00"
    assert report["unapplied_cash"] == "300.00"
    assert report["ar_total"] == "400.00"
    assert report["credited_in_period"] == "300.00"
    assert report["credit_sales"] == "700.00"  # 1,000 invoiced − 300 credited in March
    assert report["ar_begin"] == "500.00"
    assert report["aging"]["current"] == "900.00"
    assert report["ar_past_due"] == "0.00"
    assert report["invoices_paid_in_period"] == 1


def test_currencies_are_never_added(backend):
    ledger = LedgerRows()
    ledger.invoice(1_000, date(2023, 3, 1), date(2023, 3, 31))
    ledger.invoice("2500.5", date(2023, 3, 1), date(2023, 3, 1), currency="USD")
    ledger.invoice(700, date(2023, 3, 1), date(2023, 3, 31), currency="JPY")
    ledger.payment(40, date(2023, 3, 3), currency="USD")
    tables = backend(ledger.rows())
    everything = compute_kpis(tables, KpiParams(as_of=END_Q1))
    assert [(r.currency, r.to_json()["ar_total"]) for r in everything] == [
        ("EUR", "1000.00"),
        ("JPY", "700"),
        ("USD", "2460.50"),
    ]
    assert kpis(tables, currency="USD")["aging"]["1-30"] == "2500.50"
    empty = kpis(tables, currency="GBP")
    assert empty["ar_total"] == "0.00" and empty["dso"] is None and empty["cei"] is None


def test_entity_filter(backend):
    ledger = LedgerRows()
    ledger.invoice(1_000, date(2023, 3, 1), date(2023, 3, 31))
    ledger.invoice(9_000, date(2023, 3, 1), date(2023, 3, 31), entity_id=2)
    report = kpis(backend(ledger.rows()), entity_id=1)
    assert report["ar_total"] == "1000.00"


def test_grouping_gives_one_report_per_group(backend):
    ledger = LedgerRows()
    north = ledger.customer("N1", segment="north", collector="alice")
    south = ledger.customer("S1", segment="south", collector="bob")
    other = ledger.customer("N2", segment="north", collector="")
    ledger.invoice(1_000, date(2023, 3, 1), date(2023, 3, 31), customer=north)
    ledger.invoice(400, date(2023, 2, 1), date(2023, 2, 15), customer=other)
    paid = ledger.invoice(2_000, date(2023, 3, 1), date(2023, 3, 10), customer=south)
    ledger.pay(paid, 2_000, date(2023, 3, 20), customer=south)
    ledger.payment(50, date(2023, 3, 25), customer=north)
    tables = backend(ledger.rows())
    by_segment = compute_kpis(tables, KpiParams(as_of=END_Q1, currency="EUR", group_by="segment"))
    summary = {r.group: (r.to_json()["ar_total"], r.to_json()["credit_sales"]) for r in by_segment}
    assert summary == {"north": ("1350.00", "1400.00"), "south": ("0.00", "2000.00")}
    south_report = next(r for r in by_segment if r.group == "south").to_json()
    assert south_report["dbt"] == 10.0 and south_report["invoices_paid_in_period"] == 1
    by_collector = compute_kpis(tables, KpiParams(as_of=END_Q1, currency="EUR", group_by="collector"))
    assert [r.group for r in by_collector] == ["", "alice", "bob"]
    by_customer = compute_kpis(tables, KpiParams(as_of=END_Q1, currency="EUR", group_by="customer"))
    assert {r.group: r.to_json()["ar_total"] for r in by_customer} == {
        "N1": "950.00",
        "N2": "400.00",
        "S1": "0.00",
    }
    total = sum((r.ar_total for r in by_customer), D(0))
    assert total == only(compute_kpis(tables, KpiParams(as_of=END_Q1, currency="EUR"))).ar_total


def test_countback_flags_exhausted_history_and_stops_at_months_without_sales(backend):
    ledger = LedgerRows()
    ledger.invoice(5_000, date(2022, 12, 1), date(2022, 12, 31))
    ledger.invoice(10_000, date(2023, 2, 1), date(2023, 2, 28))
    ledger.invoice(5_000, date(2023, 3, 1), date(2023, 3, 31))
    ledger.credit_note(4_000, date(2023, 3, 15))
    tables = backend(ledger.rows())
    # AR 16,000; March net sales 1,000 (31 days), February 10,000 (28 days), January nothing
    report = kpis(tables, start=date(2023, 1, 1), countback_months=2)
    assert report["ar_total"] == "16000.00"
    assert report["dso_countback"] == 59.0
    assert report["dso_countback_stopped"] == formulas.COUNTBACK_HISTORY_EXHAUSTED
    unbounded = kpis(tables, start=date(2023, 1, 1))
    assert unbounded["dso_countback"] == 59.0
    assert unbounded["dso_countback_stopped"] == formulas.COUNTBACK_NON_POSITIVE_SALES


def test_custom_aging_buckets(backend):
    ledger = LedgerRows()
    for days_late, amount in ((-3, 1), (0, 2), (1, 4), (15, 8), (16, 16), (400, 32)):
        ledger.invoice(amount, date(2023, 1, 1), END_Q1 - timedelta(days_late))
    buckets = AgingBuckets.from_upper_bounds(("not due", "up to 15", "later"), (0, 15))
    report = kpis(backend(ledger.rows()), aging=buckets)
    assert report["aging"] == {"not due": "3.00", "up to 15": "12.00", "later": "48.00"}
    assert report["ar_current"] == "3.00"


def test_params_are_validated():
    with pytest.raises(ValidationFailed, match="group_by"):
        KpiParams(as_of=END_Q1, group_by="region")
    with pytest.raises(ValidationFailed, match="after the as-of date"):
        KpiParams(as_of=END_Q1, period_start=date(2023, 4, 1))


def test_kpis_on_parquet_leave_pandas_unloaded(tmp_path):
    """`relance kpi` on Parquet fetches DuckDB's Arrow itself: Ibis's to_pyarrow would import pandas
    for its converter (~0.4 s of the command, issue 20). The same numbers as the golden test."""
    import subprocess
    import sys

    import pyarrow.parquet as pq

    from relance.engine.backends import engine_arrow_table

    for name, rows in shared_dataset().rows().items():
        pq.write_table(engine_arrow_table(name, rows), tmp_path / f"{name}.parquet")
    code = (
        "import sys\n"
        "from datetime import date\n"
        "from relance.engine.backends import connect\n"
        "from relance.engine.kpi import KpiParams, compute_kpis\n"
        f"ledger = connect('parquet://{tmp_path}')\n"
        "params = KpiParams(as_of=date(2023, 3, 31), period_start=date(2023, 1, 1), currency='EUR')\n"
        "print(compute_kpis(ledger.tables, params)[0].to_json()['ar_total'], 'pandas' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert done.stdout.split() == ["210000.00", "False"]

"""``kpi_report`` on the app database: Django's storage read through the engine binding."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from relance.ledger.models import Customer
from relance.reports.selectors import kpi_report
from tests.engine.ledgers import LedgerRows, shared_dataset
from tests.engine.test_kpi_engine import dbt_ledger

pytestmark = pytest.mark.django_db


def test_golden_numbers_through_the_app_database(entity, load_ledger):
    load_ledger(shared_dataset())
    quarter = kpi_report(entity=entity, as_of=date(2023, 3, 31))
    assert len(quarter) == 1
    report = quarter[0].to_json()
    assert (report["period_start"], report["currency"], report["group"]) == ("2023-01-01", "EUR", None)
    assert report["ar_total"] == "210000.00"
    assert report["aging"] == {
        "current": "140000.00",
        "1-30": "35000.00",
        "31-60": "10000.00",
        "61-90": "5000.00",
        "91+": "20000.00",
    }
    assert (report["dso"], report["bpdso"], report["add"], report["dso_countback"]) == (
        51.08,
        34.05,
        17.03,
        45.0,
    )
    assert report["cei"] == 61.82
    march = kpi_report(entity=entity, as_of=date(2023, 3, 31), period_start=date(2023, 3, 1))[0]
    assert march.to_json()["cei"] == 65.0
    assert march.ar_begin == Decimal(190_000)


def test_paid_invoice_measures_and_fractional_amounts(entity, load_ledger):
    ledger = dbt_ledger()
    ledger.invoice("0.10", date(2023, 1, 2), date(2023, 1, 2))
    ledger.invoice("1234.5678", date(2023, 1, 2), date(2023, 2, 2))
    load_ledger(ledger)
    report = kpi_report(entity=entity, as_of=date(2023, 3, 31), period_start=date(2023, 1, 1))[0]
    assert report.ar_gross_invoices == Decimal("999") + Decimal("0.10") + Decimal("1234.5678")
    assert report.to_json()["ar_total"] == "2233.67"
    assert report.to_json()["dbt"] == 5.4
    assert report.to_json()["weighted_average_days_to_pay"] == 32.4


def test_grouping_by_collector_uses_usernames(entity, load_ledger):
    ledger = LedgerRows()
    alice = ledger.customer("A1", segment="north", collector="alice")
    nobody = ledger.customer("B1", segment="south")
    ledger.invoice(100, date(2023, 3, 1), date(2023, 3, 31), customer=alice)
    ledger.invoice(40, date(2023, 3, 1), date(2023, 3, 31), customer=nobody)
    load_ledger(ledger)
    reports = kpi_report(entity=entity, as_of=date(2023, 3, 31), group_by="collector")
    assert {r.group: str(r.ar_total) for r in reports} == {"": "40.0000", "alice": "100.0000"}


def test_other_entities_and_currencies_are_excluded(entity, load_ledger, make_customer, make_invoice):
    from relance.ledger.services import entity_create_or_update

    load_ledger(shared_dataset())
    other, _ = entity_create_or_update(name="other", currency="EUR", language="en")
    stranger = Customer.objects.create(entity=other, external_ref="X", name="X", currency="EUR")
    make_invoice(stranger, "X-1", "5000", date(2023, 3, 1))
    dollars = make_customer("USD1", currency="USD")
    make_invoice(dollars, "USD-1", "777", date(2023, 3, 1))
    assert kpi_report(entity=entity, as_of=date(2023, 3, 31))[0].ar_total == Decimal(210_000)
    usd = kpi_report(entity=entity, as_of=date(2023, 3, 31), currency="usd")[0]
    assert (usd.currency, usd.ar_total) == ("USD", Decimal(777))


def test_the_app_connection_stays_usable(entity, load_ledger):
    """The engine shares Django's connection: the transaction and LIKE semantics are untouched."""
    load_ledger(shared_dataset())
    kpi_report(entity=entity, as_of=date(2023, 3, 31) - timedelta(days=1))
    assert Customer.objects.filter(name__icontains="customer c1").count() == 1

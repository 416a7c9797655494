"""The real-data check: the IBM Accounts-Receivable sample imported through docs/mappings/ibm-ar.yaml.

The same CSV is imported three times (customers, invoices, payments), then the ledger is read
back and compared with the file, and the KPI engine's DBT/ADP with figures computed here in
plain Python from the file alone.
"""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from relance.ledger.models import Allocation, Customer, Invoice, Payment
from relance.ledger.selectors import ledger_totals

pytestmark = pytest.mark.django_db

MAPPING = Path(__file__).resolve().parents[2] / "docs" / "mappings" / "ibm-ar.yaml"
FILE_NAME = "WA_Fn-UseC_-Accounts-Receivable.csv"


def _day(text: str) -> date:
    return datetime.strptime(text, "%m/%d/%Y").date()


@pytest.fixture
def ibm_file(shared_datasets: Path) -> Path:
    path = shared_datasets / "data" / FILE_NAME
    if not path.is_file():
        pytest.skip(f"SKIPPED: {path} is missing from the shared datasets")
    return path


@pytest.fixture
def ibm_rows(ibm_file: Path) -> list[dict[str, str]]:
    with ibm_file.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.fixture
def ibm_loaded(entity, ibm_file, run_import):
    outcomes = {}
    for kind in ("customers", "invoices", "payments"):
        run = run_import(kind, ibm_file, "--mapping", str(MAPPING))
        assert run.ok, run.stderr + run.error
        outcomes[kind] = run.outcome
    return outcomes


def test_ibm_sample_imports_completely_and_days_late_match(ibm_loaded, ibm_rows):
    assert ibm_loaded["customers"]["created"] == 100
    assert ibm_loaded["customers"]["merged_duplicates"] == 2466 - 100
    assert ibm_loaded["invoices"]["created"] == 2466
    assert ibm_loaded["payments"]["created"] == 2466
    assert Customer.objects.count() == 100
    assert Invoice.objects.count() == 2466
    assert Payment.objects.count() == Allocation.objects.count() == 2466
    assert set(Customer.objects.values_list("payment_terms_days", flat=True)) == {30}
    totals = ledger_totals(entity=Invoice.objects.first().entity)["USD"]
    assert totals.invoiced == totals.cash_received == Decimal("147703.18")
    assert totals.open_items == 0
    # Zero-padded invoice numbers stay text.
    assert Invoice.objects.filter(external_ref="0000611365").exists()

    # DaysLate and DaysToSettle recomputed from the ledger's dates equal the file's on every row.
    paid_on = dict(Allocation.objects.values_list("invoice__external_ref", "date"))
    due = dict(Invoice.objects.values_list("external_ref", "due_date"))
    issued = dict(Invoice.objects.values_list("external_ref", "issue_date"))
    days_late = {ref: max(0, (paid_on[ref] - due[ref]).days) for ref in due}
    mismatches = [
        row["invoiceNumber"] for row in ibm_rows if days_late[row["invoiceNumber"]] != int(row["DaysLate"])
    ]
    assert mismatches == []
    assert all(
        (paid_on[r["invoiceNumber"]] - issued[r["invoiceNumber"]]).days == int(r["DaysToSettle"])
        for r in ibm_rows
    )

    def bucket(days: int) -> str:
        return (
            "0"
            if days == 0
            else "1-10"
            if days <= 10
            else "11-20"
            if days <= 20
            else "21-30"
            if days <= 30
            else ">30"
        )

    assert Counter(bucket(days) for days in days_late.values()) == {
        "0": 1589,
        "1-10": 539,
        "11-20": 257,
        "21-30": 73,
        ">30": 8,
    }


def test_ibm_sample_reimport_changes_nothing(ibm_loaded, ibm_file, run_import):
    for kind in ("customers", "invoices", "payments"):
        run = run_import(kind, ibm_file, "--mapping", str(MAPPING))
        assert run.ok
        assert (run.outcome["created"], run.outcome["updated"]) == (0, 0)


def test_ibm_sample_dbt_and_adp_over_the_history(ibm_loaded, ibm_rows):
    kpis = pytest.importorskip("relance.reports.selectors", reason="the KPI engine is not there yet")
    entity = Invoice.objects.first().entity
    [report] = kpis.kpi_report(
        entity=entity, as_of=date(2014, 1, 31), period_start=date(2012, 1, 1), currency="USD"
    )

    # Independently, from the file alone: every invoice is settled inside that period.
    amount = {r["invoiceNumber"]: Decimal(r["InvoiceAmount"]) for r in ibm_rows}
    settled = {r["invoiceNumber"]: _day(r["SettledDate"]) for r in ibm_rows}
    issued = {r["invoiceNumber"]: _day(r["InvoiceDate"]) for r in ibm_rows}
    due = {r["invoiceNumber"]: _day(r["DueDate"]) for r in ibm_rows}
    total = sum(amount.values())
    dbt = sum(amount[n] * max(0, (settled[n] - due[n]).days) for n in amount) / total
    adp = Decimal(sum((settled[n] - issued[n]).days for n in amount)) / len(amount)
    wap = sum(amount[n] * (settled[n] - issued[n]).days for n in amount) / total
    wadl = sum(amount[n] * (settled[n] - due[n]).days for n in amount) / total

    assert report.invoices_paid_in_period == 2466
    assert report.amount_paid_in_period == Decimal("147703.18")
    assert abs(report.dbt - dbt) < Decimal("0.000001")
    assert abs(report.average_days_to_pay - adp) < Decimal("0.000001")
    assert abs(report.weighted_average_days_to_pay - wap) < Decimal("0.000001")
    assert abs(report.weighted_average_days_late - wadl) < Decimal("0.000001")
    assert round(adp, 2) == Decimal("26.44")  # the documented mean DaysToSettle

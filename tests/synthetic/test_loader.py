from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from relance.core.errors import Conflict
from relance.demo.loader import ledger_load
from relance.ledger.models import Allocation, Contact, CreditNote, Customer, Invoice, Payment
from relance.ledger.selectors import invoice_list_with_open, ledger_totals
from relance.synthetic.generator import GeneratedLedger, GeneratorConfig, generate_ledger
from tests.synthetic.conftest import END
from tests.synthetic.invariants import frames

SMALL = GeneratorConfig(seed=24, customers=30, months=12, end=END)  # a seed with subsidiaries


@pytest.fixture(scope="module")
def small_ledger() -> GeneratedLedger:
    return generate_ledger(SMALL)


def _expected_totals(ledger: GeneratedLedger, as_of: date | None) -> dict[str, dict[str, Decimal]]:
    """ledger_totals computed straight from the generated arrays."""
    f = frames(ledger)
    cut = (
        (lambda frame, column: frame)
        if as_of is None
        else (lambda frame, column: frame[frame[column] <= as_of])
    )
    invoices = cut(f["invoices"], "issue_date")
    live = invoices[invoices["status"] == "open"]
    allocations = cut(f["allocations"], "date").merge(
        f["invoices"][["invoice_id", "currency", "status"]], on="invoice_id"
    )
    allocations = allocations[allocations["status"] == "open"]
    cash = allocations[allocations["payment_id"].notna()]
    credit = allocations[allocations["credit_note_id"].notna()]

    def by_currency(frame: pd.DataFrame) -> dict[str, Decimal]:
        return {c: Decimal(int(v)) / 100 for c, v in frame.groupby("currency")["cents"].sum().items()}

    invoiced, credited = by_currency(live), by_currency(cut(f["credit_notes"], "date"))
    received, cash_allocated, credit_allocated = (
        by_currency(cut(f["payments"], "date")),
        by_currency(cash),
        by_currency(credit),
    )
    zero = Decimal(0)
    return {
        currency: {
            "invoiced": invoiced.get(currency, zero),
            "credited": credited.get(currency, zero),
            "cash_received": received.get(currency, zero),
            "cash_allocated": cash_allocated.get(currency, zero),
            "open_invoices": invoiced.get(currency, zero)
            - cash_allocated.get(currency, zero)
            - credit_allocated.get(currency, zero),
            "open_credits": credited.get(currency, zero) - credit_allocated.get(currency, zero),
        }
        for currency in sorted(set(invoiced) | set(credited) | set(received))
    }


def _actual_totals(entity, as_of: date | None) -> dict[str, dict[str, Decimal]]:
    fields = ("invoiced", "credited", "cash_received", "cash_allocated", "open_invoices", "open_credits")
    return {
        currency: {name: Decimal(getattr(totals, name)).quantize(Decimal("0.01")) for name in fields}
        for currency, totals in ledger_totals(entity=entity, as_of=as_of).items()
    }


def test_loading_gives_the_totals_of_the_arrays(entity, small_ledger: GeneratedLedger) -> None:
    result = ledger_load(ledger=small_ledger, entity=entity)
    assert result.invoices == small_ledger.invoices.num_rows == Invoice.objects.filter(entity=entity).count()
    assert result.allocations == small_ledger.allocations.num_rows == Allocation.objects.count()
    assert Customer.objects.filter(entity=entity).count() == 30 == Contact.objects.count()
    assert Payment.objects.count() == small_ledger.payments.num_rows
    assert CreditNote.objects.count() == small_ledger.credit_notes.num_rows
    for as_of in (None, END - timedelta(days=90)):
        assert _actual_totals(entity, as_of) == _expected_totals(small_ledger, as_of), as_of
    open_now = invoice_list_with_open(entity=entity).filter(open_amount__gt=0)
    assert open_now.filter(issue_date__gt=END - timedelta(days=30)).exists()
    assert "30 customers" in str(result)


def test_loaded_rows_pass_model_validation(entity, small_ledger: GeneratedLedger) -> None:
    ledger_load(ledger=small_ledger, entity=entity)
    for model in (Customer, Contact, Invoice, CreditNote, Payment, Allocation):
        rows = list(model.objects.all()[:40])
        assert rows, model.__name__
        for row in rows:
            row.full_clean()  # field validators (E.164 phones, e-mails, languages…) and constraints
    invoice = Invoice.objects.get(external_ref="INV-000001")
    generated = small_ledger.invoices.slice(0, 1).to_pylist()[0]
    assert invoice.amount == generated["amount"]
    assert invoice.customer.external_ref == f"C-{generated['customer_id']:05d}"
    assert all(c.currency == c.customer.currency for c in Invoice.objects.select_related("customer")[:200])


def test_loading_twice_into_one_entity_is_refused(entity, small_ledger: GeneratedLedger) -> None:
    ledger_load(ledger=small_ledger, entity=entity)
    with pytest.raises(Conflict, match="already has customer C-00001"):
        ledger_load(ledger=small_ledger, entity=entity)
    assert Invoice.objects.count() == small_ledger.invoices.num_rows


def test_generate_command_writes_files_without_a_database(tmp_path: Path) -> None:
    out = StringIO()
    call_command(
        "generate", "--customers", "20", "--months", "6", "--end", "2026-06-30", "--out", str(tmp_path),
        "--json", stdout=out,
    )  # fmt: skip
    summary = json.loads(out.getvalue())
    assert summary["invoices"] == 20 * 6 * 5 // 2 == pq.read_table(tmp_path / "invoices.parquet").num_rows
    assert summary["rows"]["invoices"] == summary["invoices"]
    assert summary["start"] == "2025-12-30"
    call_command(
        "generate", "--invoices", "500", "--out", str(tmp_path / "csv"), "--format", "csv", "--quiet"
    )
    assert (tmp_path / "csv" / "invoices.csv").read_text().count("\n") == 501


def test_generate_command_loads_into_a_new_entity(db, tmp_path: Path) -> None:
    out = StringIO()
    call_command(
        "generate", "--customers", "10", "--months", "3", "--end", "2026-06-30", "--load", "--entity", "synth",
        "--out", str(tmp_path), "--json", stdout=out,
    )  # fmt: skip
    summary = json.loads(out.getvalue())
    assert summary["entity"] == "synth"
    assert Invoice.objects.filter(entity__name="synth").count() == summary["invoices"] == 75
    assert summary["loaded"] == summary["rows"]


def test_generate_command_refuses_bad_options(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="--out DIR"):
        call_command("generate")
    with pytest.raises(CommandError, match="not an ISO date"):
        call_command("generate", "--end", "23/11/2026", "--out", str(tmp_path))
    with pytest.raises(CommandError, match="customers must be at least 1"):
        call_command("generate", "--customers", "0", "--out", str(tmp_path))


def test_generated_csv_imports_with_relance_import(db, tmp_path: Path) -> None:
    """What ``relance generate --format csv`` writes, ``relance import`` accepts: the generator only
    writes what the importer validates (phone numbers, e-mails, languages, currencies)."""
    call_command(
        "generate", "--customers", "300", "--months", "2", "--end", "2026-06-30", "--out", str(tmp_path),
        "--format", "csv", "--quiet",
    )  # fmt: skip
    call_command("init", entity="synth", no_policies=True, stdout=StringIO())
    call_command("import", "customers", str(tmp_path / "customers.csv"), "--quiet", stdout=StringIO())
    call_command("import", "invoices", str(tmp_path / "invoices.csv"), "--quiet", stdout=StringIO())
    assert Customer.objects.filter(entity__name="synth").count() == 300
    assert Invoice.objects.filter(entity__name="synth").count() == 300 * 2 * 5 // 2


def test_loading_adds_orders_rates_and_a_few_returned_payments(entity, small_ledger: GeneratedLedger) -> None:
    from relance.ledger.models import ExchangeRate, Order
    from relance.ledger.selectors import data_versions, rate_table

    result = ledger_load(ledger=small_ledger, entity=entity)
    assert result.orders == Order.objects.filter(entity=entity).count() > 0
    assert result.exchange_rates == ExchangeRate.objects.filter(entity=entity).count()
    assert result.returned_payments == Payment.objects.filter(returned_on__isnull=False).count()
    for row in [*Order.objects.all()[:20], *ExchangeRate.objects.all()[:20]]:
        row.full_clean()
    versions = data_versions(entity_id=entity.pk)
    assert versions["orders"] == 1 and versions["rates"] == (1 if result.exchange_rates else 0)
    table = rate_table(entity=entity, on=END)
    for order in Order.objects.all():
        assert table.convert(order.amount, order.currency, entity.currency, order.order_date) > 0

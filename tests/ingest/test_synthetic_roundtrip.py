"""Round trip: a generated ledger written as canonical CSV (relance.synthetic) imports completely."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest

from relance.ledger.models import Allocation, Customer, Invoice, Payment
from relance.ledger.selectors import ledger_totals

pytestmark = pytest.mark.django_db


def test_generated_canonical_csv_imports_and_balances(entity, tmp_path, run_import):
    import csv

    from relance.synthetic.generator import generate_ledger
    from relance.synthetic.model import GeneratorConfig
    from relance.synthetic.writers import write_csv

    ledger = generate_ledger(GeneratorConfig(seed=7, customers=30, months=6, end=date(2026, 6, 30)))
    paths = write_csv(ledger, tmp_path)
    for kind in ("customers", "invoices", "credit_notes", "payments"):
        run = run_import(kind, paths[kind])
        assert run.ok, f"{kind}: " + run.stderr[:3000] + run.error

    def rows(kind):
        with paths[kind].open(encoding="utf-8", newline="") as stream:
            return list(csv.DictReader(stream))

    invoiced: defaultdict[str, Decimal] = defaultdict(Decimal)
    for row in rows("invoices"):
        if row["status"] != "void":
            invoiced[row["currency"]] += Decimal(row["amount"])
    received: defaultdict[str, Decimal] = defaultdict(Decimal)
    for row in rows("payments"):
        received[row["currency"]] += Decimal(row["amount"])
    totals = ledger_totals(entity=entity)
    assert {c: t.invoiced for c, t in totals.items() if t.invoiced} == dict(invoiced)
    assert {c: t.cash_received for c, t in totals.items() if t.cash_received} == dict(received)
    assert Customer.objects.count() == len(rows("customers"))
    assert Invoice.objects.count() == len(rows("invoices"))
    assert Payment.objects.count() == len({row["payment_ref"] for row in rows("payments")})
    assert Allocation.objects.filter(payment__isnull=False).count() == sum(
        1 for r in rows("payments") if r["invoice_ref"]
    )


def test_generated_orders_rates_and_returned_payments_import(entity, tmp_path, run_import):
    """The generator writes only what the importers accept: orders, rates, returned_on."""
    import csv
    import io

    from django.core.management import call_command

    from relance.ledger.models import ExchangeRate, Order
    from relance.ledger.selectors import rate_table
    from relance.synthetic.generator import generate_ledger
    from relance.synthetic.model import GeneratorConfig
    from relance.synthetic.writers import write_csv

    end = date(2026, 6, 30)
    ledger = generate_ledger(GeneratorConfig(seed=7, customers=30, months=6, end=end))
    paths = write_csv(ledger, tmp_path, base_currency=entity.currency)
    for kind in ("customers", "invoices", "credit_notes", "payments", "orders"):
        run = run_import(kind, paths[kind])
        assert run.ok, f"{kind}: " + run.stderr[:3000] + run.error
    call_command("rates", "import", str(paths["exchange_rates"]), stdout=io.StringIO(), stderr=io.StringIO())

    with paths["orders"].open(encoding="utf-8", newline="") as stream:
        orders = list(csv.DictReader(stream))
    assert orders and Order.objects.count() == len(orders)
    assert {o.status for o in Order.objects.all()} == {"open", "delivered"}
    returned = Payment.objects.filter(returned_on__isnull=False)
    assert returned.exists()
    assert all(p.returned_on is not None and p.date < p.returned_on <= end for p in returned)
    # Every currency in use converts into the entity's on every day from the first invoice on.
    first = Invoice.objects.order_by("issue_date").values_list("issue_date", flat=True)[0]
    table = rate_table(entity=entity, on=end)
    for currency in set(Customer.objects.values_list("currency", flat=True)):
        for day in (first, end):
            assert table.convert(Decimal("100.00"), currency, entity.currency, day) > 0
    assert ExchangeRate.objects.exists()

"""Invariants of bulk payment import, whatever the rows: nothing is ever over-allocated, and an
import is all or nothing (the ledger either holds every row of the file or none of them)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from relance.ingest.services import file_import
from relance.ledger.models import Allocation, Invoice, Payment

pytestmark = pytest.mark.django_db

INVOICE_AMOUNTS = {"I1": Decimal("100.00"), "I2": Decimal("50.00"), "I3": Decimal("80.00")}

payment_rows = st.lists(
    st.tuples(
        st.sampled_from(["P1", "P2", "P3", "P4"]),
        st.sampled_from(["I1", "I2", "I3", ""]),
        st.integers(min_value=1, max_value=12_000).map(lambda cents: Decimal(cents) / 100),
    ),
    min_size=1,
    max_size=12,
)


@pytest.fixture
def ledger(make_customer, make_invoice):
    customer = make_customer("C1")
    for ref, amount in INVOICE_AMOUNTS.items():
        make_invoice(customer, ref, amount, date(2026, 1, 5), date(2026, 2, 4))
    return customer


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=payment_rows, skip_invalid=st.booleans())
def test_payment_imports_never_over_allocate_and_are_all_or_nothing(ledger, tmp_path, rows, skip_invalid):
    path = tmp_path / "payments.csv"
    lines = ["payment_ref,customer_ref,date,amount,currency,invoice_ref"]
    lines += [f"{ref},C1,2026-02-10,{amount},EUR,{invoice}" for ref, invoice, amount in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with transaction.atomic():
        outcome = file_import(kind="payments", path=path, entity=ledger.entity, skip_invalid=skip_invalid)
        for invoice in Invoice.objects.all():
            allocated = invoice.allocations.aggregate(total=Sum("amount"))["total"] or Decimal(0)
            assert allocated <= invoice.amount
        for payment in Payment.objects.all():
            allocated = payment.allocations.aggregate(total=Sum("amount"))["total"] or Decimal(0)
            assert allocated <= payment.amount
        if outcome.error_count and not skip_invalid:
            assert not outcome.committed
            assert Payment.objects.count() == Allocation.objects.count() == 0
        if outcome.committed:
            assert Payment.objects.count() == outcome.result.created
            # Every accepted payment holds exactly the sum of its rows.
            expected: dict[str, Decimal] = {}
            for ref, _, amount in rows:
                expected[ref] = expected.get(ref, Decimal(0)) + amount
            for payment in Payment.objects.all():
                assert payment.amount == expected[payment.external_ref]
        transaction.set_rollback(True)


cells = st.one_of(
    st.sampled_from(["", " ", "I1", "C1", "C2", "NOPE", "EUR", "usd", "XXX", "open", "VOID", "draft"]),
    st.sampled_from(["2026-01-05", "2026-02-04", "2026-2-4", "2026-02-30", "05/01/2026", " 2026-01-05 "]),
    st.sampled_from(
        ["10", "10.5", "0", "-1", "1e3", "NaN", "Infinity", "1.23456", "99999999999999", "1_000", "abc"]
    ),
    st.text(max_size=70),
)


@given(
    row=st.fixed_dictionaries(
        {
            "invoice_ref": cells,
            "customer_ref": cells,
            "issue_date": cells,
            "due_date": cells,
            "amount": cells,
        },
        optional={"currency": cells, "po_number": cells, "status": cells},
    )
)
@example(
    row={
        "invoice_ref": "I1",
        "customer_ref": "C2",
        "issue_date": "2026-01-05",
        "due_date": "2026-02-04",
        "amount": "10.5",
    }
)
@example(
    row={
        "invoice_ref": " I1 ",
        "customer_ref": "C1",
        "issue_date": "2026-01-05",
        "due_date": "2026-01-05",
        "amount": "1e3",
        "currency": "EUR",
        "po_number": " PO ",
        "status": "VOID",
    }
)
@settings(max_examples=300)
def test_the_fast_invoice_path_agrees_with_full_validation(row):
    """Whenever the fast path accepts a row, full validation gives the same record."""
    from types import SimpleNamespace
    from typing import Any, cast

    from relance.core.errors import ErrorList
    from relance.ingest.parsing import CustomerInfo, RowParser

    parser = RowParser(
        "invoices", entity=cast(Any, SimpleNamespace(country="FR", currency="EUR")), preload=False
    )
    parser._customers = {"C1": CustomerInfo(1, "EUR", "FR", None), "C2": CustomerInfo(2, "USD", "US", None)}
    parser._preloaded = True
    fast = parser._fast_invoice(row, 2, "f.csv")
    slow_parser = RowParser(
        "invoices", entity=cast(Any, SimpleNamespace(country="FR", currency="EUR")), preload=False
    )
    slow_parser._customers, slow_parser._preloaded, slow_parser._fast = parser._customers, True, None
    try:
        slow = slow_parser.parse(row, line=2, source="f.csv")
    except ErrorList:
        slow = None
    if fast is not None:
        assert fast == slow
    plain = {"invoice_ref": "I1", "customer_ref": "C2", "issue_date": "2026-01-05", "due_date": "2026-02-04"}
    if row == {**plain, "amount": "10.5"}:
        assert fast is not None and fast.currency == "USD"  # the plain valid row takes the fast path

"""The portal's figures (one grouped query) agree with the ledger's own selectors (correlated
subqueries), whatever the invoices and dated allocations."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relance.ledger.models import Allocation, Invoice, Payment
from relance.ledger.selectors import customer_open_items
from relance.portal.selectors import ItemFilters, portal_items, portal_overview

pytestmark = pytest.mark.django_db

invoice_rows = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=500_000),  # amount in cents
        st.integers(min_value=-60, max_value=60),  # due offset from today
        st.integers(min_value=0, max_value=100),  # percent paid
        st.integers(min_value=-5, max_value=5),  # allocation date offset (future: not counted yet)
        st.booleans(),  # child account
    ),
    min_size=0,
    max_size=12,
)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=invoice_rows)
def test_overview_matches_the_ledger(ledger, link, today, rows):
    parent, child = ledger["parent"], ledger["child"]
    Allocation.objects.filter(invoice__external_ref__startswith="H-").delete()
    Payment.objects.filter(external_ref__startswith="H-").delete()
    Invoice.objects.filter(external_ref__startswith="H-").delete()
    payment = Payment.objects.create(
        entity=parent.entity,
        customer=parent,
        external_ref="H-PAY",
        date=today - timedelta(days=200),
        currency="EUR",
        amount=Decimal("100000000"),
    )
    for number, (cents, due, paid, alloc_offset, to_child) in enumerate(rows):
        amount = Decimal(cents) / 100
        invoice = Invoice.objects.create(
            entity=parent.entity,
            customer=child if to_child else parent,
            external_ref=f"H-{number}",
            issue_date=today - timedelta(days=120),
            due_date=today + timedelta(days=due),
            currency="EUR",
            amount=amount,
        )
        part = (amount * paid / 100).quantize(Decimal("0.01"))
        if part > 0:
            Allocation.objects.create(
                entity=parent.entity,
                invoice=invoice,
                payment=payment,
                date=today + timedelta(days=alloc_offset),
                amount=part,
            )
    expected_items = customer_open_items(customer=parent, as_of=today) + customer_open_items(
        customer=child, as_of=today
    )
    expected_balance = sum((Decimal(str(i.open_amount)) for i in expected_items), Decimal(0))
    expected_overdue = sum(
        (Decimal(str(i.open_amount)) for i in expected_items if i.due_date < today), Decimal(0)
    )
    balances = portal_overview(link=link, as_of=today)
    if not expected_items:
        assert balances == []
        return
    (figures,) = balances
    # Nothing is disputed here: owed is the open total; the balance to pay is net of the cash
    # received but not yet matched (the parent's large payment, less what was allocated by today).
    assert figures.owed == expected_balance.quantize(Decimal("0.01")) and figures.disputed == 0
    assert figures.balance == max(figures.owed - figures.unapplied, Decimal(0))
    assert figures.overdue == expected_overdue.quantize(Decimal("0.01"))
    assert figures.open_count == len(expected_items)
    upcoming = [i.due_date for i in expected_items if i.due_date >= today]
    assert figures.next_due == (min(upcoming) if upcoming else None)
    listed = {i.pk for i in portal_items(link=link, as_of=today, filters=ItemFilters())}
    assert listed == {i.pk for i in expected_items}

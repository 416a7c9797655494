"""The owed figures summed by the database (``owed_overview``, the portal's overview) equal the
ones the rule computes line by line (``owed_summary``): open, disputed, owed, overdue, unapplied,
counts, the next due date and its amount, and the oldest overdue lines, whatever the invoices,
currencies, allocations and disputes (whole, part, more than open, resolved)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relance.cases.models import Dispute, DisputeStatus
from relance.dunning.selectors import owed_overview, owed_summary
from relance.ledger.models import Allocation, Invoice, Payment

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 30)

rows = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=300_000),  # amount in cents
        st.integers(min_value=-40, max_value=40),  # due offset from today
        st.sampled_from([0, 0, 30, 100]),  # percent paid
        st.sampled_from(["EUR", "EUR", "USD"]),
        st.sampled_from([None, None, "part", "whole", "more", "resolved"]),  # dispute
    ),
    max_size=10,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows, unapplied_cents=st.integers(min_value=0, max_value=50_000))
def test_database_sums_equal_the_rule_line_by_line(entity, make_customer, rows, unapplied_cents):
    today = TODAY
    customer = entity.customers.filter(external_ref="OV1").first() or make_customer("OV1")
    Dispute.objects.filter(customer=customer).delete()
    Allocation.objects.filter(invoice__customer=customer).delete()
    Payment.objects.filter(customer=customer).delete()
    Invoice.objects.filter(customer=customer).delete()
    payment = Payment.objects.create(
        entity=entity,
        customer=customer,
        external_ref="OV-PAY",
        date=today - timedelta(days=90),
        currency="EUR",
        amount=Decimal("10000000") + Decimal(unapplied_cents) / 100,
    )
    allocated = Decimal(0)
    for number, (cents, due, paid, currency, dispute) in enumerate(rows):
        amount = Decimal(cents) / 100
        invoice = Invoice.objects.create(
            entity=entity,
            customer=customer,
            external_ref=f"OV-{number:02d}",
            issue_date=today - timedelta(days=60),
            due_date=today + timedelta(days=due),
            currency=currency,
            amount=amount,
        )
        part = (amount * paid / 100).quantize(Decimal("0.01"))
        if part and currency == "EUR":
            Allocation.objects.create(
                entity=entity, invoice=invoice, payment=payment, date=today, amount=part
            )
            allocated += part
        if dispute:
            disputed = {"part": amount / 3, "whole": amount, "more": amount * 2, "resolved": amount}[dispute]
            Dispute.objects.create(
                entity=entity,
                customer=customer,
                invoice=invoice,
                amount=max(disputed.quantize(Decimal("0.01")), Decimal("0.01")),
                reason_code="quality",
                opened_on=today - timedelta(days=3),
                status=DisputeStatus.RESOLVED if dispute == "resolved" else DisputeStatus.OPEN,
                resolved_on=today - timedelta(days=1) if dispute == "resolved" else None,
            )
    if allocated + unapplied_cents:
        Payment.objects.filter(pk=payment.pk).update(amount=allocated + Decimal(unapplied_cents) / 100)
    else:
        payment.delete()

    summary = owed_summary(customer=customer, as_of=today)
    overview = owed_overview(customer=customer, as_of=today, overdue_limit=3)

    assert [figures.total for figures in overview.figures] == list(summary.totals)
    for figures in overview.figures:
        lines = [line for line in summary.lines if line.currency == figures.total.currency]
        upcoming = [line.due_date for line in lines if line.due_date >= today]
        next_due = min(upcoming) if upcoming else None
        assert figures.overdue_count == sum(1 for line in lines if line.days_past_due > 0)
        assert figures.next_due == next_due
        assert figures.next_due_owed == sum(
            (line.owed for line in lines if line.due_date == next_due), Decimal(0)
        )
    assert list(overview.overdue) == [line for line in summary.lines if line.days_past_due > 0][:3]

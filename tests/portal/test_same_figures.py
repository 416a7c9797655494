"""The portal's overview, the statement PDF and a reminder state one set of figures: what is due
leaves out what is under dispute (shown apart) and counts cash received but not yet matched."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from relance.cases.models import Dispute
from relance.comms.pdf import statement_lines, statement_totals
from relance.comms.services import message_render
from relance.portal.selectors import portal_overview

pytestmark = pytest.mark.django_db


def test_overview_statement_and_reminder_agree(entity, make_customer, make_invoice, make_payment, today):
    from relance.portal.links import link_create

    customer = make_customer("SF1")
    customer.contacts.create(name="Ann", email="ann@example.com")
    invoice = make_invoice(
        customer, "SF-1", "1000.00", today - timedelta(days=60), today - timedelta(days=30)
    )
    Dispute.objects.create(
        entity=entity,
        customer=customer,
        invoice=invoice,
        amount=Decimal("400"),
        reason_code="quality",
        opened_on=today - timedelta(days=5),
    )
    make_payment(customer, "SF-PAY", "100.00", today - timedelta(days=1))  # not matched to anything

    link = link_create(customer=customer)
    [figures] = portal_overview(link=link, as_of=today)
    assert (figures.owed, figures.disputed, figures.unapplied) == (
        Decimal("600"),
        Decimal("400"),
        Decimal("100"),
    )
    assert figures.balance == Decimal("500") and figures.overdue == Decimal("600")

    labels = {
        "invoice": "Invoice",
        "credit_note": "Credit note",
        "payment": "Payment",
        "current": "Current",
        "days": "{low}-{high}",
        "days_over": "{low}+",
    }
    lines = statement_lines(customer=customer, as_of=today, labels=labels)
    [invoice_line] = [line for line in lines if line.reference == "SF-1"]
    assert invoice_line.open_amount == Decimal("600") and invoice_line.disputed == Decimal("400")
    [total] = statement_totals(lines, ["Current", "1-30", "31-60", "61-90", "90+"])
    assert total.balance == figures.balance and total.overdue == figures.overdue

    reminder = message_render(customer=customer, template_key="overdue_firm", channel="email", as_of=today)
    assert reminder.amount_due == figures.balance

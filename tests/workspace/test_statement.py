"""'Send statement by e-mail': a real statement (not a dunning step), after a confirmation that
shows how many customers and one rendered sample; sent with `relance send` to an SMTP server on
loopback and read back."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from relance.comms.rendering import format_money
from relance.delivery.models import OutboundMessage
from tests.dunning.conftest import command

pytestmark = pytest.mark.django_db


@pytest.fixture
def statement_world(ws, monkeypatch):
    """``late`` owes INV-L1 (40 days late, 600 of it disputed) and INV-L2 (5 days late); a new
    invoice not yet due; 250 of cash not yet applied. ``second`` has no e-mail address."""
    from relance.cases.models import Dispute
    from relance.delivery import worker
    from relance.ledger.models import Invoice, Payment

    monkeypatch.setattr(worker, "outbound_verdict", lambda message, now: worker._AllowAll())
    Invoice.objects.create(
        entity=ws.acme,
        customer=ws.late,
        external_ref="INV-L3",
        issue_date=ws.today - timedelta(days=5),
        due_date=ws.today + timedelta(days=25),
        currency="EUR",
        amount=Decimal("800.00"),
    )
    Payment.objects.create(
        entity=ws.acme,
        customer=ws.late,
        external_ref="PAY-2",
        date=ws.today - timedelta(days=2),
        currency="EUR",
        amount=Decimal("250.00"),
    )
    Dispute.objects.create(
        entity=ws.acme,
        customer=ws.late,
        invoice=Invoice.objects.get(external_ref="INV-L1"),
        amount=Decimal("600.00"),
        reason_code="quantity",
        opened_on=ws.today - timedelta(days=3),
    )
    ws.second.contacts.update(email="")
    return ws


def test_the_bulk_action_asks_for_confirmation_with_the_count_and_a_sample(statement_world, client_for):
    ws = statement_world
    page = client_for(ws.manager).post(
        reverse("workspace:worklist_bulk"), {"customer": [ws.late.pk, ws.second.pk], "action": "statement"}
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert "1 of 2 selected customers will receive a statement" in html and "C-SECOND" in html
    assert "Sample: what Late Payer GmbH (C-LATE) would receive" in html
    assert "Statement of account on" in html and "INV-L3" in html
    assert 'name="confirmed" value="1"' in html and "Send 1 statement" in html
    assert not OutboundMessage.objects.exists()  # nothing is sent before the confirmation


def test_confirmed_statements_arrive_as_statements_not_reminders(
    statement_world, client_for, smtp_settings, smtp_server
):
    ws = statement_world
    data = {"customer": [ws.late.pk, ws.second.pk], "action": "statement", "confirmed": "1"}
    client_for(ws.manager).post(reverse("workspace:worklist_bulk"), data)
    assert OutboundMessage.objects.get().template_key == "statement"
    command("send")
    [received] = smtp_server.received
    mail = received.email
    text = mail.get_body(("plain",)).get_content()
    assert received.rcpt_tos == ["ap@c-late.test"]
    assert mail["Subject"].startswith("Statement of account on")
    assert "Second reminder" not in mail["Subject"] and "Despite our previous reminder" not in text

    def eur(amount: str) -> str:
        return format_money(Decimal(amount), "EUR", "en")

    # Due: INV-L1 4,200 − 600 under dispute + INV-L2 300; not yet due: INV-L3 800; unapplied 250.
    assert (
        f"overdue {eur('3900')}, not yet due {eur('800')} (not included: {eur('600')} under review)" in text
    )
    assert f"payments and credits not yet applied {eur('250')}, balance {eur('4450')}" in text
    assert "Overdue: INV-L1" in text and "Not yet due: INV-L3" in text
    assert "Disputed, no reminders while we look into it: INV-L1" in text and "PAY-2" in text
    attachments = [part.get_filename() for part in mail.iter_attachments() if part.get_filename()]
    assert any(name.startswith("statement-C-LATE") and name.endswith(".pdf") for name in attachments)

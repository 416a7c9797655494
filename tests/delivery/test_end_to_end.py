"""A run's action → the real renderer (relance.comms) → the outbox → the real SMTP server."""

from __future__ import annotations

from datetime import date

import pytest

from relance.delivery import services, worker
from tests.delivery.conftest import NOW
from tests.delivery.test_services import make_run, step

pytestmark = pytest.mark.django_db


def test_a_firm_reminder_in_french_reaches_the_server(
    entity, customer, make_invoice, smtp_settings, smtp_server
):
    pytest.importorskip("relance.comms.services")
    entity.iban, entity.bic = "FR7630006000011234567890189", "AGRIFRPP"
    entity.save()
    invoices = [
        make_invoice(customer, "INV-1", "1200", date(2026, 9, 1), date(2026, 10, 1)),
        make_invoice(customer, "INV-2", "345.67", date(2026, 9, 15), date(2026, 10, 15)),
    ]
    run, action = make_run(
        entity,
        customer,
        steps=[step("reminder_3", ["email", "letter"], 30, "overdue_firm")],
        step_key="reminder_3",
        template_key="overdue_firm",
    )
    action.invoices.set(invoices)
    report = services.outbox_enqueue_run(run=run, now=NOW)
    assert report.created == 1
    assert worker.send_pass(worker_id="w", now=NOW).sent == 1
    [received] = smtp_server.received
    email = received.email
    message = run.messages.get()
    assert email["Content-Language"] == "fr" and email["Message-ID"] == message.message_id
    text = email.get_body(("plain",)).get_content()
    assert "INV-1" in text and "INV-2" in text
    assert message.rf_reference and message.rf_reference.replace(" ", "") in text.replace(" ", "")
    assert message.links.get("portal", "") in text
    if message.links.get("opt_out"):
        assert email["List-Unsubscribe"].strip() == f"<{message.links['opt_out']}>"
    assert email["Subject"].strip() == message.subject and message.subject  # Django folds after "Subject:"
    assert "545,67" in text and "FR76" in text.replace(" ", "")  # the total, French style; the IBAN
    html = email.get_body(("html",)).get_content()
    assert "INV-2" in html
    attachments = {
        part.get_filename(): part.get_content_type()
        for part in email.iter_attachments()
        if part.get_content_disposition() == "attachment"  # not the inline QR code
    }
    assert attachments == {a.filename: a.content_type for a in message.attachments.all()}
    inline = [part for part in email.walk() if part.get_content_disposition() == "inline"]
    assert [part.get_content_type() for part in inline] == ["image/png"]  # the payment QR code
    assert f'src="cid:{inline[0]["Content-ID"].strip("<>")}"' in html and "data:image" not in html

"""The pages: figures, filters, detail, CSV (formula-safe), messages, preferences, translations."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest

from relance.portal.models import PortalEvent
from tests.portal.conftest import sent_messages

pytestmark = pytest.mark.django_db


def test_items_filters(client, url, ledger):
    body = client.get(url("items")).content.decode()
    assert "INV-1" in body and "INV-2" in body and "INV-3" in body
    assert "INV-4" not in body and "INV-9" not in body
    overdue = client.get(url("items") + "?state=overdue").content.decode()
    assert "INV-1" in overdue and "INV-3" in overdue and "INV-2" not in overdue
    paid = client.get(url("items") + "?state=paid").content.decode()
    assert "INV-4" in paid and "INV-1" not in paid and "PAY-1" in paid
    searched = client.get(url("items") + "?state=all&q=inv-3").content.decode()
    assert "INV-3" in searched and "INV-1" not in searched
    by_account = client.get(url("items") + f"?account={ledger['child'].pk}").content.decode()
    assert "INV-3" in by_account and "INV-1" not in by_account


def test_items_htmx_returns_the_table_only(client, url):
    response = client.get(url("items") + "?state=overdue", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith("<table")
    assert "<html" not in body


def test_invoice_detail(client, url, ledger):
    body = client.get(url("invoice", ledger["invoices"]["paid"].pk)).content.decode()
    assert "PAY-1" in body and "80.00" in body
    late = client.get(url("invoice", ledger["invoices"]["late"].pk)).content.decode()
    assert "30 days late" in late and "Dispute this invoice" in late


def test_statement_csv_is_formula_safe(client, url, ledger, make_invoice, today):
    make_invoice(ledger["parent"], "=HYPERLINK(1)", "10.00", today, today, po_number="+cmd")
    response = client.get(url("statement_csv"))
    assert response["Content-Disposition"].startswith("attachment;")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:2] == ["account", "invoice"]
    refs = {row[1] for row in rows[1:]}
    assert {"INV-1", "INV-2", "INV-3", "'=HYPERLINK(1)"} <= refs
    assert "INV-9" not in refs
    assert any(row[2] == "'+cmd" for row in rows[1:])
    assert PortalEvent.objects.filter(action="statement_csv").exists()


def test_the_statement_pdf_is_linked_and_downloads(client, url, monkeypatch):
    from relance.comms import pdf

    monkeypatch.setattr(pdf, "statement_pdf", lambda **kwargs: b"%PDF-1.4 stub")
    assert "statement.pdf" in client.get(url()).content.decode()
    response = client.get(url("statement_pdf"))
    assert response.status_code == 200 and response.content == b"%PDF-1.4 stub"
    assert response["Content-Type"] == "application/pdf"


def test_pages_render(client, url):
    for name in ("messages", "preferences", "promise", "cases", "plan", "pay"):
        response = client.get(url(name))
        assert response.status_code == 200, name
        assert b'<main id="main"' in response.content


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("fr", "Votre compte"),
        ("de", "Ihr Konto"),
        ("es", "Su cuenta"),
        ("it", "Il suo conto"),
        ("zh-hans", "您的账户"),
    ],
)
def test_translated(client, url, language, text):
    response = client.get(url() + f"?lang={language}")
    body = response.content.decode()
    assert text in body
    assert f'<html lang="{language}">' in body
    assert response.cookies["relance_portal_lang"].value == language
    # The choice sticks (cookie) on the next page.
    assert text in client.get(url()).content.decode()


def test_customer_language_is_the_default(client, url, ledger):
    ledger["parent"].language = "de"
    ledger["parent"].save()
    assert "Ihr Konto" in client.get(url()).content.decode()


def test_preferences_channel_language_now_email_after_code(
    client, url, link, django_capture_on_commit_callbacks
):
    response = client.post(url("preferences"), {"step": "preferences", "channel": "sms", "language": "fr"})
    assert response.status_code == 302
    link.contact.refresh_from_db()
    link.customer.refresh_from_db()
    assert link.contact.preferred_channel == "sms" and link.customer.language == "fr"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("preferences"), {"step": "email", "address": "new@parent.example"})
    assert response.status_code == 200
    link.contact.refresh_from_db()
    assert link.contact.email == "ana@parent.example"  # not used before the code comes back
    recipient, text = sent_messages()[-1]
    assert recipient == "new@parent.example"
    code = re.search(r"\b(\d{6})\b", text).group(1)
    assert (
        client.post(
            url("preferences"), {"step": "email-code", "code": "999999" if code != "999999" else "111111"}
        ).status_code
        == 400
    )
    assert client.post(url("preferences"), {"step": "email-code", "code": code}).status_code == 302
    link.contact.refresh_from_db()
    assert link.contact.email == "new@parent.example" and link.contact.email_status == "valid"
    assert PortalEvent.objects.filter(action="email_changed").exists()


def test_preferences_refuse_a_bad_phone(client, url):
    response = client.post(url("preferences"), {"step": "phone", "address": "12"})
    assert response.status_code == 400
    assert "international format" in response.content.decode()


def test_message_history_shows_only_this_customers_messages(client, url, ledger):
    delivery = pytest.importorskip("relance.delivery.models")
    from django.utils import timezone

    for customer, subject in (
        (ledger["parent"], "Reminder for Parent"),
        (ledger["stranger"], "Reminder for Stranger"),
    ):
        delivery.OutboundMessage.objects.create(
            idempotency_key=f"k-{customer.pk}",
            message_id=f"<{customer.pk}@x>",
            entity=customer.entity,
            customer=customer,
            channel="email",
            template_key="overdue_friendly",
            language="en",
            recipient="x@example.com",
            subject=subject,
            body_text="Hello",
            next_attempt_at=timezone.now(),
            queued_at=timezone.now(),
            status="sent",
        )
    body = client.get(url("messages")).content.decode()
    assert "Reminder for Parent" in body and "Reminder for Stranger" not in body


def test_money_in_the_customers_language(client, url):
    assert "2 000,00 €" in client.get(url() + "?lang=fr").content.decode().replace("\u202f", " ").replace(
        "\xa0", " "
    )
    assert "2.000,00 €" in client.get(url() + "?lang=de").content.decode().replace("\xa0", " ")


def test_items_show_the_part_under_dispute_on_its_line(client, url, ledger, entity, today):
    """The overview leaves what is disputed out of what is due; the line says how much of it."""
    from relance.cases.models import Dispute
    from relance.ledger.services import data_version_bump

    invoice = ledger["invoices"]["late"]
    Dispute.objects.create(
        entity=entity,
        customer=ledger["parent"],
        invoice=invoice,
        amount=Decimal("400"),
        reason_code="quality",
        opened_on=today,
    )
    data_version_bump(entity_id=entity.pk, earliest=today)
    body = client.get(url("items")).content.decode()
    row = next(line for line in body.split("<tr") if "INV-1<" in line)
    assert "Under review" in row and "400.00" in row
    other = next(line for line in body.split("<tr") if "INV-2<" in line)
    assert "Under review" not in other


def test_the_customers_text_is_escaped_on_the_overview_and_the_items(
    client, url, ledger, make_invoice, today
):
    """An invoice ref, a PO number and an account name are the ERP's text: shown, never run."""
    from datetime import timedelta

    ledger["child"].name = 'Child <img src=x onerror="alert(2)">'
    ledger["child"].save()
    make_invoice(
        ledger["parent"],
        "<script>alert(1)</script>",
        "10.00",
        today - timedelta(days=90),
        today - timedelta(days=70),
        po_number='"><script>alert(3)</script>',
    )
    for page in ("overview", "items"):
        body = client.get(url(page)).content.decode()
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body, page
        assert "<script>alert" not in body and "<img src=x" not in body, page
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt;"
        in client.get(url("items") + "?state=overdue").content.decode()
    )

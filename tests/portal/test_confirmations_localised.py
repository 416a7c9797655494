"""Confirmations (plan, promise, dispute) go out in the customer's language, with dates and money
in that locale, and the logo the e-mail links to is served.

Through the portal's pages, `relance send` to an SMTP server on loopback, then the test reads what
arrived and fetches the logo URL the e-mail contains."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core.files.base import ContentFile

from relance.comms.rendering import format_day, format_money
from tests.dunning.conftest import command

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
    b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def german(ledger, entity, settings, tmp_path, monkeypatch):
    """The parent customer speaks German; the entity has a logo; compliance allows everything
    (tested on its own)."""
    from relance.delivery import worker

    monkeypatch.setattr(worker, "outbound_verdict", lambda message, now: worker._AllowAll())
    settings.MEDIA_ROOT = tmp_path
    entity.logo.save("logo.png", ContentFile(PNG), save=True)
    ledger["parent"].language = "de"
    ledger["parent"].save()
    return ledger


def delivered(smtp_server, to: str):
    [mail] = [r.email for r in smtp_server.received if r.rcpt_tos == [to]]
    return mail


def test_a_plan_confirmation_to_a_german_customer_is_in_german(
    client, url, german, today, smtp_settings, smtp_server, django_capture_on_commit_callbacks
):
    first = today + timedelta(days=7)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("plan"), {"installments": "3", "first_due": str(first)})
    command("send")
    mail = delivered(smtp_server, "ana@parent.example")
    text = mail.get_body(("plain",)).get_content()
    assert mail["Content-Language"] == "de"
    assert "Ihr Ratenplan" in mail["Subject"] and "Zahlungsplan" in text
    assert format_day(first, "de") in text  # "14. Dezember 2026", not 2026-12-14
    assert first.isoformat() not in text
    assert format_money(__import__("decimal").Decimal("500.00"), "EUR", "de") in text  # 500,00 €


@pytest.mark.parametrize(
    ("language", "subject_word"),
    [
        ("de", "Zahlungszusage"),
        ("fr", "engagement"),
        ("es", "compromiso"),
        ("it", "impegno"),
        ("zh-hans", "付款"),
    ],
)
def test_a_promise_confirmation_follows_the_customers_language(
    client,
    url,
    german,
    today,
    language,
    subject_word,
    smtp_settings,
    smtp_server,
    django_capture_on_commit_callbacks,
):
    german["parent"].language = language
    german["parent"].save()
    promised = today + timedelta(days=10)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            url("promise"), {"promised_date": str(promised), "invoice": [german["invoices"]["late"].pk]}
        )
    command("send")
    mail = delivered(smtp_server, "ana@parent.example")
    assert mail["Content-Language"] == language and subject_word in mail["Subject"]
    assert format_day(promised, language) in mail.get_body(("plain",)).get_content()


def test_a_dispute_acknowledgement_is_in_german(
    client, url, german, smtp_settings, smtp_server, django_capture_on_commit_callbacks
):
    invoice = german["invoices"]["late"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("dispute", invoice.pk), {"reason": "quantity", "amount": "100.00", "text": "Menge falsch"}
        )
    assert response.status_code in (200, 302)
    command("send")
    mail = delivered(smtp_server, "ana@parent.example")
    assert mail["Content-Language"] == "de" and "INV-1" in mail["Subject"]


def test_the_logo_in_the_email_and_the_portal_is_served(
    client, url, german, today, smtp_settings, smtp_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("plan"), {"installments": "3", "first_due": str(today + timedelta(days=7))})
    command("send")
    html = delivered(smtp_server, "ana@parent.example").get_body(("html",)).get_content()
    [logo] = re.findall(r'<img src="([^"]+)" alt="ACME SAS"', html)
    fetched = client.get(urlsplit(logo).path + "?" + urlsplit(logo).query)
    assert fetched.status_code == 200 and fetched["Content-Type"] == "image/png"
    assert b"".join(fetched) == PNG
    page = client.get(url("overview")).content.decode()
    [portal_logo] = re.findall(r'<img src="([^"]+)" alt="ACME SAS"', page)
    assert client.get(portal_logo).status_code == 200


def test_a_logo_that_is_not_an_image_is_not_served(client, entity, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    entity.logo.save("logo.png", ContentFile(b"<html><script>alert(1)</script>"), save=True)
    assert client.get(f"/comms/logo/{entity.pk}/").status_code == 404

"""Finding 2 of issue 12: "Messages we sent you" listed queued messages, the one-time code for a
new billing address and the collector's call script; anyone holding a forwarded reminder link
could read the code and move the billing e-mail. Now the list shows only customer-facing
messages that were sent, codes are never listed, and the old address is told, with an undo link.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from relance.delivery.models import MessageStatus, OutboundMessage

OLD = "ana@parent.example"
NEW = "attacker@evil.example"


@pytest.fixture
def send_by_email(settings, monkeypatch):
    """The outbox worker sends e-mail through Django's mail backend (locmem in tests)."""
    from relance.delivery import worker

    settings.RELANCE_CHANNELS = {
        **settings.RELANCE_CHANNELS,
        "email": "relance.delivery.channels.email.EmailChannel",
    }
    monkeypatch.setattr(worker, "outbound_verdict", lambda message, now: worker._AllowAll())

    def send() -> None:
        worker.send_pass(worker_id="tests", now=timezone.now() + timedelta(minutes=5))

    return send


def _mail_to(address: str):
    return next(message for message in mail.outbox if any(address in to for to in message.to))


def _message(customer, key: str, *, channel="email", status=MessageStatus.SENT, headers=None, body="hello"):
    now = timezone.now()
    return OutboundMessage.objects.create(
        idempotency_key=f"{key}:{channel}:{status}:{customer.pk}",
        message_id=f"<{key}.{channel}.{status}@test>",
        entity=customer.entity,
        customer=customer,
        channel=channel,
        template_key=key,
        language="en",
        recipient=OLD,
        subject=f"subject {key} {channel} {status}",
        body_text=body,
        headers=headers or {},
        status=status,
        queued_at=now,
        next_attempt_at=now,
        sent_at=now if status in (MessageStatus.SENT, MessageStatus.DELIVERED) else None,
    )


def test_the_list_shows_only_customer_facing_messages_that_were_sent(client, url, ledger):
    parent = ledger["parent"]
    shown = _message(parent, "overdue_firm", body="Your invoice INV-1 is overdue.")
    delivered = _message(parent, "final_notice", status=MessageStatus.DELIVERED)
    hidden = [
        _message(parent, "overdue_friendly", status=MessageStatus.QUEUED, body="not sent yet"),
        _message(parent, "overdue_urgent", status=MessageStatus.FAILED, body="failed"),
        _message(parent, "collector_call", channel="call", body="SCRIPT: push for a date"),
        _message(parent, "owner_before_hold", headers={"internal": True}, body="owner hold link"),
        _message(parent, "portal_code", headers={"one_time_secret": True}, body="your code 123456"),
    ]
    page = client.get(url("messages")).content.decode()
    assert shown.subject in page and "Your invoice INV-1 is overdue." in page
    assert delivered.subject in page
    for message in hidden:
        assert message.subject not in page and message.body_text not in page


def test_a_forwarded_link_never_shows_the_code_for_a_new_billing_address(
    client, url, link, send_by_email, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("preferences"), {"step": "email", "address": NEW})
    assert response.status_code == 200
    send_by_email()
    code_mail = _mail_to(NEW)
    code = re.search(r"\b(\d{6})\b", code_mail.body).group(1)
    # Sent (not only queued), still never listed; and once sent the row keeps no copy of the code.
    sent = OutboundMessage.objects.get(recipient=NEW, status=MessageStatus.SENT)
    assert code not in sent.subject + sent.body_text + sent.body_html
    page = client.get(url("messages")).content.decode()
    assert code not in page


def test_a_new_billing_address_is_told_to_the_old_one_which_can_undo_it(
    client, url, link, send_by_email, django_capture_on_commit_callbacks
):
    from relance.ledger.models import Contact
    from relance.portal.models import PortalEvent

    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("preferences"), {"step": "email", "address": NEW})
    send_by_email()
    code = re.search(r"\b(\d{6})\b", _mail_to(NEW).body).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url("preferences"), {"step": "email-code", "code": code}).status_code == 302
    contact = Contact.objects.get(pk=link.contact_id)
    assert contact.email == NEW
    send_by_email()
    notice = _mail_to(OLD)
    assert NEW in notice.body
    undo = re.search(r"http://testserver(/portal/undo-email/[^\s]+/)", notice.body).group(1)
    # The notice (with its undo link) is not listed to whoever holds the portal link either.
    assert undo not in client.get(url("messages")).content.decode()
    # Opening the link only asks (mail scanners open links); the POST puts the old address back.
    assert client.get(undo).status_code == 200
    contact.refresh_from_db()
    assert contact.email == NEW
    assert client.post(undo).status_code == 200
    contact.refresh_from_db()
    assert contact.email == OLD
    assert PortalEvent.objects.filter(action="email_change_undone", customer=contact.customer).exists()
    # Once undone (or changed again) the link does nothing more.
    assert client.post(undo).status_code == 400


def test_an_undo_link_that_is_tampered_or_too_old_is_not_found(client, link, settings, monkeypatch):
    from django.urls import reverse

    from relance.portal import services

    token = services.email_undo_token(link=link, contact=link.contact, old=OLD, new=NEW)
    assert client.get(reverse("portal:email_undo", args=[token + "x"])).status_code == 404
    monkeypatch.setattr(services, "EMAIL_UNDO_DAYS", -1)
    assert client.get(reverse("portal:email_undo", args=[token])).status_code == 404

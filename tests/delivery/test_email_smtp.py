"""Email against a real SMTP server on loopback (aiosmtpd): content, headers, failures, exactly once."""

from __future__ import annotations

import re
import smtplib
import socket
from datetime import timedelta
from decimal import Decimal

import pytest

from relance.comms.types import Attachment
from relance.delivery import worker
from relance.delivery.models import OutboundMessage
from relance.ledger.models import Contact, ContactStatus
from tests.delivery.conftest import NOW, rendered
from tests.delivery.test_services import enqueue

pytestmark = pytest.mark.django_db

OPT_OUT = "http://testserver/compliance/opt-out/abc/"


@pytest.fixture
def collector(customer, django_user_model):
    user = django_user_model.objects.create(
        username="cora", email="cora@acme.example", first_name="Cora", last_name="Lee"
    )
    customer.collector = user
    customer.save()
    return user


def test_the_server_receives_the_message_as_rendered(customer, collector, smtp_settings, smtp_server):
    pdf = Attachment("statement.pdf", "application/pdf", b"%PDF-1.7 statement")
    message, _ = enqueue(
        customer,
        rendered=rendered(
            language="fr",
            subject="Facture INV-1 échue",
            text="Bonjour, 1 200,00 € restent dus. Payer : http://testserver/pay/x",
            html="<p>Bonjour, <b>1 200,00 €</b> restent dus.</p>",
            attachments=(pdf,),
            links={"portal": "http://testserver/portal/t/token/", "opt_out": OPT_OUT},
        ),
    )
    report = worker.send_pass(worker_id="w", now=NOW)
    assert report.sent == 1
    [received] = smtp_server.received
    assert received.rcpt_tos == ["ann@example.com"] and received.mail_from == "billing@acme.example"
    email = received.email
    assert email["Subject"] == "Facture INV-1 échue"
    assert email["Message-ID"] == message.message_id
    assert email["Content-Language"] == "fr"
    assert email["To"] == "Ann Billing <ann@example.com>"
    assert email["From"] == "ACME SAS <billing@acme.example>"
    assert email["Reply-To"] == "Cora Lee <cora@acme.example>"
    assert email["List-Unsubscribe"] == f"<{OPT_OUT}>"
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = email.get_body(("plain",)).get_content()
    html = email.get_body(("html",)).get_content()
    assert "1 200,00 €" in text and "http://testserver/pay/x" in text and "<b>1 200,00 €</b>" in html
    [attachment] = list(email.iter_attachments())
    assert attachment.get_filename() == "statement.pdf" and attachment.get_content() == b"%PDF-1.7 statement"
    message.refresh_from_db()
    assert (message.status, message.provider, message.provider_message_id) == (
        "sent",
        "smtp",
        message.message_id.strip("<>"),
    )


def test_no_list_unsubscribe_without_an_opt_out_link(customer, smtp_settings, smtp_server):
    enqueue(customer, rendered=rendered(links={}))
    worker.send_pass(worker_id="w", now=NOW)
    assert smtp_server.received[0].email["List-Unsubscribe"] is None


def test_one_connection_serves_a_batch(customer, smtp_settings, smtp_server):
    for key in "abcd":
        enqueue(customer, key)
    assert worker.send_pass(worker_id="w", now=NOW).sent == 4
    assert len({r.session for r in smtp_server.received}) == 1
    assert len({r.email["Message-ID"] for r in smtp_server.received}) == 4


def test_server_down_nothing_lost_retried_later_sent_once(customer, smtp_settings, smtp_server):
    message, _ = enqueue(customer)
    smtp_server.stop()
    assert worker.send_pass(worker_id="w", now=NOW).retrying == 1
    message.refresh_from_db()
    assert message.status == "queued" and message.attempts == 1 and "cannot connect" in message.last_error
    smtp_server.start()
    assert worker.send_pass(worker_id="w", now=NOW).claimed == 0  # backing off
    assert worker.send_pass(worker_id="w", now=message.next_attempt_at).sent == 1
    assert worker.send_pass(worker_id="w", now=message.next_attempt_at + timedelta(hours=1)).claimed == 0
    assert len(smtp_server.received) == 1
    assert smtp_server.received[0].email["Message-ID"] == message.message_id


def test_a_server_going_down_mid_batch(customer, smtp_settings, smtp_server, monkeypatch):
    """The connection is lost before DATA of the second message: it is retried, nothing doubles."""
    enqueue(customer, "a")
    enqueue(customer, "b")
    real_mail = smtplib.SMTP.mail
    calls = []

    def mail(self, sender, options=()):
        calls.append(sender)
        if len(calls) == 2:
            self.sock.shutdown(socket.SHUT_RDWR)
        return real_mail(self, sender, options)

    monkeypatch.setattr(smtplib.SMTP, "mail", mail)
    report = worker.send_pass(worker_id="w", now=NOW)
    assert (report.sent, report.retrying) == (1, 1)
    later = OutboundMessage.objects.get(idempotency_key="b").next_attempt_at
    assert worker.send_pass(worker_id="w", now=later).sent == 1
    assert sorted(r.email["Message-ID"] for r in smtp_server.received) == sorted(
        OutboundMessage.objects.values_list("message_id", flat=True)
    )


def test_temporary_refusal_retries_with_the_same_message_id(customer, smtp_settings, smtp_server):
    message, _ = enqueue(customer)
    smtp_server.tempfail_data = 1
    assert worker.send_pass(worker_id="w", now=NOW).retrying == 1
    message.refresh_from_db()
    assert "451" in message.last_error
    assert worker.send_pass(worker_id="w", now=message.next_attempt_at).sent == 1
    [refused] = smtp_server.refused
    [accepted] = smtp_server.received
    assert refused.email["Message-ID"] == accepted.email["Message-ID"] == message.message_id


def test_a_refused_mailbox_is_a_hard_bounce(customer, smtp_settings, smtp_server):
    message, _ = enqueue(customer)
    smtp_server.refuse.add("ann@example.com")
    assert worker.send_pass(worker_id="w", now=NOW).bounced == 1
    message.refresh_from_db()
    assert message.status == "bounced" and "550" in message.last_error
    assert Contact.objects.get(pk=message.contact_id).email_status == ContactStatus.BOUNCED
    assert smtp_server.received == []


def test_connection_lost_after_the_final_dot_is_uncertain(customer, smtp_settings, smtp_server, monkeypatch):
    """The server has the message but we never hear back: uncertain, never resent."""
    message, _ = enqueue(customer)
    real_send, real_getreply = smtplib.SMTP.send, smtplib.SMTP.getreply
    after_dot = []

    def send(self, payload):
        real_send(self, payload)
        if isinstance(payload, bytes) and payload.endswith(b"\r\n.\r\n"):
            after_dot.append(True)

    def getreply(self):
        if after_dot:
            real_getreply(self)  # the server did accept…
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")  # …but we never knew
        return real_getreply(self)

    monkeypatch.setattr(smtplib.SMTP, "send", send)
    monkeypatch.setattr(smtplib.SMTP, "getreply", getreply)
    assert worker.send_pass(worker_id="w", now=NOW).uncertain == 1
    message.refresh_from_db()
    assert message.status == "uncertain" and "after the end of DATA" in message.last_error
    assert worker.send_pass(worker_id="w", now=NOW + timedelta(days=1)).claimed == 0
    assert len(smtp_server.received) == 1


def test_through_an_anymail_backend(customer, settings):
    from django.core import mail

    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.RELANCE_CHANNELS = {
        **settings.RELANCE_CHANNELS,
        "email": "relance.delivery.channels.email.EmailChannel",
    }
    mail.outbox = []
    message, _ = enqueue(customer, rendered=rendered(links={"opt_out": OPT_OUT}))
    assert worker.send_pass(worker_id="w", now=NOW).sent == 1
    [sent] = mail.outbox
    assert sent.extra_headers["Message-ID"] == message.message_id
    assert sent.extra_headers["List-Unsubscribe"] == f"<{OPT_OUT}>"
    message.refresh_from_db()
    assert (message.provider, message.provider_message_id) == ("test", "0")


def test_anymail_refusals_are_classified(customer, settings):
    from anymail.exceptions import AnymailAPIError

    from relance.delivery.channels.base import PermanentFailure, TemporaryFailure, UncertainDelivery
    from relance.delivery.channels.email import EmailChannel

    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    message, _ = enqueue(customer)
    channel = EmailChannel()
    for status, expected in (
        (503, TemporaryFailure),
        (429, TemporaryFailure),
        (400, PermanentFailure),
        (None, UncertainDelivery),
    ):
        import requests

        response = None
        if status is not None:
            response = requests.Response()
            response.status_code, response.reason, response._content = status, "No", b"{}"
        error = AnymailAPIError("provider said no", status_code=status, response=response)
        from unittest import mock

        with (
            mock.patch("anymail.backends.test.EmailBackend.post_to_esp", side_effect=error),
            pytest.raises(expected),
        ):
            channel.send(message)


def _qr_data_uri() -> tuple[str, bytes]:
    from relance.core import payment_refs

    png = payment_refs.epc_qr_png(
        name="ACME SAS",
        iban="FR7630006000011234567890189",
        bic="AGRIFRPP",
        amount=Decimal("1200.00"),
        currency="EUR",
        reference="RF18539007547034",
    )
    return payment_refs.data_uri(png, "image/png"), png


@pytest.mark.parametrize("with_pdf", [False, True])
def test_the_qr_code_travels_as_an_inline_image_not_a_data_uri(
    customer, smtp_settings, smtp_server, with_pdf
):
    uri, png = _qr_data_uri()
    pdf = Attachment("statement.pdf", "application/pdf", b"%PDF-1.7 statement")
    enqueue(
        customer,
        rendered=rendered(
            html=f'<p>Scan to pay</p><img alt="QR" src="{uri}"><img alt="again" src="{uri}">',
            attachments=(pdf,) if with_pdf else (),
        ),
    )
    assert worker.send_pass(worker_id="w", now=NOW).sent == 1
    [received] = smtp_server.received
    email = received.email
    html = email.get_body(("html",)).get_content()
    assert "data:image" not in html
    [cid] = set(re.findall(r'src="cid:([^"]+)"', html))
    images = [part for part in email.walk() if part.get_content_type() == "image/png"]
    assert len(images) == 1  # the same image twice is one part
    assert images[0]["Content-ID"] == f"<{cid}>"
    assert images[0].get_content_disposition() == "inline"
    assert images[0].get_content() == png
    if with_pdf:
        assert email.get_content_type() == "multipart/mixed"
        assert [part.get_filename() for part in email.iter_attachments()][-1] == "statement.pdf"
    else:
        assert email.get_content_type() == "multipart/related"


def test_anymail_gets_the_qr_code_as_an_inline_attachment(customer, settings):
    from django.core import mail

    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.RELANCE_CHANNELS = {
        **settings.RELANCE_CHANNELS,
        "email": "relance.delivery.channels.email.EmailChannel",
    }
    mail.outbox = []
    uri, png = _qr_data_uri()
    enqueue(customer, rendered=rendered(html=f'<img src="{uri}">'))
    assert worker.send_pass(worker_id="w", now=NOW).sent == 1
    [sent] = mail.outbox
    [(html, _type)] = sent.alternatives
    [image] = sent.attachments
    assert f'src="cid:{image["Content-ID"].strip("<>")}"' in str(html)
    assert image.get_payload(decode=True) == png

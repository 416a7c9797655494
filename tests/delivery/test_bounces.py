"""Bounce e-mails matched by the Message-ID they quote, over real SMTP (aiosmtpd on loopback).

Two customers' contacts share one address (an accounting firm writes for both). A reminder to
each goes out through the real e-mail channel; the remote server's bounce, quoting the first
one's Message-ID, reaches the bounce mailbox over SMTP and is piped to ``relance bounce``: the
first customer's contact and message are marked, not the second's, although the second e-mail
to that address is the later one (what a match by address would pick).
"""

from __future__ import annotations

import smtplib
import uuid
from email.message import EmailMessage

import pytest
from django.core.management import call_command

from relance.delivery import worker
from relance.delivery.bounces import bounce_parse, bounce_record
from relance.delivery.models import MessageStatus, OutboundMessage
from relance.ledger.models import Contact, ContactStatus
from tests.delivery.conftest import NOW, SmtpServer, free_port
from tests.delivery.test_services import enqueue

pytestmark = pytest.mark.django_db

SHARED = "ann@example.com"


def dsn(
    *, message_id: str | None, recipient: str = SHARED, status: str = "5.1.1", action: str = "failed"
) -> bytes:
    """A remote server's RFC 3464 bounce (as Postfix writes one), quoting the returned headers."""
    quoted = f"Message-ID: {message_id}\r\n" if message_id else ""
    return (
        "From: MAILER-DAEMON@mx.example.com\r\n"
        "To: billing@acme.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@mx.example.com>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n--B\r\nContent-Type: text/plain\r\n\r\n"
        "This is the mail system at host mx.example.com. I'm sorry to have to inform you...\r\n"
        "\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.com\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} <{recipient}>: Recipient address rejected: User unknown\r\n"
        "\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        "From: ACME SAS <billing@acme.example>\r\nTo: <ann@example.com>\r\nSubject: Invoice overdue\r\n"
        f"{quoted}"
        "\r\n--B--\r\n"
    ).encode()


@pytest.fixture
def bounce_mailbox():
    """The mailbox bounces come back to (the envelope sender's server), a real SMTP server."""
    server = SmtpServer(port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def two_sent(customer, make_customer, smtp_settings, smtp_server):
    """One reminder to C1's contact, then one to C2's, both at the shared address, sent over SMTP."""
    other = make_customer("C2")
    Contact.objects.create(customer=other, name="Ann (firm)", role="billing", email=SHARED)
    first, _ = enqueue(customer, key="k-c1")
    worker.send_pass(worker_id="w", now=NOW)
    second, _ = enqueue(other, key="k-c2")
    worker.send_pass(worker_id="w", now=NOW)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (MessageStatus.SENT, MessageStatus.SENT)
    [on_wire, _] = [r.email for r in smtp_server.received]
    return first, second, on_wire["Message-ID"]


def deliver(bounce_mailbox: SmtpServer, raw: bytes) -> bytes:
    with smtplib.SMTP("127.0.0.1", bounce_mailbox.port, timeout=5) as smtp:
        smtp.sendmail("", ["bounces@acme.example"], raw)
    return bounce_mailbox.received[-1].data


def test_a_bounce_quoting_the_message_id_marks_that_contact_and_message(
    two_sent, bounce_mailbox, tmp_path, capsys
):
    first, second, wire_id = two_sent
    assert wire_id == first.message_id  # the Message-ID on the wire is the outbox row's
    path = tmp_path / "bounce.eml"
    path.write_bytes(deliver(bounce_mailbox, dsn(message_id=wire_id)))
    call_command("bounce", str(path))
    assert '"matched_by": "message_id"' in capsys.readouterr().out
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == MessageStatus.BOUNCED and second.status == MessageStatus.SENT
    mine = Contact.objects.get(pk=first.contact_id)
    theirs = Contact.objects.get(pk=second.contact_id)
    assert mine.email_status == ContactStatus.BOUNCED and "User unknown" in mine.email_reason
    assert theirs.email_status != ContactStatus.BOUNCED
    # the step's next channel is queued for the first customer only
    assert OutboundMessage.objects.filter(fallback_of=first).exists()
    assert not OutboundMessage.objects.filter(fallback_of=second).exists()


def test_the_same_bounce_twice_counts_once(two_sent, bounce_mailbox):
    first, _, wire_id = two_sent
    raw = deliver(bounce_mailbox, dsn(message_id=wire_id))
    bounce_record(raw)
    bounce_record(raw)
    assert first.events.filter(kind="bounced").count() == 1


def test_without_a_message_id_the_bounce_falls_back_to_the_address(two_sent, bounce_mailbox):
    first, second, _ = two_sent
    outcome = bounce_record(deliver(bounce_mailbox, dsn(message_id=None)))
    assert outcome.matched_by == "address" and outcome.message_id == second.pk  # the latest to it
    second.refresh_from_db()
    assert second.status == MessageStatus.BOUNCED
    assert Contact.objects.get(pk=second.contact_id).email_status == ContactStatus.BOUNCED


def test_a_delay_is_recorded_and_marks_nothing(two_sent, bounce_mailbox):
    first, _, wire_id = two_sent
    outcome = bounce_record(
        deliver(bounce_mailbox, dsn(message_id=wire_id, status="4.2.2", action="delayed"))
    )
    assert outcome.matched_by == "message_id" and not outcome.hard
    first.refresh_from_db()
    assert first.status == MessageStatus.SENT
    assert Contact.objects.get(pk=first.contact_id).email_status != ContactStatus.BOUNCED
    assert first.events.filter(kind="bounced").count() == 1  # the delay is on the record


def test_a_bounce_about_someone_elses_mail_changes_nothing(two_sent):
    outcome = bounce_record(dsn(message_id="<not-ours@elsewhere.example>", recipient="x@elsewhere.example"))
    assert outcome.matched_by == "" and outcome.message_id is None
    assert not OutboundMessage.objects.filter(status=MessageStatus.BOUNCED).exists()


def test_the_parser_reads_a_non_standard_bounce():
    plain = EmailMessage()
    plain["Subject"] = "Mail delivery failed: returning message to sender"
    plain["Message-ID"] = "<b1@mx.example.com>"
    plain.set_content(
        "A message that you sent could not be delivered.\n  ann@example.com\n    550 5.1.1 no such user\n\n"
        "------ This is a copy of the message's headers. ------\nMessage-ID: <abc@acme.example>\n"
    )
    report = bounce_parse(plain.as_bytes())
    assert report.message_ids == ("<abc@acme.example>",) and report.hard

"""Issue 12, finding 1: forged e-mail tracking webhooks. A provider event changes a message only
when it is authenticated and comes from the provider that sent the message; Message-IDs are random."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess

import pytest

from relance.delivery import services
from relance.delivery.models import DeliveryEvent, OutboundMessage
from relance.ledger.models import Contact, ContactStatus
from tests.config.test_settings import _manage
from tests.delivery.test_services import enqueue

pytestmark = pytest.mark.django_db

POSTMARK = "/delivery/anymail/postmark/tracking/"
SENDGRID = "/delivery/anymail/sendgrid/tracking/"
SECRET = "relance:0123456789abcdef0123456789abcdef"


def basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


@pytest.fixture
def sent_email(customer):
    message, _ = enqueue(customer)
    OutboundMessage.objects.filter(pk=message.pk).update(
        status="sent", provider="postmark", provider_message_id="883953f4-6105-42a2-a16a-77a8eac79483"
    )
    message.refresh_from_db()
    return message


def postmark_bounce(message: OutboundMessage) -> str:
    """Postmark's documented bounce webhook payload (abridged)."""
    return json.dumps(
        {
            "RecordType": "Bounce",
            "ID": 4323372036854775807,
            "Type": "HardBounce",
            "TypeCode": 1,
            "MessageID": message.provider_message_id,
            "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
            "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
            "Email": message.recipient,
            "BouncedAt": "2026-11-23T10:00:00Z",
            "Inactive": True,
            "CanActivate": True,
            "Subject": message.subject,
        }
    )


def contact_status(message: OutboundMessage) -> str:
    assert message.contact_id is not None
    return Contact.objects.get(pk=message.contact_id).email_status


def test_without_a_configured_secret_a_forged_bounce_is_refused(client, settings, sent_email):
    settings.ANYMAIL = {}
    response = client.post(POSTMARK, postmark_bounce(sent_email), content_type="application/json")
    assert response.status_code == 403
    assert b"ANYMAIL_WEBHOOK_SECRET" in response.content
    assert contact_status(sent_email) != ContactStatus.BOUNCED
    assert not DeliveryEvent.objects.filter(kind="bounced").exists()


def test_a_post_without_credentials_is_challenged_and_wrong_ones_refused(client, settings, sent_email):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    response = client.post(POSTMARK, postmark_bounce(sent_email), content_type="application/json")
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Basic")
    wrong = client.post(
        POSTMARK,
        postmark_bounce(sent_email),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic("relance:guess"),
    )
    assert wrong.status_code == 400  # anymail's check of the credentials
    assert contact_status(sent_email) != ContactStatus.BOUNCED


def test_an_authenticated_bounce_from_the_sending_provider_is_applied(
    client, settings, sent_email, fake_render
):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    response = client.post(
        POSTMARK,
        postmark_bounce(sent_email),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(SECRET),
    )
    assert response.status_code == 200
    assert contact_status(sent_email) == ContactStatus.BOUNCED


def test_an_event_from_another_provider_changes_nothing(client, settings, sent_email):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    forged = [  # SendGrid's documented event webhook payload, naming a message Postmark sent
        {
            "email": sent_email.recipient,
            "timestamp": 1795430400,
            "smtp-id": sent_email.provider_message_id,
            "event": "spamreport",
            "sg_event_id": "sendgrid_internal_event_id",
            "sg_message_id": "sendgrid_internal_message_id",
        }
    ]
    response = client.post(
        SENDGRID, json.dumps(forged), content_type="application/json", HTTP_AUTHORIZATION=basic(SECRET)
    )
    assert response.status_code == 200  # accepted by the webhook, ignored by Relance
    contact = Contact.objects.get(pk=sent_email.contact_id)
    assert contact.opt_out_email is False
    assert not DeliveryEvent.objects.filter(message=sent_email, kind="complained").exists()


def test_an_smtp_message_takes_events_only_from_the_named_relay(settings, sent_email):
    from anymail.signals import AnymailTrackingEvent, tracking

    OutboundMessage.objects.filter(pk=sent_email.pk).update(provider="smtp")
    event = AnymailTrackingEvent(event_type="complained", message_id=sent_email.message_id, event_id="x1")
    settings.RELANCE_SMTP_TRACKING_ESP = ""
    tracking.send(sender=object, event=event, esp_name="Postmark")
    assert Contact.objects.get(pk=sent_email.contact_id).opt_out_email is False
    settings.RELANCE_SMTP_TRACKING_ESP = "postmark"
    tracking.send(sender=object, event=event, esp_name="Postmark")
    assert Contact.objects.get(pk=sent_email.contact_id).opt_out_email is True


def test_message_ids_are_random_not_derived_from_the_key(customer):
    message, _ = enqueue(customer, "run:1:customer:2:step:first:channel:email")
    derived = hashlib.sha256(b"run:1:customer:2:step:first:channel:email").hexdigest()[:32]
    assert derived not in message.message_id
    assert services.message_id_new() != services.message_id_new()


def _deploy_check(tmp_path, **env: str) -> subprocess.CompletedProcess:
    import secrets

    return _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        RELANCE_TRUSTED_PROXIES="127.0.0.1/32",  # the proxy must-have (relance.W001)
        **env,
    )


def test_check_deploy_fails_for_a_provider_without_webhook_secret(tmp_path):
    result = _deploy_check(tmp_path, EMAIL_URL="anymail://postmark", ANYMAIL_POSTMARK_SERVER_TOKEN="t")
    assert result.returncode != 0 and "relance.E101" in result.stderr
    signed = _deploy_check(tmp_path, EMAIL_URL="anymail://mailgun", ANYMAIL_WEBHOOK_SECRET=SECRET)
    assert signed.returncode != 0 and "relance.E102" in signed.stderr and "E101" not in signed.stderr
    clean = _deploy_check(
        tmp_path,
        EMAIL_URL="anymail://mailgun",
        ANYMAIL_WEBHOOK_SECRET=SECRET,
        ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY="key-123",
    )
    assert clean.returncode == 0, clean.stdout + clean.stderr

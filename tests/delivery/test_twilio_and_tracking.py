"""SMS through Twilio's documented Messages API (respx), and tracking: Twilio callbacks, anymail events."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
import respx

from relance.delivery import worker
from relance.delivery.channels.base import PermanentFailure, TemporaryFailure, UncertainDelivery
from relance.delivery.channels.twilio import TwilioSmsChannel
from relance.delivery.models import DeliveryEvent, OutboundMessage
from relance.delivery.tracking import twilio_signature
from relance.ledger.models import Contact, ContactStatus
from tests.delivery.conftest import NOW, rendered
from tests.delivery.test_services import enqueue

pytestmark = pytest.mark.django_db

SID = "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
TOKEN = "12345678901234567890123456789012"
MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"
CREATED = {  # Twilio's documented 201 response (abridged)
    "account_sid": SID,
    "api_version": "2010-04-01",
    "body": "text",
    "date_created": "Thu, 24 Aug 2023 05:01:45 +0000",
    "direction": "outbound-api",
    "error_code": None,
    "from": "+14155552345",
    "num_segments": "1",
    "price": None,
    "sid": "SM1234567890abcdef1234567890abcdef",
    "status": "queued",
    "to": "+33612345678",
    "uri": f"/2010-04-01/Accounts/{SID}/Messages/SM1234567890abcdef1234567890abcdef.json",
}


@pytest.fixture
def twilio(settings):
    settings.TWILIO_ACCOUNT_SID = SID
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_FROM = "+14155552345"
    settings.RELANCE_CHANNELS = {
        **settings.RELANCE_CHANNELS,
        "sms": "relance.delivery.channels.twilio.TwilioSmsChannel",
    }
    return settings


def sms(customer, key="s1"):
    message, _ = enqueue(
        customer,
        key,
        channel="sms",
        recipient="+33612345678",
        rendered=rendered(channel="sms", text="Reminder: 1,200.00 EUR due"),
    )
    return message


@respx.mock
def test_an_sms_is_posted_as_twilio_documents(customer, twilio):
    route = respx.post(MESSAGES_URL).mock(return_value=httpx.Response(201, json=CREATED))
    message = sms(customer)
    assert worker.send_pass(worker_id="w", now=NOW).sent == 1
    request = route.calls.last.request
    form = dict(httpx.QueryParams(request.content.decode()))
    assert form == {
        "To": "+33612345678",
        "From": "+14155552345",
        "Body": "Reminder: 1,200.00 EUR due",
        "StatusCallback": "http://testserver/delivery/twilio/status/",
    }
    assert request.headers["Authorization"].startswith("Basic ")
    message.refresh_from_db()
    assert (message.status, message.provider, message.provider_message_id) == (
        "sent",
        "twilio",
        CREATED["sid"],
    )


@respx.mock
@pytest.mark.parametrize(
    ("status", "payload", "expected", "invalid"),
    [
        (
            400,
            {
                "code": 21211,
                "message": "The 'To' number +3361 is not a valid phone number.",
                "more_info": "https://www.twilio.com/docs/errors/21211",
                "status": 400,
            },
            PermanentFailure,
            True,
        ),
        (
            400,
            {"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400},
            PermanentFailure,
            False,
        ),
        (429, {"code": 20429, "message": "Too Many Requests", "status": 429}, TemporaryFailure, None),
        (503, {"code": 20500, "message": "Internal Server Error", "status": 503}, TemporaryFailure, None),
        (401, {"code": 20003, "message": "Authenticate", "status": 401}, TemporaryFailure, None),
    ],
)
def test_twilio_errors_are_classified(customer, twilio, status, payload, expected, invalid):
    respx.post(MESSAGES_URL).mock(return_value=httpx.Response(status, json=payload))
    with TwilioSmsChannel() as channel, pytest.raises(expected) as caught:
        channel.send(sms(customer))
    assert str(payload["code"]) in str(caught.value)
    if invalid is not None:
        assert caught.value.invalid_recipient is invalid


@respx.mock
def test_a_connection_error_is_retried_but_a_read_timeout_is_uncertain(customer, twilio):
    message = sms(customer)
    respx.post(MESSAGES_URL).mock(side_effect=httpx.ConnectError("refused"))
    with TwilioSmsChannel() as channel, pytest.raises(TemporaryFailure):
        channel.send(message)
    respx.post(MESSAGES_URL).mock(side_effect=httpx.ReadTimeout("slow"))
    with TwilioSmsChannel() as channel, pytest.raises(UncertainDelivery):
        channel.send(message)


def test_unconfigured_twilio_is_a_temporary_failure(customer, settings, monkeypatch):
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(TemporaryFailure, match="not configured"):
        TwilioSmsChannel().send(sms(customer))


def test_twilio_signature_matches_the_documented_example():
    # Twilio's security documentation example (auth token 12345, the documented URL and parameters).
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675310",
        "Digits": "1234",
        "From": "+14158675310",
        "To": "+18005551212",
    }
    assert twilio_signature(url, params.items(), "12345") == "GvWf1cFY/Q7PnoempGyD5oXAezc="
    params["Caller"] = params["From"] = "+14158675309"
    assert twilio_signature(url, reversed(params.items()), "12345") == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def post_status(client, params, token=TOKEN, url="http://testserver/delivery/twilio/status/"):
    signature = twilio_signature(url, params.items(), token)
    return client.post("/delivery/twilio/status/", params, HTTP_X_TWILIO_SIGNATURE=signature)


def test_twilio_status_callback_needs_a_valid_signature(client, customer, twilio):
    message = sms(customer)
    OutboundMessage.objects.filter(pk=message.pk).update(status="sent", provider_message_id="SM1")
    params = {"MessageSid": "SM1", "MessageStatus": "delivered", "AccountSid": SID}
    assert post_status(client, params, token="wrong").status_code == 403
    assert client.post("/delivery/twilio/status/", params).status_code == 403
    assert post_status(client, params).status_code == 204
    message.refresh_from_db()
    assert message.status == "delivered" and message.delivered_at is not None
    assert post_status(client, params).status_code == 204  # Twilio retries: one event
    assert DeliveryEvent.objects.filter(message=message, kind="delivered").count() == 1


def test_undelivered_to_an_unknown_number_is_a_hard_bounce(client, customer, twilio, fake_render):
    message = sms(customer)
    OutboundMessage.objects.filter(pk=message.pk).update(status="sent", provider_message_id="SM2")
    params = {"MessageSid": "SM2", "MessageStatus": "undelivered", "ErrorCode": "30005"}
    assert post_status(client, params).status_code == 204
    message.refresh_from_db()
    assert message.status == "bounced"
    assert Contact.objects.get(pk=message.contact_id).phone_status == ContactStatus.BOUNCED
    assert message.fallbacks.get().channel == "email"  # sms falls back to email outside a step


def test_failed_sms_with_another_error_is_failed_not_bounced(client, customer, twilio):
    message = sms(customer)
    OutboundMessage.objects.filter(pk=message.pk).update(status="sent", provider_message_id="SM3")
    post_status(client, {"MessageSid": "SM3", "MessageStatus": "failed", "ErrorCode": "30001"})
    message.refresh_from_db()
    assert message.status == "failed" and Contact.objects.get(pk=message.contact_id).phone_status == "unknown"


# -- anymail tracking ------------------------------------------------------------------------------


def send_event(event_type, message_id="pm-1", event_id="e1", **fields):
    from anymail.signals import AnymailTrackingEvent, tracking

    event = AnymailTrackingEvent(
        event_type=event_type,
        message_id=message_id,
        event_id=event_id,
        timestamp=fields.pop("timestamp", datetime(2026, 11, 23, 10, 0, tzinfo=UTC)),
        recipient="ann@example.com",
        **fields,
    )
    tracking.send(sender=object, event=event, esp_name="Postmark")


@pytest.fixture
def sent_email(customer):
    message, _ = enqueue(customer)
    OutboundMessage.objects.filter(pk=message.pk).update(
        status="sent", provider="postmark", provider_message_id="pm-1"
    )
    return message


def test_delivered_opened_clicked_set_timestamps_once(sent_email):
    send_event("delivered", event_id="e1")
    send_event("opened", event_id="e2", timestamp=datetime(2026, 11, 23, 11, tzinfo=UTC))
    send_event("opened", event_id="e3", timestamp=datetime(2026, 11, 23, 12, tzinfo=UTC))
    send_event(
        "clicked",
        event_id="e4",
        click_url="http://testserver/pay/x",
        timestamp=datetime(2026, 11, 23, 13, tzinfo=UTC),
    )
    send_event("clicked", event_id="e4")  # webhook retried
    sent_email.refresh_from_db()
    assert sent_email.status == "delivered"
    assert sent_email.delivered_at == datetime(2026, 11, 23, 10, tzinfo=UTC)
    assert sent_email.opened_at == datetime(2026, 11, 23, 11, tzinfo=UTC)
    assert sent_email.clicked_at == datetime(2026, 11, 23, 13, tzinfo=UTC)
    kinds = list(sent_email.events.values_list("kind", flat=True))
    assert kinds == ["queued", "delivered", "opened", "opened", "clicked"]
    assert sent_email.events.get(kind="clicked").detail["click_url"] == "http://testserver/pay/x"


def test_a_late_sent_event_does_not_undo_delivered(sent_email):
    send_event("delivered", event_id="e1")
    send_event("sent", event_id="e0")
    sent_email.refresh_from_db()
    assert sent_email.status == "delivered"


def test_bounce_event_marks_the_address_and_falls_back(sent_email, fake_render):
    send_event("bounced", event_id="b1", description="Hard bounce: unknown user")
    send_event("bounced", event_id="b1")
    sent_email.refresh_from_db()
    assert sent_email.status == "bounced" and "unknown user" in sent_email.last_error
    assert Contact.objects.get(pk=sent_email.contact_id).email_status == ContactStatus.BOUNCED
    assert [m.channel for m in sent_email.fallbacks.all()] == ["letter"]
    assert DeliveryEvent.objects.filter(kind="bounced").count() == 1


def test_deferred_is_only_recorded_and_complaint_opts_out(sent_email):
    send_event("deferred", event_id="d1")
    sent_email.refresh_from_db()
    assert sent_email.status == "sent"
    send_event("complained", event_id="c1")
    assert Contact.objects.get(pk=sent_email.contact_id).opt_out_email is True
    from relance.compliance.models import ContactPreferenceEvent

    evidence = ContactPreferenceEvent.objects.get(contact_id=sent_email.contact_id)
    assert (evidence.channel, evidence.opted_out, evidence.source) == ("email", True, "provider")


def test_rejected_invalid_is_a_hard_bounce(sent_email, fake_render):
    send_event("rejected", event_id="r1", reject_reason="invalid")
    sent_email.refresh_from_db()
    assert sent_email.status == "bounced"


def test_events_for_unknown_messages_are_ignored(sent_email):
    send_event("delivered", message_id="someone-else")
    assert DeliveryEvent.objects.filter(kind="delivered").count() == 0


def test_anymail_webhooks_are_mounted(client, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "user:pass"}
    response = client.post("/delivery/anymail/postmark/tracking/", data="{}", content_type="application/json")
    assert response.status_code == 401  # mounted (and protected), not 404


def test_an_inbound_stop_reply_opts_the_sender_out_of_sms(client, customer, twilio):
    contact = customer.contacts.exclude(phone="").first()
    assert contact is not None and not contact.opt_out_sms
    params = {"From": contact.phone, "Body": "STOP", "MessageSid": "SMin1", "AccountSid": SID}
    url = "http://testserver/delivery/twilio/inbound/"
    assert client.post("/delivery/twilio/inbound/", params).status_code == 403  # unsigned
    assert Contact.objects.get(pk=contact.pk).opt_out_sms is False
    signature = twilio_signature(url, params.items(), TOKEN)
    response = client.post("/delivery/twilio/inbound/", params, HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 200 and b"<Response>" in response.content
    assert Contact.objects.get(pk=contact.pk).opt_out_sms is True

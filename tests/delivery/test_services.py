"""The outbox's writes: queue once per key, attachments, retry, cancel, bounces and fallbacks, runs."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from relance.comms.types import Attachment
from relance.core.actors import SYSTEM
from relance.delivery import services
from relance.delivery.models import DeliveryEvent, MessageStatus, OutboundMessage
from relance.ledger.models import Contact, ContactStatus
from tests.delivery.conftest import NOW, rendered

pytestmark = pytest.mark.django_db


def enqueue(customer, key="k1", **kwargs):
    contact = customer.contacts.first()
    return services.outbox_enqueue(
        rendered=kwargs.pop("rendered", rendered()),
        customer=customer,
        channel=kwargs.pop("channel", "email"),
        recipient=kwargs.pop("recipient", contact.email),
        idempotency_key=key,
        contact=contact,
        now=NOW,
        **kwargs,
    )


def test_enqueue_twice_is_one_row_with_a_stable_message_id(customer, settings):
    settings.DEFAULT_FROM_EMAIL = "Billing <billing@acme.example>"
    first, created = enqueue(customer)
    again, created_again = enqueue(customer, rendered=rendered(subject="changed"))
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk and again.subject == first.subject
    assert OutboundMessage.objects.count() == 1
    assert again.message_id == first.message_id  # the row keeps its id for every attempt
    assert first.message_id.endswith("@acme.example>") and len(first.message_id.split("@")[0]) == 33
    assert first.status == MessageStatus.QUEUED and first.next_attempt_at == NOW
    assert list(first.events.values_list("kind", flat=True)) == ["queued"]


def test_enqueue_stores_the_rendered_message_and_attachments(customer):
    pdf = Attachment("statement.pdf", "application/pdf", b"%PDF-1.7 statement")
    message, _ = enqueue(customer, rendered=rendered(attachments=(pdf,)), not_before=NOW + timedelta(hours=2))
    assert message.amount_due == Decimal("1200.00") and message.rf_reference == "RF18539007547034"
    assert message.next_attempt_at == NOW + timedelta(hours=2)
    [stored] = message.attachments.all()
    assert (stored.filename, stored.content_type, stored.size) == ("statement.pdf", "application/pdf", 18)
    with stored.file.open("rb") as handle:
        assert handle.read() == b"%PDF-1.7 statement"


def test_retry_only_failed_like_messages_and_rereads_the_fixed_address(customer):
    message, _ = enqueue(customer)
    with pytest.raises(services.DeliveryError, match="only failed, bounced"):
        services.message_retry(message=message)
    OutboundMessage.objects.filter(pk=message.pk).update(
        status=MessageStatus.BOUNCED, attempts=3, last_error="550"
    )
    Contact.objects.filter(pk=message.contact_id).update(email="ann.fixed@example.com")
    retried = services.message_retry(message=message, now=NOW + timedelta(days=1))
    assert retried.status == MessageStatus.QUEUED and retried.attempts == 0 and retried.last_error == ""
    assert retried.recipient == "ann.fixed@example.com"
    assert retried.message_id == message.message_id
    assert retried.events.last().detail["recipient_was"] == "ann@example.com"


def test_cancel(customer):
    message, _ = enqueue(customer)
    assert services.message_cancel(actor=SYSTEM, message=message).status == MessageStatus.CANCELLED
    with pytest.raises(services.DeliveryError):
        services.message_cancel(actor=SYSTEM, message=message)


def test_recipient_prefers_a_valid_billing_contact(make_customer):
    customer = make_customer("C2")
    Contact.objects.create(customer=customer, role="primary", email="boss@example.com")
    billing = Contact.objects.create(
        customer=customer, role="billing", email="ap@example.com", opt_out_email=True
    )
    assert services.recipient_for(customer, "email")[1] == "boss@example.com"
    Contact.objects.filter(pk=billing.pk).update(opt_out_email=False)
    assert services.recipient_for(customer, "email")[1] == "ap@example.com"
    Contact.objects.filter(pk=billing.pk).update(email_status=ContactStatus.INVALID)
    assert services.recipient_for(customer, "email")[1] == "boss@example.com"
    contact, address, why = services.recipient_for(customer, "sms")
    assert contact is None and address == "" and "no phone number" in why


def _step_channels(steps, step_key, channel):
    """What the engine puts in an action's ``channels``: its step's, the decided one among them."""
    channels = next((list(step.get("channels") or []) for step in steps if step.get("key") == step_key), [])
    return channels if not channel or channel in channels else [channel, *channels]


def make_run(
    entity, customer, *, steps, channel="email", step_key="reminder_1", as_of=date(2026, 11, 23), **fields
):
    from relance.dunning.models import DunningAction, DunningRun, Policy

    Policy.objects.get_or_create(
        entity=entity,
        key="standard",
        defaults={"name": "Standard", "spec": {"key": "standard", "name": "Standard", "steps": steps}},
    )
    run, _ = DunningRun.objects.get_or_create(
        entity=entity, as_of=as_of, defaults={"started_at": timezone.now(), "finished_at": timezone.now()}
    )
    action = DunningAction.objects.create(
        run=run,
        entity=entity,
        customer=customer,
        on=as_of,
        kind="overdue",
        policy_key="standard",
        step_key=step_key,
        step_index=1,
        offset_days=1,
        action=fields.pop("action", "message"),
        channel=channel,
        step_channels=_step_channels(steps, step_key, channel),
        is_contact=fields.pop("is_contact", True),
        tone="friendly",
        template_key=fields.pop("template_key", "overdue_friendly"),
        currency=fields.pop("currency", "EUR"),
        amount_due=Decimal("1200"),
        invoice_count=1,
        max_days_past_due=1,
    )
    return run, action


def step(key="reminder_1", channels=("email", "sms", "letter"), offset_days=1, template="overdue_friendly"):
    return {
        "key": key,
        "offset_days": offset_days,
        "action": "message",
        "channels": list(channels),
        "template": template,
        "tone": "friendly",
    }


STEPS = [step()]


def test_enqueue_run_queues_each_contact_action_once(entity, customer, fake_render):
    run, action = make_run(entity, customer, steps=STEPS)
    report = services.outbox_enqueue_run(run=run)
    assert (report.created, report.existing, report.by_channel) == (1, 0, {"email": 1})
    [message] = OutboundMessage.objects.all()
    assert message.idempotency_key == f"run:{run.pk}:customer:{customer.pk}:step:reminder_1:channel:email"
    assert (message.recipient, message.action_id, message.run_id) == ("ann@example.com", action.pk, run.pk)
    assert fake_render[0]["message_key"] == message.idempotency_key and fake_render[0]["as_of"] == run.as_of
    again = services.outbox_enqueue_run(run=run)
    assert (again.created, again.existing) == (0, 1)
    assert OutboundMessage.objects.count() == 1


def test_enqueue_run_falls_back_to_the_steps_next_channel_and_says_why(entity, customer, fake_render):
    Contact.objects.filter(customer=customer).update(opt_out_email=True)
    run, _ = make_run(entity, customer, steps=STEPS)
    report = services.outbox_enqueue_run(run=run)
    [message] = OutboundMessage.objects.all()
    assert message.channel == "sms" and message.recipient == "+33612345678"
    [fallback] = report.fallbacks
    assert (fallback.decided, fallback.used) == ("email", "sms") and "opted out of email" in fallback.reason
    assert message.events.get().detail["channel_fallback"]["why"] == fallback.reason


def test_enqueue_run_skips_an_unreachable_customer_with_the_reason(entity, make_customer, fake_render):
    lonely = make_customer("C9")
    run, _ = make_run(entity, lonely, steps=STEPS)
    report = services.outbox_enqueue_run(run=run)
    assert report.created == 0 and "no contact" in report.skipped[0].reason


def test_a_contact_who_prefers_a_call_gets_the_steps_call(entity, customer, fake_render):
    # One vocabulary (relance.core.channels): the contact's preference and the step both say "call".
    Contact.objects.filter(customer=customer).update(preferred_channel="call")
    run, action = make_run(entity, customer, steps=[step(channels=("email", "call"))])
    report = services.outbox_enqueue_run(run=run)
    [message] = OutboundMessage.objects.all()
    assert (message.channel, message.recipient) == ("call", "+33612345678")
    assert [(f.decided, f.used) for f in report.fallbacks] == [("email", "call")]
    action.refresh_from_db()
    assert action.reasons[-1]["code"] == "channel_preference"
    assert "prefers call" in action.reasons[-1]["detail"]


def test_registered_letter_is_a_letter_marked_registered(entity, customer, fake_render):
    run, _ = make_run(
        entity,
        customer,
        steps=[step("final_notice", ["registered_letter", "email"], 60, "final_notice")],
        step_key="final_notice",
        channel="registered_letter",
    )
    services.outbox_enqueue_run(run=run)
    [message] = OutboundMessage.objects.all()
    assert message.channel == "letter" and message.headers == {"registered": True}
    assert message.recipient.startswith("1 rue de la Paix")


def test_hard_bounce_invalidates_the_address_and_falls_back_once(entity, customer, fake_render):
    run, _ = make_run(entity, customer, steps=[step(channels=["email", "letter"])])
    services.outbox_enqueue_run(run=run)
    message = OutboundMessage.objects.get()
    fallback = services.message_mark_bounced(
        message=message, reason="550 no such user", provider_event_id="ev1"
    )
    assert fallback is not None and fallback.channel == "letter" and fallback.fallback_of_id == message.pk
    assert fallback.idempotency_key == message.idempotency_key + ":fallback:letter"
    message.refresh_from_db()
    assert message.status == MessageStatus.BOUNCED
    assert Contact.objects.get(customer=customer).email_status == ContactStatus.BOUNCED
    # The provider repeats its webhook: nothing more.
    assert services.message_mark_bounced(message=message, provider_event_id="ev1") is None
    assert OutboundMessage.objects.count() == 2
    assert DeliveryEvent.objects.filter(kind="bounced").count() == 1


def test_soft_bounce_only_records(customer):
    message, _ = enqueue(customer)
    assert services.message_mark_bounced(message=message, hard=False, reason="mailbox full") is None
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    assert Contact.objects.get(pk=message.contact_id).email_status == ContactStatus.UNKNOWN


def test_enqueue_run_with_the_real_renderer(entity, customer, make_invoice):
    pytest.importorskip("relance.comms.services", reason="H3's message_render is not in the tree yet")
    invoice = make_invoice(customer, "INV-1", "1200", date(2026, 10, 1), date(2026, 10, 31))
    run, action = make_run(entity, customer, steps=STEPS)
    action.invoices.add(invoice)
    report = services.outbox_enqueue_run(run=run)
    assert report.created == 1
    message = OutboundMessage.objects.get()
    assert message.language == "fr" and message.subject and "INV-1" in message.body_text

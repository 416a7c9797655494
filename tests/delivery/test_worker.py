"""The worker's state machine, on the in-memory channel: claims, retries, failures, leases, limits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from relance.delivery import worker
from relance.delivery.models import DeliveryEvent, MessageStatus, OutboundMessage
from relance.ledger.models import Contact, ContactStatus
from tests.delivery.conftest import NOW
from tests.delivery.test_services import STEPS, enqueue, make_run

pytestmark = pytest.mark.django_db
REAL_VERDICT = worker.outbound_verdict


def statuses():
    return dict(OutboundMessage.objects.values_list("idempotency_key", "status"))


def test_a_pass_delivers_due_messages_once(customer, memory_outbox):
    enqueue(customer, "a")
    enqueue(customer, "b")
    enqueue(customer, "later", not_before=NOW + timedelta(hours=1))
    report = worker.send_pass(worker_id="w1", now=NOW)
    assert (report.claimed, report.delivered) == (2, 2)
    assert [m.idempotency_key for m in memory_outbox.outbox] == ["a", "b"]
    assert statuses() == {"a": "delivered", "b": "delivered", "later": "queued"}
    sent = OutboundMessage.objects.get(idempotency_key="a")
    assert sent.attempts == 1 and sent.lease_owner == "" and sent.sent_at is not None
    assert list(sent.events.values_list("kind", flat=True)) == ["queued", "sent", "delivered"]
    assert worker.send_pass(worker_id="w1", now=NOW).claimed == 0
    assert len(memory_outbox.outbox) == 2


def test_limit_and_channel_filter(customer, memory_outbox):
    for key in "abc":
        enqueue(customer, key)
    enqueue(customer, "s", channel="sms", recipient="+33612345678")
    assert worker.send_pass(worker_id="w", now=NOW, channels=["sms"]).claimed == 1
    assert worker.send_pass(worker_id="w", now=NOW, limit=2).claimed == 2
    assert statuses()["c"] == "queued"


def test_temporary_failures_back_off_then_fail_after_max_attempts(customer, memory_outbox, settings):
    settings.RELANCE_OUTBOX_MAX_ATTEMPTS = 3
    message, _ = enqueue(customer)
    memory_outbox.fail_temporarily.add(message.recipient)
    now = NOW
    for attempt in (1, 2):
        assert worker.send_pass(worker_id="w", now=now).retrying == 1
        message.refresh_from_db()
        assert message.status == "queued" and message.attempts == attempt
        base = timedelta(seconds=60 * 2 ** (attempt - 1))
        assert base <= message.next_attempt_at - now < base * 1.5
        assert worker.send_pass(worker_id="w", now=now).claimed == 0  # not due yet
        now = message.next_attempt_at
    assert worker.send_pass(worker_id="w", now=now).failed == 1
    message.refresh_from_db()
    assert message.status == "failed" and "after 3 attempts" in message.last_error
    assert memory_outbox.outbox == []


def test_refused_recipient_is_a_hard_bounce_with_fallback(entity, customer, memory_outbox, fake_render):
    from relance.delivery.services import outbox_enqueue_run

    run, _ = make_run(entity, customer, steps=STEPS)
    outbox_enqueue_run(run=run, now=NOW)
    memory_outbox.fail_permanently.add("ann@example.com")
    report = worker.send_pass(worker_id="w", now=NOW)
    assert (report.bounced, report.delivered) == (1, 1)  # the fallback goes in the same pass
    assert Contact.objects.get(customer=customer).email_status == ContactStatus.BOUNCED
    email, sms = OutboundMessage.objects.order_by("id")
    assert (email.status, sms.channel, sms.fallback_of_id) == ("bounced", "sms", email.pk)
    assert sms.status == "delivered"
    assert [m.channel for m in memory_outbox.outbox] == ["sms"]


def test_a_stale_sending_row_becomes_uncertain_and_is_not_resent(customer, memory_outbox, settings):
    settings.RELANCE_OUTBOX_LEASE_SECONDS = 60
    message, _ = enqueue(customer)
    OutboundMessage.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENDING, lease_owner="dead", lease_until=NOW + timedelta(seconds=30), attempts=1
    )
    assert worker.send_pass(worker_id="w", now=NOW).recovered_uncertain == 0  # lease still running
    report = worker.send_pass(worker_id="w", now=NOW + timedelta(seconds=31))
    assert (report.recovered_uncertain, report.claimed) == (1, 0)
    message.refresh_from_db()
    assert message.status == "uncertain" and "dead stopped while sending" in message.last_error
    assert worker.send_pass(worker_id="w", now=NOW + timedelta(hours=1)).claimed == 0
    assert memory_outbox.outbox == []


def test_a_restarted_worker_recovers_its_own_rows_at_once(customer):
    message, _ = enqueue(customer)
    OutboundMessage.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENDING, lease_owner="w1", lease_until=NOW + timedelta(minutes=5)
    )
    assert worker.send_pass(worker_id="w1", now=NOW).recovered_uncertain == 1


def test_a_second_worker_never_takes_a_message_in_flight(customer, memory_outbox, monkeypatch):
    """While worker A is inside the provider call, worker B runs a whole pass: it must not send A's."""
    enqueue(customer, "a")
    enqueue(customer, "b")
    inner: list[worker.PassReport] = []
    original = memory_outbox.send

    def send(self, message):
        if message.idempotency_key == "a" and not inner:
            inner.append(worker.PassReport("placeholder"))
            inner[0] = worker.send_pass(worker_id="B", now=NOW)
        return original(self, message)

    monkeypatch.setattr(memory_outbox, "send", send)
    outer = worker.send_pass(worker_id="A", now=NOW)
    assert (outer.claimed, inner[0].claimed) == (1, 1)
    keys = sorted(m.idempotency_key for m in memory_outbox.outbox)
    assert keys == ["a", "b"]


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    defer_until: datetime | None = None
    reason: str = ""


def test_compliance_can_defer_or_block(customer, memory_outbox, monkeypatch):
    deferred, _ = enqueue(customer, "quiet")
    blocked, _ = enqueue(customer, "capped")
    verdicts = {
        "quiet": Verdict(False, NOW + timedelta(hours=10), "quiet hours"),
        "capped": Verdict(False, None, "frequency cap"),
    }
    monkeypatch.setattr(worker, "outbound_verdict", lambda message, now: verdicts[message.idempotency_key])
    report = worker.send_pass(worker_id="w", now=NOW)
    assert (report.deferred, report.blocked) == (1, 1) and memory_outbox.outbox == []
    deferred.refresh_from_db()
    blocked.refresh_from_db()
    assert (deferred.status, deferred.attempts, deferred.next_attempt_at) == (
        "queued",
        0,
        NOW + timedelta(hours=10),
    )
    assert (blocked.status, blocked.last_error) == ("blocked", "frequency cap")
    assert DeliveryEvent.objects.filter(kind="deferred").get().detail["reason"] == "quiet hours"


def test_without_the_compliance_module_everything_is_allowed(customer, monkeypatch):
    import sys

    message, _ = enqueue(customer)
    monkeypatch.setitem(sys.modules, "relance.delivery.compliance", None)
    assert REAL_VERDICT(message, now=NOW).allowed


def test_an_unexpected_error_in_a_backend_is_uncertain_not_retried(customer, memory_outbox, monkeypatch):
    enqueue(customer)

    def boom(self, message):
        raise RuntimeError("bug after the provider took it?")

    monkeypatch.setattr(memory_outbox, "send", boom)
    assert worker.send_pass(worker_id="w", now=NOW).uncertain == 1
    assert statuses() == {"k1": "uncertain"}


def test_rate_limiter_spaces_messages():
    clock = [0.0]
    sleeps: list[float] = []

    def sleep(seconds):
        sleeps.append(seconds)
        clock[0] += seconds

    limiter = worker.RateLimiter({"sms": "2/s", "email": 100}, clock=lambda: clock[0], sleep=sleep)
    for _ in range(6):
        limiter.wait("sms")
        limiter.wait("letter")
    assert sleeps == [0.5, 0.5, 0.5, 0.5]  # a burst of 2, then one every half second
    assert worker.parse_rate("300/m") == 5 and worker.parse_rate(50) == 50
    with pytest.raises(ValueError, match="RELANCE_RATE_LIMITS"):
        worker.parse_rate("5/fortnight")


def test_backoff_grows_and_is_capped(settings):
    settings.RELANCE_OUTBOX_RETRY_SECONDS = 60
    import random

    rng = random.Random(1)
    delays = [worker.backoff(n, rng=rng).total_seconds() for n in range(1, 12)]
    assert all(60 * 2 ** (n - 1) <= d < 90 * 2 ** (n - 1) for n, d in enumerate(delays[:5], start=1))
    assert max(delays) == 6 * 3600

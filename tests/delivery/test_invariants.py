"""Invariant of the worker under any mix of provider outcomes: each message is sent at most once,
and ends delivered, failed or bounced exactly as its sequence of outcomes says."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relance.delivery import worker
from relance.delivery.channels.base import DeliveryReceipt, PermanentFailure, TemporaryFailure
from relance.delivery.models import DeliveryEvent, OutboundMessage
from tests.delivery.conftest import NOW
from tests.delivery.test_services import enqueue

pytestmark = pytest.mark.django_db

MAX_ATTEMPTS = 4
outcomes = st.lists(st.sampled_from(["ok", "temporary", "permanent"]), min_size=1, max_size=6)


def expected(plan: list[str]) -> tuple[str, int]:
    """Final status and attempts for a plan (the provider's answer to attempt 1, 2, …)."""
    for attempt, outcome in enumerate(plan[:MAX_ATTEMPTS], start=1):
        if outcome == "ok":
            return "delivered", attempt
        if outcome == "permanent":
            return "failed", attempt
    if len(plan) < MAX_ATTEMPTS:  # the provider keeps answering with the plan's last word
        return expected(plan + [plan[-1]] * MAX_ATTEMPTS)
    return "failed", MAX_ATTEMPTS


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plans=st.lists(outcomes, min_size=1, max_size=5), workers=st.integers(1, 3))
def test_any_outcomes_each_message_at_most_once(
    customer, memory_outbox, monkeypatch, settings_fixture, plans, workers
):
    settings_fixture.RELANCE_OUTBOX_MAX_ATTEMPTS = MAX_ATTEMPTS
    OutboundMessage.objects.all().delete()
    sent: list[str] = []
    plan_of = {f"m{i}": plan for i, plan in enumerate(plans)}

    def send(self, message):
        plan = plan_of[message.idempotency_key]
        outcome = plan[min(message.attempts, len(plan)) - 1]
        if outcome == "temporary":
            raise TemporaryFailure("try later")
        if outcome == "permanent":
            raise PermanentFailure("refused")
        sent.append(message.idempotency_key)
        return DeliveryReceipt(provider="memory", delivered=True)

    monkeypatch.setattr(memory_outbox, "send", send)
    for key in plan_of:
        enqueue(customer, key)
    now = NOW
    for _ in range(MAX_ATTEMPTS + 2):
        for number in range(workers):
            worker.send_pass(worker_id=f"w{number}", now=now)
        now += timedelta(hours=7)  # past any backoff
    assert not OutboundMessage.objects.filter(status="queued").exists()
    assert len(sent) == len(set(sent))
    for key, plan in plan_of.items():
        row = OutboundMessage.objects.get(idempotency_key=key)
        assert (row.status, row.attempts) == expected(plan), plan
        assert DeliveryEvent.objects.filter(message=row, kind="sent").count() == (row.status == "delivered")


@pytest.fixture
def settings_fixture(settings):
    return settings

"""Delivery to a real HTTP receiver on loopback: headers, retries with the same id, backoff,
giving up, disabling with an e-mail, order per customer, the in-flight bound, a stopped worker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from standardwebhooks import Webhook

from relance.events.services import emit
from relance.webhooks import delivery
from relance.webhooks.delivery import backoff, deliveries_recover, webhook_pass
from relance.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from relance.webhooks.services import endpoint_create, replay, secret_rotate

pytestmark = pytest.mark.usefixtures("allow_private")


def make_due() -> None:
    """Every pending delivery due now (instead of waiting for its backoff)."""
    WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).update(next_attempt_at=timezone.now())


def paid(entity, customer, ref="F1"):
    return emit(
        "invoice.paid",
        {"invoice": ref, "amount": "10.00", "currency": "EUR", "paid_on": "2026-12-01"},
        entity=entity,
        customer=customer,
    )


def test_an_event_is_delivered_signed_with_the_standard_headers(entity, make_customer, receiver):
    endpoint = endpoint_create(url=receiver.url, event_types=["invoice.paid"])
    customer = make_customer("C1")
    event = paid(entity, customer)
    # No endpoint wants this type: not even written.
    assert emit("promise.created", {"promise_id": 1}, entity=entity, customer=customer) is None

    report = webhook_pass(worker_id="w1")

    assert (report.dispatched, report.claimed, report.delivered) == (1, 1, 1)
    [request] = receiver.received
    assert request.id == event.uid
    body = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert body["type"] == "invoice.paid" and body["id"] == event.uid and body["entity"] == "acme"
    assert body["data"]["invoice"] == "F1" and body["data"]["customer"]["external_ref"] == "C1"
    assert "timestamp" in body and body["version"] == 1
    row = WebhookDelivery.objects.get()
    assert (row.status, row.attempts, row.last_status_code) == (DeliveryStatus.DELIVERED, 1, 204)
    [log] = WebhookAttempt.objects.all()
    assert log.status_code == 204 and log.latency_ms is not None and log.worker == "w1"


def test_a_failing_endpoint_is_retried_with_the_same_id_and_growing_backoff(entity, make_customer, receiver):
    answers = iter([500, 503, 200])
    receiver.answer = lambda request: next(answers)
    endpoint_create(url=receiver.url)
    event = paid(entity, make_customer("C1"))

    webhook_pass(worker_id="w1")
    row = WebhookDelivery.objects.get()
    first_wait = row.next_attempt_at - timezone.now()
    assert row.status == DeliveryStatus.PENDING and row.last_status_code == 500
    assert webhook_pass(worker_id="w1").claimed == 0  # not due yet
    make_due()
    webhook_pass(worker_id="w1")
    row.refresh_from_db()
    assert row.next_attempt_at - timezone.now() > first_wait
    make_due()
    webhook_pass(worker_id="w1")
    row.refresh_from_db()
    assert row.status == DeliveryStatus.DELIVERED and row.attempts == 3
    assert [r.id for r in receiver.received] == [event.uid] * 3
    assert [a.status_code for a in WebhookAttempt.objects.order_by("id")] == [500, 503, 200]
    assert "HTTP 500" in WebhookAttempt.objects.order_by("id")[0].error


def test_backoff_doubles_and_is_capped():
    import random

    rng = random.Random(1)
    waits = [backoff(n, rng=rng).total_seconds() for n in range(1, 8)]
    assert all(later > earlier for earlier, later in zip(waits, waits[1:], strict=False))
    assert backoff(40).total_seconds() == 6 * 3600


def test_after_the_retry_window_it_gives_up_and_the_endpoint_is_disabled_with_an_email(
    entity, make_customer, receiver, settings, django_user_model
):
    from relance.accounts.services import user_role_set

    admin = django_user_model.objects.create_user("boss", email="boss@acme.example", password="x")
    user_role_set(user=admin, role="admin")
    settings.RELANCE_WEBHOOK_DISABLE_AFTER_FAILURES = 2
    receiver.answer = lambda request: 500
    endpoint = endpoint_create(url=receiver.url, description="ERP")
    customer = make_customer("C1")
    paid(entity, customer, "F1")
    paid(entity, make_customer("C2"), "F2")

    webhook_pass(worker_id="w1")  # two failures, within the window
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.consecutive_failures == 2 and not mail.outbox

    settings.RELANCE_WEBHOOK_RETRY_HOURS = 0  # the window is over
    make_due()
    report = webhook_pass(worker_id="w1")
    endpoint.refresh_from_db()
    assert report.failed == 2 and report.endpoints_disabled == 1
    assert not endpoint.active and "every delivery failed" in endpoint.disabled_reason
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.FAILED}
    [alert] = mail.outbox
    assert alert.to == ["boss@acme.example"] and receiver.url in alert.subject and "HTTP 500" in alert.body


def test_one_customers_events_arrive_in_order(entity, make_customer, receiver):
    failing = {"first": True}

    def answer(request):
        if request.json["data"]["invoice"] == "A1" and failing["first"]:
            failing["first"] = False
            return 500
        return 200

    receiver.answer = answer
    endpoint_create(url=receiver.url)
    a, b = make_customer("A"), make_customer("B")
    paid(entity, a, "A1")
    paid(entity, a, "A2")
    paid(entity, b, "B1")

    def arrived() -> list[str]:
        return [r.json["data"]["invoice"] for r in receiver.received]

    webhook_pass(worker_id="w1")  # A1 fails: A2 waits behind it, B1 goes
    # A1 and B1 are sent at once (two customers' streams): either may arrive first.
    assert sorted(arrived()) == ["A1", "B1"]
    make_due()
    webhook_pass(worker_id="w1")
    assert arrived()[2:] == ["A1", "A2"]  # A's stream in order, A2 only after A1 succeeded


def test_at_most_max_in_flight_per_endpoint(entity, make_customer, receiver):
    endpoint_create(url=receiver.url, max_in_flight=2)
    for number in range(5):
        paid(entity, make_customer(f"C{number}"))
    delivery.events_dispatch()
    first = delivery._claim_batch(worker_id="w1", now=timezone.now(), size=16)
    second = delivery._claim_batch(worker_id="w2", now=timezone.now(), size=16)
    assert len(first) == 2 and second == []


def test_a_worker_stopped_mid_delivery_sends_again_with_the_same_id(entity, make_customer, receiver):
    endpoint_create(url=receiver.url)
    event = paid(entity, make_customer("C1"))
    delivery.events_dispatch()
    [claimed] = delivery._claim_batch(worker_id="w1", now=timezone.now(), size=16)
    receiver.answer = lambda request: 200
    # w1 dies here (the request may have reached the receiver). Restarted, it recovers its rows.
    assert deliveries_recover(worker_id="w1") == 1
    report = webhook_pass(worker_id="w1")
    assert report.delivered == 1
    assert [r.id for r in receiver.received] == [event.uid]
    errors = list(WebhookAttempt.objects.order_by("id").values_list("error", flat=True))
    assert errors[0].startswith("interrupted") and errors[1] == ""


def test_a_redirect_is_a_failure_not_followed(entity, make_customer, receiver):
    receiver.answer = lambda request: 302
    endpoint_create(url=receiver.url)
    paid(entity, make_customer("C1"))
    webhook_pass(worker_id="w1")
    assert len(receiver.received) == 1
    assert "redirects are not followed" in WebhookDelivery.objects.get().last_error


def test_private_addresses_are_refused_again_at_send_time(entity, make_customer, receiver, settings):
    endpoint_create(url=receiver.url)  # allowed when saved
    settings.RELANCE_WEBHOOK_ALLOW_PRIVATE = False
    paid(entity, make_customer("C1"))
    webhook_pass(worker_id="w1")
    assert receiver.received == []
    assert "loopback" in WebhookDelivery.objects.get().last_error


def test_a_rotated_secret_signs_beside_the_old_one_until_the_overlap_ends(entity, make_customer, receiver):
    endpoint = endpoint_create(url=receiver.url)
    old = endpoint.secret
    new = secret_rotate(endpoint=endpoint, overlap=timedelta(hours=1))
    paid(entity, make_customer("C1"), "F1")
    webhook_pass(worker_id="w1")
    Webhook(old).verify(receiver.received[0].body, receiver.received[0].headers)
    Webhook(new).verify(receiver.received[0].body, receiver.received[0].headers)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(previous_secret_until=timezone.now())
    paid(entity, make_customer("C2"), "F2")
    webhook_pass(worker_id="w1")
    assert len(receiver.received[1].headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(receiver.received[1].body, receiver.received[1].headers)


def test_replay_of_one_event_and_of_a_time_range(entity, make_customer, receiver):
    endpoint = endpoint_create(url=receiver.url)
    first = paid(entity, make_customer("C1"), "F1")
    paid(entity, make_customer("C2"), "F2")
    webhook_pass(worker_id="w1")
    assert replay(event_uid=first.uid) == 1
    webhook_pass(worker_id="w1")
    assert [r.id for r in receiver.received][-1] == first.uid
    assert replay(endpoint=endpoint, since=timezone.now() - timedelta(hours=1)) == 2
    webhook_pass(worker_id="w1")
    assert len(receiver.received) == 5


def test_an_endpoint_of_another_entity_gets_nothing(entity, make_customer, receiver):
    from relance.ledger.services import entity_create_or_update

    other, _ = entity_create_or_update(name="beta", currency="EUR", language="en", legal_name="Beta")
    endpoint_create(url=receiver.url, entity=other)
    paid(entity, make_customer("C1"))
    assert webhook_pass(worker_id="w1").claimed == 0
    assert receiver.received == []

"""emit: one row per event, in the caller's transaction (a rolled-back change emits nothing)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction

from relance.events.models import Event
from relance.events.services import UnknownEventType, emit


@pytest.fixture
def listening(db, allow_private):
    """An endpoint for every type of every entity: events are written (none are without one)."""
    from relance.webhooks.services import endpoint_create

    return endpoint_create(url="http://127.0.0.1:9/hooks")


def test_nothing_is_written_while_no_endpoint_wants_the_type(entity, make_customer, allow_private):
    from relance.webhooks.services import endpoint_create

    customer = make_customer("C1")
    assert emit("invoice.paid", {"invoice": "F1"}, entity=entity, customer=customer) is None
    endpoint_create(url="http://127.0.0.1:9/hooks", event_types=["promise.created"])
    assert emit("invoice.paid", {"invoice": "F1"}, entity=entity, customer=customer) is None
    assert emit("promise.created", {"promise_id": 1}, entity=entity, customer=customer) is not None
    assert Event.objects.count() == 1


def test_an_event_carries_its_customer_and_plain_json(entity, make_customer, listening):
    customer = make_customer("C1")
    event = emit(
        "payment.received", {"amount": Decimal("12.50"), "currency": "EUR"}, entity=entity, customer=customer
    )
    event.refresh_from_db()
    assert event.uid.startswith("msg_") and len(event.uid) == 36
    assert event.ordering_key == f"customer:{customer.pk}"
    assert event.data == {
        "customer": {"id": customer.pk, "external_ref": "C1", "name": "Customer C1"},
        "amount": "12.50",
        "currency": "EUR",
    }
    assert event.version == 1
    assert not event.dispatched


def test_a_rolled_back_change_emits_nothing(entity, make_customer, listening):
    customer = make_customer("C1")

    class Boom(Exception):
        pass

    def change_then_fail() -> None:
        with transaction.atomic():
            customer.name = "renamed"
            customer.save()
            emit(
                "customer.opted_out",
                {"contact_id": 1, "channel": "email", "source": "link"},
                entity=entity,
                customer=customer,
            )
            assert Event.objects.count() == 1  # written in the transaction…
            raise Boom

    with pytest.raises(Boom):
        change_then_fail()
    assert not Event.objects.exists()  # …and gone with it
    customer.refresh_from_db()
    assert customer.name == "Customer C1"


def test_an_unknown_type_is_refused_with_the_known_ones(entity):
    with pytest.raises(UnknownEventType, match="invoice.payed.*invoice.paid"):
        emit("invoice.payed", {}, entity=entity)

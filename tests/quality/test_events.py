"""Data quality's integration events (issue 19 item 4, issue 18): a merge and its undo, an
address that changes status (bounced, returned), a "find a new contact" task — each written by
``relance.events.emit`` in the transaction of the change: a rolled-back change writes none."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import transaction

from relance.core.actors import Actor
from relance.events.models import Event
from relance.ledger.models import Contact, Customer

TODAY = date(2026, 3, 2)


@pytest.fixture(autouse=True)
def listening(entity):
    """An endpoint that wants every type (``emit`` writes nothing while nobody listens)."""
    from relance.webhooks.models import WebhookEndpoint

    return WebhookEndpoint.objects.create(
        entity=entity, url="https://erp.example.com/h", secret="whsec_" + "A" * 32
    )


def _events(kind: str) -> list[Event]:
    return list(Event.objects.filter(type=kind).order_by("id"))


def test_a_merge_and_its_undo_are_events_of_the_customers(entity, make_customer):
    from relance.quality.merge import customer_merge, customer_merge_undo

    survivor, merged = make_customer("C1", name="Acme SA"), make_customer("C2", name="ACME")
    Contact.objects.create(customer=merged, email="ap@acme.fr")
    merged_id = merged.pk
    outcome = customer_merge(survivor=survivor, merged=merged)
    [event] = _events("customer.merged")
    assert event.customer_id == survivor.pk and event.ordering_key == f"customer:{survivor.pk}"
    assert event.data == {
        "customer": {"id": survivor.pk, "external_ref": "C1", "name": "Acme SA"},
        "merge_id": outcome.merge.pk,
        "merged_id": merged_id,
        "merged_ref": "C2",
        "moved": outcome.moved,
    }

    customer_merge_undo(merge=outcome.merge)
    [undone] = _events("customer.merge_undone")
    assert undone.customer_id == merged_id
    assert undone.data["customer"]["external_ref"] == "C2"
    assert (undone.data["merge_id"], undone.data["survivor_ref"]) == (outcome.merge.pk, "C1")


def test_a_rolled_back_merge_writes_no_event(entity, make_customer):
    from relance.quality.merge import customer_merge
    from relance.quality.models import CustomerMerge

    survivor, merged = make_customer("C1"), make_customer("C2")
    with transaction.atomic():
        customer_merge(survivor=survivor, merged=merged)
        assert len(_events("customer.merged")) == 1  # written inside the transaction…
        transaction.set_rollback(True)
    assert _events("customer.merged") == []  # …and gone with it
    assert not CustomerMerge.objects.exists() and Customer.objects.filter(pk=merged.pk).exists()


def test_a_returned_letter_is_a_status_change_event_once(entity, make_customer):
    from relance.cases.contact_returns import contact_mark_returned

    customer = make_customer("C1")
    contact = Contact.objects.create(
        customer=customer, external_ref="CT-1", postal_address="1 rue X\n75002 Paris"
    )
    actor = Actor.cli("test")
    assert contact_mark_returned(contact=contact, actor=actor, on=TODAY, reason="moved away")
    [event] = _events("contact.status_changed")
    assert event.customer_id == customer.pk
    data = event.data
    assert (data["contact_id"], data["contact_ref"], data["channel"]) == (contact.pk, "CT-1", "letter")
    assert (data["status"], data["previous_status"]) == ("returned", "unknown")
    assert "moved away" in data["reason"]
    # Marked again: nothing changes, no second event.
    assert not contact_mark_returned(contact=contact, actor=actor, on=TODAY, reason="moved away")
    assert len(_events("contact.status_changed")) == 1


def test_a_hard_bounce_is_a_status_change_event(entity, make_customer):
    from relance.ledger.services import contact_status_set

    contact = Contact.objects.create(customer=make_customer("C1"), email="ap@acme.fr")
    contact_status_set(contact=contact, channel="email", status="bounced", reason="550 no such user")
    [event] = _events("contact.status_changed")
    assert (event.data["channel"], event.data["status"]) == ("email", "bounced")


def test_a_rolled_back_status_change_writes_no_event(entity, make_customer):
    from relance.cases.contact_returns import contact_mark_returned

    contact = Contact.objects.create(customer=make_customer("C1"), postal_address="1 rue X\n75002 Paris")
    with transaction.atomic():
        contact_mark_returned(contact=contact, actor=Actor.cli("test"), on=TODAY)
        transaction.set_rollback(True)
    assert _events("contact.status_changed") == []
    contact.refresh_from_db()
    assert contact.address_status == "unknown"


def test_a_find_a_new_contact_task_is_an_event_once(entity, make_customer):
    from relance.delivery.services import find_contact_task_open

    customer = make_customer("C1")
    task, created = find_contact_task_open(customer=customer, on=TODAY, why="no address left")
    assert created
    [event] = _events("contact.find_requested")
    assert event.customer_id == customer.pk
    assert event.data["task_id"] == task.pk and event.data["due_on"] == TODAY.isoformat()
    assert event.data["reason"] == "no address left"
    _same, created = find_contact_task_open(customer=customer, on=TODAY, why="no address left")
    assert not created and len(_events("contact.find_requested")) == 1


def test_nobody_listening_writes_nothing(entity, make_customer, listening):
    from relance.quality.merge import customer_merge

    listening.delete()
    customer_merge(survivor=make_customer("C1"), merged=make_customer("C2"))
    assert not Event.objects.exists()

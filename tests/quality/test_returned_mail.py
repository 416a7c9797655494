"""Returned mail and bounces act (issue 19): run → the address comes back → run again.

Through the real pieces: ``relance run`` decides and queues, ``relance contact returned`` (or its
CSV, or the API, or a hard bounce) marks the address, the next step's run uses the customer's next
valid channel, and when none is left the collector gets a "find a new contact" task instead.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from relance.delivery.models import CallTask, OutboundMessage
from relance.ledger.models import Contact
from tests.dunning.conftest import command, decided

pytestmark = pytest.mark.django_db

TODAY = datetime.now(UTC).date()
DUE = TODAY - timedelta(days=1)
FIRST = TODAY.isoformat()  # reminder_1: the day after the due date
SECOND = (DUE + timedelta(days=16)).isoformat()  # reminder_2, 15 days after (the cadence)


@pytest.fixture(autouse=True)
def any_hour(entity):
    from relance.compliance.selectors import caches_clear
    from relance.compliance.services import compliance_settings_update

    compliance_settings_update(entity=entity, quiet_hours_channels=[], allowed_weekdays=list(range(7)))
    caches_clear()


def channels_of(step: str) -> list[str]:
    return sorted(OutboundMessage.objects.filter(action__step_key=step).values_list("channel", flat=True))


def test_a_returned_letter_moves_the_next_run_to_the_next_valid_channel(scenario):
    customer = scenario.customer("C1", address="12 rue de la Paix\n75002 Paris")
    Contact.objects.filter(customer=customer).update(preferred_channel="letter", external_ref="CT-1")
    scenario.invoice("C1", "F1", "1000.00", due=DUE.isoformat())
    scenario.run(FIRST)
    assert channels_of("reminder_1") == ["letter"]  # the contact prefers letters

    out = command("contact", "returned", "--customer", "C1", "--reason", "moved away", "--on", FIRST)
    assert "is now marked returned" in out
    contact = Contact.objects.get(customer=customer)
    assert contact.address_status == "returned"
    assert "moved away" in contact.address_reason and FIRST in contact.address_reason

    result = scenario.run(SECOND)
    assert [row[:4] for row in decided(result)] == [("C1", "message", "reminder_2", "email")]
    assert channels_of("reminder_2") == ["email"]
    assert not CallTask.objects.exists()


def test_when_no_address_is_left_the_collector_gets_a_find_a_new_contact_task(scenario):
    customer = scenario.customer("C2", email="", address="12 rue de la Paix\n75002 Paris")
    Contact.objects.filter(customer=customer).update(phone="")
    scenario.invoice("C2", "F2", "400.00", due=DUE.isoformat())
    scenario.run(FIRST)
    assert channels_of("reminder_1") == ["letter"]

    command("contact", "returned", "--customer", "C2", "--on", FIRST)
    scenario.run(SECOND)
    assert channels_of("reminder_2") == []  # nothing sent into the void
    task = CallTask.objects.get(customer=customer)
    assert task.status == "open" and task.script.startswith("Find a new contact")
    assert "no_channel" not in task.script and "none of email, letter available" in task.script

    # A later run does not pile up tasks: the open one stands.
    scenario.run((DUE + timedelta(days=32)).isoformat())
    assert CallTask.objects.filter(customer=customer).count() == 1


def test_a_hard_bounce_marks_the_email_bounced_and_the_next_run_writes_a_letter(scenario):
    from relance.delivery.services import message_mark_bounced

    customer = scenario.customer("C3", address="12 rue de la Paix\n75002 Paris")
    scenario.invoice("C3", "F3", "250.00", due=DUE.isoformat())
    scenario.run(FIRST, "--no-queue")
    from relance.delivery.services import outbox_enqueue_run
    from relance.dunning.models import DunningRun

    outbox_enqueue_run(run=DunningRun.objects.get())
    message = OutboundMessage.objects.get(channel="email")
    message_mark_bounced(message=message, hard=True, reason="550 5.1.1 user unknown")
    contact = Contact.objects.get(customer=customer)
    assert contact.email_status == "bounced" and "550 5.1.1" in contact.email_reason

    scenario.run(SECOND)
    assert channels_of("reminder_2") == ["letter"]


def test_the_print_providers_csv_marks_every_returned_letter_or_nothing(scenario, tmp_path, entity):
    from django.core.management.base import CommandError

    first = scenario.customer("C4", address="1 rue A\n75001 Paris")
    second = scenario.customer("C5", address="2 rue B\n75002 Paris")
    good = tmp_path / "returns.csv"
    good.write_text("customer_ref,returned_on,reason\nC4,2026-11-30,unknown at this address\nC5,,moved\n")
    out = command("contact", "returned", "--csv", str(good))
    assert "2 returned letter(s) read: 2 address(es) marked returned" in out
    assert Contact.objects.get(customer=first).address_status == "returned"
    assert "2026-11-30" in Contact.objects.get(customer=first).address_reason

    Contact.objects.filter(customer=second).update(address_status="valid", address_reason="")
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_ref,returned_on\nC5,\nC9,\nC5,30/11/2026\n")
    with pytest.raises(CommandError) as caught:
        command("contact", "returned", "--csv", str(bad))
    text = str(caught.value)
    assert "bad.csv, line 3, customer_ref: expected a known customer, found 'C9'" in text
    assert "line 4, returned_on: expected a date YYYY-MM-DD" in text
    assert Contact.objects.get(customer=second).address_status == "valid"  # nothing marked


def test_the_api_marks_a_returned_letter_in_the_callers_entity_only(scenario, entity, make_customer):
    from relance.accounts.services import entity_access_grant, user_role_set
    from relance.api.services import api_token_create
    from relance.ledger.services import entity_create_or_update
    from tests.api.conftest import ApiClient

    customer = scenario.customer("C6", address="1 rue A\n75001 Paris")
    Contact.objects.filter(customer=customer).update(external_ref="CT-6")
    other, _ = entity_create_or_update(name="other", currency="EUR")
    stranger = make_customer("X1", entity=other)
    Contact.objects.create(customer=stranger, external_ref="CT-X", postal_address="1 rue B\n75001 Paris")
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("alice", password="s3cret-pass")
    entity_access_grant(user=user, entity=entity)
    user_role_set(user=user, role="collector")
    _, secret = api_token_create(user=user, name="tests")
    api = ApiClient(secret)
    answer = api.post("/contacts/returned?entity=acme", {"contact_ref": "CT-6", "reason": "moved"})
    assert answer.status_code == 200, answer.content
    assert answer.json()["address_status"] == "returned" and answer.json()["changed"] is True
    assert "moved" in answer.json()["address_reason"]
    refused = api.post("/contacts/returned?entity=acme", {"contact_ref": "CT-X"})
    assert refused.status_code == 404
    assert Contact.objects.get(external_ref="CT-X").address_status == "unknown"


def test_a_returned_letter_is_matched_by_its_reference_to_the_contact_it_went_to(scenario, entity):
    """Two contacts with a postal address: the letter's reference (its Message-ID, or the print
    provider's id) names the one the letter went to; that letter and that contact are marked."""
    from django.contrib.auth import get_user_model

    from relance.accounts.services import entity_access_grant, user_role_set
    from relance.api.services import api_token_create
    from relance.delivery.models import MessageStatus
    from relance.ledger.services import entity_create_or_update
    from tests.api.conftest import ApiClient

    customer = scenario.customer("C7", address="12 rue de la Paix\n75002 Paris")
    Contact.objects.filter(customer=customer).update(
        preferred_channel="letter", external_ref="CT-7", role="billing"
    )
    other_contact = Contact.objects.create(
        customer=customer, external_ref="CT-7B", role="primary", postal_address="3 quai C\n13002 Marseille"
    )
    scenario.invoice("C7", "F7", "1000.00", due=DUE.isoformat())
    scenario.run(FIRST)
    letter = OutboundMessage.objects.get(channel="letter")
    assert letter.contact.external_ref == "CT-7"
    OutboundMessage.objects.filter(pk=letter.pk).update(provider_message_id="ltr_4f2a")

    user = get_user_model().objects.create_user("alice", password="s3cret-pass")
    entity_access_grant(user=user, entity=entity)
    user_role_set(user=user, role="collector")
    api = ApiClient(api_token_create(user=user, name="tests")[1])
    ambiguous = api.post("/contacts/returned?entity=acme", {"customer_ref": "C7"})
    assert ambiguous.status_code >= 400 and b"CT-7B" in ambiguous.content  # which one? the error names them

    answer = api.post(
        "/contacts/returned?entity=acme",
        {"reference": letter.message_id, "reason": "unknown at this address"},
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["contact_ref"] == "CT-7" and answer.json()["address_status"] == "returned"
    letter.refresh_from_db()
    assert letter.status == MessageStatus.BOUNCED and letter.events.filter(kind="bounced").count() == 1
    other_contact.refresh_from_db()
    assert other_contact.address_status == "unknown"  # not the one the letter went to
    # the print provider's id finds the same letter; marking it again changes nothing
    again = api.post(
        "/contacts/returned?entity=acme", {"reference": "ltr_4f2a", "reason": "unknown at this address"}
    )
    assert again.status_code == 200 and again.json()["changed"] is False
    assert letter.events.filter(kind="bounced").count() == 1

    # a reference of no letter of the caller's entity is a 404
    other, _ = entity_create_or_update(name="other", currency="EUR")
    OutboundMessage.objects.filter(pk=letter.pk).update(entity=other)
    assert api.post("/contacts/returned?entity=acme", {"reference": "ltr_4f2a"}).status_code == 404

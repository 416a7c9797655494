"""A new billing contact proposed in the portal's "Your details" (issue 19): checked by the contact
checks, reviewed in the back office like every change, and, once accepted, the next run's recipient."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from relance.delivery.models import OutboundMessage
from relance.ledger.models import Contact
from relance.portal.models import ContactProposal, PortalEvent, PortalSettings
from tests.dunning.conftest import decided

pytestmark = pytest.mark.django_db

TODAY = datetime.now(UTC).date()
DUE = TODAY - timedelta(days=1)
FIRST = TODAY.isoformat()
SECOND = (DUE + timedelta(days=16)).isoformat()


@pytest.fixture(autouse=True)
def any_hour(entity):
    from relance.compliance.selectors import caches_clear
    from relance.compliance.services import compliance_settings_update

    compliance_settings_update(entity=entity, quiet_hours_channels=[], allowed_weekdays=list(range(7)))
    caches_clear()


def portal_url(customer, name="details_new"):
    from relance.portal.links import link_create, token_for

    return reverse(f"portal:{name}", args=[token_for(link_create(customer=customer, days=30))])


def test_an_accepted_new_contact_is_the_next_runs_recipient(scenario, client, admin_client, today):
    customer = scenario.customer("C4", country="FR")
    Contact.objects.filter(customer=customer).delete()
    scenario.invoice("C4", "F4", "400.00", due=DUE.isoformat())
    scenario.run(FIRST)
    assert not OutboundMessage.objects.filter(channel="email").exists()  # nobody to write to

    answer = client.post(
        portal_url(customer),
        {
            "customer": customer.pk,
            "name": " Paula  Payables ",
            "email": "ap@c4-client.fr",
            "phone": "06 12 34 56 78",
        },
    )
    assert answer.status_code == 302 and "done=proposed" in answer["Location"]
    proposal = ContactProposal.objects.get(customer=customer)
    assert proposal.status == "pending" and proposal.contact is None
    assert proposal.changes == {
        "name": ["", "Paula Payables"],
        "email": ["", "ap@c4-client.fr"],
        "phone": ["", "+33612345678"],  # the contact check's international form
    }
    assert not Contact.objects.filter(customer=customer).exists()  # nothing until a collector accepts
    assert PortalEvent.objects.filter(customer=customer, action="contact_proposed").exists()

    listing = admin_client.get("/portal/back/contact-changes/")
    assert b"New billing contact" in listing.content and b"Paula Payables" in listing.content
    admin_client.post(f"/portal/back/contact-changes/{proposal.pk}/decide/", {"decision": "accept"})
    proposal.refresh_from_db()
    contact = Contact.objects.get(customer=customer)
    assert proposal.status == "accepted" and proposal.contact == contact
    assert (contact.name, contact.email, contact.role, contact.email_status) == (
        "Paula Payables",
        "ap@c4-client.fr",
        "billing",
        "unknown",  # the next check decides
    )

    result = scenario.run(SECOND)
    assert ("C4", "message", "reminder_2", "email") in [row[:4] for row in decided(result)]
    sent = OutboundMessage.objects.get(channel="email", action__step_key="reminder_2")
    assert sent.recipient == "ap@c4-client.fr" and sent.contact_id == contact.pk


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"name": "X", "email": "noreply@client.fr"}, b"no-reply mailbox"),
        ({"name": "X", "email": "not an address"}, b"is not an e-mail address"),
        ({"name": "X", "phone": "+3361234"}, b"This phone number cannot be used"),
        ({"name": "", "email": "ap@client.fr"}, b"the contact&#x27;s name"),
        ({"name": "X"}, b"an e-mail address or a phone number"),
    ],
)
def test_an_address_the_checks_refuse_is_said_and_nothing_is_proposed(client, ledger, values, words):
    answer = client.post(portal_url(ledger["parent"]), values)
    assert answer.status_code == 400 and words in answer.content
    assert not ContactProposal.objects.exists()


def test_another_customers_id_is_a_404_and_nothing_is_proposed(client, ledger):
    answer = client.post(
        portal_url(ledger["parent"]),
        {"customer": ledger["stranger"].pk, "name": "Mallory", "email": "m@evil.example"},
    )
    assert answer.status_code == 404
    assert not ContactProposal.objects.exists()
    assert Contact.objects.filter(customer=ledger["stranger"]).count() == 1


def test_a_rejected_new_contact_makes_nothing(client, ledger, admin_client):
    client.post(portal_url(ledger["parent"]), {"name": "Zoe", "email": "zoe@parent-co.fr"})
    proposal = ContactProposal.objects.get()
    admin_client.post(f"/portal/back/contact-changes/{proposal.pk}/decide/", {"decision": "reject"})
    proposal.refresh_from_db()
    assert proposal.status == "rejected" and proposal.contact is None
    assert not Contact.objects.filter(email="zoe@parent-co.fr").exists()


def test_added_at_once_when_the_entity_says_so(client, ledger, entity, today):
    PortalSettings.objects.create(entity=entity, contact_changes="apply")
    answer = client.post(portal_url(ledger["parent"]), {"name": "Zoe", "email": "zoe@parent-co.fr"})
    assert "done=added" in answer["Location"]
    contact = Contact.objects.get(email="zoe@parent-co.fr")
    assert contact.customer == ledger["parent"] and contact.confirmed_on == today
    assert ContactProposal.objects.get().status == "applied"


def test_the_form_needs_csrf(ledger):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post(portal_url(ledger["parent"]), {"name": "Zoe", "email": "zoe@x.fr"}).status_code == 403

"""The customer confirms or corrects their contact details in the portal (issue 19)."""

from __future__ import annotations

import pytest

from relance.ledger.models import Contact
from relance.portal.models import ContactProposal, PortalSettings

pytestmark = pytest.mark.django_db


def test_confirming_as_shown_sets_the_freshness_date(client, url, link, today):
    contact = link.contact
    page = client.get(url("details"))
    assert page.status_code == 200 and b"Your details" in page.content
    answer = client.post(url("details"), {"contact": contact.pk, "name": contact.name, "postal_address": ""})
    assert answer.status_code == 302 and "done=confirmed" in answer["Location"]
    contact.refresh_from_db()
    assert contact.confirmed_on == today
    assert not ContactProposal.objects.exists()


def test_a_change_is_a_proposal_until_a_collector_accepts_it(client, url, link, today, admin_client):
    contact = link.contact
    client.post(
        url("details"), {"contact": contact.pk, "name": "Ana Lima", "postal_address": "3 rue C\n69001 Lyon"}
    )
    contact.refresh_from_db()
    assert contact.name == "Ana" and contact.postal_address == ""  # nothing applied yet
    proposal = ContactProposal.objects.get()
    assert proposal.status == "pending" and proposal.changes["name"] == ["Ana", "Ana Lima"]

    listing = admin_client.get("/portal/back/contact-changes/")
    assert listing.status_code == 200 and b"Ana Lima" in listing.content
    decided = admin_client.post(f"/portal/back/contact-changes/{proposal.pk}/decide/", {"decision": "accept"})
    assert decided.status_code == 302
    contact.refresh_from_db()
    assert (contact.name, contact.postal_address, contact.confirmed_on) == (
        "Ana Lima",
        "3 rue C\n69001 Lyon",
        today,
    )
    assert contact.address_status == "unknown"  # a new address: the next check decides
    proposal.refresh_from_db()
    assert proposal.status == "accepted"
    again = admin_client.post(f"/portal/back/contact-changes/{proposal.pk}/decide/", {"decision": "reject"})
    assert again.status_code == 302
    proposal.refresh_from_db()
    assert proposal.status == "accepted"  # decided once


def test_a_rejected_proposal_changes_nothing(client, url, link, admin_client):
    contact = link.contact
    client.post(url("details"), {"contact": contact.pk, "name": "Someone else"})
    proposal = ContactProposal.objects.get()
    admin_client.post(f"/portal/back/contact-changes/{proposal.pk}/decide/", {"decision": "reject"})
    contact.refresh_from_db()
    assert contact.name == "Ana" and contact.confirmed_on is None


def test_changes_apply_at_once_when_the_entity_says_so(client, url, link, today, entity):
    PortalSettings.objects.create(entity=entity, contact_changes="apply")
    contact = link.contact
    answer = client.post(
        url("details"), {"contact": contact.pk, "name": "Ana", "postal_address": "3 rue C\n69001 Lyon"}
    )
    assert "done=applied" in answer["Location"]
    contact.refresh_from_db()
    assert contact.postal_address == "3 rue C\n69001 Lyon" and contact.confirmed_on == today
    assert ContactProposal.objects.get().status == "applied"


def test_another_customers_contact_is_a_404_and_nothing_changes(client, url, ledger):
    theirs = Contact.objects.get(customer=ledger["stranger"])
    answer = client.post(url("details"), {"contact": theirs.pk, "name": "Hijacked"})
    assert answer.status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Sam" and theirs.confirmed_on is None
    assert not ContactProposal.objects.exists()
    assert client.post(url("details"), {"contact": "abc"}).status_code == 404


def test_the_page_needs_csrf_like_every_portal_form(url, link):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    answer = strict.post(url("details"), {"contact": link.contact.pk, "name": "X"})
    assert answer.status_code == 403

"""Support's "why is this account on hold / why was a request refused" page."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from relance.core import actors
from relance.core.actors import SYSTEM
from tests.workspace.conftest import PASSWORD


@pytest.fixture
def support(ws):
    from relance.accounts.services import user_create

    return user_create(email="sue@acme.test", role="support", entity_names=["acme"], password=PASSWORD)


@pytest.fixture
def sam(ws):
    from relance.accounts.services import user_create

    sam = user_create(email="sam@acme.test", role="sales", entity_names=["acme"], password=PASSWORD)
    ws.late.sales_owner = sam
    ws.late.save(update_fields=["sales_owner"])
    return sam


def _why(client, customer):
    return client.get(reverse("workspace:customer_why", args=[customer.pk]))


def _section(response, key):
    return next(s for s in response.context["why"].sections if s.key == key)


def test_a_hold_asked_for_in_the_page_is_explained_with_reason_who_and_until(ws, sam, support, client_for):
    response = client_for(sam).post(
        reverse("workspace:customer_hold", args=[ws.late.pk]), {"reason": "Meeting their CFO", "days": "10"}
    )
    assert response.status_code == 302
    page = _why(client_for(support), ws.late)
    assert page.status_code == 200
    (fact,) = _section(page, "holds").facts
    assert fact.title == "Hold (no dunning): Sales owner: Meeting their CFO"
    assert fact.who.startswith("sam@acme.test, on ")
    assert (fact.since, fact.until) == (ws.today, ws.today + timedelta(days=10))
    html = page.content.decode()
    assert "Dunning of this account is paused" in html
    assert f"until {ws.today + timedelta(days=10):%Y-%m-%d} inclusive" in html
    assert "by sam@acme.test" in html


def test_the_why_page_is_scoped_and_read_only(ws, sam, support, client_for):
    assert _why(client_for(sam), ws.second).status_code == 404  # a sales owner: not their account
    assert _why(client_for(ws.globex_manager), ws.late).status_code == 404  # another entity
    for user in (sam, support, ws.ana, ws.manager, ws.auditor):
        assert _why(client_for(user), ws.late).status_code == 200
    assert (
        client_for(ws.manager).post(reverse("workspace:customer_why", args=[ws.late.pk])).status_code == 405
    )
    # the 360 page links to it
    html = client_for(support).get(reverse("workspace:customer", args=[ws.late.pk])).content.decode()
    assert reverse("workspace:customer_why", args=[ws.late.pk]) in html


def test_nothing_to_explain(ws, support, client_for):
    page = _why(client_for(support), ws.other)
    assert not page.context["why"].paused
    assert "Nothing pauses the dunning of this account" in page.content.decode()
    assert not _section(page, "holds").facts and not _section(page, "refused").facts


def test_disputes_promises_credit_hold_opt_outs_and_blocked_messages(ws, support, client_for):
    from relance.cases.services import credit_hold_place, dispute_open, promise_add
    from relance.compliance.services import contact_preference_set
    from relance.delivery.models import OutboundMessage

    invoice = ws.late.invoices.get(external_ref="INV-L1")
    dispute_open(
        actor=actors.Actor.user(ws.ana),
        invoice=invoice,
        reason_code="quantity",
        on=ws.today,
        amount=Decimal("200"),
    )
    promise_add(
        actor=actors.Actor.user(ws.ana),
        customer=ws.late,
        promised_date=ws.today + timedelta(days=5),
        on=ws.today,
    )
    credit_hold_place(actor=SYSTEM, customer=ws.late, on=ws.today, reason="over limit")
    contact = ws.late.contacts.get()
    contact_preference_set(
        contact=contact, channel="sms", opted_out=True, source="sms_stop", detail="STOP from +33612345678"
    )
    now = timezone.now()
    OutboundMessage.objects.create(
        idempotency_key="why-1",
        message_id="<why-1@test>",
        entity=ws.acme,
        customer=ws.late,
        channel="email",
        template_key="overdue_firm",
        language="en",
        recipient="ap@c-late.test",
        status="blocked",
        last_error="hold: Hold (no dunning): legal review",
        next_attempt_at=now,
        queued_at=now,
    )
    page = _why(client_for(support), ws.late)
    (dispute,) = _section(page, "disputes").facts
    assert "INV-L1: €200.00 disputed (Quantity)" in dispute.title
    assert "rest (€4,000.00) is still chased" in dispute.effect and dispute.who == "ana@acme.test"
    (promise,) = _section(page, "promises").facts
    assert promise.until == ws.today + timedelta(days=5 + 3)  # the standard policy's grace: 3 days
    (credit,) = _section(page, "credit_hold").facts
    assert credit.title == "Credit hold: over limit" and "does not stop reminders" in credit.effect
    opt_out = next(f for f in _section(page, "contacts").facts if f.kind == "opt_out")
    assert opt_out.title.endswith("opted out of sms") and opt_out.who.startswith("SMS keyword")
    assert opt_out.detail == "STOP from +33612345678"
    (blocked,) = _section(page, "blocked").facts
    assert blocked.effect == "hold: Hold (no dunning): legal review"
    sms_now = [f for f in _section(page, "compliance").facts if "by SMS" in f.title]
    assert sms_now and "opt" in sms_now[0].effect.lower()


def test_what_the_latest_run_held_back(ws, sam, support, client_for):
    from relance.dunning.services import run_start

    client_for(sam).post(
        reverse("workspace:customer_hold", args=[ws.late.pk]), {"reason": "On it", "days": "5"}
    )
    run_start(entity=ws.acme, as_of=ws.today + timedelta(days=1))
    page = _why(client_for(support), ws.late)
    facts = _section(page, "suppressed").facts
    assert facts and all(f.title.startswith("hold: the customer is on hold") for f in facts)
    assert page.context["why"].run_as_of == ws.today + timedelta(days=1)
    assert not _section(_why(client_for(support), ws.second), "suppressed").facts


def test_portal_refusals_are_recorded_and_explained(ws, support, client_for):
    from relance.portal.links import link_create
    from relance.portal.services import Actor, PortalRefused, plan_ask, plan_request_decide, promise_make

    link = link_create(customer=ws.late, contact=ws.late.contacts.get(), days=30)
    actor = Actor(link=link, ip="203.0.113.9")
    with pytest.raises(PortalRefused):
        promise_make(actor=actor, on=ws.today, promised_date=ws.today + timedelta(days=400))
    outcome = plan_ask(actor=actor, on=ws.today, installments=12, first_due=ws.today + timedelta(days=7))
    assert outcome.request is not None
    page = _why(client_for(support), ws.late)
    (waiting,) = _section(page, "waiting").facts
    assert "12 installments" in waiting.title and "more than 6 installments" in waiting.effect
    plan_request_decide(
        actor=actors.Actor.user(ws.manager),
        request=outcome.request,
        approve=False,
        on=ws.today,
        note="Too long",
    )
    page = _why(client_for(support), ws.late)
    refused = _section(page, "refused").facts
    kinds = {fact.kind: fact for fact in refused}
    assert set(kinds) == {"plan_request", "portal_refused"}
    assert kinds["plan_request"].who == "cm@acme.test" and "Too long" in kinds["plan_request"].effect
    assert "promised date must be between" in kinds["portal_refused"].effect
    assert kinds["portal_refused"].title == "The portal refused a promise"
    assert not _section(page, "waiting").facts

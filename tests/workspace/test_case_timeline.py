"""The case timeline: every kind of actor is recorded with what it did, the customer page shows
them (one query on ``CaseEvent``), and the portal's history shows a customer only their own,
never internal notes."""

from __future__ import annotations

import getpass
from datetime import timedelta
from decimal import Decimal

from django.core.management import call_command
from django.urls import reverse

from relance.audit.models import CaseEvent
from relance.core.actors import Actor, ActorKind


def _events(customer, kind: str):
    return list(CaseEvent.objects.filter(customer=customer, kind=kind).order_by("id"))


def test_a_cli_hold_is_recorded_as_done_by_the_operating_system_user(ws):
    call_command("hold", "add", "--entity", "acme", "--customer", "C-LATE", "--reason", "lawyer asked")
    call_command("hold", "remove", "--entity", "acme", "--customer", "C-LATE")
    added, lifted = _events(ws.late, "hold_added")[0], _events(ws.late, "hold_lifted")[0]
    assert added.actor_kind == lifted.actor_kind == ActorKind.CLI
    assert added.actor_label == f"cli:{getpass.getuser()}"
    assert added.actor_user_id is None and added.subject_type == "hold" and added.subject_id
    assert added.data["detail"] == "lawyer asked"


def test_a_portal_promise_is_the_customer_s_through_the_link(ws):
    from relance.portal.links import link_create
    from relance.portal.services import Actor as Visitor
    from relance.portal.services import promise_make

    link = link_create(customer=ws.late, contact=ws.late.contacts.get())
    promise_make(actor=Visitor(link=link), on=ws.today, promised_date=ws.today + timedelta(days=5))
    made = _events(ws.late, "promise_made")
    assert len(made) == 1  # the portal's own event does not add a second "portal: promise made"
    assert (made[0].actor_kind, made[0].actor_link_id, made[0].actor_label) == (
        ActorKind.PORTAL,
        link.pk,
        f"portal link {link.pk}",
    )
    assert not CaseEvent.objects.filter(customer=ws.late, kind="portal_promise_made").exists()


def test_a_page_action_is_the_signed_in_user_s(ws, client_for):
    response = client_for(ws.ana).post(
        reverse("workspace:customer_note", args=[ws.late.pk]), {"text": "rang AP"}
    )
    assert response.status_code in (200, 302)
    note = _events(ws.late, "note_added")[0]
    assert (note.actor_kind, note.actor_user_id, note.actor_label) == (
        ActorKind.USER,
        ws.ana.pk,
        "ana@acme.test",
    )
    assert note.data["detail"] == "rang AP"


def test_an_api_token_is_recorded_as_the_token_of_its_user(ws):
    from relance.api.models import ApiToken
    from relance.api.services import api_token_create
    from relance.cases.services import contact_log

    api_token_create(user=ws.ana, name="erp")
    token = ApiToken.objects.get(user=ws.ana)
    contact_log(customer=ws.late, on=ws.today, channel="email", note="from the ERP", actor=Actor.api(token))
    logged = _events(ws.late, "contact_logged")[0]
    assert (logged.actor_kind, logged.actor_token_id, logged.actor_user_id) == (
        ActorKind.API,
        token.pk,
        ws.ana.pk,
    )
    assert logged.actor_label == f"token {token.prefix} of ana@acme.test"


def test_the_run_is_a_system_actor(ws):
    from relance.cases.services import promise_add
    from relance.dunning.services import promise_settle

    promise_add(
        customer=ws.late,
        promised_date=ws.today - timedelta(days=20),
        on=ws.today - timedelta(days=30),
        amount=Decimal("100"),
        actor=Actor.user(ws.ana),
    )
    promise_settle(entity=ws.acme, as_of=ws.today, policies={})
    broken = _events(ws.late, "promise_broken")[0]
    assert broken.actor_kind == ActorKind.SYSTEM and broken.actor_label == f"run {ws.today}"


def test_the_customer_page_shows_each_actor(ws, client_for):
    from relance.cases.services import contact_log, hold_create
    from relance.workspace.services import customer_note_add

    customer_note_add(customer=ws.late, text="Spoke to AP", actor=Actor.user(ws.ana))
    hold_create(
        customer=ws.late, kind="hold", reason="checking", starts_on=ws.today, actor=Actor.cli("carol")
    )
    contact_log(customer=ws.late, on=ws.today, channel="letter", actor=Actor.system("run 2026-12-01"))
    html = client_for(ws.ana).get(reverse("workspace:customer", args=[ws.late.pk])).content.decode()
    timeline = html.split("Timeline")[1]
    assert "by ana@acme.test" in timeline and "Spoke to AP" in timeline
    assert "by cli:carol" in timeline and "checking" in timeline
    assert "by run 2026-12-01" in timeline and "contact by letter" in timeline


def test_the_timeline_is_one_query_and_pages(ws, django_assert_num_queries):
    from relance.workspace.selectors import customer_timeline
    from relance.workspace.services import customer_note_add

    for number in range(5):
        customer_note_add(customer=ws.late, text=f"note {number}", actor=Actor.user(ws.ana))
    with django_assert_num_queries(1):
        first = customer_timeline(customer=ws.late, limit=3)
    assert [item.detail for item in first] == ["note 4", "note 3", "note 2"]
    rest = customer_timeline(customer=ws.late, limit=3, before=first[-1].id)
    assert [item.detail for item in rest] == ["note 1", "note 0"]


def test_the_portal_history_shows_only_the_customer_s_own_and_nothing_internal(ws, client):
    from relance.cases.services import promise_add
    from relance.portal.links import link_create
    from relance.portal.views import token_of
    from relance.workspace.services import customer_note_add

    customer_note_add(customer=ws.late, text="INTERNAL do not show", actor=Actor.user(ws.ana))
    promise_add(
        customer=ws.late,
        promised_date=ws.today + timedelta(days=9),
        on=ws.today,
        amount=Decimal("123.45"),
        note="collector's own words",
        actor=Actor.user(ws.ana),
    )
    promise_add(
        customer=ws.other,
        promised_date=ws.today + timedelta(days=4),
        on=ws.today,
        amount=Decimal("777.00"),
        actor=Actor.user(ws.bob),
    )
    other_event = _events(ws.other, "promise_made")[0]
    link = link_create(customer=ws.late, contact=ws.late.contacts.get())
    html = client.get(reverse("portal:history", args=[token_of(link)])).content.decode()
    assert "123.45" in html
    assert "777" not in html and str(other_event.customer_id) != str(ws.late.pk)
    assert "INTERNAL" not in html and "collector&#x27;s own words" not in html and "own words" not in html

    from relance.portal.selectors import portal_history

    shown = portal_history(link=link)
    assert {event.customer_id for event in shown} == {ws.late.pk}
    assert other_event.pk not in {event.pk for event in shown}
    assert "note_added" not in {event.kind for event in shown}


def test_the_portal_history_lists_the_messages_the_messages_page_lists(ws, client):
    from django.utils import timezone

    from relance.audit import case_events
    from relance.delivery.models import OutboundMessage
    from relance.portal.links import link_create
    from relance.portal.views import token_of

    def sent(key: str, subject: str, **headers):
        message = OutboundMessage.objects.create(
            entity=ws.acme,
            customer=ws.late,
            channel="email",
            template_key=key,
            language="en",
            recipient="ap@c-late.test",
            subject=subject,
            status="sent",
            sent_at=timezone.now(),
            next_attempt_at=timezone.now(),
            queued_at=timezone.now(),
            idempotency_key=key,
            message_id=f"<{key}@x>",
            headers=headers,
        )
        case_events.message_event(message, "sent", actor=Actor.system("outbox worker"))

    sent("overdue_firm", "Your overdue invoices")
    sent("portal_code", "ACME: your code 123456", one_time_secret=True)
    link = link_create(customer=ws.late, contact=ws.late.contacts.get())
    html = client.get(reverse("portal:history", args=[token_of(link)])).content.decode()
    assert "Your overdue invoices" in html
    assert "123456" not in html and "ap@c-late.test" not in html

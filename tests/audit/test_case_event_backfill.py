"""The case-timeline backfill (workspace 0005): rows made before the case timeline existed
become its events, with the actor each row knows. Runs on SQLite and, with DATABASE_URL set, on
PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("audit", "0001_initial"), ("workspace", "0004_cases_moved")]
AFTER = [("audit", "0002_case_event"), ("workspace", "0005_case_event_backfill")]


def _migrate(targets):
    """Migrate ``targets``' apps there and every other app to its latest; the state's apps."""
    executor = MigrationExecutor(connection)
    apps_moved = {app for app, _ in targets}
    nodes = [node for node in executor.loader.graph.leaf_nodes() if node[0] not in apps_moved] + targets
    executor.migrate(nodes)
    executor.loader.build_graph()
    return executor.loader.project_state(nodes).apps


@pytest.mark.django_db(transaction=True)
def test_backfill_turns_old_rows_into_case_events():
    apps = _migrate(BEFORE)
    try:
        now = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)
        entity = apps.get_model("ledger", "Entity").objects.create(name="acme", currency="EUR")
        customers = apps.get_model("ledger", "Customer").objects
        late = customers.create(entity=entity, external_ref="C1", name="Late", currency="EUR")
        other = customers.create(entity=entity, external_ref="C2", name="Other", currency="EUR")
        user = apps.get_model("auth", "User").objects.create(username="ana", email="ana@x.test")
        invoice = apps.get_model("ledger", "Invoice").objects.create(
            entity=entity,
            customer=late,
            external_ref="INV-1",
            issue_date=dt.date(2026, 10, 1),
            due_date=dt.date(2026, 10, 31),
            currency="EUR",
            amount=Decimal("500"),
        )
        cases = "cases"
        promise = apps.get_model(cases, "Promise").objects.create(
            entity=entity,
            customer=late,
            created_on=dt.date(2026, 11, 1),
            promised_date=dt.date(2026, 11, 10),
            amount=Decimal("500"),
            currency="EUR",
            status="broken",
            created_by=user,
        )
        dispute = apps.get_model(cases, "Dispute").objects.create(
            entity=entity,
            customer=late,
            invoice=invoice,
            amount=Decimal("50"),
            reason_code="pricing",
            opened_on=dt.date(2026, 11, 1),
        )
        link = apps.get_model("portal", "PortalLink").objects.create(
            customer=late, token_id="t1", expires_at=now + dt.timedelta(days=30)
        )
        apps.get_model("portal", "DisputeCase").objects.create(
            dispute=dispute, link=link, sla_due_on=dt.date(2026, 11, 11)
        )
        apps.get_model(cases, "ContactLog").objects.create(
            entity=entity, customer=late, on=dt.date(2026, 11, 1), channel="call", note="rang"
        )
        apps.get_model("workspace", "CustomerNote").objects.create(
            entity=entity, customer=late, text="internal", created_at=now, created_by=user
        )
        apps.get_model(cases, "CustomerHold").objects.create(
            entity=entity, customer=other, kind="legal", reason="lawyer", starts_on=dt.date(2026, 11, 1)
        )
        apps.get_model("delivery", "OutboundMessage").objects.create(
            entity=entity,
            customer=late,
            channel="email",
            template_key="reminder_1",
            recipient="ap@late.test",
            subject="Your invoice",
            status="sent",
            sent_at=now,
            idempotency_key="k1",
            message_id="<m1@x>",
            language="en",
            next_attempt_at=now,
            queued_at=now,
        )
        apps.get_model("portal", "PortalEvent").objects.create(
            customer=late, link=link, action="opened", at=now
        )
        apps.get_model("portal", "PortalEvent").objects.create(
            customer=late,
            link=link,
            action="promise_made",
            at=now,  # covered by the promise row
        )
        promise_id, dispute_id, link_id = promise.pk, dispute.pk, link.pk
    finally:
        _migrate(AFTER)

    from relance.audit.models import CaseEvent

    events = {(event.kind, event.customer_id): event for event in CaseEvent.objects.all()}
    late_id = customers.get(external_ref="C1").pk
    assert sorted(kind for kind, customer in events if customer == late_id) == [
        "contact_logged",
        "dispute_opened",
        "message_sent",
        "note_added",
        "portal_visit",
        "promise_broken",
        "promise_made",
    ]
    made = events[("promise_made", late_id)]
    assert (made.actor_kind, made.actor_label, made.subject_type, made.subject_id) == (
        "user",
        "ana",
        "promise",
        promise_id,
    )
    assert made.summary == "promise to pay €500.00 by 2026-11-10"
    assert events[("promise_broken", late_id)].actor_label == "run"
    opened = events[("dispute_opened", late_id)]
    assert (opened.actor_kind, opened.actor_link_id, opened.subject_id) == ("portal", link_id, dispute_id)
    assert events[("portal_visit", late_id)].entity_id == entity.pk
    assert events[("message_sent", late_id)].data["detail"] == "Your invoice"
    assert events[("note_added", late_id)].data["detail"] == "internal"
    assert events[("contact_logged", late_id)].summary == "contact by call"
    other_id = customers.get(external_ref="C2").pk
    assert events[("hold_added", other_id)].actor_kind == "system"
    assert CaseEvent.objects.filter(kind="portal_promise_made").count() == 0

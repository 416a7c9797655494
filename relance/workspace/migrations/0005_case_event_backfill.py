"""Backfill the case timeline (``audit.CaseEvent``) from the rows the customer page used to union:
messages, call tasks, contact logs, notes, promises, disputes, plans, holds, plan requests,
credit holds, hand-offs and portal events, so that the 360 keeps its history.

Batched: each source is read in chunks (``iterator``) and written with ``bulk_create``; no
model ``save``. The actor is what the row knows: its ``created_by`` user, the portal link of a
portal dispute or request, the run for what a run did; else a system actor "recorded before the
case timeline". Here (workspace, the top layer) because it reads every app's tables; the lines
are the case timeline's own (``relance.audit.case_events``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.db import migrations

BATCH = 2000
BEFORE = "recorded before the case timeline"
# Portal events whose case change another source backfills (the promise, dispute, plan, request).
COVERED_PORTAL_ACTIONS = frozenset(
    {
        "promise_made",
        "dispute_opened",
        "plan_started",
        "plan_requested",
        "dispute_resolved",
        "plan_request_approved",
        "plan_request_rejected",
    }
)


def _system(label: str = BEFORE) -> dict[str, Any]:
    return {"actor_kind": "system", "actor_label": label}


def _user(user: Any) -> dict[str, Any]:
    if user is None:
        return _system()
    return {"actor_kind": "user", "actor_user_id": user.pk, "actor_label": user.username[:200]}


def _portal(link_id: int | None) -> dict[str, Any]:
    if link_id is None:
        return {"actor_kind": "portal", "actor_label": "portal"}
    return {"actor_kind": "portal", "actor_link_id": link_id, "actor_label": f"portal link {link_id}"}


def _chunks(rows: Iterable[Any]) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= BATCH:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Writer:
    def __init__(self, apps: Any) -> None:
        from relance.audit.services import json_value

        self.model = apps.get_model("audit", "CaseEvent")
        self.pending: list[Any] = []
        self.json_value = json_value

    def add(
        self,
        row: Any,
        *,
        kind: str,
        at: Any,
        actor: dict[str, Any],
        subject_type: str,
        line: tuple[str, dict[str, Any]],
        subject_id: Any = None,
    ) -> None:
        summary, data = line
        self.pending.append(
            self.model(
                entity_id=row.entity_id,
                customer_id=row.customer_id,
                at=at,
                kind=kind,
                subject_type=subject_type,
                subject_id=row.pk if subject_id is None else subject_id,
                summary=summary[:500],
                data=self.json_value(data),
                **actor,
            )
        )
        if len(self.pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.model.objects.bulk_create(self.pending, batch_size=BATCH)
            self.pending = []


def backfill(apps: Any, schema_editor: Any) -> None:
    from relance.audit import case_events as lines

    out = _Writer(apps)
    model = apps.get_model

    # ---- messages: what went out, failed or was cancelled (queued ones have not happened yet)
    final = {"sent": "message_sent", "delivered": "message_sent", "failed": "message_failed"}
    final |= {"bounced": "message_failed", "cancelled": "message_cancelled"}
    messages = model("delivery", "OutboundMessage").objects.filter(status__in=list(final)).order_by("pk")
    for message in messages.iterator(chunk_size=BATCH):
        at = (
            message.sent_at
            if final[message.status] == "message_sent" and message.sent_at
            else message.updated_at
        )
        summary, data = lines.message_line(message)
        out.add(
            message,
            kind=final[message.status],
            at=at,
            actor=_system("outbox worker"),
            subject_type="message",
            line=(summary, data),
        )

    # ---- call tasks: done ones with their outcome, the others as scheduled
    tasks = model("delivery", "CallTask").objects.select_related("assigned_to").order_by("pk")
    for task in tasks.iterator(chunk_size=BATCH):
        by_hand = task.message_id is None and task.assigned_to is not None
        done = task.completed_at is not None
        out.add(
            task,
            kind="call_outcome" if done else "call_task",
            at=task.completed_at if done else task.created_at,
            actor=_user(task.assigned_to) if by_hand or done and task.assigned_to else _system("run"),
            subject_type="call_task",
            line=lines.call_task_line(task),
        )

    # ---- contact logs and notes
    logs = model("cases", "ContactLog").objects.select_related("created_by").order_by("pk")
    for log in logs.iterator(chunk_size=BATCH):
        out.add(
            log,
            kind="contact_logged",
            at=lines.contact_at(log),
            actor=_user(log.created_by),
            subject_type="contact",
            line=lines.contact_line(log),
        )
    notes = model("workspace", "CustomerNote").objects.select_related("created_by").order_by("pk")
    for note in notes.iterator(chunk_size=BATCH):
        author = note.created_by.username if note.created_by is not None else ""
        out.add(
            note,
            kind="note_added",
            at=note.created_at,
            actor=_user(note.created_by),
            subject_type="note",
            line=lines.note_line(note, author),
        )

    # ---- promises: made, then kept / broken / cancelled
    promises = model("cases", "Promise").objects.select_related("created_by").order_by("pk")
    for promise in promises.iterator(chunk_size=BATCH):
        made_by = _portal(None) if (promise.note or "").startswith("portal:") else _user(promise.created_by)
        line = lines.promise_line(promise)
        out.add(
            promise,
            kind="promise_made",
            at=promise.created_at,
            actor=made_by,
            subject_type="promise",
            line=line,
        )
        if promise.status in lines.PROMISE_KINDS:
            closed_by = _system("run") if promise.status in ("kept", "broken") else _system()
            out.add(
                promise,
                kind=lines.PROMISE_KINDS[promise.status],
                at=promise.updated_at,
                actor=closed_by,
                subject_type="promise",
                line=line,
            )

    # ---- disputes: opened (by the portal link of its case, else its user), then resolved
    cases = model("portal", "DisputeCase").objects
    disputes = model("cases", "Dispute").objects.select_related("invoice", "created_by").order_by("pk")
    for chunk in _chunks(disputes.iterator(chunk_size=BATCH)):
        links = dict(
            cases.filter(dispute_id__in=[dispute.pk for dispute in chunk]).values_list(
                "dispute_id", "link_id"
            )
        )
        for dispute in chunk:
            portal = dispute.pk in links
            opened_by = _portal(links[dispute.pk]) if portal else _user(dispute.created_by)
            out.add(
                dispute,
                kind="dispute_opened",
                at=dispute.created_at,
                actor=opened_by,
                subject_type="dispute",
                line=lines.dispute_line(dispute, dispute.invoice),
            )
            if dispute.status == "resolved":
                out.add(
                    dispute,
                    kind="dispute_resolved",
                    at=dispute.updated_at,
                    actor=_system(),
                    subject_type="dispute",
                    line=lines.dispute_resolved_line(dispute, dispute.invoice),
                )

    # ---- plans: started, then cancelled / completed; requests asked for and refused
    plans = model("cases", "PaymentPlan").objects.select_related("created_by").order_by("pk")
    for plan in plans.iterator(chunk_size=BATCH):
        started_by = (
            _portal(None) if (plan.note or "").startswith("portal:") and plan.created_by is None else None
        )
        line = lines.plan_line(plan)
        out.add(
            plan,
            kind="plan_accepted",
            at=plan.created_at,
            actor=started_by or _user(plan.created_by),
            subject_type="plan",
            line=line,
        )
        if plan.status in ("cancelled", "completed"):
            out.add(
                plan,
                kind=f"plan_{plan.status}",
                at=plan.updated_at,
                actor=_system("run") if plan.status == "completed" else _system(),
                subject_type="plan",
                line=line,
            )
    requests = model("portal", "PlanRequest").objects.select_related("decided_by").order_by("pk")
    for request in requests.iterator(chunk_size=BATCH):
        summary = f"payment plan of {request.installments} installments from {request.first_due}"
        data = {"installments": request.installments, "total": request.total}
        out.add(
            request,
            kind="plan_proposed",
            at=request.created_at,
            actor=_portal(request.link_id),
            subject_type="plan_request",
            line=(summary, {**data, "detail": "; ".join(request.reasons or [])}),
        )
        if request.status == "rejected":
            out.add(
                request,
                kind="plan_refused",
                at=request.decided_at or request.updated_at,
                actor=_user(request.decided_by),
                subject_type="plan_request",
                line=(summary, {**data, "detail": request.decision_note}),
            )

    # ---- holds, credit holds, hand-offs
    holds = model("cases", "CustomerHold").objects.select_related("created_by").order_by("pk")
    for hold in holds.iterator(chunk_size=BATCH):
        out.add(
            hold,
            kind="hold_added",
            at=hold.created_at,
            actor=_user(hold.created_by),
            subject_type="hold",
            line=lines.hold_line(hold),
        )
    for hold in model("cases", "CreditHold").objects.order_by("pk").iterator(chunk_size=BATCH):
        line = (f"credit hold from {hold.placed_on}", {"detail": hold.reason})
        placed_by = _system("run") if hold.action_id is not None else _system()
        out.add(
            hold,
            kind="credit_hold",
            at=hold.created_at,
            actor=placed_by,
            subject_type="credit_hold",
            line=line,
        )
        if hold.status == "released":
            out.add(
                hold,
                kind="credit_hold_released",
                at=hold.updated_at,
                actor=_system(hold.released_by or BEFORE),
                subject_type="credit_hold",
                line=(f"credit hold from {hold.placed_on} to {hold.released_on}", {"detail": hold.reason}),
            )
    for hand_off in model("cases", "ExternalCollection").objects.order_by("pk").iterator(chunk_size=BATCH):
        out.add(
            hand_off,
            kind="hand_off",
            at=hand_off.created_at,
            actor=_system("run") if hand_off.action_id is not None else _system(),
            subject_type="hand_off",
            line=("hand-off to external collection", {"status": hand_off.status, "agency": hand_off.agency}),
        )

    # ---- portal events the sources above do not cover (visits, refusals, preferences, payments…)
    events = model("portal", "PortalEvent").objects.exclude(action__in=COVERED_PORTAL_ACTIONS).order_by("pk")
    customers = model("ledger", "Customer").objects
    for chunk in _chunks(events.iterator(chunk_size=BATCH)):
        entities = dict(
            customers.filter(pk__in={event.customer_id for event in chunk}).values_list("pk", "entity_id")
        )
        for event in chunk:
            event.entity_id = entities[event.customer_id]  # a portal event has no entity of its own
            out.add(
                event,
                kind=lines.portal_kind(event.action),
                at=event.at,
                actor=_portal(event.link_id),
                subject_type="portal_event",
                line=lines.portal_line(event.action, event.detail),
            )
    out.flush()


class Migration(migrations.Migration):
    dependencies = [
        ("workspace", "0004_cases_moved"),
        ("audit", "0002_case_event"),
        ("cases", "0001_initial"),
        ("dunning", "0015_channel_call"),
        ("delivery", "0003_action_status_follows_messages"),
        ("portal", "0002_cases_moved"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True)]

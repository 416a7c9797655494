"""The case timeline's events, one function per thing that happens: what each is called, and the
line the timeline shows for it (the customer page's wording).

Services call ``<thing>(row, actor=...)`` as one line after their change; the backfill migration
uses the ``*_line`` builders on historical rows. The rows are read by attribute only (the models
live in apps above audit: cases, dunning, workspace, delivery, portal).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from relance.audit.models import CaseEvent, CaseEventKind
from relance.audit.services import case_event_record
from relance.core.actors import Actor
from relance.core.formatting import code_label, format_money


@dataclass(frozen=True)
class CustomerRef:
    """A customer by its ids (no query to load it)."""

    pk: int
    entity_id: int


def _display(row: Any, field: str) -> str:
    shown = getattr(row, f"get_{field}_display", None)
    return str(shown() if callable(shown) else getattr(row, field, ""))


def _noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12, 0), tzinfo=dt.UTC)


# --------------------------------------------------------------------------- lines (summary, data)


def promise_line(promise: Any) -> tuple[str, dict[str, Any]]:
    summary = f"promise to pay {format_money(promise.amount, promise.currency)} by {promise.promised_date}"
    return summary, {
        "detail": promise.note,
        "amount": promise.amount,
        "currency": promise.currency,
        "promised_date": promise.promised_date,
    }


def dispute_line(dispute: Any, invoice: Any) -> tuple[str, dict[str, Any]]:
    summary = (
        f"dispute on {invoice.external_ref}: {_display(dispute, 'reason_code').lower()}, "
        f"{format_money(dispute.amount, invoice.currency)}"
    )
    return summary, {
        "detail": dispute.note,
        "invoice": invoice.external_ref,
        "amount": dispute.amount,
        "currency": invoice.currency,
        "reason": dispute.reason_code,
    }


def dispute_resolved_line(dispute: Any, invoice: Any) -> tuple[str, dict[str, Any]]:
    summary, data = dispute_line(dispute, invoice)
    resolution = _display(dispute, "resolution").lower()
    return f"{summary} ({resolution})" if resolution else summary, {**data, "resolution": dispute.resolution}


def plan_line(plan: Any) -> tuple[str, dict[str, Any]]:
    return f"payment plan from {plan.starts_on}", {"detail": plan.note, "currency": plan.currency}


def hold_line(hold: Any) -> tuple[str, dict[str, Any]]:
    until = f" to {hold.ends_on}" if hold.ends_on else ""
    return f"{_display(hold, 'kind')} from {hold.starts_on}{until}", {
        "detail": hold.reason,
        "hold_kind": hold.kind,
    }


def contact_line(log: Any) -> tuple[str, dict[str, Any]]:
    return f"contact by {code_label(log.channel, capital=False)}", {
        "detail": log.note,
        "channel": log.channel,
        "on": log.on,
    }


def contact_at(log: Any) -> dt.datetime:
    """A contact logged on its own day keeps its instant; one logged later sits at noon of its day."""
    created = log.created_at
    return created if created is not None and log.on == created.date() else _noon(log.on)


def note_line(note: Any, author: str) -> tuple[str, dict[str, Any]]:
    return f"note by {author}".strip(), {"detail": note.text}


def call_task_line(task: Any) -> tuple[str, dict[str, Any]]:
    return f"call task due {task.due_on}", {
        "detail": " · ".join(filter(None, [code_label(task.outcome), task.outcome_note])),
        "due_on": task.due_on,
        "outcome": task.outcome,
    }


def message_line(message: Any) -> tuple[str, dict[str, Any]]:
    summary = f"{code_label(message.channel)} · {code_label(message.template_key, capital=False)}"
    secret = bool((getattr(message, "headers", None) or {}).get("one_time_secret"))
    return summary, {  # a one-time code's subject holds the code: never copied
        "detail": message.recipient if secret else (message.subject or message.recipient),
        "channel": message.channel,
        "template_key": message.template_key,
        "status": message.status,
    }


def portal_line(action: str, detail: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(detail, Mapping):
        text = "; ".join(
            f"{code_label(key)}: {value}" for key, value in sorted(detail.items()) if value not in ("", None)
        )
    else:
        text = str(detail or "")
    return f"portal: {code_label(action, capital=False)}", {"detail": text, "action": action}


def portal_kind(action: str) -> str:
    return CaseEventKind.PORTAL_VISIT if action == "opened" else f"portal_{action}"


# --------------------------------------------------------------------------- writers


def _record(
    row: Any, kind: str, line: tuple[str, dict[str, Any]], *, actor: Actor, at: dt.datetime | None = None
) -> CaseEvent:
    """One event about ``row`` (a promise, dispute, plan, hold…) on its customer's timeline."""
    summary, data = line
    return case_event_record(
        customer=row.customer, kind=kind, actor=actor, subject=row, summary=summary, data=data, at=at
    )


PROMISE_KINDS = {
    "kept": CaseEventKind.PROMISE_KEPT,
    "broken": CaseEventKind.PROMISE_BROKEN,
    "cancelled": CaseEventKind.PROMISE_CANCELLED,
}


def promise_made(promise: Any, *, actor: Actor) -> CaseEvent:
    return _record(promise, CaseEventKind.PROMISE_MADE, promise_line(promise), actor=actor)


def promise_closed(promise: Any, *, actor: Actor) -> CaseEvent:
    """Kept, broken or cancelled, by ``promise.status``."""
    return _record(promise, PROMISE_KINDS[str(promise.status)], promise_line(promise), actor=actor)


def dispute_opened(dispute: Any, *, actor: Actor) -> CaseEvent:
    return _record(dispute, CaseEventKind.DISPUTE_OPENED, dispute_line(dispute, dispute.invoice), actor=actor)


def dispute_resolved(dispute: Any, *, actor: Actor) -> CaseEvent:
    line = dispute_resolved_line(dispute, dispute.invoice)
    return _record(dispute, CaseEventKind.DISPUTE_RESOLVED, line, actor=actor)


def plan_event(plan: Any, kind: str, *, actor: Actor, **extra: Any) -> CaseEvent:
    """``plan_accepted`` (started), ``plan_cancelled``, ``plan_completed``."""
    summary, data = plan_line(plan)
    return _record(plan, kind, (summary, {**data, **extra}), actor=actor)


def plan_accepted(plan: Any, *, actor: Actor) -> CaseEvent:
    return plan_event(plan, CaseEventKind.PLAN_ACCEPTED, actor=actor)


def plan_cancelled(plan: Any, *, actor: Actor) -> CaseEvent:
    return plan_event(plan, CaseEventKind.PLAN_CANCELLED, actor=actor)


def plan_completed(plan: Any, *, actor: Actor) -> CaseEvent:
    return plan_event(plan, CaseEventKind.PLAN_COMPLETED, actor=actor)


def plan_request_event(request: Any, kind: str, *, actor: Actor, reasons: Iterable[str] = ()) -> CaseEvent:
    """``plan_proposed`` (asked for, waiting for a credit manager) or ``plan_refused``."""
    summary = f"payment plan of {request.installments} installments from {request.first_due}"
    detail = "; ".join(reasons) if kind == CaseEventKind.PLAN_PROPOSED else request.decision_note
    data = {"detail": detail, "installments": request.installments, "total": request.total}
    return _record(request, kind, (summary, data), actor=actor)


def hold_added(hold: Any, *, actor: Actor) -> CaseEvent:
    return _record(hold, CaseEventKind.HOLD_ADDED, hold_line(hold), actor=actor)


def holds_lifted(holds: Iterable[Any], *, actor: Actor) -> None:
    for hold in holds:
        _record(hold, CaseEventKind.HOLD_LIFTED, hold_line(hold), actor=actor)


def contact_logged(log: Any, *, actor: Actor) -> CaseEvent:
    return _record(log, CaseEventKind.CONTACT_LOGGED, contact_line(log), actor=actor, at=contact_at(log))


def note_added(note: Any, *, actor: Actor) -> CaseEvent:
    line = note_line(note, actor.label)
    return _record(note, CaseEventKind.NOTE_ADDED, line, actor=actor, at=note.created_at)


def call_task_event(task: Any, kind: str, *, actor: Actor) -> CaseEvent:
    """``call_task`` (scheduled) or ``call_outcome`` (done, with its outcome)."""
    return _record(task, kind, call_task_line(task), actor=actor)


MESSAGE_KINDS = {
    "sent": CaseEventKind.MESSAGE_SENT,
    "delivered": CaseEventKind.MESSAGE_SENT,
    "failed": CaseEventKind.MESSAGE_FAILED,
    "bounced": CaseEventKind.MESSAGE_FAILED,
    "cancelled": CaseEventKind.MESSAGE_CANCELLED,
}


def message_event(
    message: Any, status: str, *, actor: Actor, at: dt.datetime | None = None, reason: str = ""
) -> CaseEvent:
    """Sent (or delivered), failed (or bounced) or cancelled: by ``status``. The message's
    customer is read by its ids (no query to load it)."""
    summary, data = message_line(message)
    data["status"] = status
    if reason:
        data["reason"] = reason
    return case_event_record(
        customer=CustomerRef(message.customer_id, message.entity_id),
        kind=MESSAGE_KINDS[str(status)],
        actor=actor,
        subject=message,
        summary=summary,
        data=data,
        at=at,
    )


def credit_hold_line(hold: Any) -> tuple[str, dict[str, Any]]:
    released = getattr(hold, "released_on", None)
    return f"credit hold from {hold.placed_on}" + (f" to {released}" if released else ""), {
        "detail": hold.reason
    }


def credit_hold_placed(hold: Any, *, actor: Actor) -> CaseEvent:
    return _record(hold, CaseEventKind.CREDIT_HOLD, credit_hold_line(hold), actor=actor)


def credit_hold_released(hold: Any, *, actor: Actor) -> CaseEvent:
    return _record(hold, CaseEventKind.CREDIT_HOLD_RELEASED, credit_hold_line(hold), actor=actor)


def hand_off_line(hand_off: Any) -> tuple[str, dict[str, Any]]:
    agency = getattr(hand_off, "agency", "") or ""
    summary = f"hand-off to external collection{f' ({agency})' if agency else ''}: {hand_off.status}"
    return summary, {"status": hand_off.status, "agency": agency}


def hand_off_updated(hand_off: Any, *, actor: Actor) -> CaseEvent:
    return _record(hand_off, CaseEventKind.HAND_OFF_UPDATED, hand_off_line(hand_off), actor=actor)


def portal_action(
    *, customer: Any, action: str, actor: Actor, detail: Any = None, subject: Any = None
) -> CaseEvent:
    """A portal action without a case change of its own (a visit, a refused request, new
    preferences, a payment started…): ``portal_<action>``."""
    summary, data = portal_line(action, detail)
    return case_event_record(
        customer=customer, kind=portal_kind(action), actor=actor, subject=subject, summary=summary, data=data
    )


def run_internal_records(*, run: Any, holds: Iterable[Any], hand_offs: Iterable[Any]) -> None:
    """The credit holds and hand-offs a run placed, in one insert per kind, by the run (a system actor)."""
    actor = Actor.system(f"run {run.as_of}", run_id=run.pk)
    at = run.finished_at or run.started_at

    def placed(row: Any) -> tuple[str, dict[str, Any]]:
        return f"credit hold from {row.placed_on}", {"detail": row.reason, "run": run.pk}

    def handed(row: Any) -> tuple[str, dict[str, Any]]:
        return "hand-off to external collection", {"detail": "", "run": run.pk}

    bulk_record(holds, kind=CaseEventKind.CREDIT_HOLD, actor=actor, line=placed, at=lambda row: at)
    bulk_record(hand_offs, kind=CaseEventKind.HAND_OFF, actor=actor, line=handed, at=lambda row: at)


def bulk_record(
    rows: Iterable[Any],
    *,
    kind: str,
    actor: Actor | Callable[[Any], Actor],
    line: Callable[[Any], tuple[str, dict[str, Any]]],
    at: Callable[[Any], dt.datetime],
) -> int:
    """Many events of one kind in one insert (a replayed history, a run's bulk work): ``line`` and
    ``at`` give each row's line and instant, ``actor`` one actor or each row's."""
    from relance.audit.services import json_value, subject_type_of

    events = []
    for row in rows:
        who = actor(row) if callable(actor) else actor
        summary, data = line(row)
        events.append(
            CaseEvent(
                entity_id=row.entity_id,
                customer_id=row.customer_id,
                at=at(row),
                kind=kind,
                actor_kind=who.kind.value,
                actor_user_id=who.user_id,
                actor_token_id=who.token_id,
                actor_link_id=who.link_id,
                actor_label=who.label,
                subject_type=subject_type_of(row),
                subject_id=row.pk,
                summary=summary[:500],
                data=json_value(data),
            )
        )
    CaseEvent.objects.bulk_create(events, batch_size=2000)
    return len(events)

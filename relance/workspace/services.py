"""Writes of the workspace: notes, snoozes, saved views, reassignment, dispute owners, statements
by e-mail.

Outcomes (promises, disputes, contact logs, call tasks) are written by the apps that own them;
these services only add what the workspace keeps itself, and record who changed what.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import get_language

from relance.audit import case_events
from relance.audit.models import CaseEventKind
from relance.cases.models import Dispute
from relance.core.actors import Actor
from relance.core.errors import ValidationFailed
from relance.core.formatting import code_label, format_money
from relance.ledger.models import Customer, Entity
from relance.workspace.models import (
    CustomerNote,
    DisputeAssignment,
    DisputeComment,
    SavedView,
    WorklistSnooze,
)

NOTE_EMPTY = "a note needs some text"
SNOOZE_PAST = "snooze until {until}: expected today ({today}) or later"
COLLECTOR_OTHER_ENTITY = "{user} has no access to entity {entity}: grant it first"
SAVED_VIEW_NAME_EMPTY = "give the view a name"
SAVED_VIEW_NAME_LONG = "a view name has at most {max} characters"
SAVED_VIEW_NAME_TAKEN = "you already have a view called {name!r}: choose another name or delete that one"
SAVED_VIEW_TOO_MANY = "you have {max} saved views already: delete one first"
SAVED_VIEWS_MAX = 20  # per user, all entities: a short list of links, not a second search
SAVED_VIEW_NAME_MAX = 80
STATEMENT_TEMPLATE_KEY = "statement"
STATEMENT_NO_EMAIL = "{ref}: no e-mail address to write to ({why})"
STATEMENT_TEMPLATE_FAILED = "{ref}: the statement template failed, queued as failed ({error})"


def _audit(**kwargs: Any) -> None:
    """Record an audit event."""
    from relance.audit.services import audit_record

    audit_record(**kwargs)


@transaction.atomic
def customer_note_add(
    *, customer: Customer, text: str, actor: Actor, now: datetime | None = None
) -> CustomerNote:
    """A note on the customer's case; its author is the actor's user (none for the run or the CLI)."""
    text = text.strip()
    if not text:
        raise ValidationFailed(NOTE_EMPTY)
    note = CustomerNote.objects.create(
        entity_id=customer.entity_id,
        customer=customer,
        text=text,
        created_at=now or timezone.now(),
        created_by_id=actor.user_id,
    )
    case_events.note_added(note, actor=actor)
    return note


def dispute_comment_add(
    *, dispute: Dispute, text: str, user: Any = None, now: datetime | None = None
) -> DisputeComment:
    """An internal comment on a dispute, shown in the queue's dispute page (not to the customer)."""
    text = text.strip()
    if not text:
        raise ValidationFailed(NOTE_EMPTY)
    return DisputeComment.objects.create(
        dispute=dispute,
        text=text[:4000],
        created_at=now or timezone.now(),
        created_by=user if getattr(user, "pk", None) else None,
    )


@transaction.atomic
def worklist_snooze(*, user: Any, customer: Customer, until: date, today: date) -> WorklistSnooze:
    """Hide ``customer`` from ``user``'s worklist to ``until`` inclusive; a second snooze replaces it."""
    if until < today:
        raise ValidationFailed(SNOOZE_PAST.format(until=until, today=today))
    snooze, _ = WorklistSnooze.objects.update_or_create(
        user=user, customer=customer, defaults={"until": until}
    )
    return snooze


def worklist_snooze_end(*, snooze: WorklistSnooze) -> None:
    """Bring the customer back on the user's worklist now (the caller found the user's own snooze)."""
    snooze.delete()


@transaction.atomic
def saved_view_save(
    *, user: Any, entity: Entity, name: str, params: dict[str, str], page: str = "worklist"
) -> SavedView:
    """Save ``params`` (already whitelisted by ``selectors.worklist_view_params``) under ``name``.

    Names are unique per user, entity and page; a user keeps at most ``SAVED_VIEWS_MAX``."""
    name = " ".join(name.split())
    if not name:
        raise ValidationFailed(SAVED_VIEW_NAME_EMPTY)
    if len(name) > SAVED_VIEW_NAME_MAX:
        raise ValidationFailed(SAVED_VIEW_NAME_LONG.format(max=SAVED_VIEW_NAME_MAX))
    views = SavedView.objects.filter(user=user)
    if views.filter(entity=entity, page=page, name__iexact=name).exists():
        raise ValidationFailed(SAVED_VIEW_NAME_TAKEN.format(name=name))
    if views.count() >= SAVED_VIEWS_MAX:
        raise ValidationFailed(SAVED_VIEW_TOO_MANY.format(max=SAVED_VIEWS_MAX))
    try:
        with transaction.atomic():
            return SavedView.objects.create(user=user, entity=entity, page=page, name=name, params=params)
    except IntegrityError:  # the same name saved at the same moment (a double click)
        raise ValidationFailed(SAVED_VIEW_NAME_TAKEN.format(name=name)) from None


def saved_view_delete(*, view: SavedView) -> None:
    """Forget a saved view (the caller found it with ``selectors.saved_view_for_user``)."""
    view.delete()


def customer_collector_assign(*, customer: Customer, collector: Any, by: Any = None) -> bool:
    """Give ``customer`` to ``collector`` (None: nobody); records one audit event. False if unchanged."""
    from relance.accounts.selectors import entities_for_user

    if collector is not None and not entities_for_user(collector).filter(pk=customer.entity_id).exists():
        raise ValidationFailed(
            COLLECTOR_OTHER_ENTITY.format(user=collector.get_username(), entity=customer.entity.name)
        )
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    before = customer.collector_id
    after = collector.pk if collector is not None else None
    if before == after:
        return False
    customer.collector_id = after
    from relance.audit.context import audit_suppressed

    with audit_suppressed():  # one "reassign" event below instead of a generic update
        customer.save(update_fields=["collector", "updated_at"])
    _audit(
        action="reassign",
        obj=customer,
        before={"collector": before},
        after={"collector": after},
        **({"actor": by} if by is not None else {}),
    )
    return True


@transaction.atomic
def dispute_assign(
    *, dispute: Dispute, owner: Any, by: Any = None, now: datetime | None = None
) -> DisputeAssignment:
    from relance.accounts.selectors import entities_for_user

    if owner is not None and not entities_for_user(owner).filter(pk=dispute.entity_id).exists():
        raise ValidationFailed(
            COLLECTOR_OTHER_ENTITY.format(user=owner.get_username(), entity=dispute.entity.name)
        )
    previous = DisputeAssignment.objects.filter(dispute=dispute).values_list("owner_id", flat=True).first()
    assignment, _ = DisputeAssignment.objects.update_or_create(
        dispute=dispute,
        defaults={
            "owner": owner,
            "assigned_at": now or timezone.now(),
            "assigned_by": by if getattr(by, "pk", None) else None,
        },
    )
    _audit(
        action="assign",
        obj=dispute,
        before={"owner": previous},
        after={"owner": owner.pk if owner is not None else None},
        **({"actor": by} if by is not None else {}),
    )
    return assignment


@dataclass(frozen=True)
class StatementReport:
    queued: tuple[str, ...]
    already_queued: tuple[str, ...]
    skipped: tuple[str, ...]


def statement_email_queue(*, customers: Sequence[Customer], as_of: date, by: Any = None) -> StatementReport:
    """Queue a statement of account by e-mail for each customer (once per customer and day).

    Rendered by ``relance.comms`` with the ``statement`` template (every open item: due, not yet
    due, disputed, and the cash not yet applied; the statement PDF attached) and queued in the
    delivery outbox, whose idempotency key makes a second click the same day queue nothing. A
    broken template does not stop the others: that message is queued as failed (see
    ``relance.delivery.services.outbox_enqueue_checked``).
    """
    from relance.delivery.services import outbox_enqueue_checked, recipient_for

    queued: list[str] = []
    again: list[str] = []
    skipped: list[str] = []
    broken: list[Any] = []
    for customer in customers:
        contact, recipient, why = recipient_for(customer, "email")
        if not recipient:
            skipped.append(STATEMENT_NO_EMAIL.format(ref=customer.external_ref, why=why))
            continue
        key = statement_message_key(customer=customer, as_of=as_of)
        _, created = outbox_enqueue_checked(
            render={
                "template_key": STATEMENT_TEMPLATE_KEY,
                "channel": "email",
                "as_of": as_of,
                "contact": contact,
                "message_key": key,
            },
            broken=broken,
            customer=customer,
            channel="email",
            recipient=recipient,
            idempotency_key=key,
            contact=contact,
            detail={"source": "workspace statement", "by": getattr(by, "pk", None)},
        )
        (queued if created else again).append(customer.external_ref)
    skipped += [STATEMENT_TEMPLATE_FAILED.format(ref=item.customer_ref, error=item.error) for item in broken]
    return StatementReport(tuple(queued), tuple(again), tuple(skipped))


def statement_message_key(*, customer: Customer, as_of: date) -> str:
    return f"workspace-statement:{customer.pk}:{as_of.isoformat()}"


def statement_sample(*, customers: Sequence[Customer], as_of: date) -> tuple[Customer, Any] | None:
    """The statement the first customer with an e-mail address would receive (a preview: no link
    issued, nothing queued), to show before sending; None when nobody can receive one."""
    from relance.comms.services import message_render
    from relance.delivery.services import recipient_for

    for customer in customers:
        contact, recipient, _why = recipient_for(customer, "email")
        if recipient:
            rendered = message_render(
                customer=customer,
                template_key=STATEMENT_TEMPLATE_KEY,
                channel="email",
                as_of=as_of,
                contact=contact,
                message_key=statement_message_key(customer=customer, as_of=as_of),
                preview=True,
            )
            return customer, rendered
    return None


OUTCOMES = ("promise", "dispute", "reached", "no_answer", "wrong_number", "call_back")
OUTCOME_UNKNOWN = "unknown outcome {outcome!r}: expected one of " + ", ".join(OUTCOMES)
CALL_BACK_DATE_MISSING = "call back on: expected a date from today on"


def call_task_complete(
    *, customer: Customer, outcome: str, actor: Actor, note: str = "", now: datetime | None = None
) -> int:
    """Close the customer's open call tasks with ``outcome``: those due by today, and every call
    back asked for by hand (a task without a message, whatever its day: the next outcome logged
    is that call). ``CallTask`` has no service of its own in ``relance.delivery``. Returns how
    many were closed."""
    from django.db.models import Q

    from relance.delivery.models import CallTask, CallTaskStatus

    at = now or timezone.now()
    tasks = CallTask.objects.filter(customer=customer, status=CallTaskStatus.OPEN).filter(
        Q(due_on__lte=timezone.localdate(at)) | Q(message__isnull=True)
    )
    closed = 0
    for task in tasks.select_for_update():
        task.status = CallTaskStatus.DONE
        task.outcome = outcome[:32]
        task.outcome_note = note
        task.completed_at = at
        task.save(update_fields=["status", "outcome", "outcome_note", "completed_at", "updated_at"])
        case_events.call_task_event(task, CaseEventKind.CALL_OUTCOME, actor=actor)
        closed += 1
    return closed


def call_back_task_create(
    *, customer: Customer, on: date, actor: Actor, at: time | None = None, note: str = "", user: Any = None
) -> Any:
    """A dated call task on ``user``'s list: shown on My accounts and the worklist from ``on``
    (due that day, overdue after), done when the next outcome is logged (``call_task_complete``)."""
    from relance.delivery.models import CallTask
    from relance.delivery.services import recipient_for

    contact, phone, _ = recipient_for(customer, "call")
    when = f"Call back at {at:%H:%M}" if at else "Call back"
    task = CallTask.objects.create(
        entity_id=customer.entity_id,
        customer=customer,
        contact=contact,
        assigned_to=user if getattr(user, "pk", None) else None,
        due_on=on,
        phone=phone[:20],
        script=" · ".join(filter(None, [when, note])),
    )
    case_events.call_task_event(task, CaseEventKind.CALL_TASK, actor=actor)
    return task


def _attempt_record(
    *, customer: Customer, outcome: str, note: str, user: Any, now: datetime, actor: Actor
) -> None:
    """A call in which nobody was reached, kept as a done call task without a message: the
    compliance rules count it as a call (caps), not as a conversation, and it is no contact for
    the cadence (``relance.dunning.contacts``)."""
    from relance.delivery.models import CallTask, CallTaskStatus

    task = CallTask.objects.create(
        entity_id=customer.entity_id,
        customer=customer,
        assigned_to=user if getattr(user, "pk", None) else None,
        due_on=timezone.localdate(now),
        status=CallTaskStatus.DONE,
        outcome=outcome[:32],
        outcome_note=note,
        completed_at=now,
    )
    case_events.call_task_event(task, CaseEventKind.CALL_OUTCOME, actor=actor)


@dataclass(frozen=True)
class OutcomeInput:
    """What a collector records after a call (the two-click outcome form)."""

    outcome: str
    on: date
    promised_date: date | None = None
    amount: Any = None
    invoice: Any = None
    reason_code: str = "other"
    call_back_on: date | None = None
    call_back_at: time | None = None
    note: str = ""


@transaction.atomic
def customer_outcome_record(*, customer: Customer, data: OutcomeInput, actor: Actor, user: Any = None) -> str:
    """Record a call's outcome through the services that own each record; returns a sentence.

    promise → ``promise_add``; dispute → ``dispute_open``; wrong number marks the called phone
    invalid; call back on D creates a call task due on D for the user (and snoozes the customer
    on their worklist until the day before). The open call tasks due (and earlier call backs)
    are closed with the outcome. An outcome in which someone was spoken to
    (``relance.dunning.contacts.outcome_is_contact``: promise, dispute, reached, call back) logs
    a phone contact (``contact_log``: the cadence, the last contact and "contacted today" count
    it); no answer and wrong number are call attempts, not contacts.
    """
    from relance.cases.services import contact_log, dispute_open, promise_add
    from relance.dunning.contacts import outcome_is_contact

    if data.outcome not in OUTCOMES:
        raise ValidationFailed(OUTCOME_UNKNOWN.format(outcome=data.outcome))
    summary = ""
    if data.outcome == "promise":
        if data.promised_date is None:
            raise ValidationFailed("promise: expected the date the customer promised to pay")
        promise = promise_add(
            customer=customer,
            promised_date=data.promised_date,
            on=data.on,
            amount=data.amount,
            note=data.note,
            actor=actor,
            invoices=[data.invoice] if data.invoice is not None else (),
        )
        summary = (
            f"Promise to pay {format_money(promise.amount, promise.currency, get_language())} "
            f"by {promise.promised_date} recorded."
        )
    elif data.outcome == "dispute":
        if data.invoice is None:
            raise ValidationFailed("dispute: expected the invoice the customer contests")
        dispute = dispute_open(
            invoice=data.invoice,
            reason_code=data.reason_code,
            on=data.on,
            amount=data.amount,
            note=data.note,
            actor=actor,
        )
        summary = (
            f"Dispute on {data.invoice.external_ref} "
            f"({format_money(dispute.amount, data.invoice.currency, get_language())}) opened."
        )
    elif data.outcome == "wrong_number":
        from relance.delivery.services import contact_mark_invalid, recipient_for

        contact, _, _ = recipient_for(customer, "call")
        if contact is not None:
            contact_mark_invalid(
                contact=contact, channel="call", status="invalid", reason="wrong number (call outcome)"
            )
        summary = "Wrong number: the phone number is marked invalid."
    elif data.outcome == "call_back":
        if data.call_back_on is None or data.call_back_on < data.on:
            raise ValidationFailed(CALL_BACK_DATE_MISSING)
        summary = f"Call back on {data.call_back_on}" + (
            f" at {data.call_back_at:%H:%M}." if data.call_back_at else "."
        )
    elif data.outcome == "reached":
        summary = "Contact logged: reached, no commitment."
    else:
        summary = "No answer logged."
    now = timezone.now()
    closed = call_task_complete(customer=customer, outcome=data.outcome, note=data.note, now=now, actor=actor)
    if data.outcome == "call_back" and data.call_back_on is not None:
        if getattr(user, "pk", None) and data.call_back_on > data.on:
            worklist_snooze(
                user=user, customer=customer, until=data.call_back_on - timedelta(days=1), today=data.on
            )
        call_back_task_create(
            customer=customer,
            on=data.call_back_on,
            at=data.call_back_at,
            note=data.note,
            user=user,
            actor=actor,
        )
    label = code_label(data.outcome)
    if data.call_back_on:
        label += f" on {data.call_back_on}"
    if outcome_is_contact(data.outcome):
        contact_log(
            customer=customer,
            on=data.on,
            channel="call",
            note=" · ".join(filter(None, [label, data.note])),
            actor=actor,
        )
    elif not closed:
        _attempt_record(
            customer=customer, outcome=data.outcome, note=data.note, user=user, now=now, actor=actor
        )
    return summary

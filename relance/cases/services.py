"""Writes of a customer's case: promises, disputes, payment plans, holds, credit holds,
hand-offs to external collection and contacts made by hand.

Each service validates, owns its transaction and raises ``ValidationFailed``/``Conflict`` with
the messages below (tests assert them). The run (``relance.dunning``) reads these rows; it
settles promises and places credit holds and hand-offs itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, Sum

from relance.audit import case_events
from relance.audit.context import audit_suppressed
from relance.audit.services import audit_record
from relance.cases.models import (
    ContactLog,
    CreditHold,
    CreditHoldStatus,
    CustomerHold,
    Dispute,
    DisputeReason,
    DisputeResolution,
    DisputeStatus,
    ExternalCollection,
    HandOffStatus,
    HoldKind,
    Installment,
    PaymentPlan,
    PlanStatus,
    Promise,
    PromiseStatus,
)
from relance.core.actors import Actor
from relance.core.channels import STEP_CHANNELS
from relance.core.errors import Conflict, ValidationFailed
from relance.core.money import Money
from relance.ledger.models import Allocation, Customer, Entity, Invoice, InvoiceStatus
from relance.ledger.selectors import invoice_list_with_open
from relance.ledger.sql_values import STORED

INVOICE_OTHER_CUSTOMER = "invoice {ref} belongs to customer {owner}, not {customer}"
INVOICE_NOT_OPEN = "invoice {ref} has nothing open on {on}"
INVOICE_VOID = "invoice {ref} is void"
CURRENCIES_MIXED = "the invoices are in several currencies ({currencies}): one currency per {what}"
NO_OPEN_INVOICES = "customer {customer} has no open invoice on {on}"
AMOUNT_NOT_POSITIVE = "the amount must be positive, not {amount}"

PROMISE_DATE_PAST = "the promised date {promised} is before the day the promise is made ({on})"
PROMISE_NOT_OPEN = "promise {promise} is {status}, not open"

DISPUTE_OVER_OPEN = (
    "invoice {ref} has {available} open and not already disputed on {on}; cannot dispute {amount}"
)
DISPUTE_NOT_OPEN = "dispute {dispute} is already resolved"
DISPUTE_RESOLVED_BEFORE_OPENED = "a dispute cannot be resolved ({on}) before it was opened ({opened})"
DISPUTE_REASONS = ", ".join(DisputeReason.values)

PLAN_ACTIVE_EXISTS = "customer {customer} already has an active payment plan (plan {plan}): cancel it first"
PLAN_COUNT = "a plan needs 1 to 120 installments, not {count}"
PLAN_EVERY = "installments must be at least 1 day apart, not {every}"
PLAN_FIRST_BEFORE_START = "the first installment ({first}) cannot be due before the plan starts ({start})"
PLAN_NOT_ACTIVE = "plan {plan} is {status}, not active"

HOLD_ENDS_BEFORE_START = "a hold cannot end ({ends}) before it starts ({starts})"
HOLD_NONE_ACTIVE = "customer {customer} has no {kind}hold in force on {on}"
HOLD_ALREADY_OVER = "this hold already ended on {ends}"


# --------------------------------------------------------------------------- shared checks


def _acting_user(actor: Actor) -> Any:
    """The user behind ``actor`` (a signed-in user, or an API token's user), for the audit log;
    ``None`` for the portal, the CLI and the run. ``created_by`` columns take ``actor.user_id``:
    the actor is the one source of who did it."""
    if actor.user_id is None:
        return None
    return get_user_model().objects.filter(pk=actor.user_id).first()


def _open_invoices(
    *, customer: Customer, invoices: Sequence[Invoice], on: date, what: str
) -> list[tuple[Invoice, Decimal]]:
    """The given invoices (or every open one of the customer) with their open amount on ``on``."""
    if invoices:
        for invoice in invoices:
            if invoice.customer_id != customer.pk:
                raise ValidationFailed(
                    INVOICE_OTHER_CUSTOMER.format(
                        ref=invoice.external_ref,
                        owner=invoice.customer.external_ref,
                        customer=customer.external_ref,
                    )
                )
            if invoice.status == InvoiceStatus.VOID:
                raise ValidationFailed(INVOICE_VOID.format(ref=invoice.external_ref))
        rows = invoice_list_with_open(entity=customer.entity, as_of=on).filter(
            pk__in=[invoice.pk for invoice in invoices]
        )
        found = {row.pk: row for row in rows}
        result = []
        for invoice in invoices:
            row = found.get(invoice.pk)
            # Quantized first: SQLite computes open amounts in floating point (1e-14 is not open).
            if row is None or _stored(row.open_amount) <= 0:
                raise ValidationFailed(INVOICE_NOT_OPEN.format(ref=invoice.external_ref, on=on))
            result.append((row, _stored(row.open_amount)))
    else:
        rows = (
            invoice_list_with_open(entity=customer.entity, as_of=on)
            .filter(customer=customer, open_amount__gt=0)
            .order_by("due_date", "external_ref")
        )
        result = [(row, _stored(row.open_amount)) for row in rows if _stored(row.open_amount) > 0]
        if not result:
            raise ValidationFailed(NO_OPEN_INVOICES.format(customer=customer.external_ref, on=on))
    currencies = sorted({invoice.currency for invoice, _ in result})
    if len(currencies) > 1:
        raise ValidationFailed(CURRENCIES_MIXED.format(currencies=", ".join(currencies), what=what))
    return result


def _stored(amount: Decimal) -> Decimal:
    """``amount`` at the four places money is stored with (SQLite sums come back unscaled)."""
    return Decimal(amount).quantize(STORED)


def _positive(amount: Decimal) -> Decimal:
    if amount <= 0:
        raise ValidationFailed(AMOUNT_NOT_POSITIVE.format(amount=amount))
    return _stored(amount)


# --------------------------------------------------------------------------- promises


@transaction.atomic
def promise_add(
    *,
    customer: Customer,
    promised_date: date,
    on: date,
    invoices: Sequence[Invoice] = (),
    amount: Decimal | None = None,
    note: str = "",
    actor: Actor,
) -> Promise:
    """Record a promise made on ``on`` to pay ``invoices`` (default: every open one) by ``promised_date``.

    The amount defaults to the open amount of those invoices; the engine pauses the customer's
    dunning until ``promised_date`` plus the policy's grace, then tells kept from broken.
    """
    if promised_date < on:
        raise ValidationFailed(PROMISE_DATE_PAST.format(promised=promised_date, on=on))
    covered = _open_invoices(customer=customer, invoices=invoices, on=on, what="promise")
    total = sum((open_amount for _, open_amount in covered), Decimal(0))
    promise = Promise.objects.create(
        entity_id=customer.entity_id,
        customer=customer,
        created_on=on,
        promised_date=promised_date,
        amount=_positive(total if amount is None else amount),
        currency=covered[0][0].currency,
        note=note,
        created_by_id=actor.user_id,
    )
    promise.invoices.set([invoice for invoice, _ in covered])
    case_events.promise_made(promise, actor=actor)
    return promise


@transaction.atomic
def promise_close(*, promise: Promise, status: str, actor: Actor) -> Promise:
    """Mark a promise kept or cancelled by hand (the engine detects kept/broken on its own)."""
    if status not in (PromiseStatus.KEPT, PromiseStatus.CANCELLED):
        raise ValidationFailed(f"a promise is closed as kept or cancelled, not {status!r}")
    promise = Promise.objects.select_for_update().get(pk=promise.pk)
    if promise.status != PromiseStatus.OPEN:
        raise ValidationFailed(PROMISE_NOT_OPEN.format(promise=promise.pk, status=promise.status))
    promise.status = status
    promise.save(update_fields=["status", "updated_at"])
    case_events.promise_closed(promise, actor=actor)
    return promise


# --------------------------------------------------------------------------- disputes


@transaction.atomic
def dispute_open(
    *,
    invoice: Invoice,
    reason_code: str,
    on: date,
    amount: Decimal | None = None,
    note: str = "",
    actor: Actor,
) -> Dispute:
    """Contest ``amount`` (default: all that is open and not yet disputed) of ``invoice`` from ``on``."""
    if reason_code not in DisputeReason.values:
        raise ValidationFailed(f"unknown dispute reason {reason_code!r}: expected one of {DISPUTE_REASONS}")
    invoice = Invoice.objects.select_for_update().select_related("customer").get(pk=invoice.pk)
    if invoice.status == InvoiceStatus.VOID:
        raise ValidationFailed(INVOICE_VOID.format(ref=invoice.external_ref))
    row = invoice_list_with_open(entity=invoice.entity, as_of=on).filter(pk=invoice.pk).first()
    open_amount = _stored(row.open_amount if row is not None else Decimal(0))
    disputed = Dispute.objects.filter(invoice=invoice, status=DisputeStatus.OPEN).aggregate(
        total=Sum("amount")
    )["total"] or Decimal(0)
    available = open_amount - _stored(disputed)
    wanted = available if amount is None else _positive(amount)
    if wanted <= 0 or wanted > available:
        raise ValidationFailed(
            DISPUTE_OVER_OPEN.format(ref=invoice.external_ref, available=available, on=on, amount=wanted)
        )
    dispute = Dispute.objects.create(
        entity_id=invoice.entity_id,
        customer_id=invoice.customer_id,
        invoice=invoice,
        amount=wanted,
        reason_code=reason_code,
        opened_on=on,
        note=note,
        created_by_id=actor.user_id,
    )
    case_events.dispute_opened(dispute, actor=actor)
    return dispute


@transaction.atomic
def dispute_resolve(*, dispute: Dispute, resolution: str, on: date, note: str = "", actor: Actor) -> Dispute:
    """Close a dispute on ``on``: from that day its amount is chased again (if still open)."""
    if resolution not in DisputeResolution.values:
        choices = ", ".join(DisputeResolution.values)
        raise ValidationFailed(f"unknown resolution {resolution!r}: expected one of {choices}")
    dispute = Dispute.objects.select_for_update().get(pk=dispute.pk)
    if dispute.status != DisputeStatus.OPEN:
        raise ValidationFailed(DISPUTE_NOT_OPEN.format(dispute=dispute.pk))
    if on < dispute.opened_on:
        raise ValidationFailed(DISPUTE_RESOLVED_BEFORE_OPENED.format(on=on, opened=dispute.opened_on))
    dispute.status = DisputeStatus.RESOLVED
    dispute.resolution = resolution
    dispute.resolved_on = on
    if note:
        dispute.note = f"{dispute.note}\n{note}".strip()
    dispute.save(update_fields=["status", "resolution", "resolved_on", "note", "updated_at"])
    case_events.dispute_resolved(dispute, actor=actor)
    return dispute


# --------------------------------------------------------------------------- payment plans


@transaction.atomic
def plan_create(
    *,
    customer: Customer,
    starts_on: date,
    installments: int,
    first_due: date,
    every_days: int = 30,
    invoices: Sequence[Invoice] = (),
    total: Decimal | None = None,
    note: str = "",
    actor: Actor,
) -> PaymentPlan:
    """A plan paying ``invoices`` (default: every open one) in equal installments, ``every_days`` apart.

    The total defaults to their open amount on ``starts_on``; it is split without losing a
    minor unit (the first installments carry the remainder).
    """
    if not 1 <= installments <= 120:
        raise ValidationFailed(PLAN_COUNT.format(count=installments))
    if every_days < 1:
        raise ValidationFailed(PLAN_EVERY.format(every=every_days))
    if first_due < starts_on:
        raise ValidationFailed(PLAN_FIRST_BEFORE_START.format(first=first_due, start=starts_on))
    Customer.objects.select_for_update().get(pk=customer.pk)
    active = PaymentPlan.objects.filter(customer=customer, status=PlanStatus.ACTIVE).first()
    if active is not None:
        raise Conflict(PLAN_ACTIVE_EXISTS.format(customer=customer.external_ref, plan=active.pk))
    covered = _open_invoices(customer=customer, invoices=invoices, on=starts_on, what="plan")
    currency = covered[0][0].currency
    amount = _positive(total if total is not None else sum((a for _, a in covered), Decimal(0)))
    parts = Money(amount, currency).allocate([1] * installments)
    plan = PaymentPlan.objects.create(
        entity_id=customer.entity_id,
        customer=customer,
        starts_on=starts_on,
        currency=currency,
        note=note,
        created_by_id=actor.user_id,
    )
    plan.invoices.set([invoice for invoice, _ in covered])
    Installment.objects.bulk_create(
        Installment(
            plan=plan,
            sequence=position + 1,
            due_date=first_due + timedelta(days=every_days * position),
            amount=part.amount,
        )
        for position, part in enumerate(parts)
    )
    case_events.plan_accepted(plan, actor=actor)
    return plan


@transaction.atomic
def plan_cancel(*, plan: PaymentPlan, actor: Actor) -> PaymentPlan:
    """End a plan: the customer's invoices are dunned again from the next run."""
    plan = PaymentPlan.objects.select_for_update().get(pk=plan.pk)
    if plan.status != PlanStatus.ACTIVE:
        raise ValidationFailed(PLAN_NOT_ACTIVE.format(plan=plan.pk, status=plan.status))
    plan.status = PlanStatus.CANCELLED
    plan.save(update_fields=["status", "updated_at"])
    case_events.plan_cancelled(plan, actor=actor)
    return plan


def plan_installments_settle(*, entity: Entity, as_of: date) -> int:
    """Mark installments paid from the payments applied to each active plan's invoices.

    Allocations to the plan's invoices dated from ``starts_on`` to ``as_of`` are added up in
    date order; installment k is paid on the first day the running total covers installments
    1..k. A plan whose installments are all paid is completed. Returns the installments marked.
    """
    marked = 0
    plans = PaymentPlan.objects.filter(entity=entity, status=PlanStatus.ACTIVE, starts_on__lte=as_of)
    for plan in plans.prefetch_related("installments"):
        pending = [item for item in plan.installments.all() if item.paid_on is None]
        if not pending:
            continue
        paid_rows = (
            Allocation.objects.filter(
                invoice__in=plan.invoices.all(), date__gte=plan.starts_on, date__lte=as_of
            )
            .values("date")
            .annotate(total=Sum("amount"))
            .order_by("date")
        )
        days = [(row["date"], row["total"]) for row in paid_rows]
        already = sum((item.amount for item in plan.installments.all() if item.paid_on), Decimal(0))
        running = Decimal(0)
        needed = already
        day_index = 0
        for item in pending:
            needed += item.amount
            while running < needed and day_index < len(days):
                running += days[day_index][1]
                day_index += 1
            if running < needed:
                break
            item.paid_on = days[day_index - 1][0]
            item.save(update_fields=["paid_on", "updated_at"])
            marked += 1
        if all(item.paid_on for item in plan.installments.all()):
            plan.status = PlanStatus.COMPLETED
            plan.save(update_fields=["status", "updated_at"])
            case_events.plan_completed(plan, actor=Actor.system(f"run {as_of}"))
    return marked


# --------------------------------------------------------------------------- holds


@transaction.atomic
def hold_create(
    *,
    customer: Customer,
    kind: str,
    reason: str,
    starts_on: date,
    ends_on: date | None = None,
    audit_action: str = "",
    actor: Actor,
) -> CustomerHold:
    """Stop dunning the customer (hold, legal case or do-not-contact) from ``starts_on``.

    The one write of a ``CustomerHold``: ``relance hold add``, the workspace's "I'm on it" form,
    the sales owner's e-mailed hold link and the demo all come here, each after its own checks
    and permission. The save raises the entity's ``cases`` data version (signals) and is
    audited: as a generic ``create`` event, or, with ``audit_action``, as that one named event
    on the customer instead (``hold_request``).
    """
    if kind not in HoldKind.values:
        raise ValidationFailed(f"unknown hold kind {kind!r}: expected one of {', '.join(HoldKind.values)}")
    if not reason.strip():
        raise ValidationFailed("a hold needs a reason")
    if ends_on is not None and ends_on < starts_on:
        raise ValidationFailed(HOLD_ENDS_BEFORE_START.format(ends=ends_on, starts=starts_on))
    with audit_suppressed() if audit_action else nullcontext():
        hold = CustomerHold.objects.create(
            entity_id=customer.entity_id,
            customer=customer,
            kind=kind,
            reason=reason.strip(),
            starts_on=starts_on,
            ends_on=ends_on,
            created_by_id=actor.user_id,
        )
    if audit_action:
        audit_record(
            action=audit_action,
            obj=customer,
            actor=_acting_user(actor),
            after={
                "hold": hold.pk,
                "kind": hold.kind,
                "reason": hold.reason,
                "starts_on": hold.starts_on,
                "ends_on": hold.ends_on,
            },
        )
    case_events.hold_added(hold, actor=actor)
    return hold


@transaction.atomic
def hold_end(*, hold: CustomerHold, on: date, audit_action: str = "", actor: Actor) -> CustomerHold:
    """End ``hold`` from ``on``: the last day it is in force is the day before, so that day's run
    chases the account again; a hold that had not started by ``on`` never takes effect.

    The one way a hold ends early (``relance hold remove``, the workspace's "Lift now"). Refuses a
    hold already over. Audited as a generic ``update``, or, with ``audit_action``, as that one
    named event on the customer with the end before and after (``hold_lift``).
    """
    hold = CustomerHold.objects.select_for_update().select_related("customer").get(pk=hold.pk)
    if hold.ends_on is not None and hold.ends_on < on:
        raise ValidationFailed(HOLD_ALREADY_OVER.format(ends=hold.ends_on))
    ended_on = hold.ends_on
    with audit_suppressed() if audit_action else nullcontext():
        hold.ends_on = on - timedelta(days=1)
        hold.save(update_fields=["ends_on", "updated_at"])
    if audit_action:
        audit_record(
            action=audit_action,
            obj=hold.customer,
            actor=_acting_user(actor),
            before={"hold": hold.pk, "ends_on": ended_on},
            after={"hold": hold.pk, "ends_on": hold.ends_on},
        )
    case_events.holds_lifted([hold], actor=actor)
    return hold


@transaction.atomic
def hold_remove(*, customer: Customer, on: date, kind: str | None = None, actor: Actor) -> int:
    """Lift the customer's holds (of ``kind``) still in force or to come from ``on`` (``hold_end``
    each). Returns how many were lifted."""
    holds = CustomerHold.objects.filter(Q(ends_on__isnull=True) | Q(ends_on__gte=on), customer=customer)
    if kind:
        holds = holds.filter(kind=kind)
    lifted = list(holds)
    if not lifted:
        shown = f"{kind} " if kind else ""
        raise ValidationFailed(HOLD_NONE_ACTIVE.format(customer=customer.external_ref, kind=shown, on=on))
    for hold in lifted:
        hold_end(hold=hold, on=on, actor=actor)
    return len(lifted)


# --------------------------------------------------------------------------- credit holds and hand-offs

CREDIT_HOLD_NONE = "customer {customer} has no active credit hold"
HANDOFF_STATUS_UNKNOWN = "unknown hand-off status {status!r}: expected one of {choices}"


@transaction.atomic
def credit_hold_place(*, customer: Customer, on: date, reason: str, by: str = "", actor: Actor) -> CreditHold:
    """Put the customer on credit hold by hand (no new orders); an active one is kept as it is."""
    existing = CreditHold.objects.filter(customer=customer, status=CreditHoldStatus.ACTIVE).first()
    if existing is not None:
        return existing
    hold = CreditHold.objects.create(
        entity_id=customer.entity_id, customer=customer, placed_on=on, reason=reason
    )
    case_events.credit_hold_placed(hold, actor=actor)
    return hold


@transaction.atomic
def credit_hold_release(*, customer: Customer, on: date, by: str = "", actor: Actor) -> CreditHold:
    """Lift the customer's credit hold (orders may be taken again from ``on``)."""
    hold = (
        CreditHold.objects.select_for_update()
        .filter(customer=customer, status=CreditHoldStatus.ACTIVE)
        .first()
    )
    if hold is None:
        raise ValidationFailed(CREDIT_HOLD_NONE.format(customer=customer.external_ref))
    hold.status = CreditHoldStatus.RELEASED
    hold.released_on = on
    hold.released_by = by[:150]
    hold.save(update_fields=["status", "released_on", "released_by", "updated_at"])
    case_events.credit_hold_released(hold, actor=actor)
    return hold


@transaction.atomic
def hand_off_update(
    *,
    hand_off: ExternalCollection,
    status: str,
    on: date,
    by: str = "",
    agency: str | None = None,
    actor: Actor,
) -> ExternalCollection:
    """Record where a hand-off to external collection stands, and who said so when."""
    if status not in HandOffStatus.values:
        raise ValidationFailed(
            HANDOFF_STATUS_UNKNOWN.format(status=status, choices=", ".join(HandOffStatus.values))
        )
    hand_off = ExternalCollection.objects.select_for_update().get(pk=hand_off.pk)
    hand_off.status = status
    hand_off.status_changed_on = on
    hand_off.status_changed_by = by[:150]
    if agency is not None:
        hand_off.agency = agency
    hand_off.save()
    case_events.hand_off_updated(hand_off, actor=actor)
    return hand_off


# --------------------------------------------------------------------------- contacts made by hand

CONTACT_CHANNEL_UNKNOWN = "unknown channel {channel!r}: expected one of {choices}"


@transaction.atomic
def contact_log(*, customer: Customer, on: date, channel: str, note: str = "", actor: Actor) -> ContactLog:
    """Record a contact made outside the run; the next runs count it for the cadence. Its channel is
    one of a policy step's (``relance.core.channels``: a call is ``call``)."""
    if channel not in STEP_CHANNELS:
        raise ValidationFailed(
            CONTACT_CHANNEL_UNKNOWN.format(channel=channel, choices=", ".join(STEP_CHANNELS))
        )
    log = ContactLog.objects.create(
        entity_id=customer.entity_id,
        customer=customer,
        on=on,
        channel=channel,
        note=note,
        created_by_id=actor.user_id,
    )
    case_events.contact_logged(log, actor=actor)
    return log

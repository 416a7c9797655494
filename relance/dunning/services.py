"""Writes of the collections app: policies, promises, disputes, plans, holds and the daily run.

Each service validates, owns its transaction and raises ``ValidationFailed``/``Conflict`` with
the messages below (tests assert them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F, Max, Q, Sum

from relance.audit import case_events
from relance.core.actors import Actor
from relance.core.errors import Conflict, ValidationFailed
from relance.core.money import Money
from relance.core.promises import BROKEN as PROMISE_BROKEN
from relance.core.promises import KEPT as PROMISE_KEPT
from relance.dunning.models import (
    HANDOFF_OPEN,
    ActionStatus,
    ContactLog,
    CreditHold,
    CreditHoldStatus,
    CustomerAttribute,
    CustomerHold,
    Dispute,
    DisputeReason,
    DisputeResolution,
    DisputeStatus,
    DunningAction,
    DunningLock,
    DunningRun,
    ExternalCollection,
    HandOffStatus,
    HoldKind,
    Installment,
    InvoiceStep,
    PaymentPlan,
    PlanStatus,
    Policy,
    PolicyVersion,
    Promise,
    PromiseStatus,
    SegmentationRules,
    SegmentChange,
    SegmentPolicy,
    Suppression,
    WorklistEntry,
)
from relance.dunning.selectors import STORED, customer_policy_key, promise_state_on
from relance.engine.dunning.behaviour import segment_rules_from_list
from relance.engine.dunning.contract import Decisions
from relance.engine.dunning.defaults import default_policies
from relance.engine.dunning.policy import CONTACT_ACTIONS, policy_from_dict, policy_to_dict
from relance.engine.dunning.policy import Policy as EnginePolicy
from relance.ledger.models import Allocation, Customer, Entity, Invoice, InvoiceStatus
from relance.ledger.selectors import invoice_list_with_open
from relance.ledger.services import data_version_bump

POLICY_YAML_INVALID = "{source}: not valid YAML: {error}"
POLICY_YAML_SHAPE = "{source}: expected a policy (a mapping) or a list of policies, found {found}"
POLICY_IN_USE = "policy {key} is assigned to segment(s) {segments}: reassign them first"
POLICY_UNKNOWN = "no policy {key!r} in entity {entity} (known: {known})"
POLICY_CHANGED_SINCE = (
    "policy {key} changed since you started: version {current} is now the current one, "
    "not {expected}. Review the changes again."
)
POLICY_UNCHANGED = "policy {key}: nothing changed, so no new version was saved"
POLICY_VERSION_UNKNOWN = "policy {key} has no version {version}"
POLICY_ROLLBACK_AUDIT_ACTION = "policy_rollback"
POLICY_COMMENT_MAX = PolicyVersion._meta.get_field("comment").max_length or 500

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

RUN_IN_PROGRESS = "another dunning run of entity {entity} is in progress: try again when it has finished"
RUN_BEFORE_LATEST = (
    "entity {entity} was already run for {latest}: runs move forward, so {as_of} cannot be run now"
)
RUN_NO_POLICY = (
    "entity {entity} has no dunning policy: import one (relance policy import FILE, or --defaults) first"
)
RUN_CUSTOMERS_WITHOUT_POLICY = (
    "{count} customer(s) of entity {entity} follow no dunning policy (segment {segments}): "
    "make one the default with `relance policy assign {key} --default{entity_option}` "
    "(or give their segment one with --segment)"
)

#: The shipped policy a new entity follows by default (docs/policies.md).
SHIPPED_DEFAULT_POLICY = "standard"


# --------------------------------------------------------------------------- policies


def policy_validate(*, spec: Any) -> EnginePolicy:
    """The engine's policy for ``spec`` (the one validation), or ``ValidationFailed`` listing every problem."""
    return policy_from_dict(spec)


@transaction.atomic
def policy_import(
    *,
    entity: Entity,
    spec: Any,
    author: Any = None,
    comment: str = "",
    expected_version: int | None = None,
    restores: int | None = None,
) -> tuple[Policy, bool]:
    """Create or replace the entity's policy ``spec['key']``; the stored spec is the normalised dict form.

    A changed spec makes a new version (the previous specs stay in ``PolicyVersion``, with who
    saved it and why); importing the same spec again changes nothing. ``expected_version``: the
    version the editor started from; another version by then is a ``Conflict`` (a second editor
    saved in between and this save would silently undo their change).
    """
    engine_policy = policy_validate(spec=spec)
    normalised = policy_to_dict(engine_policy)
    policy = Policy.objects.select_for_update().filter(entity=entity, key=engine_policy.key).first()
    if expected_version is not None and (policy is None or policy.version != expected_version):
        raise Conflict(
            POLICY_CHANGED_SINCE.format(
                key=engine_policy.key, current=policy.version if policy else "none", expected=expected_version
            )
        )
    created = policy is None
    if policy is None:
        policy = Policy(entity=entity, key=engine_policy.key, version=1)
    elif policy.spec == normalised and policy.name == engine_policy.name:
        return policy, False
    elif policy.spec != normalised:
        policy.version += 1
    policy.name = engine_policy.name
    policy.spec = normalised
    policy.full_clean()
    policy.save()
    PolicyVersion.objects.get_or_create(
        policy=policy,
        version=policy.version,
        defaults={
            "spec": normalised,
            "created_by": author if getattr(author, "is_authenticated", False) else None,
            "comment": " ".join(comment.split())[:POLICY_COMMENT_MAX],
            "restores": restores,
        },
    )
    return policy, created


@transaction.atomic
def policy_rollback(
    *, policy: Policy, version: int, author: Any, comment: str = "", expected_version: int | None = None
) -> Policy:
    """Make ``version``'s spec current again as a **new** version (history is never rewritten),
    recorded with who and why and audited as ``policy_rollback``. Refuses a version that does not
    exist and one equal to the current spec (nothing would change)."""
    from relance.audit.services import audit_record

    earlier = PolicyVersion.objects.filter(policy=policy, version=version).first()
    if earlier is None:
        raise ValidationFailed(POLICY_VERSION_UNKNOWN.format(key=policy.key, version=version))
    before = policy.version
    saved, _ = policy_import(
        entity=policy.entity,
        spec=earlier.spec,
        author=author,
        comment=comment or f"Rolled back to version {version}",
        expected_version=before if expected_version is None else expected_version,
        restores=version,
    )
    if saved.version == before:
        raise ValidationFailed(POLICY_UNCHANGED.format(key=policy.key))
    audit_record(
        action=POLICY_ROLLBACK_AUDIT_ACTION,
        actor=author,
        obj=saved,
        before={"version": before},
        after={"version": saved.version, "restores": version, "comment": comment},
    )
    return saved


def policy_specs_from_yaml(*, text: str, source: str = "<text>") -> list[Any]:
    """The policy mappings of a YAML document: one mapping, a list, or ``{policies: [...]}``."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationFailed(POLICY_YAML_INVALID.format(source=source, error=exc)) from None
    if isinstance(data, dict) and set(data) == {"policies"}:
        data = data["policies"]
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list) and data:
        return data
    raise ValidationFailed(POLICY_YAML_SHAPE.format(source=source, found=type(data).__name__))


@transaction.atomic
def policy_import_yaml(*, entity: Entity, text: str, source: str = "<text>") -> list[tuple[Policy, bool]]:
    """Import every policy of a YAML document, all or none."""
    specs = policy_specs_from_yaml(text=text, source=source)
    results = []
    for position, spec in enumerate(specs):
        try:
            results.append(policy_import(entity=entity, spec=spec))
        except ValidationFailed as exc:
            where = f"{source}" if len(specs) == 1 else f"{source}[{position}]"
            raise ValidationFailed(f"{where}: {exc.message}") from None
    return results


@transaction.atomic
def segment_policy_assign(*, entity: Entity, policy_key: str, segment: str = "") -> SegmentPolicy:
    """Customers of ``segment`` (empty: every customer not mapped otherwise) follow ``policy_key``."""
    policy = Policy.objects.filter(entity=entity, key=policy_key).first()
    if policy is None:
        known = ", ".join(Policy.objects.filter(entity=entity).values_list("key", flat=True)) or "none"
        raise ValidationFailed(POLICY_UNKNOWN.format(key=policy_key, entity=entity.name, known=known))
    mapping, _ = SegmentPolicy.objects.update_or_create(
        entity=entity, segment=segment.strip(), defaults={"policy": policy}
    )
    return mapping


@dataclass(frozen=True)
class ShippedPoliciesInstalled:
    """What ``policy_install_shipped`` did: each policy and whether it was new, and the default it set."""

    policies: tuple[tuple[Policy, bool], ...]
    default_key: str | None


@transaction.atomic
def policy_install_shipped(*, entity: Entity) -> ShippedPoliciesInstalled:
    """Import the shipped policies (white glove, standard, high risk) and, when the entity has no
    default policy yet, make ``standard`` its default: a new entity collects out of the box. An
    existing default is left alone (installing again changes nothing)."""
    installed = tuple(
        policy_import(entity=entity, spec=policy_to_dict(policy)) for policy in default_policies().values()
    )
    default_key = None
    if not SegmentPolicy.objects.filter(entity=entity, segment="").exists():
        segment_policy_assign(entity=entity, policy_key=SHIPPED_DEFAULT_POLICY)
        default_key = SHIPPED_DEFAULT_POLICY
    return ShippedPoliciesInstalled(policies=installed, default_key=default_key)


@transaction.atomic
def segment_policy_remove(*, entity: Entity, segment: str = "") -> bool:
    deleted, _ = SegmentPolicy.objects.filter(entity=entity, segment=segment.strip()).delete()
    return bool(deleted)


@transaction.atomic
def policy_delete(*, entity: Entity, key: str) -> bool:
    policy = Policy.objects.filter(entity=entity, key=key).first()
    if policy is None:
        return False
    segments = list(policy.segments.values_list("segment", flat=True))
    if segments:
        shown = ", ".join(segment or "(default)" for segment in segments)
        raise Conflict(POLICY_IN_USE.format(key=key, segments=shown))
    policy.delete()
    return True


# --------------------------------------------------------------------------- shared checks


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
    user: Any = None,
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
        created_by=user if getattr(user, "pk", None) else None,
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


def promise_settle(*, entity: Entity, as_of: date, policies: Mapping[str, EnginePolicy]) -> int:
    """Write back the state of each open promise on ``as_of``, by the one promise rule
    (``relance.core.promises``, docs/dunning.md): ``kept`` when paid by its cut-off (its date
    plus the policy's grace, or ``as_of`` while it runs), ``broken`` once that end has passed
    unpaid. The engine reads ``broken`` (dunning resumes at the reached step, flagged) and
    ``promise list`` shows both. Returns how many were marked (kept or broken).
    """
    marked = 0
    promises = Promise.objects.filter(entity=entity, status=PromiseStatus.OPEN, created_on__lte=as_of)
    for promise in promises.select_related("customer", "entity").prefetch_related("invoices"):
        key = customer_policy_key(customer=promise.customer)
        grace = policies[key].cadence.promise_grace_days if key is not None and key in policies else 0
        state = promise_state_on(promise=promise, as_of=as_of, grace_days=grace)
        if state == PROMISE_KEPT:
            promise.status = PromiseStatus.KEPT
        elif state == PROMISE_BROKEN:
            promise.status = PromiseStatus.BROKEN
        else:
            continue
        promise.save(update_fields=["status", "updated_at"])
        case_events.promise_closed(promise, actor=Actor.system(f"run {as_of}"))
        marked += 1
    return marked


# --------------------------------------------------------------------------- disputes


@transaction.atomic
def dispute_open(
    *,
    invoice: Invoice,
    reason_code: str,
    on: date,
    amount: Decimal | None = None,
    note: str = "",
    user: Any = None,
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
        created_by=user if getattr(user, "pk", None) else None,
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
    user: Any = None,
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
        created_by=user if getattr(user, "pk", None) else None,
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
def hold_add(
    *,
    customer: Customer,
    kind: str,
    reason: str,
    starts_on: date,
    ends_on: date | None = None,
    user: Any = None,
    actor: Actor,
) -> CustomerHold:
    """Stop dunning the customer (hold, legal case or do-not-contact) from ``starts_on``."""
    if kind not in HoldKind.values:
        raise ValidationFailed(f"unknown hold kind {kind!r}: expected one of {', '.join(HoldKind.values)}")
    if not reason.strip():
        raise ValidationFailed("a hold needs a reason")
    if ends_on is not None and ends_on < starts_on:
        raise ValidationFailed(HOLD_ENDS_BEFORE_START.format(ends=ends_on, starts=starts_on))
    hold = CustomerHold.objects.create(
        entity_id=customer.entity_id,
        customer=customer,
        kind=kind,
        reason=reason.strip(),
        starts_on=starts_on,
        ends_on=ends_on,
        created_by=user if getattr(user, "pk", None) else None,
    )
    case_events.hold_added(hold, actor=actor)
    return hold


@transaction.atomic
def hold_remove(*, customer: Customer, on: date, kind: str | None = None, actor: Actor) -> int:
    """Lift the customer's holds (of ``kind``) from ``on``: they last in force the day before.

    A hold that had not started yet by ``on`` never takes effect. Returns how many were lifted.
    """
    holds = CustomerHold.objects.select_for_update().filter(
        Q(ends_on__isnull=True) | Q(ends_on__gte=on), customer=customer
    )
    if kind:
        holds = holds.filter(kind=kind)
    lifted = list(holds)
    if not lifted:
        shown = f"{kind} " if kind else ""
        raise ValidationFailed(HOLD_NONE_ACTIVE.format(customer=customer.external_ref, kind=shown, on=on))
    for hold in lifted:
        hold.ends_on = on - timedelta(days=1)
        hold.save(update_fields=["ends_on", "updated_at"])
    case_events.holds_lifted(lifted, actor=actor)
    return len(lifted)


# --------------------------------------------------------------------------- the run


DecideFunction = Callable[..., Decisions]


@dataclass(frozen=True)
class RunOutcome:
    """What ``run_start`` did: the run row (None for a dry run), whether it is new, and the decisions."""

    entity: Entity
    as_of: date
    run: DunningRun | None
    created: bool
    dry_run: bool
    decisions: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)


def _lock_row_ensure(entity: Entity) -> None:
    """Create the entity's lock row in its own transaction (created inside the run's, a concurrent
    run would wait on the unique key instead of being refused)."""
    try:
        DunningLock.objects.get_or_create(entity=entity)
    except DatabaseError as exc:
        raise Conflict(RUN_IN_PROGRESS.format(entity=entity.name), code="run_in_progress") from exc


def _lock(entity: Entity, by: str) -> None:
    """Hold the entity's run lock until the transaction ends; refuse at once if another run has it."""
    try:
        if connection.vendor == "postgresql":
            DunningLock.objects.select_for_update(nowait=True).get(entity=entity)
        # On SQLite this write takes the database's write lock (held to the end of the transaction).
        DunningLock.objects.filter(entity=entity).update(locked_at=datetime.now(UTC), locked_by=by[:150])
    except DatabaseError as exc:
        raise Conflict(RUN_IN_PROGRESS.format(entity=entity.name), code="run_in_progress") from exc


def _chunks(values: Sequence[int], size: int = 5000) -> list[Sequence[int]]:
    return [values[start : start + size] for start in range(0, len(values), size)]


def _refs(model: Any, ids: set[int]) -> dict[int, str]:
    refs: dict[int, str] = {}
    for chunk in _chunks(sorted(ids)):
        refs.update(model.objects.filter(pk__in=chunk).values_list("pk", "external_ref"))
    return refs


def _ids(text: str | None) -> list[int]:
    return [int(part) for part in (text or "").split(",") if part]


def decisions_as_json(
    decisions: Sequence[Mapping[str, Any]], customer_refs: Mapping[int, str], invoice_refs: Mapping[int, str]
) -> list[dict[str, Any]]:
    """Engine decision rows as the JSON of ``relance run --json`` (refs instead of ids)."""
    import json

    result = []
    for row in decisions:
        reasons = row["reasons"]
        result.append(
            {
                "customer_ref": customer_refs.get(row["customer_id"], str(row["customer_id"])),
                "kind": row["kind"],
                "action": row["action"],
                "step": row["step_key"],
                "offset_days": row["offset_days"],
                "channel": row["channel"] or None,
                "tone": row["tone"],
                "template": row["template_key"],
                "policy": row["policy_key"],
                "invoice_refs": [invoice_refs.get(i, str(i)) for i in _ids(row["invoice_ids"])],
                "amount_due": str(row["amount_due"]),
                "currency": row["currency"],
                "max_days_past_due": row["max_days_past_due"],
                "broken_promise": bool(row["broken_promise"]),
                "catch_up": bool(row["catch_up"]),
                "reasons": json.loads(reasons) if isinstance(reasons, str) else reasons,
            }
        )
    return result


RUN_TIME = time(6, 0)


def run_instant(entity: Entity, as_of: date) -> datetime:
    """When a run's messages are released: 06:00 on ``as_of`` in the entity's time zone (the
    morning run). The engine derives each customer's day of delivery from it."""
    try:
        zone = ZoneInfo(entity.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.combine(as_of, RUN_TIME, tzinfo=zone)


def run_start(
    *,
    entity: Entity,
    as_of: date,
    dry_run: bool = False,
    started_by: str = "",
    decide_fn: DecideFunction | None = None,
    segment: bool = True,
) -> RunOutcome:
    """Decide and apply the entity's dunning for ``as_of`` in one transaction.

    Runs of an entity never overlap (a lock row; the second refuses with ``Conflict``), never
    repeat (a run of an already-run date adds nothing and returns what that run decided) and
    move forward only. ``dry_run`` computes the same decisions and writes nothing (even the
    installments marked paid on the way are rolled back). ``segment``: re-apply the entity's
    segmentation rules first (when it has any), so the policies follow today's behaviour; the
    changes are recorded in ``SegmentChange`` with the run.
    """
    from relance.dunning import selectors
    from relance.dunning.binding import app_dunning_tables

    if decide_fn is None:
        from relance.engine.dunning.decide import decide

        decide_fn = decide

    started_at = datetime.now(UTC)
    _lock_row_ensure(entity)
    try:
        with transaction.atomic():
            _lock(entity, started_by)
            existing = DunningRun.objects.filter(entity=entity, as_of=as_of).first()
            if existing is not None:
                return RunOutcome(
                    entity=entity,
                    as_of=as_of,
                    run=existing,
                    created=False,
                    dry_run=dry_run,
                    decisions=selectors.run_decisions(run=existing),
                    counts=existing.counts,
                )
            latest = DunningRun.objects.filter(entity=entity).aggregate(latest=Max("as_of"))["latest"]
            if latest is not None and as_of < latest:
                raise Conflict(
                    RUN_BEFORE_LATEST.format(entity=entity.name, latest=latest, as_of=as_of),
                    code="run_before_latest",
                )
            policies = selectors.policy_map(entity=entity)
            if not policies:
                raise ValidationFailed(RUN_NO_POLICY.format(entity=entity.name), code="no_policy")
            _customers_follow_a_policy(entity, policies)
            plan_installments_settle(entity=entity, as_of=as_of)
            promise_settle(entity=entity, as_of=as_of, policies=policies)
            segment_changes = None
            if segment and _has_segmentation_rules(entity):
                segment_changes = segment_assign(entity=entity, as_of=as_of, changed_by="relance run")
            backend, tables = app_dunning_tables(entity=entity)
            result = decide_fn(
                tables, policies, as_of=as_of, backend=backend, run_at=run_instant(entity, as_of)
            )
            versions = selectors.policy_versions(entity=entity)
            outcome = _apply(entity, as_of, result, started_at, started_by, dry_run, versions)
            if segment_changes is not None:
                outcome.counts["segment_changes"] = len(segment_changes)
                if outcome.run is not None:
                    outcome.run.counts = outcome.counts
                    outcome.run.save(update_fields=["counts"])
                    SegmentChange.objects.filter(
                        entity=entity, on=as_of, run__isnull=True, changed_by="relance run"
                    ).update(run=outcome.run)
            if dry_run:
                transaction.set_rollback(True)
            return outcome
    except IntegrityError as exc:
        # Two runs of the same date on a database without row locks: the unique run row decides.
        if DunningRun.objects.filter(entity=entity, as_of=as_of).exists():
            raise Conflict(RUN_IN_PROGRESS.format(entity=entity.name), code="run_in_progress") from exc
        raise


def _customers_follow_a_policy(entity: Entity, policies: Mapping[str, EnginePolicy]) -> None:
    """Refuse a run in which invoiced customers would follow no policy: they would never be chased,
    and the run would only say "no_policy" in its suppressions. The message names the one fix."""
    from relance.dunning import selectors

    unfollowed = selectors.customers_without_policy(entity=entity)
    if not unfollowed.count:
        return
    key = SHIPPED_DEFAULT_POLICY if SHIPPED_DEFAULT_POLICY in policies else sorted(policies)[0]
    several = Entity.objects.exclude(pk=entity.pk).exists()
    raise ValidationFailed(
        RUN_CUSTOMERS_WITHOUT_POLICY.format(
            count=unfollowed.count,
            entity=entity.name,
            segments=", ".join(repr(segment) if segment else "(none)" for segment in unfollowed.segments),
            key=key,
            entity_option=f" --entity {entity.name}" if several else "",
        ),
        code="no_policy",
    )


def _suppressions_record(
    entity: Entity, run: DunningRun, suppressed: Sequence[Mapping[str, Any]]
) -> tuple[int, int]:
    """Write what the run held back, summarised: a suppression identical (customer, invoice,
    reason, detail) to one the previous run of the entity recorded or extended extends that row
    (``last_run`` = this run, ``count`` + 1) instead of adding a row. Returns (added, extended)."""
    previous = DunningRun.objects.filter(entity=entity, as_of__lt=run.as_of).order_by("-as_of").first()
    open_rows: dict[tuple[int, int | None, str, str], int] = {}
    if previous is not None:
        candidates = Suppression.objects.filter(Q(last_run=previous) | Q(run=previous, last_run__isnull=True))
        for pk, customer_id, invoice_id, reason, detail in candidates.values_list(
            "pk", "customer_id", "invoice_id", "reason", "detail"
        ).iterator(chunk_size=20000):
            open_rows[(customer_id, invoice_id, reason, detail)] = pk
    extended: list[int] = []
    added: list[Suppression] = []
    for row in suppressed:
        key = (row["customer_id"], row["invoice_id"], row["reason"], row["detail"] or "")
        found = open_rows.get(key)
        if found is not None:
            del open_rows[key]
            extended.append(found)
        else:
            added.append(
                Suppression(
                    run=run,
                    last_run=run,
                    customer_id=key[0],
                    invoice_id=key[1],
                    reason=key[2],
                    detail=key[3],
                )
            )
    for chunk in _chunks(extended, 5000):
        Suppression.objects.filter(pk__in=chunk).update(last_run=run, count=F("count") + 1)
    Suppression.objects.bulk_create(added, batch_size=5000)
    return len(added), len(extended)


def _has_segmentation_rules(entity: Entity) -> bool:
    stored = SegmentationRules.objects.filter(entity=entity).first()
    return stored is not None and bool(stored.rules or stored.default_segment)


def _apply(
    entity: Entity,
    as_of: date,
    result: Decisions,
    started_at: datetime,
    started_by: str,
    dry_run: bool,
    versions: Mapping[str, int] | None = None,
) -> RunOutcome:
    import json

    rows = result.decisions.to_pylist()
    steps = result.invoice_steps.to_pylist()
    suppressed = result.suppressed.to_pylist()
    worklist = result.worklist.to_pylist()
    invoice_ids = {i for row in rows for i in _ids(row["invoice_ids"])}
    customer_refs = _refs(Customer, {row["customer_id"] for row in rows})
    invoice_refs = _refs(Invoice, invoice_ids)
    by_reason: dict[str, int] = {}
    for row in suppressed:
        by_reason[row["reason"]] = by_reason.get(row["reason"], 0) + 1
    by_action: dict[str, int] = {}
    for row in rows:
        by_action[row["action"]] = by_action.get(row["action"], 0) + 1
    counts = {
        "decisions": len(rows),
        "actions": by_action,
        "contacts": sum(1 for row in rows if row["action"] in CONTACT_ACTIONS),
        "invoices_advanced": len(steps),
        "suppressed": by_reason,
        "worklist": len(worklist),
    }
    decisions = decisions_as_json(rows, customer_refs, invoice_refs)
    if dry_run:
        return RunOutcome(entity, as_of, None, False, True, decisions, counts)

    run = DunningRun.objects.create(
        entity=entity,
        as_of=as_of,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        counts=counts,
        started_by=started_by[:150],
    )
    actions = DunningAction.objects.bulk_create(
        [
            DunningAction(
                run=run,
                entity=entity,
                customer_id=row["customer_id"],
                on=as_of,
                kind=row["kind"],
                policy_key=row["policy_key"],
                policy_version=(versions or {}).get(row["policy_key"]),
                step_key=row["step_key"],
                step_index=row["step_index"],
                offset_days=row["offset_days"],
                action=row["action"],
                channel=row["channel"] or "",
                is_contact=row["action"] in CONTACT_ACTIONS,
                tone=row["tone"] or "",
                template_key=row["template_key"] or "",
                currency=row["currency"],
                amount_due=row["amount_due"],
                invoice_count=row["invoice_count"],
                max_days_past_due=row["max_days_past_due"],
                broken_promise=bool(row["broken_promise"]),
                catch_up=bool(row["catch_up"]),
                reasons=json.loads(row["reasons"]) if row["reasons"] else [],
                status=ActionStatus.QUEUED,
            )
            for row in rows
        ],
        batch_size=2000,
    )
    action_by_decision = {row["decision_id"]: action for row, action in zip(rows, actions, strict=True)}
    through = DunningAction.invoices.through
    through.objects.bulk_create(
        [
            through(dunningaction_id=action_by_decision[row["decision_id"]].pk, invoice_id=invoice_id)
            for row in rows
            for invoice_id in _ids(row["invoice_ids"])
        ],
        batch_size=5000,
    )
    _internal_records(entity, as_of, rows, action_by_decision)
    case_events.run_internal_records(
        run=run,
        holds=CreditHold.objects.filter(action__run=run),
        hand_offs=ExternalCollection.objects.filter(action__run=run),
    )
    policy_by_decision = {row["decision_id"]: row["policy_key"] for row in rows}
    InvoiceStep.objects.bulk_create(
        [
            InvoiceStep(
                invoice_id=row["invoice_id"],
                run=run,
                action=action_by_decision[row["decision_id"]],
                entity=entity,
                policy_key=policy_by_decision[row["decision_id"]],
                policy_version=(versions or {}).get(policy_by_decision[row["decision_id"]]),
                step_key=row["step_key"],
                step_index=row["step_index"],
                reached_on=row["reached_on"],
            )
            for row in steps
        ],
        batch_size=5000,
    )
    _suppressions_record(entity, run, suppressed)
    WorklistEntry.objects.bulk_create(
        [
            WorklistEntry(
                run=run,
                customer_id=row["customer_id"],
                currency=row["currency"],
                priority=row["priority"],
                overdue_amount=row["overdue_amount"],
                max_days_past_due=row["max_days_past_due"],
                risk=row["risk"] or "",
                broken_promises=row["broken_promises"],
                days_since_contact=row["days_since_contact"],
                factors=json.loads(row["factors"]) if row["factors"] else {},
            )
            for row in worklist
        ],
        batch_size=5000,
    )
    return RunOutcome(entity, as_of, run, True, False, decisions, counts)


def _internal_records(
    entity: Entity, as_of: date, rows: Sequence[Mapping[str, Any]], action_by_decision: Mapping[int, Any]
) -> None:
    """What internal actions leave behind: a credit hold (no new orders; dunning goes on) and a
    hand-off to external collection. One active hold and one open hand-off per customer."""
    holds = [row for row in rows if row["action"] == "credit_hold"]
    hand_offs = [row for row in rows if row["action"] == "external_collection"]
    if holds:
        already = set(
            CreditHold.objects.filter(
                customer_id__in=[row["customer_id"] for row in holds], status=CreditHoldStatus.ACTIVE
            ).values_list("customer_id", flat=True)
        )
        CreditHold.objects.bulk_create(
            [
                CreditHold(
                    entity=entity,
                    customer_id=row["customer_id"],
                    action=action_by_decision[row["decision_id"]],
                    placed_on=as_of,
                    reason=f"{row['policy_key']}: {row['step_key']} at {row['max_days_past_due']} days past due, "
                    f"{row['amount_due']} {row['currency']} due",
                )
                for row in holds
                if row["customer_id"] not in already
            ]
        )
    if hand_offs:
        already = set(
            ExternalCollection.objects.filter(
                customer_id__in=[row["customer_id"] for row in hand_offs], status__in=HANDOFF_OPEN
            ).values_list("customer_id", flat=True)
        )
        for row in hand_offs:
            if row["customer_id"] in already:
                continue
            hand_off = ExternalCollection.objects.create(
                entity=entity,
                customer_id=row["customer_id"],
                action=action_by_decision[row["decision_id"]],
                handed_on=as_of,
                amount=row["amount_due"],
                currency=row["currency"],
                status_changed_on=as_of,
                status_changed_by="run",
            )
            hand_off.invoices.set(_ids(row["invoice_ids"]))


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


# --------------------------------------------------------------------------- segmentation


@dataclass(frozen=True)
class SegmentProposal:
    customer_ref: str
    before: str
    after: str
    rule: int  # 1-based rule that matched; 0 = the default segment
    evidence: str


@transaction.atomic
def segmentation_rules_set(*, entity: Entity, rules: Any, default_segment: str = "") -> SegmentationRules:
    """Store the entity's ordered rules after the engine validated them (every problem listed)."""
    segment_rules_from_list(rules)
    stored, _ = SegmentationRules.objects.update_or_create(
        entity=entity, defaults={"rules": rules, "default_segment": default_segment.strip()}
    )
    return stored


@transaction.atomic
def segment_assign(
    *,
    entity: Entity,
    as_of: date,
    dry_run: bool = False,
    run: DunningRun | None = None,
    changed_by: str = "relance segment apply",
) -> list[SegmentProposal]:
    """Give each customer the segment of the first rule it matches on ``as_of`` (behaviour included).

    Customers matching no rule get the default segment when there is one and keep theirs
    otherwise, so that segments set by hand survive rules that do not speak about them. Each
    change is kept in ``SegmentChange`` (from, to, the rule and its evidence; ``run`` when the
    daily run made it).
    """
    from relance.dunning import selectors

    rows = selectors.customer_segments(entity=entity, as_of=as_of)
    changes = [
        SegmentProposal(row["customer_ref"], row["segment"], row["proposed"], row["rule"], row["evidence"])
        for row in rows
        if row["proposed"] is not None and row["proposed"] != row["segment"]
    ]
    if changes and not dry_run:
        by_ref = {change.customer_ref: change for change in changes}
        customers = list(Customer.objects.filter(entity=entity, external_ref__in=list(by_ref)))
        for customer in customers:
            customer.segment = by_ref[customer.external_ref].after
        Customer.objects.bulk_update(customers, ["segment"], batch_size=2000)
        data_version_bump(entity_id=entity.pk, earliest=None)  # segments group every date; no signals
        SegmentChange.objects.bulk_create(
            [
                SegmentChange(
                    entity=entity,
                    customer=customer,
                    run=run,
                    on=as_of,
                    from_segment=by_ref[customer.external_ref].before,
                    to_segment=by_ref[customer.external_ref].after,
                    rule=by_ref[customer.external_ref].rule,
                    evidence=by_ref[customer.external_ref].evidence,
                    changed_by=changed_by[:150],
                )
                for customer in customers
            ],
            batch_size=2000,
        )
    return changes


# --------------------------------------------------------------------------- customer attributes


@transaction.atomic
def customer_attribute_set(*, customer: Customer, name: str, value: str) -> CustomerAttribute:
    """Set (or replace) the customer's attribute ``name``; conditions read it as ``custom.NAME``."""
    attribute = CustomerAttribute.objects.filter(customer=customer, name=name).first() or CustomerAttribute(
        entity_id=customer.entity_id, customer=customer, name=name
    )
    attribute.value = value
    attribute.full_clean()
    attribute.save()
    return attribute


# --------------------------------------------------------------------------- contacts made by hand

CONTACT_CHANNEL_UNKNOWN = "unknown channel {channel!r}: expected one of {choices}"


@transaction.atomic
def contact_log(
    *, customer: Customer, on: date, channel: str, note: str = "", user: Any = None, actor: Actor
) -> ContactLog:
    """Record a contact made outside the run; the next runs count it for the cadence."""
    from relance.engine.dunning.policy import CHANNELS

    if channel not in CHANNELS:
        raise ValidationFailed(CONTACT_CHANNEL_UNKNOWN.format(channel=channel, choices=", ".join(CHANNELS)))
    log = ContactLog.objects.create(
        entity_id=customer.entity_id,
        customer=customer,
        on=on,
        channel=channel,
        note=note,
        created_by=user if getattr(user, "pk", None) else None,
    )
    case_events.contact_logged(log, actor=actor)
    return log

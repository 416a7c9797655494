"""Reads of the collections app: policies, runs, the worklist, what is owed now (a customer's case: ``relance.cases.selectors``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from time import monotonic
from typing import Any

import yaml
from django.db.models import Count, Q, QuerySet

from relance.cases.models import (
    HANDOFF_OPEN,
    CreditHold,
    CreditHoldStatus,
    ExternalCollection,
    PaymentPlan,
    PlanStatus,
    Promise,
)
from relance.cases.selectors import disputed_by_invoice, promise_state_on
from relance.core.errors import NotFound, ValidationFailed
from relance.core.formatting import format_money
from relance.core.promises import ACTIVE, PromiseTerms
from relance.dunning.models import (
    DunningAction,
    DunningRun,
    Policy,
    PolicyVersion,
    SegmentationRules,
    SegmentPolicy,
    Suppression,
    WorklistEntry,
)
from relance.engine.dunning.policy import Policy as EnginePolicy
from relance.engine.dunning.policy import policy_from_dict
from relance.ledger.models import Customer, Entity, Payment
from relance.ledger.selectors import customer_invoices_with_open, invoice_list_with_open
from relance.ledger.sql_values import stored_day, stored_money

POLICY_NOT_FOUND = "no policy {key!r} in entity {entity} (known: {known})"
NO_RUN_YET = "entity {entity} has no dunning run yet: run `relance run --as-of DATE` first"


def policy_list(*, entity: Entity) -> QuerySet[Policy]:
    return Policy.objects.filter(entity=entity).order_by("key")


def policy_get(*, entity: Entity, key: str) -> Policy:
    policy = Policy.objects.filter(entity=entity, key=key).first()
    if policy is None:
        known = ", ".join(policy_list(entity=entity).values_list("key", flat=True)) or "none"
        raise NotFound(POLICY_NOT_FOUND.format(key=key, entity=entity.name, known=known))
    return policy


def policy_map(*, entity: Entity) -> dict[str, EnginePolicy]:
    """The entity's policies as the engine's dataclasses, by key (what ``decide`` takes)."""
    return {policy.key: policy_from_dict(policy.spec) for policy in policy_list(entity=entity)}


def policy_versions(*, entity: Entity) -> dict[str, int]:
    """The current version of each of the entity's policies, by key (what a run records)."""
    return dict(Policy.objects.filter(entity=entity).values_list("key", "version"))


def policy_export_yaml(*, policy: Policy) -> str:
    """The policy as YAML, in the order a person reads it (key, name, cadence, steps)."""
    text: str = yaml.safe_dump(policy.spec, sort_keys=False, allow_unicode=True, width=100)
    return text


def policy_version_list(*, policy: Policy) -> QuerySet[PolicyVersion]:
    """Every stored version of ``policy``, newest first, with its author."""
    return PolicyVersion.objects.filter(policy=policy).select_related("created_by").order_by("-version")


def policy_version_yaml(*, spec: Mapping[str, Any]) -> str:
    """A spec as YAML in the export's form (what the editor shows and the diffs compare)."""
    text: str = yaml.safe_dump(dict(spec), sort_keys=False, allow_unicode=True, width=100)
    return text


def segment_policy_list(*, entity: Entity) -> QuerySet[SegmentPolicy]:
    return SegmentPolicy.objects.filter(entity=entity).select_related("policy").order_by("segment")


#: Within ``policy_lookups_cached()`` (a delivery pass, which asks for every message) the policy
#: each segment follows and a policy's version and spec are read once per this many seconds.
POLICY_LOOKUP_SECONDS = 30.0
_PASS_LOOKUPS: ContextVar[dict[Any, tuple[float, Any]] | None] = ContextVar("policy_lookups", default=None)


@contextmanager
def policy_lookups_cached() -> Iterator[None]:
    """Read policy lookups once per ``POLICY_LOOKUP_SECONDS`` in this block (they change rarely);
    outside such a block every call reads the database."""
    token = _PASS_LOOKUPS.set({})
    try:
        yield
    finally:
        _PASS_LOOKUPS.reset(token)


def _looked_up(key: tuple[Any, ...], read: Callable[[], Any]) -> Any:
    cache = _PASS_LOOKUPS.get()
    if cache is None:
        return read()
    hit = cache.get(key)
    if hit is not None and hit[0] > monotonic():
        return hit[1]
    value = read()
    cache[key] = (monotonic() + POLICY_LOOKUP_SECONDS, value)
    return value


@dataclass(frozen=True)
class PolicyAssignment:
    """Which policy an entity's customers follow: the one rule, in one place.

    A customer follows its segment's policy, else the entity's default (the mapping of the empty
    segment), else none. ``by_segment``: segment → policy key, as ``SegmentPolicy`` maps them.
    """

    by_segment: Mapping[str, str]

    def key_for(self, segment: str) -> str | None:
        """The key a customer of ``segment`` follows (None: no policy, the run reports it)."""
        return self.by_segment.get(segment) or self.default_key

    @property
    def default_key(self) -> str | None:
        """The key of a customer whose segment has no mapping of its own."""
        return self.by_segment.get("") or None


def policy_assignment(*, entity_id: int) -> PolicyAssignment:
    """The entity's segment → policy mappings (one query; memoised within a pass)."""
    return _looked_up(
        ("segments", entity_id),
        lambda: PolicyAssignment(
            dict(SegmentPolicy.objects.filter(entity_id=entity_id).values_list("segment", "policy__key"))
        ),
    )


def customer_policy_keys(*, entity_id: int, customer_ids: Iterable[int] | None = None) -> dict[int, str]:
    """Customer id → the key of the policy it follows, for the entity's customers (of
    ``customer_ids`` when given); customers that follow none are left out. Two queries."""
    assignment = policy_assignment(entity_id=entity_id)
    customers = Customer.objects.filter(entity_id=entity_id)
    if customer_ids is not None:
        customers = customers.filter(pk__in=list(customer_ids))
    keys = {pk: assignment.key_for(segment) for pk, segment in customers.values_list("pk", "segment")}
    return {pk: key for pk, key in keys.items() if key}


def customer_policy_key(*, customer: Customer) -> str | None:
    """The policy the customer follows (``PolicyAssignment``), for a customer already loaded."""
    return policy_assignment(entity_id=customer.entity_id).key_for(customer.segment)


@dataclass(frozen=True)
class CustomersWithoutPolicy:
    """Invoiced customers a run would not chase for want of a policy, and their segments."""

    count: int
    segments: tuple[str, ...]


def customers_without_policy(*, entity: Entity) -> CustomersWithoutPolicy:
    """Customers with invoices whose segment has no policy while the entity has no default one."""
    assignment = policy_assignment(entity_id=entity.pk)
    if assignment.default_key:
        return CustomersWithoutPolicy(count=0, segments=())
    mapped = [segment for segment in assignment.by_segment if assignment.key_for(segment)]
    by_segment = dict(
        Customer.objects.filter(entity=entity, invoices__isnull=False)
        .exclude(segment__in=mapped)
        .order_by()
        .values("segment")
        .annotate(customers=Count("pk", distinct=True))
        .values_list("segment", "customers")
    )
    return CustomersWithoutPolicy(count=sum(by_segment.values()), segments=tuple(sorted(by_segment)))


def run_latest(*, entity: Entity) -> DunningRun:
    run = DunningRun.objects.filter(entity=entity).order_by("-as_of").first()
    if run is None:
        raise NotFound(NO_RUN_YET.format(entity=entity.name), code="no_run")
    return run


def suppression_list_of_run(*, run: DunningRun) -> QuerySet[Suppression]:
    """What ``run`` held back: the rows it wrote, and earlier rows it extended (summarised runs).

    A row stands for every run of its entity from ``run`` to ``last_run``.
    """
    return Suppression.objects.filter(run__entity_id=run.entity_id, run__as_of__lte=run.as_of).filter(
        Q(last_run__as_of__gte=run.as_of) | Q(last_run__isnull=True, run=run)
    )


def run_decisions(*, run: DunningRun) -> list[dict[str, Any]]:
    """The decisions a run applied, in the same JSON form as when it ran."""
    actions = (
        DunningAction.objects.filter(run=run)
        .select_related("customer")
        .prefetch_related("invoices")
        .order_by("id")
    )
    return [action_as_dict(action) for action in actions]


def action_as_dict(action: DunningAction) -> dict[str, Any]:
    """One decision of a run in its JSON form (``relance run --json``, the API's run actions);
    needs ``customer`` and the prefetched ``invoices``."""
    return {
        "customer_ref": action.customer.external_ref,
        "kind": action.kind,
        "action": action.action,
        "step": action.step_key,
        "offset_days": action.offset_days,
        "channel": action.channel or None,
        "tone": action.tone,
        "template": action.template_key,
        "policy": action.policy_key,
        "invoice_refs": sorted(
            (invoice.external_ref for invoice in action.invoices.all()),
        ),
        "amount_due": str(action.amount_due),
        "currency": action.currency,
        "max_days_past_due": action.max_days_past_due,
        "broken_promise": action.broken_promise,
        "catch_up": action.catch_up,
        "reasons": action.reasons,
    }


def worklist_rows(
    *, entity: Entity, collector_email: str | None = None, run: DunningRun | None = None
) -> tuple[DunningRun, list[dict[str, Any]]]:
    """The worklist of the entity's latest run (or ``run``), highest priority first.

    ``collector_email`` keeps the customers whose collector has that e-mail address.
    """
    run = run or run_latest(entity=entity)
    entries = WorklistEntry.objects.filter(run=run).select_related("customer", "customer__collector")
    if collector_email:
        entries = entries.filter(customer__collector__email__iexact=collector_email.strip())
    on_hold = set(
        CreditHold.objects.filter(entity=entity, status=CreditHoldStatus.ACTIVE).values_list(
            "customer_id", flat=True
        )
    )
    handed_off = set(
        ExternalCollection.objects.filter(entity=entity, status__in=HANDOFF_OPEN).values_list(
            "customer_id", flat=True
        )
    )
    rows = []
    for entry in entries.order_by("-priority", "customer__external_ref"):
        collector = entry.customer.collector
        rows.append(
            {
                "customer_ref": entry.customer.external_ref,
                "customer_name": entry.customer.name,
                "collector": collector.email if collector is not None else None,
                "priority": round(entry.priority, 2),
                "currency": entry.currency,
                "overdue_amount": str(entry.overdue_amount),
                "max_days_past_due": entry.max_days_past_due,
                "risk": entry.risk,
                "broken_promises": entry.broken_promises,
                "days_since_contact": entry.days_since_contact,
                "factors": entry.factors,
                "credit_hold": entry.customer_id in on_hold,
                "external_collection": entry.customer_id in handed_off,
            }
        )
    return run, rows


def segmentation_rules_get(*, entity: Entity) -> SegmentationRules | None:
    return SegmentationRules.objects.filter(entity=entity).first()


def customer_behaviour_rows(*, entity: Entity, as_of: date) -> list[dict[str, Any]]:
    """Each customer's behaviour class, its metrics and the evidence, computed by the engine."""
    from relance.dunning.binding import app_dunning_tables
    from relance.engine.dunning.behaviour import customer_behaviour

    backend, tables = app_dunning_tables(entity=entity)
    rows: list[dict[str, Any]] = customer_behaviour(tables, as_of, backend=backend).to_pylist()
    return rows


def customer_segments(*, entity: Entity, as_of: date) -> list[dict[str, Any]]:
    """Per customer: current segment, behaviour, the segment the rules give (None: keep) and why."""
    import pyarrow as pa

    from relance.engine.dunning.behaviour import segment_customers, segment_rules_from_list

    stored = segmentation_rules_get(entity=entity)
    rules = segment_rules_from_list(stored.rules if stored else [])
    default = stored.default_segment if stored else ""
    behaviour = customer_behaviour_rows(entity=entity, as_of=as_of)
    refs = dict(Customer.objects.filter(entity=entity).values_list("pk", "external_ref"))
    current = dict(Customer.objects.filter(entity=entity).values_list("pk", "segment"))
    assigned = (
        segment_customers(pa.Table.from_pylist(behaviour), rules, default=default).to_pylist()
        if behaviour
        else []
    )
    by_customer = {row["customer_id"]: row for row in behaviour}
    result = []
    for row in assigned:
        customer_id = row["customer_id"]
        matched = row["rule"] > 0 or bool(default)
        result.append(
            {
                "customer_ref": refs.get(customer_id, str(customer_id)),
                "segment": current.get(customer_id, ""),
                "behaviour": by_customer[customer_id]["behaviour"],
                "proposed": row["segment"] if matched else None,
                "rule": int(row["rule"]),
                "evidence": row["evidence"],
            }
        )
    return sorted(result, key=lambda item: item["customer_ref"])


# --------------------------------------------------------------------------- what is owed now
#
# One home for "how much does this customer owe, and may we still ask for it": messages,
# statements, the portal and the send-time check all read ``owed_summary``; the delivery
# worker asks ``message_still_due`` just before a dunning message leaves.


@dataclass(frozen=True)
class OwedLine:
    """One open invoice: what is open, what of it is under dispute, what may be asked for."""

    invoice_id: int
    ref: str
    currency: str
    issue_date: date
    due_date: date
    amount: Decimal
    open_amount: Decimal
    disputed: Decimal
    days_past_due: int
    po_number: str = ""

    @property
    def owed(self) -> Decimal:
        """Open minus disputed (never below zero): the part a message may demand."""
        return max(self.open_amount - self.disputed, Decimal(0))


@dataclass(frozen=True)
class OwedTotal:
    """Per currency: open, disputed, owed, of which overdue, and cash received but not yet applied."""

    currency: str
    open_amount: Decimal
    disputed: Decimal
    owed: Decimal
    overdue_owed: Decimal
    unapplied: Decimal
    count: int

    @property
    def payable(self) -> Decimal:
        """What is left to pay once unapplied cash and credit notes are counted."""
        return max(self.owed - self.unapplied, Decimal(0))


@dataclass(frozen=True)
class UnappliedItem:
    """A payment or credit note not (wholly) allocated on the date: cash the customer is owed back
    or that still has to be matched."""

    kind: str  # "payment" or "credit_note"
    ref: str
    date: date
    currency: str
    amount: Decimal
    left: Decimal


@dataclass(frozen=True)
class OwedSummary:
    as_of: date
    lines: tuple[OwedLine, ...]
    totals: tuple[OwedTotal, ...]
    unapplied: tuple[UnappliedItem, ...] = ()

    def unapplied_by_currency(self) -> dict[str, Decimal]:
        """Unapplied credit per currency (payments and credit notes not wholly allocated): the
        figure the summary nets from what is payable, for pages that show it alone (the 360)."""
        totals: dict[str, Decimal] = {}
        for item in self.unapplied:
            totals[item.currency] = totals.get(item.currency, Decimal(0)) + item.left
        return totals

    def total(self, currency: str) -> OwedTotal:
        for total in self.totals:
            if total.currency == currency:
                return total
        zero = Decimal(0)
        return OwedTotal(currency, zero, zero, zero, zero, zero, 0)

    def amount_due(self, *, currency: str, invoice_ids: Iterable[int] | None = None) -> Decimal:
        """What a message about ``invoice_ids`` (all open ones when None) may ask for in ``currency``:
        their owed part, never more than the customer's payable total in that currency."""
        wanted = None if invoice_ids is None else set(invoice_ids)
        owed = sum(
            (
                line.owed
                for line in self.lines
                if line.currency == currency and (wanted is None or line.invoice_id in wanted)
            ),
            Decimal(0),
        )
        return min(owed, self.total(currency).payable)

    def disputed(self, *, currency: str, invoice_ids: Iterable[int] | None = None) -> Decimal:
        wanted = None if invoice_ids is None else set(invoice_ids)
        return sum(
            (
                line.disputed
                for line in self.lines
                if line.currency == currency and (wanted is None or line.invoice_id in wanted)
            ),
            Decimal(0),
        )


def owed_summary(
    *,
    customer: Customer,
    as_of: date,
    invoice_ids: Iterable[int] | None = None,
    scope: Iterable[int] | None = None,
) -> OwedSummary:
    """The customer's open invoices on ``as_of`` (or only ``invoice_ids``, open or not) with their
    disputed part, and per currency the totals and the unapplied cash (payments and credit notes
    not yet allocated), all from dated rows: the same figures whichever page or message asks.

    ``scope``: the customer ids to sum over (a parent and its child accounts, in the portal);
    the customer alone by default. Inside a delivery batch (``send_facts_batch``) the facts of
    the batch's messages are read once for the batch, then summed here the same way."""
    from relance.ledger.selectors import STILL_OWED

    wanted = None if invoice_ids is None else list(invoice_ids)
    facts = _batch_facts(as_of)
    if (
        facts is not None
        and scope is None
        and wanted is not None
        and customer.pk in facts.customers
        and all(invoice_id in facts.invoices for invoice_id in wanted)
    ):
        return _summary_from(
            as_of,
            [facts.invoices[invoice_id] for invoice_id in wanted],
            facts.disputed,
            facts.unapplied.get(customer.pk, []),
        )
    customer_ids = list(scope) if scope is not None else [customer.pk]
    rows = customer_invoices_with_open(entity_id=customer.entity_id, customer_ids=customer_ids, as_of=as_of)
    rows = rows.filter(pk__in=wanted) if wanted is not None else rows.filter(open_amount__gt=STILL_OWED)
    return _summary_from(
        as_of,
        list(rows.order_by("due_date", "external_ref").values_list(*_INVOICE_FIELDS)),
        disputed_by_invoice(customer_ids=customer_ids, as_of=as_of),
        _unapplied_items(customer_ids, as_of).get(None, []),
    )


_INVOICE_FIELDS = (
    "pk",
    "external_ref",
    "currency",
    "issue_date",
    "due_date",
    "amount",
    "open_amount",
    "po_number",
)


def _unapplied_items(
    customer_ids: list[int], as_of: date, *, by_customer: bool = False
) -> dict[Any, list[UnappliedItem]]:
    """Payments and credit notes not wholly allocated on ``as_of``: all under the key None, or
    per customer id with ``by_customer``."""
    from relance.ledger.models import CreditNote
    from relance.ledger.selectors import STILL_OWED, allocated_total

    items: dict[Any, list[UnappliedItem]] = {}
    for model, field in ((CreditNote, "credit_note"), (Payment, "payment")):
        for customer_id, ref, on, currency, amount, allocated in (
            model.objects.filter(customer_id__in=customer_ids, date__lte=as_of)
            .annotate(allocated=allocated_total(field, as_of))
            .order_by("date", "external_ref")
            .values_list("customer_id", "external_ref", "date", "currency", "amount", "allocated")
        ):
            left = stored_money(amount) - stored_money(allocated)
            if left > STILL_OWED:
                key = customer_id if by_customer else None
                items.setdefault(key, []).append(
                    UnappliedItem(field, ref, on, currency, stored_money(amount), left)
                )
    return items


def _summary_from(
    as_of: date, rows: list[tuple[Any, ...]], disputed: dict[int, Decimal], items: list[UnappliedItem]
) -> OwedSummary:
    """The one rule: owed = open − disputed per invoice; per currency the totals and the unapplied cash."""
    lines = []
    for pk, ref, currency, issue_date, due_date, amount, open_raw, po_number in rows:
        open_amount = max(stored_money(open_raw), Decimal(0))
        lines.append(
            OwedLine(
                invoice_id=pk,
                ref=ref,
                currency=currency,
                issue_date=issue_date,
                due_date=due_date,
                amount=amount,
                open_amount=open_amount,
                disputed=min(stored_money(disputed.get(pk)), open_amount),
                days_past_due=(as_of - due_date).days,
                po_number=po_number,
            )
        )
    unapplied: dict[str, Decimal] = {}
    for item in items:
        unapplied[item.currency] = unapplied.get(item.currency, Decimal(0)) + item.left
    totals = []
    for currency in sorted({line.currency for line in lines} | set(unapplied)):
        mine = [line for line in lines if line.currency == currency and line.open_amount > 0]
        totals.append(
            OwedTotal(
                currency=currency,
                open_amount=sum((line.open_amount for line in mine), Decimal(0)),
                disputed=sum((line.disputed for line in mine), Decimal(0)),
                owed=sum((line.owed for line in mine), Decimal(0)),
                overdue_owed=sum((line.owed for line in mine if line.days_past_due > 0), Decimal(0)),
                unapplied=unapplied.get(currency, Decimal(0)),
                count=len(mine),
            )
        )
    return OwedSummary(as_of=as_of, lines=tuple(lines), totals=tuple(totals), unapplied=tuple(items))


# --------------------------------------------------------------------------- the owed figures alone
#
# A page that shows only the figures (the portal's overview) does not need one line per open
# invoice: the sums are linear in the lines (owed = open − disputed, disputed ≤ open), so the
# database adds up the open amounts per currency and only the disputed invoices go through the
# rule above (``_summary_from``) for their disputed part. Same figures as ``owed_summary``
# (tests/portal/test_same_figures.py holds them equal), a few rows read instead of thousands.


@dataclass(frozen=True)
class OwedFigures:
    """One currency's figures: the ``OwedTotal`` and what the overview shows beside it."""

    total: OwedTotal
    overdue_count: int
    next_due: date | None
    next_due_owed: Decimal


@dataclass(frozen=True)
class OwedOverview:
    as_of: date
    figures: tuple[OwedFigures, ...]
    overdue: tuple[OwedLine, ...]
    """The first overdue open invoices, due first then by ref (as ``owed_summary`` orders them)."""


_OWED_SUMS = (
    "SELECT currency, COUNT(*), SUM(open_amount),"
    " SUM(CASE WHEN due_date < %s THEN open_amount ELSE 0 END),"
    " SUM(CASE WHEN due_date < %s THEN 1 ELSE 0 END),"
    " MIN(CASE WHEN due_date >= %s THEN due_date END)"
)


def owed_overview(
    *, customer: Customer, as_of: date, scope: Iterable[int] | None = None, overdue_limit: int = 5
) -> OwedOverview:
    """``owed_summary``'s totals per currency, the overdue count and next due date, and the
    ``overdue_limit`` oldest overdue lines, summed by the database."""
    from django.db import connection

    from relance.ledger.selectors import STILL_OWED

    customer_ids = list(scope) if scope is not None else [customer.pk]
    rows = customer_invoices_with_open(
        entity_id=customer.entity_id, customer_ids=customer_ids, as_of=as_of
    ).filter(open_amount__gt=STILL_OWED)
    inner, params = rows.values_list("currency", "due_date", "open_amount").query.sql_with_params()
    day = connection.ops.adapt_datefield_value(as_of)
    with connection.cursor() as cursor:
        sql = f"{_OWED_SUMS} FROM ({inner}) owed GROUP BY currency"
        cursor.execute(sql, [day, day, day, *params])
        sums = {row[0]: row[1:] for row in cursor.fetchall()}
    next_dues = {currency: stored_day(found[4]) for currency, found in sums.items() if found[4] is not None}
    next_due_open: dict[str, Decimal] = {}
    if next_dues:
        pairs = Q()
        for currency, due in next_dues.items():
            pairs |= Q(currency=currency, due_date=due)
        inner, params = rows.filter(pairs).values_list("currency", "open_amount").query.sql_with_params()
        with connection.cursor() as cursor:
            sql = f"SELECT currency, SUM(open_amount) FROM ({inner}) due GROUP BY currency"  # noqa: S608
            cursor.execute(sql, params)
            next_due_open = {currency: stored_money(total) for currency, total in cursor.fetchall()}
    disputed = disputed_by_invoice(customer_ids=customer_ids, as_of=as_of)
    disputed_lines = (
        _summary_from(
            as_of, list(rows.filter(pk__in=list(disputed)).values_list(*_INVOICE_FIELDS)), disputed, []
        ).lines
        if disputed
        else ()
    )
    oldest = rows.filter(due_date__lt=as_of).order_by("due_date", "external_ref")[:overdue_limit]
    overdue = _summary_from(as_of, list(oldest.values_list(*_INVOICE_FIELDS)), disputed, []).lines
    unapplied: dict[str, Decimal] = {}
    for item in _unapplied_items(customer_ids, as_of).get(None, []):
        unapplied[item.currency] = unapplied.get(item.currency, Decimal(0)) + item.left
    figures = []
    zero = Decimal(0)
    for currency in sorted(set(sums) | set(unapplied)):
        count, open_sum, overdue_open, overdue_count, _ = sums.get(currency, (0, zero, zero, 0, None))
        mine = [line for line in disputed_lines if line.currency == currency]
        disputed_sum = sum((line.disputed for line in mine), zero)
        overdue_disputed = sum((line.disputed for line in mine if line.days_past_due > 0), zero)
        next_due = next_dues.get(currency)
        next_due_disputed = sum((line.disputed for line in mine if line.due_date == next_due), zero)
        open_amount = stored_money(open_sum)
        figures.append(
            OwedFigures(
                total=OwedTotal(
                    currency=currency,
                    open_amount=open_amount,
                    disputed=disputed_sum,
                    owed=open_amount - disputed_sum,
                    overdue_owed=stored_money(overdue_open) - overdue_disputed,
                    unapplied=unapplied.get(currency, zero),
                    count=int(count),
                ),
                overdue_count=int(overdue_count or 0),
                next_due=next_due,
                next_due_owed=next_due_open.get(currency, zero) - next_due_disputed,
            )
        )
    return OwedOverview(as_of=as_of, figures=tuple(figures), overdue=overdue)


# --------------------------------------------------------------------------- a delivery batch's facts


@dataclass
class _SendFacts:
    """What the send-time rule reads, for the customers and invoices of a batch of messages."""

    customers: set[int]
    invoices: dict[int, tuple[Any, ...]]
    disputed: dict[int, Decimal]
    unapplied: dict[Any, list[UnappliedItem]]
    promises: dict[int, list[Promise]]
    on_plan: set[int]


_SEND_FACTS: ContextVar[dict[date, _SendFacts] | None] = ContextVar("send_facts", default=None)


@contextmanager
def send_facts_batch() -> Iterator[None]:
    """Within this block (a delivery pass), ``send_facts_load`` reads the facts of a batch of
    messages in a few queries; the rule then answers from them instead of querying per message."""
    token = _SEND_FACTS.set({})
    try:
        yield
    finally:
        _SEND_FACTS.reset(token)


def _batch_facts(on: date) -> _SendFacts | None:
    loaded = _SEND_FACTS.get()
    return loaded.get(on) if loaded is not None else None


def send_facts_load(*, wanted: Iterable[tuple[Customer, DunningAction | None, date]]) -> None:
    """Read, for each (customer, action, day) of a batch, the action's invoices (open amounts on
    the day), their disputes, the customers' unapplied cash, open promises and active plans:
    about six queries per day and batch instead of about ten per message. The facts replace the
    previous batch's (at most a batch old when a message leaves)."""

    loaded = _SEND_FACTS.get()
    if loaded is None:
        return
    loaded.clear()
    by_day: dict[date, list[tuple[Customer, DunningAction | None]]] = {}
    for customer, action, on in wanted:
        by_day.setdefault(on, []).append((customer, action))
    for on, pairs in by_day.items():
        customer_ids = {customer.pk for customer, _ in pairs}
        invoice_ids = {
            invoice.pk for _, action in pairs if action is not None for invoice in action.invoices.all()
        }
        entity_ids = {customer.entity_id for customer, _ in pairs}
        invoices: dict[int, tuple[Any, ...]] = {}
        for entity_id in entity_ids:
            entity = next(customer.entity for customer, _ in pairs if customer.entity_id == entity_id)
            for row in (
                invoice_list_with_open(entity=entity, as_of=on)
                .filter(pk__in=invoice_ids)
                .values_list(*_INVOICE_FIELDS)
            ):
                invoices[row[0]] = row
        # An invoice not yet issued on the day is absent: ``owed_summary`` then reads the database.
        promises: dict[int, list[Promise]] = {}
        for promise in Promise.objects.filter(
            customer_id__in=customer_ids, status="open", created_on__lte=on
        ).order_by("-promised_date"):
            promises.setdefault(promise.customer_id, []).append(promise)
        loaded[on] = _SendFacts(
            customers=customer_ids,
            invoices=invoices,
            disputed=disputed_by_invoice(invoice_ids=invoice_ids, as_of=on),
            unapplied=_unapplied_items(list(customer_ids), on, by_customer=True),
            promises=promises,
            on_plan=set(
                PaymentPlan.objects.filter(
                    customer_id__in=customer_ids, status=PlanStatus.ACTIVE, starts_on__lte=on
                ).values_list("customer_id", flat=True)
            ),
        )


@dataclass(frozen=True)
class StillDue:
    """The send-time answer for one dunning message: send as it is, send re-rendered, or cancel."""

    due: bool
    reason: str = ""
    code: str = ""
    amount_due: Decimal | None = None
    as_of: date | None = None


_CADENCE_CACHE: dict[tuple[int, str, int], Any] = {}


def policy_cadence(*, entity_id: int, key: str | None) -> Any:
    """The policy's cadence rules (grace, small balance), parsed once per policy version per
    process; None when the entity has no such (valid) policy."""
    if not key:
        return None
    row = _looked_up(
        ("policy", entity_id, key),
        lambda: Policy.objects.filter(entity_id=entity_id, key=key).values_list("version", "spec").first(),
    )
    if row is None:
        return None
    cache_key = (entity_id, key, int(row[0] or 0))
    if cache_key not in _CADENCE_CACHE:
        try:
            _CADENCE_CACHE[cache_key] = policy_from_dict(row[1]).cadence
        except ValidationFailed:
            _CADENCE_CACHE[cache_key] = None
    return _CADENCE_CACHE[cache_key]


def promise_grace_days(*, customer: Customer) -> int:
    """The grace days of the customer's policy (0 without a valid one): how long a promise runs past its date."""
    cadence = policy_cadence(entity_id=customer.entity_id, key=customer_policy_key(customer=customer))
    return int(cadence.promise_grace_days) if cadence is not None else 0


def promise_pausing(*, customer: Customer, on: date) -> Promise | None:
    """An open promise still active on ``on`` (running and not yet paid): dunning waits for it."""
    grace = promise_grace_days(customer=customer)
    facts = _batch_facts(on)
    if facts is not None and customer.pk in facts.customers:
        candidates: Iterable[Promise] = facts.promises.get(customer.pk, [])
    else:
        candidates = Promise.objects.filter(customer=customer, status="open", created_on__lte=on).order_by(
            "-promised_date"
        )
    for promise in candidates:
        terms = PromiseTerms(promised_date=promise.promised_date, grace_days=grace)
        if not terms.running_on(on):  # the latest promise has ended: none of the others runs
            break
        if promise_state_on(promise=promise, as_of=on, grace_days=grace) == ACTIVE:
            return promise
    return None


def message_still_due(
    *,
    customer: Customer,
    action: DunningAction | None,
    on: date,
    amount_in_message: Decimal | None,
    currency: str,
    internal: bool = False,
    summary: OwedSummary | None = None,
) -> StillDue:
    """Is a dunning message decided earlier still true and due on ``on``? (one rule, asked by the
    delivery worker before every send, by ``relance compliance check`` and the 360's next steps).

    Cancelled when, since the decision: the invoices were paid or settled, a promise now pauses
    dunning, a payment plan now replaces it, or everything left is under dispute. Otherwise due,
    with the amount the message may ask for now (``amount_due``: re-render when it changed).

    ``summary``: the customer's whole ``owed_summary`` on ``on`` when the caller already holds it
    (a message about all open invoices only: ``action`` None).
    """
    if summary is not None and (action is not None or summary.as_of != on):
        raise ValueError("a summary is passed only for a message about all open invoices on the same day")
    if action is not None and action.kind == "installment":
        return StillDue(True, as_of=on)  # the plan's own reminders follow the plan, not dunning
    promise = promise_pausing(customer=customer, on=on)
    if promise is not None:
        return StillDue(
            False,
            f"a promise to pay {format_money(promise.amount, promise.currency, customer.entity.language)} by "
            f"{promise.promised_date.isoformat()} was recorded on {promise.created_on.isoformat()}",
            "promise_active",
            as_of=on,
        )
    facts = _batch_facts(on)
    on_plan = (
        customer.pk in facts.on_plan
        if facts is not None and customer.pk in facts.customers
        else PaymentPlan.objects.filter(
            customer=customer, status=PlanStatus.ACTIVE, starts_on__lte=on
        ).exists()
    )
    if on_plan:
        return StillDue(False, "a payment plan now replaces dunning", "payment_plan", as_of=on)
    # ``all()``: the delivery worker has them prefetched with the message.
    invoice_ids = [invoice.pk for invoice in action.invoices.all()] if action is not None else None
    if summary is None:
        summary = owed_summary(customer=customer, as_of=on, invoice_ids=invoice_ids)
    amount = summary.amount_due(currency=currency, invoice_ids=invoice_ids)
    if internal and action is not None:
        amount = min(amount, summary.total(currency).overdue_owed)
    if amount <= 0:
        if summary.disputed(currency=currency, invoice_ids=invoice_ids) > 0:
            return StillDue(False, "everything still open is under dispute", "disputed", Decimal(0), on)
        return StillDue(False, "paid or settled since the decision", "paid", Decimal(0), on)
    if action is not None and action.policy_key:
        cadence = policy_cadence(entity_id=customer.entity_id, key=action.policy_key)
        threshold = cadence.small_balance if cadence is not None else Decimal(0)
        if amount < threshold:
            return StillDue(
                False,
                f"what is left ({format_money(amount, currency, customer.entity.language)}) is below the "
                "policy's small balance",
                "small_balance",
                amount,
                on,
            )
    if amount_in_message is not None and stored_money(amount_in_message) != stored_money(amount):
        return StillDue(True, "the amount owed changed since the decision", "changed", amount, on)
    return StillDue(True, amount_due=amount, as_of=on)


def customer_still_due(*, customer: Customer, on: date, summary: OwedSummary | None = None) -> StillDue:
    """Would a dunning message to this customer be true on ``on`` (any currency)? The answer of
    ``message_still_due`` for a message about all the customer's open invoices. ``summary``: the
    customer's ``owed_summary`` on ``on`` when the caller holds it (read once otherwise)."""
    if summary is None:
        summary = owed_summary(customer=customer, as_of=on)
    currencies = [t.currency for t in summary.totals] or [customer.currency]
    answers = [
        message_still_due(
            customer=customer, action=None, on=on, amount_in_message=None, currency=currency, summary=summary
        )
        for currency in currencies
    ]
    return next((answer for answer in answers if answer.due), answers[0])

"""Reads of the workspace. Every read is scoped to what the user may see (``relance.accounts``)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Max, Q, QuerySet, Sum
from django.utils.translation import get_language

from relance.accounts import roles
from relance.accounts.selectors import customer_for_user, customer_scope, customers_visible, user_role
from relance.accounts.selectors import entity_visible as accounts_entity_visible
from relance.cases.models import (
    CustomerHold,
    Dispute,
    DisputeStatus,
    PaymentPlan,
    Promise,
    PromiseStatus,
)
from relance.common.converters import row_id_or_none
from relance.core.channels import OPT_OUT_CHANNELS, opt_out_field
from relance.core.errors import NotFound, ValidationFailed
from relance.core.formatting import format_money, format_phone
from relance.core.money import parse_amount
from relance.dunning.models import DunningRun, InvoiceStep, WorklistEntry
from relance.ledger.models import Customer, Entity, Invoice
from relance.workspace.models import (
    DisputeAssignment,
    DisputeComment,
    SavedView,
    WorklistSnooze,
)

DISPUTE_NOT_FOUND = "dispute not found"
TIMELINE_LIMIT = 40
WORKLIST_PAGE = 100  # rows shown: a day's work, and a page that renders fast
OPEN_ITEMS_PAGE = 50  # open items shown on the customer page at once ("show more" for the next)


def entity_visible(*, user: Any, entity_id: int) -> bool:
    """Whether the user sees the entity (the user's entities are read once per request)."""
    return accounts_entity_visible(user, entity_id)


def collectors_of(*, entity: Entity) -> QuerySet[Any]:
    """Users who may collect for ``entity``: collectors and credit managers granted it, and admins."""
    user_model = get_user_model()
    return (
        user_model.objects.filter(is_active=True)
        .filter(
            Q(groups__name__in=[roles.COLLECTOR, roles.CREDIT_MANAGER], entity_access__entity=entity)
            | Q(groups__name=roles.ADMIN)
            | Q(is_superuser=True)
        )
        .distinct()
        .order_by("username")
    )


def user_is_collector(user: Any) -> bool:
    return not user.is_superuser and user_role(user) == roles.COLLECTOR


# --------------------------------------------------------------------------- worklist


@dataclass(frozen=True)
class WorklistRow:
    customer_id: int
    customer_ref: str
    customer_name: str
    collector: str
    priority: float
    currency: str
    overdue_amount: Decimal
    max_days_past_due: int
    risk: str
    broken_promises: int
    days_since_contact: int | None
    factors: dict[str, Any]


def latest_run(*, entity: Entity) -> DunningRun | None:
    return DunningRun.objects.filter(entity=entity).order_by("-as_of").first()


# sort key (``?sort=``, ``-`` in front: the other way) → the columns ordered by, ties by reference
WORKLIST_SORTS: dict[str, tuple[str, ...]] = {
    "priority": ("-priority",),
    "customer": ("customer__name",),
    "collector": ("customer__collector__username",),
    "overdue": ("-overdue_amount",),
    "days": ("-max_days_past_due",),
    "contact": ("-days_since_contact",),
    "broken": ("-broken_promises",),
    "risk": ("risk",),
}


@dataclass(frozen=True)
class WorklistFilters:
    """What the worklist is narrowed to and ordered by (each one optional)."""

    collector_id: int | None = None  # 0: customers without a collector
    segment: str | None = None  # "": customers without a segment
    currency: str = ""
    min_overdue: Decimal | None = None
    min_days: int | None = None
    sort: str = "priority"

    def ordering(self) -> list[str]:
        key = self.sort.removeprefix("-")
        columns = WORKLIST_SORTS.get(key, WORKLIST_SORTS["priority"])
        if self.sort.startswith("-") and key in WORKLIST_SORTS:
            columns = tuple(c[1:] if c.startswith("-") else f"-{c}" for c in columns)
        return [*columns, "customer__external_ref"]


# The worklist's query parameters a saved view may keep, in the order its link writes them.
WORKLIST_VIEW_KEYS = ("collector", "segment", "currency", "min_overdue", "min_days", "sort")
SAVED_VIEW_NOT_FOUND = "saved view not found"
_SEGMENT_MAX = 64


def worklist_view_params(query: Any) -> dict[str, str]:
    """The worklist's filters and sort in ``query`` (a ``QueryDict`` or a dict), checked again:
    unknown keys, empty values and values the worklist would ignore are dropped, so a saved view
    never stores more than the filter form can say, and the default sort is not stored at all."""
    params: dict[str, str] = {}
    for key in WORKLIST_VIEW_KEYS:
        value = query.get(key)
        if not isinstance(value, str) or not value.strip():
            continue
        value = value.strip()
        if key in ("collector", "min_days"):
            number = row_id_or_none(value)
            cleaned = None if number is None else str(number)
        elif key == "segment":
            cleaned = value if len(value) <= _SEGMENT_MAX and value.isprintable() else None
        elif key == "currency":
            cleaned = value.upper() if len(value) == 3 and value.isascii() and value.isalpha() else None
        elif key == "min_overdue":
            try:
                amount = parse_amount(value.replace(",", "."))
            except ValidationFailed:
                amount = None
            cleaned = str(amount) if amount is not None and amount >= 0 else None
        else:  # sort
            column = value.removeprefix("-")
            cleaned = value if column in WORKLIST_SORTS and value != "priority" else None
        if cleaned is not None:
            params[key] = cleaned
    return params


def saved_views_of(*, user: Any, entity: Entity, page: str = "worklist") -> list[SavedView]:
    """The user's own saved views of ``page`` for ``entity``, by name (nobody sees another's)."""
    return list(SavedView.objects.filter(user=user, entity=entity, page=page))


def saved_view_for_user(*, user: Any, view_id: int) -> SavedView:
    """The user's own saved view; ``NotFound`` for another user's, as for one that does not exist."""
    view = SavedView.objects.filter(pk=view_id, user=user).select_related("entity").first()
    if view is None or not accounts_entity_visible(user, view.entity_id):
        raise NotFound(SAVED_VIEW_NOT_FOUND)
    return view


_WORKLIST_VALUES = (
    "customer_id",
    "customer__external_ref",
    "customer__name",
    "customer__collector__username",
    "priority",
    "currency",
    "overdue_amount",
    "max_days_past_due",
    "risk",
    "broken_promises",
    "days_since_contact",
    "factors",
)


def worklist_entries(
    *, user: Any, entity: Entity, today: date, filters: WorklistFilters | None = None
) -> tuple[DunningRun | None, QuerySet[Any]]:
    """The latest run's entries for ``entity`` as ``user`` sees them (values, ordered), unsliced.

    A collector sees the customers they collect; others see all, or one collector's. Customers
    the user snoozed to ``today`` or later are left out."""
    filters = filters or WorklistFilters()
    run = latest_run(entity=entity)
    if run is None or not entity_visible(user=user, entity_id=entity.pk):
        return None, WorklistEntry.objects.none().values(*_WORKLIST_VALUES)
    entries = customer_scope(user, WorklistEntry.objects.filter(run=run), customer_field="customer")
    if user_is_collector(user):
        entries = entries.filter(customer__collector=user)
    elif filters.collector_id == 0:
        entries = entries.filter(customer__collector__isnull=True)
    elif filters.collector_id is not None:
        entries = entries.filter(customer__collector_id=filters.collector_id)
    if filters.segment is not None:
        entries = entries.filter(customer__segment=filters.segment)
    if filters.currency:
        entries = entries.filter(currency=filters.currency)
    if filters.min_overdue is not None:
        entries = entries.filter(overdue_amount__gte=filters.min_overdue)
    if filters.min_days is not None:
        entries = entries.filter(max_days_past_due__gte=filters.min_days)
    snoozed = WorklistSnooze.objects.filter(user=user, until__gte=today).values("customer_id")
    entries = entries.exclude(customer_id__in=snoozed)
    return run, entries.order_by(*filters.ordering()).values(*_WORKLIST_VALUES)


def worklist_row(row: dict[str, Any]) -> WorklistRow:
    return WorklistRow(
        customer_id=row["customer_id"],
        customer_ref=row["customer__external_ref"],
        customer_name=row["customer__name"],
        collector=row["customer__collector__username"] or "",
        priority=round(row["priority"], 2),
        currency=row["currency"],
        overdue_amount=row["overdue_amount"],
        max_days_past_due=row["max_days_past_due"],
        risk=row["risk"],
        broken_promises=row["broken_promises"],
        days_since_contact=row["days_since_contact"],
        factors=row["factors"] or {},
    )


def worklist_choices(*, run: DunningRun | None, entity: Entity) -> dict[str, list[str]]:
    """The segments of the entity's customers and the currencies of the run (for the filters)."""
    segments = (
        Customer.objects.filter(entity=entity)
        .exclude(segment="")
        .values_list("segment", flat=True)
        .order_by()
        .distinct()
    )
    currencies = (
        WorklistEntry.objects.filter(run=run).values_list("currency", flat=True).order_by().distinct()
        if run
        else []
    )
    return {"segments": sorted(segments), "currencies": sorted(currencies)}


def worklist_for_user(
    *, user: Any, entity: Entity, today: date, collector_id: int | None = None, limit: int = WORKLIST_PAGE
) -> tuple[DunningRun | None, list[WorklistRow]]:
    """The first ``limit`` rows of the user's worklist, highest priority first."""
    run, entries = worklist_entries(
        user=user, entity=entity, today=today, filters=WorklistFilters(collector_id=collector_id)
    )
    return run, [worklist_row(row) for row in entries[:limit]]


def worklist_next_customer(*, user: Any, entity: Entity, today: date, after_customer_id: int) -> int | None:
    """The customer after ``after_customer_id`` on the user's worklist (the first one if absent)."""
    _, rows = worklist_for_user(user=user, entity=entity, today=today, limit=1_000_000)
    ids = [row.customer_id for row in rows]
    if not ids:
        return None
    if after_customer_id in ids:
        position = ids.index(after_customer_id) + 1
        return ids[position] if position < len(ids) else None
    return ids[0]


# --------------------------------------------------------------------------- customer 360


@dataclass(frozen=True)
class ContactView:
    name: str
    role: str
    email: str
    phone: str
    preferred_channel: str
    flags: tuple[str, ...]
    phone_shown: str = ""  # in international format ("+33 6 12 34 56 78")
    phone_dial: str = ""  # for the tel: link (E.164)


def contact_views(*, customer: Customer) -> list[ContactView]:
    """Each contact with what stops using it (opt-outs, invalid or bouncing addresses)."""
    result = []
    for contact in customer.contacts.all().order_by("role", "pk"):
        flags = []
        if contact.email and contact.email_status not in ("", "valid", "unknown"):
            flags.append(f"e-mail {contact.email_status}")
        if contact.phone and contact.phone_status not in ("", "valid", "unknown"):
            flags.append(f"phone {contact.phone_status}")
        for channel in OPT_OUT_CHANNELS:
            if getattr(contact, opt_out_field(channel)):
                flags.append(f"opted out of {channel}")
        shown, dial = format_phone(contact.phone, customer.country)
        result.append(
            ContactView(
                name=contact.name,
                role=contact.role,
                email=contact.email,
                phone=contact.phone,
                preferred_channel=contact.preferred_channel,
                flags=tuple(flags),
                phone_shown=shown,
                phone_dial=dial,
            )
        )
    return result


@dataclass(frozen=True)
class OpenItem:
    """An invoice still open on the page's date, as the customer page shows it."""

    pk: int
    external_ref: str
    issue_date: date
    due_date: date
    currency: str
    amount: Decimal
    open_amount: Decimal
    days_past_due: int
    bucket: str


@dataclass(frozen=True)
class OpenItemsPage:
    """One page of a customer's open items (oldest due first) and the totals of all of them."""

    items: list[OpenItem]
    page: int
    size: int
    count: int  # open items in all
    open_total: Decimal  # in the customer's currency
    overdue_total: Decimal  # in the customer's currency, days past due > 0

    @property
    def has_more(self) -> bool:
        return self.page * self.size < self.count

    @property
    def complete(self) -> bool:
        """Whether this page holds every open item (then nothing else needs reading)."""
        return self.page == 1 and not self.has_more


def _open_invoices(*, customer: Customer, as_of: date) -> QuerySet[Any]:
    from relance.ledger.selectors import STILL_OWED, invoice_list_with_open

    return invoice_list_with_open(entity=customer.entity, as_of=as_of).filter(
        customer=customer, open_amount__gt=STILL_OWED
    )


def open_items_page(
    *, customer: Customer, as_of: date, page: int = 1, size: int = OPEN_ITEMS_PAGE
) -> OpenItemsPage:
    """Page ``page`` of the open items (what ``customer_open_items`` lists, in its order).

    The totals come from one aggregate query over every open item, not from the rows; when the
    first page already holds them all (most customers), from its rows, without that query.
    """
    from relance.reports.selectors import configured_aging

    buckets = configured_aging()
    page = max(page, 1)
    start = (page - 1) * size
    rows = list(
        _open_invoices(customer=customer, as_of=as_of)
        .order_by("due_date", "external_ref")
        .values_list("pk", "external_ref", "issue_date", "due_date", "currency", "amount", "open_amount")[
            start : start + size + 1
        ]
    )
    items = [
        OpenItem(pk, ref, issued, due, currency, amount, open_amount, (as_of - due).days,
                 buckets.bucket_for((as_of - due).days).label)
        for pk, ref, issued, due, currency, amount, open_amount in rows[:size]
    ]  # fmt: skip
    if page == 1 and len(rows) <= size:
        mine = [item for item in items if item.currency == customer.currency]
        return OpenItemsPage(
            items=items,
            page=page,
            size=size,
            count=len(items),
            open_total=sum((item.open_amount for item in mine), Decimal(0)),
            overdue_total=sum((item.open_amount for item in mine if item.days_past_due > 0), Decimal(0)),
        )
    own = Q(currency=customer.currency)
    totals = _open_invoices(customer=customer, as_of=as_of).aggregate(
        count=Count("pk"),
        open_total=Sum("open_amount", filter=own),
        overdue_total=Sum("open_amount", filter=own & Q(due_date__lt=as_of)),
    )
    return OpenItemsPage(
        items=items,
        page=page,
        size=size,
        count=totals["count"],
        open_total=totals["open_total"] or Decimal(0),
        overdue_total=totals["overdue_total"] or Decimal(0),
    )


@dataclass(frozen=True)
class OpenItemKey:
    """What ``next_steps`` needs of an open item."""

    pk: int
    external_ref: str
    due_date: date


def open_item_keys(*, customer: Customer, as_of: date) -> list[OpenItemKey]:
    """Every open item, lightly (id, reference, due date), for the next steps of the policy."""
    rows = (
        _open_invoices(customer=customer, as_of=as_of)
        .order_by("due_date", "external_ref")
        .values_list("pk", "external_ref", "due_date")
    )
    return [OpenItemKey(*row) for row in rows]


@dataclass(frozen=True)
class PaidPoint:
    invoice_ref: str
    due_date: date
    paid_on: date
    days_late: int


@dataclass(frozen=True)
class PaymentBehaviour:
    """The paid invoices of the behaviour window and the figures drawn from them.

    The customer page's chart and its behaviour panel both read this one value, with the
    engine's window (``LOOKBACK_DAYS``: invoices due in the year to ``as_of``, paid by then), so
    the figures and the dots never disagree."""

    start: date
    as_of: date
    points: tuple[PaidPoint, ...]

    @property
    def paid_invoices(self) -> int:
        return len(self.points)

    @property
    def late_invoices(self) -> int:
        return sum(1 for point in self.points if point.days_late > 0)

    @property
    def share_late(self) -> float:
        return self.late_invoices / self.paid_invoices if self.points else 0.0

    @property
    def avg_days_late(self) -> float:
        """Days late on average over the paid invoices (early payments count as 0, as in the engine)."""
        return sum(max(p.days_late, 0) for p in self.points) / self.paid_invoices if self.points else 0.0

    @property
    def max_days_late(self) -> int:
        return max((point.days_late for point in self.points), default=0)


def payment_behaviour(*, customer: Customer, as_of: date) -> PaymentBehaviour:
    """Invoices due in the behaviour window and fully allocated by ``as_of``, each with the day
    the last allocation settled it (the engine's ``paid`` and ``days_late``)."""
    from relance.engine.dunning.behaviour import LOOKBACK_DAYS
    from relance.ledger.selectors import STILL_OWED, invoice_list_with_open

    start = as_of - timedelta(days=LOOKBACK_DAYS)
    invoices = (
        invoice_list_with_open(entity=customer.entity, as_of=as_of)
        .filter(customer=customer, open_amount__lte=STILL_OWED, due_date__gte=start, due_date__lte=as_of)
        .annotate(paid_on=Max("allocations__date", filter=Q(allocations__date__lte=as_of)))
        .filter(paid_on__isnull=False)
        .values_list("external_ref", "due_date", "paid_on")
    )
    points = sorted(
        (PaidPoint(ref, due, paid_on, (paid_on - due).days) for ref, due, paid_on in invoices),
        key=lambda point: (point.paid_on, point.invoice_ref),
    )
    return PaymentBehaviour(start=start, as_of=as_of, points=tuple(points))


@dataclass(frozen=True)
class NextStep:
    invoice_ref: str
    step_key: str
    action: str
    channels: tuple[str, ...]
    on: date
    policy_key: str


def customer_policy(*, customer: Customer, policy_key: str | None) -> Any:
    """The engine's policy ``policy_key`` of the customer's entity (only that one parsed), or None."""
    from relance.dunning.models import Policy
    from relance.engine.dunning.policy import policy_from_dict

    row = Policy.objects.filter(entity_id=customer.entity_id, key=policy_key).first() if policy_key else None
    return policy_from_dict(row.spec) if row is not None else None


_UNKNOWN = object()


def next_steps(
    *,
    customer: Customer,
    open_items: list[Any],
    today: date,
    policy_key: Any = _UNKNOWN,
    policy: Any = _UNKNOWN,
) -> list[NextStep]:
    """For each open invoice, the step of the customer's policy the run takes next, and when.

    The engine's own rule (``relance.engine.dunning.policy.next_step``) over the recorded
    ``InvoiceStep`` keys, not a run of the engine: if a step beyond the reached one is due, the
    run takes the most advanced of them (catch-up) on ``today``, else the first later one on due
    date + offset. Holds, promises, disputes, conditions and the cadence may still defer or skip
    it (the timeline shows those).
    """
    from relance.dunning.selectors import customer_policy_key

    if not open_items:
        return []
    if policy is _UNKNOWN:  # ``policy``: the engine's policy when the caller has it already
        if policy_key is _UNKNOWN:
            policy_key = customer_policy_key(customer=customer)
        policy = customer_policy(customer=customer, policy_key=policy_key)
    if policy is None:
        return []
    reached = reached_step_keys(invoice_ids=[item.pk for item in open_items])
    result = [
        next_step
        for item in open_items
        if (
            next_step := next_step_of(
                item=item, policy=policy, reached_keys=reached.get(item.pk, ()), today=today
            )
        )
    ]
    return sorted(result, key=lambda step: (step.on, step.invoice_ref))


def reached_step_keys(*, invoice_ids: Sequence[int]) -> dict[int, set[str]]:
    """Each invoice's recorded step keys (whatever policy recorded them: the engine matches the
    keys against the customer's current policy), in one query per 5,000 invoices."""
    reached: dict[int, set[str]] = {}
    for start in range(0, len(invoice_ids), 5000):
        rows = (
            InvoiceStep.objects.filter(invoice_id__in=invoice_ids[start : start + 5000])
            .values_list("invoice_id", "step_key")
            .distinct()
            .order_by()
        )
        for invoice_id, step_key in rows:
            reached.setdefault(invoice_id, set()).add(step_key)
    return reached


def next_step_of(*, item: Any, policy: Any, reached_keys: Iterable[str], today: date) -> NextStep | None:
    """The step of ``policy`` the run takes next for one open invoice that reached ``reached_keys``
    and when (``relance.engine.dunning.policy.next_step``); None when the policy has no more."""
    from relance.engine.dunning.policy import next_step, reached_index

    ahead = next_step(
        policy,
        reached=reached_index(policy, reached_keys),
        days_past_due=(today - item.due_date).days,
    )
    if ahead is None:
        return None
    return NextStep(
        invoice_ref=item.external_ref,
        step_key=ahead.step.key,
        action=ahead.step.action,
        channels=tuple(ahead.step.channels),
        on=today + timedelta(days=ahead.in_days),
        policy_key=policy.key,
    )


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    kind: str
    title: str
    detail: str = ""
    status: str = ""
    url: str = ""  # where the item is handled (a dispute: its page in the dispute queue)
    actor: str = ""  # who did it, in words (``CaseEvent.actor_label``)
    actor_kind: str = ""  # user, portal, system, api, cli
    id: int = 0  # the case event's id (the next page starts before it)


def _record_sources() -> dict[str, tuple[Any, dict[str, Any]]]:
    """Each kind of record the customer page reads besides the timeline: its model and the filter
    beyond the customer (the timeline is one query on ``CaseEvent``)."""

    from relance.cases.models import CreditHold, CreditHoldStatus

    return {
        "hold": (CustomerHold, {}),
        "credit_hold": (CreditHold, {"status": CreditHoldStatus.ACTIVE.value}),
    }


ALL_RECORD_KINDS = frozenset(("hold", "credit_hold"))


def customer_records_present(*, customer: Customer) -> frozenset[str]:
    """Which kinds of record the customer has (``_record_sources``), in one small query.

    Most customers have no hold; the page then does not ask for them (an ORM query costs about
    0.4 ms of CPU even when it finds nothing).
    """
    from django.db import connection

    quote = connection.ops.quote_name
    parts, params = [], []
    for kind, (model, extra) in _record_sources().items():
        conditions = [f"{quote(model._meta.get_field('customer').column)} = %s"]
        params.append(customer.pk)
        for name, value in extra.items():
            conditions.append(f"{quote(model._meta.get_field(name).column)} = %s")
            params.append(value)
        parts.append(
            f"SELECT '{kind}' WHERE EXISTS (SELECT 1 FROM {quote(model._meta.db_table)} "  # noqa: S608
            f"WHERE {' AND '.join(conditions)})"
        )
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        return frozenset(row[0] for row in cursor.fetchall())


def customer_timeline(
    *, customer: Customer, limit: int = TIMELINE_LIMIT, before: int | None = None
) -> list[TimelineItem]:
    """The customer's case timeline, newest first: one query on ``CaseEvent`` (messages, calls,
    contacts, notes, promises, disputes, plans, holds, credit holds, hand-offs, portal actions),
    each with who did it. ``before``: the id of the last event already shown (the next page)."""
    from django.urls import reverse

    from relance.audit.models import CaseEvent

    events = CaseEvent.objects.filter(customer=customer).order_by("-at", "-id")
    if before is not None:
        pivot = CaseEvent.objects.filter(pk=before, customer=customer).values_list("at", flat=True).first()
        if pivot is not None:
            events = events.filter(Q(at__lt=pivot) | Q(at=pivot, id__lt=before))
    items = []
    for event in events[:limit]:
        url = (
            reverse("workspace:dispute", args=[event.subject_id])
            if event.subject_type == "dispute" and event.subject_id
            else ""
        )
        items.append(
            TimelineItem(
                event.at,
                event.group,
                event.summary,
                event.detail,
                event.verb,
                url,
                actor=event.actor_label,
                actor_kind=event.actor_kind,
                id=event.pk,
            )
        )
    return items


def customer_behaviour(*, customer: Customer, as_of: date) -> dict[str, Any] | None:
    """The engine's behaviour metrics, class and evidence for one customer.

    The entity's tables are bound as for the run, then every table is narrowed to the customer
    (allocations through its invoices), so the engine reads one account, not the ledger.
    """
    import dataclasses

    from relance.dunning.binding import app_dunning_tables
    from relance.engine.dunning.behaviour import customer_behaviour as engine_behaviour

    backend, tables = app_dunning_tables(entity=customer.entity)
    narrowed = {}
    for name in ("invoices", "customers", "promises", "disputes"):
        table = getattr(tables, name)
        narrowed[name] = table.filter(table.customer_id == customer.pk)
    rows = engine_behaviour(dataclasses.replace(tables, **narrowed), as_of, backend=backend).to_pylist()
    return rows[0] if rows else None


# --------------------------------------------------------------------------- queues


@dataclass(frozen=True)
class QueueFilters:
    entity: Entity
    status: str = ""
    owner_id: int | None = None
    # the dashboard's drill-down (docs/workspace.md): its segment and collector (a username;
    # "": none), promises due on a day, disputes past their SLA on a day
    segment: str | None = None
    collector: str | None = None
    promised_on: date | None = None
    sla_past_on: date | None = None

    def customers_q(self) -> Q:
        from relance.reports.selectors import customer_group_q

        return customer_group_q(self.segment, self.collector)


def _dispute_owner(dispute: Dispute) -> Any:
    """Who owns the dispute: the one assigned in the queue, else the portal case's (the customer's
    collector when the customer opened it)."""
    try:
        return dispute.workspace_assignment.owner
    except DisputeAssignment.DoesNotExist:
        case = getattr(dispute, "portal_case", None)
        return case.owner if case is not None else None


def _sla_state(sla: dict[str, Any], sla_days: int) -> str:
    """``past``, ``near`` (the last quarter of the SLA) or ``ok``; resolved: ``met`` or ``missed``."""
    if sla["days_left"] is None:
        return "met" if sla["met"] else "missed"
    if sla["days_left"] < 0:
        return "past"
    return "near" if sla["days_left"] <= sla_days * 0.25 else "ok"


def _dispute_row(dispute: Dispute, *, sla_days: int, today: date) -> dict[str, Any]:
    from relance.portal.selectors import dispute_sla

    sla = dispute_sla(dispute=dispute, sla_days=sla_days, as_of=today)
    case = getattr(dispute, "portal_case", None)
    return {
        "dispute": dispute,
        "case": case,
        "days_open": ((dispute.resolved_on or today) - dispute.opened_on).days,
        "due_on": sla["due_on"],
        "days_left": sla["days_left"],
        "days_late": -sla["days_left"] if sla["days_left"] is not None and sla["days_left"] < 0 else 0,
        "sla": _sla_state(sla, sla_days),
        "owner": _dispute_owner(dispute),
    }


def dispute_queue(*, user: Any, filters: QueueFilters, today: date) -> list[dict[str, Any]]:
    """Disputes of the entity, answer date first, with the SLA the customer was told, the
    customer's words and files, and the owner. A sales user sees their own accounts' only."""
    from relance.portal.selectors import dispute_sla_days

    disputes = (
        customer_scope(user, Dispute.objects.filter(entity=filters.entity), customer_field="customer")
        .select_related("customer", "invoice", "workspace_assignment__owner", "portal_case__owner")
        .annotate(files=Count("portal_case__attachments"))
    )
    disputes = disputes.filter(filters.customers_q(), status=filters.status or DisputeStatus.OPEN)
    if filters.sla_past_on is not None:
        from relance.portal.selectors import disputes_past_sla

        disputes = disputes_past_sla(disputes=disputes, entity=filters.entity, as_of=filters.sla_past_on)
    if filters.owner_id == 0:
        disputes = disputes.filter(
            Q(workspace_assignment__owner__isnull=True)
            & (Q(workspace_assignment__isnull=False) | Q(portal_case__owner__isnull=True))
        )
    elif filters.owner_id is not None:
        disputes = disputes.filter(
            Q(workspace_assignment__owner_id=filters.owner_id)
            | Q(workspace_assignment__isnull=True, portal_case__owner_id=filters.owner_id)
        )
    sla_days = dispute_sla_days(entity=filters.entity)
    rows = [
        _dispute_row(dispute, sla_days=sla_days, today=today)
        for dispute in disputes.order_by("opened_on", "id")[:500]
    ]
    rows.sort(key=lambda row: (row["due_on"], row["dispute"].opened_on, row["dispute"].pk))
    return rows


def dispute_for_user(*, user: Any, dispute_id: int) -> Dispute:
    """The dispute if the user sees its customer; the same ``NotFound`` otherwise (no existence leak)."""
    dispute = Dispute.objects.select_related("entity", "customer", "invoice").filter(pk=dispute_id).first()
    if dispute is None:
        raise NotFound(DISPUTE_NOT_FOUND)
    try:
        customer_for_user(user=user, customer_id=dispute.customer_id)
    except NotFound:
        raise NotFound(DISPUTE_NOT_FOUND) from None
    return dispute


def dispute_page(*, dispute: Dispute, today: date) -> dict[str, Any]:
    """What the dispute page shows: the queue's row, the customer's files and the comments."""
    from relance.portal.selectors import dispute_sla_days

    row = _dispute_row(dispute, sla_days=dispute_sla_days(entity=dispute.entity), today=today)
    case = row["case"]
    return {
        **row,
        "sla_days": dispute_sla_days(entity=dispute.entity),
        "attachments": list(case.attachments.order_by("uploaded_at", "id")) if case is not None else [],
        "comments": list(
            DisputeComment.objects.filter(dispute=dispute)
            .select_related("created_by")
            .order_by("created_at", "id")
        ),
    }


def dispute_attachment(*, dispute: Dispute, attachment_id: int) -> Any:
    """One of the files the customer attached to this dispute (``NotFound`` otherwise)."""
    from relance.portal.models import DisputeAttachment

    found = DisputeAttachment.objects.filter(pk=attachment_id, case__dispute=dispute).first()
    if found is None:
        raise NotFound("attachment not found")
    return found


def promise_queue(*, user: Any, filters: QueueFilters, today: date) -> list[dict[str, Any]]:
    """Promises of the entity by promised date: overdue (open, date passed), due today, upcoming."""
    promises = customer_scope(
        user, Promise.objects.filter(entity=filters.entity), customer_field="customer"
    ).select_related("customer", "created_by")
    promises = promises.filter(filters.customers_q(), status=filters.status or PromiseStatus.OPEN)
    if filters.promised_on is not None:
        promises = promises.filter(promised_date=filters.promised_on)
    if filters.owner_id == 0:
        promises = promises.filter(customer__collector__isnull=True)
    elif filters.owner_id is not None:
        promises = promises.filter(customer__collector_id=filters.owner_id)
    rows = []
    for promise in promises.order_by("promised_date", "id")[:500]:
        state = "upcoming"
        if promise.status == PromiseStatus.OPEN:
            if promise.promised_date < today:
                state = "overdue"
            elif promise.promised_date == today:
                state = "today"
        rows.append({"promise": promise, "state": state})
    return rows


def plan_queue(*, user: Any, filters: QueueFilters, today: date) -> list[dict[str, Any]]:
    """Payment plans with their next unpaid installment, late ones first."""
    plans = customer_scope(
        user, PaymentPlan.objects.filter(entity=filters.entity), customer_field="customer"
    ).select_related("customer")
    plans = plans.filter(filters.customers_q(), status=filters.status or "active")
    if filters.owner_id == 0:
        plans = plans.filter(customer__collector__isnull=True)
    elif filters.owner_id is not None:
        plans = plans.filter(customer__collector_id=filters.owner_id)
    rows = []
    for plan in plans.prefetch_related("installments").order_by("starts_on", "id")[:500]:
        installments = sorted(plan.installments.all(), key=lambda i: i.sequence)
        unpaid = [i for i in installments if i.paid_on is None]
        upcoming = unpaid[0] if unpaid else None
        state = "ok"
        if upcoming is not None and upcoming.due_date < today:
            state = "overdue"
        elif upcoming is not None and upcoming.due_date == today:
            state = "today"
        rows.append(
            {
                "plan": plan,
                "paid": len(installments) - len(unpaid),
                "count": len(installments),
                "next": upcoming,
                "state": state,
            }
        )
    rows.sort(key=lambda row: (row["state"] != "overdue", row["state"] != "today"))
    return rows


# --------------------------------------------------------------------------- search


@dataclass(frozen=True)
class SearchHit:
    kind: str
    label: str
    detail: str
    url: str
    customer_id: int
    extra: dict[str, Any] = field(default_factory=dict)


AMOUNT_PATTERN = re.compile(r"^-?[\d\s.,']+$")


def _amount(text: str) -> Decimal | None:
    """An amount typed by a person: ``1234.5``, ``1 234,50``, ``1,234.50``; None if it is not one."""
    if not AMOUNT_PATTERN.match(text) or not any(ch.isdigit() for ch in text):
        return None
    cleaned = text.replace(" ", "").replace("'", "")
    if "," in cleaned and "." in cleaned:
        cleaned = (
            cleaned.replace(",", "")
            if cleaned.rfind(".") > cleaned.rfind(",")
            else cleaned.replace(".", "").replace(",", ".")
        )
    elif "," in cleaned:
        head, _, tail = cleaned.rpartition(",")
        cleaned = f"{head.replace(',', '')}.{tail}" if len(tail) != 3 else cleaned.replace(",", "")
    try:
        return Decimal(cleaned)
    except InvalidOperation:
        return None


def search(*, user: Any, query: str, entity: Entity | None = None, limit: int = 10) -> list[SearchHit]:
    """Customers by name, reference or tax id, contacts by name, e-mail or phone, invoices by
    number, and invoices whose amount or open amount is exactly the amount typed; only in the
    entities (and accounts) the user sees.

    Names are compared folded (``relance.core.text.fold``: no accents, no case) through the
    ``search_text`` column the ledger keeps on every write: "jimenez" finds "Jiménez" in SQLite
    and PostgreSQL alike. A prefix match comes first, then a contains match fills up.
    """
    from django.urls import reverse

    from relance.core.text import fold
    from relance.ledger.models import Contact
    from relance.ledger.selectors import invoice_list_with_open

    query = query.strip()
    folded = fold(query)
    if len(folded) < 2:
        return []
    customers = customers_visible(user, entity=entity)
    hits: list[SearchHit] = []
    seen: set[int] = set()
    for lookup in ("startswith", "contains"):
        if len(hits) >= limit:
            break
        matches = (
            customers.filter(**{f"search_text__{lookup}": folded})
            .exclude(pk__in=seen)
            .order_by("name")[: limit - len(hits)]
        )
        for customer in matches.values("pk", "name", "external_ref", "entity__name"):
            seen.add(customer["pk"])
            hits.append(
                SearchHit(
                    "customer",
                    customer["name"],
                    f"{customer['external_ref']} · {customer['entity__name']}",
                    reverse("workspace:customer", args=[customer["pk"]]),
                    customer["pk"],
                )
            )
    contacts = (
        Contact.objects.filter(customer__in=customers, search_text__contains=folded)
        .order_by("name", "pk")
        .values("name", "email", "phone", "customer_id", "customer__name")[:limit]
    )
    for contact in contacts:
        hits.append(
            SearchHit(
                "contact",
                contact["name"] or contact["email"] or contact["phone"],
                " · ".join(
                    part for part in (contact["email"], contact["phone"], contact["customer__name"]) if part
                ),
                reverse("workspace:customer", args=[contact["customer_id"]]),
                contact["customer_id"],
            )
        )
    invoices = Invoice.objects.filter(customer__in=customers)
    invoice_rows: list[Any] = list(
        invoices.filter(Q(external_ref__istartswith=query) | Q(po_number__istartswith=query))
        .order_by("external_ref")
        .values("pk", "external_ref", "amount", "currency", "customer_id", "customer__name")[:limit]
    )
    amount = _amount(query)
    if amount is not None and amount > 0:
        exact = invoices.filter(amount=amount).values(
            "pk", "external_ref", "amount", "currency", "customer_id", "customer__name"
        )[:limit]
        invoice_rows += list(exact)
        if entity is not None:
            open_match = (
                invoice_list_with_open(entity=entity)
                .filter(customer__in=customers, open_amount=amount)
                .exclude(amount=amount)
                .values("pk", "external_ref", "amount", "currency", "customer_id", "customer__name")[:limit]
            )
            invoice_rows += list(open_match)
    seen_invoices: set[int] = set()
    for row in invoice_rows:
        if row["pk"] in seen_invoices:
            continue
        seen_invoices.add(row["pk"])
        hits.append(
            SearchHit(
                "invoice",
                row["external_ref"],
                f"{format_money(row['amount'], row['currency'], get_language())} · {row['customer__name']}",
                reverse("workspace:customer", args=[row["customer_id"]]),
                row["customer_id"],
            )
        )
    return hits[: limit * 3]


@dataclass(frozen=True)
class CallBack:
    """A call the user said they would make ("call back on…"), due today or overdue."""

    task_id: int
    customer_id: int
    customer_name: str
    customer_ref: str
    due_on: date
    script: str
    phone: str
    days_overdue: int

    @property
    def state(self) -> str:
        return "overdue" if self.days_overdue > 0 else "due today"


CALL_BACKS_SHOWN = 50


def call_backs_due(*, user: Any, today: date, entity: Entity | None = None) -> list[CallBack]:
    """The open call tasks assigned to ``user`` due by ``today`` (overdue first), on customers
    they may see: what the worklist and My accounts put first. A task shows from its day on and
    is done when the next outcome of its customer is logged."""
    from relance.delivery.models import CallTask, CallTaskStatus

    tasks = CallTask.objects.filter(assigned_to=user, status=CallTaskStatus.OPEN, due_on__lte=today)
    if entity is not None:
        tasks = tasks.filter(entity=entity)
    tasks = customer_scope(user, tasks, customer_field="customer").select_related("customer")
    return [
        CallBack(
            task.pk,
            task.customer_id,
            task.customer.name,
            task.customer.external_ref,
            task.due_on,
            task.script,
            task.phone,
            (today - task.due_on).days,
        )
        for task in tasks.order_by("due_on", "id")[:CALL_BACKS_SHOWN]
    ]

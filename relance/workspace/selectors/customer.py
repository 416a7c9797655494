"""The customer 360: contacts, open items, payment behaviour, next steps."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Q, QuerySet, Sum

from relance.core.channels import OPT_OUT_CHANNELS, opt_out_field
from relance.core.formatting import format_phone
from relance.dunning.models import InvoiceStep
from relance.ledger.models import Customer
from relance.workspace.selectors.common import OPEN_ITEMS_PAGE

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
        if contact.postal_address and contact.address_status not in ("", "valid", "unknown"):
            flags.append(f"postal address {contact.address_status}")
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


def customer_behaviour_change(*, customer: Customer, as_of: date) -> Any:
    """The customer's pay-behaviour verdict (``relance.ml.behaviour``), or None without paid
    invoices in the windows: the same rule that opens a credit review's ``pay_behaviour_changed``."""
    from relance.ml.behaviour import behaviour_changes
    from relance.reports.dbt_trend import customer_ledger

    backend, tables = customer_ledger(customer)
    return behaviour_changes(tables, as_of, backend=backend, entity_id=customer.entity_id).get(
        customer.external_ref
    )

"""Reads of the Customers and Invoices lists, shared by the pages, the drill-downs and the CSV export.

A dashboard figure opens the list behind it with the same filters the KPI engine applied
(currency, aging bucket, segment, collector, period), so the list's total is the figure
(docs/workspace.md, "Drill-down"). The page and its CSV call the same selector: what is
downloaded is what is listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, DecimalField, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from relance.accounts.selectors import customer_scope
from relance.core.text import fold
from relance.engine.formulas import AgingBucket
from relance.ledger import selectors as ledger
from relance.ledger.models import Allocation, CreditNote, Entity, Payment
from relance.reports.selectors import customer_group_q

INVOICE_STATES = ("open", "overdue", "paid", "all")
CUSTOMER_ORDERS = {"overdue_balance", "open_balance", "name", "external_ref"}
_MONEY = DecimalField(max_digits=20, decimal_places=4)
_ZERO = Decimal(0)


def aging_bucket(label: str) -> AgingBucket | None:
    """The installation's aging bucket called ``label`` (``RELANCE_AGING_BUCKETS``), or None."""
    from relance.reports.selectors import configured_aging

    return next((bucket for bucket in configured_aging().buckets if bucket.label == label), None)


@dataclass(frozen=True)
class InvoiceFilters:
    """What the Invoices list is narrowed to. Each one optional; ``None``: not filtered."""

    as_of: date
    state: str = "open"
    search: str = ""
    currency: str = ""
    bucket: str = ""  # an aging bucket's label: its days past due on ``as_of``
    segment: str | None = None
    collector: str | None = None
    issued_from: date | None = None  # credit sales: issued from this day to ``as_of``
    paid_from: date | None = None  # DBT: fully paid (with cash) from this day to ``as_of``


def invoice_list_filtered(*, user: Any, entity: Entity, filters: InvoiceFilters) -> QuerySet[Any]:
    """The invoices the user sees, with ``open_amount`` on ``filters.as_of``, due date first.

    The KPI engine's rules: issued by the as-of date and not void on it; open is what is still
    owed; a bucket is a range of days past due; "paid in the period" is settled in it, cash
    included (docs/kpis.md)."""
    as_of = filters.as_of
    invoices = customer_scope(
        user,
        ledger.invoice_list_with_open(entity=entity, as_of=as_of).select_related("customer"),
        customer_field="customer",
    )
    state = filters.state if filters.state in INVOICE_STATES else "open"
    if state == "open":
        invoices = invoices.filter(open_amount__gt=ledger.STILL_OWED)
    elif state == "overdue":
        invoices = invoices.filter(open_amount__gt=ledger.STILL_OWED, due_date__lt=as_of)
    elif state == "paid":
        invoices = invoices.filter(open_amount__lte=ledger.STILL_OWED)
    if filters.currency:
        invoices = invoices.filter(currency=filters.currency)
    bucket = aging_bucket(filters.bucket) if filters.bucket else None
    if bucket is not None:
        # days past due = as_of − due ∈ [low, high]  ⇔  due ∈ [as_of − high, as_of − low]
        if bucket.high is not None:
            invoices = invoices.filter(due_date__gte=as_of - timedelta(days=bucket.high))
        if bucket.low is not None:
            invoices = invoices.filter(due_date__lte=as_of - timedelta(days=bucket.low))
    invoices = invoices.filter(customer_group_q(filters.segment, filters.collector))
    if filters.issued_from is not None:
        invoices = invoices.filter(issue_date__gte=filters.issued_from)
    if filters.paid_from is not None:
        day_before = filters.paid_from - timedelta(days=1)
        invoices = invoices.annotate(
            allocated_before=ledger.allocated_total("invoice", day_before),
            cash_allocated=_cash_allocated(as_of),
        ).filter(
            allocated__gte=F("amount") - ledger.STILL_OWED,
            allocated_before__lt=F("amount") - ledger.STILL_OWED,
            cash_allocated__gt=ledger.STILL_OWED,
        )
    if filters.search:
        invoices = invoices.filter(
            Q(external_ref__icontains=filters.search)
            | Q(customer__search_text__contains=fold(filters.search))
            | Q(po_number__icontains=filters.search)
        )
    return invoices.order_by("due_date", "pk")


def _cash_allocated(as_of: date) -> Coalesce:
    from django.db.models import OuterRef, Subquery

    cash = (
        Allocation.objects.filter(invoice=OuterRef("pk"), payment__isnull=False, date__lte=as_of)
        .values("invoice")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return Coalesce(Subquery(cash, output_field=_MONEY), ledger.ZERO)


@dataclass(frozen=True)
class CurrencyTotal:
    """The whole filtered list's totals in one currency (never added across currencies)."""

    currency: str
    count: int
    amount: Decimal
    open: Decimal


def invoice_totals(invoices: QuerySet[Any]) -> list[CurrencyTotal]:
    """Σ amount and Σ open amount per currency over every row of ``invoices`` (not one page)."""
    rows = (
        invoices.order_by()
        .values("currency")
        .annotate(n=Count("pk"), total=Sum("amount"), still_open=Sum("open_amount"))
        .order_by("currency")
    )
    return [
        CurrencyTotal(
            currency=row["currency"],
            count=row["n"],
            amount=Decimal(row["total"] or 0),
            open=Decimal(row["still_open"] or 0),
        )
        for row in rows
    ]


@dataclass(frozen=True)
class ArBridge:
    """Open invoices − open credits − unapplied cash = the dashboard's open receivables (AR total)."""

    currency: str
    open_invoices: Decimal
    open_credits: Decimal
    unapplied_cash: Decimal

    @property
    def ar_total(self) -> Decimal:
        return self.open_invoices - self.open_credits - self.unapplied_cash


def ar_bridge(
    *, user: Any, entity: Entity, as_of: date, currency: str, segment: str | None, collector: str | None
) -> ArBridge:
    """The engine's AR total, as the user sees it: a credit note's (payment's) amount less what it
    settled of invoices not void on ``as_of``, each allocation counted for the invoice's customer."""
    group = customer_group_q(segment, collector)
    invoices = invoice_list_filtered(
        user=user,
        entity=entity,
        filters=InvoiceFilters(
            as_of=as_of, state="all", currency=currency, segment=segment, collector=collector
        ),
    )
    open_invoices = sum((total.open for total in invoice_totals(invoices)), _ZERO)
    allocations = customer_scope(
        user,
        Allocation.objects.filter(
            ledger.not_void_q(as_of, "invoice__"),
            customer_group_q(segment, collector, "invoice__customer__"),
            entity=entity,
            date__lte=as_of,
            invoice__currency=currency,
            invoice__issue_date__lte=as_of,
        ),
        customer_field="invoice__customer",
    )

    def total(queryset: QuerySet[Any]) -> Decimal:
        return Decimal(queryset.aggregate(total=Coalesce(Sum("amount"), _ZERO, output_field=_MONEY))["total"])

    def documents(model: Any) -> QuerySet[Any]:
        rows = model.objects.filter(group, entity=entity, currency=currency, date__lte=as_of)
        return customer_scope(user, rows, customer_field="customer")

    return ArBridge(
        currency=currency,
        open_invoices=open_invoices,
        open_credits=total(documents(CreditNote)) - total(allocations.filter(credit_note__isnull=False)),
        unapplied_cash=total(documents(Payment)) - total(allocations.filter(payment__isnull=False)),
    )


def credited_in_period(
    *,
    user: Any,
    entity: Entity,
    start: date,
    as_of: date,
    currency: str,
    segment: str | None,
    collector: str | None,
) -> Decimal:
    """Credit notes dated in ``[start, as_of]``: credit sales = invoiced − this."""
    rows = CreditNote.objects.filter(
        customer_group_q(segment, collector),
        entity=entity,
        currency=currency,
        date__gte=start,
        date__lte=as_of,
    )
    rows = customer_scope(user, rows, customer_field="customer")
    return Decimal(rows.aggregate(total=Coalesce(Sum("amount"), _ZERO, output_field=_MONEY))["total"])


@dataclass(frozen=True)
class CustomerFilters:
    as_of: date
    search: str = ""
    segment: str | None = None  # "": without a segment
    collector: str | None = None  # a username; "": without a collector
    currency: str = ""  # balances in this currency (else each customer's own)
    overdue: bool = False  # only customers with something overdue
    order: str = "-overdue_balance"


def customer_list_filtered(*, user: Any, entity: Entity, filters: CustomerFilters) -> QuerySet[Any]:
    """The customers the user sees with ``open_balance`` and ``overdue_balance`` on ``as_of``."""
    customers = ledger.customer_list_with_balances(
        entity=entity, as_of=filters.as_of, search=filters.search, currency=filters.currency or None
    )
    customers = customer_scope(user, customers).select_related("collector")
    customers = customers.filter(customer_group_q(filters.segment, filters.collector, prefix=""))
    if filters.overdue:
        customers = customers.filter(overdue_balance__gt=ledger.STILL_OWED)
    order = filters.order if filters.order.lstrip("-") in CUSTOMER_ORDERS else "-overdue_balance"
    return customers.order_by(order, "pk")


@dataclass(frozen=True)
class BalanceTotal:
    currency: str
    count: int
    open: Decimal
    overdue: Decimal


def customer_totals(customers: QuerySet[Any], *, currency: str = "") -> list[BalanceTotal]:
    """Σ open and Σ overdue balance over every row, per currency: the filter's, else each
    customer's own (balances in different currencies are never added)."""
    sums = {
        "n": Count("pk"),
        "open": Coalesce(Sum("open_balance"), _ZERO, output_field=_MONEY),
        "overdue": Coalesce(Sum("overdue_balance"), _ZERO, output_field=_MONEY),
    }
    if currency:
        row = customers.order_by().aggregate(**sums)
        rows = [{"currency": currency, **row}] if row["n"] else []
    else:
        rows = list(customers.order_by().values("currency").annotate(**sums).order_by("currency"))
    return [
        BalanceTotal(
            currency=row["currency"],
            count=row["n"],
            open=Decimal(row["open"]),
            overdue=Decimal(row["overdue"]),
        )
        for row in rows
    ]

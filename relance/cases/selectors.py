"""Reads of a customer's case: promises (and the one promise rule's facts), disputes, plans,
holds, credit holds and hand-offs."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet, Sum

from relance.cases.models import (
    HANDOFF_OPEN,
    CreditHold,
    CreditHoldStatus,
    CustomerHold,
    Dispute,
    DisputeStatus,
    ExternalCollection,
    PaymentPlan,
    PlanStatus,
    Promise,
)
from relance.common.fixed_sql import SENTINEL_DAY, FixedQuery, sentinel_ids
from relance.core.errors import NotFound
from relance.core.promises import OPEN as PROMISE_OPEN
from relance.core.promises import PaidByCutoff, PromiseTerms, promise_state
from relance.ledger.models import Customer, Entity, Payment
from relance.ledger.selectors import invoice_list_with_open
from relance.ledger.sql_values import STORED, stored_money


def promise_list(*, customer: Customer, open_only: bool = False) -> QuerySet[Promise]:
    promises = Promise.objects.filter(customer=customer).prefetch_related("invoices")
    return promises.filter(status="open") if open_only else promises


def dispute_list_open(*, entity: Entity, on: date | None = None) -> QuerySet[Dispute]:
    disputes = Dispute.objects.filter(entity=entity, status=DisputeStatus.OPEN).select_related(
        "invoice", "customer"
    )
    return disputes.filter(opened_on__lte=on) if on else disputes


def dispute_get(*, entity: Entity, dispute_id: int) -> Dispute:
    dispute = Dispute.objects.filter(entity=entity, pk=dispute_id).first()
    if dispute is None:
        raise NotFound(f"no dispute {dispute_id} in entity {entity.name}")
    return dispute


def plan_active(*, customer: Customer) -> PaymentPlan | None:
    return (
        PaymentPlan.objects.filter(customer=customer, status=PlanStatus.ACTIVE)
        .prefetch_related("installments")
        .first()
    )


def hold_list_in_force(*, customer: Customer, on: date) -> QuerySet[CustomerHold]:
    """The customer's holds in force on ``on``: started by then, and not ended before it."""
    return CustomerHold.objects.filter(customer=customer, starts_on__lte=on).filter(
        Q(ends_on__isnull=True) | Q(ends_on__gte=on)
    )


def holds_not_ended_by_customer(*, customer_ids: Iterable[int], since: date) -> dict[int, list[CustomerHold]]:
    """The holds of many customers not ended before ``since``, per customer id, in one query:
    a batch (the delivery pass's 50 messages) reads them once and asks ``holds_in_force_among``
    for each message's day."""
    holds: dict[int, list[CustomerHold]] = {}
    for hold in CustomerHold.objects.filter(customer_id__in=list(customer_ids)).filter(
        Q(ends_on__isnull=True) | Q(ends_on__gte=since)
    ):
        holds.setdefault(hold.customer_id, []).append(hold)
    return holds


def holds_in_force_among(holds: Iterable[CustomerHold], *, on: date) -> list[CustomerHold]:
    """Those of ``holds`` in force on ``on``: ``hold_list_in_force``'s rule on rows already read."""
    return [hold for hold in holds if hold.starts_on <= on and (hold.ends_on is None or hold.ends_on >= on)]


def customer_credit_hold(*, customer: Customer) -> CreditHold | None:
    """The customer's active credit hold (no new orders), if any: for the customer page and sales."""
    return CreditHold.objects.filter(customer=customer, status=CreditHoldStatus.ACTIVE).first()


def customer_hand_off(*, customer: Customer) -> ExternalCollection | None:
    """The customer's open hand-off to external collection, if any."""
    return ExternalCollection.objects.filter(customer=customer, status__in=HANDOFF_OPEN).first()


def _disputed_rows(
    *, as_of: date, invoice_ids: list[int] | None, customer_ids: list[int] | None
) -> QuerySet[Any]:
    where = Q()
    if invoice_ids is not None:
        where &= Q(invoice_id__in=invoice_ids)
    if customer_ids is not None:
        where &= Q(customer_id__in=customer_ids)
    return (
        Dispute.objects.filter(where, opened_on__lte=as_of)
        .filter(Q(status=DisputeStatus.OPEN) | Q(resolved_on__gt=as_of))
        .order_by()
        .values_list("invoice_id", "amount")
    )


#: Compiled once per number of customers (every portal overview asks: ``relance.common.fixed_sql``).
_FIXED_DISPUTED: dict[int, FixedQuery] = {}


def disputed_by_invoice(
    *, as_of: date, invoice_ids: Iterable[int] | None = None, customer_ids: Iterable[int] | None = None
) -> dict[int, Decimal]:
    """What is under dispute on ``as_of`` per invoice (the part ``owed_summary`` leaves out), for
    the given invoices or every invoice of the given customers."""
    invoices = None if invoice_ids is None else list(invoice_ids)
    customers = None if customer_ids is None else sorted(set(customer_ids))
    if invoices is None and customers:
        fixed = _FIXED_DISPUTED.get(len(customers))
        if fixed is None:
            fixed = _FIXED_DISPUTED.setdefault(
                len(customers),
                FixedQuery(
                    functools.partial(_disputed_rows, invoice_ids=None),
                    as_of=SENTINEL_DAY,
                    customer_ids=sentinel_ids(len(customers)),
                ),
            )
        rows = fixed.rows(as_of=as_of, customer_ids=customers)
    else:
        rows = list(_disputed_rows(as_of=as_of, invoice_ids=invoices, customer_ids=customers))
    disputed: dict[int, Decimal] = {}
    for invoice_id, amount in rows:
        disputed[invoice_id] = disputed.get(invoice_id, Decimal(0)) + stored_money(amount)
    return disputed


def promise_paid_by(*, promise: Promise, cutoff: date) -> PaidByCutoff:
    """What was paid for ``promise`` by ``cutoff``, as the promise rule counts it (dated allocations
    for its invoices; for an amount-only promise the customer's payments from the day it was made)."""
    invoice_ids = [invoice.pk for invoice in promise.invoices.all()]
    still_open = 0
    paid = Decimal(0)
    if invoice_ids:
        rows = invoice_list_with_open(entity=promise.entity, as_of=cutoff).filter(pk__in=invoice_ids)
        still_open = sum(1 for row in rows if Decimal(row.open_amount).quantize(STORED) > 0)
    else:
        paid = Payment.objects.filter(
            customer_id=promise.customer_id, date__gte=promise.created_on, date__lte=cutoff
        ).aggregate(total=Sum("amount"))["total"] or Decimal(0)
    return PaidByCutoff(
        linked_invoices=len(invoice_ids),
        still_open=still_open,
        paid=Decimal(paid).quantize(STORED),
        amount=promise.amount,
    )


def promise_state_on(*, promise: Promise, as_of: date, grace_days: int) -> str:
    """The promise's state on ``as_of`` (active, kept, broken…) by the one promise rule."""
    terms = PromiseTerms(promised_date=promise.promised_date, grace_days=grace_days)
    paid = None
    if promise.status == PROMISE_OPEN:
        paid = promise_paid_by(promise=promise, cutoff=terms.cutoff(as_of))
    return promise_state(written_status=promise.status, terms=terms, paid=paid, as_of=as_of)


def promise_queue_state(promise: Promise, *, today: date) -> str:
    """Where the queue puts a promise: ``overdue`` (open, date passed), ``today`` or ``upcoming``."""
    if promise.status == PROMISE_OPEN:
        if promise.promised_date < today:
            return "overdue"
        if promise.promised_date == today:
            return "today"
    return "upcoming"


def plan_progress(plan: PaymentPlan, *, today: date) -> dict[str, Any]:
    """A plan's installments paid of its count, the next unpaid one and its state: ``overdue``,
    ``today`` or ``ok`` (reads ``plan.installments``; prefetch them for a list)."""
    installments = sorted(plan.installments.all(), key=lambda i: i.sequence)
    unpaid = [i for i in installments if i.paid_on is None]
    upcoming = unpaid[0] if unpaid else None
    state = "ok"
    if upcoming is not None and upcoming.due_date < today:
        state = "overdue"
    elif upcoming is not None and upcoming.due_date == today:
        state = "today"
    return {
        "paid": len(installments) - len(unpaid),
        "count": len(installments),
        "next": upcoming,
        "state": state,
    }

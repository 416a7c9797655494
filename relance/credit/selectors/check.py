"""The order release check: may the ERP release an order of ``amount`` for a customer now?

Approve, or hold with every reason that applies (codes in ``HOLD_REASONS``). It reads the
exposure (``selectors.exposure``: three or four queries), the credit holds in force and the
latest score's class (one query each): it is on the ERP's order path, so no Ibis and nothing
computed for other customers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Exists, OuterRef, QuerySet, Subquery

from relance.cases.models import CreditHold, CreditHoldStatus
from relance.common.fixed_sql import SENTINEL_DAY, SENTINEL_ID, SENTINEL_TEXT, FixedQuery
from relance.core.money import Money
from relance.core.rates import MissingRate
from relance.credit.models import CreditProfile, CreditScore
from relance.credit.selectors.exposure import (
    Exposure,
    credit_profile_of,
    customer_exposure,
    customers_for_exposure,
    limit_holder,
    rates_for,
)
from relance.credit.selectors.settings import credit_settings_of
from relance.ledger.models import Customer

APPROVE = "approve"
HOLD = "hold"

NO_LIMIT = "no_limit"
LIMIT_EXPIRED = "limit_expired"
OVER_LIMIT = "over_limit"
OVERDUE = "overdue"
CREDIT_HOLD = "credit_hold"
MISSING_RATE = "missing_rate"
PREPAYMENT_REQUIRED = "prepayment_required"
HOLD_REASONS = (
    CREDIT_HOLD,
    PREPAYMENT_REQUIRED,
    NO_LIMIT,
    LIMIT_EXPIRED,
    OVER_LIMIT,
    OVERDUE,
    MISSING_RATE,
)


@dataclass(frozen=True)
class CheckReason:
    code: str
    text: str


@dataclass(frozen=True)
class CreditCheck:
    """The answer to the ERP, with the figures it rests on (before the order)."""

    customer_ref: str
    as_of: date
    amount: Decimal
    amount_currency: str
    amount_converted: Decimal | None  # in the limit's currency; None when no rate converts it
    exposure: Exposure
    reasons: tuple[CheckReason, ...]
    risk_class: str | None

    @property
    def decision(self) -> str:
        return HOLD if self.reasons else APPROVE


def _money(amount: Decimal, currency: str) -> str:
    return f"{Money(amount, currency).rounded().amount:,} {currency}"


def customers_for_check(*, entity_id: int, on: date) -> QuerySet[Customer]:
    """``exposure.customers_for_exposure`` with, in the same query, whether a credit hold is in
    force on the customer or its parent and the class of its latest score on or before ``on``:
    the check then reads the holds only when there is one, and the score not at all."""
    active = CreditHold.objects.filter(status=CreditHoldStatus.ACTIVE)
    latest = (
        CreditScore.objects.filter(customer_id=OuterRef("pk"), as_of__lte=on)
        .order_by("-as_of")
        .values("risk_class")[:1]
    )
    return customers_for_exposure(entity_id=entity_id).annotate(
        held=Exists(active.filter(customer_id=OuterRef("pk"))),
        parent_held=Exists(active.filter(customer_id=OuterRef("parent_id"))),
        latest_risk_class=Subquery(latest),
    )


def _customer_for_check(*, entity_id: int, external_ref: str, on: date) -> QuerySet[Customer]:
    return (
        customers_for_check(entity_id=entity_id, on=on).filter(external_ref=external_ref).order_by("pk")[:1]
    )


_FIXED_CUSTOMER = FixedQuery(
    _customer_for_check, entity_id=SENTINEL_ID, external_ref=SENTINEL_TEXT, on=SENTINEL_DAY
)


def customer_for_check(*, entity_id: int, external_ref: str, on: date) -> Customer | None:
    """The customer as ``customers_for_check`` reads it, by reference: the ERP's order path, so
    its SQL is compiled once per process (``FixedQuery``), not on every check."""
    found = _FIXED_CUSTOMER.objects(entity_id=entity_id, external_ref=external_ref, on=on)
    return found[0] if found else None  # type: ignore[return-value]


def _holds(customer: Customer, holder: Customer) -> list[CreditHold]:
    known = getattr(customer, "held", None)
    if known is not None and not known and not (holder.pk != customer.pk and customer.parent_held):  # type: ignore[attr-defined]
        return []
    ids = {customer.pk, holder.pk}
    return list(
        CreditHold.objects.filter(customer_id__in=ids, status=CreditHoldStatus.ACTIVE)
        .select_related("customer")
        .order_by("placed_on", "pk")
    )


def _risk_class(customer: Customer, on: date) -> str | None:
    if "latest_risk_class" in customer.__dict__:  # read with ``customers_for_check``
        known: str | None = customer.__dict__["latest_risk_class"]
        return known
    return (
        CreditScore.objects.filter(entity_id=customer.entity_id, customer=customer, as_of__lte=on)
        .order_by("-as_of")
        .values_list("risk_class", flat=True)
        .first()
    )


def _hold_text(hold: CreditHold, customer: Customer) -> str:
    whose = (
        "" if hold.customer_id == customer.pk else f" on {hold.customer.external_ref}, whose limit it shares"
    )
    why = f": {hold.reason}" if hold.reason else ""
    return f"a credit hold is in force{whose} since {hold.placed_on.isoformat()}{why}"


def _requires_prepayment(customer: Customer, holder: Customer) -> bool:
    profiles: list[CreditProfile | None] = [credit_profile_of(customer)]
    if holder.pk != customer.pk:
        profiles.append(credit_profile_of(holder))
    return any(profile is not None and profile.requires_prepayment for profile in profiles)


def credit_check(
    *, customer: Customer, amount: Decimal, on: date, currency: str | None = None
) -> CreditCheck:
    """Approve or hold an order of ``amount`` (in ``currency``, default the limit's) for
    ``customer`` on ``on``. Read the customer with ``customers_for_check`` (fewest queries)."""
    holder = limit_holder(customer)
    exposure = customer_exposure(customer=customer, as_of=on)
    order_currency = (currency or exposure.currency).upper()
    reasons: list[CheckReason] = []

    for hold in _holds(customer, holder):
        reasons.append(CheckReason(CREDIT_HOLD, _hold_text(hold, customer)))
    if _requires_prepayment(customer, holder):
        reasons.append(CheckReason(PREPAYMENT_REQUIRED, "the customer must pay its orders in advance"))

    converted: Decimal | None = amount
    if order_currency != exposure.currency:
        try:
            table = rates_for(
                entity_id=customer.entity_id,
                currencies=[order_currency],
                to_currency=exposure.currency,
                on=on,
            )
            converted = table.convert(amount, order_currency, exposure.currency, on)
        except MissingRate as exc:
            converted = None
            reasons.append(
                CheckReason(MISSING_RATE, f"the order's amount cannot be converted: {exc.message}")
            )
    for text in exposure.missing_rates:
        reasons.append(CheckReason(MISSING_RATE, f"the exposure is not complete: {text}"))

    limit = exposure.limit
    if limit is None:
        whose = f"{holder.external_ref} has" if exposure.shared else "the customer has"
        reasons.append(CheckReason(NO_LIMIT, f"{whose} no credit limit"))
    else:
        if exposure.limit_expired(on):
            expiry = exposure.limit_expires_on.isoformat() if exposure.limit_expires_on else ""
            reasons.append(CheckReason(LIMIT_EXPIRED, f"the credit limit expired on {expiry}"))
        if converted is not None and exposure.exposure + converted > limit:
            shared = f" (shared with the group of {holder.external_ref})" if exposure.shared else ""
            reasons.append(
                CheckReason(
                    OVER_LIMIT,
                    f"exposure {_money(exposure.exposure, exposure.currency)} + this order "
                    f"{_money(converted, exposure.currency)} is over the limit "
                    f"{_money(limit, exposure.currency)}{shared}",
                )
            )

    most_days = credit_settings_of(customer).check_max_days_past_due
    days = exposure.days_past_due(on)
    if days > most_days:
        reasons.append(
            CheckReason(
                OVERDUE,
                f"an invoice is {days} days past due (due {exposure.oldest_open_due}); "
                f"the check allows {most_days}",
            )
        )

    order = {code: index for index, code in enumerate(HOLD_REASONS)}
    return CreditCheck(
        customer_ref=customer.external_ref,
        as_of=on,
        amount=amount,
        amount_currency=order_currency,
        amount_converted=converted,
        exposure=exposure,
        reasons=tuple(sorted(reasons, key=lambda reason: order[reason.code])),
        risk_class=_risk_class(customer, on),
    )

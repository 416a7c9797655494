"""Credit insurance as of a day (issue 15, item 10): is the customer insured, is the cover in force,
is the exposure above the insured limit? The credit panel and ``relance credit insurance list``
read ``insurance_status``.

**Exposure** here is the exposure selector's (``selectors.exposure.customer_exposure``: open
receivables and the orders counted, converted by the rates rule) for the insured customer by
itself — an insurer covers one buyer, not the group sharing a limit — in the insured currency. A
part no rate converts counts nothing and is flagged (``exposure_not_converted``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Sum

from relance.core.formatting import format_money
from relance.credit.models import CreditProfile
from relance.credit.selectors.exposure import customer_exposure
from relance.ledger.models import Customer, Entity

ZERO = Decimal(0)
CENT = Decimal("0.01")


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(CENT))


@dataclass(frozen=True)
class InsuranceStatus:
    """A customer's credit insurance on a day, and what is wrong with it (``flags`` + ``reasons``)."""

    customer_id: int
    customer_ref: str
    insured: bool
    insurer: str = ""
    policy: str = ""
    insured_limit: Decimal | None = None
    currency: str = ""
    cover_expires_on: date | None = None
    declaration_days: int | None = None
    exposure: Decimal | None = None
    excess: Decimal = ZERO
    cover_expired: bool = False
    flags: tuple[str, ...] = field(default=())
    reasons: tuple[str, ...] = field(default=())

    @property
    def over_insured_limit(self) -> bool:
        return "over_insured_limit" in self.flags

    def as_dict(self) -> dict[str, Any]:
        """JSON form: amounts as strings, dates ISO."""
        return {
            "customer_ref": self.customer_ref,
            "insured": self.insured,
            "insurer": self.insurer,
            "policy": self.policy,
            "insured_limit": _amount(self.insured_limit),
            "currency": self.currency,
            "cover_expires_on": self.cover_expires_on.isoformat() if self.cover_expires_on else None,
            "declaration_days": self.declaration_days,
            "exposure": _amount(self.exposure),
            "excess": _amount(self.excess),
            "cover_expired": self.cover_expired,
            "over_insured_limit": self.over_insured_limit,
            "flags": list(self.flags),
            "reasons": list(self.reasons),
        }


def _status(profile: CreditProfile | None, customer: Customer, as_of: date) -> InsuranceStatus:
    if profile is None or not profile.insurer or profile.insured_limit is None:
        return InsuranceStatus(customer_id=customer.pk, customer_ref=customer.external_ref, insured=False)
    currency = profile.insured_currency or customer.currency
    limit = Decimal(profile.insured_limit)
    flags: list[str] = []
    reasons: list[str] = []
    ends = profile.cover_expires_on
    expired = ends is not None and ends < as_of
    if ends is not None and expired:
        flags.append("cover_expired")
        reasons.append(f"the cover of {profile.insurer} expired on {ends.isoformat()}")
    measured = customer_exposure(customer=customer, as_of=as_of, currency=currency, alone=True)
    exposure = measured.exposure
    others = [
        part.currency
        for part in measured.parts
        if part.converted is None and (part.open_receivables or part.open_orders)
    ]
    if others:
        flags.append("exposure_not_converted")
        reasons.append(
            f"open amounts in {', '.join(others)} are not compared with the {currency} insured limit"
            " (no rate converts them)"
        )
    excess = max(exposure - limit, ZERO)
    if excess > 0:
        flags.append("over_insured_limit")
        reasons.append(
            f"exposure {format_money(exposure, currency, 'en')} is {format_money(excess, currency, 'en')} "
            f"above the insured limit of {format_money(limit, currency, 'en')}"
        )
    return InsuranceStatus(
        customer_id=customer.pk,
        customer_ref=customer.external_ref,
        insured=True,
        insurer=profile.insurer,
        policy=profile.insurance_policy,
        insured_limit=limit,
        currency=currency,
        cover_expires_on=profile.cover_expires_on,
        declaration_days=profile.declaration_days,
        exposure=exposure,
        excess=excess,
        cover_expired=expired,
        flags=tuple(flags),
        reasons=tuple(reasons),
    )


def insurance_status(*, customer: Customer, as_of: date) -> InsuranceStatus:
    """The customer's insurance on ``as_of``: cover, exposure against the insured limit, flags."""
    profile = CreditProfile.objects.filter(customer=customer).first()
    return _status(profile, customer, as_of)


def insurance_list(*, entity: Entity, as_of: date) -> list[InsuranceStatus]:
    """Every insured customer of the entity (an insurer and an insured limit), by reference."""
    profiles = list(
        CreditProfile.objects.filter(entity=entity, insured_limit__isnull=False)
        .exclude(insurer="")
        .select_related("customer__entity__credit_settings")
        .order_by("customer__external_ref")
    )
    return [_status(profile, profile.customer, as_of) for profile in profiles]


def insured_limit_total(*, entity: Entity) -> dict[str, Decimal]:
    """The insured limits summed per currency (for the KPIs and the list's footer)."""
    rows = (
        CreditProfile.objects.filter(entity=entity, insured_limit__isnull=False)
        .exclude(insurer="")
        .values_list("insured_currency")
        .annotate(total=Sum("insured_limit"))
        .order_by()
    )
    return {currency or entity.currency: Decimal(total) for currency, total in rows}

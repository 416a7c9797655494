"""What a customer's credit looks like today, for the customer 360's credit panel and
``GET /api/v1/customers/{ref}/credit``: one read, two renderings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from relance.cases.models import CreditHold, CreditHoldStatus
from relance.credit.models import BureauReport, CreditProfile, CreditReview, CreditScore, ReviewStatus
from relance.credit.selectors.exposure import (
    Exposure,
    credit_profile_of,
    customer_exposure,
    limit_holder,
)
from relance.credit.selectors.insurance import InsuranceStatus, insurance_status
from relance.ledger.models import Customer


@dataclass(frozen=True)
class CreditPanel:
    customer_ref: str
    as_of: date
    exposure: Exposure
    score: CreditScore | None
    review: CreditReview | None  # the open review, if any
    holds: tuple[CreditHold, ...]  # credit holds in force on the customer or its limit holder
    profile: CreditProfile | None  # the limit holder's (expiry, insurance)
    bureau: BureauReport | None  # the latest report; only when asked for (credit managers)
    insurance: InsuranceStatus | None  # the limit holder's cover against its exposure, when insured


def credit_panel(*, customer: Customer, on: date, with_bureau: bool) -> CreditPanel:
    """The customer's credit on ``on``. ``with_bureau``: read the latest bureau report too (the
    caller decides who may see it: the raw payload is for credit managers and admins only)."""
    holder = limit_holder(customer)
    exposure = customer_exposure(customer=customer, as_of=on)
    score = (
        CreditScore.objects.filter(entity_id=customer.entity_id, customer=customer, as_of__lte=on)
        .order_by("-as_of")
        .first()
    )
    review = CreditReview.objects.filter(
        entity_id=customer.entity_id, customer_id__in={customer.pk, holder.pk}, status=ReviewStatus.OPEN
    ).first()
    holds = tuple(
        CreditHold.objects.filter(customer_id__in={customer.pk, holder.pk}, status=CreditHoldStatus.ACTIVE)
        .select_related("customer")
        .order_by("placed_on", "pk")
    )
    bureau = None
    if with_bureau:
        bureau = (
            BureauReport.objects.filter(entity_id=customer.entity_id, customer=customer)
            .order_by("-reported_on", "-pk")
            .first()
        )
    profile = credit_profile_of(holder)
    insurance = insurance_status(customer=holder, as_of=on) if profile and profile.insurer else None
    return CreditPanel(
        customer_ref=customer.external_ref,
        as_of=on,
        exposure=exposure,
        score=score,
        review=review,
        holds=holds,
        profile=profile,
        bureau=bureau,
        insurance=insurance,
    )

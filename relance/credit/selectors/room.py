""" "Room to grow": good payers near their limit, with the limit a review would propose.

A customer is listed when its latest score (the entity's latest scoring day) is class A or B, it
pays within terms by that score's factors (``days_beyond_terms`` ≤ 0 and ``late_share`` ≤ 10 %,
the engine's *good behaviour* thresholds), it holds its own limit, and its exposure today uses
70 % of it or more.

**The proposed limit** (one home: ``proposed_limit``): the limit × 1.5, at most the latest bureau
report's recommended limit when that is higher than today's limit, rounded down to a step by size
(500 below 10,000, 1,000 below 100,000, 5,000 below a million, 10,000 above) — the engine's
*raise the limit* proposal for good behaviour (``relance.engine.credit.triggers``); when that
module is merged, this should call it instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from relance.credit.models import BureauReport, CreditScore
from relance.credit.selectors.exposure import Exposure, customer_exposure
from relance.ledger.models import Customer

GOOD_CLASSES = ("A", "B")
MIN_UTILISATION = Decimal("70")
MAX_DAYS_BEYOND_TERMS = Decimal("0")
MAX_LATE_SHARE = Decimal("10")
RAISE_FACTOR = Decimal("1.5")
LIMIT_STEPS = (
    (Decimal(10_000), Decimal(500)),
    (Decimal(100_000), Decimal(1_000)),
    (Decimal(1_000_000), Decimal(5_000)),
)
LARGEST_STEP = Decimal(10_000)


@dataclass(frozen=True)
class RoomToGrow:
    customer: Customer
    score: CreditScore
    exposure: Exposure
    proposed_limit: Decimal
    capped_by_bureau: bool


def proposed_limit(limit: Decimal, recommended: Decimal | None) -> tuple[Decimal, bool]:
    """The limit to propose for a good payer near ``limit``, and whether the bureau capped it."""
    target = limit * RAISE_FACTOR
    capped = recommended is not None and limit < recommended < target
    if capped:
        assert recommended is not None
        target = recommended
    step = next((step for below, step in LIMIT_STEPS if target < below), LARGEST_STEP)
    return (target / step).quantize(Decimal(1), rounding=ROUND_FLOOR) * step, capped


def _factor(reasons: Iterable[dict[str, Any]], factor: str) -> Decimal | None:
    for reason in reasons:
        if reason.get("factor") == factor and reason.get("value") not in (None, ""):
            return Decimal(str(reason["value"]))
    return None


def pays_within_terms(score: CreditScore) -> bool:
    days = _factor(score.reasons, "days_beyond_terms")
    late = _factor(score.reasons, "late_share")
    return days is not None and days <= MAX_DAYS_BEYOND_TERMS and (late is None or late <= MAX_LATE_SHARE)


def room_to_grow(*, customers: Any, on: date) -> list[RoomToGrow]:
    """Of ``customers`` (a queryset already scoped to what the user may see), the good payers near
    their limit, the most used first."""
    latest_day = (
        CreditScore.objects.filter(customer__in=customers, as_of__lte=on)
        .order_by("-as_of")
        .values_list("as_of", flat=True)
        .first()
    )
    if latest_day is None:
        return []
    scores = {
        score.customer_id: score
        for score in CreditScore.objects.filter(
            customer__in=customers.filter(credit_limit__gt=0), as_of=latest_day, risk_class__in=GOOD_CLASSES
        )
        if pays_within_terms(score)
    }
    if not scores:
        return []
    found = []
    recommended = _recommended(scores)
    for customer in (
        customers.filter(pk__in=list(scores))
        .select_related("entity__credit_settings", "credit_profile", "parent", "parent__credit_profile")
        .order_by("pk")
    ):
        exposure = customer_exposure(customer=customer, as_of=on)
        if exposure.shared or exposure.limit is None or exposure.utilisation is None:
            continue
        if exposure.utilisation < MIN_UTILISATION:
            continue
        limit, capped = proposed_limit(exposure.limit, recommended.get(customer.pk))
        if limit > exposure.limit:
            found.append(RoomToGrow(customer, scores[customer.pk], exposure, limit, capped))
    found.sort(key=lambda row: (-(row.exposure.utilisation or 0), row.customer.external_ref))
    return found


def _recommended(scores: dict[int, CreditScore]) -> dict[int, Decimal]:
    """Each customer's latest bureau report's recommended limit, when it has one in the customer's
    currency (a recommendation in another currency is not converted: it caps nothing)."""
    latest: dict[int, tuple[Decimal | None, str, str]] = {}
    for customer_id, amount, currency, own in (
        BureauReport.objects.filter(customer_id__in=list(scores), recommended_limit__isnull=False)
        .order_by("customer_id", "-reported_on", "-pk")
        .values_list("customer_id", "recommended_limit", "recommended_currency", "customer__currency")
    ):
        latest.setdefault(customer_id, (amount, currency, own))
    return {
        key: amount
        for key, (amount, currency, own) in latest.items()
        if amount is not None and currency in ("", own)
    }

"""Reads of credit reviews: the open queue, one review as a user may see it, and what a review's
proposal rested on against the customer as it is now (a stale review)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import CharField, OuterRef, QuerySet, Subquery

from relance.core.errors import NotFound
from relance.core.formatting import format_money
from relance.credit.models import CreditReview, CreditScore, ReviewStatus
from relance.ledger.models import Customer, Entity

REVIEW_NOT_FOUND = "no such credit review"
PERM_REVIEW_DECIDE = "credit.change_creditreview"
PERM_REVIEW_VIEW = "credit.view_creditreview"


def _open(entity: Entity) -> QuerySet[CreditReview]:
    return CreditReview.objects.filter(entity=entity, status=ReviewStatus.OPEN).select_related("customer")


def review_exposure(review: CreditReview) -> Decimal:
    """The exposure the review's proposal rested on (0 when unknown)."""
    try:
        return Decimal(str(review.basis.get("exposure") or 0))
    except ArithmeticError:
        return Decimal(0)


def _by_exposure(reviews: Iterable[CreditReview]) -> list[CreditReview]:
    """The most exposure at stake first (each in its customer's currency), then by customer."""
    return sorted(reviews, key=lambda review: (-review_exposure(review), review.customer.external_ref))


def review_list_open(*, entity: Entity) -> list[CreditReview]:
    """The entity's open reviews, the most exposure at stake first."""
    return _by_exposure(_open(entity))


def review_list(
    *, user: Any, entity: Entity, status: str | None = ReviewStatus.OPEN
) -> QuerySet[CreditReview]:
    """The reviews of ``entity`` the user may see (a sales owner: their accounts), open ones by
    default (``status`` None: every status), unordered."""
    from relance.accounts.selectors import customer_scope

    reviews = CreditReview.objects.filter(entity=entity).select_related("customer")
    if status is not None:
        reviews = reviews.filter(status=status)
    return customer_scope(user, reviews, customer_field="customer")


def review_queue(*, user: Any, entity: Entity) -> list[CreditReview]:
    """The open reviews of ``entity`` the user may see (a sales owner: their accounts), the most
    exposure at stake first."""
    return _by_exposure(review_list(user=user, entity=entity))


def review_for_user(*, user: Any, review_id: int) -> CreditReview:
    """The review if the user may see its customer; the same ``NotFound`` otherwise."""
    from relance.accounts.selectors import customer_scope

    review: CreditReview | None = (
        customer_scope(user, CreditReview.objects.filter(pk=review_id), customer_field="customer")
        .select_related("customer", "entity", "decided_by", "decision")
        .first()
    )
    if review is None:
        raise NotFound(REVIEW_NOT_FOUND)
    return review


def review_get(*, entity: Entity, review_id: int) -> CreditReview:
    """The entity's review ``review_id`` (another entity's is not found, as one that does not exist)."""
    review = CreditReview.objects.filter(pk=review_id, entity=entity).select_related("customer").first()
    if review is None:
        raise NotFound(f"no credit review {review_id} in entity {entity.name}")
    return review


def review_open_of(*, customer: Customer) -> CreditReview | None:
    """The customer's open review, if any (for the customer page's link)."""
    return CreditReview.objects.filter(customer=customer, status=ReviewStatus.OPEN).first()


def latest_scores(*, customer_ids: list[int]) -> dict[int, CreditScore]:
    """Each customer's latest stored score (the queue shows its reasons)."""
    latest: dict[int, CreditScore] = {}
    for score in CreditScore.objects.filter(customer_id__in=customer_ids).order_by("customer_id", "-as_of"):
        latest.setdefault(score.customer_id, score)
    return latest


def risk_class_latest(outer: str = "customer_id") -> Subquery:
    """The latest stored risk class of the customer at ``outer`` (a subquery to annotate rows
    with: the worklist's *Risk*)."""
    latest = CreditScore.objects.filter(customer_id=OuterRef(outer)).order_by("-as_of").values("risk_class")
    return Subquery(latest[:1], output_field=CharField())


def review_of_credit_hold(*, hold: Any) -> CreditReview | None:
    """The accepted review whose decision placed ``hold`` (a ``cases.CreditHold``), if one did."""
    return (
        CreditReview.objects.filter(
            customer_id=hold.customer_id,
            status=ReviewStatus.ACCEPTED,
            decision__kind="place_hold",
            decision__decided_on=hold.placed_on,
        )
        .select_related("decided_by", "decision")
        .order_by("-decided_at")
        .first()
    )


# --------------------------------------------------------------------------- the basis


@dataclass(frozen=True)
class Basis:
    """The facts a proposal rests on; stored on the review (JSON) and compared when deciding."""

    credit_limit: Decimal | None
    currency: str
    terms_days: int
    exposure: Decimal
    utilisation: float | None
    score: int | None
    risk_class: str
    credit_hold: bool
    scored_on: date | None

    def to_json(self) -> dict[str, Any]:
        return {
            "credit_limit": None if self.credit_limit is None else str(self.credit_limit),
            "currency": self.currency,
            "terms_days": self.terms_days,
            "exposure": str(self.exposure),
            "utilisation": self.utilisation,
            "score": self.score,
            "risk_class": self.risk_class,
            "credit_hold": self.credit_hold,
            "scored_on": self.scored_on.isoformat() if self.scored_on else None,
        }


def _limit_text(limit: Any, currency: str) -> str:
    return "none" if limit is None else format_money(Decimal(str(limit)), currency, "en")


def basis_changes(stored: dict[str, Any], now: Basis) -> list[str]:
    """What changed between a review's stored basis and the customer now, in words (empty: fresh).

    The limit, the terms, the credit hold and the risk class count; the exposure moves every day
    (each run refreshes an open review's basis) and does not make a review stale by itself."""
    changes = []
    was_limit = stored.get("credit_limit")
    was = None if was_limit is None else Decimal(str(was_limit))
    if was != now.credit_limit:
        changes.append(
            f"the limit is now {_limit_text(now.credit_limit, now.currency)} "
            f"(was {_limit_text(was, now.currency)} when proposed)"
        )
    if stored.get("terms_days") != now.terms_days:
        changes.append(
            f"the payment terms are now {now.terms_days} days (were {stored.get('terms_days')} when proposed)"
        )
    if bool(stored.get("credit_hold")) != now.credit_hold:
        changes.append(
            "a credit hold was placed since" if now.credit_hold else "the credit hold was released since"
        )
    if stored.get("risk_class") and now.risk_class and stored.get("risk_class") != now.risk_class:
        changes.append(
            f"the risk class is now {now.risk_class} (was {stored.get('risk_class')} when proposed)"
        )
    return changes

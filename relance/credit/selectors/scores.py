"""Stored scores: a customer's latest, an entity's of one day."""

from __future__ import annotations

from datetime import date

from django.db.models import QuerySet

from relance.credit.models import CreditScore
from relance.ledger.models import Customer, Entity


def score_latest(*, customer: Customer, on_or_before: date | None = None) -> CreditScore | None:
    """The customer's most recent stored score (on or before a day when given)."""
    scores = CreditScore.objects.filter(entity_id=customer.entity_id, customer=customer)
    if on_or_before is not None:
        scores = scores.filter(as_of__lte=on_or_before)
    return scores.order_by("-as_of").first()


def score_list(*, entity: Entity, as_of: date) -> QuerySet[CreditScore]:
    return CreditScore.objects.filter(entity=entity, as_of=as_of).select_related("customer")


def latest_scoring_day(*, entity: Entity, on_or_before: date | None = None) -> date | None:
    scores = CreditScore.objects.filter(entity=entity)
    if on_or_before is not None:
        scores = scores.filter(as_of__lte=on_or_before)
    latest = scores.order_by("-as_of").values_list("as_of", flat=True).first()
    return latest

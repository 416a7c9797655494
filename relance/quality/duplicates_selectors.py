"""Reads of duplicate detection: the review queue of stored candidate pairs, one pair, merges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from relance.core.errors import NotFound
from relance.ledger.models import Entity
from relance.quality.models import CustomerMerge, DuplicateCandidate

PERM_MERGE = "quality.add_customermerge"  # credit managers and admins
PAIR_NOT_FOUND = "no such duplicate pair"


@dataclass(frozen=True)
class PairItem:
    """A pair on the review page: both customers with their open balance, the score, reasons."""

    pair: DuplicateCandidate
    low: Any  # Customer annotated with open_balance
    high: Any
    at_stake: Decimal

    @property
    def sides(self) -> tuple[Any, Any]:
        return (self.low, self.high)


def candidate_queue(*, entity: Entity, as_of: date, limit: int = 200) -> list[PairItem]:
    """The entity's stored pairs, highest score first, then the most open amount at stake."""
    from relance.ledger.selectors import customer_list_with_balances

    pairs = list(DuplicateCandidate.objects.filter(entity=entity).order_by("-score", "id")[: limit * 5])
    ids = {pair.customer_low_id for pair in pairs} | {pair.customer_high_id for pair in pairs}
    customers = {
        customer.pk: customer
        for customer in customer_list_with_balances(entity=entity, as_of=as_of)
        .filter(pk__in=ids)
        .prefetch_related("contacts")
    }
    items = []
    for pair in pairs:
        low, high = customers.get(pair.customer_low_id), customers.get(pair.customer_high_id)
        if low is None or high is None:
            continue
        items.append(PairItem(pair, low, high, low.open_balance + high.open_balance))
    items.sort(key=lambda item: (-item.pair.score, -item.at_stake, item.pair.pk))
    return items[:limit]


def candidate_get(*, entity: Entity, pair_id: int) -> DuplicateCandidate:
    """One stored pair of ``entity``: another entity's pair is not found (a 404 on the page)."""
    try:
        return DuplicateCandidate.objects.select_related("customer_low", "customer_high").get(
            entity=entity, pk=pair_id
        )
    except DuplicateCandidate.DoesNotExist:
        raise NotFound(PAIR_NOT_FOUND) from None


def merge_list(*, entity: Entity, limit: int = 20) -> list[CustomerMerge]:
    """The entity's latest merges, newest first (the page offers to undo those that may be)."""
    return list(CustomerMerge.objects.filter(entity=entity).order_by("-id")[:limit])

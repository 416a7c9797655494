"""What every workspace read shares: the entity check, the collectors, the page sizes."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from relance.accounts import roles
from relance.accounts.selectors import entity_visible as accounts_entity_visible
from relance.accounts.selectors import user_role
from relance.ledger.models import Entity

DISPUTE_NOT_FOUND = "dispute not found"
TIMELINE_LIMIT = 40
WORKLIST_PAGE = 100  # rows shown: a day's work, and a page that renders fast
OPEN_ITEMS_PAGE = 50  # open items shown on the customer page at once ("show more" for the next)


def entity_visible(*, user: Any, entity_id: int) -> bool:
    """Whether the user sees the entity (the user's entities are read once per request)."""
    return accounts_entity_visible(user, entity_id)


def collectors_of(*, entity: Entity) -> QuerySet[Any]:
    """Users who may collect for ``entity``: collectors and credit managers granted it, and admins."""
    user_model = get_user_model()
    return (
        user_model.objects.filter(is_active=True)
        .filter(
            Q(groups__name__in=[roles.COLLECTOR, roles.CREDIT_MANAGER], entity_access__entity=entity)
            | Q(groups__name=roles.ADMIN)
            | Q(is_superuser=True)
        )
        .distinct()
        .order_by("username")
    )


def user_is_collector(user: Any) -> bool:
    return not user.is_superuser and user_role(user) == roles.COLLECTOR

"""Which entities a signed-in user may see. Every page goes through this."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from relance.accounts.selectors import entities_for_user as role_aware_entities
from relance.ledger.models import Entity


def entities_for_user(user: Any) -> QuerySet[Entity]:
    return role_aware_entities(user)

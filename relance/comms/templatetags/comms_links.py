"""``{{ entity|logo_path }}``: where the entity's logo is served (pages that show it)."""

from __future__ import annotations

from django import template

from relance.comms.context import entity_logo_path
from relance.ledger.models import Entity

register = template.Library()


@register.filter
def logo_path(entity: Entity) -> str:
    return entity_logo_path(entity) if entity and entity.logo else ""

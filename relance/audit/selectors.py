"""Reads of the audit trail, scoped to what the reader may see."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from relance.audit.models import AuditEvent

OBJECT_TYPE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class AuditFilters:
    """Each one optional. Dates are inclusive calendar days in the server's time zone."""

    actor: str = ""  # part of the actor's name (user, token, label)
    entity: str = ""  # entity name
    object: str = ""  # "app.model", "app.model#id", or part of the object's name
    action: str = ""
    since: datetime | None = None
    date_from: date | None = None
    date_to: date | None = None


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def audit_event_list(
    *, entity_ids: Collection[int] | None = None, filters: AuditFilters = AuditFilters()
) -> QuerySet[AuditEvent]:
    """Events newest first. With ``entity_ids`` (the entities a reader sees, scoped by the caller
    through accounts): only their events, so events without an entity (sign-ins, users, roles)
    only for a reader who sees every entity (None). Without: everything (CLI, such readers)."""
    events = AuditEvent.objects.select_related("entity", "actor_user", "actor_token")
    if entity_ids is not None:
        events = events.filter(entity_id__in=list(entity_ids))
    if filters.actor:
        events = events.filter(
            Q(actor_label__icontains=filters.actor) | Q(actor_user__username__icontains=filters.actor)
        )
    if filters.entity:
        events = events.filter(entity__name=filters.entity)
    if filters.object:
        text = filters.object
        kind, _, object_id = text.partition("#")
        matches = Q(object_repr__icontains=text) | Q(object_id=text)
        if OBJECT_TYPE.match(kind.lower()):
            by_type = Q(object_type=kind.lower()) & (Q(object_id=object_id) if object_id else Q())
            matches |= by_type
        events = events.filter(matches)
    if filters.action:
        events = events.filter(action=filters.action)
    if filters.since is not None:
        events = events.filter(at__gte=filters.since)
    if filters.date_from is not None:
        events = events.filter(at__gte=_day_start(filters.date_from))
    if filters.date_to is not None:
        events = events.filter(at__lt=_day_start(filters.date_to + timedelta(days=1)))
    return events.order_by("-at", "-id")


def audit_event_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.pk,
        "at": event.at.isoformat(),
        "actor": event.actor_label,
        "actor_user": event.actor_user.get_username() if event.actor_user else None,
        "token": event.actor_token.prefix if event.actor_token else None,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "object": event.object_repr,
        "entity": event.entity.name if event.entity else None,
        "before": event.before,
        "after": event.after,
        "ip": event.ip,
        "request_id": event.request_id,
    }

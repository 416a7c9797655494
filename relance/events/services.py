"""``emit``: record a domain event in the caller's transaction (the transactional outbox).

The caller's service is already in ``transaction.atomic`` (or autocommit): the event row commits
with the change or not at all, so a rolled-back change emits nothing. Delivery is another app's
affair (``relance.webhooks`` reads the rows after commit).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from relance.events.models import Event
from relance.events.types import EVENT_TYPES


class UnknownEventType(ValueError):
    pass


def event_uid() -> str:
    """``msg_`` and 128 random bits (Standard Webhooks' message id form): unguessable, unique."""
    return f"msg_{secrets.token_hex(16)}"


def _plain(value: Any) -> Any:
    """JSON-ready: Decimals as exact strings, dates and instants in ISO form."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def customer_ref(customer: Any) -> dict[str, Any]:
    """The customer as every payload names it."""
    return {"id": customer.pk, "external_ref": customer.external_ref, "name": customer.name}


def emit(
    event_type: str,
    payload: Mapping[str, Any],
    *,
    entity: Any,
    customer: Any = None,
    at: datetime | None = None,
) -> Event:
    """Record ``event_type`` with ``payload`` (its ``data``) for ``entity`` (a model or an id).

    With a ``customer``, the payload gets its ``customer`` reference and the event joins that
    customer's ordered stream (webhooks deliver one customer's events in order).
    """
    kind = EVENT_TYPES.get(event_type)
    if kind is None:
        raise UnknownEventType(f"unknown event type {event_type!r}: expected one of {', '.join(EVENT_TYPES)}")
    data = dict(payload)
    customer_id = None
    if customer is not None:
        customer_id = customer if isinstance(customer, int) else customer.pk
        if not isinstance(customer, int):
            data = {"customer": customer_ref(customer), **data}
    return Event.objects.create(
        uid=event_uid(),
        type=event_type,
        version=kind.version,
        entity_id=entity if isinstance(entity, int) else entity.pk,
        customer_id=customer_id,
        ordering_key=f"customer:{customer_id}" if customer_id is not None else "",
        occurred_at=at or timezone.now(),
        data=_plain(data),
    )

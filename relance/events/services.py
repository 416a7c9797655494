"""``emit``: record a domain event in the caller's transaction (the transactional outbox).

The caller's service is already in ``transaction.atomic`` (or autocommit): the event row commits
with the change or not at all, so a rolled-back change emits nothing. Delivery is another app's
affair (``relance.webhooks`` reads the rows after commit).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from relance.core.money import is_currency, quantum
from relance.events.models import Event
from relance.events.types import EVENT_TYPES, EventType


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


#: Money fields of the payloads: written in their currency's minor units (12.50 EUR, 1250 JPY),
#: not the ledger's four stored places.
AMOUNT_FIELDS = frozenset({"amount", "limit", "previous_limit", "approved_limit"})


def _amounts(data: Mapping[str, Any]) -> dict[str, Any]:
    currency = data.get("currency")
    if not isinstance(currency, str) or not is_currency(currency):
        return dict(data)
    step = quantum(currency)
    return {
        key: value.quantize(step) if key in AMOUNT_FIELDS and isinstance(value, Decimal) else value
        for key, value in data.items()
    }


def customer_ref(customer: Any) -> dict[str, Any]:
    """The customer as every payload names it."""
    return {"id": customer.pk, "external_ref": customer.external_ref, "name": customer.name}


#: Whether any endpoint wants an event type of an entity: handed down by the webhooks app at start
#: (``relance.webhooks.apps``); None records every event. Nobody listening: nothing is written.
Interest = Callable[[int, str], bool]
_interest: Interest | None = None


def interest_set(check: Interest | None) -> None:
    """Called once by the app that consumes events (a lower layer never imports it)."""
    global _interest
    _interest = check


def wanted(entity_id: int, event_type: str) -> bool:
    return _interest is None or _interest(entity_id, event_type)


def _kind(event_type: str) -> EventType:
    kind = EVENT_TYPES.get(event_type)
    if kind is None:
        raise UnknownEventType(f"unknown event type {event_type!r}: expected one of {', '.join(EVENT_TYPES)}")
    return kind


def _event(
    kind: EventType, data: Mapping[str, Any], *, entity_id: int, customer_id: int | None, at: datetime
) -> Event:
    return Event(
        uid=event_uid(),
        type=kind.name,
        version=kind.version,
        entity_id=entity_id,
        customer_id=customer_id,
        ordering_key=f"customer:{customer_id}" if customer_id is not None else "",
        occurred_at=at,
        data=_plain(_amounts(data)),
    )


def emit(
    event_type: str,
    payload: Mapping[str, Any],
    *,
    entity: Any,
    customer: Any = None,
    at: datetime | None = None,
) -> Event | None:
    """Record ``event_type`` with ``payload`` (its ``data``) for ``entity`` (a model or an id).

    With a ``customer`` (a model), the payload gets its ``customer`` reference and the event joins
    that customer's ordered stream (webhooks deliver one customer's events in order). None when
    no endpoint wants this type of this entity (nothing to deliver, nothing written).
    """
    kind = _kind(event_type)
    entity_id = entity if isinstance(entity, int) else entity.pk
    if not wanted(entity_id, event_type):
        return None
    data = dict(payload)
    if customer is not None:
        data = {"customer": customer_ref(customer), **data}
    event = _event(
        kind,
        data,
        entity_id=entity_id,
        customer_id=None if customer is None else customer.pk,
        at=at or timezone.now(),
    )
    event.save()
    return event


@dataclass(frozen=True)
class Emission:
    """One event of a bulk write: its type, data, and the customer's id and reference."""

    event_type: str
    data: Mapping[str, Any]
    customer_id: int | None = None
    customer: Mapping[str, Any] | None = None


def emit_many(emissions: Iterable[Emission], *, entity: Any, at: datetime | None = None) -> int:
    """``emit`` for a bulk write (an import): one INSERT per 500 events. Returns the count written."""
    entity_id = entity if isinstance(entity, int) else entity.pk
    when = at or timezone.now()
    interest: dict[str, bool] = {}
    rows = []
    for item in emissions:
        kind = _kind(item.event_type)
        if kind.name not in interest:
            interest[kind.name] = wanted(entity_id, kind.name)
        if not interest[kind.name]:
            continue
        data = {"customer": dict(item.customer), **item.data} if item.customer is not None else item.data
        rows.append(_event(kind, data, entity_id=entity_id, customer_id=item.customer_id, at=when))
    Event.objects.bulk_create(rows, batch_size=500)
    return len(rows)

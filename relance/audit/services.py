"""Writes of the audit trail. ``audit_record`` is the one way to add an event.

Model changes made during a request (admin, pages, API) are recorded by the signal receivers in
``signals.py``; anything that is not a model save (sign-ins, exports, a whole import) calls
``audit_record`` itself.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Mapping
from typing import Any

from django.db import models
from django.utils import timezone

from relance.audit.context import audit_context
from relance.audit.models import AuditEvent, CaseEvent
from relance.common.client import client_ip
from relance.core.actors import Actor

# Fields never copied into an event: secrets, bookkeeping that changes on every save, and copies
# derived from other fields (``search_text``: the folded name, reference… of the ledger).
SECRET_FIELDS = frozenset({"password", "secret", "secret_hash", "code_hash"})
SKIPPED_FIELDS = frozenset(
    {"created_at", "updated_at", "last_login", "last_used_at", "last_used_step", "search_text"}
)
REDACTED = "•••"
MAX_TEXT = 2000


def json_value(value: Any) -> Any:
    """A JSON-ready copy of a field value (Decimal and dates as ISO strings)."""
    if value is None or isinstance(value, bool | int | str):
        return value if not isinstance(value, str) or len(value) <= MAX_TEXT else value[:MAX_TEXT] + "…"
    if isinstance(value, float):
        return value
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_value(item) for item in value]
    if hasattr(value, "name") and hasattr(value, "url"):  # a FieldFile
        return value.name or ""
    return str(value)


def model_values(instance: models.Model) -> dict[str, Any]:
    """The audited values of a model row: concrete fields by attribute name (FKs as ids)."""
    values: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if field.name in SKIPPED_FIELDS:
            continue
        value = field.value_from_object(instance)
        values[field.attname] = REDACTED if field.name in SECRET_FIELDS and value else json_value(value)
    return values


def values_diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys whose values differ, on each side."""
    keys = [key for key in {**before, **after} if before.get(key) != after.get(key)]
    return {key: before.get(key) for key in keys if key in before}, {
        key: after.get(key) for key in keys if key in after
    }


def object_entity_id(instance: Any) -> int | None:
    from relance.ledger.models import Entity

    if isinstance(instance, Entity):
        return instance.pk
    entity_id = getattr(instance, "entity_id", None)
    if entity_id is not None:
        return entity_id
    customer_id = getattr(instance, "customer_id", None)
    if customer_id is not None:
        from relance.ledger.models import Customer

        return Customer.objects.filter(pk=customer_id).values_list("entity_id", flat=True).first()
    return None


def _actor(actor: Any) -> tuple[Any, Any, str, Any, str, str | None]:
    """(user, token, label, request, request_id, ip) from an explicit actor and the context."""
    context = audit_context()
    request = context.request if context else None
    token = getattr(request, "api_token", None) if request is not None else None
    user = actor
    if user is None and context is not None:
        user = context.user
        if user is None and request is not None:
            user = getattr(request, "user", None)
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    label = str(getattr(request, "audit_actor_label", "") or "") if request is not None else ""
    if not label and token is not None:
        label = f"token {token.prefix} of {token.user.get_username()}"
    if not label and context is not None:
        label = context.label
    if not label and user is not None:
        label = user.get_username()
    request_id = context.request_id if context else ""
    ip = context.ip if context else None
    return user, token, label or "anonymous", request, request_id, ip


def audit_record(
    *,
    action: str,
    actor: Any = None,
    actor_label: str = "",
    request: Any = None,
    object_type: str = "",
    object_id: Any = "",
    object_repr: str = "",
    entity: Any = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    obj: models.Model | None = None,
) -> AuditEvent:
    """Add one event. The actor, address and request id come from the current request's context
    unless given; ``obj`` fills object type, id, repr and entity.

    For a bulk import call it once with ``action="import"`` and the counts in ``after``.
    """
    user, token, label, context_request, request_id, ip = _actor(actor)
    request = request or context_request
    if request is not None:
        ip = ip or client_ip(request)
        request_id = request_id or getattr(request, "request_id", "")
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
        object_repr = object_repr or str(obj)
        if entity is None:
            entity = object_entity_id(obj)
    entity_id = entity.pk if isinstance(entity, models.Model) else entity
    return AuditEvent.objects.create(
        at=timezone.now(),
        actor_user=user,
        actor_token=token,
        actor_label=(actor_label or label)[:200],
        action=action,
        object_type=object_type,
        object_id=str(object_id or "")[:64],
        object_repr=(object_repr or "")[:200],
        entity_id=entity_id,
        before=json_value(dict(before or {})),
        after=json_value(dict(after or {})),
        ip=ip,
        request_id=request_id[:64],
    )


# --------------------------------------------------------------------------- the case timeline

# What a subject is called in ``CaseEvent.subject_type``, by model name: stable when a model moves
# between apps (promises, disputes, plans and holds are moving to ``cases``).
SUBJECT_TYPES = {
    "promise": "promise",
    "dispute": "dispute",
    "paymentplan": "plan",
    "customerhold": "hold",
    "contactlog": "contact",
    "customernote": "note",
    "outboundmessage": "message",
    "calltask": "call_task",
    "planrequest": "plan_request",
    "holdrequest": "hold_request",
    "credithold": "credit_hold",
    "externalcollection": "hand_off",
    "portalevent": "portal_event",
}


def subject_type_of(subject: models.Model) -> str:
    name = subject._meta.model_name or ""
    return SUBJECT_TYPES.get(name, name)


def case_event_record(
    *,
    customer: Any,
    kind: str,
    actor: Actor,
    subject: models.Model | None = None,
    summary: str = "",
    data: Mapping[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> CaseEvent:
    """Add one event to the customer's case timeline: the one writer of ``CaseEvent``.

    ``actor`` is explicit (no ambient actor): the service that made the change passes the one its
    caller gave it. ``data['detail']`` is the free text shown under the summary (a note, a reason).
    """
    return CaseEvent.objects.create(
        entity_id=customer.entity_id,
        customer_id=customer.pk,
        at=at or timezone.now(),
        kind=kind,
        actor_kind=actor.kind.value,
        actor_user_id=actor.user_id,
        actor_token_id=actor.token_id,
        actor_link_id=actor.link_id,
        actor_label=actor.label[:200],
        subject_type=subject_type_of(subject) if subject is not None else "",
        subject_id=subject.pk if subject is not None else None,
        summary=summary[:500],
        data=json_value(dict(data or {})),
    )

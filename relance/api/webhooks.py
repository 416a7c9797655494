"""``/webhooks/endpoints``: outbound webhook endpoints for admins (the Django permission
``webhooks.*`` only the admin role holds; docs/integrations.md). A user who sees some entities
only (a superuser without the admin role never is) manages those entities' endpoints; another
entity's endpoint is a 404. The secret is shown when an endpoint is made or its secret rotated.
(No ``from __future__ import annotations`` here: Ninja reads the hints.)
"""

from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status

from relance.accounts.selectors import entities_for_user, user_sees_all_entities
from relance.api.params import ERRORS
from relance.events.types import EVENT_TYPES, envelope_schema
from relance.ledger.models import Entity
from relance.webhooks import selectors, services
from relance.webhooks.models import WebhookAttempt, WebhookEndpoint

router = Router(tags=["webhooks"])


class EndpointOut(Schema):
    id: int
    url: str
    entity: str | None = Field(None, description="null: every entity's events")
    event_types: list[str] = Field(description="empty: every type")
    description: str
    active: bool
    max_in_flight: int
    disabled_reason: str
    deliveries: dict[str, int] = Field(description="deliveries by status")


class EndpointCreated(EndpointOut):
    secret: str = Field(description="whsec_…: shown once; the receiver verifies signatures with it")


class EndpointIn(Schema):
    url: str
    event_types: list[str] = Field(default_factory=list, description="empty: every type")
    entity: str | None = Field(None, description="an entity's name; null: every entity (admins who see all)")
    description: str = ""
    secret: str | None = Field(None, description="whsec_… (default: a new random secret)")
    max_in_flight: int = 10


class EndpointPatch(Schema):
    url: str | None = None
    event_types: list[str] | None = None
    description: str | None = None
    active: bool | None = None
    max_in_flight: int | None = None


class RotateIn(Schema):
    overlap_hours: float = Field(24, ge=0, le=24 * 30, description="the previous secret signs too this long")


class SecretOut(Schema):
    secret: str


class AttemptOut(Schema):
    event_id: str
    event_type: str
    attempt: int
    at: str
    status_code: int | None
    latency_ms: int | None
    error: str


class EndpointList(Schema):
    items: list[EndpointOut]


def _scope(request: HttpRequest) -> list[int] | None:
    user = request.user
    return (
        None if user_sees_all_entities(user) else list(entities_for_user(user).values_list("pk", flat=True))
    )


def _out(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.pk,
        "url": endpoint.url,
        "entity": endpoint.entity.name if endpoint.entity is not None else None,
        "event_types": endpoint.event_types,
        "description": endpoint.description,
        "active": endpoint.active,
        "max_in_flight": endpoint.max_in_flight,
        "disabled_reason": endpoint.disabled_reason,
        "deliveries": selectors.endpoint_stats(endpoint),
    }


def _get(request: HttpRequest, endpoint_id: int) -> WebhookEndpoint:
    return selectors.endpoint_get(pk=endpoint_id, entity_ids=_scope(request))


@router.get("/webhooks/endpoints", response={200: EndpointList, **ERRORS})
def endpoint_list(request: HttpRequest) -> Any:
    return {"items": [_out(e) for e in selectors.endpoint_list(entity_ids=_scope(request))]}


@router.post("/webhooks/endpoints", response={201: EndpointCreated, **ERRORS})
def endpoint_create(request: HttpRequest, payload: EndpointIn) -> Any:
    scope = _scope(request)
    entity = None
    if payload.entity is not None:
        entity = Entity.objects.filter(name=payload.entity).first()
        if entity is None or (scope is not None and entity.pk not in scope):
            raise HttpError(404, f"no entity named {payload.entity!r} that you may see")
    elif scope is not None:
        raise HttpError(403, "an endpoint for every entity needs a user who sees every entity: give `entity`")
    endpoint = services.endpoint_create(
        url=payload.url,
        event_types=payload.event_types,
        entity=entity,
        description=payload.description,
        secret=payload.secret,
        max_in_flight=payload.max_in_flight,
    )
    return Status(201, _out(endpoint) | {"secret": endpoint.secret})


@router.get("/webhooks/endpoints/{endpoint_id}", response={200: EndpointOut, **ERRORS})
def endpoint_get(request: HttpRequest, endpoint_id: int) -> Any:
    return _out(_get(request, endpoint_id))


@router.patch("/webhooks/endpoints/{endpoint_id}", response={200: EndpointOut, **ERRORS})
def endpoint_patch(request: HttpRequest, endpoint_id: int, payload: EndpointPatch) -> Any:
    changes = payload.dict(exclude_none=True)
    return _out(services.endpoint_update(endpoint=_get(request, endpoint_id), **changes))


@router.delete("/webhooks/endpoints/{endpoint_id}", response={204: None, **ERRORS})
def endpoint_delete(request: HttpRequest, endpoint_id: int) -> Any:
    _get(request, endpoint_id).delete()
    return Status(204, None)


@router.post("/webhooks/endpoints/{endpoint_id}/rotate", response={200: SecretOut, **ERRORS})
def endpoint_rotate(request: HttpRequest, endpoint_id: int, payload: RotateIn) -> Any:
    from datetime import timedelta

    secret = services.secret_rotate(
        endpoint=_get(request, endpoint_id), overlap=timedelta(hours=payload.overlap_hours)
    )
    return {"secret": secret}


@router.get("/webhooks/endpoints/{endpoint_id}/attempts", response={200: list[AttemptOut], **ERRORS})
def endpoint_attempts(request: HttpRequest, endpoint_id: int) -> Any:
    """The delivery log: the latest 100 attempts, newest first."""
    rows: list[WebhookAttempt] = selectors.delivery_log(endpoint=_get(request, endpoint_id), limit=100)
    return [
        {
            "event_id": row.delivery.event.uid,
            "event_type": row.delivery.event.type,
            "attempt": row.attempt,
            "at": row.at.isoformat(),
            "status_code": row.status_code,
            "latency_ms": row.latency_ms,
            "error": row.error,
        }
        for row in rows
    ]


def openapi_event_components(schema: dict[str, Any]) -> dict[str, Any]:
    """The webhook bodies as JSON Schema in ``components.schemas``: the envelope and each type's
    ``data`` (``WebhookEvent_invoice_paid`` …), from ``relance.events.types`` (one home)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["WebhookEnvelope"] = envelope_schema() | {
        "description": "The JSON body of every webhook request; `data` is the type's schema below."
    }
    for name, kind in EVENT_TYPES.items():
        components[f"WebhookEvent_{name.replace('.', '_')}"] = kind.data_schema() | {
            "description": f"{name} (payload version {kind.version}): {kind.description}"
        }
    return schema

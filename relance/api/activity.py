"""What the runs did (issue 18): messages and the outbox's state, runs and their actions (the
worklist is in ``relance.workspace.api``, which owns its rule).
Reads only, through the selectors the pages use. (No ``from __future__ import annotations``:
Ninja reads the hints.)
"""

from datetime import date, datetime
from typing import Any, Literal

from django.http import HttpRequest, JsonResponse
from ninja import Field, Query, Router, Schema

from relance.api import schemas as s
from relance.api import selectors
from relance.api.pagination import paged_response
from relance.api.params import ERRORS, Cursor, EntityName, Limit, UpdatedSince
from relance.delivery.models import MessageStatus
from relance.delivery.selectors import message_as_dict, outbox_due_count, outbox_status_counts
from relance.dunning.models import DunningRun
from relance.dunning.selectors import action_as_dict
from relance.ledger.models import Entity

router = Router()


def _entity(request: HttpRequest, name: str | None) -> Entity:
    return selectors.entity_for_user(user=request.auth, name=name)  # type: ignore[attr-defined]


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


# -- schemas ------------------------------------------------------------------------------------


class MessageEventOut(Schema):
    kind: str
    at: datetime
    detail: dict[str, Any]


class MessageAttachmentOut(Schema):
    filename: str
    content_type: str
    size: int


class MessageOut(Schema):
    id: int
    idempotency_key: str
    message_id: str
    customer_ref: str
    run_id: int | None
    channel: str
    template_key: str
    language: str
    recipient: str
    subject: str
    status: str = Field(description=", ".join(MessageStatus.values))
    attempts: int
    last_error: str
    amount_due: str | None
    currency: str
    rf_reference: str
    fallback_of: int | None
    provider: str
    provider_message_id: str
    queued_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    opened_at: datetime | None
    clicked_at: datetime | None
    created_at: datetime
    updated_at: datetime
    events: list[MessageEventOut] | None = Field(None, description="one message only")
    attachments: list[MessageAttachmentOut] | None = Field(None, description="one message only")
    body_text: str | None = Field(None, description="one message only")


class MessagePage(Schema):
    items: list[MessageOut]
    next_cursor: str | None


class OutboxOut(Schema):
    entity: str
    counts: dict[str, int] = Field(description="messages by status")
    due: int = Field(description="queued messages due now, every entity's (what the worker picks up)")


class RunOut(Schema):
    id: int
    as_of: date
    status: str
    started_at: datetime
    finished_at: datetime
    started_by: str
    counts: dict[str, Any] = Field(description="decisions, actions by kind, invoices advanced, suppressed")
    created_at: datetime
    updated_at: datetime


class RunPage(Schema):
    items: list[RunOut]
    next_cursor: str | None


class ActionOut(Schema):
    id: int
    run_id: int
    on: date
    status: str
    customer_ref: str
    kind: str
    action: str
    step: str
    offset_days: int
    channel: str | None
    tone: str
    template: str
    policy: str
    invoice_refs: list[str]
    amount_due: str
    currency: str
    max_days_past_due: int
    broken_promise: bool
    catch_up: bool
    reasons: list[Any]
    created_at: datetime
    updated_at: datetime


class ActionPage(Schema):
    items: list[ActionOut]
    next_cursor: str | None


# -- messages -----------------------------------------------------------------------------------


def message_json(message: Any, *, events: bool = False) -> dict[str, Any]:
    return {
        **message_as_dict(message, events=events),
        "run_id": message.run_id,
        "created_at": message.created_at,
        "updated_at": message.updated_at,
    }


@router.get("/messages", response={200: MessagePage, **ERRORS}, tags=["messages"])
def message_list(
    request: HttpRequest,
    entity: str | None = EntityName,
    customer_ref: str | None = None,
    status: str | None = Query(None, description=", ".join(MessageStatus.values)),
    channel: str | None = None,
    run_id: int | None = Query(None, ge=1, le=2**62, description="only this run's"),
    updated_since: s.Instant | None = UpdatedSince,
    order: Literal["id", "updated_at", "queued_at"] = "id",
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> Any:
    """The outbox: every message queued for the entity's customers, with its delivery status."""
    rows = selectors.message_list(
        user=_user(request),
        entity=_entity(request, entity),
        customer_ref=customer_ref,
        status=status,
        channel=channel,
        run_id=run_id,
        updated_since=updated_since,
    )
    orderings = {"id": "id", "updated_at": "updated_at", "queued_at": "queued_at"}
    return paged_response(rows, message_json, orderings=orderings, order=order, cursor=cursor, limit=limit)


@router.get("/messages/{int:message_id}", response={200: MessageOut, **ERRORS}, tags=["messages"])
def message_get(request: HttpRequest, message_id: int, entity: str | None = EntityName) -> Any:
    """One message with its delivery events, attachments and text."""
    scope = _entity(request, entity)
    rows = selectors.message_list(user=_user(request), entity=scope).prefetch_related("events", "attachments")
    message = selectors.by_id(rows, entity=scope, kind="message", row_id=message_id)
    return JsonResponse(message_json(message, events=True))


@router.get("/outbox", response={200: OutboxOut, **ERRORS}, tags=["messages"])
def outbox_state(request: HttpRequest, entity: str | None = EntityName) -> Any:
    """The outbox's state: the entity's messages by status, and how many are due for the worker."""
    scope = _entity(request, entity)
    return JsonResponse(
        {"entity": scope.name, "counts": outbox_status_counts(entity=scope), "due": outbox_due_count()}
    )


# -- runs and their actions ---------------------------------------------------------------------


def run_json(run: DunningRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "as_of": run.as_of,
        "status": run.status,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "started_by": run.started_by,
        "counts": run.counts,
        "created_at": run.created_at,
        "updated_at": run.updated_at,
    }


def action_json(action: Any) -> dict[str, Any]:
    return {
        "id": action.pk,
        "run_id": action.run_id,
        "on": action.on,
        "status": action.status,
        **action_as_dict(action),
        "created_at": action.created_at,
        "updated_at": action.updated_at,
    }


@router.get("/runs", response={200: RunPage, **ERRORS}, tags=["runs"])
def run_list(
    request: HttpRequest,
    entity: str | None = EntityName,
    updated_since: s.Instant | None = UpdatedSince,
    order: Literal["id", "updated_at", "as_of"] = "id",
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> Any:
    """The entity's daily runs with their counts."""
    rows = selectors.run_list(entity=_entity(request, entity), updated_since=updated_since)
    orderings = {"id": "id", "updated_at": "updated_at", "as_of": "as_of"}
    return paged_response(rows, run_json, orderings=orderings, order=order, cursor=cursor, limit=limit)


@router.get("/runs/{int:run_id}", response={200: RunOut, **ERRORS}, tags=["runs"])
def run_get(request: HttpRequest, run_id: int, entity: str | None = EntityName) -> Any:
    """One run."""
    scope = _entity(request, entity)
    return JsonResponse(
        run_json(selectors.by_id(selectors.run_list(entity=scope), entity=scope, kind="run", row_id=run_id))
    )


@router.get("/runs/{int:run_id}/actions", response={200: ActionPage, **ERRORS}, tags=["runs"])
def run_actions(
    request: HttpRequest,
    run_id: int,
    entity: str | None = EntityName,
    customer_ref: str | None = None,
    status: str | None = None,
    updated_since: s.Instant | None = UpdatedSince,
    order: Literal["id", "updated_at"] = "id",
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> Any:
    """The run's decisions (one action per customer and step) with their reasons and status."""
    scope = _entity(request, entity)
    run = selectors.by_id(selectors.run_list(entity=scope), entity=scope, kind="run", row_id=run_id)
    rows = selectors.action_list(
        user=_user(request),
        entity=scope,
        run_id=run.pk,
        customer_ref=customer_ref,
        status=status,
        updated_since=updated_since,
    )
    orderings = {"id": "id", "updated_at": "updated_at"}
    return paged_response(rows, action_json, orderings=orderings, order=order, cursor=cursor, limit=limit)

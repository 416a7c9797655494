"""The workspace's own objects over ``/api/v1`` (issue 18): a user's worklist, in the page's order
with the page's points, and the notes collectors leave on accounts.

They live here, not in ``relance.api``, because their rules do (``selectors.worklist_entries``,
``services.customer_note_add``) and the workspace sits above the API in the layers. The router is
added to the API by ``WorkspaceConfig.ready``. (No ``from __future__ import annotations``: Ninja
reads the hints.)
"""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from pydantic import AfterValidator

from relance.accounts.selectors import customer_scope
from relance.api import schemas as s
from relance.api import selectors as api_selectors
from relance.api.idempotency import idempotent
from relance.api.pagination import (
    decode_snapshot_cursor,
    encode_snapshot_cursor,
    paged_response,
)
from relance.api.params import ERRORS, WRITE_ERRORS, Cursor, CustomerRef, EntityName, Limit, UpdatedSince
from relance.cases.models import CustomerHold
from relance.core.actors import Actor
from relance.core.clock import SystemClock, zone
from relance.core.formatting import exact_amount
from relance.core.identifiers import has_unsafe_text
from relance.ledger.models import Customer, Entity
from relance.workspace import hold_selectors, hold_services, selectors, services
from relance.workspace.models import CustomerNote

router = Router()
WORKLIST_SORT_CHOICES = ", ".join(
    [*selectors.WORKLIST_SORTS, *(f"-{key}" for key in selectors.WORKLIST_SORTS)]
)
#: The worklist's query parameters: a cursor is valid only with the same ones.
WORKLIST_PARAMS = ("collector", "segment", "currency", "min_overdue", "min_days", "sort")
PLAIN_TEXT = "expected plain text (no control or bidirectional characters)"
IDEMPOTENCY = (
    "Goes through the same service as the workspace page. Send an `Idempotency-Key` header to make "
    "retries safe: the same key and body replay the first response for 24 hours."
)


def _entity(request: HttpRequest, name: str | None) -> Entity:
    return api_selectors.entity_for_user(user=request.auth, name=name)  # type: ignore[attr-defined]


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _today(entity: Entity) -> date:
    return SystemClock().today(zone(entity.timezone or None))


def _plain(value: str) -> str:
    if has_unsafe_text(value, multiline=True):
        raise ValueError(PLAIN_TEXT)
    return value


def _ref(value: str) -> str:
    if has_unsafe_text(value):
        raise ValueError(PLAIN_TEXT)
    return value


# -- the worklist -------------------------------------------------------------------------------


class WorklistRunOut(Schema):
    id: int
    as_of: date


class WorklistRowOut(Schema):
    rank: int = Field(description="1 for the top of the list")
    customer_ref: str
    customer_name: str
    collector: str
    priority: float = Field(description="the points the page shows")
    currency: str
    overdue_amount: str = Field(description="decimal string")
    max_days_past_due: int
    risk: str
    broken_promises: int
    days_since_contact: int | None
    predicted_on_time: bool
    factors: dict[str, Any]


class WorklistPage(Schema):
    run: WorklistRunOut | None
    items: list[WorklistRowOut]
    next_cursor: str | None


def worklist_row_json(row: selectors.WorklistRow, rank: int) -> dict[str, Any]:
    return {
        "rank": rank,
        "customer_ref": row.customer_ref,
        "customer_name": row.customer_name,
        "collector": row.collector,
        "priority": row.priority,
        "currency": row.currency,
        "overdue_amount": exact_amount(row.overdue_amount, row.currency),
        "max_days_past_due": row.max_days_past_due,
        "risk": row.risk,
        "broken_promises": row.broken_promises,
        "days_since_contact": row.days_since_contact,
        "predicted_on_time": row.predicted_on_time,
        "factors": row.factors,
    }


@router.get("/worklist", response={200: WorklistPage, **ERRORS}, tags=["worklist"])
def worklist(
    request: HttpRequest,
    entity: str | None = EntityName,
    collector: int | None = Query(
        None, ge=0, le=2**62, description="a collector's user id; 0: none (ignored for collectors)"
    ),
    segment: str | None = Query(None, description='a segment; "-": customers without one'),
    currency: str | None = None,
    min_overdue: str | None = Query(None, description="decimal: overdue at least"),
    min_days: int | None = Query(None, ge=0, le=2**31 - 1, description="days past due, at least"),
    sort: str = Query("priority", description=f"the page's columns: {WORKLIST_SORT_CHOICES}"),
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> Any:
    """The caller's worklist from the latest run: the page's rows, filters, order and points (the
    next best action's when predictions are stored). A collector gets their own accounts.

    The list is the latest run's: a cursor stays valid until the next run (then ``invalid_cursor``:
    start again)."""
    scope = _entity(request, entity)
    user = _user(request)
    filters = selectors.worklist_filters_from(request.GET, is_collector=selectors.user_is_collector(user))
    run, entries = selectors.worklist_entries(user=user, entity=scope, today=_today(scope), filters=filters)
    if run is None:
        return JsonResponse({"run": None, "items": [], "next_cursor": None})
    order = "worklist?" + "&".join(f"{key}={request.GET.get(key, '')}" for key in WORKLIST_PARAMS)
    start = decode_snapshot_cursor(cursor, order=order, snapshot=run.pk) if cursor else 0
    rows = [selectors.worklist_row(row) for row in entries[start : start + limit + 1]]
    items = [worklist_row_json(row, start + index + 1) for index, row in enumerate(rows[:limit])]
    more = len(rows) > limit
    next_cursor = (
        encode_snapshot_cursor(order=order, snapshot=run.pk, position=start + limit) if more else None
    )
    return JsonResponse(
        {"run": {"id": run.pk, "as_of": run.as_of}, "items": items, "next_cursor": next_cursor}
    )


# -- notes --------------------------------------------------------------------------------------


class NoteOut(Schema):
    id: int
    customer_ref: str
    text: str
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class NotePage(Schema):
    items: list[NoteOut]
    next_cursor: str | None


class NoteIn(Schema):
    customer_ref: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_ref)]
    text: Annotated[str, Field(min_length=1, max_length=10000), AfterValidator(_plain)]


def note_list(
    *, user: Any, entity: Entity, customer_ref: str | None = None, updated_since: datetime | None = None
) -> QuerySet[CustomerNote]:
    """The notes of the customers ``user`` sees (``customer_scope``, the pages' rule)."""
    notes = customer_scope(user, CustomerNote.objects.filter(entity=entity), customer_field="customer")
    if customer_ref:
        notes = notes.filter(customer__external_ref=customer_ref)
    if updated_since is not None:
        notes = notes.filter(updated_at__gte=updated_since)
    return notes.select_related("customer", "created_by")


def note_json(note: CustomerNote) -> dict[str, Any]:
    return {
        "id": note.pk,
        "customer_ref": note.customer.external_ref,
        "text": note.text,
        "created_by": note.created_by.get_username() if note.created_by else None,
        "created_at": note.created_at,
        "updated_at": note.updated_at,
    }


@router.get("/notes", response={200: NotePage, **ERRORS}, tags=["contacts log"])
def note_list_view(
    request: HttpRequest,
    entity: str | None = EntityName,
    customer_ref: str | None = CustomerRef,
    updated_since: s.Instant | None = UpdatedSince,
    order: Literal["id", "updated_at", "created_at"] = "id",
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> Any:
    """Notes collectors left on accounts (the customer's timeline)."""
    rows = note_list(
        user=_user(request),
        entity=_entity(request, entity),
        customer_ref=customer_ref,
        updated_since=updated_since,
    )
    orderings = {"id": "id", "updated_at": "updated_at", "created_at": "created_at"}
    return paged_response(rows, note_json, orderings=orderings, order=order, cursor=cursor, limit=limit)


@router.post(
    "/notes", response={201: NoteOut, **WRITE_ERRORS}, tags=["contacts log"], description=IDEMPOTENCY
)
@idempotent
def note_add(request: HttpRequest, payload: NoteIn, entity: str | None = EntityName) -> HttpResponse:
    """Leave a note on the customer's case (the customer page's note form)."""
    scope = _entity(request, entity)
    user = _user(request)
    customers = customer_scope(user, Customer.objects.filter(entity=scope))
    customer = api_selectors.by_ref(customers, entity=scope, kind="customer", ref=payload.customer_ref)
    token = getattr(request, "api_token", None)
    actor = Actor.api(token) if token is not None else Actor.user(user)
    note = services.customer_note_add(customer=customer, text=payload.text, actor=actor)
    found = api_selectors.by_id(note_list(user=user, entity=scope), entity=scope, kind="note", row_id=note.pk)
    return JsonResponse(note_json(found), status=201)


# -- dunning holds ("I'm on it") ----------------------------------------------------------------


class HoldOut(Schema):
    id: int
    customer_ref: str
    kind: str = Field(description="hold, legal or do_not_contact")
    reason: str
    starts_on: date
    ends_on: date | None = Field(description="last day in force; null: until removed")
    in_force: bool = Field(description="in force today")
    created_at: datetime
    updated_at: datetime


class HoldPage(Schema):
    items: list[HoldOut]
    next_cursor: str | None


class HoldIn(Schema):
    customer_ref: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_ref)]
    reason: Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_ref)]
    days: int = Field(ge=1, le=2**31 - 1, description="from today, the last day included")


HOLD_LIFT_NOT_ALLOWED = (
    "your role may not lift this hold: only those who may change holds, or who asked for it"
)


def hold_list(
    *, user: Any, entity: Entity, customer_ref: str | None = None, updated_since: datetime | None = None
) -> QuerySet[CustomerHold]:
    holds = customer_scope(user, CustomerHold.objects.filter(entity=entity), customer_field="customer")
    if customer_ref:
        holds = holds.filter(customer__external_ref=customer_ref)
    if updated_since is not None:
        holds = holds.filter(updated_at__gte=updated_since)
    return holds.select_related("customer")


def hold_json(hold: CustomerHold, today: date) -> dict[str, Any]:
    return {
        "id": hold.pk,
        "customer_ref": hold.customer.external_ref,
        "kind": hold.kind,
        "reason": hold.reason,
        "starts_on": hold.starts_on,
        "ends_on": hold.ends_on,
        "in_force": hold.starts_on <= today and (hold.ends_on is None or hold.ends_on >= today),
        "created_at": hold.created_at,
        "updated_at": hold.updated_at,
    }


@router.get("/holds", response={200: HoldPage, **ERRORS}, tags=["holds"])
def hold_list_view(
    request: HttpRequest,
    entity: str | None = EntityName,
    customer_ref: str | None = CustomerRef,
    updated_since: s.Instant | None = UpdatedSince,
    order: Literal["id", "updated_at", "starts_on"] = "id",
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> Any:
    """Dunning holds (no dunning while in force): "I'm on it" requests, legal cases, do not contact."""
    scope = _entity(request, entity)
    rows = hold_list(
        user=_user(request), entity=scope, customer_ref=customer_ref, updated_since=updated_since
    )
    orderings = {"id": "id", "updated_at": "updated_at", "starts_on": "starts_on"}
    today = _today(scope)
    return paged_response(
        rows, lambda row: hold_json(row, today), orderings=orderings, order=order, cursor=cursor, limit=limit
    )


def _actor(request: HttpRequest) -> Actor:
    token = getattr(request, "api_token", None)
    return Actor.api(token) if token is not None else Actor.user(_user(request))


@router.post("/holds", response={201: HoldOut, **WRITE_ERRORS}, tags=["holds"], description=IDEMPOTENCY)
@idempotent
def hold_request(request: HttpRequest, payload: HoldIn, entity: str | None = EntityName) -> HttpResponse:
    """Hold the customer's escalation from today for ``days`` days ("I'm on it", the customer
    page's hold form: ``hold_services.hold_request_create``)."""
    scope = _entity(request, entity)
    user = _user(request)
    customers = customer_scope(user, Customer.objects.filter(entity=scope))
    customer = api_selectors.by_ref(customers, entity=scope, kind="customer", ref=payload.customer_ref)
    hold = hold_services.hold_request_create(
        customer=customer,
        user=user,
        actor=_actor(request),
        request=hold_services.HoldRequest(reason=payload.reason, days=payload.days, on=_today(scope)),
    )
    found = api_selectors.by_id(hold_list(user=user, entity=scope), entity=scope, kind="hold", row_id=hold.pk)
    return JsonResponse(hold_json(found, _today(scope)), status=201)


@router.post(
    "/holds/{int:hold_id}/lift",
    response={200: HoldOut, **WRITE_ERRORS},
    tags=["holds"],
    description=IDEMPOTENCY,
)
@idempotent
def hold_lift(request: HttpRequest, hold_id: int, entity: str | None = EntityName) -> HttpResponse:
    """End a hold from today (``hold_services.hold_lift``; who may: ``hold_lift_allowed``)."""
    scope = _entity(request, entity)
    user = _user(request)
    hold = api_selectors.by_id(hold_list(user=user, entity=scope), entity=scope, kind="hold", row_id=hold_id)
    if not hold_selectors.hold_lift_allowed(user=user, hold=hold):
        raise HttpError(403, HOLD_LIFT_NOT_ALLOWED)
    hold_services.hold_lift(hold=hold, on=_today(scope), actor=_actor(request))
    found = api_selectors.by_id(hold_list(user=user, entity=scope), entity=scope, kind="hold", row_id=hold_id)
    return JsonResponse(hold_json(found, _today(scope)))

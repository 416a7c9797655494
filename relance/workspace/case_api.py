"""More of the workspace over ``/api/v1`` (issue 18): the customer's case timeline, a dispute's
comments and owner, call tasks, worklist snoozes and saved views.

Here for the reason ``relance.workspace.api`` is (ADR 0030): their rules live in the workspace
(``selectors.customer_timeline``, ``services.dispute_comment_add``, ``dispute_assign``,
``call_task_complete``, ``worklist_snooze``, ``saved_view_save``), which sits above the API. Each
endpoint reads and writes through them, with the pages' permissions. (No ``from __future__ import
annotations``: Ninja reads the hints.)
"""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from pydantic import AfterValidator

from relance.accounts.selectors import customer_scope, user_can
from relance.api import schemas as s
from relance.api import selectors as api_selectors
from relance.api.idempotency import idempotent
from relance.api.pagination import decode_cursor, encode_cursor, paged_response
from relance.api.params import (
    ERRORS,
    WRITE_ERRORS,
    Cursor,
    CustomerRef,
    EntityName,
    Limit,
    UpdatedSince,
    WrittenSince,
)
from relance.cases.models import Dispute
from relance.core.errors import NotFound, ValidationFailed
from relance.delivery.models import CallTask, CallTaskStatus
from relance.ledger.models import Customer, Entity
from relance.workspace import selectors, services
from relance.workspace.api import IDEMPOTENCY, _actor, _entity, _plain, _ref, _today, _user
from relance.workspace.models import DisputeAssignment, DisputeComment, SavedView, WorklistSnooze

# The permissions the pages check, from the pages (one home).
from relance.workspace.views import PERM_DISPUTE_ASSIGN, PERM_OUTCOME, PERM_SNOOZE

router = Router()

NOT_ALLOWED = "your role may not {what}"
OWNER_UNKNOWN = "owner: no collector {owner!r} in entity {entity}"
OUTCOME_UNKNOWN = "expected one of " + ", ".join(services.OUTCOMES)


def _customer(request: HttpRequest, scope: Entity, ref: str) -> Customer:
    customers = customer_scope(_user(request), Customer.objects.filter(entity=scope))
    found: Customer = api_selectors.by_ref(customers, entity=scope, kind="customer", ref=ref)
    return found


def _require(request: HttpRequest, perm: str, obj: Any, what: str) -> None:
    if not user_can(_user(request), perm, obj):
        raise HttpError(403, NOT_ALLOWED.format(what=what))


# -- the customer's case timeline ---------------------------------------------------------------


class TimelineEventOut(Schema):
    id: int
    at: datetime
    kind: str = Field(description="the event's group: message, call, contact, note, promise, dispute, …")
    title: str
    detail: str
    status: str = Field(description="what happened, in a verb (made, kept, opened, …)")
    actor: str = Field(description="who did it, in words")
    actor_kind: str = Field(description="user, portal, system, api or cli")


class TimelinePage(Schema):
    items: list[TimelineEventOut]
    next_cursor: str | None


def _timeline_order(customer: Customer) -> str:
    return f"timeline:{customer.pk}"


@router.get("/timeline", response={200: TimelinePage, **ERRORS}, tags=["customers"])
def timeline(
    request: HttpRequest,
    customer_ref: str = Query(
        ..., min_length=1, max_length=200, description="the customer whose case this is"
    ),
    entity: str | None = EntityName,
    updated_since: s.Instant | None = UpdatedSince,
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> Any:
    """The customer's case timeline, newest first: the events the customer page shows
    (``selectors.customer_timeline``: messages, calls, contacts, notes, promises, disputes, plans,
    holds, hand-offs, portal actions), each with who did it. Events are never changed:
    ``updated_since`` gives those that happened at or after it."""
    scope = _entity(request, entity)
    customer = _customer(request, scope, customer_ref)
    order = _timeline_order(customer)
    before = decode_cursor(cursor, order=order)[1] if cursor else None
    events = selectors.customer_timeline(
        customer=customer, limit=limit + 1, before=before, since=updated_since
    )
    shown = events[:limit]
    next_cursor = (
        encode_cursor(order=order, value=None, last_id=shown[-1].id) if len(events) > limit else None
    )
    items = [
        {
            "id": event.id,
            "at": event.at,
            "kind": event.kind,
            "title": event.title,
            "detail": event.detail,
            "status": event.status,
            "actor": event.actor,
            "actor_kind": event.actor_kind,
        }
        for event in shown
    ]
    return JsonResponse({"items": items, "next_cursor": next_cursor})


# -- a dispute's comments and owner -------------------------------------------------------------


class DisputeCommentOut(Schema):
    id: int
    dispute_id: int
    text: str
    created_by: str | None
    created_at: datetime


class DisputeCommentPage(Schema):
    items: list[DisputeCommentOut]
    next_cursor: str | None


class DisputeCommentIn(Schema):
    text: Annotated[str, Field(min_length=1, max_length=4000), AfterValidator(_plain)]


class DisputeOwnerOut(Schema):
    dispute_id: int
    owner: str | None = Field(description="the owner's username; null: nobody")
    assigned_at: datetime | None
    assigned_by: str | None


class DisputeOwnerIn(Schema):
    owner: Annotated[str, Field(min_length=1, max_length=150), AfterValidator(_ref)] | None = Field(
        description="a collector's username; null: nobody"
    )


def _dispute(request: HttpRequest, scope: Entity, dispute_id: int) -> Dispute:
    rows = api_selectors.dispute_list(user=_user(request), entity=scope)
    found: Dispute = api_selectors.by_id(rows, entity=scope, kind="dispute", row_id=dispute_id)
    return found


def comment_json(comment: DisputeComment) -> dict[str, Any]:
    return {
        "id": comment.pk,
        "dispute_id": comment.dispute_id,
        "text": comment.text,
        "created_by": comment.created_by.get_username() if comment.created_by else None,
        "created_at": comment.created_at,
    }


def _comments(dispute: Dispute) -> Any:
    return DisputeComment.objects.filter(dispute=dispute).select_related("created_by")


@router.get(
    "/disputes/{int:dispute_id}/comments", response={200: DisputeCommentPage, **ERRORS}, tags=["disputes"]
)
def dispute_comment_list(
    request: HttpRequest,
    dispute_id: int,
    entity: str | None = EntityName,
    updated_since: s.Instant | None = WrittenSince,
    order: Literal["id", "created_at"] = "id",
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> Any:
    """The internal comments on a dispute (the dispute page's; never shown to the customer)."""
    comments = _comments(_dispute(request, _entity(request, entity), dispute_id))
    if updated_since is not None:
        comments = comments.filter(created_at__gte=updated_since)
    orderings = {"id": "id", "created_at": "created_at"}
    return paged_response(
        comments, comment_json, orderings=orderings, order=order, cursor=cursor, limit=limit
    )


@router.post(
    "/disputes/{int:dispute_id}/comments",
    response={201: DisputeCommentOut, **WRITE_ERRORS},
    tags=["disputes"],
    description=IDEMPOTENCY,
)
@idempotent
def dispute_comment_add(
    request: HttpRequest, dispute_id: int, payload: DisputeCommentIn, entity: str | None = EntityName
) -> HttpResponse:
    """Comment on a dispute (``services.dispute_comment_add``; the page's rule: who may log an outcome)."""
    dispute = _dispute(request, _entity(request, entity), dispute_id)
    _require(request, PERM_OUTCOME, dispute.customer, "comment on disputes")
    comment = services.dispute_comment_add(dispute=dispute, text=payload.text, user=_user(request))
    return JsonResponse(comment_json(_comments(dispute).get(pk=comment.pk)), status=201)


def owner_json(dispute: Dispute) -> dict[str, Any]:
    assignment = (
        DisputeAssignment.objects.filter(dispute=dispute).select_related("owner", "assigned_by").first()
    )
    if assignment is None:
        return {"dispute_id": dispute.pk, "owner": None, "assigned_at": None, "assigned_by": None}
    return {
        "dispute_id": dispute.pk,
        "owner": assignment.owner.get_username() if assignment.owner else None,
        "assigned_at": assignment.assigned_at,
        "assigned_by": assignment.assigned_by.get_username() if assignment.assigned_by else None,
    }


@router.get("/disputes/{int:dispute_id}/owner", response={200: DisputeOwnerOut, **ERRORS}, tags=["disputes"])
def dispute_owner_get(request: HttpRequest, dispute_id: int, entity: str | None = EntityName) -> Any:
    """Who owns the dispute (the dispute queue's owner column)."""
    return JsonResponse(owner_json(_dispute(request, _entity(request, entity), dispute_id)))


@router.put(
    "/disputes/{int:dispute_id}/owner", response={200: DisputeOwnerOut, **WRITE_ERRORS}, tags=["disputes"]
)
def dispute_owner_set(
    request: HttpRequest, dispute_id: int, payload: DisputeOwnerIn, entity: str | None = EntityName
) -> Any:
    """Give the dispute to one of the entity's collectors, or to nobody (``services.dispute_assign``,
    which records an audit event; the queue's rule: who may change disputes). Setting the same
    owner again changes nothing but the assignment's time."""
    scope = _entity(request, entity)
    dispute = _dispute(request, scope, dispute_id)
    _require(request, PERM_DISPUTE_ASSIGN, dispute, "assign disputes")
    owner = None
    if payload.owner is not None:
        owner = selectors.collectors_of(entity=scope).filter(username=payload.owner).first()
        if owner is None:
            raise ValidationFailed(OWNER_UNKNOWN.format(owner=payload.owner, entity=scope.name))
    services.dispute_assign(dispute=dispute, owner=owner, by=_user(request))
    return JsonResponse(owner_json(dispute))


# -- call tasks ---------------------------------------------------------------------------------


class CallTaskOut(Schema):
    id: int
    customer_ref: str
    due_on: date
    status: str = Field(description=", ".join(CallTaskStatus.values))
    phone: str
    script: str
    assigned_to: str | None
    message_id: int | None = Field(
        description="the message of the step that asked for the call; null: by hand"
    )
    outcome: str
    outcome_note: str
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class CallTaskPage(Schema):
    items: list[CallTaskOut]
    next_cursor: str | None


def _outcome(value: str) -> str:
    if value not in services.OUTCOMES:
        raise ValueError(OUTCOME_UNKNOWN)
    return value


class CallTaskCompleteIn(Schema):
    customer_ref: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_ref)]
    outcome: Annotated[str, Field(description=", ".join(services.OUTCOMES)), AfterValidator(_outcome)]
    note: Annotated[str, Field(max_length=2000), AfterValidator(_plain)] = ""


class CallTasksCompletedOut(Schema):
    customer_ref: str
    closed: int = Field(description="how many open call tasks were closed")


def call_task_json(task: CallTask) -> dict[str, Any]:
    return {
        "id": task.pk,
        "customer_ref": task.customer.external_ref,
        "due_on": task.due_on,
        "status": task.status,
        "phone": task.phone,
        "script": task.script,
        "assigned_to": task.assigned_to.get_username() if task.assigned_to else None,
        "message_id": task.message_id,
        "outcome": task.outcome,
        "outcome_note": task.outcome_note,
        "completed_at": task.completed_at,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
    }


@router.get("/call-tasks", response={200: CallTaskPage, **ERRORS}, tags=["call tasks"])
def call_task_list(
    request: HttpRequest,
    entity: str | None = EntityName,
    customer_ref: str | None = CustomerRef,
    status: Literal["open", "done", "cancelled"] | None = None,
    mine: bool = Query(False, description="only the tasks assigned to you"),
    updated_since: s.Instant | None = UpdatedSince,
    order: Literal["id", "updated_at", "due_on"] = "id",
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> Any:
    """Calls to make (a step's call, a call back asked for by hand) and made, of the customers you see."""
    rows = api_selectors.call_task_list(
        user=_user(request),
        entity=_entity(request, entity),
        customer_ref=customer_ref,
        status=status,
        assigned_to_me=mine,
        updated_since=updated_since,
    )
    orderings = {"id": "id", "updated_at": "updated_at", "due_on": "due_on"}
    return paged_response(rows, call_task_json, orderings=orderings, order=order, cursor=cursor, limit=limit)


@router.post(
    "/call-tasks/complete",
    response={200: CallTasksCompletedOut, **WRITE_ERRORS},
    tags=["call tasks"],
    description=IDEMPOTENCY,
)
@idempotent
def call_task_complete(
    request: HttpRequest, payload: CallTaskCompleteIn, entity: str | None = EntityName
) -> HttpResponse:
    """Close the customer's open call tasks with an outcome (``services.call_task_complete``: those
    due by today and every call back asked for by hand), as logging an outcome on the page does.
    To record the outcome's own effects (a promise, a dispute), use those endpoints."""
    scope = _entity(request, entity)
    customer = _customer(request, scope, payload.customer_ref)
    _require(request, PERM_OUTCOME, customer, "log call outcomes")
    closed = services.call_task_complete(
        customer=customer, outcome=payload.outcome, actor=_actor(request), note=payload.note
    )
    return JsonResponse({"customer_ref": customer.external_ref, "closed": closed})


# -- worklist snoozes ---------------------------------------------------------------------------


class SnoozeOut(Schema):
    id: int
    customer_ref: str
    until: date = Field(description="the last day the customer stays off your worklist")
    created_at: datetime
    updated_at: datetime


class SnoozePage(Schema):
    items: list[SnoozeOut]
    next_cursor: str | None


class SnoozeIn(Schema):
    customer_ref: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_ref)]
    until: date = Field(description="from today on; a second snooze of the customer replaces the first")


def _snoozes(request: HttpRequest, scope: Entity) -> Any:
    """The caller's own snoozes of the entity's customers they see (nobody sees another's)."""
    snoozes = WorklistSnooze.objects.filter(user=_user(request), customer__entity=scope)
    return customer_scope(_user(request), snoozes, customer_field="customer").select_related("customer")


def snooze_json(snooze: WorklistSnooze) -> dict[str, Any]:
    return {
        "id": snooze.pk,
        "customer_ref": snooze.customer.external_ref,
        "until": snooze.until,
        "created_at": snooze.created_at,
        "updated_at": snooze.updated_at,
    }


@router.get("/snoozes", response={200: SnoozePage, **ERRORS}, tags=["worklist"])
def snooze_list(
    request: HttpRequest,
    entity: str | None = EntityName,
    customer_ref: str | None = CustomerRef,
    updated_since: s.Instant | None = UpdatedSince,
    order: Literal["id", "updated_at", "until"] = "id",
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> Any:
    """Your worklist snoozes (past ones too: a snooze is over the day after ``until``)."""
    rows = _snoozes(request, _entity(request, entity))
    if customer_ref:
        rows = rows.filter(customer__external_ref=customer_ref)
    if updated_since is not None:
        rows = rows.filter(updated_at__gte=updated_since)
    orderings = {"id": "id", "updated_at": "updated_at", "until": "until"}
    return paged_response(rows, snooze_json, orderings=orderings, order=order, cursor=cursor, limit=limit)


@router.post(
    "/snoozes", response={201: SnoozeOut, **WRITE_ERRORS}, tags=["worklist"], description=IDEMPOTENCY
)
@idempotent
def snooze_add(request: HttpRequest, payload: SnoozeIn, entity: str | None = EntityName) -> HttpResponse:
    """Hide a customer from your worklist to ``until`` inclusive (``services.worklist_snooze``)."""
    scope = _entity(request, entity)
    customer = _customer(request, scope, payload.customer_ref)
    _require(request, PERM_SNOOZE, customer, "snooze worklist rows")
    snooze = services.worklist_snooze(
        user=_user(request), customer=customer, until=payload.until, today=_today(scope)
    )
    return JsonResponse(snooze_json(_snoozes(request, scope).get(pk=snooze.pk)), status=201)


@router.delete("/snoozes/{int:snooze_id}", response={204: None, **WRITE_ERRORS}, tags=["worklist"])
def snooze_end(request: HttpRequest, snooze_id: int, entity: str | None = EntityName) -> HttpResponse:
    """Bring the customer back on your worklist now (``services.worklist_snooze_end``)."""
    scope = _entity(request, entity)
    snooze = api_selectors.by_id(_snoozes(request, scope), entity=scope, kind="snooze", row_id=snooze_id)
    services.worklist_snooze_end(snooze=snooze)
    return HttpResponse(status=204)


# -- saved views --------------------------------------------------------------------------------


class SavedViewOut(Schema):
    id: int
    page: str
    name: str
    params: dict[str, str] = Field(description="the worklist's query parameters")
    created_at: datetime


class SavedViewPage(Schema):
    items: list[SavedViewOut]
    next_cursor: str | None


class SavedViewIn(Schema):
    name: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_ref)]
    params: dict[str, str] = Field(
        default_factory=dict,
        description="the worklist's parameters (collector, segment, currency, min_overdue, min_days, "
        "sort); others and invalid values are dropped, as on the page",
    )


def _saved_views(request: HttpRequest, scope: Entity) -> Any:
    return SavedView.objects.filter(user=_user(request), entity=scope, page="worklist")


def saved_view_json(view: SavedView) -> dict[str, Any]:
    return {
        "id": view.pk,
        "page": view.page,
        "name": view.name,
        "params": view.params,
        "created_at": view.created_at,
    }


@router.get("/saved-views", response={200: SavedViewPage, **ERRORS}, tags=["worklist"])
def saved_view_list(
    request: HttpRequest,
    entity: str | None = EntityName,
    updated_since: s.Instant | None = WrittenSince,
    order: Literal["id", "name", "created_at"] = "id",
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> Any:
    """Your saved worklist views (named filters and sort) for the entity; nobody sees another's."""
    rows = _saved_views(request, _entity(request, entity))
    if updated_since is not None:
        rows = rows.filter(created_at__gte=updated_since)
    orderings = {"id": "id", "name": "name", "created_at": "created_at"}
    return paged_response(rows, saved_view_json, orderings=orderings, order=order, cursor=cursor, limit=limit)


@router.post(
    "/saved-views", response={201: SavedViewOut, **WRITE_ERRORS}, tags=["worklist"], description=IDEMPOTENCY
)
@idempotent
def saved_view_add(
    request: HttpRequest, payload: SavedViewIn, entity: str | None = EntityName
) -> HttpResponse:
    """Save the worklist's filters and sort under a name (``services.saved_view_save``, the
    parameters checked by ``selectors.worklist_view_params`` as on the page)."""
    scope = _entity(request, entity)
    view = services.saved_view_save(
        user=_user(request),
        entity=scope,
        name=payload.name,
        params=selectors.worklist_view_params(payload.params),
    )
    return JsonResponse(saved_view_json(view), status=201)


@router.delete("/saved-views/{int:view_id}", response={204: None, **WRITE_ERRORS}, tags=["worklist"])
def saved_view_remove(request: HttpRequest, view_id: int, entity: str | None = EntityName) -> HttpResponse:
    """Forget one of your saved views (``services.saved_view_delete``)."""
    scope = _entity(request, entity)
    try:
        view = selectors.saved_view_for_user(user=_user(request), view_id=view_id)
    except NotFound:
        view = None
    if view is None or view.entity_id != scope.pk:
        raise NotFound(api_selectors.NOT_FOUND.format(kind="saved view", ref=view_id, entity=scope.name))
    services.saved_view_delete(view=view)
    return HttpResponse(status=204)

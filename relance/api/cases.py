"""A customer's case over the API: promises, disputes, payment plans, credit holds and the
contacts log (issue 18; notes are in ``relance.workspace.api``, which owns them). Thin: each list reads through ``relance.api.selectors`` (scoped by
``customer_scope``, the pages' rule) and each write calls the service the workspace pages call
(``relance.cases.services``), with the token's ``Actor``.
(No ``from __future__ import annotations`` here: Ninja reads the hints.)
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Field, Router, Schema
from pydantic import AfterValidator

from relance.api import schemas as s
from relance.api import selectors
from relance.api.idempotency import idempotent
from relance.api.pagination import paged_response
from relance.api.params import ERRORS, WRITE_ERRORS, Cursor, CustomerRef, EntityName, Limit, UpdatedSince
from relance.cases import services as case_services
from relance.cases.models import (
    ContactLog,
    CreditHold,
    CreditHoldStatus,
    Dispute,
    DisputeReason,
    DisputeResolution,
    PaymentPlan,
    Promise,
)
from relance.cases.selectors import plan_progress, promise_queue_state
from relance.core.actors import Actor
from relance.core.channels import STEP_CHANNELS
from relance.core.clock import SystemClock, zone
from relance.core.errors import ValidationFailed
from relance.core.formatting import exact_amount
from relance.core.identifiers import has_unsafe_text
from relance.ledger.models import Customer, Entity, Invoice

router = Router()

IDEMPOTENCY = (
    "Goes through the same service as the workspace page. Send an `Idempotency-Key` header to make "
    "retries safe: the same key and body replay the first response for 24 hours."
)
HOLD_NOT_ACTIVE = "credit hold {hold} is {status}, not active"
PLAIN_TEXT = "expected plain text (no control or bidirectional characters)"


def _plain(value: str) -> str:
    if has_unsafe_text(value, multiline=True):
        raise ValueError(PLAIN_TEXT)
    return value


def _ref(value: str) -> str:
    if has_unsafe_text(value):
        raise ValueError(PLAIN_TEXT)
    return value


Note = Annotated[str, Field(max_length=2000), AfterValidator(_plain)]
Ref = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_ref)]
Amount = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=4, description="decimal, e.g. 1200.00")]


# -- helpers ------------------------------------------------------------------------------------


def _entity(request: HttpRequest, name: str | None) -> Entity:
    return selectors.entity_for_user(user=request.auth, name=name)  # type: ignore[attr-defined]


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _actor(request: HttpRequest) -> Actor:
    token = getattr(request, "api_token", None)
    return Actor.api(token) if token is not None else Actor.user(_user(request))


def _today(entity: Entity) -> date:
    return SystemClock().today(zone(entity.timezone or None))


def _customer(request: HttpRequest, scope: Entity, ref: str) -> Customer:
    """A customer of the entity the user sees (``customer_scope``); 404 otherwise."""
    from relance.accounts.selectors import customer_scope

    customers = customer_scope(_user(request), Customer.objects.filter(entity=scope))
    found: Customer = selectors.by_ref(customers, entity=scope, kind="customer", ref=ref)
    return found


def _invoices(request: HttpRequest, scope: Entity, refs: list[str]) -> list[Invoice]:
    from relance.accounts.selectors import customer_scope

    visible = customer_scope(
        _user(request),
        Invoice.objects.filter(entity=scope).select_related("customer", "entity"),
        customer_field="customer",
    )
    return [selectors.by_ref(visible, entity=scope, kind="invoice", ref=ref) for ref in dict.fromkeys(refs)]


def _money(amount: Decimal, currency: str) -> str:
    return exact_amount(amount, currency) or ""  # never None: the amount is never None


def _stamps(row: Any) -> dict[str, Any]:
    return {"created_at": row.created_at, "updated_at": row.updated_at}


def _created(item: dict[str, Any], *, created: bool = True) -> JsonResponse:
    return JsonResponse(item, status=201 if created else 200)


# -- schemas ------------------------------------------------------------------------------------


class PromiseOut(Schema):
    id: int
    customer_ref: str
    status: str = Field(description="open, kept, broken or cancelled")
    state: str = Field(description="the promise queue's: overdue, today or upcoming")
    created_on: date
    promised_date: date
    amount: str = Field(description="decimal string")
    currency: str
    invoice_refs: list[str]
    note: str
    created_at: datetime
    updated_at: datetime


class PromisePage(Schema):
    items: list[PromiseOut]
    next_cursor: str | None


class PromiseIn(Schema):
    customer_ref: Ref
    promised_date: date
    invoice_refs: list[Ref] = Field(
        default_factory=list, max_length=1000, description="default: every open one"
    )
    amount: Amount | None = Field(None, description="default: the open amount of those invoices")
    note: Note = ""


class DisputeOut(Schema):
    id: int
    customer_ref: str
    invoice_ref: str
    amount: str
    currency: str
    reason_code: str
    status: str = Field(description="open or resolved")
    opened_on: date
    resolved_on: date | None
    resolution: str
    days_open: int
    note: str
    created_at: datetime
    updated_at: datetime


class DisputePage(Schema):
    items: list[DisputeOut]
    next_cursor: str | None


class DisputeIn(Schema):
    invoice_ref: Ref
    reason_code: str = Field(description=", ".join(DisputeReason.values))
    amount: Amount | None = Field(None, description="default: all that is open and not yet disputed")
    note: Note = ""


class DisputeResolveIn(Schema):
    resolution: str = Field(description=", ".join(DisputeResolution.values))
    on: date | None = Field(None, description="default: today")
    note: Note = ""


class InstallmentOut(Schema):
    sequence: int
    due_date: date
    amount: str
    paid_on: date | None


class InstallmentList(Schema):
    items: list[InstallmentOut]


class PlanOut(Schema):
    id: int
    customer_ref: str
    status: str = Field(description="active, completed or cancelled")
    state: str = Field(description="the plan queue's: overdue, today or ok")
    starts_on: date
    currency: str
    total: str
    paid: int = Field(description="installments paid")
    count: int = Field(description="installments")
    next_due: date | None
    invoice_refs: list[str]
    installments: list[InstallmentOut]
    note: str
    created_at: datetime
    updated_at: datetime


class PlanPage(Schema):
    items: list[PlanOut]
    next_cursor: str | None


class PlanIn(Schema):
    customer_ref: Ref
    installments: int = Field(ge=1, le=120)
    first_due: date
    every_days: int = Field(30, ge=1, le=366)
    starts_on: date | None = Field(None, description="default: today")
    invoice_refs: list[Ref] = Field(
        default_factory=list, max_length=1000, description="default: every open one"
    )
    total: Amount | None = Field(None, description="default: the open amount of those invoices")
    note: Note = ""


class CreditHoldOut(Schema):
    id: int
    customer_ref: str
    status: str = Field(description="active or released")
    placed_on: date
    reason: str
    released_on: date | None
    released_by: str
    created_at: datetime
    updated_at: datetime


class CreditHoldPage(Schema):
    items: list[CreditHoldOut]
    next_cursor: str | None


class CreditHoldIn(Schema):
    customer_ref: Ref
    reason: Annotated[str, Field(max_length=200), AfterValidator(_ref)] = ""


class ContactLogOut(Schema):
    id: int
    customer_ref: str
    on: date
    channel: str
    note: str
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class ContactLogPage(Schema):
    items: list[ContactLogOut]
    next_cursor: str | None


class ContactLogIn(Schema):
    customer_ref: Ref
    channel: str = Field(description=", ".join(STEP_CHANNELS))
    on: date | None = Field(None, description="default: today")
    note: Note = ""


# -- renderings ---------------------------------------------------------------------------------


def _refs(rows: Any) -> list[str]:
    return sorted(row.external_ref for row in rows.all())


def promise_json(promise: Promise, today: date) -> dict[str, Any]:
    return {
        "id": promise.pk,
        "customer_ref": promise.customer.external_ref,
        "status": promise.status,
        "state": promise_queue_state(promise, today=today),
        "created_on": promise.created_on,
        "promised_date": promise.promised_date,
        "amount": _money(promise.amount, promise.currency),
        "currency": promise.currency,
        "invoice_refs": _refs(promise.invoices),
        "note": promise.note,
        **_stamps(promise),
    }


def dispute_json(dispute: Dispute, today: date) -> dict[str, Any]:
    currency = dispute.invoice.currency
    return {
        "id": dispute.pk,
        "customer_ref": dispute.customer.external_ref,
        "invoice_ref": dispute.invoice.external_ref,
        "amount": _money(dispute.amount, currency),
        "currency": currency,
        "reason_code": dispute.reason_code,
        "status": dispute.status,
        "opened_on": dispute.opened_on,
        "resolved_on": dispute.resolved_on,
        "resolution": dispute.resolution,
        "days_open": ((dispute.resolved_on or today) - dispute.opened_on).days,
        "note": dispute.note,
        **_stamps(dispute),
    }


def _installment_json(installment: Any, currency: str) -> dict[str, Any]:
    return {
        "sequence": installment.sequence,
        "due_date": installment.due_date,
        "amount": _money(installment.amount, currency),
        "paid_on": installment.paid_on,
    }


def plan_json(plan: PaymentPlan, today: date) -> dict[str, Any]:
    progress = plan_progress(plan, today=today)
    installments = sorted(plan.installments.all(), key=lambda i: i.sequence)
    total = sum((i.amount for i in installments), Decimal(0))
    return {
        "id": plan.pk,
        "customer_ref": plan.customer.external_ref,
        "status": plan.status,
        "state": progress["state"],
        "starts_on": plan.starts_on,
        "currency": plan.currency,
        "total": _money(total, plan.currency),
        "paid": progress["paid"],
        "count": progress["count"],
        "next_due": progress["next"].due_date if progress["next"] is not None else None,
        "invoice_refs": _refs(plan.invoices),
        "installments": [_installment_json(i, plan.currency) for i in installments],
        "note": plan.note,
        **_stamps(plan),
    }


def credit_hold_json(hold: CreditHold, today: date) -> dict[str, Any]:
    return {
        "id": hold.pk,
        "customer_ref": hold.customer.external_ref,
        "status": hold.status,
        "placed_on": hold.placed_on,
        "reason": hold.reason,
        "released_on": hold.released_on,
        "released_by": hold.released_by,
        **_stamps(hold),
    }


def contact_log_json(log: ContactLog, today: date) -> dict[str, Any]:
    return {
        "id": log.pk,
        "customer_ref": log.customer.external_ref,
        "on": log.on,
        "channel": log.channel,
        "note": log.note,
        "created_by": log.created_by.get_username() if log.created_by else None,
        **_stamps(log),
    }


def _listed(
    scope: Entity,
    rows: Any,
    render: Any,
    *,
    orderings: dict[str, str],
    order: str,
    cursor: str | None,
    limit: int,
) -> JsonResponse:
    today = _today(scope)
    return paged_response(
        rows, lambda row: render(row, today), orderings=orderings, order=order, cursor=cursor, limit=limit
    )


# -- promises -----------------------------------------------------------------------------------


@router.get("/promises", response={200: PromisePage, **ERRORS}, tags=["promises"])
def promise_list(
    request: HttpRequest,
    entity: str | None = EntityName,
    customer_ref: str | None = CustomerRef,
    status: Literal["open", "kept", "broken", "cancelled"] | None = None,
    updated_since: s.Instant | None = UpdatedSince,
    order: Literal["id", "updated_at", "promised_date"] = "id",
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> Any:
    """Promises to pay (the promise queue, every status), with the queue's state."""
    scope = _entity(request, entity)
    rows = selectors.promise_list(
        user=_user(request),
        entity=scope,
        customer_ref=customer_ref,
        status=status,
        updated_since=updated_since,
    )
    orderings = {"id": "id", "updated_at": "updated_at", "promised_date": "promised_date"}
    return _listed(scope, rows, promise_json, orderings=orderings, order=order, cursor=cursor, limit=limit)


def _promise(request: HttpRequest, scope: Entity, promise_id: int) -> Promise:
    rows = selectors.promise_list(user=_user(request), entity=scope)
    found: Promise = selectors.by_id(rows, entity=scope, kind="promise", row_id=promise_id)
    return found


@router.get("/promises/{int:promise_id}", response={200: PromiseOut, **ERRORS}, tags=["promises"])
def promise_get(request: HttpRequest, promise_id: int, entity: str | None = EntityName) -> Any:
    """One promise."""
    scope = _entity(request, entity)
    return JsonResponse(promise_json(_promise(request, scope, promise_id), _today(scope)))


@router.post(
    "/promises", response={201: PromiseOut, **WRITE_ERRORS}, tags=["promises"], description=IDEMPOTENCY
)
@idempotent
def promise_create(request: HttpRequest, payload: PromiseIn, entity: str | None = EntityName) -> HttpResponse:
    """Record a promise made today to pay the given invoices (default: every open one) by a date."""
    scope = _entity(request, entity)
    promise = case_services.promise_add(
        customer=_customer(request, scope, payload.customer_ref),
        promised_date=payload.promised_date,
        on=_today(scope),
        invoices=_invoices(request, scope, payload.invoice_refs),
        amount=payload.amount,
        note=payload.note,
        actor=_actor(request),
    )
    return _created(promise_json(_promise(request, scope, promise.pk), _today(scope)))


@router.post(
    "/promises/{int:promise_id}/cancel",
    response={200: PromiseOut, **WRITE_ERRORS},
    tags=["promises"],
    description=IDEMPOTENCY,
)
@idempotent
def promise_cancel(request: HttpRequest, promise_id: int, entity: str | None = EntityName) -> HttpResponse:
    """Cancel an open promise: the customer's dunning resumes from the next run."""
    scope = _entity(request, entity)
    promise = _promise(request, scope, promise_id)
    case_services.promise_close(promise=promise, status="cancelled", actor=_actor(request))
    return _created(promise_json(_promise(request, scope, promise_id), _today(scope)), created=False)


# -- disputes -----------------------------------------------------------------------------------


@router.get("/disputes", response={200: DisputePage, **ERRORS}, tags=["disputes"])
def dispute_list(
    request: HttpRequest,
    entity: str | None = EntityName,
    customer_ref: str | None = CustomerRef,
    invoice_ref: str | None = None,
    status: Literal["open", "resolved"] | None = None,
    updated_since: s.Instant | None = UpdatedSince,
    order: Literal["id", "updated_at", "opened_on"] = "id",
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> Any:
    """Disputes (the dispute queue, open and resolved)."""
    scope = _entity(request, entity)
    rows = selectors.dispute_list(
        user=_user(request),
        entity=scope,
        customer_ref=customer_ref,
        invoice_ref=invoice_ref,
        status=status,
        updated_since=updated_since,
    )
    orderings = {"id": "id", "updated_at": "updated_at", "opened_on": "opened_on"}
    return _listed(scope, rows, dispute_json, orderings=orderings, order=order, cursor=cursor, limit=limit)


def _dispute(request: HttpRequest, scope: Entity, dispute_id: int) -> Dispute:
    rows = selectors.dispute_list(user=_user(request), entity=scope)
    found: Dispute = selectors.by_id(rows, entity=scope, kind="dispute", row_id=dispute_id)
    return found


@router.get("/disputes/{int:dispute_id}", response={200: DisputeOut, **ERRORS}, tags=["disputes"])
def dispute_get(request: HttpRequest, dispute_id: int, entity: str | None = EntityName) -> Any:
    """One dispute."""
    scope = _entity(request, entity)
    return JsonResponse(dispute_json(_dispute(request, scope, dispute_id), _today(scope)))


@router.post(
    "/disputes", response={201: DisputeOut, **WRITE_ERRORS}, tags=["disputes"], description=IDEMPOTENCY
)
@idempotent
def dispute_open(request: HttpRequest, payload: DisputeIn, entity: str | None = EntityName) -> HttpResponse:
    """Open a dispute on an invoice from today: its amount is not chased while it is open."""
    scope = _entity(request, entity)
    (invoice,) = _invoices(request, scope, [payload.invoice_ref])
    dispute = case_services.dispute_open(
        invoice=invoice,
        reason_code=payload.reason_code,
        on=_today(scope),
        amount=payload.amount,
        note=payload.note,
        actor=_actor(request),
    )
    return _created(dispute_json(_dispute(request, scope, dispute.pk), _today(scope)))


@router.post(
    "/disputes/{int:dispute_id}/resolve",
    response={200: DisputeOut, **WRITE_ERRORS},
    tags=["disputes"],
    description=IDEMPOTENCY,
)
@idempotent
def dispute_resolve(
    request: HttpRequest, dispute_id: int, payload: DisputeResolveIn, entity: str | None = EntityName
) -> HttpResponse:
    """Resolve an open dispute (credit_note, write_off, rejected or withdrawn)."""
    scope = _entity(request, entity)
    dispute = _dispute(request, scope, dispute_id)
    case_services.dispute_resolve(
        dispute=dispute,
        resolution=payload.resolution,
        on=payload.on or _today(scope),
        note=payload.note,
        actor=_actor(request),
    )
    return _created(dispute_json(_dispute(request, scope, dispute_id), _today(scope)), created=False)


# -- payment plans ------------------------------------------------------------------------------


@router.get("/plans", response={200: PlanPage, **ERRORS}, tags=["payment plans"])
def plan_list(
    request: HttpRequest,
    entity: str | None = EntityName,
    customer_ref: str | None = CustomerRef,
    status: Literal["active", "completed", "cancelled"] | None = None,
    updated_since: s.Instant | None = UpdatedSince,
    order: Literal["id", "updated_at", "starts_on"] = "id",
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> Any:
    """Payment plans with their installments and the plan queue's state."""
    scope = _entity(request, entity)
    rows = selectors.plan_list(
        user=_user(request),
        entity=scope,
        customer_ref=customer_ref,
        status=status,
        updated_since=updated_since,
    )
    orderings = {"id": "id", "updated_at": "updated_at", "starts_on": "starts_on"}
    return _listed(scope, rows, plan_json, orderings=orderings, order=order, cursor=cursor, limit=limit)


def _plan(request: HttpRequest, scope: Entity, plan_id: int) -> PaymentPlan:
    rows = selectors.plan_list(user=_user(request), entity=scope)
    found: PaymentPlan = selectors.by_id(rows, entity=scope, kind="payment plan", row_id=plan_id)
    return found


@router.get("/plans/{int:plan_id}", response={200: PlanOut, **ERRORS}, tags=["payment plans"])
def plan_get(request: HttpRequest, plan_id: int, entity: str | None = EntityName) -> Any:
    """One payment plan."""
    scope = _entity(request, entity)
    return JsonResponse(plan_json(_plan(request, scope, plan_id), _today(scope)))


@router.get(
    "/plans/{int:plan_id}/installments", response={200: InstallmentList, **ERRORS}, tags=["payment plans"]
)
def plan_installments(request: HttpRequest, plan_id: int, entity: str | None = EntityName) -> Any:
    """A plan's installments in order (at most 120: one page)."""
    scope = _entity(request, entity)
    plan = _plan(request, scope, plan_id)
    installments = sorted(plan.installments.all(), key=lambda i: i.sequence)
    return JsonResponse({"items": [_installment_json(i, plan.currency) for i in installments]})


@router.post(
    "/plans", response={201: PlanOut, **WRITE_ERRORS}, tags=["payment plans"], description=IDEMPOTENCY
)
@idempotent
def plan_create(request: HttpRequest, payload: PlanIn, entity: str | None = EntityName) -> HttpResponse:
    """A plan paying the invoices (default: every open one) in equal installments; 409 when the
    customer already has an active plan."""
    scope = _entity(request, entity)
    plan = case_services.plan_create(
        customer=_customer(request, scope, payload.customer_ref),
        starts_on=payload.starts_on or _today(scope),
        installments=payload.installments,
        first_due=payload.first_due,
        every_days=payload.every_days,
        invoices=_invoices(request, scope, payload.invoice_refs),
        total=payload.total,
        note=payload.note,
        actor=_actor(request),
    )
    return _created(plan_json(_plan(request, scope, plan.pk), _today(scope)))


@router.post(
    "/plans/{int:plan_id}/cancel",
    response={200: PlanOut, **WRITE_ERRORS},
    tags=["payment plans"],
    description=IDEMPOTENCY,
)
@idempotent
def plan_cancel(request: HttpRequest, plan_id: int, entity: str | None = EntityName) -> HttpResponse:
    """Cancel an active plan: the customer's invoices are dunned again from the next run."""
    scope = _entity(request, entity)
    case_services.plan_cancel(plan=_plan(request, scope, plan_id), actor=_actor(request))
    return _created(plan_json(_plan(request, scope, plan_id), _today(scope)), created=False)


# -- credit holds -------------------------------------------------------------------------------


@router.get("/credit/holds", response={200: CreditHoldPage, **ERRORS}, tags=["credit"])
def credit_hold_list(
    request: HttpRequest,
    entity: str | None = EntityName,
    customer_ref: str | None = CustomerRef,
    status: Literal["active", "released"] | None = None,
    updated_since: s.Instant | None = UpdatedSince,
    order: Literal["id", "updated_at", "placed_on"] = "id",
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> Any:
    """Credit holds (no new orders for the customer while active), placed and released."""
    scope = _entity(request, entity)
    rows = selectors.credit_hold_list(
        user=_user(request),
        entity=scope,
        customer_ref=customer_ref,
        status=status,
        updated_since=updated_since,
    )
    orderings = {"id": "id", "updated_at": "updated_at", "placed_on": "placed_on"}
    return _listed(
        scope, rows, credit_hold_json, orderings=orderings, order=order, cursor=cursor, limit=limit
    )


def _credit_hold(request: HttpRequest, scope: Entity, hold_id: int) -> CreditHold:
    rows = selectors.credit_hold_list(user=_user(request), entity=scope)
    found: CreditHold = selectors.by_id(rows, entity=scope, kind="credit hold", row_id=hold_id)
    return found


@router.get("/credit/holds/{int:credit_hold_id}", response={200: CreditHoldOut, **ERRORS}, tags=["credit"])
def credit_hold_get(request: HttpRequest, credit_hold_id: int, entity: str | None = EntityName) -> Any:
    """One credit hold."""
    scope = _entity(request, entity)
    return JsonResponse(credit_hold_json(_credit_hold(request, scope, credit_hold_id), _today(scope)))


@router.post(
    "/credit/holds",
    response={200: CreditHoldOut, 201: CreditHoldOut, **WRITE_ERRORS},
    tags=["credit"],
    description=IDEMPOTENCY,
)
@idempotent
def credit_hold_place(
    request: HttpRequest, payload: CreditHoldIn, entity: str | None = EntityName
) -> HttpResponse:
    """Put the customer on credit hold from today (201); one already active is kept as it is (200)."""
    scope = _entity(request, entity)
    customer = _customer(request, scope, payload.customer_ref)
    before = CreditHold.objects.filter(customer=customer, status=CreditHoldStatus.ACTIVE).exists()
    hold = case_services.credit_hold_place(
        customer=customer, on=_today(scope), reason=payload.reason, actor=_actor(request)
    )
    return _created(
        credit_hold_json(_credit_hold(request, scope, hold.pk), _today(scope)), created=not before
    )


@router.post(
    "/credit/holds/{int:credit_hold_id}/lift",
    response={200: CreditHoldOut, **WRITE_ERRORS},
    tags=["credit"],
    description=IDEMPOTENCY,
)
@idempotent
def credit_hold_lift(
    request: HttpRequest, credit_hold_id: int, entity: str | None = EntityName
) -> HttpResponse:
    """Release an active credit hold from today: orders may be taken again."""
    scope = _entity(request, entity)
    hold = _credit_hold(request, scope, credit_hold_id)
    if hold.status != CreditHoldStatus.ACTIVE:  # the service releases the customer's active hold
        raise ValidationFailed(HOLD_NOT_ACTIVE.format(hold=hold.pk, status=hold.status))
    actor = _actor(request)
    case_services.credit_hold_release(customer=hold.customer, on=_today(scope), by=actor.label, actor=actor)
    return _created(
        credit_hold_json(_credit_hold(request, scope, credit_hold_id), _today(scope)), created=False
    )


# -- the contacts log and notes -----------------------------------------------------------------


@router.get("/contact-log", response={200: ContactLogPage, **ERRORS}, tags=["contacts log"])
def contact_log_list(
    request: HttpRequest,
    entity: str | None = EntityName,
    customer_ref: str | None = CustomerRef,
    channel: str | None = None,
    updated_since: s.Instant | None = UpdatedSince,
    order: Literal["id", "updated_at", "on"] = "id",
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> Any:
    """Contacts made by hand (calls, e-mails written outside the run): they count for the cadence."""
    scope = _entity(request, entity)
    rows = selectors.contact_log_list(
        user=_user(request),
        entity=scope,
        customer_ref=customer_ref,
        channel=channel,
        updated_since=updated_since,
    )
    orderings = {"id": "id", "updated_at": "updated_at", "on": "on"}
    return _listed(
        scope, rows, contact_log_json, orderings=orderings, order=order, cursor=cursor, limit=limit
    )


@router.get("/contact-log/{int:log_id}", response={200: ContactLogOut, **ERRORS}, tags=["contacts log"])
def contact_log_get(request: HttpRequest, log_id: int, entity: str | None = EntityName) -> Any:
    """One contact made by hand."""
    scope = _entity(request, entity)
    rows = selectors.contact_log_list(user=_user(request), entity=scope)
    log = selectors.by_id(rows, entity=scope, kind="contact log entry", row_id=log_id)
    return JsonResponse(contact_log_json(log, _today(scope)))


@router.post(
    "/contact-log",
    response={201: ContactLogOut, **WRITE_ERRORS},
    tags=["contacts log"],
    description=IDEMPOTENCY,
)
@idempotent
def contact_log_add(
    request: HttpRequest, payload: ContactLogIn, entity: str | None = EntityName
) -> HttpResponse:
    """Record a contact made outside the run (default: today); the next runs count it."""
    scope = _entity(request, entity)
    log = case_services.contact_log(
        customer=_customer(request, scope, payload.customer_ref),
        on=payload.on or _today(scope),
        channel=payload.channel,
        note=payload.note,
        actor=_actor(request),
    )
    rows = selectors.contact_log_list(user=_user(request), entity=scope)
    return _created(
        contact_log_json(selectors.by_id(rows, entity=scope, kind="contact", row_id=log.pk), _today(scope))
    )

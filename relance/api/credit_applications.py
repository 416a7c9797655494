"""``/credit/applications``: credit applications for a CRM or ERP — send a link to the form,
read applications, and decide (take in review, approve with four eyes, decline, ask for more).

The rules are ``relance.credit.services.applications``; scoping and who sees what are
``relance.credit.selectors.applications`` (another entity's application is a 404; bank details,
contacts, references and the documents' list only for those who may read a bureau report; only
credit managers and admins decide, others get a 403). Applications are named by their
``id`` (a UUID). (No ``from __future__ import annotations`` here: Ninja reads the hints.)
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, JsonResponse
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from relance.api import selectors as api_selectors
from relance.api.params import ERRORS, EntityName
from relance.core.errors import NotFound
from relance.credit.models import ApplicationStatus, CreditApplication
from relance.credit.selectors import applications as selectors
from relance.credit.services import applications as services
from relance.ledger.models import Entity

router = Router(tags=["credit applications"])

NOT_ALLOWED = "your role may not {what} credit applications"
Status = Query(None, description="open (submitted, in review, information requested), or one status")
NewestLimit = Query(100, ge=1, le=500, description="at most this many, newest first")


class ApplicationOut(Schema):
    id: str
    status: str
    customer_ref: str | None
    legal_name: str
    trading_name: str
    country: str
    identifiers: dict[str, str]
    requested_limit: str = Field(description="decimal string")
    currency: str
    requested_terms_days: int
    submitted_at: str | None
    info_request: str | None
    approved_limit: str | None
    approved_terms_days: int | None
    limit_expires_on: str | None
    first_approved_by: str | None
    decided_by: str | None
    decided_at: str | None
    decline_reason: str | None
    address: dict[str, str] | None = Field(None, description="credit managers only")
    contacts: list[dict[str, str]] | None = Field(None, description="credit managers only")
    iban: str | None = Field(None, description="credit managers only")
    bic: str | None = Field(None, description="credit managers only")
    trade_references: list[dict[str, str]] | None = Field(None, description="credit managers only")
    documents: list[dict[str, Any]] | None = Field(None, description="credit managers only")


class ApplicationList(Schema):
    items: list[ApplicationOut]


class LinkIn(Schema):
    customer_ref: str | None = Field(None, description="send to this customer's billing contact")
    email: str | None = Field(None, description="a prospect's address (or another address of the customer)")
    language: str | None = Field(None, description="en, fr, de, es, it or zh-hans (default: the customer's)")
    days: int | None = Field(None, description="validity (default: the entity's setting)")


class LinkOut(Schema):
    link_id: int
    url: str
    email: str
    language: str
    expires_at: datetime
    sent: bool


class RevokeOut(Schema):
    revoked: bool = Field(description="false: it was already revoked")


class ApproveIn(Schema):
    limit: Decimal
    terms_days: int
    expires_on: date | None = None
    customer_ref: str | None = Field(None, description="a prospect's customer ref (default APP-<number>)")
    note: str | None = None


class ApproveOut(Schema):
    completed: bool = Field(
        description="false: the first approval is recorded, a second approver must confirm"
    )
    needs_second_approver: bool
    message: str
    application: ApplicationOut


class DeclineIn(Schema):
    reason: str


class InfoIn(Schema):
    text: str


def _entity(request: HttpRequest, name: str | None) -> Entity:
    return api_selectors.entity_for_user(user=request.auth, name=name)  # type: ignore[attr-defined]


def _out(request: HttpRequest, application: CreditApplication) -> dict[str, Any]:
    return selectors.application_summary(application, sensitive=selectors.user_sees_sensitive(request.auth))  # type: ignore[attr-defined]


def _application(request: HttpRequest, entity: str | None, application_id: str) -> CreditApplication:
    user = request.auth  # type: ignore[attr-defined]
    if not selectors.user_can_read(user):
        raise HttpError(403, NOT_ALLOWED.format(what="read"))
    return selectors.application_by_public_id(
        user=user, entity=_entity(request, entity), public_id=application_id
    )


def _decider(request: HttpRequest) -> Any:
    user = request.auth  # type: ignore[attr-defined]
    if not selectors.user_decides(user):
        raise HttpError(403, NOT_ALLOWED.format(what="decide on"))
    return user


@router.get("/credit/applications", response={200: ApplicationList, **ERRORS})
def application_list(
    request: HttpRequest,
    entity: str | None = EntityName,
    status: str | None = Status,
    limit: int = NewestLimit,
) -> dict[str, Any]:
    """The entity's applications, newest first."""
    user = request.auth  # type: ignore[attr-defined]
    if not selectors.user_can_read(user):
        raise HttpError(403, NOT_ALLOWED.format(what="read"))
    if status not in (None, "", "open", *ApplicationStatus.values):
        from relance.core.errors import ValidationFailed

        raise ValidationFailed(f"unknown status {status!r}", code="status_invalid")
    rows = selectors.application_list(
        user=user, entity=_entity(request, entity), status=status or "", limit=limit
    )
    return {"items": [_out(request, row) for row in rows]}


@router.post("/credit/applications/links", response={201: LinkOut, **ERRORS})
def link_send(request: HttpRequest, payload: LinkIn, entity: str | None = EntityName) -> JsonResponse:
    """Send a link to the application form to a prospect or a customer (sent in their language)."""
    user = _decider(request)
    scope = _entity(request, entity)
    customer = None
    if payload.customer_ref:
        from relance.accounts.selectors import customers_visible

        customer = customers_visible(user, entity=scope).filter(external_ref=payload.customer_ref).first()
        if customer is None:
            raise NotFound(f"customer {payload.customer_ref!r} not found", code="customer_not_found")
    issued = services.link_issue(
        entity=scope,
        user=user,
        customer=customer,
        email=payload.email or "",
        language=payload.language or "",
        days=payload.days,
    )
    body = {
        "link_id": issued.link.pk,
        "url": issued.url,
        "email": issued.link.email,
        "language": issued.link.language,
        "expires_at": issued.link.expires_at.isoformat(),
        "sent": issued.sent,
    }
    return JsonResponse(body, status=201)


@router.post("/credit/applications/links/{link_id}/revoke", response={200: RevokeOut, **ERRORS})
def link_revoke(request: HttpRequest, link_id: int, entity: str | None = EntityName) -> dict[str, Any]:
    """Revoke a link at once (the form refuses it with 410)."""
    _decider(request)
    link = selectors.link_for_entity(entity=_entity(request, entity), link_id=link_id)
    return {"revoked": services.link_revoke(link=link)}


@router.get("/credit/applications/{application_id}", response={200: ApplicationOut, **ERRORS})
def application_detail(
    request: HttpRequest, application_id: str, entity: str | None = EntityName
) -> dict[str, Any]:
    return _out(request, _application(request, entity, application_id))


@router.post("/credit/applications/{application_id}/review", response={200: ApplicationOut, **ERRORS})
def application_review(
    request: HttpRequest, application_id: str, entity: str | None = EntityName
) -> dict[str, Any]:
    """Take a submitted application in review."""
    application = _application(request, entity, application_id)
    user = _decider(request)
    return _out(request, services.application_review_start(application=application, user=user))


@router.post("/credit/applications/{application_id}/approve", response={200: ApproveOut, **ERRORS})
def application_approve(
    request: HttpRequest, application_id: str, payload: ApproveIn, entity: str | None = EntityName
) -> dict[str, Any]:
    """Approve a limit (in the customer's currency, or the application's for a prospect), terms
    and expiry. Above the entity's four-eyes threshold the first call records the first approval
    (``completed: false``) and another credit manager's call with the same terms completes it."""
    application = _application(request, entity, application_id)
    user = _decider(request)
    outcome = services.application_approve(
        application=application,
        user=user,
        terms=services.ApprovalTerms(
            limit=payload.limit,
            terms_days=payload.terms_days,
            expires_on=payload.expires_on,
            customer_ref=payload.customer_ref or "",
            note=payload.note or "",
        ),
    )
    application.refresh_from_db()
    return {
        "completed": outcome.completed,
        "needs_second_approver": outcome.needs_second_approver,
        "message": outcome.message,
        "application": _out(request, application),
    }


@router.post("/credit/applications/{application_id}/decline", response={200: ApplicationOut, **ERRORS})
def application_decline(
    request: HttpRequest, application_id: str, payload: DeclineIn, entity: str | None = EntityName
) -> dict[str, Any]:
    """Decline with a reason (the applicant is told; sales and support read it)."""
    application = _application(request, entity, application_id)
    user = _decider(request)
    return _out(
        request, services.application_decline(application=application, user=user, reason=payload.reason)
    )


@router.post("/credit/applications/{application_id}/request-info", response={200: ApplicationOut, **ERRORS})
def application_request_info(
    request: HttpRequest, application_id: str, payload: InfoIn, entity: str | None = EntityName
) -> dict[str, Any]:
    """Ask for more information: the applicant gets an e-mail with the same link."""
    application = _application(request, entity, application_id)
    user = _decider(request)
    return _out(
        request, services.application_request_info(application=application, user=user, text=payload.text)
    )

"""Reads the pages show credit managers, policy owners and auditors (issue 18): the credit review
queue, the dunning policies with their steps, and the audit log. Read-only, through the selectors
the pages use (``relance.credit.selectors.reviews``, ``relance.dunning.selectors``,
``relance.audit.selectors``); who may read each is the pages' permission (``API_RESOURCES``).
(No ``from __future__ import annotations``: Ninja reads the hints.)
"""

from datetime import date, datetime
from typing import Any, Literal

from django.http import HttpRequest, JsonResponse
from ninja import Field, Query, Router, Schema

from relance.api import schemas as s
from relance.api import selectors
from relance.api.pagination import paged_response
from relance.api.params import ERRORS, Cursor, CustomerRef, EntityName, Limit, UpdatedSince, WrittenSince
from relance.audit.selectors import AuditFilters, audit_event_json, audit_event_list
from relance.core.errors import NotFound
from relance.core.formatting import exact_amount
from relance.core.identifiers import has_unsafe_text
from relance.credit.models import CreditReview, ReviewStatus
from relance.credit.selectors import reviews as review_selectors
from relance.dunning.models import Policy
from relance.dunning.selectors import policy_get, policy_list, segment_policy_list
from relance.ledger.models import Entity

router = Router()


def _entity(request: HttpRequest, name: str | None) -> Entity:
    return selectors.entity_for_user(user=request.auth, name=name)  # type: ignore[attr-defined]


# -- the credit review queue --------------------------------------------------------------------


class CreditReviewOut(Schema):
    id: int
    customer_ref: str
    opened_on: date
    status: str = Field(description=", ".join(ReviewStatus.values))
    triggers: list[Any] = Field(description="why it was opened: [{code, text, facts}]")
    proposal: str
    proposed_limit: str | None = Field(description="decimal string")
    proposed_terms_days: int | None
    currency: str
    exposure: str = Field(description="the exposure the proposal rested on (the queue's order, most first)")
    reasons: list[Any]
    decided_at: datetime | None
    note: str
    created_at: datetime
    updated_at: datetime


class CreditReviewPage(Schema):
    items: list[CreditReviewOut]
    next_cursor: str | None


def review_json(review: CreditReview) -> dict[str, Any]:
    limit = review.proposed_limit
    return {
        "id": review.pk,
        "customer_ref": review.customer.external_ref,
        "opened_on": review.opened_on,
        "status": review.status,
        "triggers": review.triggers,
        "proposal": review.proposal,
        "proposed_limit": None if limit is None else exact_amount(limit, review.currency),
        "proposed_terms_days": review.proposed_terms_days,
        "currency": review.currency,
        "exposure": exact_amount(review_selectors.review_exposure(review), review.currency),
        "reasons": review.reasons,
        "decided_at": review.decided_at,
        "note": review.note,
        "created_at": review.created_at,
        "updated_at": review.updated_at,
    }


@router.get("/credit/reviews", response={200: CreditReviewPage, **ERRORS}, tags=["credit"])
def credit_review_list(
    request: HttpRequest,
    entity: str | None = EntityName,
    customer_ref: str | None = CustomerRef,
    status: Literal["open", "all"] = Query("open", description="open (the queue), or every status"),
    updated_since: s.Instant | None = UpdatedSince,
    order: Literal["id", "updated_at", "opened_on"] = "id",
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> Any:
    """The credit review queue (``/w/credit/reviews/``): the reviews of the customers you see, each
    with its triggers, proposal and the exposure the page orders by. Deciding stays on the page."""
    rows = review_selectors.review_list(
        user=request.auth,  # type: ignore[attr-defined]
        entity=_entity(request, entity),
        status=ReviewStatus.OPEN if status == "open" else None,
    )
    if customer_ref:
        rows = rows.filter(customer__external_ref=customer_ref)
    if updated_since is not None:
        rows = rows.filter(updated_at__gte=updated_since)
    orderings = {"id": "id", "updated_at": "updated_at", "opened_on": "opened_on"}
    return paged_response(rows, review_json, orderings=orderings, order=order, cursor=cursor, limit=limit)


# -- dunning policies ---------------------------------------------------------------------------


class PolicyOut(Schema):
    id: int
    key: str
    name: str
    version: int = Field(description="incremented on each change of the steps")
    segments: list[str] = Field(description='the segments that follow it ("" for the default)')
    steps: list[dict[str, Any]] = Field(description="the steps, in the policy file's form (docs/policies.md)")
    spec: dict[str, Any] = Field(description="the whole policy in the policy file's form")
    created_at: datetime
    updated_at: datetime


class PolicyPage(Schema):
    items: list[PolicyOut]
    next_cursor: str | None


def policy_json(policy: Policy, segments: dict[int, list[str]]) -> dict[str, Any]:
    spec = policy.spec if isinstance(policy.spec, dict) else {}
    steps = spec.get("steps")
    return {
        "id": policy.pk,
        "key": policy.key,
        "name": policy.name,
        "version": policy.version,
        "segments": segments.get(policy.pk, []),
        "steps": steps if isinstance(steps, list) else [],
        "spec": spec,
        "created_at": policy.created_at,
        "updated_at": policy.updated_at,
    }


def _segments(entity: Entity) -> dict[int, list[str]]:
    segments: dict[int, list[str]] = {}
    for mapping in segment_policy_list(entity=entity):
        segments.setdefault(mapping.policy_id, []).append(mapping.segment)
    return segments


@router.get("/policies", response={200: PolicyPage, **ERRORS}, tags=["policies"])
def policy_list_view(
    request: HttpRequest,
    entity: str | None = EntityName,
    updated_since: s.Instant | None = UpdatedSince,
    order: Literal["id", "updated_at", "key"] = "id",
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> Any:
    """The entity's dunning policies with their steps and the segments that follow each (read-only:
    policies are edited on the policy page, which simulates the change first)."""
    scope = _entity(request, entity)
    rows = policy_list(entity=scope)
    if updated_since is not None:
        rows = rows.filter(updated_at__gte=updated_since)
    segments = _segments(scope)
    orderings = {"id": "id", "updated_at": "updated_at", "key": "key"}
    return paged_response(
        rows,
        lambda row: policy_json(row, segments),
        orderings=orderings,
        order=order,
        cursor=cursor,
        limit=limit,
    )


@router.get("/policies/{key}", response={200: PolicyOut, **ERRORS}, tags=["policies"])
def policy_get_view(request: HttpRequest, key: str, entity: str | None = EntityName) -> Any:
    """One policy by its key, with its steps."""
    scope = _entity(request, entity)
    if has_unsafe_text(key):
        raise NotFound(selectors.NOT_FOUND.format(kind="policy", ref=key, entity=scope.name))
    return JsonResponse(policy_json(policy_get(entity=scope, key=key), _segments(scope)))


# -- the audit log ------------------------------------------------------------------------------


class AuditEventOut(Schema):
    id: int
    at: datetime
    actor: str = Field(description="who, in words (kept after the user is deleted)")
    actor_user: str | None
    token: str | None = Field(description="the API token's prefix, when an API call did it")
    action: str
    object_type: str = Field(description="app_label.model")
    object_id: str
    object: str
    entity: str | None
    before: dict[str, Any] = Field(description="the fields that changed, as they were")
    after: dict[str, Any] = Field(description="the fields that changed, as they are")
    ip: str | None
    request_id: str


class AuditEventPage(Schema):
    items: list[AuditEventOut]
    next_cursor: str | None


@router.get("/audit-events", response={200: AuditEventPage, **ERRORS}, tags=["audit"])
def audit_event_list_view(
    request: HttpRequest,
    entity: str | None = EntityName,
    actor: str = Query("", max_length=200, description="part of the actor's name"),
    object: str = Query(
        "", max_length=200, description='"app.model", "app.model#id", or part of the object\'s name'
    ),
    action: str = Query("", max_length=32, description="create, update, delete, assign, …"),
    updated_since: s.Instant | None = WrittenSince,
    order: Literal["id", "at"] = "id",
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> Any:
    """The audit log of the entity (``/audit/``, ``audit.view_auditevent``: administrators and
    auditors): who changed what, when, from where. Read-only."""
    scope = _entity(request, entity)
    for text in (actor, object, action):
        if has_unsafe_text(text):
            return JsonResponse({"items": [], "next_cursor": None})  # names nothing stored
    filters = AuditFilters(
        actor=actor.strip(), object=object.strip(), action=action.strip(), since=updated_since
    )
    rows = audit_event_list(entity_ids=[scope.pk], filters=filters)
    orderings = {"id": "id", "at": "at"}
    return paged_response(
        rows, audit_event_json, orderings=orderings, order=order, cursor=cursor, limit=limit
    )

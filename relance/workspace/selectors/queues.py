"""The dispute, promise and plan queues, scoped to the user."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Count, Q

from relance.accounts.selectors import customer_for_user, customer_scope
from relance.cases.models import (
    Dispute,
    DisputeStatus,
    PaymentPlan,
    Promise,
    PromiseStatus,
)
from relance.cases.selectors import plan_progress, promise_queue_state
from relance.core.errors import NotFound
from relance.ledger.models import Entity
from relance.workspace.models import (
    DisputeAssignment,
    DisputeComment,
)
from relance.workspace.selectors.common import DISPUTE_NOT_FOUND

# --------------------------------------------------------------------------- queues


@dataclass(frozen=True)
class QueueFilters:
    entity: Entity
    status: str = ""
    owner_id: int | None = None
    # the dashboard's drill-down (docs/workspace.md): its segment and collector (a username;
    # "": none), promises due on a day, disputes past their SLA on a day
    segment: str | None = None
    collector: str | None = None
    promised_on: date | None = None
    sla_past_on: date | None = None

    def customers_q(self) -> Q:
        from relance.reports.selectors import customer_group_q

        return customer_group_q(self.segment, self.collector)


def _dispute_owner(dispute: Dispute) -> Any:
    """Who owns the dispute: the one assigned in the queue, else the portal case's (the customer's
    collector when the customer opened it)."""
    try:
        return dispute.workspace_assignment.owner
    except DisputeAssignment.DoesNotExist:
        case = getattr(dispute, "portal_case", None)
        return case.owner if case is not None else None


def _sla_state(sla: dict[str, Any], sla_days: int) -> str:
    """``past``, ``near`` (the last quarter of the SLA) or ``ok``; resolved: ``met`` or ``missed``."""
    if sla["days_left"] is None:
        return "met" if sla["met"] else "missed"
    if sla["days_left"] < 0:
        return "past"
    return "near" if sla["days_left"] <= sla_days * 0.25 else "ok"


def _dispute_row(dispute: Dispute, *, sla_days: int, today: date) -> dict[str, Any]:
    from relance.portal.selectors import dispute_sla

    sla = dispute_sla(dispute=dispute, sla_days=sla_days, as_of=today)
    case = getattr(dispute, "portal_case", None)
    return {
        "dispute": dispute,
        "case": case,
        "days_open": ((dispute.resolved_on or today) - dispute.opened_on).days,
        "due_on": sla["due_on"],
        "days_left": sla["days_left"],
        "days_late": -sla["days_left"] if sla["days_left"] is not None and sla["days_left"] < 0 else 0,
        "sla": _sla_state(sla, sla_days),
        "owner": _dispute_owner(dispute),
    }


def dispute_queue(*, user: Any, filters: QueueFilters, today: date) -> list[dict[str, Any]]:
    """Disputes of the entity, answer date first, with the SLA the customer was told, the
    customer's words and files, and the owner. A sales user sees their own accounts' only."""
    from relance.portal.selectors import dispute_sla_days

    disputes = (
        customer_scope(user, Dispute.objects.filter(entity=filters.entity), customer_field="customer")
        .select_related("customer", "invoice", "workspace_assignment__owner", "portal_case__owner")
        .annotate(files=Count("portal_case__attachments"))
    )
    disputes = disputes.filter(filters.customers_q(), status=filters.status or DisputeStatus.OPEN)
    if filters.sla_past_on is not None:
        from relance.portal.selectors import disputes_past_sla

        disputes = disputes_past_sla(disputes=disputes, entity=filters.entity, as_of=filters.sla_past_on)
    if filters.owner_id == 0:
        disputes = disputes.filter(
            Q(workspace_assignment__owner__isnull=True)
            & (Q(workspace_assignment__isnull=False) | Q(portal_case__owner__isnull=True))
        )
    elif filters.owner_id is not None:
        disputes = disputes.filter(
            Q(workspace_assignment__owner_id=filters.owner_id)
            | Q(workspace_assignment__isnull=True, portal_case__owner_id=filters.owner_id)
        )
    sla_days = dispute_sla_days(entity=filters.entity)
    rows = [
        _dispute_row(dispute, sla_days=sla_days, today=today)
        for dispute in disputes.order_by("opened_on", "id")[:500]
    ]
    rows.sort(key=lambda row: (row["due_on"], row["dispute"].opened_on, row["dispute"].pk))
    return rows


def dispute_for_user(*, user: Any, dispute_id: int) -> Dispute:
    """The dispute if the user sees its customer; the same ``NotFound`` otherwise (no existence leak)."""
    dispute = Dispute.objects.select_related("entity", "customer", "invoice").filter(pk=dispute_id).first()
    if dispute is None:
        raise NotFound(DISPUTE_NOT_FOUND)
    try:
        customer_for_user(user=user, customer_id=dispute.customer_id)
    except NotFound:
        raise NotFound(DISPUTE_NOT_FOUND) from None
    return dispute


def dispute_page(*, dispute: Dispute, today: date) -> dict[str, Any]:
    """What the dispute page shows: the queue's row, the customer's files and the comments."""
    from relance.portal.selectors import dispute_sla_days

    row = _dispute_row(dispute, sla_days=dispute_sla_days(entity=dispute.entity), today=today)
    case = row["case"]
    return {
        **row,
        "sla_days": dispute_sla_days(entity=dispute.entity),
        "attachments": list(case.attachments.order_by("uploaded_at", "id")) if case is not None else [],
        "comments": list(
            DisputeComment.objects.filter(dispute=dispute)
            .select_related("created_by")
            .order_by("created_at", "id")
        ),
    }


def dispute_attachment(*, dispute: Dispute, attachment_id: int) -> Any:
    """One of the files the customer attached to this dispute (``NotFound`` otherwise)."""
    from relance.portal.models import DisputeAttachment

    found = DisputeAttachment.objects.filter(pk=attachment_id, case__dispute=dispute).first()
    if found is None:
        raise NotFound("attachment not found")
    return found


def promise_queue(*, user: Any, filters: QueueFilters, today: date) -> list[dict[str, Any]]:
    """Promises of the entity by promised date: overdue (open, date passed), due today, upcoming."""
    promises = customer_scope(
        user, Promise.objects.filter(entity=filters.entity), customer_field="customer"
    ).select_related("customer", "created_by")
    promises = promises.filter(filters.customers_q(), status=filters.status or PromiseStatus.OPEN)
    if filters.promised_on is not None:
        promises = promises.filter(promised_date=filters.promised_on)
    if filters.owner_id == 0:
        promises = promises.filter(customer__collector__isnull=True)
    elif filters.owner_id is not None:
        promises = promises.filter(customer__collector_id=filters.owner_id)
    return [
        {"promise": promise, "state": promise_queue_state(promise, today=today)}
        for promise in promises.order_by("promised_date", "id")[:500]
    ]


def plan_queue(*, user: Any, filters: QueueFilters, today: date) -> list[dict[str, Any]]:
    """Payment plans with their next unpaid installment, late ones first."""
    plans = customer_scope(
        user, PaymentPlan.objects.filter(entity=filters.entity), customer_field="customer"
    ).select_related("customer")
    plans = plans.filter(filters.customers_q(), status=filters.status or "active")
    if filters.owner_id == 0:
        plans = plans.filter(customer__collector__isnull=True)
    elif filters.owner_id is not None:
        plans = plans.filter(customer__collector_id=filters.owner_id)
    rows = [
        {"plan": plan, **plan_progress(plan, today=today)}
        for plan in plans.prefetch_related("installments").order_by("starts_on", "id")[:500]
    ]
    rows.sort(key=lambda row: (row["state"] != "overdue", row["state"] != "today"))
    return rows

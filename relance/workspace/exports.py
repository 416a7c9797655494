"""CSV downloads of the worklist and the dispute, promise and plan queues.

The page's own filters and scoping (the same selectors as the pages), written by the one CSV
helper (``relance.common.csv_export``). The queues list at most 500 rows, and so do their files;
the worklist's file has every row."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, StreamingHttpResponse
from django.views.decorators.http import require_GET

from relance.common.csv_export import csv_response, money
from relance.workspace import rendering, selectors
from relance.workspace.views import _entity, _filters, _today, _worklist_filters

WORKLIST_COLUMNS = [
    "customer_ref",
    "customer_name",
    "collector",
    "priority",
    "currency",
    "overdue_amount",
    "max_days_past_due",
    "days_since_contact",
    "broken_promises",
    "risk",
    "why",
]


@login_required
@require_GET
def worklist_export(request: HttpRequest) -> StreamingHttpResponse:
    entity, _ = _entity(request)
    filters = _worklist_filters(request, selectors.user_is_collector(request.user))
    run, entries = selectors.worklist_entries(
        user=request.user, entity=entity, today=_today(), filters=filters
    )

    def rows() -> Iterator[list[Any]]:
        for entry in entries.iterator(chunk_size=2000):
            row = selectors.worklist_row(entry)
            reasons = rendering.factor_reasons(row.factors, row.currency)
            yield [
                row.customer_ref,
                row.customer_name,
                row.collector,
                row.priority,
                row.currency,
                money(row.overdue_amount),
                row.max_days_past_due,
                row.days_since_contact,
                row.broken_promises,
                row.risk,
                "; ".join(f"{words} ({points})" for words, points in reasons),
            ]

    day = run.as_of if run is not None else _today()
    return csv_response(f"worklist-{entity.name}-{day}", WORKLIST_COLUMNS, rows())


DISPUTE_COLUMNS = [
    "dispute_id",
    "customer_ref",
    "customer_name",
    "invoice_ref",
    "reason",
    "customer_words",
    "currency",
    "amount",
    "status",
    "resolution",
    "opened_on",
    "answer_by",
    "sla",
    "owner",
]


@login_required
@require_GET
def dispute_export(request: HttpRequest) -> StreamingHttpResponse:
    filters, entity, _ = _filters(request)
    found = selectors.dispute_queue(user=request.user, filters=filters, today=_today())

    def rows() -> Iterator[list[Any]]:
        for row in found:
            dispute, case, owner = row["dispute"], row["case"], row["owner"]
            yield [
                dispute.pk,
                dispute.customer.external_ref,
                dispute.customer.name,
                dispute.invoice.external_ref,
                dispute.get_reason_code_display(),
                case.text if case is not None else "",
                dispute.invoice.currency,
                money(dispute.amount),
                dispute.status,
                dispute.resolution,
                dispute.opened_on,
                row["due_on"],
                row["sla"],
                owner.get_username() if owner is not None else "",
            ]

    return csv_response(f"disputes-{entity.name}-{_today()}", DISPUTE_COLUMNS, rows())


PROMISE_COLUMNS = [
    "promise_id",
    "customer_ref",
    "customer_name",
    "collector",
    "promised_date",
    "state",
    "status",
    "currency",
    "amount",
    "made_on",
    "note",
]


@login_required
@require_GET
def promise_export(request: HttpRequest) -> StreamingHttpResponse:
    filters, entity, _ = _filters(request)
    found = selectors.promise_queue(user=request.user, filters=filters, today=_today())

    def rows() -> Iterator[list[Any]]:
        for row in found:
            promise = row["promise"]
            collector = promise.customer.collector
            yield [
                promise.pk,
                promise.customer.external_ref,
                promise.customer.name,
                collector.get_username() if collector is not None else "",
                promise.promised_date,
                row["state"],
                promise.status,
                promise.currency,
                money(promise.amount),
                promise.created_on,
                promise.note,
            ]

    return csv_response(f"promises-{entity.name}-{_today()}", PROMISE_COLUMNS, rows())


PLAN_COLUMNS = [
    "plan_id",
    "customer_ref",
    "customer_name",
    "starts_on",
    "status",
    "state",
    "installments_paid",
    "installments",
    "next_due_date",
    "currency",
    "next_amount",
]


@login_required
@require_GET
def plan_export(request: HttpRequest) -> StreamingHttpResponse:
    filters, entity, _ = _filters(request)
    found = selectors.plan_queue(user=request.user, filters=filters, today=_today())

    def rows() -> Iterator[list[Any]]:
        for row in found:
            plan, upcoming = row["plan"], row["next"]
            yield [
                plan.pk,
                plan.customer.external_ref,
                plan.customer.name,
                plan.starts_on,
                plan.status,
                row["state"],
                row["paid"],
                row["count"],
                upcoming.due_date if upcoming is not None else None,
                plan.currency,
                money(upcoming.amount) if upcoming is not None else None,
            ]

    return csv_response(f"plans-{entity.name}-{_today()}", PLAN_COLUMNS, rows())

"""CSV downloads of the Customers and Invoices lists: the page's own filters and scoping, every row.

Each list's "Download CSV" link carries the page's query string here; the rows come from the
same selector as the page (``relance.web.selectors``), written by the one CSV helper
(``relance.common.csv_export``: formula-safe, streamed, plain decimals with a currency column)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, StreamingHttpResponse
from django.views.decorators.http import require_GET

from relance.common.csv_export import csv_response, money
from relance.web import selectors as web_selectors
from relance.web.views import customer_filters, entity_and_date, invoice_filters

CHUNK = 2000

CUSTOMER_COLUMNS = [
    "customer_ref",
    "name",
    "segment",
    "collector",
    "payment_terms_days",
    "currency",
    "credit_limit",
    "balance_currency",
    "open_balance",
    "overdue_balance",
    "as_of",
]
INVOICE_COLUMNS = [
    "invoice_ref",
    "customer_ref",
    "customer_name",
    "po_number",
    "issue_date",
    "due_date",
    "days_past_due",
    "currency",
    "amount",
    "open_amount",
    "as_of",
]


@login_required
@require_GET
def customer_export(request: HttpRequest) -> StreamingHttpResponse:
    entity, _, as_of = entity_and_date(request)
    filters = customer_filters(request, as_of)
    customers = web_selectors.customer_list_filtered(user=request.user, entity=entity, filters=filters)

    def rows() -> Iterator[list[Any]]:
        for customer in customers.iterator(chunk_size=CHUNK):
            yield [
                customer.external_ref,
                customer.name,
                customer.segment,
                customer.collector.get_username() if customer.collector else "",
                customer.payment_terms_days,
                customer.currency,
                money(customer.credit_limit),
                filters.currency or customer.currency,
                money(customer.open_balance),
                money(customer.overdue_balance),
                as_of,
            ]

    return csv_response(f"customers-{entity.name}-{as_of}", CUSTOMER_COLUMNS, rows())


@login_required
@require_GET
def invoice_export(request: HttpRequest) -> StreamingHttpResponse:
    entity, _, as_of = entity_and_date(request)
    filters = invoice_filters(request, as_of)
    invoices = web_selectors.invoice_list_filtered(user=request.user, entity=entity, filters=filters)

    def rows() -> Iterator[list[Any]]:
        for invoice in invoices.iterator(chunk_size=CHUNK):
            still_open = invoice.open_amount > 0
            yield [
                invoice.external_ref,
                invoice.customer.external_ref,
                invoice.customer.name,
                invoice.po_number,
                invoice.issue_date,
                invoice.due_date,
                (as_of - invoice.due_date).days if still_open else None,
                invoice.currency,
                money(invoice.amount),
                money(invoice.open_amount),
                as_of,
            ]

    return csv_response(f"invoices-{entity.name}-{as_of}", INVOICE_COLUMNS, rows())

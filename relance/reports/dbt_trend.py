"""Days beyond terms month by month, with the dispute indicators beside it (issue 16, item 6).

DBT has one formula, the KPI engine's (``relance.engine.formulas.days_beyond_terms`` over the
invoices paid in a report's period: docs/kpis.md). A trend point is the DBT of the KPI report as
of that point — the dashboard's 12 points (``trend_dates``: the month-ends of the 11 months before
the as-of date, then the date), each over its trailing 3 calendar months. For the portfolio the
points are the dashboard's own snapshots; for one customer the engine runs on the app tables
narrowed to that customer, so a point equals the customer's row of ``relance kpi --by customer``.

Beside it, the **dispute indicators** (our ledger's "inquiries": a dispute is the customer
questioning an invoice): disputes opened in the point's month (to the point) and disputes open at
the point.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from relance.core.calendar import month_start
from relance.engine.kpi import KpiParams, compute_kpis
from relance.ledger.binding import app_ledger
from relance.ledger.models import Customer, Entity


@dataclass(frozen=True)
class DbtPoint:
    as_of: date
    dbt: float | None  # days; None: nothing paid in the point's period
    invoices_paid: int | None  # the invoices DBT is computed over (None: not known, a missing snapshot)
    disputes_opened: int  # opened in the point's month, up to the point
    disputes_open: int  # open at the end of the point's day


def customer_ledger(customer: Customer) -> tuple[Any, Any]:
    """(backend, the app's ledger tables narrowed to ``customer``): the engine reads one account."""
    ledger = app_ledger()
    tables = ledger.tables
    invoices = tables.invoices.filter(tables.invoices.customer_id == customer.pk)
    narrowed = dataclasses.replace(
        tables,
        invoices=invoices,
        customers=tables.customers.filter(tables.customers.customer_id == customer.pk),
        credit_notes=tables.credit_notes.filter(tables.credit_notes.customer_id == customer.pk),
        payments=tables.payments.filter(tables.payments.customer_id == customer.pk),
        allocations=tables.allocations.filter(tables.allocations.invoice_id.isin(invoices.invoice_id)),
    )
    return ledger.backend, narrowed


def customer_dbt_reports(
    *, customer: Customer, dates: Sequence[date], currency: str | None = None
) -> list[Any]:
    """The KPI engine's report (as JSON) of one customer as of each date (its trailing 3 months)."""
    backend, narrowed = customer_ledger(customer)
    currency = (currency or customer.currency or customer.entity.currency).upper()
    reports = []
    for day in dates:
        params = KpiParams(as_of=day, entity_id=customer.entity_id, currency=currency)
        reports.append(compute_kpis(narrowed, params, backend=backend)[0].to_json())
    return reports


def dispute_indicators(
    *,
    entity: Entity,
    dates: Sequence[date],
    customer: Customer | None = None,
    segment: str | None = None,
    collector: str | None = None,
) -> list[tuple[int, int]]:
    """(disputes opened in the month to the point, disputes open at the point) for each date.

    One query: the disputes of the scope opened by the last date and not resolved before the first."""
    from django.db.models import Q

    from relance.cases.models import Dispute
    from relance.reports.selectors import customer_group_q

    if not dates:
        return []
    first, last = min(dates), max(dates)
    rows = Dispute.objects.filter(entity=entity, opened_on__lte=last).filter(
        Q(resolved_on__isnull=True) | Q(resolved_on__gte=month_start(first))
    )
    if customer is not None:
        rows = rows.filter(customer=customer)
    else:
        rows = rows.filter(customer_group_q(segment, collector))
    disputes = list(rows.order_by().values_list("opened_on", "resolved_on"))
    result = []
    for day in dates:
        start = month_start(day)
        opened = sum(1 for opened_on, _ in disputes if start <= opened_on <= day)
        still_open = sum(
            1
            for opened_on, resolved_on in disputes
            if opened_on <= day and (resolved_on is None or resolved_on > day)
        )
        result.append((opened, still_open))
    return result


def dbt_points(
    dates: Sequence[date], reports: Sequence[Mapping[str, Any]], indicators: Sequence[tuple[int, int]]
) -> list[DbtPoint]:
    """The trend's points from the KPI reports (their ``dbt``) and the dispute indicators."""
    return [
        DbtPoint(
            as_of=day,
            dbt=report.get("dbt"),
            invoices_paid=report.get("invoices_paid_in_period"),
            disputes_opened=opened,
            disputes_open=still_open,
        )
        for day, report, (opened, still_open) in zip(dates, reports, indicators, strict=True)
    ]


def customer_dbt_trend(*, customer: Customer, as_of: date) -> list[DbtPoint]:
    """The customer's DBT and dispute indicators at the dashboard's 12 points ending ``as_of``."""
    from relance.reports.selectors import trend_dates

    dates = trend_dates(as_of)
    reports = customer_dbt_reports(customer=customer, dates=dates)
    return dbt_points(
        dates, reports, dispute_indicators(entity=customer.entity, dates=dates, customer=customer)
    )

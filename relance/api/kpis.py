"""``GET /kpis``: the entity's KPIs as of a date — the same figures as ``relance kpi`` and the
dashboard, from the same snapshots (``relance.reports.selectors.kpi_report_cached``).

A snapshot current for the entity's ledger is returned at once; otherwise the engine runs once
(seconds at millions of invoices) and stores it, so the next call, the dashboard and
``relance kpi snapshot`` reuse it. (No ``from __future__ import annotations``: Ninja reads the hints.)
"""

from datetime import date, datetime
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from relance.api import schemas as s
from relance.api import selectors
from relance.api.params import EntityName
from relance.core.errors import ValidationFailed
from relance.reports.selectors import kpi_report_cached

router = Router(tags=["kpis"])

CURRENCY_INVALID = "currency must be a 3-letter ISO 4217 code, got {currency!r}"
PERIOD_INVALID = "from ({start}) must be on or before as_of ({as_of})"
#: No ledger is this old; the trailing periods of an earlier date would leave the calendar.
EARLIEST_DAY = date(1900, 1, 1)
DAY_TOO_EARLY = "{name}: expected a date from 1900-01-01 on, found {value}"


AsOf = Query(None, description="the date the figures are for (default: today)")
Currency = Query(None, description="ISO 4217 code (default: the entity's currency)")
PeriodStart = Query(
    None, alias="from", description="start of the period (default: the 3 calendar months to as_of)"
)
Segment = Query(None, description="only the customers of this segment")
Collector = Query(None, description="only the customers of this collector (username; empty: none)")


class KpiOut(Schema):
    entity: str
    as_of: date
    ledger_version: int = Field(description="the entity's ledger data version the figures were computed at")
    computed_at: datetime
    seconds: float = Field(description="how long the engine took when it computed them")
    report: dict[str, Any] = Field(
        description="every KPI: AR bridge, aging, DSO, countback DSO, best-possible DSO, ADD, CEI, DBT, "
        "days to pay, turnover (money as decimal strings; docs/kpis.md)"
    )


@router.get(
    "/kpis",
    response={
        200: KpiOut,
        400: s.ErrorOut,
        401: s.ErrorOut,
        403: s.ErrorOut,
        404: s.ErrorOut,
        422: s.ErrorOut,
    },
)
def kpis(
    request: HttpRequest,
    as_of: date | None = AsOf,
    entity: str | None = EntityName,
    currency: str | None = Currency,
    period_start: date | None = PeriodStart,
    segment: str | None = Segment,
    collector: str | None = Collector,
) -> dict[str, Any]:
    """KPIs of one entity, in one currency, as of a date; optionally for one segment or collector."""
    scope = selectors.entity_for_user(user=request.auth, name=entity)  # type: ignore[attr-defined]
    day = as_of or timezone.localdate()
    for name, value in (("as_of", day), ("from", period_start)):
        if value is not None and value < EARLIEST_DAY:  # periods reach back months before it
            raise ValidationFailed(DAY_TOO_EARLY.format(name=name, value=value), code="date_invalid")
    if currency is not None and not (len(currency) == 3 and currency.isalpha()):
        raise ValidationFailed(CURRENCY_INVALID.format(currency=currency), code="currency_invalid")
    if period_start is not None and period_start > day:
        raise ValidationFailed(PERIOD_INVALID.format(start=period_start, as_of=day), code="period_invalid")
    snapshot = kpi_report_cached(
        entity=scope,
        as_of=day,
        period_start=period_start,
        currency=currency,
        segment=segment,
        collector=collector,
    )
    return {
        "entity": scope.name,
        "as_of": day,
        "ledger_version": snapshot.ledger_version,
        "computed_at": snapshot.computed_at,
        "seconds": snapshot.seconds,
        "report": snapshot.payload,
    }

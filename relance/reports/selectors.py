"""Reads for reports: the one definition of "the KPIs of an entity" the dashboard, API and CLI call."""

from __future__ import annotations

from datetime import date

from django.conf import settings

from relance.engine.formulas import DEFAULT_AGING, AgingBuckets, aging_from_bounds
from relance.engine.kpi import KpiParams, KpiReport, compute_kpis
from relance.ledger.models import Entity
from relance.reports.binding import app_ledger


def kpi_report(
    *,
    entity: Entity,
    as_of: date,
    period_start: date | None = None,
    group_by: str | None = None,
    currency: str | None = None,
    aging: AgingBuckets | None = None,
) -> list[KpiReport]:
    """KPIs of ``entity`` as of ``as_of`` on the app database, in one currency.

    The period defaults to the 3 calendar months ending with the month of ``as_of``
    (``Period.trailing_months``); the currency to the entity's. Without ``group_by`` the list
    holds exactly one report; with it, one per customer, segment or collector that has data.
    """
    params = KpiParams(
        as_of=as_of,
        period_start=period_start,
        entity_id=entity.pk,
        currency=(currency or entity.currency).upper(),
        group_by=group_by,
        aging=aging or configured_aging(),
    )
    ledger = app_ledger()
    return compute_kpis(ledger.tables, params, backend=ledger.backend)


def configured_aging() -> AgingBuckets:
    """The aging buckets of this installation: ``RELANCE_AGING_BUCKETS`` (e.g. ``0,30,60,90``)."""
    bounds = getattr(settings, "RELANCE_AGING_BUCKETS", "")
    return aging_from_bounds(bounds) if bounds else DEFAULT_AGING

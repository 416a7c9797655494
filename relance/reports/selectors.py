"""Reads for reports: the one definition of "the KPIs of an entity" the dashboard, API and CLI call.

``kpi_report`` runs the engine. ``kpi_report_cached`` returns the snapshot of the entity's
current ledger version, computing and storing it when missing; ``kpi_dashboard`` is what the
dashboard reads (snapshots only, or live on small ledgers).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import ibis
from django.conf import settings
from django.db.models import Count, DecimalField, Min, Q, Sum
from django.db.models.functions import Coalesce

from relance.core.calendar import add_months, month_end, month_start
from relance.engine.formulas import DEFAULT_AGING, AgingBuckets, aging_from_bounds
from relance.engine.kpi import KpiParams, KpiReport, compute_kpis, invoice_frame
from relance.engine.schema import MONEY_SCALE
from relance.ledger.binding import app_ledger
from relance.ledger.models import Customer, DataChange, Entity, Invoice, Payment, VersionScope
from relance.ledger.selectors import data_versions, not_void_q
from relance.reports.models import KpiSnapshot

DEFAULT_LIVE_LIMIT = 20_000
TOP_OVERDUE = 10
TREND_POINTS = 12


def kpi_report(
    *,
    entity: Entity,
    as_of: date,
    period_start: date | None = None,
    group_by: str | None = None,
    currency: str | None = None,
    aging: AgingBuckets | None = None,
    segment: str | None = None,
    collector: str | None = None,
) -> list[KpiReport]:
    """KPIs of ``entity`` as of ``as_of`` on the app database, in one currency.

    The period defaults to the 3 calendar months ending with the month of ``as_of``
    (``Period.trailing_months``); the currency to the entity's. Without ``group_by`` the list
    holds exactly one report; with it, one per customer, segment or collector that has data.
    ``segment`` / ``collector`` (a username, ``''`` for none) keep only those customers.
    """
    params = _params(
        entity=entity,
        as_of=as_of,
        period_start=period_start,
        group_by=group_by,
        currency=currency,
        aging=aging,
        segment=segment,
        collector=collector,
    )
    ledger = app_ledger()
    return compute_kpis(ledger.tables, params, backend=ledger.backend)


def _params(
    *,
    entity: Entity,
    as_of: date,
    period_start: date | None = None,
    group_by: str | None = None,
    currency: str | None = None,
    aging: AgingBuckets | None = None,
    segment: str | None = None,
    collector: str | None = None,
) -> KpiParams:
    return KpiParams(
        as_of=as_of,
        period_start=period_start,
        entity_id=entity.pk,
        currency=(currency or entity.currency).upper(),
        group_by=group_by,
        aging=aging or configured_aging(),
        segment=segment,
        collector=collector,
    )


def configured_aging() -> AgingBuckets:
    """The aging buckets of this installation: ``RELANCE_AGING_BUCKETS`` (e.g. ``0,30,60,90``)."""
    bounds = getattr(settings, "RELANCE_AGING_BUCKETS", "")
    return aging_from_bounds(bounds) if bounds else DEFAULT_AGING


# --- snapshots --------------------------------------------------------------------------------


def snapshot_key(
    *,
    aging: AgingBuckets | None = None,
    period_start: date | None = None,
    segment: str | None = None,
    collector: str | None = None,
) -> str:
    """What besides entity, currency, date and version a snapshot depends on, as one string.

    The aging buckets go in as a short hash, so changing ``RELANCE_AGING_BUCKETS`` never reads a
    snapshot bucketed the old way."""
    buckets = (aging or configured_aging()).buckets
    spec = ";".join(f"{bucket.label}:{bucket.low}:{bucket.high}" for bucket in buckets)
    parts = [f"aging={hashlib.sha256(spec.encode()).hexdigest()[:10]}"]
    if period_start is not None:
        parts.append(f"from={period_start.isoformat()}")
    if segment is not None:
        parts.append(f"segment={segment}")
    if collector is not None:
        parts.append(f"collector={collector}")
    return "|".join(parts)


def kpi_report_cached(
    *,
    entity: Entity,
    as_of: date,
    period_start: date | None = None,
    currency: str | None = None,
    aging: AgingBuckets | None = None,
    segment: str | None = None,
    collector: str | None = None,
    with_top_overdue: bool = False,
) -> KpiSnapshot:
    """The snapshot of ``kpi_report(…)`` for the entity's current ledger version.

    The version is read *first*: a change committed while the engine runs lands under a newer
    number, so the snapshot stored here is never newer than its version says. Missing → the
    engine runs once and the result is stored (older versions of it are dropped). An older
    snapshot that no change since touched (``ledger_changed_from``) is current too: it is re-keyed
    to this version instead (``kpi_snapshot_current``)."""
    from relance.reports.services import kpi_snapshot_add_dashboard, kpi_snapshot_store

    version = data_versions(entity_id=entity.pk)["ledger"]
    currency = (currency or entity.currency).upper()
    key = snapshot_key(aging=aging, period_start=period_start, segment=segment, collector=collector)
    found = kpi_snapshot_current(entity=entity, currency=currency, as_of=as_of, key=key, version=version)
    if found is not None:
        if with_top_overdue and "top_overdue" not in found.dashboard:
            top = top_overdue_accounts(
                entity=entity, as_of=as_of, currency=currency, segment=segment, collector=collector
            )
            found = kpi_snapshot_add_dashboard(snapshot=found, dashboard={"top_overdue": top})
        return found
    started = time.perf_counter()
    reports = kpi_report(
        entity=entity,
        as_of=as_of,
        period_start=period_start,
        currency=currency,
        aging=aging,
        segment=segment,
        collector=collector,
    )
    seconds = time.perf_counter() - started
    dashboard = collected_and_due(
        entity=entity, as_of=as_of, currency=currency, segment=segment, collector=collector
    )
    if with_top_overdue:
        dashboard["top_overdue"] = top_overdue_accounts(
            entity=entity, as_of=as_of, currency=currency, segment=segment, collector=collector
        )
    return kpi_snapshot_store(
        entity=entity,
        currency=currency,
        as_of=as_of,
        key=key,
        ledger_version=version,
        payload=reports[0].to_json(),
        dashboard=dashboard,
        seconds=seconds,
    )


def kpi_snapshots_grouped(
    *,
    entity: Entity,
    as_of: date,
    group_by: str,
    currency: str | None = None,
    aging: AgingBuckets | None = None,
    with_top_overdue: bool = False,
) -> list[KpiSnapshot]:
    """One engine run grouped by segment or collector, stored as each group's filtered snapshot.

    A report filtered on a segment is that segment's report under ``group_by`` (the engine
    selects the same customers), so one pass fills every value of the dashboard's filter;
    ``with_top_overdue`` adds each group's top overdue accounts (one more pass for all)."""
    from relance.reports.services import kpi_snapshot_store

    version = data_versions(entity_id=entity.pk)["ledger"]
    currency = (currency or entity.currency).upper()
    started = time.perf_counter()
    reports = kpi_report(entity=entity, as_of=as_of, group_by=group_by, currency=currency, aging=aging)
    seconds = time.perf_counter() - started
    tops = (
        top_overdue_by_group(entity=entity, as_of=as_of, currency=currency, group_by=group_by)
        if with_top_overdue
        else None
    )
    stored = []
    for report in reports:
        group = report.group or ""
        segment = group if group_by == "segment" else None
        collector = group if group_by == "collector" else None
        dashboard = collected_and_due(
            entity=entity, as_of=as_of, currency=currency, segment=segment, collector=collector
        )
        if tops is not None:
            dashboard["top_overdue"] = tops.get(group, [])
        stored.append(
            kpi_snapshot_store(
                entity=entity,
                currency=currency,
                as_of=as_of,
                key=snapshot_key(aging=aging, segment=segment, collector=collector),
                ledger_version=version,
                payload=report.to_json(),
                dashboard=dashboard,
                seconds=seconds,
            )
        )
    return stored


def kpi_snapshot_missing(*, entity: Entity, currency: str, as_of: date, key: str) -> bool:
    """Whether the current ledger version has no snapshot for this date and key (an older one
    still valid is re-keyed, and then it is not missing)."""
    version = data_versions(entity_id=entity.pk)["ledger"]
    found = kpi_snapshot_current(
        entity=entity, currency=currency.upper(), as_of=as_of, key=key, version=version
    )
    return found is None


def kpi_snapshots_grouped_missing(*, entity: Entity, currency: str, as_of: date, group_by: str) -> bool:
    """Whether the current ledger version has no snapshot of any ``group_by`` value for this date.

    The groups of the last grouped pass are re-keyed together when no change since touched
    ``as_of`` or earlier."""
    from relance.reports.services import kpi_snapshots_rekey

    version = data_versions(entity_id=entity.pk)["ledger"]
    groups = KpiSnapshot.objects.filter(
        entity=entity,
        currency=currency.upper(),
        as_of=as_of,
        key__startswith=f"{snapshot_key()}|{group_by}=",
        ledger_version__lte=version,
    )
    newest = groups.order_by("-ledger_version").values_list("ledger_version", flat=True).first()
    if newest is None:
        return True
    if newest == version:
        return False
    if as_of >= ledger_changed_from(entity_id=entity.pk, after_version=newest, up_to_version=version):
        return True
    return not kpi_snapshots_rekey(
        snapshots=list(groups.filter(ledger_version=newest)), ledger_version=version
    )


# --- which snapshots a change leaves valid ----------------------------------------------------


def ledger_changed_from(*, entity_id: int, after_version: int, up_to_version: int) -> date:
    """The earliest business date the ledger changes of versions ``after_version + 1`` to
    ``up_to_version`` touched: a snapshot as of a date before it is still right.

    ``date.min`` (every date) when one of them touched every date (``earliest_date`` NULL) or
    when one is not on record (before the refinement, or pruned: missing never means unchanged);
    ``date.max`` when there was no change. One aggregate query."""
    if up_to_version <= after_version:
        return date.max
    found = DataChange.objects.filter(
        entity_id=entity_id,
        scope=VersionScope.LEDGER,
        version__gt=after_version,
        version__lte=up_to_version,
    ).aggregate(
        changes=Count("id"),
        every_date=Count("id", filter=Q(earliest_date__isnull=True)),
        earliest=Min("earliest_date"),
    )
    if found["changes"] != up_to_version - after_version or found["every_date"] or found["earliest"] is None:
        return date.min
    earliest: date = found["earliest"]
    return earliest


def kpi_snapshot_current(
    *, entity: Entity, currency: str, as_of: date, key: str, version: int
) -> KpiSnapshot | None:
    """The snapshot valid at ledger ``version``: the one stored under it, or the newest older one
    when no change since touched ``as_of`` or earlier — re-keyed to ``version`` in place, so the
    next read is a single query again. None: the engine must run."""
    from relance.reports.services import kpi_snapshots_rekey

    found = (
        KpiSnapshot.objects.filter(
            entity=entity, currency=currency, as_of=as_of, key=key, ledger_version__lte=version
        )
        .order_by("-ledger_version")
        .first()
    )
    if found is None or found.ledger_version == version:
        return found
    if as_of >= ledger_changed_from(
        entity_id=entity.pk, after_version=found.ledger_version, up_to_version=version
    ):
        return None
    rekeyed = kpi_snapshots_rekey(snapshots=[found], ledger_version=version)
    return rekeyed[0] if rekeyed else None


def trend_dates(as_of: date, points: int = TREND_POINTS) -> list[date]:
    """The dashboard's trend: the month-ends of the ``points − 1`` months before ``as_of``, then ``as_of``."""
    return [month_end(add_months(as_of, -offset)) for offset in range(points - 1, 0, -1)] + [as_of]


def ledger_is_small(*, entity: Entity, limit: int | None = None) -> bool:
    """At most ``RELANCE_DASHBOARD_LIVE_LIMIT`` invoices: cheap enough to compute on a page load.

    A LIMITed count: it stops after ``limit + 1`` rows, whatever the ledger's size."""
    if limit is None:
        limit = int(getattr(settings, "RELANCE_DASHBOARD_LIVE_LIMIT", DEFAULT_LIVE_LIMIT))
    return Invoice.objects.filter(entity=entity).order_by().values("pk")[: limit + 1].count() <= limit


@dataclass(frozen=True)
class DashboardPoint:
    """The KPIs shown for one date: ``snapshot`` None when never computed; ``stale`` when it is
    from an older ledger version (the ledger changed since ``snapshot.computed_at``)."""

    as_of: date
    snapshot: KpiSnapshot | None
    stale: bool

    @property
    def report(self) -> dict[str, Any]:
        return self.snapshot.report if self.snapshot is not None else {}

    @property
    def dashboard(self) -> dict[str, Any]:
        return self.snapshot.dashboard if self.snapshot is not None else {}


@dataclass(frozen=True)
class DashboardKpis:
    ledger_version: int
    live: bool
    points: list[DashboardPoint] = field(default_factory=list)

    @property
    def head(self) -> DashboardPoint:
        return self.points[-1]

    @property
    def stale(self) -> list[DashboardPoint]:
        return [point for point in self.points if point.stale]

    @property
    def missing(self) -> list[DashboardPoint]:
        return [point for point in self.points if point.snapshot is None]


def kpi_dashboard(
    *,
    entity: Entity,
    as_of: date,
    currency: str,
    segment: str | None = None,
    collector: str | None = None,
    live: bool | None = None,
) -> DashboardKpis:
    """The dashboard's KPIs for ``as_of`` and its 12-point trend, from snapshots.

    ``live`` (default: ``ledger_is_small``) computes what is missing for the current version;
    otherwise a missing date shows its most recent older snapshot, flagged stale, or nothing:
    the page never waits for the engine on a large ledger (``relance kpi snapshot`` fills it).
    One query reads every snapshot of the 12 dates."""
    version = data_versions(entity_id=entity.pk)["ledger"]
    currency = currency.upper()
    key = snapshot_key(segment=segment, collector=collector)
    dates = trend_dates(as_of)
    newest: dict[date, KpiSnapshot] = {}
    for row in KpiSnapshot.objects.filter(
        entity=entity, currency=currency, key=key, as_of__in=dates, ledger_version__lte=version
    ).order_by("as_of", "-ledger_version"):
        newest.setdefault(row.as_of, row)
    _rekey_unchanged(entity=entity, newest=newest, version=version)
    if live is None:
        live = (
            any(newest.get(day) is None or newest[day].ledger_version != version for day in dates)
            or "top_overdue" not in newest[as_of].dashboard
        ) and ledger_is_small(entity=entity)
    points = []
    for day in dates:
        snapshot = newest.get(day)
        wants_top = day == as_of
        current = snapshot is not None and snapshot.ledger_version == version
        lacks_top = wants_top and (snapshot is None or "top_overdue" not in snapshot.dashboard)
        if live and (not current or lacks_top):
            snapshot = kpi_report_cached(
                entity=entity,
                as_of=day,
                currency=currency,
                segment=segment,
                collector=collector,
                with_top_overdue=wants_top,
            )
            current = True
        points.append(
            DashboardPoint(as_of=day, snapshot=snapshot, stale=snapshot is not None and not current)
        )
    return DashboardKpis(ledger_version=version, live=live, points=points)


def _rekey_unchanged(*, entity: Entity, newest: dict[date, KpiSnapshot], version: int) -> None:
    """Re-key (in ``newest`` and stored) the older snapshots no change since touched: one
    aggregate query per distinct older version (usually one: the last ``relance kpi snapshot``)."""
    from relance.reports.services import kpi_snapshots_rekey

    changed_from: dict[int, date] = {}
    valid = []
    for day, snapshot in newest.items():
        if snapshot.ledger_version == version:
            continue
        if snapshot.ledger_version not in changed_from:
            changed_from[snapshot.ledger_version] = ledger_changed_from(
                entity_id=entity.pk, after_version=snapshot.ledger_version, up_to_version=version
            )
        if day < changed_from[snapshot.ledger_version]:
            valid.append(snapshot)
    for snapshot in kpi_snapshots_rekey(snapshots=valid, ledger_version=version):
        newest[snapshot.as_of] = snapshot


# --- the dashboard's other figures ------------------------------------------------------------

_MONEY = DecimalField(max_digits=20, decimal_places=4)


def customer_group_q(segment: str | None, collector: str | None, prefix: str = "customer__") -> Q:
    """The dashboard's segment and collector filters (``''``: none; a collector by username)."""
    q = Q()
    if segment is not None:
        q &= Q(**{f"{prefix}segment": segment})
    if collector is not None:
        q &= (
            Q(**{f"{prefix}collector__isnull": True})
            if collector == ""
            else Q(**{f"{prefix}collector__username": collector})
        )
    return q


def collected_and_due(
    *, entity: Entity, as_of: date, currency: str, segment: str | None = None, collector: str | None = None
) -> dict[str, Any]:
    """As-of's month to date: cash collected (payments dated in it) vs. the amount that fell due
    (non-void invoices due in it, full amount). Money as strings, like the KPI payload."""
    start = month_start(as_of)
    scope = customer_group_q(segment, collector)
    collected = Payment.objects.filter(
        scope, entity=entity, currency=currency, date__gte=start, date__lte=as_of
    ).aggregate(total=Coalesce(Sum("amount"), Decimal(0), output_field=_MONEY))["total"]
    due = Invoice.objects.filter(
        scope, not_void_q(as_of), entity=entity, currency=currency, due_date__gte=start, due_date__lte=as_of
    ).aggregate(total=Coalesce(Sum("amount"), Decimal(0), output_field=_MONEY))["total"]
    places = Decimal("0.01")
    return {
        "month_start": start.isoformat(),
        "collected": str(Decimal(collected).quantize(places)),
        "fell_due": str(Decimal(due).quantize(places)),
    }


def _overdue_per_customer(
    *, entity: Entity, as_of: date, currency: str, segment: str | None = None, collector: str | None = None
) -> tuple[Any, Any]:
    """(backend, table of ``group_key`` = customer ref, ``open_units``, ``overdue_units``) from
    the engine's own per-invoice frame (``invoice_frame``): the aging's definition of open."""
    params = _params(
        entity=entity,
        as_of=as_of,
        currency=currency,
        group_by="customer",
        segment=segment,
        collector=collector,
    )
    ledger = app_ledger()
    frame = invoice_frame(ledger.tables, params, ledger.backend.name)
    open_units = frame.amount_units - frame.allocated_at_end
    overdue = ibis.ifelse(frame.due_date < as_of, open_units, 0)
    per_customer = frame.group_by("group_key").aggregate(
        open_units=open_units.sum().cast("int64"), overdue_units=overdue.sum().cast("int64")
    )
    return ledger, per_customer.filter(per_customer.overdue_units > 0)


def _overdue_rows(entity: Entity, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    customers = {
        customer.external_ref: customer
        for customer in Customer.objects.filter(
            entity=entity, external_ref__in=[row["group_key"] for row in rows]
        )
    }
    places = Decimal("0.01")
    return [
        {
            "customer_id": customer.pk,
            "external_ref": customer.external_ref,
            "name": customer.name,
            "segment": customer.segment,
            "open": str((Decimal(row["open_units"]) / MONEY_SCALE).quantize(places)),
            "overdue": str((Decimal(row["overdue_units"]) / MONEY_SCALE).quantize(places)),
        }
        for row in rows
        if (customer := customers.get(row["group_key"])) is not None
    ]


def top_overdue_accounts(
    *,
    entity: Entity,
    as_of: date,
    currency: str,
    segment: str | None = None,
    collector: str | None = None,
    limit: int = TOP_OVERDUE,
) -> list[dict[str, Any]]:
    """The customers with the most overdue (past due, DPD ≥ 1) open invoices as of ``as_of``,
    in one pass on the database."""
    ledger, overdue = _overdue_per_customer(
        entity=entity, as_of=as_of, currency=currency, segment=segment, collector=collector
    )
    top = overdue.order_by([ibis.desc("overdue_units"), "group_key"]).limit(limit)
    return _overdue_rows(entity, ledger.backend.to_pyarrow(top).to_pylist())


def top_overdue_by_group(
    *, entity: Entity, as_of: date, currency: str, group_by: str, limit: int = TOP_OVERDUE
) -> dict[str, list[dict[str, Any]]]:
    """``top_overdue_accounts`` of every segment (collector) at once: one pass, ranked per group."""
    ledger, overdue = _overdue_per_customer(entity=entity, as_of=as_of, currency=currency)
    customers = ledger.tables.customers
    customers = customers.filter(customers.entity_id == entity.pk).select(
        _ref=customers.external_ref, group_value=customers[group_by].cast("string").fill_null("")
    )
    joined = overdue.join(customers, overdue.group_key == customers._ref)
    ranked = joined.mutate(
        rank=ibis.row_number().over(
            group_by=joined.group_value, order_by=[ibis.desc(joined.overdue_units), joined.group_key]
        )
    )
    top = ranked.filter(ranked["rank"] < limit)
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(
        ledger.backend.to_pyarrow(top).to_pylist(), key=lambda row: (row["group_value"], row["rank"])
    ):
        grouped.setdefault(row["group_value"], []).append(row)
    return {group: _overdue_rows(entity, rows) for group, rows in grouped.items()}


def dashboard_case_counts(
    *, entity: Entity, as_of: date, segment: str | None = None, collector: str | None = None
) -> dict[str, int]:
    """Open promises due on ``as_of`` and open disputes past their SLA (``dispute_sla_due_on``)."""
    from relance.cases.models import Dispute, Promise, PromiseStatus
    from relance.portal.selectors import disputes_past_sla

    scope = customer_group_q(segment, collector)
    return {
        "promises_due": Promise.objects.filter(entity=entity, status=PromiseStatus.OPEN)
        .filter(scope, promised_date=as_of)
        .count(),
        "disputes_past_sla": disputes_past_sla(
            disputes=Dispute.objects.filter(entity=entity).filter(scope), entity=entity, as_of=as_of
        ).count(),
    }


def dashboard_currencies(*, entity: Entity, as_of: date, live: bool) -> list[str]:
    """The currencies the dashboard offers: those with invoices by ``as_of`` on a small ledger;
    on a large one those with snapshots (``relance kpi snapshot`` fills every currency in use),
    so the page never scans the invoices."""
    if live:
        from relance.ledger.selectors import currencies_in_use

        codes = currencies_in_use(entity=entity, as_of=as_of)
    else:
        codes = set(
            KpiSnapshot.objects.filter(entity=entity, as_of=as_of)
            .values_list("currency", flat=True)
            .distinct()
        )
    return sorted(codes | {entity.currency.upper()})


def dashboard_filter_choices(*, entity: Entity) -> dict[str, list[str]]:
    """The segments and collectors (usernames) of the entity's customers, for the filters."""
    customers = Customer.objects.filter(entity=entity)
    segments = customers.exclude(segment="").values_list("segment", flat=True).distinct().order_by("segment")
    collectors = (
        customers.filter(collector__isnull=False)
        .values_list("collector__username", flat=True)
        .distinct()
        .order_by("collector__username")
    )
    return {"segments": list(segments), "collectors": list(collectors)}

"""Writes for reports: storing KPI snapshots (one per entity, currency, date, filters and ledger version)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from relance.ledger.models import Entity
from relance.reports.models import KpiSnapshot


def kpi_snapshot_store(
    *,
    entity: Entity,
    currency: str,
    as_of: date,
    key: str,
    ledger_version: int,
    payload: dict[str, Any],
    dashboard: dict[str, Any],
    seconds: float,
) -> KpiSnapshot:
    """Store (or refresh) the snapshot of this version and drop the older versions it replaces.

    Two writers computing the same snapshot at once both succeed: the second one updates the
    first one's row (the numbers are the same, both read the same version)."""
    fields: dict[str, Any] = {
        "computed_at": timezone.now(),
        "seconds": seconds,
        "payload": payload,
        "dashboard": dashboard,
    }
    identity: dict[str, Any] = {
        "entity": entity,
        "currency": currency,
        "as_of": as_of,
        "key": key,
        "ledger_version": ledger_version,
    }
    try:
        with transaction.atomic():
            snapshot, _created = KpiSnapshot.objects.update_or_create(defaults=fields, **identity)
    except IntegrityError:  # created concurrently between the lookup and the insert
        KpiSnapshot.objects.filter(**identity).update(**fields)
        snapshot = KpiSnapshot.objects.get(**identity)
    KpiSnapshot.objects.filter(
        entity=entity, currency=currency, as_of=as_of, key=key, ledger_version__lt=ledger_version
    ).delete()
    return snapshot


def kpi_snapshot_add_dashboard(*, snapshot: KpiSnapshot, dashboard: dict[str, Any]) -> KpiSnapshot:
    """Merge extra dashboard figures (the top overdue accounts) into a stored snapshot."""
    snapshot.dashboard = {**snapshot.dashboard, **dashboard}
    KpiSnapshot.objects.filter(pk=snapshot.pk).update(dashboard=snapshot.dashboard)
    return snapshot

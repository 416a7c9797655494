"""Writes for reports: storing KPI snapshots (one per entity, currency, date, filters and ledger version)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Min
from django.utils import timezone

from relance.ledger.models import Entity
from relance.ledger.selectors import data_versions
from relance.ledger.services import data_change_prune
from relance.reports.models import KpiSnapshot

# Changes older than this are dropped even when an old snapshot could still use them: a
# snapshot that would need one is recomputed (a missing change never counts as "unchanged").
DATA_CHANGES_KEPT_DAYS = 90


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


def kpi_snapshots_rekey(*, snapshots: list[KpiSnapshot], ledger_version: int) -> list[KpiSnapshot]:
    """Move still-valid older snapshots to ``ledger_version`` in place (the numbers, ``computed_at``
    and ``seconds`` stay those of the run that computed them) and return them.

    One that another writer stored or re-keyed under ``ledger_version`` meanwhile is returned as
    that row; one deleted meanwhile (replaced by a newer store) is left out."""
    rekeyed: list[KpiSnapshot] = []
    for snapshot in snapshots:
        identity: dict[str, Any] = {
            "entity_id": snapshot.entity_id,
            "currency": snapshot.currency,
            "as_of": snapshot.as_of,
            "key": snapshot.key,
            "ledger_version": ledger_version,
        }
        try:
            with transaction.atomic():
                moved = KpiSnapshot.objects.filter(pk=snapshot.pk, ledger_version__lt=ledger_version).update(
                    ledger_version=ledger_version
                )
        except IntegrityError:  # the same date and key exist under this version already
            moved = 0
        if moved:
            snapshot.ledger_version = ledger_version
            rekeyed.append(snapshot)
            continue
        current = KpiSnapshot.objects.filter(**identity).first()
        if current is not None:
            rekeyed.append(current)
    return rekeyed


def kpi_data_changes_prune(*, entity: Entity) -> int:
    """Drop the entity's ledger changes (``DataChange``) no stored snapshot can still use: up to
    the oldest snapshot's version (or the current one when there is none), and any older than
    ``DATA_CHANGES_KEPT_DAYS``. ``relance kpi snapshot`` runs it; returns how many went."""
    version = data_versions(entity_id=entity.pk)["ledger"]
    oldest = KpiSnapshot.objects.filter(entity=entity).aggregate(oldest=Min("ledger_version"))["oldest"]
    return data_change_prune(
        entity_id=entity.pk,
        up_to_version=version if oldest is None else min(oldest, version),
        older_than=timezone.now() - timedelta(days=DATA_CHANGES_KEPT_DAYS),
    )

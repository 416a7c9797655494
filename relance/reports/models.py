"""KPI snapshots: the engine's report for one entity, currency, date and filter, kept per ledger version."""

from __future__ import annotations

from typing import Any

from django.db import models

from relance.ledger.models import Entity


class KpiSnapshot(models.Model):
    """``KpiReport.to_json()`` as computed when the entity's ledger was at ``ledger_version``.

    A snapshot is valid exactly while ``data_versions(entity_id=…)["ledger"]`` still equals its
    ``ledger_version`` (see docs/adr/0006-kpi-snapshots-keyed-by-data-version.md). An older one is
    kept until a newer one for the same date and filters replaces it, so the dashboard can show
    it, marked stale, while the new one is being computed.
    """

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+")
    currency = models.CharField(max_length=3)
    as_of = models.DateField()
    key = models.CharField(max_length=200, help_text="filters and aging buckets, e.g. 'segment=retail'")
    ledger_version = models.BigIntegerField()
    computed_at = models.DateTimeField()
    seconds = models.FloatField(help_text="how long the engine took")
    payload = models.JSONField(help_text="KpiReport.to_json()")
    dashboard = models.JSONField(
        default=dict, blank=True, help_text="the dashboard's extra figures (collected vs. due, top overdue)"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["entity", "currency", "as_of", "key", "ledger_version"],
                name="reports_kpisnapshot_unique",
            )
        ]
        indexes = [models.Index(fields=["entity", "currency", "key", "as_of", "-ledger_version"])]

    def __str__(self) -> str:
        return f"{self.entity_id}/{self.currency}/{self.as_of}/{self.key or '-'}@{self.ledger_version}"

    def is_current(self, ledger_version: int) -> bool:
        return self.ledger_version == ledger_version

    @property
    def report(self) -> dict[str, Any]:
        return dict(self.payload)

"""Per-entity connector settings, their cursors and what was pushed back.

No credential is stored in plain text: API keys come from environment variables named by
``credentials_env`` (``RELANCE_ODOO`` → ``RELANCE_ODOO_API_KEY``…), and the one secret that must be
written back — an OAuth refresh token, which QuickBooks rotates — is stored encrypted
(``token_ciphertext``, Fernet keyed by ``RELANCE_CONNECTOR_KEY``; ADR 0028).
"""

from __future__ import annotations

from django.db import models

from relance.common.models import BaseModel
from relance.ledger.models import Entity


class ConnectorSource(models.TextChoices):
    ODOO = "odoo", "Odoo (JSON-RPC)"
    ERPNEXT = "erpnext", "ERPNext / Frappe (REST)"
    QUICKBOOKS = "quickbooks", "QuickBooks Online (OAuth 2.0)"


class Connector(BaseModel):
    """One ERP an entity syncs with: where it is, which options, the cursor of each stream."""

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="connectors")
    source = models.CharField(max_length=16, choices=ConnectorSource.choices)
    url = models.URLField(max_length=500, help_text="The ERP's base URL (QuickBooks: the API host)")
    options = models.JSONField(
        default=dict,
        blank=True,
        help_text="Non-secret settings: Odoo database and journal_id, ERPNext company, QuickBooks realm_id…",
    )
    credentials_env = models.CharField(
        max_length=64,
        help_text="Prefix of the environment variables holding the credentials (RELANCE_ODOO → RELANCE_ODOO_API_KEY)",
    )
    cursors = models.JSONField(
        default=dict, blank=True, help_text="Per stream, the ERP timestamp pulled up to"
    )
    push_enabled = models.BooleanField(default=True)
    push_since = models.DateTimeField(
        null=True, blank=True, help_text="Only changes made in Relance from this instant on are pushed"
    )
    interval_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Scheduled sync by the worker every N minutes; empty = manual only"
    )
    next_sync_at = models.DateTimeField(null=True, blank=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_result = models.JSONField(default=dict, blank=True)
    token_ciphertext = models.TextField(blank=True, help_text="Encrypted OAuth tokens (never plain text)")

    class Meta:
        ordering = ["entity", "source"]
        constraints = [
            models.UniqueConstraint(fields=["entity", "source"], name="connector_source_unique_per_entity")
        ]

    def __str__(self) -> str:
        return f"{self.source} for {self.entity_id}"


class PushedChange(BaseModel):
    """A change pushed to the ERP: pushed again only when its fingerprint changes (idempotent)."""

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="pushed")
    key = models.CharField(max_length=100, help_text="kind:id, e.g. hold:12 or payment:<payment_ref>")
    fingerprint = models.CharField(max_length=64)
    external_id = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["connector", "key"]
        constraints = [models.UniqueConstraint(fields=["connector", "key"], name="pushed_change_unique_key")]

    def __str__(self) -> str:
        return f"{self.key} → {self.external_id}"

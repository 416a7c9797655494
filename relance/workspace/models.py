"""What the workspace keeps of its own: notes, worklist snoozes, saved views and dispute owners.

Everything else (promises, disputes, contacts, messages) lives in the apps that own it; the
workspace only reads them and writes through their services.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from relance.cases.models import Dispute
from relance.ledger.models import Customer, Entity


class CustomerNote(models.Model):
    """A free-text note a collector leaves on an account (shown in the customer's timeline)."""

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="workspace_notes")
    text = models.TextField()
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)  # for the API's updated_since (issue 18)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "created_at"])]

    def __str__(self) -> str:
        return f"note on {self.customer_id} at {self.created_at:%Y-%m-%d %H:%M}"


class WorklistSnooze(models.Model):
    """A user hides a customer from *their* worklist until a date (inclusive: back the day after)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    until = models.DateField(help_text="Last day the customer stays hidden")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)  # a second snooze moves ``until`` (API sync)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "customer"], name="workspace_snooze_once")]

    def __str__(self) -> str:
        return f"{self.customer_id} snoozed by {self.user_id} until {self.until}"


class DisputeAssignment(models.Model):
    """Who owns a dispute (``Dispute`` has no owner field of its own)."""

    dispute = models.OneToOneField(Dispute, on_delete=models.CASCADE, related_name="workspace_assignment")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    assigned_at = models.DateTimeField()
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"dispute {self.dispute_id} → {self.owner_id}"


class DisputeComment(models.Model):
    """An internal comment on a dispute (never shown to the customer)."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="workspace_comments")
    text = models.TextField()
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"comment on dispute {self.dispute_id} at {self.created_at:%Y-%m-%d %H:%M}"


class SavedView(models.Model):
    """A user's named filters and sort of a workspace list ("My 90+ EUR"), per entity.

    ``params`` holds only the page's whitelisted query parameters, checked again on save
    (``relance.workspace.saved_views``), never a query string as typed."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+")
    page = models.CharField(max_length=20, default="worklist")
    name = models.CharField(max_length=80)
    params = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "entity", "page", "name"], name="workspace_saved_view_name_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.page} view {self.name!r} of {self.user_id}"

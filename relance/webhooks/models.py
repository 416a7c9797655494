"""Endpoints, one delivery per (endpoint, event), and the log of every attempt."""

from __future__ import annotations

from django.db import models

from relance.common.models import BaseModel


class WebhookEndpoint(BaseModel):
    """A URL that receives the events of some types (all when ``event_types`` is empty).

    ``entity`` null: every entity's events (created by an admin). ``secret`` signs; during a
    rotation the ``previous_secret`` signs too until ``previous_secret_until`` (both signatures sent).
    """

    entity = models.ForeignKey(
        "ledger.Entity", on_delete=models.CASCADE, null=True, blank=True, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=300, blank=True, default="")
    event_types = models.JSONField(default=list, blank=True)
    active = models.BooleanField(default=True)
    secret = models.CharField(max_length=200)
    previous_secret = models.CharField(max_length=200, blank=True, default="")
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    max_in_flight = models.PositiveSmallIntegerField(default=10)
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "pending"
    SENDING = "sending", "sending"
    DELIVERED = "delivered", "delivered"
    FAILED = "failed", "failed (gave up)"


#: A delivery still to be made: it holds back its customer's later events at its endpoint.
OPEN_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)


class WebhookDelivery(models.Model):
    """One event to one endpoint: retried with backoff until delivered or given up (3 days)."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey("events.Event", on_delete=models.CASCADE, related_name="webhook_deliveries")
    ordering_key = models.CharField(max_length=60, blank=True, default="")
    status = models.CharField(max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=120, blank=True, default="")
    lease_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("id",)
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="webhooks_one_delivery_per_event"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at", "event"],
                condition=models.Q(status="pending"),
                name="webhooks_due",
            ),
            models.Index(fields=["endpoint", "ordering_key", "status", "event"], name="webhooks_order"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} of event {self.event_id} to endpoint {self.endpoint_id}"


class WebhookAttempt(models.Model):
    """The delivery log: one row per attempt (status code, latency, error)."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    attempt = models.PositiveIntegerField()
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    worker = models.CharField(max_length=120, blank=True, default="")

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"attempt {self.attempt} of delivery {self.delivery_id}"

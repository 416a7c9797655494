"""The outbox: every message is a row before anything is sent, and the record of what happened to it.

A message is rendered once, when queued (``relance.comms``), and delivered by a channel backend
(``relance.delivery.channels``). Its ``idempotency_key`` (run, customer, step, channel — or the caller's
own key for messages outside runs) makes queueing it twice impossible; its ``message_id`` is random,
made once when queued, so that a provider or mail server sees the same Message-ID on every attempt
and nobody can guess it to forge a tracking event.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models

from relance.common.models import BaseModel
from relance.ledger.models import Contact, Customer, Entity


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent (accepted by the provider)"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    BOUNCED = "bounced", "Bounced"
    UNCERTAIN = "uncertain", "Uncertain (the worker stopped while sending; not resent automatically)"
    BLOCKED = "blocked", "Blocked by a compliance rule"
    CANCELLED = "cancelled", "Cancelled"


#: States a worker may pick up.
SENDABLE = (MessageStatus.QUEUED,)
#: States a person can retry (after fixing the contact, or after checking an uncertain send).
RETRYABLE = (MessageStatus.FAILED, MessageStatus.BOUNCED, MessageStatus.UNCERTAIN, MessageStatus.BLOCKED)


class OutboundMessage(BaseModel):
    """One message to one recipient on one channel, from queued to delivered (or why not)."""

    idempotency_key = models.CharField(max_length=200, unique=True)
    message_id = models.CharField(max_length=200, help_text="RFC 5322 Message-ID, stable per key")
    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="outbound_messages")
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="outbound_messages"
    )
    run = models.ForeignKey(
        "dunning.DunningRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
    )
    action = models.ForeignKey(
        "dunning.DunningAction", on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
    )
    fallback_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="fallbacks",
        help_text="The message on another channel this one replaces (e.g. after a hard bounce)",
    )
    channel = models.CharField(max_length=10)
    template_key = models.CharField(max_length=64)
    language = models.CharField(max_length=16)
    recipient = models.TextField(help_text="Email address, E.164 number, postal address or collector")
    subject = models.CharField(max_length=300, blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    links = models.JSONField(default=dict, blank=True)
    rf_reference = models.CharField(max_length=25, blank=True)
    amount_due = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)

    status = models.CharField(
        max_length=10, choices=MessageStatus.choices, default=MessageStatus.QUEUED, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(help_text="Not before this instant (retry backoff, send window)")
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    provider = models.CharField(max_length=40, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True, db_index=True)
    queued_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-queued_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outbox_due"),
            models.Index(fields=["entity", "customer", "queued_at"], name="outbox_customer"),
        ]

    @property
    def amount(self) -> Decimal | None:
        return self.amount_due

    def __str__(self) -> str:
        return f"{self.channel} {self.template_key} → {self.recipient[:60]} ({self.status})"


class MessageAttachment(models.Model):
    """A file sent with (or, for letters, forming) a message: stored so it can be downloaded later."""

    message = models.ForeignKey(OutboundMessage, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    file = models.FileField(upload_to="outbox/%Y/%m/")
    size = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["message", "id"]

    def __str__(self) -> str:
        return self.filename


class DeliveryEventKind(models.TextChoices):
    QUEUED = "queued", "Queued"
    ATTEMPT = "attempt", "Send attempt"
    SENT = "sent", "Accepted by the provider"
    DELIVERED = "delivered", "Delivered"
    DEFERRED = "deferred", "Deferred (send window, rate limit, compliance)"
    FAILED = "failed", "Attempt failed"
    BOUNCED = "bounced", "Bounced"
    COMPLAINED = "complained", "Marked as spam"
    OPENED = "opened", "Opened"
    CLICKED = "clicked", "Link clicked"
    UNSUBSCRIBED = "unsubscribed", "Opted out"
    RETRIED = "retried", "Retried by a person"
    UNCERTAIN = "uncertain", "Worker stopped while sending"
    BLOCKED = "blocked", "Blocked by a compliance rule"
    CANCELLED = "cancelled", "Cancelled (by a person, or no longer true when it was to leave)"
    RERENDERED = "rerendered", "Rendered again with today's amount"


class DeliveryEvent(models.Model):
    """Something that happened to a message: our attempts and the provider's tracking events."""

    message = models.ForeignKey(OutboundMessage, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=12, choices=DeliveryEventKind.choices)
    at = models.DateTimeField()
    detail = models.JSONField(default=dict, blank=True)
    provider_event_id = models.CharField(
        max_length=200, null=True, blank=True, unique=True, help_text="Deduplicates webhook retries"
    )

    class Meta:
        ordering = ["message", "at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} at {self.at:%Y-%m-%d %H:%M}"


class CallTaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class CallTask(BaseModel):
    """A call a collector should make, with the talking script rendered from the step's template."""

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="call_tasks")
    contact = models.ForeignKey(Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    message = models.OneToOneField(
        OutboundMessage, on_delete=models.SET_NULL, null=True, blank=True, related_name="call_task"
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="call_tasks"
    )
    due_on = models.DateField()
    phone = models.CharField(max_length=20, blank=True)
    script = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=CallTaskStatus.choices, default=CallTaskStatus.OPEN)
    outcome = models.CharField(max_length=32, blank=True)
    outcome_note = models.TextField(blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_on", "id"]
        indexes = [models.Index(fields=["entity", "status", "due_on"], name="call_task_open")]

    def __str__(self) -> str:
        return f"call {self.customer.external_ref} on {self.due_on} ({self.status})"

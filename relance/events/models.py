"""The event table: one row per domain event, written by ``relance.events.services.emit``."""

from __future__ import annotations

from django.db import models


class Event(models.Model):
    """Something that happened to an entity's ledger or cases, as its webhook payload.

    ``uid`` is the event's public id (the ``webhook-id`` header of every delivery and retry);
    ``ordering_key`` groups the events whose order a receiver must see (one customer's); the
    entity and customer are string references (this app sits below ``ledger``: no import of it).
    """

    uid = models.CharField(max_length=40, unique=True)
    type = models.CharField(max_length=60, db_index=True)
    version = models.PositiveSmallIntegerField(default=1)
    entity = models.ForeignKey("ledger.Entity", on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(
        "ledger.Customer", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ordering_key = models.CharField(max_length=60, blank=True, default="")
    occurred_at = models.DateTimeField(db_index=True)
    data = models.JSONField(default=dict)
    # False until the webhook dispatcher has matched it to the endpoints that want it.
    dispatched = models.BooleanField(default=False)

    class Meta:
        ordering = ("id",)
        indexes = [
            models.Index(fields=["id"], condition=models.Q(dispatched=False), name="events_undispatched"),
            models.Index(fields=["entity", "occurred_at"], name="events_entity_time"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.uid}"

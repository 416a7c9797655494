"""Compliance settings per entity, and the record of every contact preference change.

The rules themselves are pure functions (``relance.compliance.rules``); these rows hold their
parameters and the evidence of opt-outs (who, which channel, when, how) that GDPR and Reg F ask a
collector to keep.
"""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from relance.common.models import BaseModel
from relance.core.channels import DELIVERY_CHANNELS
from relance.ledger.models import Contact, Entity


def default_weekdays() -> list[int]:
    return [0, 1, 2, 3, 4]


def default_quiet_channels() -> list[str]:
    return ["sms", "call"]


def default_window_channels() -> list[str]:
    return ["email", "sms", "call"]


CHANNELS = DELIVERY_CHANNELS


def quiet_hours_start_default() -> time:
    """08:00. A callable, not ``time(8)``: Django's check warns of a fixed time default when it runs
    within seconds of that time of day (``fields.W161``), which failed `check --deploy` at 08:00."""
    return time(8)


def quiet_hours_end_default() -> time:
    return time(20)


class ComplianceSettings(BaseModel):
    """An entity's contact rules. Without a row, the defaults of the fields apply."""

    entity = models.OneToOneField(Entity, on_delete=models.CASCADE, related_name="compliance_settings")
    contact_cap = models.PositiveIntegerField(
        null=True,
        blank=True,
        default=3,
        help_text="Most dunning messages to one contact per window (empty: no cap)",
    )
    contact_cap_days = models.PositiveIntegerField(
        default=7, help_text="Rolling window of the contact cap, in days"
    )
    customer_cap = models.PositiveIntegerField(
        null=True,
        blank=True,
        default=5,
        help_text="Most dunning messages to one customer per window (empty: no cap)",
    )
    customer_cap_days = models.PositiveIntegerField(
        default=7, help_text="Rolling window of the customer cap, in days"
    )
    quiet_hours_start = models.TimeField(
        default=quiet_hours_start_default, help_text="Sending allowed from (recipient's local time)"
    )
    quiet_hours_end = models.TimeField(
        default=quiet_hours_end_default, help_text="Sending allowed until (exclusive)"
    )
    allowed_weekdays = models.JSONField(default=default_weekdays, help_text="0 = Monday … 6 = Sunday")
    quiet_hours_channels = models.JSONField(
        default=default_quiet_channels, blank=True, help_text="Channels the quiet hours apply to"
    )
    skip_public_holidays = models.BooleanField(
        default=False, help_text="No email, SMS or call on the recipient country's public holidays"
    )
    holiday_country = models.CharField(
        max_length=2,
        blank=True,
        help_text="Country whose holidays count (default: the customer's, else the entity's)",
    )
    policy_window_channels = models.JSONField(
        default=default_window_channels, blank=True, help_text="Channels the policy's send window applies to"
    )
    consumer_rules = models.BooleanField(
        default=False,
        help_text="Consumer-debt pack (Reg F): 7 calls in 7 days, no call for 7 days after a conversation, "
        "08:00–21:00 local for calls, SMS and email",
    )
    massachusetts = models.BooleanField(
        default=False, help_text="With the consumer pack: at most 2 calls per 7 days"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "compliance settings"
        verbose_name_plural = "compliance settings"

    def clean(self) -> None:
        problems = {}
        if self.quiet_hours_start >= self.quiet_hours_end:
            problems["quiet_hours_end"] = "must be after the start"
        weekdays = self.allowed_weekdays
        if not isinstance(weekdays, list) or not weekdays or not all(d in range(7) for d in weekdays):
            problems["allowed_weekdays"] = "expected a non-empty list of days 0 (Monday) to 6 (Sunday)"
        for name in ("quiet_hours_channels", "policy_window_channels"):
            value = getattr(self, name)
            if not isinstance(value, list) or not all(c in CHANNELS for c in value):
                problems[name] = f"expected a list of channels among {', '.join(CHANNELS)}"
        if problems:
            raise ValidationError(problems)

    def __str__(self) -> str:
        return f"compliance settings of {self.entity}"


class PreferenceSource(models.TextChoices):
    LINK = "link", "Opt-out link"
    ONE_CLICK = "one_click", "One-click unsubscribe (RFC 8058)"
    SMS_STOP = "sms_stop", "SMS keyword (STOP…)"
    SMS_START = "sms_start", "SMS keyword (START…)"
    ADMIN = "admin", "Changed by a user"
    API = "api", "API"
    PROVIDER = "provider", "Provider complaint/unsubscribe event"


class PreferenceChannel(models.TextChoices):
    """The channels a contact may opt out of (relance.core.channels' OPT_OUT_CHANNELS; the flag of
    each is ``core.channels.opt_out_field``)."""

    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    LETTER = "letter", "Letter"
    CALL = "call", "Phone call"


class ContactPreferenceEvent(models.Model):
    """One change of a contact's preference for a channel: the evidence behind ``opt_out_*``."""

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="preference_events")
    channel = models.CharField(max_length=10, choices=PreferenceChannel.choices)
    address = models.CharField(max_length=254, blank=True, help_text="The email address or number concerned")
    opted_out = models.BooleanField()
    at = models.DateTimeField()
    source = models.CharField(max_length=10, choices=PreferenceSource.choices)
    detail = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["contact", "-at", "-id"]
        indexes = [models.Index(fields=["entity", "at"], name="preference_event_at")]

    def __str__(self) -> str:
        what = "opted out of" if self.opted_out else "opted in to"
        return f"{self.contact} {what} {self.channel} ({self.source}) at {self.at:%Y-%m-%d %H:%M}"

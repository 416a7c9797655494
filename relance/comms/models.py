"""Message templates: per entity, template key, channel and language; shipped defaults fill the gaps."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from relance.common.models import BaseModel
from relance.ledger import validators
from relance.ledger.models import Entity


class TemplateChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    LETTER = "letter", "Letter (PDF)"
    CALL = "call", "Call script"
    PORTAL = "portal", "Portal notification"


class MessageTemplate(BaseModel):
    """An entity's own wording of a message; without one, the shipped default for the key is used."""

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="message_templates")
    key = models.CharField(max_length=64, help_text="Template key named by a policy step, e.g. overdue_firm")
    channel = models.CharField(max_length=10, choices=TemplateChannel.choices, default=TemplateChannel.EMAIL)
    language = models.CharField(max_length=16, validators=[validators.validate_language])
    subject = models.CharField(max_length=300, blank=True)
    body_text = models.TextField(help_text="Plain-text body (Jinja2, sandboxed)")
    body_html = models.TextField(blank=True, help_text="HTML body (Jinja2, sandboxed, autoescaped)")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["entity", "key", "channel", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["entity", "key", "channel", "language"], name="message_template_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.key} [{self.channel}, {self.language}] of {self.entity}"


class TemplateVersionKind(models.TextChoices):
    SAVED = "saved", "Saved"
    REVERTED = "reverted", "Reverted to an earlier version"
    SHIPPED = "shipped", "Back to the shipped version"


class MessageTemplateVersion(BaseModel):
    """One wording an entity gave a template, kept for good: the Templates page lists them with a
    diff against the one before and can revert to any. Keyed by (entity, key, channel, language),
    not by the ``MessageTemplate`` row, because going back to the shipped version deletes that row
    and the history must outlive it. A ``shipped`` version has no wording: from then on the
    shipped default was used."""

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="message_template_versions")
    key = models.CharField(max_length=64)
    channel = models.CharField(max_length=10, choices=TemplateChannel.choices)
    language = models.CharField(max_length=16)
    number = models.PositiveIntegerField(help_text="1, 2, 3… per (entity, key, channel, language)")
    kind = models.CharField(
        max_length=10, choices=TemplateVersionKind.choices, default=TemplateVersionKind.SAVED
    )
    subject = models.CharField(max_length=300, blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    reverted_from = models.PositiveIntegerField(
        null=True, blank=True, help_text="The number of the version this one restored"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["entity", "key", "channel", "language", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["entity", "key", "channel", "language", "number"],
                name="message_template_version_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.key} [{self.channel}, {self.language}] version {self.number} of {self.entity}"


class BrokenTemplatePolicy(models.TextChoices):
    FAIL = "fail", "Fail the message (it is queued as failed, with the error)"
    SHIPPED_DEFAULT = "shipped_default", "Use the shipped default template instead"


class CommsSettings(BaseModel):
    """An entity's choices about its messages that are not wording."""

    entity = models.OneToOneField(Entity, on_delete=models.CASCADE, related_name="comms_settings")
    on_broken_template = models.CharField(
        max_length=20,
        choices=BrokenTemplatePolicy.choices,
        default=BrokenTemplatePolicy.FAIL,
        help_text="What queueing does with a message whose stored template fails to render",
    )

    class Meta:
        verbose_name = "communication settings"
        verbose_name_plural = "communication settings"

    def __str__(self) -> str:
        return f"communication settings of {self.entity}"

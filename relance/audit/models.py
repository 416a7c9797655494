"""The audit trail: who did what, when, from where, to which object, with the values before and after."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditAction(models.TextChoices):
    CREATE = "create", "Created"
    UPDATE = "update", "Changed"
    DELETE = "delete", "Deleted"
    IMPORT = "import", "Imported"
    EXPORT = "export", "Exported"
    LOGIN = "login", "Signed in"
    LOGIN_FAILED = "login_failed", "Failed sign-in"
    LOGIN_LOCKED = "login_locked", "Sign-in refused (locked)"
    LOGOUT = "logout", "Signed out"
    SESSION_EXPIRED = "session_expired", "Session expired"
    TOTP_ENROLLED = "totp_enrolled", "Second factor set up"
    TOTP_RESET = "totp_reset", "Second factor removed"
    RECOVERY_CODE_USED = "recovery_code_used", "Recovery code used"
    RECOVERY_CODES_REGENERATED = "recovery_codes_regenerated", "Recovery codes renewed"
    ROLE_CHANGED = "role_changed", "Role changed"


class AuditEvent(models.Model):
    """One change or action. Never edited: events are only added (and pruned by age, if ever).

    The actor is a user, an API token (and its user), or a label for anything else
    (``portal link 42``, ``cli:alice``, ``system``). ``before``/``after`` hold only the fields that
    changed (all of them on create and delete), as JSON-ready values.
    """

    at = models.DateTimeField(db_index=True)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_token = models.ForeignKey(
        "api.ApiToken", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(
        max_length=200, blank=True, help_text="Who, in words (kept after deletion)"
    )
    action = models.CharField(max_length=32, db_index=True)
    object_type = models.CharField(max_length=100, blank=True, db_index=True, help_text="app_label.model")
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    entity = models.ForeignKey(
        "ledger.Entity",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            models.Index(fields=["entity", "at"]),
            models.Index(fields=["actor_user", "at"]),
        ]

    def __str__(self) -> str:
        target = f" {self.object_type}#{self.object_id}" if self.object_type else ""
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action}{target}"

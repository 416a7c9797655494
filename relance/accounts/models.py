"""What the accounts app keeps: entity grants, TOTP second factors and their one-time recovery codes.

Roles are Django groups (see ``roles.py``); entity grants are ``EntityAccess`` rows (who sees what).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class EntityAccess(models.Model):
    """A user may see (and write to) an entity. Superusers and the roles that see every entity
    need no row here (``relance.accounts.selectors.entities_for_user``).

    Its table keeps the name it had in the api app (``api_entityaccess``), where it began.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="entity_access")
    entity = models.ForeignKey("ledger.Entity", on_delete=models.CASCADE, related_name="access")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "api_entityaccess"
        verbose_name_plural = "entity access"
        constraints = [models.UniqueConstraint(fields=["user", "entity"], name="entity_access_unique")]

    def __str__(self) -> str:
        return f"{self.user} → {self.entity}"


class TotpDevice(models.Model):
    """A user's TOTP authenticator (RFC 6238). ``confirmed_at`` is set once a first code matched.

    The secret must be readable to check codes, so it is stored as is: protect the database.
    ``last_used_step`` refuses a code that was already used (no replay within its 30 s window).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_device"
    )
    secret = models.CharField(max_length=64, help_text="Base32 shared secret")
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_used_step = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "TOTP device"

    def __str__(self) -> str:
        return f"TOTP for {self.user}"


class RecoveryCode(models.Model):
    """A one-time code that replaces a TOTP code when the phone is lost. Only a hash is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    code_hash = models.CharField(max_length=64, help_text="SHA-256 of the normalised code, hex")
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "code_hash"])]

    def __str__(self) -> str:
        return f"recovery code of {self.user} ({'used' if self.used_at else 'unused'})"

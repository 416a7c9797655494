"""What the REST API keeps: personal API tokens, who may see which entity, idempotency records."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """A personal API token. Only a SHA-256 hash of the secret is stored; ``prefix`` finds the row.

    The secret is high-entropy random text, so a fast hash is enough: nobody can brute-force it.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, help_text="What the token is for")
    prefix = models.CharField(max_length=16, unique=True, help_text="Public part, shown in lists")
    secret_hash = models.CharField(max_length=64, help_text="SHA-256 of the whole token, hex")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix} ({self.name or 'unnamed'})"


class IdempotencyKey(models.Model):
    """The response to a write sent with an ``Idempotency-Key``, replayed when the key is sent again.

    The unique constraint on (user, key) is what makes two concurrent requests with one key safe:
    the second insert waits for the first transaction and then fails, and the second request
    replays what the first stored.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token = models.ForeignKey(ApiToken, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.TextField(help_text="Path and query string of the request")
    body_hash = models.CharField(max_length=64, help_text="SHA-256 of the request body, hex")
    response_status = models.PositiveSmallIntegerField()
    response_body = models.TextField(blank=True)
    response_content_type = models.CharField(max_length=100, default="application/json")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.method} {self.path}"

"""Writes of the API app: tokens, entity access, idempotency records."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from relance.api.models import ApiToken
from relance.core.errors import NotFound, ValidationFailed

TOKEN_SCHEME = "rel"
TOKEN_NOT_FOUND = "no API token with prefix {prefix!r}"
TOKEN_ALREADY_REVOKED = "API token {prefix} was already revoked on {revoked_at:%Y-%m-%d %H:%M} UTC"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_split(token: str) -> tuple[str, str] | None:
    """``rel_<prefix>_<secret>`` → (prefix, secret), or None when the text is not shaped like a token."""
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_SCHEME or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


@transaction.atomic
def api_token_create(
    *, user: Any, name: str = "", expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Create a token; returns it with the secret, which is shown once and never stored."""
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed("the expiry date must be in the future")
    prefix = secrets.token_hex(6)
    secret = f"{TOKEN_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        user=user, name=name, prefix=prefix, secret_hash=token_hash(secret), expires_at=expires_at
    )
    return token, secret


@transaction.atomic
def api_token_revoke(*, prefix: str, user: Any | None = None) -> ApiToken:
    """Revoke the token with ``prefix`` (only among ``user``'s tokens when a user is given)."""
    tokens = ApiToken.objects.select_for_update()
    if user is not None:
        tokens = tokens.filter(user=user)
    try:
        token = tokens.get(prefix=prefix.removeprefix(f"{TOKEN_SCHEME}_"))
    except ApiToken.DoesNotExist:
        raise NotFound(TOKEN_NOT_FOUND.format(prefix=prefix)) from None
    if token.revoked_at is not None:
        raise ValidationFailed(
            TOKEN_ALREADY_REVOKED.format(prefix=token.prefix, revoked_at=token.revoked_at),
            code="already_revoked",
        )
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    return token


def api_token_touch(*, token: ApiToken, now: datetime | None = None) -> None:
    """Record use, at most once a minute per token so that reads do not turn into writes."""
    now = now or timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() >= 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now

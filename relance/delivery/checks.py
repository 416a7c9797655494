"""``check --deploy``: e-mail tracking webhooks must be authenticated (docs/security.md)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register


@register(Tags.security, deploy=True)
def webhook_authentication_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """An e-mail provider is configured: its webhooks need ``ANYMAIL_WEBHOOK_SECRET`` and, for a
    provider that signs them, its signing key; without them bounces and complaints are refused."""
    from relance.delivery.webhooks import SIGNING_SETTINGS, sending_esp, webhook_secrets

    esp = sending_esp()
    if not esp:
        return []
    errors: list[CheckMessage] = []
    if not webhook_secrets():
        errors.append(
            Error(
                f"E-mail goes through {esp} but ANYMAIL_WEBHOOK_SECRET is not set: its tracking webhooks "
                "(bounces, complaints) refuse every call.",
                hint="Set ANYMAIL_WEBHOOK_SECRET to 'user:long-random-password' and give the provider the "
                "webhook URL with these credentials (docs/security.md).",
                id="relance.E101",
            )
        )
    names = SIGNING_SETTINGS.get(esp, ())
    anymail = getattr(settings, "ANYMAIL", {})
    if names and not any(anymail.get(f"{esp.upper()}_{name}") for name in names):
        errors.append(
            Error(
                f"{esp} signs its webhooks but ANYMAIL_{esp.upper()}_{names[0]} is not set.",
                hint="Copy the webhook signing key from the provider's dashboard (docs/security.md).",
                id="relance.E102",
            )
        )
    return errors

"""django-anymail's tracking webhooks, mounted behind authentication (docs/security.md).

Anymail accepts an unauthenticated POST when ``ANYMAIL_WEBHOOK_SECRET`` is unset (it only warns),
and a forged "bounced" or "complained" event would mark an address invalid or opt a contact out.
Here every anymail view is wrapped: without a configured secret the webhooks refuse every POST
(403); a POST without credentials gets the 401 challenge some providers wait for before sending
them; anymail itself then checks the credentials (400 when wrong) and the provider's signature
where the provider signs its webhooks. ``check --deploy`` reports the missing settings
(``relance.delivery.checks``). Events are then applied only to messages that the same provider
sent (``relance.delivery.tracking``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.urls import URLPattern
from django.views.decorators.csrf import csrf_exempt

ESP_ALIASES = {"sendinblue": "brevo"}
"""Anymail's former names of a provider (backend module → the current one)."""

SIGNING_SETTINGS: dict[str, tuple[str, ...]] = {
    "mailgun": ("WEBHOOK_SIGNING_KEY", "API_KEY"),
    "mandrill": ("WEBHOOK_KEY",),
    "postal": ("WEBHOOK_KEY",),
    "resend": ("SIGNING_SECRET",),
    "mailersend": ("SIGNING_SECRET",),
    "mailtrap": ("TRACKING_SECRET",),
}
"""Providers that sign their tracking webhooks: anymail's setting (``ANYMAIL_<ESP>_<NAME>``) that
holds the key, any one of them (Mailgun falls back to its API key)."""

NOT_CONFIGURED = "webhook authentication is not configured: set ANYMAIL_WEBHOOK_SECRET (docs/security.md)"


def esp_key(name: str) -> str:
    """One spelling of a provider: anymail's ``esp_name`` ("Amazon SES") and the backend module
    ("amazon_ses") give the same key ("amazonses")."""
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    return ESP_ALIASES.get(key, key)


def webhook_secrets() -> list[str]:
    """The ``user:password`` pairs anymail accepts (``ANYMAIL_WEBHOOK_SECRET``), empty if unset."""
    configured = getattr(settings, "ANYMAIL", {}).get("WEBHOOK_SECRET") or getattr(
        settings, "ANYMAIL_WEBHOOK_SECRET", None
    )
    if not configured:
        return []
    return [configured] if isinstance(configured, str) else [str(value) for value in configured if value]


def sending_esp() -> str:
    """The provider whose webhooks Relance listens to: the anymail backend that sends e-mail, or
    ``RELANCE_SMTP_TRACKING_ESP`` when mail leaves by SMTP through a provider's relay; "" for none."""
    backend = str(getattr(settings, "EMAIL_BACKEND", ""))
    if backend.startswith("anymail.backends.") and backend.split(".")[2] != "test":
        return esp_key(backend.split(".")[2])
    return esp_key(str(getattr(settings, "RELANCE_SMTP_TRACKING_ESP", "") or ""))


def esp_of_message(provider: str) -> str:
    """The provider whose events may change a message, from the ``provider`` the worker stored."""
    if provider == "smtp":
        return esp_key(str(getattr(settings, "RELANCE_SMTP_TRACKING_ESP", "") or ""))
    return esp_key(provider)


def authenticated(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Refuse a provider POST unless webhook credentials are configured and presented."""

    @functools.wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST":
            if not webhook_secrets():
                return HttpResponseForbidden(NOT_CONFIGURED)
            if "HTTP_AUTHORIZATION" not in request.META:
                challenge = HttpResponse("authentication required", status=401)
                challenge["WWW-Authenticate"] = 'Basic realm="relance webhooks"'
                return challenge
        return view(request, *args, **kwargs)

    return csrf_exempt(guarded)


def anymail_urlpatterns() -> tuple[list[URLPattern], str]:
    """Anymail's URL patterns (same paths and names), each view behind ``authenticated``."""
    from anymail import urls

    patterns = [
        URLPattern(pattern.pattern, authenticated(pattern.callback), pattern.default_args, pattern.name)
        for pattern in urls.urlpatterns
        if isinstance(pattern, URLPattern)
    ]
    return patterns, urls.app_name

"""``check --deploy``: the security headers middleware is installed (docs/security.md)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

HEADERS_MIDDLEWARE = "relance.common.security.SecurityHeadersMiddleware"


@register(Tags.security, deploy=True)
def security_headers_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if HEADERS_MIDDLEWARE in settings.MIDDLEWARE:
        return []
    return [
        Error(
            f"{HEADERS_MIDDLEWARE} is not in MIDDLEWARE: pages go out without a Content-Security-Policy.",
            hint="Keep it right after WhiteNoise, as config/settings/base.py has it (docs/security.md).",
            id="relance.E103",
        )
    ]

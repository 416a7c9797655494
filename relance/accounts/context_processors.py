"""What the page chrome needs to know about the signed-in user's role."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from relance.accounts.selectors import user_can, user_role


def access(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    return {
        "can_view_audit": SimpleLazyObject(lambda: user_can(user, "audit.view_auditevent")),
        "can_view_outbox": SimpleLazyObject(lambda: user_can(user, "delivery.view_outboundmessage")),
        "can_view_templates": SimpleLazyObject(lambda: user_can(user, "comms.view_messagetemplate")),
        "can_view_webhooks": SimpleLazyObject(lambda: user_can(user, "webhooks.view_webhookendpoint")),
        "user_role": SimpleLazyObject(lambda: user_role(user) or ""),
    }

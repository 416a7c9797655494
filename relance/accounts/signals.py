"""Sign-in events: count failures for the throttle, mark sessions that still owe a second factor,
and put every sign-in, failure and sign-out in the audit trail."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

from relance.accounts.models import TotpDevice
from relance.audit.services import audit_record
from relance.common.client import client_ip

SECOND_FACTOR_PENDING = "relance_second_factor_pending"


def on_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    username = str(credentials.get("username") or "")
    if request is None or not username:
        return
    from relance.accounts.services import LoginThrottle  # when a sign-in fails, not at every start

    locked = getattr(request, "relance_login_locked", False)
    LoginThrottle.from_settings().failed(username=username, ip=client_ip(request) or "unknown")
    audit_record(
        action="login_locked" if locked else "login_failed",
        actor_label=username[:150],
        request=request,
        object_type="auth.user",
        object_repr=username[:150],
    )


def on_logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if request is None:
        return
    verified = getattr(request, "relance_second_factor", "")
    has_device = TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()
    if hasattr(request, "session"):
        # A sign-in that skipped the second factor (e.g. the admin's login form) is not a sign-in.
        request.session[SECOND_FACTOR_PENDING] = has_device and not verified
    if has_device and not verified:
        return
    from relance.accounts.services import LoginThrottle  # at sign-in, not at every start

    LoginThrottle.from_settings().succeeded(username=user.get_username(), ip=client_ip(request) or "unknown")
    audit_record(
        action="login",
        actor=user,
        request=request,
        obj=user,
        after={"second_factor": verified or "none"},
    )


def on_logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if request is not None and user is not None:
        audit_record(action="logout", actor=user, request=request, obj=user)


def connect() -> None:
    user_login_failed.connect(on_login_failed, dispatch_uid="relance.accounts.login_failed")
    user_logged_in.connect(on_logged_in, dispatch_uid="relance.accounts.logged_in")
    user_logged_out.connect(on_logged_out, dispatch_uid="relance.accounts.logged_out")

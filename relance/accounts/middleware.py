"""Session idle timeout, and the read-only roles' backstop for every unsafe web request."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url

from relance.accounts.selectors import user_is_read_only

LAST_SEEN_KEY = "relance_last_seen"
# Refresh the last-seen stamp at most this often, so a busy page does not write the session each time.
LAST_SEEN_RESOLUTION_SECONDS = 60
SESSION_EXPIRED = "Your session ended after {minutes} minutes without activity. Please sign in again."
SECOND_FACTOR_NEEDED = "This account uses a second factor: please sign in here."
READ_ONLY_REFUSED = "Your role can read but not change anything."
# Unsafe requests a read-only user may still make: their own sign-in and second factor.
SELF_SERVICE_URL_NAMES = frozenset(
    {"login", "logout", "login_verify", "totp_enrol", "totp_disable", "recovery_codes", "password_change"}
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class SessionSecurityMiddleware:
    """Signs out a session idle for ``RELANCE_SESSION_IDLE_SECONDS``, and one that signed in
    without the second factor its user set up (e.g. through the admin's login form)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            from relance.accounts.signals import SECOND_FACTOR_PENDING

            now = int(time.time())
            last_seen = request.session.get(LAST_SEEN_KEY)
            idle = settings.RELANCE_SESSION_IDLE_SECONDS
            if request.session.get(SECOND_FACTOR_PENDING):
                auth.logout(request)
                messages.info(request, SECOND_FACTOR_NEEDED)
                return redirect_to_login(request.get_full_path(), resolve_url(settings.LOGIN_URL))
            if last_seen is not None and idle > 0 and now - int(last_seen) > idle:
                from relance.audit.services import audit_record

                audit_record(action="session_expired", actor=user, request=request, obj=user)
                auth.logout(request)
                messages.info(request, SESSION_EXPIRED.format(minutes=max(1, idle // 60)))
            elif last_seen is None or now - int(last_seen) >= LAST_SEEN_RESOLUTION_SECONDS:
                request.session[LAST_SEEN_KEY] = now
        return self.get_response(request)


class ReadOnlyRoleMiddleware:
    """Support and auditors change nothing: any unsafe request outside the API is a 403.

    The API answers its own 403s in its error shape (``relance.api.auth``); the views' own
    permission checks still apply to everyone else. This is the backstop for pages added later.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):  # type: ignore[no-untyped-def]
        if request.method in SAFE_METHODS or request.path.startswith("/api/"):
            return None
        match = request.resolver_match
        if match is not None and match.url_name in SELF_SERVICE_URL_NAMES:
            return None
        if user_is_read_only(getattr(request, "user", None)):
            raise PermissionDenied(READ_ONLY_REFUSED)
        return None

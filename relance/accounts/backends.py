"""Password authentication that refuses to even try while a username or address is locked.

Being a backend (not just the sign-in page) it also guards the Django admin's login form.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from relance.accounts.services import LoginThrottle
from relance.common.client import client_ip


class ThrottledModelBackend(ModelBackend):
    def authenticate(
        self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        if request is not None and username:
            ip = client_ip(request) or "unknown"
            if LoginThrottle.from_settings().locked(username=username, ip=ip):
                request.relance_login_locked = True
                raise PermissionDenied("too many failed sign-ins")  # authenticate() stops here
        return super().authenticate(request, username=username, password=password, **kwargs)

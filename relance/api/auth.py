"""How a request proves who it is: a personal API token (Bearer) or a staff session (with CSRF)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.errors import AuthenticationError, HttpError
from ninja.security import HttpBearer, SessionAuthIsStaff

from relance.api import selectors, services
from relance.api.errors import INVALID_TOKEN


class TokenAuth(HttpBearer):
    """``Authorization: Bearer rel_<prefix>_<secret>``. Sets ``request.api_token``."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        api_token = selectors.api_token_authenticate(token=token)
        if api_token is None:
            # A request that presents a token means it: no falling back to the session.
            raise AuthenticationError(message=INVALID_TOKEN)
        services.api_token_touch(token=api_token)
        request.api_token = api_token  # type: ignore[attr-defined]
        request.user = api_token.user
        return access_checked(request, api_token.user)


class StaffSessionAuth(SessionAuthIsStaff):
    """A signed-in staff user of the dashboard. Ninja checks CSRF on unsafe methods."""

    def _get_key(self, request: HttpRequest) -> str | None:
        # Without a signed-in user there is no session to protect: answer 401, not a CSRF 403.
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        if user is not None and user.is_active:
            request.api_token = None  # type: ignore[attr-defined]
            return access_checked(request, user)
        return None


def access_checked(request: HttpRequest, user: Any) -> Any:
    """The role's permission for this method and resource (403 otherwise); for a write, the
    audit trail's snapshot of the row before the view changes it (docs/access.md)."""
    from relance.accounts.api_access import SAFE_METHODS, api_access_denial

    denial = api_access_denial(user=user, method=request.method or "GET", path=request.path)
    if denial is not None:
        raise HttpError(403, denial)
    if (request.method or "GET").upper() not in SAFE_METHODS:
        _audit_write_begin(request, user)
    return user


def _audit_write_begin(request: HttpRequest, user: Any) -> None:
    """The audit trail's snapshot of the write's target row, in the entity the request resolves to
    (an unknown entity: nothing; the view answers the error and writes nothing)."""
    from relance.accounts.api_access import api_target
    from relance.audit.api import api_write_begin
    from relance.core.errors import RelanceError

    target = api_target(request.path)
    if target is None or target.model is None:
        return
    try:
        entity = selectors.entity_for_user(user=user, name=request.GET.get("entity") or None)
    except RelanceError:
        return
    api_write_begin(request, model=target.model, entity_id=entity.pk, ref=target.ref)


def api_auth() -> list:
    return [TokenAuth(), StaffSessionAuth()]

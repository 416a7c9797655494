"""Security headers on every page: a strict Content-Security-Policy and the other response
headers OWASP ASVS (level 2, V14.4) asks for (docs/security.md, "Browser").

The pages serve their own scripts and stylesheets (no inline ``<script>``, no ``on…=`` handlers,
no ``<style>`` elements: an entity's colours come from ``/brand.css``), so ``script-src`` and
``style-src`` are ``'self'`` only. Django's ``SecurityMiddleware`` already sends
``X-Content-Type-Options``, ``Referrer-Policy`` and ``Cross-Origin-Opener-Policy``, and
``XFrameOptionsMiddleware`` ``X-Frame-Options``; this adds the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

from relance.core.errors import error_body

CSP: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "frame-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
"""The policy of every page; a view may widen one directive with ``csp_update``."""

PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), "
    "payment=(), usb=()"
)


def content_security_policy(updates: dict[str, str] | None = None) -> str:
    policy = dict(CSP)
    # The portal's "Pay" form is answered by a redirect to the payment provider, which browsers
    # check against form-action too.
    targets = " ".join(getattr(settings, "RELANCE_CSP_FORM_TARGETS", ()))
    if targets:
        policy["form-action"] = f"{policy['form-action']} {targets}"
    policy.update(updates or {})
    return "; ".join(f"{name} {value}" for name, value in policy.items())


def csp_update(**directives: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Widen the policy for one view: ``@csp_update(style_src="'self' 'unsafe-inline'")``."""
    updates = {name.replace("_", "-"): value for name, value in directives.items()}

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            response = view(request, *args, **kwargs)
            response.csp_updates = updates  # type: ignore[attr-defined]
            return response

        return wrapped

    return decorator


class SecurityHeadersMiddleware:
    """Adds the CSP, Permissions-Policy and Cross-Origin-Resource-Policy headers, and
    ``Cache-Control: no-store`` on signed-in pages that set no caching of their own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault(
            "Content-Security-Policy", content_security_policy(getattr(response, "csp_updates", None))
        )
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            response.headers.setdefault("Cache-Control", "no-store")
        return response


NUL_IN_REQUEST = "{where} holds a NUL character (%00), which no text may hold: remove it and send again"


class RejectNulMiddleware:
    """A NUL character in a request's path or query string is a 400, before any view or query.

    PostgreSQL text cannot hold NUL, so a ``%00`` in a filter reached the database as a 500 (the
    API fuzz found it on ``/api/v1/messages?customer_ref=``); SQLite answered as if the filter were
    plain. One check here covers every page and API route's query parameters, instead of a
    validator per parameter. Bodies are checked field by field where they are parsed (forms refuse
    NUL; the API's and the imports' text goes through ``check_plain_text``: a 422 naming the field).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        where = self._nul_in(request)
        if where is None:
            return self.get_response(request)
        message = NUL_IN_REQUEST.format(where=where)
        if request.path.startswith("/api/"):
            return JsonResponse(
                error_body("bad_request", message, [{"field": where, "message": message}]), status=400
            )
        return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")

    @staticmethod
    def _nul_in(request: HttpRequest) -> str | None:
        if "\x00" in request.path:
            return "the path"
        query = request.META.get("QUERY_STRING", "")
        if "%00" not in query and "\x00" not in query:
            return None
        for name, value in parse_qsl(query, keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                return f"query parameter {name.replace(chr(0), '%00')!r}"
        return "the query string"

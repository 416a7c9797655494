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
from django.core.exceptions import RequestDataTooBig
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
_FORM = "application/x-www-form-urlencoded"


class RejectNulMiddleware:
    """A NUL character in a request's path, query string or form body is a 400, before any view
    or query; a cookie holding one is dropped.

    PostgreSQL text cannot hold NUL, so a ``%00`` in a filter reached the database as a 500 (the
    API fuzz found it on ``/api/v1/messages?customer_ref=``); SQLite answered as if the filter were
    plain. One check here covers every page's and API route's parameters and every form post
    (a view's own ``request.POST.get`` included), instead of a validator per field. A session
    cookie of NULs would reach the session table the same way; it is dropped, as if absent.
    JSON bodies are checked where the API parses them (``relance.api.api.DecimalJSONParser``: a
    422 naming the field); multipart uploads by the import that reads them.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        where = self._nul_in(request)
        if where is None:
            if any("\x00" in value for value in request.COOKIES.values()):
                request.COOKIES = {k: v for k, v in request.COOKIES.items() if "\x00" not in v}
            return self.get_response(request)
        field, place = where
        message = NUL_IN_REQUEST.format(where=place)
        if request.path_info.startswith("/api/"):
            return JsonResponse(
                error_body("bad_request", message, [{"field": field, "message": message}]), status=400
            )
        return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")

    @staticmethod
    def _nul_in(request: HttpRequest) -> tuple[str, str] | None:
        """(the field, where in words) of the first NUL, or None."""
        if "\x00" in request.path_info:
            return "path", "the path"
        found = _nul_field(request.META.get("QUERY_STRING", ""))
        if found is not None:
            return found, f"query parameter {found!r}"
        if request.method == "POST" and request.content_type == _FORM:
            try:
                body = request.body.decode("latin-1")
            except RequestDataTooBig:
                return None  # Django answers this one itself
            found = _nul_field(body)
            if found is not None:
                return found, f"form field {found!r}"
        return None


def _nul_field(encoded: str) -> str | None:
    """The name of the first field of a URL-encoded string holding a NUL, or None."""
    if "%00" not in encoded and "\x00" not in encoded:
        return None
    for name, value in parse_qsl(encoded, keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return name.replace("\x00", "%00")
    return None

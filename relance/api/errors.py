"""The one error shape of the API, and the handlers that turn every failure into it:

``{"error": {"code": "not_found", "message": "human sentence", "details": [{field, message, index}]}}``
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from relance.core.errors import ErrorList, FieldError, NotFound, RelanceError, ValidationFailed, error_body

logger = logging.getLogger(__name__)

UNAUTHENTICATED = "authentication required: send 'Authorization: Bearer <token>' (see docs/api.md)"
INVALID_TOKEN = "invalid, expired or revoked API token"
CSRF_FAILED = "CSRF check failed: send the X-CSRFToken header with session-authenticated writes"
INVALID_INPUT = "the request is not valid: see details"
PAGE_NOT_FOUND = "no API endpoint at {path}"
METHOD_NOT_ALLOWED = "{method} is not allowed on {path} (allowed: {allowed})"
INTERNAL_ERROR = "internal error: the problem has been logged"
BODY_TOO_LARGE = (
    "the request body is over {limit:,} bytes (RELANCE_MAX_BODY_BYTES): send the items in smaller batches"
)

STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid",
    429: "throttled",
    500: "internal_error",
}


def error_response(
    status: int, code: str, message: str, details: Sequence[dict[str, Any]] = ()
) -> JsonResponse:
    response = JsonResponse(error_body(code, message, details), status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="relance"'
    return response


def field_error_detail(error: FieldError) -> dict[str, Any]:
    """``FieldError`` → ``{field, message, index}``; the API passes the item index as the line."""
    message = f"expected {error.expected}" + (f", found {error.found!r}" if error.found != "" else "")
    detail: dict[str, Any] = {"field": error.field, "message": message}
    if error.line is not None:
        detail["index"] = error.line
    return detail


def field_error_details(errors: Iterable[FieldError]) -> list[dict[str, Any]]:
    return [field_error_detail(error) for error in errors]


def _relance_status(exc: RelanceError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, ValidationFailed | ErrorList):
        return 400 if exc.code == "entity_required" else 422
    return {"conflict": 409}.get(exc.code, 400)


def _on_relance_error(request: HttpRequest, exc: Any) -> HttpResponse:
    details: list[dict[str, Any]] = []
    message = exc.message
    if isinstance(exc, ErrorList):
        details = field_error_details(exc.errors)
        message = f"{len(exc.errors)} invalid field(s): nothing was written"
    details.extend(exc.extra.get("details", []))
    return error_response(_relance_status(exc), exc.code, message, details)


def _loc_detail(error: dict[str, Any]) -> dict[str, Any]:
    """Pydantic's ``loc`` (``body, payload, items, 3, amount``) → ``{field: amount, index: 3}``."""
    loc = list(error.get("loc", ()))
    if loc and loc[0] in {"body", "query", "path", "header", "cookie", "form"}:
        loc = loc[1:]
    if loc and loc[0] == "payload":  # the name of every endpoint's body parameter
        loc = loc[1:]
    index = None
    if len(loc) >= 2 and loc[0] == "items" and isinstance(loc[1], int):  # an item of a bulk request
        index, loc = loc[1], loc[2:]
    detail: dict[str, Any] = {"field": ".".join(str(part) for part in loc) or "body"}
    detail["message"] = error.get("msg", "invalid")
    if index is not None:
        detail["index"] = index
    return detail


def _on_validation_error(request: HttpRequest, exc: Any) -> HttpResponse:
    return error_response(422, "invalid", INVALID_INPUT, [_loc_detail(error) for error in exc.errors])


def _on_http_error(request: HttpRequest, exc: Any) -> HttpResponse:
    if isinstance(exc.__cause__, NinjaValidationError):  # the body parser refused a field (a NUL)
        return _on_validation_error(request, exc.__cause__)
    status = exc.status_code
    message = str(exc)
    if isinstance(exc, AuthenticationError) and message == "Unauthorized":
        message = UNAUTHENTICATED
    elif status == 403 and "CSRF" in message:
        message = CSRF_FAILED
    return error_response(status, STATUS_CODES.get(status, "error"), message)


def _on_404(request: HttpRequest, exc: Any) -> HttpResponse:
    return error_response(404, "not_found", str(exc) or PAGE_NOT_FOUND.format(path=request.path))


def _on_body_too_large(request: HttpRequest, exc: Any) -> HttpResponse:
    return error_response(413, "too_large", BODY_TOO_LARGE.format(limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE))


def _on_exception(request: HttpRequest, exc: Any) -> HttpResponse:
    logger.exception("API error on %s %s", request.method, request.path, exc_info=exc)
    return error_response(500, "internal_error", INTERNAL_ERROR)


def install_error_handlers(api: NinjaAPI) -> None:
    api.add_exception_handler(Exception, _on_exception)
    api.add_exception_handler(Http404, _on_404)
    api.add_exception_handler(RequestDataTooBig, _on_body_too_large)
    api.add_exception_handler(HttpError, _on_http_error)
    api.add_exception_handler(NinjaValidationError, _on_validation_error)
    api.add_exception_handler(RelanceError, _on_relance_error)


def with_error_shape(view):  # type: ignore[no-untyped-def]
    """Wrap a Django view of the API so that responses Ninja builds outside its handlers
    (405 Method Not Allowed) use the error shape too."""
    import functools

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and response.get("Content-Type", "").startswith("text/"):
            allowed = response.get("Allow", "")
            shaped = error_response(
                405,
                "method_not_allowed",
                METHOD_NOT_ALLOWED.format(method=request.method, path=request.path, allowed=allowed),
            )
            shaped["Allow"] = allowed
            return shaped
        return response

    return wrapped


@csrf_exempt  # it changes nothing; without this a PUT got Django's HTML CSRF page, not a JSON 404
def not_found_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Any path under /api/v1/ that no endpoint serves (also a ref holding a line break, which
    the ``path`` converter does not match)."""
    return error_response(404, "not_found", PAGE_NOT_FOUND.format(path=request.path))

"""The NinjaAPI object: version 1, token or staff-session auth, one error shape, local docs."""

import importlib
import json
from decimal import Decimal
from typing import Any, cast

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from ninja import NinjaAPI
from ninja.errors import ValidationError as NinjaValidationError
from ninja.openapi.docs import Swagger, _csrf_needed
from ninja.parser import Parser

from relance.api.activity import router as activity_router
from relance.api.auth import api_auth
from relance.api.bank import router as bank_router
from relance.api.cases import router as cases_router
from relance.api.credit import router as credit_router
from relance.api.credit_applications import router as credit_applications_router
from relance.api.documents import router as documents_router
from relance.api.errors import install_error_handlers
from relance.api.forecast import router as forecast_router
from relance.api.kpis import router as kpis_router
from relance.api.oversight import router as oversight_router
from relance.api.predictions import router as predictions_router
from relance.api.views import router
from relance.api.webhooks import openapi_event_components
from relance.api.webhooks import router as webhooks_router
from relance.common.api_routers import api_routers


class DecimalJSONParser(Parser):
    """JSON numbers with a fraction become ``Decimal``, never float, so 0.1 stays 0.1."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        body = cast(dict[str, Any], json.loads(request.body, parse_float=Decimal))
        if b"\\u0000" in request.body:  # PostgreSQL text cannot hold NUL: a 422 naming where
            path = _nul_path(body)
            if path is not None:
                raise NinjaValidationError(
                    [{"loc": ("body", *path), "msg": NUL_IN_TEXT, "type": "value_error"}]
                )
        return body


NUL_IN_TEXT = "expected text without a NUL character (\\u0000)"


def _nul_path(value: Any, path: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
    """Where in a parsed JSON body a string (or a key) holds a NUL, or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = (*path, key) if "\x00" in key else _nul_path(item, (*path, key))
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_path(item, (*path, index))
            if found is not None:
                return found
    return None


class LocalSwagger(Swagger):
    """Swagger UI from ninja's own template and static files, never a CDN. ninja picks its CDN
    template unless "ninja" is an installed app, and it is not (its templates and static files
    are in TEMPLATES and STATICFILES_DIRS): installed, it loaded pydantic at every start (issue 20)."""

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        self.settings["url"] = self.get_openapi_url(api, kwargs)
        context = {
            "swagger_settings": json.dumps(self.settings, indent=1),
            "api": api,
            "add_csrf": _csrf_needed(api),
        }
        return render(request, self.template, context)


class RelanceApi(NinjaAPI):
    """The API, its OpenAPI schema with the webhook payloads as components (docs/integrations.md)."""

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        return openapi_event_components(super().get_openapi_schema(*args, **kwargs))


api = RelanceApi(
    title="Relance API",
    version="1",
    description=(
        "Read and write the receivables ledger of the entities you may see. "
        "Authenticate with `Authorization: Bearer <token>` (`relance token create`). "
        "See docs/api.md for pagination, idempotency and the error shape."
    ),
    auth=api_auth(),
    urls_namespace="api-v1",
    docs=LocalSwagger(settings={"persistAuthorization": True}),
    parser=DecimalJSONParser(),
)
install_error_handlers(api)
# Before ``router``: its ``/invoices/{path:ref}`` would also match ``/invoices/X/document``.
api.add_router("/", documents_router)
api.add_router("/", predictions_router)
api.add_router("/", forecast_router)
api.add_router("/", kpis_router)
# Before ``router`` too: its ``/customers/{path:ref}`` would match ``/customers/X/credit``.
api.add_router("/", credit_router)
api.add_router("/", credit_applications_router)
api.add_router("/", bank_router)
api.add_router("/", cases_router)  # issue 18: the case, as the pages show it
api.add_router("/", activity_router)  # issue 18: messages, runs, the worklist
api.add_router("/", oversight_router)  # issue 18: credit reviews, policies, the audit log
api.add_router("/", webhooks_router)
api.add_router("/", router)
# The routers of apps above the API (``relance.common.api_routers``: the workspace's worklist and
# notes), registered by name in their ``ready()`` and imported here, when the API is built.
for dotted in api_routers():
    module_name, _, attribute = dotted.rpartition(".")
    api.add_router("/", getattr(importlib.import_module(module_name), attribute))

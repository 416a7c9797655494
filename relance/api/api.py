"""The NinjaAPI object: version 1, token or staff-session auth, one error shape, local docs."""

import json
from decimal import Decimal
from typing import Any, cast

from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.openapi.docs import Swagger
from ninja.parser import Parser

from relance.api.auth import api_auth
from relance.api.documents import router as documents_router
from relance.api.errors import install_error_handlers
from relance.api.kpis import router as kpis_router
from relance.api.views import router


class DecimalJSONParser(Parser):
    """JSON numbers with a fraction become ``Decimal``, never float, so 0.1 stays 0.1."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        return cast(dict[str, Any], json.loads(request.body, parse_float=Decimal))


api = NinjaAPI(
    title="Relance API",
    version="1",
    description=(
        "Read and write the receivables ledger of the entities you may see. "
        "Authenticate with `Authorization: Bearer <token>` (`relance token create`). "
        "See docs/api.md for pagination, idempotency and the error shape."
    ),
    auth=api_auth(),
    urls_namespace="api-v1",
    docs=Swagger(settings={"persistAuthorization": True}),
    parser=DecimalJSONParser(),
)
install_error_handlers(api)
# Before ``router``: its ``/invoices/{path:ref}`` would also match ``/invoices/X/document``.
api.add_router("/", documents_router)
api.add_router("/", kpis_router)
api.add_router("/", router)

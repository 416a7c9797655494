"""Puts the request in the audit context, gives it a request id, and records API writes.

API writes go through the import's bulk upsert (no model signals), so the API's own write
requests are recorded here: ``relance.api.auth`` snapshots the target row before the view runs
(``api_write_begin``), and after a successful response the row is read again and diffed.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from relance.audit.context import AuditContext, audit_context_set
from relance.common.client import client_ip

logger = logging.getLogger(__name__)
REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class AuditContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = given if REQUEST_ID_PATTERN.match(given) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        context = AuditContext(request=request, request_id=request_id, ip=client_ip(request))
        with audit_context_set(context):
            response = self.get_response(request)
            pending = getattr(request, "audit_api_write", None)
            if pending is not None:
                from relance.audit.api import api_write_finish

                try:
                    api_write_finish(request, response, pending)
                except Exception:  # the write is committed: answer it, and make the gap loud
                    logger.exception("audit event for %s %s not recorded", request.method, request.path)
        response[REQUEST_ID_HEADER] = request_id
        return response

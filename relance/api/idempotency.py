"""``Idempotency-Key`` on writes: the same key and request replay the stored response; the same
key with a different request is refused. Keys live 24 hours, per user.

The key's row is inserted in the same transaction as the write it guards, so a concurrent request
with the same key waits on the unique constraint and then replays the committed response; a 5xx
rolls both back so the client may simply retry.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from relance.api.errors import error_response
from relance.api.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255
KEY_REUSED = (
    "Idempotency-Key {key!r} was already used for a different request ({method} {path}) "
    "in the last 24 hours: send a new key for a new request"
)
KEY_INVALID = "Idempotency-Key must be 1 to 255 printable characters"


class _Discard(Exception):
    """Raised to roll back the key's row together with a failed (5xx) write."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.status_code)
        self.response = response


def _call(view: Callable[..., HttpResponse], request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Run the view in a savepoint and render any exception with the API's handlers."""
    from relance.api.api import api

    try:
        with transaction.atomic():
            return view(request, *args, **kwargs)
    except Exception as exc:
        return api.on_exception(request, exc)


def _replay(stored: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(
        stored.response_body, status=stored.response_status, content_type=stored.response_content_type
    )
    response[REPLAYED_HEADER] = "true"
    return response


def idempotent(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Decorate a write endpoint (it must return an ``HttpResponse``)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        key = request.headers.get(HEADER)
        if key is None:
            return _call(view, request, *args, **kwargs)
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            return error_response(400, "invalid_idempotency_key", KEY_INVALID)
        user = request.auth  # type: ignore[attr-defined]
        method, path = request.method or "", request.get_full_path()
        body_hash = hashlib.sha256(request.body).hexdigest()
        now = timezone.now()
        try:
            with transaction.atomic():
                IdempotencyKey.objects.filter(user=user, created_at__lt=now - TTL).delete()
                try:
                    with transaction.atomic():
                        record = IdempotencyKey.objects.create(
                            user=user,
                            token=getattr(request, "api_token", None),
                            key=key,
                            method=method,
                            path=path,
                            body_hash=body_hash,
                            response_status=0,
                        )
                except IntegrityError:
                    stored = IdempotencyKey.objects.get(user=user, key=key)
                    if (stored.method, stored.path, stored.body_hash) != (method, path, body_hash):
                        return error_response(
                            422,
                            "idempotency_key_reused",
                            KEY_REUSED.format(key=key, method=stored.method, path=stored.path),
                        )
                    return _replay(stored)
                response = _call(view, request, *args, **kwargs)
                if response.status_code >= 500:
                    raise _Discard(response)
                record.response_status = response.status_code
                record.response_body = response.content.decode()
                record.response_content_type = response.get("Content-Type", "application/json")
                record.save(update_fields=["response_status", "response_body", "response_content_type"])
                return response
        except _Discard as discard:
            return discard.response

    return wrapped

"""``RelanceClient``: the ledger resources of API v1 with pagination, retries and typed answers."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar, cast
from urllib.parse import quote

import httpx

from relance_client import models
from relance_client.errors import ConnectionFailed, RelanceError, error_for

# (method, path) of every operation the client calls: tests/api/test_client.py checks each one
# against /api/v1/openapi.json, and that every list/get/put/bulk of these resources is covered.
RESOURCES = {
    "customers": "/customers",
    "contacts": "/contacts",
    "invoices": "/invoices",
    "credit_notes": "/credit-notes",
    "payments": "/payments",
    "orders": "/orders",
}
OPERATIONS: list[tuple[str, str]] = [
    *(
        (method, path + suffix)
        for path in RESOURCES.values()
        for method, suffix in (("GET", ""), ("GET", "/{ref}"), ("PUT", "/{ref}"), ("POST", "/bulk"))
    ),
    ("GET", "/allocations"),
]

# Retried: no answer, or an answer that says "try again". 5xx answers are not stored by the API's
# idempotency, so a write retried with the same key runs again once, never twice.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

Item = TypeVar("Item")
Upserted = TypeVar("Upserted")


class Resource(Generic[Item, Upserted]):
    """One ledger resource: ``list`` (every item, page after page), ``pages``, ``get``, ``upsert``, ``bulk``."""

    def __init__(self, client: RelanceClient, path: str) -> None:
        self._client = client
        self.path = path

    def pages(self, *, limit: int = 100, cursor: str | None = None, **filters: Any) -> Iterator[list[Item]]:
        """Page after page (cursor pagination: a row is never seen twice nor skipped)."""
        while True:
            params = {**filters, "limit": limit}
            if cursor:
                params["cursor"] = cursor
            page = self._client.request("GET", self.path, params=params)
            yield cast(list[Item], page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def list(self, *, limit: int = 100, **filters: Any) -> Iterator[Item]:
        """Every item matching ``filters`` (``updated_since``, ``customer_ref``, ``order``…), lazily."""
        for page in self.pages(limit=limit, **filters):
            yield from page

    def get(self, ref: str) -> Item:
        return cast(Item, self._client.request("GET", f"{self.path}/{quote(ref, safe='')}"))

    def upsert(self, ref: str, fields: Mapping[str, Any], *, idempotency_key: str | None = None) -> Upserted:
        """Create or update one record by ref: ``{"result": "created"|"updated"|"unchanged", "item": …}``."""
        return cast(
            Upserted,
            self._client.request(
                "PUT",
                f"{self.path}/{quote(ref, safe='')}",
                json=dict(fields),
                idempotency_key=idempotency_key,
            ),
        )

    def bulk(
        self, items: Sequence[Mapping[str, Any]], *, idempotency_key: str | None = None
    ) -> models.UpsertCounts:
        """All or nothing, at most 10,000 items: ``{"created", "updated", "unchanged"}``."""
        return cast(
            models.UpsertCounts,
            self._client.request(
                "POST",
                f"{self.path}/bulk",
                json={"items": [dict(item) for item in items]},
                idempotency_key=idempotency_key,
            ),
        )


class RelanceClient:
    """A client of one Relance server, with a personal API token (``relance token create``).

    ``entity`` is sent with every request when you see several entities. Writes carry an
    ``Idempotency-Key`` (a new UUID per call unless you give one), kept across the retries, so a
    retried write is applied once. ``retries`` retries connection errors, 429 and 5xx with
    exponential backoff and jitter.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        entity: str | None = None,
        retries: int = 3,
        backoff: float = 0.5,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.entity = entity
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + "/api/v1",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )
        self.customers: Resource[models.CustomerOut, models.CustomerUpserted] = Resource(self, "/customers")
        self.contacts: Resource[models.ContactOut, models.ContactUpserted] = Resource(self, "/contacts")
        self.invoices: Resource[models.InvoiceOut, models.InvoiceUpserted] = Resource(self, "/invoices")
        self.credit_notes: Resource[models.CreditNoteOut, models.CreditNoteUpserted] = Resource(
            self, "/credit-notes"
        )
        self.payments: Resource[models.PaymentOut, models.PaymentUpserted] = Resource(self, "/payments")
        self.orders: Resource[models.OrderOut, models.OrderUpserted] = Resource(self, "/orders")

    def allocations(self, *, limit: int = 100, **filters: Any) -> Iterator[models.AllocationOut]:
        """Every allocation matching ``filters`` (read only)."""
        resource: Resource[models.AllocationOut, None] = Resource(self, "/allocations")
        return resource.list(limit=limit, **filters)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """One call with retries; the decoded JSON answer, or a ``RelanceError``."""
        query = {key: _param(value) for key, value in (params or {}).items() if value is not None}
        if self.entity and "entity" not in query:
            query["entity"] = self.entity
        headers = {}
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        attempt = 0
        while True:
            try:
                response = self._http.request(method, path, params=query, json=json, headers=headers)
            except httpx.TransportError as exc:
                if attempt >= self.retries:
                    raise ConnectionFailed(
                        f"{method} {path}: {exc!r} after {attempt + 1} attempt(s)"
                    ) from exc
            else:
                if response.status_code not in RETRY_STATUSES or attempt >= self.retries:
                    return _answer(response)
            attempt += 1
            self._sleep(self.backoff * 2 ** (attempt - 1) * (1 + random.random() / 2))  # noqa: S311 (jitter)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RelanceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def _answer(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success:
        return body
    error: RelanceError = error_for(response.status_code, body)
    raise error

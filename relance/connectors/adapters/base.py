"""What every ERP adapter is: pull changed rows since a cursor, push back what the ERP must know.

The adapters load no Django model. A pull yields the import's canonical rows (text cells, the
columns of docs/import.md), so the ERP's records go through ``relance.ingest``'s validation and
all-or-nothing upsert exactly like a CSV file: one home for the import rules.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

import httpx

# The order a sync pulls in: later kinds refer to earlier ones (docs/import.md).
STREAMS = ("customers", "contacts", "invoices", "credit_notes", "payments")

# What a sync pushes back.
PUSH_KINDS = ("hold", "dispute_resolution", "promise", "payment")


class ConnectorError(Exception):
    """The ERP refused a call or answered something unexpected; the message says which and why."""


@dataclass(frozen=True)
class PulledRow:
    """One canonical import row and the ERP record it came from (``odoo:account.move/42``).

    ``record`` is the import's ``source``: a rejected row is reported as ``record: field: expected …``.
    """

    kind: str
    cells: dict[str, str | None]
    record: str
    # The ERP's own reference of a payment (its memo or reference number): a payment Relance pushed
    # comes back with Relance's payment_ref here, and the sync does not import it a second time.
    echo_of: str | None = None


@dataclass(frozen=True)
class PullPage:
    """A page of one stream and the cursor to store once every page of the sync is written."""

    kind: str
    rows: tuple[PulledRow, ...]
    cursor: str | None


@dataclass(frozen=True)
class PushItem:
    """A change made in Relance that the ERP must know about.

    ``key`` identifies it for idempotence (``hold:12``); ``fingerprint`` changes when it changes, so
    an unchanged item is never pushed twice.
    """

    kind: str
    key: str
    fingerprint: str
    customer_ref: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PushResult:
    key: str
    external_id: str


class Adapter(Protocol):
    """An ERP adapter. ``source`` names the ERP (``odoo``); cursors are the ERP's own timestamps."""

    source: str

    def pull(self, kind: str, since: str | None) -> Iterator[PullPage]: ...

    def push(self, item: PushItem) -> PushResult: ...

    def close(self) -> None: ...


def decimal_json(response: httpx.Response) -> Any:
    """The response body with every JSON number read as a Decimal (money is never a float)."""
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError as exc:
        raise ConnectorError(
            f"{response.request.url}: expected a JSON body, found {response.text[:200]!r}"
        ) from exc


def amount_cell(value: Any) -> str | None:
    """A JSON amount as the import's text cell: '.' decimal point, no exponent, sign kept."""
    if value is None or value is False or value == "":
        return None
    return format(Decimal(str(value)), "f")


def date_cell(value: Any) -> str | None:
    """The date part of an ERP date or timestamp (``2026-01-05``, ``2026-01-05 10:00:00``)."""
    if not value:
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(value)[:10]


def text_cell(value: Any) -> str | None:
    """ERP text: ``False`` (Odoo's empty) and ``None`` are not given."""
    if value is None or value is False:
        return None
    text = str(value).strip()
    return text or None


def checked(response: httpx.Response, what: str) -> httpx.Response:
    """Raise a ConnectorError naming the call when the ERP did not answer 2xx."""
    if response.is_success:
        return response
    raise ConnectorError(
        f"{what}: {response.request.method} {response.request.url} answered {response.status_code}: "
        f"{response.text[:300]}"
    )


def payment_rows(
    cells: Mapping[str, str | None],
    total: Decimal,
    settled: list[tuple[str, Decimal]],
    record: str,
    echo_of: str | None = None,
) -> list[PulledRow]:
    """A payment as the payments import reads it: one row per invoice it settled, and one unapplied
    row for the rest (the import merges the rows that share ``payment_ref``)."""
    rows = [
        PulledRow("payments", {**cells, "invoice_ref": ref, "amount": format(amount, "f")}, record, echo_of)
        for ref, amount in settled
    ]
    rest = total - sum((amount for _, amount in settled), Decimal(0))
    if rest > 0 or not rows:
        rows.append(
            PulledRow(
                "payments", {**cells, "invoice_ref": None, "amount": format(rest, "f")}, record, echo_of
            )
        )
    return rows

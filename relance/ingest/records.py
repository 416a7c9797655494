"""Canonical import records and the public API to validate and write them.

Every import path (the ``relance import`` command, the REST API, later connectors) goes through
``parse_row`` (text cells → a validated, frozen record, or an ``ErrorList`` of ``FieldError``) and
``upsert_records`` (records → ledger rows, created/updated/unchanged, all or nothing).

Optional fields hold ``None`` when the input did not give them (column absent or cell empty): an
update leaves such fields as they are and a create uses the model default.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from relance.ledger.models import Entity

KINDS = ("customers", "contacts", "invoices", "credit_notes", "payments", "orders", "disputes")
# Imported by ``relance rates import``, not ``relance import``: rates are settings of the entity
# rather than ledger rows, but they are read and checked by the same code.
RATE_KIND = "exchange_rates"


@dataclass(frozen=True)
class CustomerRecord:
    customer_ref: str
    name: str
    currency: str | None = None
    payment_terms_days: int | None = None
    credit_limit: Decimal | None = None
    segment: str | None = None
    language: str | None = None
    country: str | None = None
    email: str | None = None
    phone: str | None = None
    parent_ref: str | None = None
    tax_id: str | None = None
    registration_id: str | None = None
    timezone: str | None = None
    line: int | None = None
    source: str = ""

    @property
    def key(self) -> str:
        return self.customer_ref


@dataclass(frozen=True)
class ContactRecord:
    """A contact; identified by ``contact_ref`` when given, else by customer + email."""

    customer_ref: str
    contact_ref: str | None = None
    name: str | None = None
    role: str | None = None
    email: str | None = None
    phone: str | None = None
    preferred_channel: str | None = None
    postal_address: str | None = None
    opt_out_email: bool | None = None
    opt_out_sms: bool | None = None
    opt_out_letter: bool | None = None
    opt_out_phone: bool | None = None
    line: int | None = None
    source: str = ""

    @property
    def key(self) -> str:
        if self.contact_ref:
            return f"ref:{self.contact_ref}"
        return f"email:{self.customer_ref}\x1f{self.email or ''}"


@dataclass(frozen=True)
class InvoiceRecord:
    invoice_ref: str
    customer_ref: str
    issue_date: date
    due_date: date
    currency: str
    amount: Decimal
    po_number: str | None = None
    status: str | None = None
    line: int | None = None
    source: str = ""

    @property
    def key(self) -> str:
        return self.invoice_ref


@dataclass(frozen=True)
class CreditNoteRecord:
    """A credit note; with ``invoice_ref`` it is allocated in full to that invoice on its date."""

    credit_note_ref: str
    customer_ref: str
    date: date
    currency: str
    amount: Decimal
    invoice_ref: str | None = None
    reason: str | None = None
    line: int | None = None
    source: str = ""

    @property
    def key(self) -> str:
        return self.credit_note_ref


@dataclass(frozen=True)
class AllocationRecord:
    """Part of a payment applied to an invoice, on the payment's date."""

    invoice_ref: str
    amount: Decimal
    line: int | None = None


@dataclass(frozen=True)
class PaymentRecord:
    """A payment: its ``amount`` is the sum of its rows; allocations are the rows with an invoice.

    ``parse_row`` returns one record per file row (amount = the row's amount); ``upsert_records``
    merges records that share ``payment_ref`` into one payment.
    """

    payment_ref: str
    customer_ref: str
    date: date
    currency: str
    amount: Decimal
    allocations: tuple[AllocationRecord, ...] = ()
    method: str | None = None
    line: int | None = None
    source: str = ""
    returned_on: dt.date | None = None

    @property
    def key(self) -> str:
        return self.payment_ref


@dataclass(frozen=True)
class OrderRecord:
    """An order the ERP sends (open, delivered not invoiced, …): credit exposure, not a receivable."""

    order_ref: str
    customer_ref: str
    date: date
    currency: str
    amount: Decimal
    status: str | None = None
    line: int | None = None
    source: str = ""

    @property
    def key(self) -> str:
        return self.order_ref


@dataclass(frozen=True)
class DisputeRecord:
    """An invoice the customer contested from ``opened_on`` (to ``resolved_on`` when resolved).

    The key is the invoice and the day it was opened: an invoice may be disputed more than once.
    ``amount`` None: all that was open and not yet disputed on ``opened_on``.
    """

    invoice_ref: str
    opened_on: date
    reason_code: str
    amount: Decimal | None = None
    resolved_on: date | None = None
    resolution: str | None = None
    note: str | None = None
    line: int | None = None
    source: str = ""

    @property
    def key(self) -> str:
        return f"{self.invoice_ref}\x1f{self.opened_on.isoformat() if self.opened_on else ''}"


@dataclass(frozen=True)
class ExchangeRateRecord:
    """1 ``base_currency`` = ``rate`` ``quote_currency`` from ``rate_date`` on."""

    rate_date: date
    base_currency: str
    quote_currency: str
    rate: Decimal
    line: int | None = None
    source: str = ""

    @property
    def key(self) -> str:
        return f"{self.rate_date.isoformat() if self.rate_date else ''}|{self.base_currency}|{self.quote_currency}"


RECORD_TYPES: dict[str, type] = {
    "customers": CustomerRecord,
    "contacts": ContactRecord,
    "invoices": InvoiceRecord,
    "credit_notes": CreditNoteRecord,
    "payments": PaymentRecord,
    "orders": OrderRecord,
    "disputes": DisputeRecord,
    RATE_KIND: ExchangeRateRecord,
}

Record = (
    CustomerRecord
    | ContactRecord
    | InvoiceRecord
    | CreditNoteRecord
    | PaymentRecord
    | OrderRecord
    | DisputeRecord
    | ExchangeRateRecord
)


@dataclass(frozen=True)
class UpsertResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: UpsertResult) -> UpsertResult:
        return UpsertResult(
            self.created + other.created, self.updated + other.updated, self.unchanged + other.unchanged
        )

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


def parse_row(
    kind: str,
    row: Mapping[str, str | None],
    *,
    entity: Entity,
    line: int | None = None,
    source: str = "",
) -> Record:
    """Validate one row of canonical columns (text cells) into a record.

    Checks formats (ISO dates, decimal amounts, currencies, countries, languages, e-mails, phones
    normalised to E.164, tax ids) and references that must already exist (the customer of an
    invoice). Raises ``relance.core.errors.ErrorList`` listing every ``FieldError`` of the row.
    """
    from relance.ingest.parsing import RowParser

    return RowParser(kind, entity=entity, preload=False).parse(row, line=line, source=source)


def upsert_records(kind: str, records: Iterable[Record], *, entity: Entity) -> UpsertResult:
    """Create or update the records' ledger rows by external ref, in one transaction.

    Unchanged rows are not written. Rules that depend on the ledger (never over-allocate an
    invoice or a payment, same currency, duplicate refs in one call) are checked here; if any
    record fails, nothing is written and ``ErrorList`` lists every failure.
    """
    from relance.ingest.services import records_upsert

    return records_upsert(kind=kind, records=records, entity=entity)

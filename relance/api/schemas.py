"""Request and response bodies. Input fields are deliberately loose (text or numbers): every
value is handed as text to the ingestion layer's ``parse_row``, the single place where imported
data is validated, so that the API and file imports accept and refuse exactly the same things.
"""

from __future__ import annotations

import datetime as dt
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated

from django.utils import timezone
from ninja import Field, Schema
from pydantic import AfterValidator, BeforeValidator, ConfigDict

EXPECTED_NUMBER = 'a JSON number or a decimal string such as "1200.00" (not true/false, a list or an object)'


def _number(value: object) -> object:
    """Strict on type: a JSON ``true`` is not the number 1 (lax validation took it as a credit limit
    of 1.00). Numbers arrive as int or Decimal (the API's JSON parser makes no floats); text is
    parsed by the ingestion layer like a file cell."""
    if value is None or isinstance(value, str | Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(EXPECTED_NUMBER)


Text = str | None
Number = Annotated[str | int | Decimal | None, BeforeValidator(_number)]
Flag = bool | str | None
MoneyText = Annotated[str, Field(description='decimal string, e.g. "1200.00"', examples=["1200.00"])]
DateText = Annotated[Text, Field(default=None, json_schema_extra={"format": "date"}, examples=["2026-01-15"])]

INSTANT_RANGE = "an instant that falls between the years 1 and 9999 in UTC"


def _utc_instant(value: datetime) -> datetime:
    """An aware UTC datetime (naive ones are in the server's time zone, as Django reads them).
    ``0001-01-01T00:01:00+01:00`` is a valid ISO 8601 instant whose UTC form is before year 1:
    a 422 here rather than an OverflowError (a 500) in the database layer."""
    try:
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(INSTANT_RANGE) from None


Instant = Annotated[datetime, AfterValidator(_utc_instant)]

# -- errors and pages ---------------------------------------------------------------------------


class ErrorDetail(Schema):
    field: str
    message: str
    index: int | None = None


class ErrorInfo(Schema):
    code: str = Field(examples=["not_found"])
    message: str
    details: list[ErrorDetail] = []


class ErrorOut(Schema):
    error: ErrorInfo


class UpsertCounts(Schema):
    created: int
    updated: int
    unchanged: int


# -- outputs ------------------------------------------------------------------------------------


class CustomerOut(Schema):
    id: int
    customer_ref: str
    name: str
    parent_ref: str | None
    currency: str
    payment_terms_days: int
    credit_limit: MoneyText | None
    segment: str
    language: str
    country: str
    timezone: str
    tax_id: str
    registration_id: str
    created_at: datetime
    updated_at: datetime


class ContactOut(Schema):
    id: int
    contact_ref: str | None
    customer_ref: str
    name: str
    role: str
    email: str
    phone: str
    preferred_channel: str
    postal_address: str
    opt_out_email: bool
    opt_out_sms: bool
    opt_out_letter: bool
    opt_out_phone: bool
    email_status: str
    phone_status: str
    address_status: str
    email_reason: str
    phone_reason: str
    address_reason: str
    phone_kind: str
    confirmed_on: date | None
    created_at: datetime
    updated_at: datetime


class InvoiceOut(Schema):
    id: int
    invoice_ref: str
    customer_ref: str
    issue_date: date
    due_date: date
    currency: str
    amount: MoneyText
    allocated: MoneyText = Field(description="allocated by payments and credit notes up to today")
    open_amount: MoneyText = Field(description="amount − allocated (0 for a void invoice)")
    po_number: str
    status: str
    created_at: datetime
    updated_at: datetime


class NestedAllocationOut(Schema):
    invoice_ref: str
    date: date
    amount: MoneyText


class PaymentOut(Schema):
    id: int
    payment_ref: str
    customer_ref: str
    date: date
    currency: str
    amount: MoneyText
    allocated: MoneyText
    unallocated: MoneyText
    method: str
    returned_on: dt.date | None = Field(description="when the payment came back unpaid (NSF, chargeback)")
    allocations: list[NestedAllocationOut]
    created_at: datetime
    updated_at: datetime


class CreditNoteOut(Schema):
    id: int
    credit_note_ref: str
    customer_ref: str
    date: date
    currency: str
    amount: MoneyText
    allocated: MoneyText
    unallocated: MoneyText
    reason: str
    allocations: list[NestedAllocationOut]
    created_at: datetime
    updated_at: datetime


class AllocationOut(Schema):
    id: int
    invoice_ref: str
    payment_ref: str | None
    credit_note_ref: str | None
    date: date
    currency: str
    amount: MoneyText
    created_at: datetime
    updated_at: datetime


class OrderOut(Schema):
    id: int
    order_ref: str
    customer_ref: str
    date: date
    currency: str
    amount: MoneyText
    status: str = Field(description="open, delivered (not invoiced), invoiced or cancelled")
    created_at: datetime
    updated_at: datetime


class CustomerPage(Schema):
    items: list[CustomerOut]
    next_cursor: str | None


class ContactPage(Schema):
    items: list[ContactOut]
    next_cursor: str | None


class InvoicePage(Schema):
    items: list[InvoiceOut]
    next_cursor: str | None


class PaymentPage(Schema):
    items: list[PaymentOut]
    next_cursor: str | None


class CreditNotePage(Schema):
    items: list[CreditNoteOut]
    next_cursor: str | None


class AllocationPage(Schema):
    items: list[AllocationOut]
    next_cursor: str | None


class OrderPage(Schema):
    items: list[OrderOut]
    next_cursor: str | None


class CustomerUpserted(Schema):
    result: str = Field(examples=["created"], description="created, updated or unchanged")
    item: CustomerOut


class ContactUpserted(Schema):
    result: str
    item: ContactOut


class InvoiceUpserted(Schema):
    result: str
    item: InvoiceOut


class PaymentUpserted(Schema):
    result: str
    item: PaymentOut


class CreditNoteUpserted(Schema):
    result: str
    item: CreditNoteOut


class OrderUpserted(Schema):
    result: str
    item: OrderOut


# -- inputs: the canonical import columns (docs/import.md), as JSON ------------------------------


class _In(Schema):
    model_config = ConfigDict(extra="forbid")


class CustomerIn(_In):
    customer_ref: Text = Field(None, description="the key; taken from the URL in PUT", examples=["C-1001"])
    name: Text = Field(None, examples=["Dupont SARL"])
    currency: Text = Field(None, examples=["EUR"])
    payment_terms_days: Number = Field(None, examples=[30])
    credit_limit: Number = Field(None, examples=["50000.00"])
    segment: Text = None
    language: Text = Field(None, examples=["fr"])
    country: Text = Field(None, examples=["FR"])
    email: Text = Field(None, description="primary billing contact's e-mail")
    phone: Text = Field(None, description="primary billing contact's phone")
    parent_ref: Text = None
    tax_id: Text = None
    registration_id: Text = None
    timezone: Text = Field(None, examples=["Europe/Paris"])


class ContactIn(_In):
    contact_ref: Text = Field(None, description="the key; taken from the URL in PUT")
    customer_ref: Text = Field(None, examples=["C-1001"])
    name: Text = None
    role: Text = Field(None, examples=["billing"])
    email: Text = None
    phone: Text = None
    preferred_channel: Text = Field(None, examples=["email"])
    postal_address: Text = None
    opt_out_email: Flag = None
    opt_out_sms: Flag = None
    opt_out_letter: Flag = None
    opt_out_phone: Flag = None


class InvoiceIn(_In):
    invoice_ref: Text = Field(None, description="the key; taken from the URL in PUT")
    customer_ref: Text = Field(None, examples=["C-1001"])
    issue_date: DateText
    due_date: DateText
    currency: Text = Field(None, examples=["EUR"])
    amount: Number = Field(None, examples=["1200.00"])
    po_number: Text = None
    status: Text = Field(None, examples=["open"])


class CreditNoteIn(_In):
    credit_note_ref: Text = Field(None, description="the key; taken from the URL in PUT")
    customer_ref: Text = Field(None, examples=["C-1001"])
    date: DateText
    amount: Number = Field(None, examples=["100.00"])
    currency: Text = None
    invoice_ref: Text = Field(None, description="allocate the whole credit note to this invoice")
    reason: Text = None


class AllocationIn(_In):
    invoice_ref: Text = Field(None, examples=["INV-2026-0001"])
    amount: Number = Field(None, examples=["300.00"])


class PaymentIn(_In):
    payment_ref: Text = Field(None, description="the key; taken from the URL in PUT")
    customer_ref: Text = Field(None, examples=["C-1001"])
    date: DateText
    amount: Number = Field(None, description="the whole payment; what allocations leave is unapplied")
    currency: Text = None
    method: Text = None
    returned_on: DateText
    allocations: list[AllocationIn] = []


class OrderIn(_In):
    order_ref: Text = Field(None, description="the key; taken from the URL in PUT")
    customer_ref: Text = Field(None, examples=["C-1001"])
    date: DateText
    currency: Text = Field(None, examples=["EUR"])
    amount: Number = Field(None, examples=["4800.00"])
    status: Text = Field(None, examples=["open"], description="open, delivered, invoiced or cancelled")


MAX_BULK_ITEMS = 10_000


class CustomerBulkIn(_In):
    items: list[CustomerIn] = Field(..., max_length=MAX_BULK_ITEMS)


class ContactBulkIn(_In):
    items: list[ContactIn] = Field(..., max_length=MAX_BULK_ITEMS)


class InvoiceBulkIn(_In):
    items: list[InvoiceIn] = Field(..., max_length=MAX_BULK_ITEMS)


class CreditNoteBulkIn(_In):
    items: list[CreditNoteIn] = Field(..., max_length=MAX_BULK_ITEMS)


class PaymentBulkIn(_In):
    items: list[PaymentIn] = Field(..., max_length=MAX_BULK_ITEMS)


class OrderBulkIn(_In):
    items: list[OrderIn] = Field(..., max_length=MAX_BULK_ITEMS)


class ContactReturnedIn(Schema):
    """A letter came back: its ``reference`` (the letter's Message-ID or the print provider's id:
    matched first, it names the contact and the letter), else ``contact_ref`` (or ``customer_ref``
    alone when the customer has one contact with a postal address); the day it came back and why."""

    reference: str | None = Field(None, max_length=200)
    contact_ref: str | None = None
    customer_ref: str | None = None
    returned_on: date | None = None
    reason: str = Field("", max_length=200)


class ContactReturnedOut(Schema):
    customer_ref: str
    contact_ref: str
    address_status: str
    address_reason: str
    changed: bool

"""Typed shapes of Relance's API v1, generated from /api/v1/openapi.json by relance_client.generate.

Do not edit: regenerate (tests/api/test_client.py fails when this file and the API differ).
Money is a decimal string (never a float); dates are ISO strings.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict


class CustomerIn(TypedDict):
    customer_ref: NotRequired[str | None]
    name: NotRequired[str | None]
    currency: NotRequired[str | None]
    payment_terms_days: NotRequired[str | int | None]
    credit_limit: NotRequired[str | int | None]
    segment: NotRequired[str | None]
    language: NotRequired[str | None]
    country: NotRequired[str | None]
    email: NotRequired[str | None]
    phone: NotRequired[str | None]
    parent_ref: NotRequired[str | None]
    tax_id: NotRequired[str | None]
    registration_id: NotRequired[str | None]
    timezone: NotRequired[str | None]


class CustomerOut(TypedDict):
    id: int
    customer_ref: str
    name: str
    parent_ref: str | None
    currency: str
    payment_terms_days: int
    credit_limit: str | None
    segment: str
    language: str
    country: str
    timezone: str
    tax_id: str
    registration_id: str
    created_at: str
    updated_at: str


class CustomerPage(TypedDict):
    items: list[CustomerOut]
    next_cursor: str | None


class CustomerUpserted(TypedDict):
    result: str
    item: CustomerOut


class ContactIn(TypedDict):
    contact_ref: NotRequired[str | None]
    customer_ref: NotRequired[str | None]
    name: NotRequired[str | None]
    role: NotRequired[str | None]
    email: NotRequired[str | None]
    phone: NotRequired[str | None]
    preferred_channel: NotRequired[str | None]
    postal_address: NotRequired[str | None]
    opt_out_email: NotRequired[bool | str | None]
    opt_out_sms: NotRequired[bool | str | None]
    opt_out_letter: NotRequired[bool | str | None]
    opt_out_phone: NotRequired[bool | str | None]


class ContactOut(TypedDict):
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
    confirmed_on: str | None
    created_at: str
    updated_at: str


class ContactPage(TypedDict):
    items: list[ContactOut]
    next_cursor: str | None


class ContactUpserted(TypedDict):
    result: str
    item: ContactOut


class InvoiceIn(TypedDict):
    invoice_ref: NotRequired[str | None]
    customer_ref: NotRequired[str | None]
    issue_date: NotRequired[str | None]
    due_date: NotRequired[str | None]
    currency: NotRequired[str | None]
    amount: NotRequired[str | int | None]
    po_number: NotRequired[str | None]
    status: NotRequired[str | None]


class InvoiceOut(TypedDict):
    id: int
    invoice_ref: str
    customer_ref: str
    issue_date: str
    due_date: str
    currency: str
    amount: str
    allocated: str
    open_amount: str
    po_number: str
    status: str
    created_at: str
    updated_at: str


class InvoicePage(TypedDict):
    items: list[InvoiceOut]
    next_cursor: str | None


class InvoiceUpserted(TypedDict):
    result: str
    item: InvoiceOut


class CreditNoteIn(TypedDict):
    credit_note_ref: NotRequired[str | None]
    customer_ref: NotRequired[str | None]
    date: NotRequired[str | None]
    amount: NotRequired[str | int | None]
    currency: NotRequired[str | None]
    invoice_ref: NotRequired[str | None]
    reason: NotRequired[str | None]


class CreditNoteOut(TypedDict):
    id: int
    credit_note_ref: str
    customer_ref: str
    date: str
    currency: str
    amount: str
    allocated: str
    unallocated: str
    reason: str
    allocations: list[NestedAllocationOut]
    created_at: str
    updated_at: str


class CreditNotePage(TypedDict):
    items: list[CreditNoteOut]
    next_cursor: str | None


class CreditNoteUpserted(TypedDict):
    result: str
    item: CreditNoteOut


class AllocationIn(TypedDict):
    invoice_ref: NotRequired[str | None]
    amount: NotRequired[str | int | None]


class NestedAllocationOut(TypedDict):
    invoice_ref: str
    date: str
    amount: str


class PaymentIn(TypedDict):
    payment_ref: NotRequired[str | None]
    customer_ref: NotRequired[str | None]
    date: NotRequired[str | None]
    amount: NotRequired[str | int | None]
    currency: NotRequired[str | None]
    method: NotRequired[str | None]
    returned_on: NotRequired[str | None]
    allocations: NotRequired[list[AllocationIn]]


class PaymentOut(TypedDict):
    id: int
    payment_ref: str
    customer_ref: str
    date: str
    currency: str
    amount: str
    allocated: str
    unallocated: str
    method: str
    returned_on: str | None
    allocations: list[NestedAllocationOut]
    created_at: str
    updated_at: str


class PaymentPage(TypedDict):
    items: list[PaymentOut]
    next_cursor: str | None


class PaymentUpserted(TypedDict):
    result: str
    item: PaymentOut


class OrderIn(TypedDict):
    order_ref: NotRequired[str | None]
    customer_ref: NotRequired[str | None]
    date: NotRequired[str | None]
    currency: NotRequired[str | None]
    amount: NotRequired[str | int | None]
    status: NotRequired[str | None]


class OrderOut(TypedDict):
    id: int
    order_ref: str
    customer_ref: str
    date: str
    currency: str
    amount: str
    status: str
    created_at: str
    updated_at: str


class OrderPage(TypedDict):
    items: list[OrderOut]
    next_cursor: str | None


class OrderUpserted(TypedDict):
    result: str
    item: OrderOut


class AllocationOut(TypedDict):
    id: int
    invoice_ref: str
    payment_ref: str | None
    credit_note_ref: str | None
    date: str
    currency: str
    amount: str
    created_at: str
    updated_at: str


class AllocationPage(TypedDict):
    items: list[AllocationOut]
    next_cursor: str | None


class UpsertCounts(TypedDict):
    created: int
    updated: int
    unchanged: int


class ErrorDetail(TypedDict):
    field: str
    message: str
    index: NotRequired[int | None]


class ErrorInfo(TypedDict):
    code: str
    message: str
    details: NotRequired[list[ErrorDetail]]


class ErrorOut(TypedDict):
    error: ErrorInfo

"""Ledger rows → JSON-ready dicts. Money is a decimal string next to its currency, never a float."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from relance.core.formatting import exact_amount
from relance.ledger.models import Allocation, Contact, CreditNote, Customer, Invoice, Order, Payment


def _stamps(row: Any) -> dict[str, Any]:
    return {"created_at": row.created_at, "updated_at": row.updated_at}


def customer_json(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.pk,
        "customer_ref": customer.external_ref,
        "name": customer.name,
        "parent_ref": customer.parent.external_ref if customer.parent_id and customer.parent else None,
        "currency": customer.currency,
        "payment_terms_days": customer.payment_terms_days,
        "credit_limit": exact_amount(customer.credit_limit, customer.currency),
        "segment": customer.segment,
        "language": customer.language,
        "country": customer.country,
        "timezone": customer.timezone,
        "tax_id": customer.tax_id,
        "registration_id": customer.registration_id,
        **_stamps(customer),
    }


def contact_json(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.pk,
        "contact_ref": contact.external_ref or None,
        "customer_ref": contact.customer.external_ref,
        "name": contact.name,
        "role": contact.role,
        "email": contact.email,
        "phone": contact.phone,
        "preferred_channel": contact.preferred_channel,
        "postal_address": contact.postal_address,
        "opt_out_email": contact.opt_out_email,
        "opt_out_sms": contact.opt_out_sms,
        "opt_out_letter": contact.opt_out_letter,
        "opt_out_phone": contact.opt_out_phone,
        "email_status": contact.email_status,
        "phone_status": contact.phone_status,
        "address_status": contact.address_status,
        "email_reason": contact.email_reason,
        "phone_reason": contact.phone_reason,
        "address_reason": contact.address_reason,
        "phone_kind": contact.phone_kind,
        "confirmed_on": contact.confirmed_on.isoformat() if contact.confirmed_on else None,
        **_stamps(contact),
    }


def invoice_json(invoice: Invoice) -> dict[str, Any]:
    """Needs the ``allocated`` and ``open_amount`` annotations of ``selectors.invoice_list``."""
    currency = invoice.currency
    open_amount = Decimal(0) if invoice.status == "void" else invoice.open_amount  # type: ignore[attr-defined]
    return {
        "id": invoice.pk,
        "invoice_ref": invoice.external_ref,
        "customer_ref": invoice.customer.external_ref,
        "issue_date": invoice.issue_date,
        "due_date": invoice.due_date,
        "currency": currency,
        "amount": exact_amount(invoice.amount, currency),
        "allocated": exact_amount(invoice.allocated, currency),  # type: ignore[attr-defined]
        "open_amount": exact_amount(open_amount, currency),
        "po_number": invoice.po_number,
        "status": invoice.status,
        **_stamps(invoice),
    }


def _source_json(source: Payment | CreditNote, ref_field: str) -> dict[str, Any]:
    currency = source.currency
    allocations = list(source.allocations.all())  # prefetched, with their invoices
    allocated = sum((allocation.amount for allocation in allocations), Decimal(0))
    return {
        "id": source.pk,
        ref_field: source.external_ref,
        "customer_ref": source.customer.external_ref,
        "date": source.date,
        "currency": currency,
        "amount": exact_amount(source.amount, currency),
        "allocated": exact_amount(allocated, currency),
        "unallocated": exact_amount(source.amount - allocated, currency),
        "allocations": [
            {
                "invoice_ref": allocation.invoice.external_ref,
                "date": allocation.date,
                "amount": exact_amount(allocation.amount, currency),
            }
            for allocation in allocations
        ],
        **_stamps(source),
    }


def payment_json(payment: Payment) -> dict[str, Any]:
    return {
        **_source_json(payment, "payment_ref"),
        "method": payment.method,
        "returned_on": payment.returned_on,
    }


def order_json(order: Order) -> dict[str, Any]:
    return {
        "id": order.pk,
        "order_ref": order.external_ref,
        "customer_ref": order.customer.external_ref,
        "date": order.order_date,
        "currency": order.currency,
        "amount": exact_amount(order.amount, order.currency),
        "status": order.status,
        **_stamps(order),
    }


def credit_note_json(credit_note: CreditNote) -> dict[str, Any]:
    return {**_source_json(credit_note, "credit_note_ref"), "reason": credit_note.reason}


def allocation_json(allocation: Allocation) -> dict[str, Any]:
    currency = allocation.invoice.currency
    return {
        "id": allocation.pk,
        "invoice_ref": allocation.invoice.external_ref,
        "payment_ref": allocation.payment.external_ref if allocation.payment else None,
        "credit_note_ref": allocation.credit_note.external_ref if allocation.credit_note else None,
        "date": allocation.date,
        "currency": currency,
        "amount": exact_amount(allocation.amount, currency),
        **_stamps(allocation),
    }

"""What credit notes and payments share: the checks of ``allocation_create``, in bulk."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from relance.ingest.services.bulk import fresh_statistics
from relance.ingest.services.invoices import InvoiceState
from relance.ingest.services.rejects import EXPECTED_NOT_OVER_INVOICE, money_text
from relance.ingest.services.writer import Writer
from relance.ledger.models import (
    Allocation,
    CreditNote,
    Invoice,
    InvoiceStatus,
    Payment,
)
from relance.ledger.services import (
    ALLOCATION_BEFORE_ISSUE,
    ALLOCATION_CURRENCY_MISMATCH,
    ALLOCATION_OTHER_CUSTOMER,
    ALLOCATION_VOID_INVOICE,
)


class AllocatingWriter(Writer):
    """Shared rules of credit notes and payments: the checks of ``allocation_create``, in bulk."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.bulk:
            fresh_statistics(Invoice, Allocation, CreditNote, Payment)
        self._batches = 0

    def _allocation_problem(
        self,
        state: InvoiceState,
        *,
        customer_id: int,
        currency: str,
        on: date,
        amount: Decimal,
        released: Decimal,
    ) -> tuple[str, str, object] | None:
        if state.status == InvoiceStatus.VOID:
            return (
                "invoice_ref",
                "an open invoice (" + ALLOCATION_VOID_INVOICE.format(ref=state.ref) + ")",
                state.ref,
            )
        if currency != state.currency:
            message = ALLOCATION_CURRENCY_MISMATCH.format(
                source_currency=currency, invoice_currency=state.currency
            )
            return "currency", f"{state.currency}, the invoice's currency ({message})", currency
        if customer_id != state.customer_id and self._root(customer_id) != self._root(state.customer_id):
            return (
                "invoice_ref",
                "an invoice of the same customer account ("
                + ALLOCATION_OTHER_CUSTOMER.format(invoice=state.ref)
                + ")",
                state.ref,
            )
        if on < state.issue_date:
            message = ALLOCATION_BEFORE_ISSUE.format(date=on, issue_date=state.issue_date)
            return "date", f"a date on or after the invoice's issue date ({message})", on
        open_amount = state.amount - state.allocated + released
        if amount > open_amount:
            return (
                "amount",
                EXPECTED_NOT_OVER_INVOICE.format(open_amount=money_text(open_amount), ref=state.ref),
                amount,
            )
        return None

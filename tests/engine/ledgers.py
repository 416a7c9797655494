"""Small ledgers as engine-schema rows, built in Python, for loading into any backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any


@dataclass
class LedgerRows:
    """Accumulates rows of the five engine tables; ids are assigned in order."""

    entity_id: int = 1
    currency: str = "EUR"
    invoices: list[dict[str, Any]] = field(default_factory=list)
    credit_notes: list[dict[str, Any]] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)
    allocations: list[dict[str, Any]] = field(default_factory=list)
    customers: list[dict[str, Any]] = field(default_factory=list)

    def customer(
        self, ref: str, *, segment: str = "", collector: str = "", entity_id: int | None = None
    ) -> int:
        customer_id = len(self.customers) + 1
        self.customers.append(
            {
                "customer_id": customer_id,
                "entity_id": entity_id or self.entity_id,
                "external_ref": ref,
                "name": f"Customer {ref}",
                "parent_id": None,
                "segment": segment,
                "collector": collector,
                "payment_terms_days": 30,
            }
        )
        return customer_id

    def invoice(
        self,
        amount: str | int | Decimal,
        issued: date,
        due: date,
        *,
        customer: int = 1,
        currency: str | None = None,
        status: str = "open",
        entity_id: int | None = None,
    ) -> int:
        invoice_id = len(self.invoices) + 1
        self.invoices.append(
            {
                "invoice_id": invoice_id,
                "entity_id": entity_id or self.entity_id,
                "customer_id": customer,
                "currency": currency or self.currency,
                "issue_date": issued,
                "due_date": due,
                "amount": Decimal(amount),
                "status": status,
            }
        )
        return invoice_id

    def credit_note(
        self, amount: str | int | Decimal, on: date, *, customer: int = 1, currency: str | None = None
    ) -> int:
        credit_note_id = len(self.credit_notes) + 1
        self.credit_notes.append(
            {
                "credit_note_id": credit_note_id,
                "entity_id": self.entity_id,
                "customer_id": customer,
                "currency": currency or self.currency,
                "date": on,
                "amount": Decimal(amount),
            }
        )
        return credit_note_id

    def payment(
        self, amount: str | int | Decimal, on: date, *, customer: int = 1, currency: str | None = None
    ) -> int:
        payment_id = len(self.payments) + 1
        self.payments.append(
            {
                "payment_id": payment_id,
                "entity_id": self.entity_id,
                "customer_id": customer,
                "currency": currency or self.currency,
                "date": on,
                "amount": Decimal(amount),
            }
        )
        return payment_id

    def allocate(
        self,
        invoice: int,
        amount: str | int | Decimal,
        on: date,
        *,
        payment: int | None = None,
        credit_note: int | None = None,
    ) -> None:
        self.allocations.append(
            {
                "invoice_id": invoice,
                "entity_id": self.entity_id,
                "payment_id": payment,
                "credit_note_id": credit_note,
                "date": on,
                "amount": Decimal(amount),
            }
        )

    def pay(
        self,
        invoice: int,
        amount: str | int | Decimal,
        on: date,
        *,
        customer: int = 1,
        currency: str | None = None,
    ) -> int:
        """A payment of exactly ``amount`` applied to ``invoice`` the same day."""
        payment = self.payment(amount, on, customer=customer, currency=currency)
        self.allocate(invoice, amount, on, payment=payment)
        return payment

    def rows(self) -> dict[str, list[dict[str, Any]]]:
        if not self.customers:
            self.customer("C1")
        return {
            "invoices": self.invoices,
            "credit_notes": self.credit_notes,
            "payments": self.payments,
            "allocations": self.allocations,
            "customers": self.customers,
        }


def shared_dataset() -> LedgerRows:
    """The §4.0 dataset: Q1 2023 sales 100k/120k/150k; AR 200k at 1 Jan, 190k at 1 Mar, 210k at
    31 Mar of which current 140k and past due 35k/10k/5k/20k in 1-30/31-60/61-90/91+."""
    ledger = LedgerRows()
    ledger.customer("C1", segment="retail", collector="alice")
    # AR at the start of the year: 200,000
    old_91 = ledger.invoice(20_000, date(2022, 9, 1), date(2022, 10, 1))  # 91+ at 31 Mar
    old_61 = ledger.invoice(5_000, date(2022, 12, 1), date(2023, 1, 15))  # 61-90 at 31 Mar (DPD 75)
    old_paid = ledger.invoice(175_000, date(2022, 12, 15), date(2023, 1, 14))
    # January sales: 100,000
    jan_open = ledger.invoice(10_000, date(2023, 1, 5), date(2023, 2, 15))  # 31-60 (DPD 44)
    jan_paid = ledger.invoice(90_000, date(2023, 1, 10), date(2023, 2, 9))
    # February sales: 120,000
    feb_late = ledger.invoice(35_000, date(2023, 2, 10), date(2023, 3, 12))  # 1-30 (DPD 19)
    feb_current = ledger.invoice(40_000, date(2023, 2, 20), date(2023, 4, 20))  # current
    feb_paid = ledger.invoice(45_000, date(2023, 2, 1), date(2023, 3, 3))
    # March sales: 150,000
    mar_current = ledger.invoice(100_000, date(2023, 3, 15), date(2023, 4, 14))  # current
    mar_paid = ledger.invoice(50_000, date(2023, 3, 20), date(2023, 3, 31))
    ledger.pay(old_paid, 175_000, date(2023, 1, 20))
    ledger.pay(jan_paid, 55_000, date(2023, 2, 15))  # 35,000 still open at the end of February
    ledger.pay(jan_paid, 35_000, date(2023, 3, 10))
    ledger.pay(feb_paid, 45_000, date(2023, 3, 5))
    ledger.pay(mar_paid, 50_000, date(2023, 3, 28))
    del old_91, old_61, jan_open, feb_late, feb_current, mar_current
    return ledger

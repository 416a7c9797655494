"""Load the engine tests' small ledgers into the app database, through the ledger services."""

from __future__ import annotations

import pytest

from tests.engine.ledgers import LedgerRows


@pytest.fixture
def load_ledger(entity):
    """``load_ledger(rows)`` writes a ``LedgerRows`` into Django (allocations via the service)."""
    from django.contrib.auth import get_user_model

    from relance.ledger.models import CreditNote, Customer, Invoice, Payment
    from relance.ledger.services import allocation_create

    def load(ledger: LedgerRows) -> None:
        rows = ledger.rows()
        users = {}
        customers = {}
        for row in rows["customers"]:
            collector = None
            if row["collector"]:
                if row["collector"] not in users:
                    users[row["collector"]] = get_user_model().objects.create_user(username=row["collector"])
                collector = users[row["collector"]]
            customers[row["customer_id"]] = Customer.objects.create(
                entity=entity,
                external_ref=row["external_ref"],
                name=row["name"],
                currency=entity.currency,
                segment=row["segment"],
                collector=collector,
            )
        invoices = {
            row["invoice_id"]: Invoice.objects.create(
                entity=entity,
                customer=customers[row["customer_id"]],
                external_ref=f"INV-{row['invoice_id']}",
                issue_date=row["issue_date"],
                due_date=row["due_date"],
                currency=row["currency"],
                amount=row["amount"],
                status=row["status"],
            )
            for row in rows["invoices"]
        }
        payments = {
            row["payment_id"]: Payment.objects.create(
                entity=entity,
                customer=customers[row["customer_id"]],
                external_ref=f"PAY-{row['payment_id']}",
                date=row["date"],
                currency=row["currency"],
                amount=row["amount"],
            )
            for row in rows["payments"]
        }
        credit_notes = {
            row["credit_note_id"]: CreditNote.objects.create(
                entity=entity,
                customer=customers[row["customer_id"]],
                external_ref=f"CN-{row['credit_note_id']}",
                date=row["date"],
                currency=row["currency"],
                amount=row["amount"],
            )
            for row in rows["credit_notes"]
        }
        for row in rows["allocations"]:
            allocation_create(
                invoice=invoices[row["invoice_id"]],
                amount=row["amount"],
                on=row["date"],
                payment=payments.get(row["payment_id"]) if row["payment_id"] else None,
                credit_note=credit_notes.get(row["credit_note_id"]) if row["credit_note_id"] else None,
            )

    return load

"""A small ledger in the app database: customer P pays 2 days before the due date, L 20 days
after it, month after month; on 31 Mar 2026, L's invoice of 26 Feb (INV-16) and both of 28 Mar (INV-17, INV-18) are open."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

AS_OF = date(2026, 3, 31)


@pytest.fixture
def habits_ledger(entity, make_customer, make_invoice, make_payment):
    from relance.ledger.models import Allocation

    customers = {ref: make_customer(ref) for ref in ("P", "L")}
    number = 0
    for month in range(9):
        for ref, customer in customers.items():
            number += 1
            issued = date(2025, 8, 1) + timedelta(days=30 * month)
            due = issued + timedelta(days=30)
            invoice = make_invoice(customer, f"INV-{number}", "1000.00", issued, due)
            paid = due + timedelta(days=-2 if ref == "P" else 20)
            if paid > AS_OF:
                continue
            payment = make_payment(customer, f"PAY-{number}", "1000.00", paid)
            Allocation.objects.create(
                entity=entity, invoice=invoice, payment=payment, date=paid, amount=invoice.amount
            )
    return customers

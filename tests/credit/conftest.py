"""Customers with a payment history the credit tests share (scored as of ``AS_OF``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

AS_OF = date(2026, 9, 1)


@dataclass
class Book:
    prompt: Any  # class A, paid on the day for months, 300 open
    new: Any  # nothing known (class C), no limit


@pytest.fixture
def book(entity, make_customer, make_invoice, make_payment) -> Book:
    from relance.ledger.models import Allocation

    prompt = make_customer("P", name="Prompt Payer SA", credit_limit=Decimal("1000"))
    new = make_customer("N", name="New Customer SARL")
    for month in range(8):  # paid on the due day, month after month
        due = date(2026, 1, 5) + timedelta(days=30 * month)
        if due >= AS_OF:
            break
        invoice = make_invoice(prompt, f"I{month}", "100", due - timedelta(days=30), due)
        payment = make_payment(prompt, f"PAY{month}", "100", due)
        Allocation.objects.create(entity=entity, invoice=invoice, payment=payment, date=due, amount=100)
    make_invoice(prompt, "OPEN", "300", date(2026, 8, 15), date(2026, 9, 14))
    make_invoice(new, "NEW1", "500", date(2026, 8, 20), date(2026, 9, 19))
    return Book(prompt=prompt, new=new)

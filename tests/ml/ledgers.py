"""Ledgers for the prediction tests: customers with a known habit, paid month after month."""

from __future__ import annotations

import random
from datetime import date, timedelta

from tests.engine.dunning.rows import DunningRows

START = date(2025, 1, 6)


def habits_ledger(
    *,
    customers: int = 12,
    months: int = 18,
    seed: int = 7,
    never_pays: tuple[str, ...] = (),
) -> DunningRows:
    """Customers P* pay about 2 days before the due date, L* about 25 days after it (± a few
    days), with 30-day terms and two invoices a month each; the customers in ``never_pays``
    have invoices and never pay any. Payments dated after any as-of date are in the rows too:
    the tests cut them by date."""
    random_ = random.Random(seed)
    rows = DunningRows()
    refs = [f"P{i}" if i % 2 == 0 else f"L{i}" for i in range(customers)] + list(never_pays)
    for ref in refs:
        customer = rows.dunned_customer(ref)
        for month in range(months):
            for half in (0, 15):
                issued = START + timedelta(days=30 * month + half)
                due = issued + timedelta(days=30)
                amount = random_.choice((400, 900, 1500, 3000))
                invoice = rows.invoice(amount, issued, due, customer=customer)
                if ref in never_pays:
                    continue
                late = -2 if ref.startswith("P") else 25
                paid = due + timedelta(days=late + random_.randint(-3, 3))
                rows.pay(invoice, amount, paid, customer=customer)
    return rows

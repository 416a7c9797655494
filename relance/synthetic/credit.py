"""What credit management needs on top of a generated ledger: orders, exchange rates, returned payments.

Derived from a generated ledger (or one part of it) without randomness, so the same ledger gives
the same extras, part by part: customers are picked by id, dates are counted back from the
ledger's last day. What is written here is what ``relance import orders``, ``relance rates
import`` and the payments' ``returned_on`` column accept (tests/synthetic check it by importing).

The tables have the columns of the engine's optional credit tables (issue 15's shared contract):
``orders`` and ``exchange_rates`` as they are; ``returned_payments`` adds the ``payment_id`` it
was derived from (the engine's table is its other three columns).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from relance.synthetic.model import MONEY, Behaviour, GeneratedLedger, money_array

RATE = pa.decimal128(18, 8)
ORDERS = pa.schema(
    [
        ("order_id", pa.int64()),
        ("entity_id", pa.int64()),
        ("customer_id", pa.int64()),
        ("currency", pa.string()),
        ("order_date", pa.date32()),
        ("amount", MONEY),
        ("status", pa.string()),
    ]
)
EXCHANGE_RATES = pa.schema(
    [
        ("rate_date", pa.date32()),
        ("base_currency", pa.string()),
        ("quote_currency", pa.string()),
        ("rate", RATE),
    ]
)
RETURNED_PAYMENTS = pa.schema(
    [
        ("payment_id", pa.int64()),
        ("customer_id", pa.int64()),
        ("returned_on", pa.date32()),
        ("amount", MONEY),
    ]
)

# About a quarter of the customers have an open order, an eighth also one delivered, not invoiced.
OPEN_ORDER_EVERY = 4
DELIVERED_ORDER_EVERY = 8
# One payment in this many of the chronic late and sliding customers comes back unpaid.
RETURNED_EVERY = 47
RETURNED_AFTER_DAYS = 7
RISKY = (Behaviour.CHRONIC_LATE.value, Behaviour.SLIDING.value)
# What 1 unit of a currency is worth in EUR, roughly; rates to another base go through these.
EUR_VALUE = {
    "EUR": Decimal(1),
    "USD": Decimal("0.92"),
    "GBP": Decimal("1.17"),
    "CHF": Decimal("1.05"),
    "JPY": Decimal("0.0062"),
    "CAD": Decimal("0.68"),
    "SEK": Decimal("0.088"),
}
# A monthly wobble in per mille, so that the rate that applies depends on the date.
WOBBLE = (0, 4, 7, 3, -2, -6, -3, 1, 5, 2, -4, -1)


def ledger_last_day(ledger: GeneratedLedger) -> date | None:
    """The last invoice or payment date: orders and returns are placed before it."""
    days = [
        pc.max(table[column]).as_py()
        for table, column in ((ledger.invoices, "issue_date"), (ledger.payments, "date"))
        if table.num_rows
    ]
    return max(days) if days else None


def orders_table(ledger: GeneratedLedger) -> pa.Table:
    """A few open and delivered (unbilled) orders in the customers' currencies, before the last day."""
    last = ledger_last_day(ledger)
    customers = ledger.customers
    if last is None or customers.num_rows == 0:
        return ORDERS.empty_table()
    ids = customers["customer_id"].to_numpy()
    currency = np.array(customers["currency"].to_pylist(), dtype=object)
    rows: list[tuple[np.ndarray, str, int]] = []  # (customer positions, status, days back)
    opened = np.flatnonzero(ids % OPEN_ORDER_EVERY == 1)
    delivered = np.flatnonzero(ids % DELIVERED_ORDER_EVERY == 1)
    rows.append((opened, "open", 0))
    rows.append((delivered, "delivered", 1))
    positions = np.concatenate([part for part, _, _ in rows])
    statuses = np.concatenate([np.full(part.size, status, dtype=object) for part, status, _ in rows])
    second = np.concatenate([np.full(part.size, kind, dtype=np.int64) for part, _, kind in rows])
    customer_ids = ids[positions]
    order_ids = customer_ids * 2 - 1 + second  # unique: two kinds per customer at most
    days_back = (customer_ids * 7 + second * 11) % 25
    cents = ((customer_ids * 7919 + second * 104_729) % 9_000 + 1_000) * 100
    order = np.argsort(order_ids, kind="stable")
    return pa.table(
        {
            "order_id": pa.array(order_ids[order]),
            "entity_id": customers["entity_id"].take(pa.array(positions[order])),
            "customer_id": pa.array(customer_ids[order]),
            "currency": pa.array(list(currency[positions][order]), pa.string()),
            "order_date": pa.array([last - timedelta(days=int(d)) for d in days_back[order]], pa.date32()),
            "amount": money_array(cents[order]),
            "status": pa.array(list(statuses[order]), pa.string()),
        },
        schema=ORDERS,
    )


def returned_payments_table(ledger: GeneratedLedger) -> pa.Table:
    """A handful of the risky customers' payments, returned a week after they were received."""
    last = ledger_last_day(ledger)
    payments = ledger.payments
    if last is None or payments.num_rows == 0:
        return RETURNED_PAYMENTS.empty_table()
    customers = ledger.customers
    risky = pc.is_in(customers["behaviour"], pa.array(RISKY, pa.string())).to_numpy(zero_copy_only=False)
    risky_ids = customers["customer_id"].to_numpy()[risky]
    payment_ids = payments["payment_id"].to_numpy()
    cutoff = pa.scalar(last - timedelta(days=RETURNED_AFTER_DAYS), pa.date32())
    chosen = (
        np.isin(payments["customer_id"].to_numpy(), risky_ids)
        & (payment_ids % RETURNED_EVERY == 0)
        & pc.less_equal(payments["date"], cutoff).to_numpy(zero_copy_only=False)
    )
    picked = payments.filter(pa.array(chosen))
    return pa.table(
        {
            "payment_id": picked["payment_id"],
            "customer_id": picked["customer_id"],
            "returned_on": pa.array(
                [day + timedelta(days=RETURNED_AFTER_DAYS) for day in picked["date"].to_pylist()], pa.date32()
            ),
            "amount": picked["amount"],
        },
        schema=RETURNED_PAYMENTS,
    )


def _first_of_month(day: date) -> date:
    return day.replace(day=1)


def exchange_rates_table(currencies: Iterable[str], *, base: str, first: date, last: date) -> pa.Table:
    """One rate a month (on the 1st, from ``first``'s month to ``last``) from each currency in use to
    ``base``: enough for every conversion on or after ``first`` (the rule takes the latest on or
    before the date). Decimal arithmetic, 8 decimals."""
    quotes = sorted({code for code in currencies if code and code != base})
    base_value = EUR_VALUE.get(base, Decimal(1))
    rows: dict[str, list[object]] = {name: [] for name in EXCHANGE_RATES.names}
    month = _first_of_month(first)
    while month <= last:
        wobble = Decimal(1000 + WOBBLE[(month.year * 12 + month.month) % len(WOBBLE)]) / 1000
        for code in quotes:
            rate = (EUR_VALUE.get(code, Decimal(1)) / base_value * wobble).quantize(Decimal("1e-8"))
            rows["rate_date"].append(month)
            rows["base_currency"].append(code)
            rows["quote_currency"].append(base)
            rows["rate"].append(rate)
        month = (month + timedelta(days=32)).replace(day=1)
    return pa.table(rows, schema=EXCHANGE_RATES)


def ledger_first_day(ledger: GeneratedLedger) -> date | None:
    days = [
        pc.min(table[column]).as_py()
        for table, column in ((ledger.invoices, "issue_date"), (ledger.payments, "date"))
        if table.num_rows
    ]
    return min(days) if days else None

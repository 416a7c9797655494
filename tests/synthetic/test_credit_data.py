"""The generator's credit data (relance.synthetic.credit): the engine contract's columns, stable, sane."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pyarrow as pa

from relance.synthetic.credit import (
    EXCHANGE_RATES,
    ORDERS,
    RETURNED_PAYMENTS,
    exchange_rates_table,
    orders_table,
    returned_payments_table,
)
from relance.synthetic.generator import GeneratedLedger, GeneratorConfig, iter_ledger_chunks
from tests.synthetic.conftest import END

# Issue 15's engine contract (the optional DunningTables of the credit engine).
CONTRACT = {
    "orders": pa.schema(
        [
            ("order_id", pa.int64()),
            ("entity_id", pa.int64()),
            ("customer_id", pa.int64()),
            ("currency", pa.string()),
            ("order_date", pa.date32()),
            ("amount", pa.decimal128(18, 4)),
            ("status", pa.string()),
        ]
    ),
    "exchange_rates": pa.schema(
        [
            ("rate_date", pa.date32()),
            ("base_currency", pa.string()),
            ("quote_currency", pa.string()),
            ("rate", pa.decimal128(18, 8)),
        ]
    ),
    "returned_payments": pa.schema(
        [("customer_id", pa.int64()), ("returned_on", pa.date32()), ("amount", pa.decimal128(18, 4))]
    ),
}


def test_the_tables_have_the_engine_contracts_columns(ledger: GeneratedLedger) -> None:
    orders, returned = orders_table(ledger), returned_payments_table(ledger)
    rates = exchange_rates_table({"USD", "GBP", "EUR"}, base="EUR", first=END - timedelta(days=90), last=END)
    assert orders.schema == ORDERS
    assert orders.select(CONTRACT["orders"].names).schema == CONTRACT["orders"]
    assert rates.schema == EXCHANGE_RATES == CONTRACT["exchange_rates"]
    assert returned.schema == RETURNED_PAYMENTS
    assert returned.select(CONTRACT["returned_payments"].names).schema == CONTRACT["returned_payments"]


def test_orders_and_returns_are_few_sane_and_the_same_for_the_same_ledger(ledger: GeneratedLedger) -> None:
    orders, returned = orders_table(ledger), returned_payments_table(ledger)
    assert orders.equals(orders_table(ledger)) and returned.equals(returned_payments_table(ledger))
    assert 0 < orders.num_rows < ledger.customers.num_rows
    assert len(set(orders["order_id"].to_pylist())) == orders.num_rows
    assert set(orders["status"].to_pylist()) == {"open", "delivered"}
    currency_of = dict(
        zip(*(ledger.customers[c].to_pylist() for c in ("customer_id", "currency")), strict=True)
    )
    assert all(
        currency_of[c] == cur
        for c, cur in zip(*(orders[c].to_pylist() for c in ("customer_id", "currency")), strict=True)
    )
    assert all(Decimal(0) < amount for amount in orders["amount"].to_pylist())
    assert 0 < returned.num_rows < ledger.payments.num_rows // 50
    paid = dict(zip(*(ledger.payments[c].to_pylist() for c in ("payment_id", "date")), strict=True))
    assert all(
        paid[p] < on <= END
        for p, on in zip(*(returned[c].to_pylist() for c in ("payment_id", "returned_on")), strict=True)
    )


def test_rates_cover_every_month_in_decimal() -> None:
    rates = exchange_rates_table({"USD", "EUR", "GBP"}, base="GBP", first=END - timedelta(days=70), last=END)
    assert set(rates["base_currency"].to_pylist()) == {"USD", "EUR"}
    assert set(rates["quote_currency"].to_pylist()) == {"GBP"}
    assert rates["rate_date"].to_pylist()[0] == (END - timedelta(days=70)).replace(day=1)
    assert all(isinstance(rate, Decimal) and rate > 0 for rate in rates["rate"].to_pylist())


def test_order_refs_stay_unique_across_chunks() -> None:
    config = GeneratorConfig(seed=5, customers=60, invoices=3_000, end=END, chunk_invoices=500)
    ids = [i for part in iter_ledger_chunks(config) for i in orders_table(part)["order_id"].to_pylist()]
    assert ids and len(ids) == len(set(ids))

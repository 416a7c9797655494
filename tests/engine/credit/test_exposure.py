"""Credit exposure: open receivables + unbilled orders, converted, rolled up to the limit holder."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from relance.engine.credit.exposure import exposure_expr
from relance.engine.dunning.tables import create_dunning_tables
from tests.engine.dunning.rows import DunningRows

AS_OF = date(2026, 9, 1)


def _order(rows: dict, customer: int, amount: str, currency: str, status: str, on: date = AS_OF) -> None:
    orders = rows.setdefault("orders", [])
    orders.append(
        {
            "order_id": len(orders) + 1,
            "entity_id": 1,
            "customer_id": customer,
            "currency": currency,
            "order_date": on,
            "amount": Decimal(amount),
            "status": status,
        }
    )


def _rate(rows: dict, on: date, base: str, quote: str, rate: str) -> None:
    rows.setdefault("exchange_rates", []).append(
        {"rate_date": on, "base_currency": base, "quote_currency": quote, "rate": Decimal(rate)}
    )


@pytest.fixture
def group(backend):
    """A parent P (limit 10,000 EUR) with children C1 (USD invoices) and C2 (GBP: no rate); a
    stand-alone S (limit 1,000 EUR, own limit) and N with nothing."""
    ledger = DunningRows()
    parent = ledger.dunned_customer("P", credit_limit="10000")
    child = ledger.dunned_customer("C1", credit_limit="500")  # the parent's limit wins
    other_child = ledger.dunned_customer("C2")
    alone = ledger.dunned_customer("S", credit_limit="1000")
    nothing = ledger.dunned_customer("N")
    for row in ledger.customers:
        if row["customer_id"] in (child, other_child):
            row["parent_id"] = parent
    for row in ledger.customer_profile:
        row["currency"] = "EUR"
    paid = ledger.invoice(400, date(2026, 6, 1), date(2026, 7, 1), customer=parent)
    ledger.pay(paid, 150, date(2026, 7, 3), customer=parent)  # 250 open
    ledger.invoice(1000, date(2026, 8, 1), date(2026, 8, 31), customer=child, currency="USD")
    ledger.invoice(300, date(2026, 8, 1), date(2026, 8, 31), customer=other_child, currency="GBP")
    ledger.invoice(700, date(2026, 9, 2), date(2026, 10, 2), customer=alone)  # issued after: not yet
    ledger.invoice(900, date(2026, 8, 2), date(2026, 9, 2), customer=alone)
    rows = ledger.rows()
    _order(rows, parent, "2000", "EUR", "open")
    _order(rows, parent, "1000", "EUR", "delivered")
    _order(rows, parent, "5000", "EUR", "invoiced")  # invoiced: already a receivable
    _order(rows, alone, "300", "USD", "delivered")
    _order(rows, alone, "999", "EUR", "open", on=date(2026, 9, 5))  # ordered after the date
    _rate(rows, date(2026, 8, 1), "EUR", "USD", "1.25")
    _rate(rows, date(2026, 8, 31), "EUR", "USD", "1.0")  # the latest on or before: 1 EUR = 1 USD
    _rate(rows, date(2026, 9, 2), "EUR", "USD", "2.0")  # after the date
    con = backend({}).invoices.get_backend()
    tables = create_dunning_tables(con, rows)
    return tables, {"P": parent, "C1": child, "C2": other_child, "S": alone, "N": nothing}


def _by_ref(tables, ids, **options):
    ref_of = {customer: ref for ref, customer in ids.items()}
    rows = exposure_expr(tables, AS_OF, **options).to_pyarrow().to_pylist()
    return {ref_of[row["customer_id"]]: row for row in rows}


def test_the_group_is_measured_against_the_parents_limit(group) -> None:
    tables, ids = group
    rows = _by_ref(tables, ids)
    parent = rows["P"]
    # 250 open + 1,000 USD at 1.0 (the inverse of EUR→USD) + 2,000 open + 1,000 delivered; GBP missing
    assert parent["limit_holder_id"] == ids["P"] and parent["currency"] == "EUR"
    assert parent["credit_limit"] == Decimal("10000")
    assert parent["open_receivables"] == Decimal("1250")
    assert parent["open_orders"] == Decimal("3000")
    assert parent["exposure"] == Decimal("4250") and parent["own_exposure"] == Decimal("3250")
    assert parent["available"] == Decimal("5750")
    assert parent["utilisation"] == pytest.approx(42.5)
    assert parent["missing_rate"] is True  # the GBP invoice: no rate, never a guess
    for child in ("C1", "C2"):
        row = rows[child]
        assert row["limit_holder_id"] == ids["P"] and row["credit_limit"] == Decimal("10000")
        assert (row["exposure"], row["utilisation"], row["missing_rate"]) == (
            Decimal("4250"),
            pytest.approx(42.5),
            True,
        )
    assert rows["C1"]["own_exposure"] == Decimal("1000")
    assert rows["C2"]["own_exposure"] == Decimal("0")


def test_a_stand_alone_customer_and_one_with_nothing(group) -> None:
    tables, ids = group
    rows = _by_ref(tables, ids)
    alone = rows["S"]
    # 900 open (the 700 is issued after the date) + 300 USD delivered at 1 EUR = 1.0 USD
    assert (alone["open_receivables"], alone["open_orders"]) == (Decimal("900"), Decimal("300"))
    assert alone["utilisation"] == pytest.approx(120.0) and alone["available"] == Decimal("-200")
    assert alone["missing_rate"] is False
    nothing = rows["N"]
    assert nothing["limit_holder_id"] == ids["N"]
    assert (nothing["exposure"], nothing["credit_limit"], nothing["utilisation"]) == (
        Decimal("0"),
        None,
        None,
    )
    assert nothing["available"] is None and nothing["missing_rate"] is False


def test_pending_deliveries_may_be_left_out(group) -> None:
    tables, ids = group
    rows = _by_ref(tables, ids, include_open_orders=False)
    assert rows["P"]["open_orders"] == Decimal("1000")


def test_without_orders_or_rates_tables(backend) -> None:
    ledger = DunningRows()
    customer = ledger.dunned_customer("A", credit_limit="200")
    ledger.invoice(50, date(2026, 8, 1), date(2026, 8, 31), customer=customer)
    ledger.invoice(20, date(2026, 8, 1), date(2026, 8, 31), customer=customer, currency="USD")
    con = backend({}).invoices.get_backend()
    tables = create_dunning_tables(con, ledger.rows())
    assert tables.orders is None and tables.exchange_rates is None
    (row,) = exposure_expr(tables, AS_OF).to_pyarrow().to_pylist()
    # no currency on the profile: the first of its items' (EUR); USD has no rate table at all
    assert (row["currency"], row["exposure"], row["missing_rate"]) == ("EUR", Decimal("50"), True)
    assert row["utilisation"] == pytest.approx(25.0)

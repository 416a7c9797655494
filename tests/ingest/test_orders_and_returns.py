"""The `orders` kind and the payments' `returned_on` column, through `relance import` and the Python API."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from relance.core.errors import ErrorList
from relance.ingest.parsing import ORDER_STATUSES
from relance.ingest.records import OrderRecord, parse_row, upsert_records
from relance.ledger.models import Order, OrderStatus, Payment
from relance.ledger.selectors import data_versions

pytestmark = pytest.mark.django_db

ORDERS = """order_ref,customer_ref,date,currency,amount,status
SO-1,C1,2026-03-02,EUR,4800.00,open
SO-2,C1,2026-03-03,,120.5,delivered
SO-3,C2,2026-03-04,GBP,999.99,
"""


def orders() -> set[tuple[str, str, date, str, Decimal, str]]:
    return {
        (o.external_ref, o.customer.external_ref, o.order_date, o.currency, o.amount, o.status)
        for o in Order.objects.select_related("customer")
    }


@pytest.fixture
def orders_loaded(customers_loaded, write, run_import):
    run = run_import("orders", write("orders.csv", ORDERS))
    assert run.ok, run.stderr + run.error
    return run


def test_the_statuses_are_the_models():
    assert tuple(OrderStatus.values) == ORDER_STATUSES


def test_an_orders_file_creates_orders_with_the_customers_currency_and_open_by_default(orders_loaded, entity):
    assert orders_loaded.outcome["created"] == 3
    assert orders() == {
        ("SO-1", "C1", date(2026, 3, 2), "EUR", Decimal("4800.00"), "open"),
        ("SO-2", "C1", date(2026, 3, 3), "EUR", Decimal("120.50"), "delivered"),
        ("SO-3", "C2", date(2026, 3, 4), "GBP", Decimal("999.99"), "open"),
    }
    versions = data_versions(entity_id=entity.pk)
    assert versions["orders"] == 1  # one bump for the whole file


def test_reimporting_orders_changes_nothing_and_a_changed_row_updates(
    orders_loaded, write, run_import, entity
):
    stamps = dict(Order.objects.values_list("external_ref", "updated_at"))
    versions = data_versions(entity_id=entity.pk)
    again = run_import("orders", write("orders.csv", ORDERS))
    assert (again.outcome["created"], again.outcome["updated"], again.outcome["unchanged"]) == (0, 0, 3)
    assert dict(Order.objects.values_list("external_ref", "updated_at")) == stamps
    assert data_versions(entity_id=entity.pk) == versions
    # SO-1 is now invoiced; SO-3 has no status cell: it keeps the stored one.
    changed = ORDERS.replace("4800.00,open", "4800.00,invoiced").replace("999.99,", "1000.00,")
    run = run_import("orders", write("orders.csv", changed))
    assert (run.outcome["created"], run.outcome["updated"], run.outcome["unchanged"]) == (0, 2, 1)
    stored = {o.external_ref: o for o in Order.objects.all()}
    assert stored["SO-1"].status == "invoiced"
    assert (stored["SO-3"].status, stored["SO-3"].amount) == ("open", Decimal("1000.00"))
    assert data_versions(entity_id=entity.pk)["ledger"] == versions["ledger"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("SO-9,NOPE,2026-03-02,EUR,10,open", "customer_ref: expected a customer_ref already imported"),
        ("SO-9,C1,2026-02-30,EUR,10,open", "date: expected a date YYYY-MM-DD, found '2026-02-30'"),
        ("SO-9,C1,2026-03-02,EUR,-10,open", "amount: expected a positive amount"),
        ("SO-9,C1,2026-03-02,EUR,10,shipped", "status: expected one of open, delivered, invoiced, cancelled"),
        ("SO-9,C1,2026-03-02,EURO,10,open", "currency: expected an ISO 4217 currency code"),
        ("SO-9,C1,2026-03-02,EUR,10.001,open", "amount: expected an amount with at most 2 decimal(s)"),
        (
            "SO-1,C1,2026-03-02,EUR,10,open",
            "order_ref: expected a ref used only once in the file (it is already on line 2)",
        ),
        (",C1,2026-03-02,EUR,10,open", "order_ref: expected a value (required)"),
    ],
)
def test_a_bad_line_rejects_the_whole_file_naming_file_line_and_field(
    customers_loaded, write, run_import, row, message
):
    path = write("orders.csv", ORDERS + row + "\n")
    run = run_import("orders", path)
    assert not run.ok
    assert f"{path}:5: {message}" in run.stderr, run.stderr
    assert not Order.objects.exists()


def test_an_orders_file_without_a_required_column_names_the_columns(customers_loaded, write, run_import):
    path = write("orders.csv", "order_ref,customer_ref,amount\nSO-1,C1,10\n")
    run = run_import("orders", path)
    assert not run.ok
    assert "missing required column(s) date; orders files need the columns order_ref, customer_ref, date" in (
        run.error + run.stdout
    )


def test_orders_from_xlsx(customers_loaded, tmp_path, run_import):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["order_ref", "customer_ref", "date", "amount", "status"])
    sheet.append(["SO-1", "C1", date(2026, 3, 2), 55.94, "Delivered"])
    path = tmp_path / "orders.xlsx"
    workbook.save(path)
    run = run_import("orders", path)
    assert run.ok, run.stderr
    order = Order.objects.get()
    assert (order.amount, order.order_date, order.status) == (Decimal("55.94"), date(2026, 3, 2), "delivered")


def test_orders_through_the_python_api(customers_loaded, entity):
    record = parse_row(
        "orders",
        {"order_ref": "SO-1", "customer_ref": "C2", "date": "2026-03-02", "amount": "10.00"},
        entity=entity,
    )
    assert record == OrderRecord("SO-1", "C2", date(2026, 3, 2), "GBP", Decimal("10.00"), None)
    assert upsert_records("orders", [record], entity=entity).created == 1
    assert upsert_records("orders", [record], entity=entity).unchanged == 1
    with pytest.raises(ErrorList) as caught:
        upsert_records("orders", [record, record], entity=entity)
    assert caught.value.errors[0].field == "order_ref"


PAYMENTS = """payment_ref,customer_ref,date,amount,currency,invoice_ref,returned_on
P1,C1,2026-02-10,1200,EUR,I1,2026-02-24
P1,C1,2026-02-10,100.50,EUR,I2,2026-02-24
P2,C1,2026-02-11,100,EUR,I2,
"""


def test_a_returned_payment_keeps_its_allocations_and_its_return_date(invoices_loaded, write, run_import):
    run = run_import("payments", write("payments.csv", PAYMENTS))
    assert run.ok, run.stderr + run.error
    returned = dict(Payment.objects.values_list("external_ref", "returned_on"))
    assert returned == {"P1": date(2026, 2, 24), "P2": None}
    assert Payment.objects.get(external_ref="P1").allocations.count() == 2
    again = run_import("payments", write("payments.csv", PAYMENTS))
    assert (again.outcome["created"], again.outcome["updated"], again.outcome["unchanged"]) == (0, 0, 2)
    # Returned later: an update; an empty cell afterwards leaves the date alone.
    later = PAYMENTS.replace("P2,C1,2026-02-11,100,EUR,I2,", "P2,C1,2026-02-11,100,EUR,I2,2026-03-01")
    run = run_import("payments", write("payments.csv", later))
    assert (run.outcome["updated"], run.outcome["unchanged"]) == (1, 1)
    assert Payment.objects.get(external_ref="P2").returned_on == date(2026, 3, 1)
    run = run_import("payments", write("payments.csv", PAYMENTS))
    assert run.outcome["unchanged"] == 2
    assert Payment.objects.get(external_ref="P2").returned_on == date(2026, 3, 1)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            PAYMENTS.replace("I2,2026-02-24", "I2,2026-02-25"),
            3,
            "returned_on: expected the same returned_on as line 2 of payment P1, found '2026-02-25'",
        ),
        (
            PAYMENTS.replace("I2,\n", "I2,2026-02-01\n"),
            4,
            "returned_on: expected a return date on or after the payment date 2026-02-11, found '2026-02-01'",
        ),
        (PAYMENTS.replace("I2,\n", "I2,soon\n"), 4, "returned_on: expected a date YYYY-MM-DD, found 'soon'"),
    ],
)
def test_a_bad_return_date_rejects_the_file(invoices_loaded, write, run_import, text, line, message):
    path = write("payments.csv", text)
    run = run_import("payments", path)
    assert not run.ok
    assert f"{path}:{line}: {message}" in run.stderr, run.stderr
    assert not Payment.objects.exists()

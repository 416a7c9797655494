"""Writes go through the ingestion layer: upsert by ref, all-or-nothing bulk, errors by index."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from relance.api.schemas import (
    ContactIn,
    CreditNoteIn,
    CustomerIn,
    InvoiceIn,
    OrderIn,
    PaymentIn,
)
from relance.ingest.records import KINDS
from relance.ledger.models import Allocation, Customer, Invoice, Order, Payment
from tests.api.conftest import error_of

INVOICE = {"customer_ref": "C1", "issue_date": "2026-01-01", "due_date": "2026-01-31", "amount": "100.00"}


def test_put_customer_creates_then_updates_then_leaves_unchanged(api, entity):
    created = api.put("/customers/C1", {"name": "Dupont", "credit_limit": 5000.5, "payment_terms_days": 45})
    assert created.status_code == 201, created.content
    assert created.json()["result"] == "created"
    item = created.json()["item"]
    assert item["customer_ref"] == "C1" and item["credit_limit"] == "5000.50" and item["currency"] == "EUR"

    same = api.put("/customers/C1", {"name": "Dupont", "credit_limit": "5000.50"})
    assert (same.status_code, same.json()["result"]) == (200, "unchanged")

    renamed = api.put("/customers/C1", {"name": "Dupont SA"})
    assert (renamed.status_code, renamed.json()["result"]) == (200, "updated")
    customer = Customer.objects.get(entity=entity, external_ref="C1")
    assert customer.name == "Dupont SA" and customer.payment_terms_days == 45  # left-out fields kept
    assert customer.credit_limit == Decimal("5000.5")


def test_json_numbers_never_pass_through_float(api, entity):
    api.put("/customers/C1", {"name": "Dupont"})
    response = api.put("/invoices/INV-1", {**INVOICE, "amount": 0.1})
    assert response.status_code == 201, response.content
    assert Invoice.objects.get(external_ref="INV-1").amount == Decimal("0.1")
    assert response.json()["item"]["amount"] == "0.10"


def test_put_reports_every_invalid_field_and_writes_nothing(api, entity):
    response = api.put("/customers/C2", {"name": "", "currency": "XYZ", "payment_terms_days": "abc"})
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid"
    assert {detail["field"] for detail in error["details"]} == {"name", "currency", "payment_terms_days"}
    assert all("index" not in detail for detail in error["details"])
    assert not Customer.objects.filter(external_ref="C2").exists()


def test_put_with_another_ref_in_the_body_is_refused(api, entity):
    response = api.put("/customers/C1", {"customer_ref": "C9", "name": "Dupont"})
    assert response.status_code == 422
    assert error_of(response)["details"][0]["field"] == "customer_ref"
    assert not Customer.objects.exists()


def test_unknown_body_fields_are_refused(api, entity):
    response = api.put("/customers/C1", {"name": "Dupont", "nmae": "typo"})
    assert response.status_code == 422
    assert error_of(response)["details"][0]["field"] == "nmae"


def test_bulk_is_all_or_nothing_with_errors_by_index_and_field(api, entity):
    items = [
        {"customer_ref": "B1", "name": "fine"},
        {"customer_ref": "B2", "currency": "nope"},
        {"name": "no ref"},
        {"customer_ref": "B4", "name": "fine too"},
    ]
    response = api.post("/customers/bulk", {"items": items})
    assert response.status_code == 422
    details = error_of(response)["details"]
    assert {(detail["index"], detail["field"]) for detail in details} == {
        (1, "name"),
        (1, "currency"),
        (2, "customer_ref"),
    }
    assert not Customer.objects.exists()

    items[1:3] = [{"customer_ref": "B2", "name": "fixed"}]
    response = api.post("/customers/bulk", {"items": items})
    assert response.status_code == 200, response.content
    assert response.json() == {"created": 3, "updated": 0, "unchanged": 0}
    items[0]["name"] = "renamed"
    assert api.post("/customers/bulk", {"items": items}).json() == {
        "created": 0,
        "updated": 1,
        "unchanged": 2,
    }


def test_bulk_refuses_more_than_ten_thousand_items(api, entity):
    items = [{"customer_ref": f"C{n}", "name": "x"} for n in range(10_001)]
    response = api.post("/customers/bulk", {"items": items})
    assert response.status_code == 422
    assert error_of(response)["details"][0]["field"] == "items"
    assert not Customer.objects.exists()


def test_bulk_json_type_errors_carry_the_index(api, entity):
    response = api.post("/customers/bulk", {"items": [{"customer_ref": "A", "name": "a"}, {"name": ["x"]}]})
    assert response.status_code == 422
    assert {(d.get("index"), d["field"]) for d in error_of(response)["details"]} == {(1, "name")}


def test_payment_with_allocations_settles_invoices(api, entity):
    api.put("/customers/C1", {"name": "Dupont"})
    api.put("/invoices/INV-1", INVOICE)
    api.put("/invoices/INV-2", {**INVOICE, "amount": "50"})
    payment: dict[str, Any] = {
        "customer_ref": "C1",
        "date": "2026-01-10",
        "amount": "120",
        "allocations": [{"invoice_ref": "INV-1", "amount": "100"}],
    }
    created = api.put("/payments/PAY-1", payment)
    assert created.status_code == 201, created.content
    item = created.json()["item"]
    assert (item["amount"], item["allocated"], item["unallocated"]) == ("120.00", "100.00", "20.00")
    assert api.get("/invoices/INV-1").json()["open_amount"] == "0.00"
    assert api.put("/payments/PAY-1", payment).json()["result"] == "unchanged"

    payment["allocations"].append({"invoice_ref": "INV-2", "amount": "20"})
    updated = api.put("/payments/PAY-1", payment)
    assert (updated.status_code, updated.json()["result"]) == (200, "updated")
    assert updated.json()["item"]["unallocated"] == "0.00"
    assert api.get("/invoices/INV-2").json()["open_amount"] == "30.00"
    assert Payment.objects.get().amount == Decimal(120)


def test_payment_allocations_beyond_its_amount_are_refused(api, entity):
    api.put("/customers/C1", {"name": "Dupont"})
    api.put("/invoices/INV-1", INVOICE)
    response = api.put(
        "/payments/PAY-2",
        {
            "customer_ref": "C1",
            "date": "2026-01-10",
            "amount": "10",
            "allocations": [{"invoice_ref": "INV-1", "amount": "60"}],
        },
    )
    assert response.status_code == 422
    assert error_of(response)["details"][0]["field"] == "allocations"
    assert not Payment.objects.exists() and not Allocation.objects.exists()


def test_payment_allocation_errors_name_the_allocation(api, entity):
    api.put("/customers/C1", {"name": "Dupont"})
    response = api.put(
        "/payments/PAY-3",
        {
            "customer_ref": "C1",
            "date": "bad",
            "amount": "10",
            "allocations": [{"invoice_ref": "X", "amount": "x"}],
        },
    )
    assert response.status_code == 422
    fields = [detail["field"] for detail in error_of(response)["details"]]
    assert sorted(fields) == ["allocations.0.amount", "date"]


def test_payment_bulk_and_credit_note_allocated_to_an_invoice(api, entity):
    api.put("/customers/C1", {"name": "Dupont"})
    api.post("/invoices/bulk", {"items": [{**INVOICE, "invoice_ref": f"INV-{n}"} for n in range(3)]})
    payments = [
        {
            "payment_ref": f"PAY-{n}",
            "customer_ref": "C1",
            "date": "2026-01-10",
            "amount": "30",
            "allocations": [{"invoice_ref": f"INV-{n}", "amount": "30"}],
        }
        for n in range(3)
    ]
    assert api.post("/payments/bulk", {"items": payments}).json() == {
        "created": 3,
        "updated": 0,
        "unchanged": 0,
    }
    credit = api.put(
        "/credit-notes/CN-1",
        {"customer_ref": "C1", "date": "2026-01-12", "amount": "5", "invoice_ref": "INV-0"},
    )
    assert credit.status_code == 201, credit.content
    assert api.get("/invoices/INV-0").json()["open_amount"] == "65.00"
    assert [
        a["credit_note_ref"] for a in api.get("/allocations", {"invoice_ref": "INV-0"}).json()["items"]
    ] == [None, "CN-1"]


def test_contact_put_by_contact_ref(api, entity):
    api.put("/customers/C1", {"name": "Dupont"})
    response = api.put("/contacts/CT-1", {"customer_ref": "C1", "email": "X@Dupont.fr", "opt_out_sms": True})
    assert response.status_code == 201, response.content
    item = response.json()["item"]
    assert (item["contact_ref"], item["email"], item["opt_out_sms"]) == ("CT-1", "x@dupont.fr", True)
    assert api.get("/contacts/CT-1").json()["customer_ref"] == "C1"
    assert [c["contact_ref"] for c in api.get("/contacts", {"customer_ref": "C1"}).json()["items"]] == [
        "CT-1"
    ]


def test_writes_cannot_reach_an_entity_the_user_cannot_see(api, entity, other_entity):
    response = api.put("/customers/C1", {"name": "Dupont"}, **{})
    assert response.status_code == 201
    denied = api.client.put(
        "/api/v1/customers/C1?entity=globex",
        '{"name": "x"}',
        content_type="application/json",
        headers={"Authorization": f"Bearer {api.secret}"},
    )
    assert denied.status_code == 404
    assert not Customer.objects.filter(entity=other_entity).exists()


def test_input_schemas_match_the_import_columns():
    """The API accepts exactly the canonical import columns (docs/import.md), nothing more or less."""
    from relance.ingest.parsing import column_names

    schemas: dict[str, Any] = {
        "customers": CustomerIn,
        "contacts": ContactIn,
        "invoices": InvoiceIn,
        "credit_notes": CreditNoteIn,
        "payments": PaymentIn,
        "orders": OrderIn,
    }
    # Disputes are written over the API by the cases endpoint (POST /api/v1/disputes), one
    # at a time through the same service the `disputes` import kind uses: no bulk schema.
    assert set(schemas) == set(KINDS) - {"disputes"}
    for kind, schema in schemas.items():
        fields = set(schema.model_fields) - {"allocations"}
        expected = set(column_names(kind)) - ({"invoice_ref"} if kind == "payments" else set())
        assert fields == expected, kind


def test_large_bulk_finds_customers_and_reports_unknown_ones(api, entity):
    """Past PRELOAD_CUSTOMERS_FROM items the adapter reads customers once; results are the same."""
    from relance.api.writes import PRELOAD_CUSTOMERS_FROM

    api.post("/customers/bulk", {"items": [{"customer_ref": f"C{n}", "name": "x"} for n in range(5)]})
    items = [
        {**INVOICE, "invoice_ref": f"INV-{n}", "customer_ref": f"C{n % 5}"}
        for n in range(PRELOAD_CUSTOMERS_FROM + 10)
    ]
    items[7]["customer_ref"] = "GHOST"
    response = api.post("/invoices/bulk", {"items": items})
    assert response.status_code == 422
    assert [(d["index"], d["field"]) for d in error_of(response)["details"]] == [(7, "customer_ref")]
    items[7]["customer_ref"] = "C0"
    assert api.post("/invoices/bulk", {"items": items}).json()["created"] == len(items)


def test_orders_put_bulk_and_read_back(api, entity):
    api.put("/customers/C1", {"name": "Dupont"})
    created = api.put("/orders/SO-1", {"customer_ref": "C1", "date": "2026-03-02", "amount": 4800})
    assert created.status_code == 201, created.content
    item = created.json()["item"]
    assert (item["order_ref"], item["amount"], item["currency"], item["status"]) == (
        "SO-1",
        "4800.00",
        "EUR",
        "open",
    )
    same = api.put("/orders/SO-1", {"customer_ref": "C1", "date": "2026-03-02", "amount": "4800.00"})
    assert (same.status_code, same.json()["result"]) == (200, "unchanged")
    delivered = api.put(
        "/orders/SO-1", {"customer_ref": "C1", "date": "2026-03-02", "amount": 4800, "status": "delivered"}
    )
    assert (delivered.status_code, delivered.json()["result"]) == (200, "updated")

    items = [
        {"order_ref": "SO-2", "customer_ref": "C1", "date": "2026-03-03", "amount": "10.00"},
        {
            "order_ref": "SO-3",
            "customer_ref": "NOPE",
            "date": "2026-03-04",
            "amount": "10.00",
            "status": "shipped",
        },
    ]
    refused = api.post("/orders/bulk", {"items": items})
    assert refused.status_code == 422
    details = error_of(refused)["details"]
    assert {(d["index"], d["field"]) for d in details} == {(1, "customer_ref"), (1, "status")}
    assert Order.objects.count() == 1
    items[1] = {**items[1], "customer_ref": "C1", "status": "invoiced"}
    assert api.post("/orders/bulk", {"items": items}).json() == {"created": 2, "updated": 0, "unchanged": 0}

    page = api.get("/orders?status=invoiced").json()
    assert [o["order_ref"] for o in page["items"]] == ["SO-3"]
    assert api.get("/orders/SO-1").json()["status"] == "delivered"
    assert api.get("/orders/SO-404").status_code == 404


def test_a_payment_carries_its_return_date(api, entity):
    api.put("/customers/C1", {"name": "Dupont"})
    response = api.put(
        "/payments/P1",
        {"customer_ref": "C1", "date": "2026-02-10", "amount": "50", "returned_on": "2026-02-20"},
    )
    assert response.status_code == 201, response.content
    assert response.json()["item"]["returned_on"] == "2026-02-20"
    assert Payment.objects.get(external_ref="P1").returned_on.isoformat() == "2026-02-20"
    early = api.put(
        "/payments/P1",
        {"customer_ref": "C1", "date": "2026-02-10", "amount": "50", "returned_on": "2026-02-01"},
    )
    assert early.status_code == 422
    assert error_of(early)["details"][0]["field"] == "returned_on"

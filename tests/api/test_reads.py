"""Reads: entity scoping, filters, derived amounts and cursor pagination."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relance.ledger.models import Customer, Invoice
from relance.ledger.services import allocation_create
from tests.api.conftest import error_of

D = date(2026, 1, 5)


@pytest.fixture
def ledger(entity, make_customer, make_invoice, make_payment):
    """Two customers; INV-1 part paid, INV-2 open, INV-3 void, INV-4 fully paid."""
    dupont = make_customer("C1", name="Dupont SARL", segment="SMB")
    zeta = make_customer("C2", name="Zeta GmbH", segment="ENT", currency="USD")
    inv1 = make_invoice(dupont, "INV-1", "100.00", D, D + timedelta(days=30))
    make_invoice(dupont, "INV-2", "250.50", D + timedelta(days=10), D + timedelta(days=40))
    make_invoice(dupont, "INV-3", "80.00", D, D + timedelta(days=30), status="void")
    inv4 = make_invoice(zeta, "INV-4", "40.00", D, D + timedelta(days=60))
    pay1 = make_payment(dupont, "PAY-1", "60.00", D + timedelta(days=3))
    pay2 = make_payment(zeta, "PAY-2", "40.00", D + timedelta(days=5))
    allocation_create(invoice=inv1, payment=pay1, amount=Decimal("60"), on=pay1.date)
    allocation_create(invoice=inv4, payment=pay2, amount=Decimal("40"), on=pay2.date)
    return {"dupont": dupont, "zeta": zeta}


def refs(response, key):
    assert response.status_code == 200, response.content
    return [item[key] for item in response.json()["items"]]


def test_invoice_by_ref_has_open_amount_and_allocated_as_decimal_strings(api, ledger):
    body = api.get("/invoices/INV-1").json()
    assert body["amount"] == "100.00" and body["allocated"] == "60.00" and body["open_amount"] == "40.00"
    assert body["currency"] == "EUR" and body["customer_ref"] == "C1"
    assert body["issue_date"] == "2026-01-05" and body["due_date"] == "2026-02-04"
    void = api.get("/invoices/INV-3").json()
    assert void["status"] == "void" and void["open_amount"] == "0.00"


def test_unknown_ref_is_404_in_the_error_shape(api, ledger):
    response = api.get("/invoices/NOPE")
    assert response.status_code == 404
    assert error_of(response) == {"code": "not_found", "message": "no invoice 'NOPE' in entity acme"}


def test_customer_filters(api, ledger):
    assert refs(api.get("/customers"), "customer_ref") == ["C1", "C2"]
    assert refs(api.get("/customers", {"segment": "ENT"}), "customer_ref") == ["C2"]
    assert refs(api.get("/customers", {"currency": "usd"}), "customer_ref") == ["C2"]
    assert refs(api.get("/customers", {"q": "dupont"}), "customer_ref") == ["C1"]
    assert refs(api.get("/customers", {"q": "c2"}), "customer_ref") == ["C2"]
    future = (date.today() + timedelta(days=1)).isoformat() + "T00:00:00Z"
    assert refs(api.get("/customers", {"updated_since": future}), "customer_ref") == []
    assert refs(api.get("/customers", {"updated_since": "2000-01-01T00:00:00Z"}), "customer_ref") == [
        "C1",
        "C2",
    ]


def test_invoice_filters(api, ledger):
    def invoices(**params):
        return sorted(refs(api.get("/invoices", params), "invoice_ref"))

    assert invoices() == ["INV-1", "INV-2", "INV-3", "INV-4"]
    assert invoices(customer_ref="C2") == ["INV-4"]
    assert invoices(status="void") == ["INV-3"]
    assert invoices(currency="USD") == ["INV-4"]
    assert invoices(open="true") == ["INV-1", "INV-2"]
    assert invoices(open="false") == ["INV-3", "INV-4"]
    assert invoices(due_before="2026-02-04") == ["INV-1", "INV-3"]
    assert invoices(due_after="2026-02-05") == ["INV-2", "INV-4"]
    assert invoices(issued_after="2026-01-06") == ["INV-2"]
    assert invoices(issued_before="2026-01-05", customer_ref="C1") == ["INV-1", "INV-3"]


def test_payments_nest_their_allocations_and_filter_by_date(api, ledger):
    payment = api.get("/payments/PAY-1").json()
    assert payment["allocations"] == [{"invoice_ref": "INV-1", "date": "2026-01-08", "amount": "60.00"}]
    assert payment["unallocated"] == "0.00"
    assert refs(api.get("/payments", {"date_from": "2026-01-09"}), "payment_ref") == ["PAY-2"]
    assert refs(api.get("/payments", {"date_to": "2026-01-08"}), "payment_ref") == ["PAY-1"]
    assert refs(api.get("/payments", {"customer_ref": "C2"}), "payment_ref") == ["PAY-2"]
    allocations = api.get("/allocations", {"invoice_ref": "INV-4"}).json()["items"]
    assert [(a["payment_ref"], a["amount"], a["currency"]) for a in allocations] == [
        ("PAY-2", "40.00", "USD")
    ]


def test_bad_query_parameters_are_422_with_the_field(api, ledger):
    response = api.get("/invoices", {"due_before": "yesterday", "limit": 5000})
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid"
    assert {detail["field"] for detail in error["details"]} == {"due_before", "limit"}


def test_another_entitys_data_is_404_and_invisible(api, ledger, other_entity):
    foreign = Customer.objects.create(
        entity=other_entity, external_ref="G1", name="Globex buyer", currency="USD"
    )
    Invoice.objects.create(
        entity=other_entity,
        customer=foreign,
        external_ref="G-INV",
        issue_date=D,
        due_date=D,
        currency="USD",
        amount=Decimal(5),
    )
    assert api.get("/customers/G1").status_code == 404
    assert api.get("/invoices/G-INV").status_code == 404
    denied = api.get("/customers/G1", {"entity": "globex"})
    assert denied.status_code == 404 and error_of(denied)["code"] == "entity_not_found"
    missing = api.get("/customers", {"entity": "does-not-exist"})
    assert error_of(missing)["message"] == error_of(denied)["message"].replace("globex", "does-not-exist")
    assert "G1" not in refs(api.get("/customers"), "customer_ref")
    assert api.get("/customers/G1", {"entity": "acme"}).status_code == 404


def test_a_superuser_sees_every_entity_and_must_choose_one(db, ledger, other_entity):
    from django.contrib.auth import get_user_model

    from relance.api.services import api_token_create
    from tests.api.conftest import ApiClient

    root = get_user_model().objects.create_superuser("root", password="x")
    admin = ApiClient(api_token_create(user=root, name="admin")[1])
    ambiguous = admin.get("/customers")
    assert ambiguous.status_code == 400 and error_of(ambiguous)["code"] == "entity_required"
    assert "acme, globex" in error_of(ambiguous)["message"]
    assert refs(admin.get("/customers", {"entity": "acme"}), "customer_ref") == ["C1", "C2"]
    assert refs(admin.get("/customers", {"entity": "globex"}), "customer_ref") == []


def test_a_user_without_access_sees_no_entity(db, user, ledger):
    from relance.api.services import api_token_create
    from tests.api.conftest import ApiClient

    response = ApiClient(api_token_create(user=user, name="x")[1]).get("/customers")
    assert response.status_code == 404 and error_of(response)["code"] == "entity_not_found"


def walk(api, path, params):
    seen, cursor, pages = [], None, 0
    while True:
        response = api.get(path, {**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.content
        body = response.json()
        seen.extend(body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return seen, pages


@pytest.mark.parametrize("order", ["id", "due_date", "invoice_ref", "updated_at", "issue_date"])
def test_cursor_pagination_has_no_duplicates_or_gaps(api, entity, make_customer, make_invoice, order):
    customer = make_customer("C1")
    for number in range(23):  # many equal due dates: the id tie-break matters
        make_invoice(customer, f"INV-{number:03d}", "10", D, D + timedelta(days=number % 4))
    items, pages = walk(api, "/invoices", {"limit": 5, "order": order})
    assert pages == 5
    assert sorted(item["invoice_ref"] for item in items) == [f"INV-{n:03d}" for n in range(23)]
    field = {"invoice_ref": "invoice_ref"}.get(order, order)
    keys = [(item[field], item["id"]) for item in items]
    assert keys == sorted(keys)


def test_a_tampered_or_foreign_cursor_is_refused(api, ledger):
    cursor = api.get("/invoices", {"limit": 1}).json()["next_cursor"]
    assert cursor
    tampered = api.get("/invoices", {"cursor": cursor[:-2] + "xx"})
    assert tampered.status_code == 422 and error_of(tampered)["code"] == "invalid_cursor"
    foreign = api.get("/invoices", {"cursor": cursor, "order": "due_date"})
    assert error_of(foreign)["code"] == "invalid_cursor"


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(count=st.integers(0, 12), limit=st.integers(1, 5), inserted=st.integers(0, 3))
def test_pages_cover_every_customer_once_even_with_inserts_midway(api, entity, count, limit, inserted):
    Customer.objects.filter(entity=entity).delete()
    for number in range(count):
        Customer.objects.create(
            entity=entity, external_ref=f"H{number:02d}", name=f"N{number % 3}", currency="EUR"
        )
    first = api.get("/customers", {"limit": limit, "order": "name"}).json()
    for number in range(inserted):  # rows created after paging began sort at the end by id
        Customer.objects.create(entity=entity, external_ref=f"Z{number}", name="zzz", currency="EUR")
    items, cursor = list(first["items"]), first["next_cursor"]
    while cursor:
        body = api.get("/customers", {"limit": limit, "order": "name", "cursor": cursor}).json()
        items.extend(body["items"])
        cursor = body["next_cursor"]
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids))
    assert {item["customer_ref"] for item in items} >= {f"H{n:02d}" for n in range(count)}


def test_every_response_matches_its_published_schema(api, ledger):
    """List pages skip Ninja's response validation for speed, so check them against the schemas here."""
    from relance.api import schemas

    api.put("/contacts/CT-1", {"customer_ref": "C1", "email": "a@b.fr"})
    pages: dict[str, Any] = {
        "/customers": schemas.CustomerPage,
        "/contacts": schemas.ContactPage,
        "/invoices": schemas.InvoicePage,
        "/payments": schemas.PaymentPage,
        "/credit-notes": schemas.CreditNotePage,
        "/allocations": schemas.AllocationPage,
    }
    for path, schema in pages.items():
        body = api.get(path).json()
        assert body["items"] or path == "/credit-notes", path
        validated = schema.model_validate(body).model_dump(mode="json")
        assert set(validated["items"][0] if body["items"] else {}) == set(
            body["items"][0] if body["items"] else {}
        )


def test_refs_with_slashes_work_in_urls(api, entity, make_customer, make_invoice):
    customer = make_customer("C/1")
    make_invoice(customer, "INV/2026/001", "10", D)
    assert api.get("/customers/C/1").json()["customer_ref"] == "C/1"
    assert api.get("/invoices/INV%2F2026%2F001").json()["invoice_ref"] == "INV/2026/001"
    response = api.put(
        "/invoices/INV/2026/002",
        {"customer_ref": "C/1", "issue_date": "2026-01-05", "due_date": "2026-01-05", "amount": "3"},
    )
    assert response.status_code == 201, response.content
    assert response.json()["item"]["invoice_ref"] == "INV/2026/002"

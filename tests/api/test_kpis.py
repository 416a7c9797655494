"""GET /api/v1/kpis: the same figures as `relance kpi` and the dashboard (one definition, one
snapshot), scoped to the caller's entities, refused to the sales role, clear errors."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from tests.api.conftest import ApiClient, error_of

pytestmark = pytest.mark.django_db
AS_OF = date(2024, 6, 30)


@pytest.fixture
def ledger(entity, make_customer, make_invoice, make_payment):
    from relance.ledger.services import allocation_create

    late = make_customer("C-LATE", segment="standard")
    prompt = make_customer("C-OK", segment="key account")
    make_invoice(late, "INV-1", "1000.00", date(2024, 3, 1), date(2024, 3, 31))
    make_invoice(prompt, "INV-4", "700.00", date(2024, 5, 1), date(2024, 6, 15))
    paid = make_invoice(prompt, "INV-3", "200.00", date(2024, 5, 1), date(2024, 5, 31))
    payment = make_payment(prompt, "PAY-1", "200.00", date(2024, 6, 3))
    allocation_create(invoice=paid, payment=payment, amount=Decimal("200.00"), on=date(2024, 6, 3))


def test_the_figures_are_relance_kpis_and_are_computed_once(api, ledger, engine_calls):
    response = api.get("/kpis", {"as_of": AS_OF.isoformat()})
    assert response.status_code == 200, response.content
    body = response.json()
    assert api.get("/kpis", {"as_of": AS_OF.isoformat()}).json() == body  # the stored snapshot
    assert len(engine_calls) == 1
    out = StringIO()
    call_command("kpi", "--as-of", AS_OF.isoformat(), "--json", stdout=out)
    cli = json.loads(out.getvalue())
    cli.pop("other_currencies")
    assert body["report"] == cli
    assert body["entity"] == "acme" and body["as_of"] == AS_OF.isoformat()
    assert body["report"]["ar_total"] == "1700.00"


def test_a_payment_changes_the_figures_at_once(api, ledger, make_payment, make_customer):
    from relance.ledger.models import Customer, Invoice
    from relance.ledger.services import allocation_create

    assert api.get("/kpis", {"as_of": AS_OF.isoformat()}).json()["report"]["ar_total"] == "1700.00"
    late = Customer.objects.get(external_ref="C-LATE")
    payment = make_payment(late, "PAY-2", "1000.00", date(2024, 6, 20))
    allocation_create(
        invoice=Invoice.objects.get(external_ref="INV-1"),
        payment=payment,
        amount=Decimal("1000.00"),
        on=date(2024, 6, 20),
    )
    assert api.get("/kpis", {"as_of": AS_OF.isoformat()}).json()["report"]["ar_total"] == "700.00"


def test_a_segment_only(api, ledger):
    body = api.get("/kpis", {"as_of": AS_OF.isoformat(), "segment": "key account"}).json()
    assert body["report"]["ar_total"] == "700.00"


def test_another_entity_is_not_found(api, ledger, other_entity):
    response = api.get("/kpis", {"as_of": AS_OF.isoformat(), "entity": other_entity.name})
    assert response.status_code == 404
    assert error_of(response)["code"] == "entity_not_found"


def test_bad_input_is_named(api, ledger):
    wrong_currency = api.get("/kpis", {"as_of": AS_OF.isoformat(), "currency": "EURO"})
    assert wrong_currency.status_code == 422 and "EURO" in error_of(wrong_currency)["message"]
    reversed_period = api.get("/kpis", {"as_of": AS_OF.isoformat(), "from": "2024-07-01"})
    assert reversed_period.status_code == 422 and "2024-07-01" in error_of(reversed_period)["message"]
    bad_date = api.get("/kpis", {"as_of": "30/06/2024"})
    assert bad_date.status_code == 422


def test_the_sales_role_is_refused(entity, ledger):
    from relance.accounts.services import user_create
    from relance.api.services import api_token_create

    seller = user_create(
        email="sales@example.com", role="sales", entity_names=[entity.name], password="pw pw pw 123"
    )
    _, secret = api_token_create(user=seller, name="t")
    assert ApiClient(secret).get("/kpis", {"as_of": AS_OF.isoformat()}).status_code == 403


def test_without_a_token_401(ledger):
    assert ApiClient().get("/kpis").status_code == 401

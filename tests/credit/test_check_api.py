"""``GET /api/v1/credit/check`` and ``GET /api/v1/customers/{ref}/credit``: shape, scoping, roles."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from relance.accounts import roles
from relance.cases.models import CreditHold
from relance.credit.models import BureauReport, CreditProfile, CreditReview, CreditScore
from tests.api.conftest import ApiClient

pytestmark = pytest.mark.django_db


def token_of(entity, role: str, email: str) -> ApiClient:
    from relance.accounts.services import user_create
    from relance.api.services import api_token_create

    user = user_create(email=email, role=role, entity_names=[entity.name])
    _, secret = api_token_create(user=user, name="erp")
    return ApiClient(secret)


@pytest.fixture
def globex(db):
    from relance.ledger.services import entity_create_or_update

    return entity_create_or_update(name="globex", currency="USD", legal_name="Globex Inc")[0]


@pytest.fixture
def collector(entity) -> ApiClient:
    return token_of(entity, roles.COLLECTOR, "erp@example.com")


@pytest.fixture
def customer(entity, make_customer, make_invoice):
    today = timezone.localdate()
    customer = make_customer("C-1001", credit_limit=Decimal("1000"))
    make_invoice(customer, "I1", "400", today - timedelta(days=5), today + timedelta(days=25))
    CreditScore.objects.create(
        entity=entity,
        customer=customer,
        as_of=today,
        scorecard_key="standard",
        scorecard_version=1,
        score=12,
        risk_class="A",
        reasons=[{"factor": "late_share", "value": "0.0", "points": 0, "text": "pays on time"}],
    )
    return customer


def test_the_check_approves_with_the_figures(collector, customer) -> None:
    response = collector.get("/credit/check", {"customer_ref": "C-1001", "amount": "600"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body == {
        "customer_ref": "C-1001",
        "as_of": timezone.localdate().isoformat(),
        "decision": "approve",
        "reasons": [],
        "amount": "600.00",
        "amount_currency": "EUR",
        "currency": "EUR",
        "exposure": "400.00",
        "limit": "1000.00",
        "available": "600.00",
        "utilisation": "40.00",
        "risk_class": "A",
    }


def test_the_check_holds_with_codes_and_sentences(entity, collector, customer) -> None:
    CreditHold.objects.create(entity=entity, customer=customer, placed_on=date(2026, 1, 5), reason="NSF")
    body = collector.get("/credit/check", {"customer_ref": "C-1001", "amount": "601"}).json()
    assert body["decision"] == "hold"
    assert [reason["code"] for reason in body["reasons"]] == ["credit_hold", "over_limit"]
    assert body["reasons"][0]["text"] == "a credit hold is in force since 2026-01-05: NSF"


def test_another_entitys_customer_is_a_404(collector, customer, globex, make_customer) -> None:
    make_customer("THEIRS", entity=globex, currency="USD", credit_limit=Decimal("5"))
    for ref in ("THEIRS", "NOBODY"):
        response = collector.get("/credit/check", {"customer_ref": ref, "amount": "1"})
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
        assert collector.get(f"/customers/{ref}/credit").status_code == 404
    response = collector.get("/credit/check", {"customer_ref": "C-1001", "amount": "1", "entity": "globex"})
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"customer_ref": "C-1001", "amount": "lots"}, "amount"),
        ({"customer_ref": "C-1001", "amount": "-5"}, "amount"),
        ({"customer_ref": "C-1001", "amount": "5", "currency": "XX"}, "currency"),
        ({"customer_ref": "C-1001"}, "amount"),
    ],
)
def test_bad_parameters_are_a_422(collector, customer, params, field) -> None:
    response = collector.get("/credit/check", params)
    assert response.status_code == 422
    assert field in response.content.decode()


def test_sales_may_not_use_the_api_and_no_token_is_a_401(entity, customer) -> None:
    sales = token_of(entity, roles.SALES, "sales@example.com")
    assert sales.get("/credit/check", {"customer_ref": "C-1001", "amount": "1"}).status_code == 403
    assert ApiClient().get("/credit/check", {"customer_ref": "C-1001", "amount": "1"}).status_code == 401


@pytest.fixture
def credit_facts(entity, customer):
    today = timezone.localdate()
    CreditProfile.objects.create(
        entity=entity,
        customer=customer,
        limit_expires_on=today + timedelta(days=200),
        insurer="Allianz Trade",
        insurance_policy="POL-7",
        insured_limit=Decimal("800"),
        insured_currency="EUR",
        declaration_days=90,
    )
    CreditReview.objects.create(
        entity=entity,
        customer=customer,
        opened_on=today,
        proposal="raise_limit",
        proposed_limit=Decimal("1500"),
        currency="EUR",
        triggers=[{"code": "good_behaviour", "text": "six months within terms", "facts": {}}],
        reasons=["pays within terms at 70 % utilisation"],
    )
    BureauReport.objects.create(
        entity=entity,
        customer=customer,
        provider="creditsafe",
        reported_on=today,
        bureau_score=81,
        rating="A",
        raw_payload={"companyId": "FR-123", "secret": "bureau eyes only"},
    )


def test_the_customers_credit_without_the_bureau_for_a_collector(collector, customer, credit_facts) -> None:
    response = collector.get("/customers/C-1001/credit")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["limit"], body["exposure"], body["available"], body["utilisation"]) == (
        "1000.00",
        "400.00",
        "600.00",
        "40.00",
    )
    assert body["parts"] == [
        {
            "currency": "EUR",
            "open_receivables": "400.00",
            "open_orders": "0.00",
            "rate": "1",
            "converted": "400.00",
        }
    ]
    assert body["score"]["risk_class"] == "A"
    assert body["score"]["reasons"] == [{"factor": "late_share", "points": 0, "text": "pays on time"}]
    assert body["review"]["proposal"] == "raise_limit"
    assert body["insurance"]["insured_limit"] == "800.00"
    assert body["bureau"] is None
    assert "bureau eyes only" not in response.content.decode()


def test_support_sees_the_reasons_and_holds_never_the_bureau(entity, customer, credit_facts) -> None:
    CreditHold.objects.create(entity=entity, customer=customer, placed_on=date(2026, 1, 5), reason="NSF")
    support = token_of(entity, roles.SUPPORT, "support@example.com")
    response = support.get("/customers/C-1001/credit")
    assert response.status_code == 200
    assert response.json()["holds"] == [
        {"customer_ref": "C-1001", "placed_on": "2026-01-05", "reason": "NSF"}
    ]
    assert "bureau eyes only" not in response.content.decode()


def test_a_credit_manager_sees_the_bureau_report_and_its_payload(entity, customer, credit_facts) -> None:
    manager = token_of(entity, roles.CREDIT_MANAGER, "cm@example.com")
    bureau = manager.get("/customers/C-1001/credit").json()["bureau"]
    assert (bureau["provider"], bureau["bureau_score"], bureau["rating"]) == ("creditsafe", 81.0, "A")
    assert bureau["raw_payload"]["secret"] == "bureau eyes only"

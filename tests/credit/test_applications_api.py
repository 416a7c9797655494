# ruff: noqa: F811  (the fixtures imported from applications_fixtures are parameters here)
"""``/api/v1/credit/applications``: links, reads (scoped, bank details for credit managers only),
decisions (credit managers only; four eyes), errors in the API's shape."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.test import Client

from relance.credit.models import ApplicationLink, ApplicationStatus, CreditApplication
from tests.credit.applications_fixtures import (  # noqa: F401
    _fresh_cache,
    customer,
    globex,
    make_user,
    manager,
    manager2,
    prospect_link,
    submitted,
    upload_root,
)

pytestmark = pytest.mark.django_db
BASE = "/api/v1/credit/applications"


@pytest.fixture
def api():
    from relance.api.services import api_token_create

    def client_for(user) -> Client:
        token = api_token_create(user=user, name="tests")[1]
        return Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    return client_for


def _post(client: Client, path: str, body: dict):
    return client.post(path, json.dumps(body), content_type="application/json")


def test_list_and_read_with_bank_details_for_credit_managers(api, submitted, manager) -> None:
    client = api(manager)
    listed = client.get(BASE)
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert item["id"] == str(submitted.public_id) and item["status"] == "submitted"
    assert item["iban"] == "FR7630006000011234567890189" and len(item["documents"]) == 3
    detail = client.get(f"{BASE}/{submitted.public_id}").json()
    assert detail["requested_limit"] == "25000.0000" and detail["identifiers"]["siren"] == "303265045"
    assert client.get(f"{BASE}?status=approved").json()["items"] == []
    assert client.get(f"{BASE}?status=nonsense").status_code == 422


def test_support_reads_the_status_but_not_the_bank_details_and_cannot_decide(
    api, submitted, manager, make_user, entity
) -> None:
    from relance.credit.services.applications import application_decline

    application_decline(application=submitted, user=manager, reason="Too young a company.")
    client = api(make_user("help@acme.example", "support", entity))
    detail = client.get(f"{BASE}/{submitted.public_id}").json()
    assert detail["status"] == "declined" and detail["decline_reason"] == "Too young a company."
    assert detail["iban"] is None and detail["documents"] is None and detail["contacts"] is None
    assert _post(client, f"{BASE}/{submitted.public_id}/review", {}).status_code == 403


def test_a_collector_cannot_decide(api, submitted, make_user, entity) -> None:
    client = api(make_user("ana@acme.example", "collector", entity))
    response = _post(client, f"{BASE}/{submitted.public_id}/approve", {"limit": "100", "terms_days": 30})
    assert response.status_code == 403 and response.json()["error"]["message"]
    assert _post(client, f"{BASE}/links", {"email": "x@example.com"}).status_code == 403


def test_another_entitys_application_is_a_404(api, submitted, globex, make_user) -> None:
    client = api(make_user("boss@globex.example", "credit_manager", globex))
    for method, path, body in (
        ("get", f"{BASE}/{submitted.public_id}", None),
        ("post", f"{BASE}/{submitted.public_id}/review", {}),
        ("post", f"{BASE}/{submitted.public_id}/approve", {"limit": "1", "terms_days": 30}),
        ("post", f"{BASE}/{submitted.public_id}/decline", {"reason": "no"}),
        ("post", f"{BASE}/{submitted.public_id}/request-info", {"text": "more"}),
    ):
        response = client.get(path) if method == "get" else _post(client, path, dict(body or {}))
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    assert client.get(BASE).json()["items"] == []
    assert client.get(f"{BASE}/not-a-uuid").status_code == 404
    assert CreditApplication.objects.get().status == ApplicationStatus.SUBMITTED


def test_links_through_the_api(api, manager, customer, mailoutbox) -> None:
    client = api(manager)
    created = _post(client, f"{BASE}/links", {"email": "cfo@prospect.example", "language": "it", "days": 7})
    assert created.status_code == 201
    body = created.json()
    assert body["sent"] and body["language"] == "it" and "/credit/apply/" in body["url"]
    assert mailoutbox[-1].to == ["cfo@prospect.example"]
    to_customer = _post(client, f"{BASE}/links", {"customer_ref": "C-1042"})
    assert to_customer.status_code == 201 and to_customer.json()["email"] == "billing@martin.example"
    assert _post(client, f"{BASE}/links", {"customer_ref": "NOPE"}).status_code == 404
    assert _post(client, f"{BASE}/links", {"email": "not an address"}).status_code == 422
    revoked = _post(client, f"{BASE}/links/{body['link_id']}/revoke", {})
    assert revoked.json() == {"revoked": True}
    assert ApplicationLink.objects.get(pk=body["link_id"]).revoked_at is not None


def test_four_eyes_and_decisions_through_the_api(api, submitted, manager, manager2) -> None:
    path = f"{BASE}/{submitted.public_id}"
    first = _post(
        api(manager), f"{path}/approve", {"limit": 80000, "terms_days": 30, "customer_ref": "C-API"}
    )
    assert first.status_code == 200 and first.json()["completed"] is False
    assert first.json()["application"]["first_approved_by"] == "manager@acme.example"
    again = _post(
        api(manager), f"{path}/approve", {"limit": 80000, "terms_days": 30, "customer_ref": "C-API"}
    )
    assert again.status_code == 422 and again.json()["error"]["code"] == "four_eyes"
    second = _post(
        api(manager2), f"{path}/approve", {"limit": 80000, "terms_days": 30, "customer_ref": "C-API"}
    )
    assert second.json()["completed"] is True
    assert second.json()["application"]["status"] == "approved"
    assert second.json()["application"]["customer_ref"] == "C-API"
    application = CreditApplication.objects.get()
    assert application.customer.credit_limit == Decimal("80000")
    assert _post(api(manager), f"{path}/decline", {"reason": "late"}).status_code == 422


def test_information_request_through_the_api(api, submitted, manager, mailoutbox) -> None:
    response = _post(
        api(manager), f"{BASE}/{submitted.public_id}/request-info", {"text": "Last year's accounts"}
    )
    assert response.status_code == 200 and response.json()["status"] == "info_requested"
    assert "Last year's accounts" in mailoutbox[-1].body

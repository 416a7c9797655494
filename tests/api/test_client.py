"""relance-client (clients/python): it cannot drift from the API, and it round-trips against a live
server — pagination, typed errors, and a retried write applied once thanks to its idempotency key."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
import relance_client
from django.test import Client
from relance_client import NotFoundError, RelanceClient, ValidationError
from relance_client.client import OPERATIONS, RESOURCES
from relance_client.generate import render

MODELS = Path(relance_client.__file__).with_name("models.py")


@pytest.fixture
def openapi(db):
    return Client().get("/api/v1/openapi.json").json()


def _operations(openapi) -> set[tuple[str, str]]:
    return {
        (method.upper(), re.sub(r"\{[^}]+\}", "{ref}", path.removeprefix("/api/v1")))
        for path, operations in openapi["paths"].items()
        for method in operations
    }


def test_the_client_models_are_the_ones_the_api_generates(openapi):
    assert MODELS.read_text(encoding="utf-8") == render(openapi), (
        "clients/python/src/relance_client/models.py differs from /api/v1/openapi.json: regenerate it with "
        "python -m relance_client.generate <openapi.json> and adapt the client"
    )


def test_every_client_operation_exists_in_the_api(openapi):
    assert set(OPERATIONS) <= _operations(openapi)


def test_every_operation_of_the_client_resources_is_covered(openapi):
    prefixes = tuple(RESOURCES.values()) + ("/allocations",)
    api = {
        (method, path)
        for method, path in _operations(openapi)
        if path.startswith(prefixes)
        and path.count("/") <= 2
        and not path.endswith(("/credit", "/document", "/prediction"))
        and path != "/contacts/returned"  # an action on returned mail, not a resource operation
    }
    assert api - set(OPERATIONS) == set()


@pytest.fixture
def client(live_server, db, entity):
    from django.contrib.auth import get_user_model

    from relance.accounts.services import entity_access_grant
    from relance.api.services import api_token_create

    user = get_user_model().objects.create_user("bob", password="s3cret-pass")
    entity_access_grant(user=user, entity=entity)
    _, secret = api_token_create(user=user, name="client tests")
    with RelanceClient(live_server.url, secret, sleep=lambda seconds: None) as client:
        yield client


def test_round_trip_upsert_bulk_list_get(client):
    created = client.customers.upsert("C-1", {"name": "Dupont SARL", "currency": "EUR"})
    assert created["result"] == "created" and created["item"]["name"] == "Dupont SARL"
    assert client.customers.upsert("C-1", {"name": "Dupont SARL"})["result"] == "unchanged"
    counts = client.invoices.bulk(
        [
            {"invoice_ref": f"INV/{n}", "customer_ref": "C-1", "issue_date": "2026-10-01", "due_date": "2026-10-31",
             "amount": f"{100 + n}.50"}
            for n in range(5)
        ]
    )  # fmt: skip
    assert counts == {"created": 5, "updated": 0, "unchanged": 0}

    refs = [invoice["invoice_ref"] for invoice in client.invoices.list(limit=2, customer_ref="C-1")]
    assert refs == [f"INV/{n}" for n in range(5)]  # three pages of 2, 2 and 1
    assert [len(page) for page in client.invoices.pages(limit=2)] == [2, 2, 1]
    invoice = client.invoices.get("INV/3")  # a ref with a slash
    assert invoice["amount"] == "103.50" and invoice["open_amount"] == "103.50"

    payment = client.payments.upsert(
        "PAY-1", {"customer_ref": "C-1", "date": "2026-11-02", "currency": "EUR", "amount": "50",
                  "allocations": [{"invoice_ref": "INV/0", "amount": "50"}]}
    )  # fmt: skip
    assert payment["item"]["allocated"] == "50.00"
    assert [a["invoice_ref"] for a in client.allocations(payment_ref="PAY-1")] == ["INV/0"]


def test_errors_are_exceptions_with_the_api_code_and_details(client):
    with pytest.raises(NotFoundError) as missing:
        client.invoices.get("INV-404")
    assert missing.value.status == 404 and missing.value.code == "not_found"

    with pytest.raises(ValidationError) as invalid:
        client.customers.bulk([{"customer_ref": "C-2", "name": "X", "currency": "XYZ"}])
    assert invalid.value.code == "invalid"
    assert invalid.value.details[0]["field"] == "currency" and invalid.value.details[0]["index"] == 0
    assert "[0] currency: expected" in str(invalid.value)


class LoseFirstAnswer(httpx.BaseTransport):
    """Sends a write to the server, then loses its answer once (as a dropped connection would)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.keys: list[str] = []
        self.replayed: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method in ("PUT", "POST"):
            self.keys.append(request.headers["idempotency-key"])
            response.read()
            self.replayed.append(response.headers.get("idempotent-replayed", ""))
            if len(self.keys) == 1:
                raise httpx.ReadError("connection reset by peer", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


def test_a_write_whose_answer_was_lost_is_retried_with_the_same_key_and_applied_once(live_server, client):
    from relance.ledger.models import Customer

    transport = LoseFirstAnswer()
    token = client._http.headers["authorization"].removeprefix("Bearer ")
    with RelanceClient(live_server.url, token, transport=transport, sleep=lambda seconds: None) as retrying:
        answer = retrying.customers.upsert("C-9", {"name": "Retry SA", "currency": "EUR"})

    assert answer["result"] == "created"  # the first answer, replayed
    assert len(transport.keys) == 2 and transport.keys[0] == transport.keys[1]
    assert transport.replayed == ["", "true"]
    assert Customer.objects.filter(external_ref="C-9").count() == 1


def test_server_errors_are_retried_then_raised(db):
    from relance_client import ServerError

    calls = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers.get("idempotency-key"))
        return httpx.Response(503, json={"error": {"code": "unavailable", "message": "try later"}})

    waits: list[float] = []
    with (
        RelanceClient(
            "http://relance.test",
            "rel_x",
            transport=httpx.MockTransport(answer),
            retries=2,
            sleep=waits.append,
        ) as c,
        pytest.raises(ServerError, match="503 unavailable: try later"),
    ):
        c.orders.bulk([])
    assert len(calls) == 3 and len(set(calls)) == 1 and len(waits) == 2 and waits[1] > waits[0]


def test_the_generator_writes_the_models_from_a_file(tmp_path, openapi, monkeypatch):
    from relance_client import generate

    source = tmp_path / "openapi.json"
    source.write_text(json.dumps(openapi))
    target = tmp_path / "models.py"
    monkeypatch.setattr(generate, "__file__", str(tmp_path / "generate.py"))
    monkeypatch.setattr("sys.argv", ["generate", str(source)])
    generate.main()
    assert target.read_text() == render(openapi)

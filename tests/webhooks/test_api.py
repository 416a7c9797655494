"""/api/v1/webhooks/endpoints: admins only, scoped, CRUD, rotation, the log; payload schemas in OpenAPI."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from tests.api.conftest import ApiClient

pytestmark = pytest.mark.usefixtures("allow_private")


def client_for(user) -> ApiClient:
    from relance.api.services import api_token_create

    _, secret = api_token_create(user=user, name="tests")
    return ApiClient(secret)


@pytest.fixture
def admin_api(db, django_user_model):
    from relance.accounts.services import user_role_set

    admin = django_user_model.objects.create_user("root", password="s3cret-pass")
    user_role_set(user=admin, role="admin")
    return client_for(admin)


@pytest.fixture
def manager_api(db, django_user_model, entity):
    from relance.accounts.services import entity_access_grant, user_role_set

    manager = django_user_model.objects.create_user("mgr", password="s3cret-pass")
    user_role_set(user=manager, role="credit_manager")
    entity_access_grant(user=manager, entity=entity)
    return client_for(manager)


def patch(api: ApiClient, path: str, body) -> Any:
    return api.client.patch(
        f"/api/v1{path}", json.dumps(body), content_type="application/json", headers=api._headers({})
    )


def test_an_admin_creates_reads_changes_rotates_and_deletes(admin_api, entity, receiver):
    created = admin_api.post(
        "/webhooks/endpoints", {"url": receiver.url, "event_types": ["invoice.paid"], "entity": "acme"}
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["entity"] == "acme" and body["active"]
    pk = body["id"]
    listed = admin_api.get("/webhooks/endpoints").json()["items"]
    assert [row["id"] for row in listed] == [pk] and "secret" not in listed[0]
    changed = patch(
        admin_api, f"/webhooks/endpoints/{pk}", {"active": False, "event_types": ["promise.created"]}
    )
    assert changed.status_code == 200 and changed.json()["active"] is False
    assert changed.json()["event_types"] == ["promise.created"]
    rotated = admin_api.post(f"/webhooks/endpoints/{pk}/rotate", {"overlap_hours": 1})
    assert rotated.json()["secret"] != body["secret"]
    assert admin_api.get(f"/webhooks/endpoints/{pk}/attempts").json() == []
    assert admin_api.delete(f"/webhooks/endpoints/{pk}").status_code == 204
    assert admin_api.get(f"/webhooks/endpoints/{pk}").status_code == 404


def test_bad_input_is_a_clear_error(admin_api, settings):
    settings.RELANCE_WEBHOOK_ALLOW_PRIVATE = False
    refused = admin_api.post("/webhooks/endpoints", {"url": "http://127.0.0.1:9/x"})
    assert refused.status_code == 422 and "loopback" in refused.json()["error"]["message"]
    unknown = admin_api.post(
        "/webhooks/endpoints", {"url": "https://93.184.216.34/x", "event_types": ["nope"]}
    )
    assert unknown.status_code == 422 and "unknown event type nope" in unknown.json()["error"]["message"]


def test_other_roles_get_a_403(manager_api):
    assert manager_api.get("/webhooks/endpoints").status_code == 403
    assert manager_api.post("/webhooks/endpoints", {"url": "https://93.184.216.34/x"}).status_code == 403


def test_the_openapi_schema_documents_every_payload(db):
    from relance.events.types import EVENT_TYPES

    schema = Client().get("/api/v1/openapi.json").json()
    components = schema["components"]["schemas"]
    assert components["WebhookEnvelope"]["required"] == [
        "id",
        "type",
        "version",
        "timestamp",
        "entity",
        "data",
    ]
    for name in EVENT_TYPES:
        data = components[f"WebhookEvent_{name.replace('.', '_')}"]
        assert data["type"] == "object" and data["properties"]
    assert "/api/v1/webhooks/endpoints" in schema["paths"]

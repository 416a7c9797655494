"""Fixtures for the REST API: users with tokens and access to one entity, and a JSON client."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client


class ApiClient:
    """``django.test.Client`` speaking JSON with a Bearer token."""

    def __init__(self, secret: str | None = None, client: Client | None = None) -> None:
        self.client = client or Client()
        self.secret = secret

    def _headers(self, headers: dict[str, str]) -> dict[str, str]:
        if self.secret:
            headers = {"Authorization": f"Bearer {self.secret}", **headers}
        return headers

    def get(self, path: str, params: dict[str, Any] | None = None, **headers: str) -> Any:
        return self.client.get(f"/api/v1{path}", params or {}, headers=self._headers(headers))

    def put(self, path: str, body: Any, **headers: str) -> Any:
        return self.client.put(
            f"/api/v1{path}",
            json.dumps(body),
            content_type="application/json",
            headers=self._headers(headers),
        )

    def post(self, path: str, body: Any, **headers: str) -> Any:
        return self.client.post(
            f"/api/v1{path}",
            json.dumps(body),
            content_type="application/json",
            headers=self._headers(headers),
        )

    def delete(self, path: str, **headers: str) -> Any:
        return self.client.delete(f"/api/v1{path}", headers=self._headers(headers))


@pytest.fixture
def user(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user("alice", password="s3cret-pass")


@pytest.fixture
def grant(db):
    from relance.accounts.services import entity_access_grant

    return entity_access_grant


@pytest.fixture
def api(user, entity, grant) -> ApiClient:
    """Alice, who may see the ``acme`` entity only, with a fresh token."""
    from relance.api.services import api_token_create

    grant(user=user, entity=entity)
    _, secret = api_token_create(user=user, name="tests")
    return ApiClient(secret)


@pytest.fixture
def other_entity(db):
    from relance.ledger.services import entity_create_or_update

    other, _ = entity_create_or_update(name="globex", currency="USD", legal_name="Globex Inc")
    return other


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message"} <= set(body["error"]), body
    return body["error"]

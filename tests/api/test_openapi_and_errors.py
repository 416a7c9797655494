"""The API describes itself (OpenAPI, local docs) and fails in one shape everywhere."""

from __future__ import annotations

import re

from django.test import Client

from tests.api.conftest import error_of

RESOURCES = ["customers", "contacts", "invoices", "credit-notes", "payments"]


def test_openapi_json_is_valid_and_lists_every_path(db):
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"] == {**schema["info"], "title": "Relance API", "version": "1"}
    paths = schema["paths"]
    for resource in RESOURCES:
        assert set(paths[f"/api/v1/{resource}"]) == {"get"}
        assert set(paths[f"/api/v1/{resource}/{{ref}}"]) == {"get", "put"}
        assert set(paths[f"/api/v1/{resource}/bulk"]) == {"post"}
    assert set(paths["/api/v1/allocations"]) == {"get"}
    schemes = schema["components"]["securitySchemes"]
    assert {scheme["type"] for scheme in schemes.values()} == {"http", "apiKey"}
    # every $ref resolves
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', response.content.decode()))
    assert refs and refs <= set(schema["components"]["schemas"])


def test_openapi_validates_against_the_openapi_specification(db):
    from openapi_spec_validator import validate

    validate(Client().get("/api/v1/openapi.json").json())


def test_docs_page_loads_no_asset_from_another_host(db):
    response = Client().get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), html
    assert "cdn" not in html.lower()
    assets = re.findall(r"""(?:src|href)="([^"]+)\"""", html)
    assert assets and all(asset.startswith("/static/") for asset in assets)
    for asset in assets:  # and they are really served from here
        assert Client().get(asset).status_code == 200, asset


def test_unknown_path_is_404_in_the_error_shape(api):
    response = api.get("/nothing/here")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_wrong_method_is_405_in_the_error_shape(api):
    response = api.delete("/customers")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert response["Allow"] == "GET"


def test_malformed_json_is_an_error_in_the_shape(api):
    response = api.client.put(
        "/api/v1/customers/C1",
        "{not json",
        content_type="application/json",
        headers={"Authorization": f"Bearer {api.secret}"},
    )
    assert response.status_code in {400, 422}
    assert error_of(response)["code"] in {"bad_request", "invalid"}


def test_unexpected_exception_is_500_in_the_error_shape(api, monkeypatch):
    from relance.api import selectors

    def boom(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(selectors, "customer_list", boom)
    response = api.get("/customers")
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "internal_error" and "secret internals" not in error["message"]

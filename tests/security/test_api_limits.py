# ruff: noqa: F811 - the fixtures imported from tests.api.conftest are used as arguments
"""Finding 7 of issue 12: no input makes the API answer 5xx. Bodies up to the documented limit
(10,000 bulk items) are read and larger ones are a 413; instants whose UTC form is outside years
1-9999 are a 422; money and day counts refuse JSON booleans; the OpenAPI document has no
duplicated key. (tests/security/test_api_fuzz.py runs schemathesis over every operation.)"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from relance.ledger.models import Customer
from tests.api.conftest import api, error_of, grant, user  # noqa: F401 - fixtures

CORPUS = Path(__file__).parent / "corpus" / "api"
INSTANTS = json.loads((CORPUS / "instants.json").read_text())
TYPES = json.loads((CORPUS / "strict_types.json").read_text())
LISTS = ["/customers", "/contacts", "/invoices", "/credit-notes", "/payments", "/allocations"]

pytestmark = pytest.mark.django_db


def test_ten_thousand_bulk_items_over_djangos_default_body_limit_are_written(api):
    items = [
        {
            "customer_ref": f"C{n:05d}",
            "name": f"Customer number {n} " + "x" * 170,
            "segment": "S" * 64,
            "registration_id": "R" * 64,
        }
        for n in range(10_000)
    ]
    body = json.dumps({"items": items})
    assert len(body) > 2_621_440  # Django's default DATA_UPLOAD_MAX_MEMORY_SIZE, a 500 before
    response = api.post("/customers/bulk", {"items": items})
    assert response.status_code == 200, response.content[:500]
    assert response.json()["created"] == 10_000
    assert Customer.objects.count() == 10_000


def test_a_body_over_the_limit_is_a_413_in_the_error_shape(api):
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert limit == settings.RELANCE_MAX_BODY_BYTES >= 12 * 1024 * 1024
    response = api.client.post(
        "/api/v1/customers/bulk",
        b'{"items": [' + b" " * limit + b"]}",
        content_type="application/json",
        headers={"Authorization": f"Bearer {api.secret}"},
    )
    assert response.status_code == 413
    error = error_of(response)
    assert error["code"] == "too_large"
    assert f"over {limit:,} bytes" in error["message"]
    assert not Customer.objects.exists()


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("instant", INSTANTS["out_of_range"])
def test_an_instant_outside_the_utc_range_is_a_422_on_every_list(api, path, instant):
    response = api.get(path, {"updated_since": instant})
    assert response.status_code == 422, response.content
    details = error_of(response)["details"]
    assert details[0]["field"] == "updated_since"
    assert "between the years 1 and 9999 in UTC" in details[0]["message"]


@pytest.mark.parametrize("instant", INSTANTS["in_range"])
def test_instants_at_the_edges_of_the_range_are_accepted(api, make_customer, instant):
    make_customer("C1")
    response = api.get("/customers", {"updated_since": instant})
    assert response.status_code == 200, response.content
    expected = 0 if instant.startswith("9999") else 1
    assert len(response.json()["items"]) == expected


@pytest.mark.parametrize("case", TYPES["refused"], ids=lambda case: f"{case['field']}={case['value']!r}")
def test_a_value_of_the_wrong_json_type_is_a_422_on_its_field(api, case):
    response = api.put("/customers/C1", {"name": "Dupont", case["field"]: case["value"]})
    assert response.status_code == 422, response.content
    assert {detail["field"] for detail in error_of(response)["details"]} >= {case["field"]}
    assert not Customer.objects.exists()


@pytest.mark.parametrize("case", TYPES["accepted"], ids=lambda case: f"{case['field']}={case['value']!r}")
def test_numbers_and_decimal_strings_are_accepted(api, case):
    response = api.put("/customers/C1", {"name": "Dupont", case["field"]: case["value"]})
    assert response.status_code == 201, response.content
    stored = getattr(Customer.objects.get(), case["field"])
    expected = case["stored"]
    assert stored == (Decimal(expected) if isinstance(expected, str) else expected)


@pytest.mark.parametrize("method", ["put", "post", "delete"])
def test_a_write_to_a_ref_with_a_line_break_is_a_json_404_not_the_html_csrf_page(api, method):
    """Found by the schemathesis run: Django's ``path`` converter does not match a line break, so
    the request fell through to the catch-all view, and CSRF answered with its HTML page."""
    client = Client(enforce_csrf_checks=True)  # as a real client meets the CSRF middleware
    response = getattr(client, method)(
        "/api/v1/invoices/A%0AB",
        "{}",
        content_type="application/json",
        headers={"Authorization": f"Bearer {api.secret}"},
    )
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert error_of(response)["code"] == "not_found"


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    keys = [key for key, _ in pairs]
    duplicated = sorted({key for key in keys if keys.count(key) > 1})
    assert not duplicated, f"duplicated mapping key(s) {duplicated} in {keys}"
    return dict(pairs)


def test_the_openapi_document_has_no_duplicated_key_and_validates(db):
    from openapi_spec_validator import validate

    raw = Client().get("/api/v1/openapi.json").content.decode()
    schema = json.loads(raw, object_pairs_hook=_no_duplicate_keys)
    validate(schema)
    responses = schema["paths"]["/api/v1/invoices/{ref}/document"]["get"]["responses"]
    assert "application/pdf" in responses["200"]["content"]
    # Swagger UI reads the document with a YAML parser (JSON is YAML): that is where the
    # duplicated "200" showed as "duplicated mapping key". The same check with PyYAML.
    import yaml

    class StrictLoader(yaml.SafeLoader):
        pass

    def mapping(loader, node, deep=False):  # type: ignore[no-untyped-def]
        pairs = [
            (loader.construct_object(k, deep=True), loader.construct_object(v, deep=True))
            for k, v in node.value
        ]
        return _no_duplicate_keys([(str(key), value) for key, value in pairs])

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    assert yaml.load(raw, Loader=StrictLoader)["openapi"]  # noqa: S506  (StrictLoader is a SafeLoader) == schema["openapi"]

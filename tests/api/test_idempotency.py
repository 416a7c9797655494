"""Idempotency-Key: the same write sent twice happens once; a reused key is refused."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from relance.api.models import IdempotencyKey
from relance.api.services import api_token_create
from relance.ledger.models import Customer
from tests.api.conftest import ApiClient, error_of

KEY = {"Idempotency-Key": "3b1f0f6e-7d1c-4c55-9a43-2a4f1d0c9e11"}


def test_same_key_and_body_replays_the_first_response(api, entity):
    first = api.put("/customers/C1", {"name": "Dupont"}, **KEY)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first
    Customer.objects.filter(external_ref="C1").update(name="changed meanwhile")

    again = api.put("/customers/C1", {"name": "Dupont"}, **KEY)
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Customer.objects.get(external_ref="C1").name == "changed meanwhile"  # not written twice


def test_same_key_with_another_body_or_path_is_refused(api, entity):
    api.put("/customers/C1", {"name": "Dupont"}, **KEY)
    other_body = api.put("/customers/C1", {"name": "Durand"}, **KEY)
    assert other_body.status_code == 422
    assert error_of(other_body)["code"] == "idempotency_key_reused"
    other_path = api.put("/customers/C2", {"name": "Dupont"}, **KEY)
    assert error_of(other_path)["code"] == "idempotency_key_reused"
    assert list(Customer.objects.values_list("external_ref", "name")) == [("C1", "Dupont")]


def test_errors_are_replayed_too(api, entity):
    first = api.put("/customers/C1", {"name": ""}, **KEY)
    assert first.status_code == 422
    again = api.put("/customers/C1", {"name": ""}, **KEY)
    assert again.status_code == 422 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()


def test_bulk_replay(api, entity):
    body = {"items": [{"customer_ref": "B1", "name": "one"}, {"customer_ref": "B2", "name": "two"}]}
    first = api.post("/customers/bulk", body, **KEY)
    assert first.json() == {"created": 2, "updated": 0, "unchanged": 0}
    again = api.post("/customers/bulk", body, **KEY)
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"


def test_keys_expire_after_24_hours(api, entity):
    api.put("/customers/C1", {"name": "Dupont"}, **KEY)
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=24, seconds=1))
    later = api.put("/customers/C1", {"name": "Durand"}, **KEY)
    assert later.status_code == 200 and "Idempotent-Replayed" not in later
    assert later.json()["result"] == "updated"
    assert IdempotencyKey.objects.count() == 1


def test_keys_belong_to_one_user(api, entity, grant):
    from django.contrib.auth import get_user_model

    bob = get_user_model().objects.create_user("bob")
    grant(user=bob, entity=entity)
    other = ApiClient(api_token_create(user=bob, name="bob")[1])
    assert api.put("/customers/C1", {"name": "Dupont"}, **KEY).status_code == 201
    response = other.put("/customers/C2", {"name": "Durand"}, **KEY)
    assert response.status_code == 201 and "Idempotent-Replayed" not in response


def test_a_server_error_is_not_stored_so_a_retry_runs(api, entity, monkeypatch):
    from relance.api import writes

    real = writes.upsert_item

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(writes, "upsert_item", broken)
    assert api.put("/customers/C1", {"name": "Dupont"}, **KEY).status_code == 500
    assert not IdempotencyKey.objects.exists()
    monkeypatch.setattr(writes, "upsert_item", real)
    retry = api.put("/customers/C1", {"name": "Dupont"}, **KEY)
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry


def test_an_unusable_key_is_400(api, entity):
    response = api.put("/customers/C1", {"name": "Dupont"}, **{"Idempotency-Key": "x" * 256})
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_idempotency_key"
    assert not Customer.objects.exists()


def test_reads_ignore_the_header(api, entity):
    assert api.get("/customers", **KEY).status_code == 200
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_write_once(user, entity, grant):
    if connection.vendor != "postgresql":
        pytest.skip("SKIPPED: needs PostgreSQL's row locking (run with DATABASE_URL=postgres://…)")
    grant(user=user, entity=entity)
    secret = api_token_create(user=user, name="race")[1]
    results: list[tuple[int, str | None, dict]] = []
    start = threading.Barrier(4)

    def send() -> None:
        try:
            start.wait()
            response = ApiClient(secret).post(
                "/customers/bulk", {"items": [{"customer_ref": "R1", "name": "race"}]}, **KEY
            )
            results.append((response.status_code, response.get("Idempotent-Replayed"), response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _, _ in results] == [200] * 4
    assert sorted(replayed or "" for _, replayed, _ in results) == ["", "true", "true", "true"]
    assert all(body == {"created": 1, "updated": 0, "unchanged": 0} for _, _, body in results)
    assert Customer.objects.filter(external_ref="R1").count() == 1

"""The webhook endpoints page (``/w/webhooks/``): admins list, add (URL through the SSRF guard,
types from the one list), see the secret once, rotate, disable and enable, send a test event,
read the paged attempt log and replay a delivery; auditors read (their entities' endpoints
only) and change nothing; the other roles are refused. Every write goes through
``relance.webhooks.services`` (the CLI's and the API's)."""

from __future__ import annotations

import pytest
from django.test import Client
from standardwebhooks import Webhook

from relance.webhooks.delivery import webhook_pass
from relance.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from relance.webhooks.services import endpoint_create
from tests.workspace.conftest import PASSWORD, build_workspace


@pytest.fixture
def ws(db):
    return build_workspace()


@pytest.fixture
def admin(ws):
    from relance.accounts.services import user_create

    return user_create(email="root@acme.test", role="admin", entity_names=[], password=PASSWORD)


def _client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def _csrf(client: Client, path: str = "/w/webhooks/") -> str:
    client.get(path)
    return client.cookies["csrftoken"].value


def _post(client: Client, path: str, data: dict | None = None, follow: bool = False):
    token = _csrf(client)
    return client.post(path, {**(data or {}), "csrfmiddlewaretoken": token}, follow=follow)


def test_an_admin_adds_an_endpoint_and_sees_its_secret_once(ws, admin, allow_private, receiver):
    client = _client(admin)
    response = _post(
        client,
        "/w/webhooks/new/",
        {"url": receiver.url, "event_types": ["invoice.paid", "promise.broken"], "entity": "acme"},
    )
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.url, endpoint.event_types, endpoint.entity) == (
        receiver.url,
        ["invoice.paid", "promise.broken"],
        ws.acme,
    )
    page = response.content.decode()
    assert endpoint.secret in page and response["Cache-Control"] == "no-store"
    again = client.get(f"/w/webhooks/{endpoint.pk}/").content.decode()
    assert endpoint.secret not in again and endpoint.secret[:10] in again
    listing = client.get("/w/webhooks/").content.decode()
    assert receiver.url in listing and "invoice.paid" in listing and endpoint.secret not in listing


def test_refused_input_is_shown_by_its_field_and_kept(ws, admin, settings):
    settings.RELANCE_WEBHOOK_ALLOW_PRIVATE = False
    client = _client(admin)
    response = _post(
        client,
        "/w/webhooks/new/",
        {"url": "http://127.0.0.1:8080/hook", "event_types": ["invoice.paid"], "description": "ERP"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="url-error"' in page and "127.0.0.1" in page  # the guard's words, by the URL field
    assert 'value="http://127.0.0.1:8080/hook"' in page and 'value="ERP"' in page
    assert 'value="invoice.paid" checked' in page
    response = _post(
        client, "/w/webhooks/new/", {"url": "https://erp.example.com/h", "event_types": ["nope"]}
    )
    assert response.status_code == 400 and 'id="types-error"' in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_without_the_csrf_token_nothing_is_made(ws, admin, allow_private):
    client = _client(admin)
    response = client.post("/w/webhooks/new/", {"url": "https://erp.example.com/h"})
    assert response.status_code == 403 and not WebhookEndpoint.objects.exists()


def test_rotate_disable_enable(ws, admin, allow_private):
    endpoint = endpoint_create(url="http://127.0.0.1:9/h", entity=ws.acme)
    first = endpoint.secret
    client = _client(admin)
    response = _post(client, f"/w/webhooks/{endpoint.pk}/rotate/")
    endpoint.refresh_from_db()
    assert endpoint.secret != first and endpoint.previous_secret == first
    assert endpoint.secret in response.content.decode()
    _post(client, f"/w/webhooks/{endpoint.pk}/active/", {"active": "0"})
    endpoint.refresh_from_db()
    assert not endpoint.active and "root@acme.test" in endpoint.disabled_reason
    assert "Disabled" in client.get("/w/webhooks/").content.decode()
    _post(client, f"/w/webhooks/{endpoint.pk}/active/", {"active": "1"})
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.disabled_reason == ""


def test_a_test_event_is_delivered_signed_and_a_delivery_replayed_with_the_same_id(
    ws, admin, allow_private, receiver
):
    endpoint = endpoint_create(url=receiver.url, event_types=["invoice.paid"], entity=ws.acme)
    client = _client(admin)
    response = _post(client, f"/w/webhooks/{endpoint.pk}/test/", follow=True)
    assert "Test event" in response.content.decode()
    webhook_pass(worker_id="page")
    [request] = receiver.received
    body = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert body["type"] == "webhook.test" and body["data"]["endpoint_id"] == endpoint.pk
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.DELIVERED
    page = client.get(f"/w/webhooks/{endpoint.pk}/").content.decode()
    assert "HTTP 204" in page and delivery.event.uid in page

    _post(client, f"/w/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/replay/")
    webhook_pass(worker_id="page")
    assert [r.id for r in receiver.received] == [delivery.event.uid, delivery.event.uid]
    assert WebhookAttempt.objects.filter(delivery=delivery).count() == 2


def test_the_attempt_log_is_paged(ws, admin, allow_private):
    from django.utils import timezone

    endpoint = endpoint_create(url="http://127.0.0.1:9/h", entity=ws.acme)
    from relance.webhooks.services import endpoint_test_event_send

    delivery = WebhookDelivery.objects.get(event=endpoint_test_event_send(endpoint=endpoint, entity=ws.acme))
    WebhookAttempt.objects.bulk_create(
        WebhookAttempt(delivery=delivery, attempt=n, at=timezone.now(), status_code=500) for n in range(1, 61)
    )
    client = _client(admin)
    first = client.get(f"/w/webhooks/{endpoint.pk}/").content.decode()
    second = client.get(f"/w/webhooks/{endpoint.pk}/?page=2").content.decode()
    assert first.count('id="attempt-') == 50 and second.count('id="attempt-') == 10
    assert "Page 1 of 2" in first


def test_an_auditor_reads_their_entities_endpoints_and_changes_nothing(ws, allow_private):
    mine = endpoint_create(url="http://127.0.0.1:9/acme", entity=ws.acme)
    theirs = endpoint_create(url="http://127.0.0.1:9/globex", entity=ws.globex)
    client = _client(ws.auditor)
    listing = client.get("/w/webhooks/")
    assert listing.status_code == 200
    page = listing.content.decode()
    assert mine.url in page and theirs.url not in page and "Read-only" in page
    assert "/w/webhooks/new/" not in page  # no form to add one
    detail = client.get(f"/w/webhooks/{mine.pk}/").content.decode()
    assert mine.secret not in detail and "Rotate" not in detail and "Send a test event" not in detail
    assert client.get(f"/w/webhooks/{theirs.pk}/").status_code == 404
    for path in ("new/", f"{mine.pk}/rotate/", f"{mine.pk}/active/", f"{mine.pk}/test/"):
        assert _post(client, f"/w/webhooks/{path}", {"url": "https://x.example.com"}).status_code == 403
    mine.refresh_from_db()
    assert mine.active and not WebhookDelivery.objects.exists()


@pytest.mark.parametrize("who", ["ana", "manager"])
def test_collectors_and_credit_managers_do_not_see_webhooks(ws, who, allow_private):
    endpoint = endpoint_create(url="http://127.0.0.1:9/h", entity=ws.acme)
    client = _client(getattr(ws, who))
    assert client.get("/w/webhooks/").status_code == 403
    assert client.get(f"/w/webhooks/{endpoint.pk}/").status_code == 403
    assert "/w/webhooks/" not in client.get("/w/worklist/").content.decode()

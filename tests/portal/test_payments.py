"""Paying: the bank-transfer page (IBAN, RF reference, EPC QR) and Stripe Checkout against Stripe's
documented request, response and webhook payloads (respx; no network)."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from stdnum import iso11649

from relance.core.actors import SYSTEM
from relance.ledger.models import Allocation, Payment
from relance.ledger.selectors import invoice_open_amount
from relance.portal.models import PortalCheckout, PortalEvent, WebhookEvent
from relance.portal.payments import stripe
from tests.portal.conftest import sent_messages

pytestmark = pytest.mark.django_db

WEBHOOK_SECRET = "whsec_test_secret"
SESSION_ID = "cs_test_a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8s9t0u1v2w3x4y5z6A7B8C9D0E1"


@pytest.fixture
def stripe_settings(settings):
    settings.RELANCE_STRIPE_SECRET_KEY = "sk_test_123"
    settings.RELANCE_STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    return settings


def test_bank_transfer_shows_iban_rf_reference_and_qr(client, url, ledger):
    late, child = ledger["invoices"]["late"], ledger["invoices"]["child"]
    response = client.post(url("pay"), {"invoice": [late.pk, child.pk], "method": "bank"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "FR7630006000011234567890189" in body
    assert "€1,700.00" in body
    reference = body.split('id="rf">')[1].split("<")[0].replace(" ", "")
    assert iso11649.is_valid(reference)
    assert "<svg" in body
    assert PortalEvent.objects.filter(action="pay_bank").exists()


def test_pay_page_preselects_overdue_invoices(client, url, ledger):
    body = client.get(url("pay")).content.decode()
    late, soon = ledger["invoices"]["late"], ledger["invoices"]["soon"]
    assert f'value="{late.pk}" checked' in body
    assert f'value="{soon.pk}" checked' not in body
    assert 'value="stripe"' not in body  # no Stripe key configured: not offered


def test_pay_refuses_invoices_of_another_customer(client, url, ledger):
    response = client.post(url("pay"), {"invoice": [ledger["invoices"]["stranger"].pk], "method": "bank"})
    assert response.status_code == 400


@respx.mock
def test_stripe_checkout_session_follows_the_documented_request(client, url, ledger, stripe_settings):
    route = respx.post("https://api.stripe.com/v1/checkout/sessions").mock(
        return_value=httpx.Response(
            200,
            json={
                "id": SESSION_ID,
                "object": "checkout.session",
                "amount_total": 170000,
                "currency": "eur",
                "mode": "payment",
                "payment_status": "unpaid",
                "status": "open",
                "url": f"https://checkout.stripe.com/c/pay/{SESSION_ID}",
            },
        )
    )
    late, child = ledger["invoices"]["late"], ledger["invoices"]["child"]
    response = client.post(url("pay"), {"invoice": [late.pk, child.pk], "method": "stripe"})
    assert response.status_code == 302
    assert response["Location"] == f"https://checkout.stripe.com/c/pay/{SESSION_ID}"
    sent = route.calls.last.request
    assert sent.headers["Authorization"] == "Bearer sk_test_123"
    form = {key: values[0] for key, values in parse_qs(sent.content.decode()).items()}
    assert form["mode"] == "payment"
    assert form["line_items[0][price_data][currency]"] == "eur"
    assert {
        form["line_items[0][price_data][unit_amount]"],
        form["line_items[1][price_data][unit_amount]"],
    } == {
        "120000",
        "50000",
    }
    assert form["line_items[0][quantity]"] == "1"
    assert form["metadata[invoice_ids]"] == f"{late.pk},{child.pk}"
    assert form["client_reference_id"] == f"customer-{ledger['parent'].pk}"
    assert form["success_url"].startswith("http://testserver/portal/t/") and form["success_url"].endswith(
        "/pay/done/"
    )
    checkout = PortalCheckout.objects.get()
    assert checkout.provider_ref == SESSION_ID and checkout.amount == Decimal("1700.0000")


def _completed_event(event_id: str = "evt_1NG8Du2eZvKYlo2CUI79vXWy", amount_total: int = 170000) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2024-06-20",
            "created": int(time.time()),
            "livemode": False,
            "type": "checkout.session.completed",
            "data": {
                "object": {
                    "id": SESSION_ID,
                    "object": "checkout.session",
                    "amount_subtotal": amount_total,
                    "amount_total": amount_total,
                    "currency": "eur",
                    "mode": "payment",
                    "payment_intent": "pi_3MtwBwLkdIwHu7ix28a3tqPa",
                    "payment_status": "paid",
                    "status": "complete",
                    "client_reference_id": "customer-1",
                    "metadata": {"invoice_ids": "1,2"},
                }
            },
        }
    ).encode()


@pytest.fixture
def checkout(ledger, link):
    late, child = ledger["invoices"]["late"], ledger["invoices"]["child"]
    return PortalCheckout.objects.create(
        entity=link.customer.entity,
        customer=link.customer,
        link=link,
        provider="stripe",
        provider_ref=SESSION_ID,
        amount=Decimal("1700"),
        currency="EUR",
        invoices=[{"id": late.pk, "amount": "1200.0000"}, {"id": child.pk, "amount": "500.0000"}],
    )


def _post_webhook(client, payload: bytes, header: str):
    return client.post(
        "/portal/webhooks/stripe/",
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=header,
    )


def test_webhook_records_payment_allocations_and_thanks_once(
    client, checkout, ledger, stripe_settings, django_capture_on_commit_callbacks
):
    payload = _completed_event()
    header = stripe.signature_header(payload=payload, secret=WEBHOOK_SECRET, timestamp=int(time.time()))
    with django_capture_on_commit_callbacks(execute=True):
        assert _post_webhook(client, payload, header).status_code == 200
    payment = Payment.objects.get(external_ref="STRIPE-pi_3MtwBwLkdIwHu7ix28a3tqPa")
    assert payment.amount == Decimal("1700.0000") and payment.customer == ledger["parent"]
    assert Allocation.objects.filter(payment=payment).count() == 2
    assert invoice_open_amount(invoice=ledger["invoices"]["late"]) == 0
    assert invoice_open_amount(invoice=ledger["invoices"]["child"]) == 0
    checkout.refresh_from_db()
    assert checkout.status == "paid" and checkout.payment == payment
    assert [recipient for recipient, _ in sent_messages()] == ["ana@parent.example"]
    # Stripe retries the same event, and may send another event for the same session: nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        assert _post_webhook(client, payload, header).status_code == 200
        again = _completed_event(event_id="evt_other")
        assert (
            _post_webhook(
                client,
                again,
                stripe.signature_header(payload=again, secret=WEBHOOK_SECRET, timestamp=int(time.time())),
            ).status_code
            == 200
        )
    assert Payment.objects.filter(external_ref__startswith="STRIPE-").count() == 1
    assert Allocation.objects.filter(payment=payment).count() == 2
    assert len(sent_messages()) == 1


@pytest.mark.parametrize(
    "header",
    [
        None,
        "garbage",
        "t=abc,v1=deadbeef",
        "wrong-secret",
        "too-old",
        "tampered-body",
    ],
)
def test_webhook_with_a_wrong_signature_is_refused_and_changes_nothing(
    client, checkout, stripe_settings, header
):
    payload = _completed_event()
    now = int(time.time())
    if header == "wrong-secret":
        header = stripe.signature_header(payload=payload, secret="whsec_other", timestamp=now)
    elif header == "too-old":
        header = stripe.signature_header(payload=payload, secret=WEBHOOK_SECRET, timestamp=now - 3600)
    elif header == "tampered-body":
        header = stripe.signature_header(payload=payload, secret=WEBHOOK_SECRET, timestamp=now)
        payload = payload.replace(b"170000", b"999999")
    kwargs = {} if header is None else {"HTTP_STRIPE_SIGNATURE": header}
    response = client.post(
        "/portal/webhooks/stripe/", data=payload, content_type="application/json", **kwargs
    )
    assert response.status_code == 400
    assert not Payment.objects.filter(external_ref__startswith="STRIPE-").exists()
    assert not WebhookEvent.objects.exists()
    checkout.refresh_from_db()
    assert checkout.status == "pending"


def test_signature_scheme_matches_stripes_documentation():
    """Stripe: signed_payload = f"{t}.{body}", v1 = HMAC-SHA256(secret, signed_payload) in hex."""
    import hashlib
    import hmac

    payload = b'{"id": "evt_1"}'
    expected = hmac.new(b"whsec_x", b"1700000000." + payload, hashlib.sha256).hexdigest()
    header = f"t=1700000000,v0=ignored,v1=0000,v1={expected}"
    stripe.signature_verify(payload=payload, header=header, secret="whsec_x", now=1700000100)
    with pytest.raises(stripe.WebhookRefused):
        stripe.signature_verify(payload=payload, header=header, secret="whsec_x", now=1700000000 + 301)


def test_unpaid_session_event_records_nothing(client, checkout, stripe_settings):
    payload = _completed_event().replace(b'"payment_status": "paid"', b'"payment_status": "unpaid"')
    header = stripe.signature_header(payload=payload, secret=WEBHOOK_SECRET, timestamp=int(time.time()))
    assert _post_webhook(client, payload, header).status_code == 200
    assert not Payment.objects.filter(external_ref__startswith="STRIPE-").exists()


def test_back_office_lists(admin_client, client, url, ledger, today):
    client.post(url("promise"), {"promised_date": str(today + timedelta(days=5))})
    client.post(url("dispute", ledger["invoices"]["late"].pk), {"reason": "pricing", "amount": "10"})
    old_queue = admin_client.get("/portal/back/disputes/")
    assert old_queue.status_code == 302 and old_queue["Location"] == "/w/disputes/"  # one dispute queue
    disputes = admin_client.get(old_queue["Location"]).content.decode()
    assert "INV-1" in disputes and "10 d left" in disputes  # the SLA the customer was told
    promises = admin_client.get("/portal/back/promises/").content.decode()
    assert "Parent SA" in promises


def test_back_office_needs_a_login_and_an_entity(client, ledger, django_user_model):
    assert client.get("/portal/back/promises/").status_code == 302
    user = django_user_model.objects.create_user("nobody", password="x")
    client.force_login(user)
    from relance.cases.services import dispute_open

    dispute = dispute_open(
        actor=SYSTEM,
        invoice=ledger["invoices"]["late"],
        reason_code="other",
        on=ledger["invoices"]["late"].issue_date,
    )
    assert client.get("/w/disputes/").status_code == 404  # no entity at all
    refused = client.post(f"/w/disputes/{dispute.pk}/resolve/", {"resolution": "rejected"})
    assert refused.status_code == 404


def test_admin_pages(admin_client, link):
    for path in (
        "portallink",
        "portalevent",
        "planrequest",
        "portalsettings",
        "disputecase",
        "portalcheckout",
    ):
        assert admin_client.get(f"/admin/portal/{path}/").status_code == 200, path
    response = admin_client.post(
        "/admin/portal/portallink/", {"action": "revoke", "_selected_action": [link.pk]}
    )
    assert response.status_code == 302
    link.refresh_from_db()
    assert link.revoked_at is not None

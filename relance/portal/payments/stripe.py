"""Stripe Checkout, following Stripe's documented HTTP API (no SDK needed).

``start`` creates a Checkout Session (``POST /v1/checkout/sessions``, form-encoded, ``mode=payment``,
one ``line_items[][price_data]`` per invoice, ``success_url``/``cancel_url``, ``client_reference_id``
and ``metadata`` naming the invoices) and sends the customer to its ``url``: card data is entered on
Stripe's page only. The webhook (``checkout.session.completed`` when ``payment_status`` is ``paid``,
and ``checkout.session.async_payment_succeeded``) is verified with the ``Stripe-Signature`` scheme:
``t=TIMESTAMP,v1=HEX`` where HEX = HMAC-SHA256(webhook secret, f"{t}.{raw body}"), within a tolerance.

Settings (or environment): ``RELANCE_STRIPE_SECRET_KEY``, ``RELANCE_STRIPE_WEBHOOK_SECRET``,
``RELANCE_STRIPE_API_BASE`` (default https://api.stripe.com).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
from django.conf import settings

from relance.core.clock import zone
from relance.core.money import minor_units
from relance.portal.models import PortalLink
from relance.portal.payments.base import PaymentBackend, PaymentRequest, PaymentStart, WebhookRefused
from relance.portal.services import ProviderPayment

SIGNATURE_TOLERANCE_SECONDS = 300
PAID_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
SIGNATURE_MISSING = "no Stripe-Signature header"
SIGNATURE_MALFORMED = "malformed Stripe-Signature header"
SIGNATURE_TOO_OLD = "the signature's timestamp is outside the tolerance"
SIGNATURE_MISMATCH = "no v1 signature matches the payload"


def _setting(name: str, default: str = "") -> str:
    return str(getattr(settings, name, "") or os.environ.get(name, "") or default)


def secret_key() -> str:
    return _setting("RELANCE_STRIPE_SECRET_KEY")


def webhook_secret() -> str:
    return _setting("RELANCE_STRIPE_WEBHOOK_SECRET")


def api_base() -> str:
    return _setting("RELANCE_STRIPE_API_BASE", "https://api.stripe.com").rstrip("/")


def to_minor(amount: Decimal, currency: str) -> int:
    return int((amount * (10 ** minor_units(currency))).quantize(Decimal(1)))


def from_minor(units: int, currency: str) -> Decimal:
    return (Decimal(units) / (10 ** minor_units(currency))).quantize(Decimal("0.0001"))


def session_params(request: PaymentRequest) -> dict[str, str]:
    """The form fields of ``POST /v1/checkout/sessions`` for the chosen invoices."""
    params: dict[str, str] = {
        "mode": "payment",
        "success_url": request.success_url,
        "cancel_url": request.cancel_url,
        "client_reference_id": f"customer-{request.link.customer_id}",
        "metadata[customer_id]": str(request.link.customer_id),
        "metadata[portal_link_id]": str(request.link.pk),
        "metadata[invoice_ids]": ",".join(str(invoice.pk) for invoice in request.invoices),
        "payment_intent_data[metadata][invoice_ids]": ",".join(
            str(invoice.pk) for invoice in request.invoices
        ),
    }
    currency = request.currency.lower()
    for index, invoice in enumerate(request.invoices):
        prefix = f"line_items[{index}]"
        params[f"{prefix}[quantity]"] = "1"
        params[f"{prefix}[price_data][currency]"] = currency
        params[f"{prefix}[price_data][unit_amount]"] = str(to_minor(invoice.open_amount, request.currency))
        params[f"{prefix}[price_data][product_data][name]"] = f"Invoice {invoice.external_ref}"
    return params


class StripeCheckoutBackend(PaymentBackend):
    key = "stripe"
    label = "Card (Stripe)"

    def available(self, *, link: PortalLink, currency: str) -> bool:
        return bool(secret_key())

    def start(self, request: PaymentRequest) -> PaymentStart:
        from relance.portal.services import Actor, checkout_open

        response = httpx.post(
            f"{api_base()}/v1/checkout/sessions",
            data=session_params(request),
            headers={
                "Authorization": f"Bearer {secret_key()}",
                "Idempotency-Key": f"relance-portal-{request.link.pk}-{time.time_ns()}",
            },
            timeout=20,
        )
        response.raise_for_status()
        session = response.json()
        checkout_open(
            actor=Actor(request.link, request.ip),
            provider=self.key,
            provider_ref=session["id"],
            invoices=request.invoices,
            amount=request.amount,
            currency=request.currency,
        )
        return PaymentStart(redirect_url=session["url"])


def signature_verify(
    *,
    payload: bytes,
    header: str | None,
    secret: str,
    now: float | None = None,
    tolerance: int = SIGNATURE_TOLERANCE_SECONDS,
) -> None:
    """Raise ``WebhookRefused`` unless ``header`` signs ``payload`` with ``secret`` recently enough."""
    if not header:
        raise WebhookRefused(SIGNATURE_MISSING)
    timestamp = None
    signatures = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            timestamp = value
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not timestamp.isdigit() or not signatures:
        raise WebhookRefused(SIGNATURE_MALFORMED)
    if not secret:
        raise WebhookRefused(SIGNATURE_MISMATCH)
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise WebhookRefused(SIGNATURE_MISMATCH)
    if abs((time.time() if now is None else now) - int(timestamp)) > tolerance:
        raise WebhookRefused(SIGNATURE_TOO_OLD)


def signature_header(*, payload: bytes, secret: str, timestamp: int) -> str:
    """The header Stripe would send (for tests and local replays)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def paid_from_event(event: dict[str, Any]) -> ProviderPayment | None:
    """The payment a verified event reports, or None for events that do not mean "paid"."""
    if event.get("type") not in PAID_EVENTS:
        return None
    session = event.get("data", {}).get("object", {})
    if session.get("object") != "checkout.session" or session.get("payment_status") != "paid":
        return None
    currency = str(session["currency"]).upper()
    from relance.portal.models import PortalCheckout

    checkout = (
        PortalCheckout.objects.select_related("entity")
        .filter(provider="stripe", provider_ref=session["id"])
        .first()
    )
    tz = zone(checkout.entity.timezone or None) if checkout is not None else UTC
    on: date = datetime.fromtimestamp(int(event.get("created") or time.time()), UTC).astimezone(tz).date()
    payment_intent = session.get("payment_intent")
    if isinstance(payment_intent, dict):
        payment_intent = payment_intent.get("id")
    return ProviderPayment(
        provider="stripe",
        event_id=str(event["id"]),
        event_kind=str(event["type"]),
        provider_ref=str(session["id"]),
        payment_ref=f"STRIPE-{payment_intent or session['id']}",
        amount=from_minor(int(session["amount_total"]), currency),
        currency=currency,
        on=on,
    )


def webhook_event(*, payload: bytes, header: str | None) -> dict[str, Any]:
    """The event of a genuine webhook call (signature checked first), or ``WebhookRefused``."""
    signature_verify(payload=payload, header=header, secret=webhook_secret())
    try:
        event = json.loads(payload)
    except ValueError:
        raise WebhookRefused("the payload is not JSON") from None
    if not isinstance(event, dict) or "id" not in event:
        raise WebhookRefused("the payload is not an event")
    return event

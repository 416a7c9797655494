"""Saved cards: what the provider tells us of a card a customer keeps on file (brand, last four
digits, expiry), recorded so that the credit notices can warn before it expires.

``saved_card_record`` is the one write; ``saved_card_from_stripe`` reads a Stripe PaymentMethod
object (``payment_method.attached`` / ``.updated`` events, or one fetched after a checkout).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils import timezone

from relance.ledger.models import Customer
from relance.portal.models import SavedCard


def saved_card_record(
    *,
    customer: Customer,
    provider: str,
    provider_ref: str,
    brand: str,
    last4: str,
    exp_month: int,
    exp_year: int,
    removed: bool = False,
) -> SavedCard:
    """Create or update the card ``provider_ref`` (a new expiry after an update is a new card to
    notice: the notice is keyed on card and expiry)."""
    if not 1 <= exp_month <= 12:
        raise ValueError(f"expiry month {exp_month} is not 1–12")
    card, _ = SavedCard.objects.update_or_create(
        provider_ref=provider_ref,
        defaults={
            "entity_id": customer.entity_id,
            "customer": customer,
            "provider": provider,
            "brand": brand[:20],
            "last4": last4[-4:],
            "exp_month": exp_month,
            "exp_year": exp_year,
            "removed_at": timezone.now() if removed else None,
        },
    )
    return card


def saved_card_from_stripe(
    *, customer: Customer, payment_method: Mapping[str, Any], removed: bool = False
) -> SavedCard | None:
    """Record a Stripe PaymentMethod of type ``card``; None for any other type."""
    card = payment_method.get("card")
    if payment_method.get("type") != "card" or not isinstance(card, Mapping):
        return None
    return saved_card_record(
        customer=customer,
        provider="stripe",
        provider_ref=str(payment_method["id"]),
        brand=str(card.get("brand") or ""),
        last4=str(card.get("last4") or ""),
        exp_month=int(card["exp_month"]),
        exp_year=int(card["exp_year"]),
        removed=removed,
    )


#: Stripe's events about a saved card (its expiry changes when the card network updates it).
CARD_EVENTS = (
    "payment_method.attached",
    "payment_method.updated",
    "payment_method.automatically_updated",
    "payment_method.detached",
)


def saved_card_from_event(event: Mapping[str, Any]) -> SavedCard | None:
    """Record the card of a verified Stripe ``payment_method.*`` event. Whose card it is: a card
    already on file (its id), else the PaymentMethod's ``metadata.customer_id`` — our customer's id,
    as the portal's checkouts name it in their own metadata. Anything else is ignored (None)."""
    if event.get("type") not in CARD_EVENTS:
        return None
    method = (event.get("data") or {}).get("object") or {}
    if not isinstance(method, Mapping) or method.get("object") != "payment_method" or not method.get("id"):
        return None
    known = SavedCard.objects.select_related("customer").filter(provider_ref=str(method["id"])).first()
    customer = known.customer if known is not None else None
    if customer is None:
        named = str((method.get("metadata") or {}).get("customer_id") or "")
        customer = Customer.objects.filter(pk=int(named)).first() if named.isdigit() else None
    if customer is None:
        return None
    return saved_card_from_stripe(
        customer=customer, payment_method=method, removed=event.get("type") == "payment_method.detached"
    )

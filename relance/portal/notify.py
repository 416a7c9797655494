"""Messages the portal sends (codes, confirmations, thank-yous).

``relance.comms.services.message_render`` renders the template ``template_key`` (falling back to the
portal's own text when that template does not exist) and ``relance.delivery.services.outbox_enqueue``
queues it exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from relance.ledger.models import Contact, Customer, Invoice

logger = logging.getLogger(__name__)

# Template keys the portal asks the comms app for (with the portal's own text as fallback).
PORTAL_CODE = "portal_code"
PROMISE_CONFIRMATION = "promise_confirmation"
DISPUTE_RECEIVED = "dispute_received"
DISPUTE_RESOLVED = "dispute_resolved"
PLAN_CONFIRMATION = "plan_confirmation"
PLAN_REQUEST_DECIDED = "plan_request_decided"
PAYMENT_THANK_YOU = "payment_thank_you"
EMAIL_CHANGED = "portal_email_changed"


@dataclass(frozen=True)
class Outgoing:
    """What the portal wants to say when no template renders it."""

    template_key: str
    subject: str
    text: str


def recipient_for(
    *, customer: Customer, contact: Contact | None, channel: str = "email"
) -> tuple[str, Contact | None]:
    """The link's contact's address, else the customer's billing contact's; ("", None) if none."""
    field = "email" if channel == "email" else "phone"
    if contact is not None and getattr(contact, field):
        return getattr(contact, field), contact
    candidates = Contact.objects.filter(customer=customer).exclude(**{field: ""}).order_by("role", "id")
    billing = candidates.filter(role="billing").first() or candidates.first()
    if billing is None:
        return "", None
    return getattr(billing, field), billing


def message_send(
    *,
    customer: Customer,
    outgoing: Outgoing,
    idempotency_key: str,
    recipient: str,
    contact: Contact | None = None,
    channel: str = "email",
    as_of: Any = None,
    invoices: Sequence[Invoice] | None = None,
    extra: Mapping[str, object] | None = None,
    one_time_secret: bool = False,
) -> bool:
    """Queue (or send) one message; True when it went somewhere. Never raises for a delivery problem:
    the portal action it confirms has already happened. ``one_time_secret``: the message carries a
    code, and the portal's list of messages never shows it."""
    if not recipient:
        return False
    from relance.delivery.services import outbox_enqueue

    rendered = _render(customer, outgoing, channel, as_of, invoices, contact, idempotency_key, extra)
    try:
        outbox_enqueue(
            rendered=rendered,
            customer=customer,
            channel=channel,
            recipient=recipient,
            idempotency_key=f"portal:{idempotency_key}",
            contact=contact,
            headers={"one_time_secret": True} if one_time_secret else None,
        )
        return True
    except Exception:  # the outbox refused (bad recipient, …): logged, the action stands
        logger.exception("portal message %s not queued", idempotency_key)
        return False


def payment_thank_you(
    *,
    customer: Customer,
    amount: Any,
    currency: str,
    on: Any,
    invoices: Sequence[Invoice],
    idempotency_key: str,
    contact: Contact | None = None,
) -> bool:
    """Thank the customer for a payment received (``payment_thank_you``): the portal's card or
    transfer payments and the bank lines cash application applies. Queued once per
    ``idempotency_key``; call it after the payment is committed."""
    recipient, contact = recipient_for(customer=customer, contact=contact)
    refs = ", ".join(invoice.external_ref for invoice in invoices)
    outgoing = Outgoing(
        PAYMENT_THANK_YOU,
        "Thank you for your payment",
        f"Thank you: we have received your payment of {amount:.2f} {currency}"
        + (f" for invoice(s) {refs}." if refs else "."),
    )
    return message_send(
        customer=customer,
        outgoing=outgoing,
        idempotency_key=idempotency_key,
        recipient=recipient,
        contact=contact,
        as_of=on,
        invoices=list(invoices) or None,
    )


def _render(
    customer: Customer,
    outgoing: Outgoing,
    channel: str,
    as_of: Any,
    invoices: Sequence[Invoice] | None,
    contact: Contact | None,
    message_key: str,
    extra: Mapping[str, object] | None,
) -> Any:
    from relance.comms.types import RenderedMessage

    try:
        from relance.comms.services import message_render

        return message_render(
            customer=customer,
            template_key=outgoing.template_key,
            channel=channel,
            as_of=as_of,
            invoices=invoices,
            contact=contact,
            message_key=message_key,
            extra=dict(extra or {}, portal_text=outgoing.text),
        )
    except Exception:  # no such template, or it failed: the portal's own words
        logger.info("portal message %s: no template %s, plain text used", message_key, outgoing.template_key)
        return RenderedMessage(
            template_key=outgoing.template_key,
            channel=channel,
            language=customer.language or "en",
            subject=outgoing.subject,
            text=outgoing.text,
        )

"""Signed links in messages: the customer's portal and the contact's opt-out.

With the portal app installed, portal links are its magic links (``relance.portal.links``); the
placeholder page ``/comms/portal/<token>/`` remains for previews. Placeholder tokens are short (they go into SMS): ``<payload>.<timestamp>.<signature>`` where the signature
is Django's salted HMAC (``django.core.signing.Signer``, SHA-256) of payload and timestamp,
truncated to 22 base64 characters (132 bits). Portal links expire. Opt-out links are the
compliance app's (they never expire).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core import signing
from django.urls import reverse
from django.utils.crypto import constant_time_compare

from relance.common.links import absolute_url
from relance.ledger.models import Contact, Customer

PORTAL_SALT = "relance.comms.portal"
PORTAL_LINK_MAX_AGE_DAYS = 60
SIGNATURE_CHARS = 22

BAD_TOKEN = "the link is invalid"
EXPIRED_TOKEN = "the link has expired"


def _signature(salt: str, value: str) -> str:
    return signing.Signer(salt=salt, algorithm="sha256").signature(value)[:SIGNATURE_CHARS]


def _sign(salt: str, payload: str, *, now: float | None = None) -> str:
    stamp = signing.b62_encode(int(now if now is not None else time.time()))
    value = f"{payload}.{stamp}"
    return f"{value}.{_signature(salt, value)}"


def _unsign(salt: str, token: str, *, max_age_seconds: float | None, now: float | None = None) -> str:
    try:
        payload, stamp, signature = token.rsplit(".", 2)
    except ValueError:
        raise signing.BadSignature(BAD_TOKEN) from None
    if not constant_time_compare(signature, _signature(salt, f"{payload}.{stamp}")):
        raise signing.BadSignature(BAD_TOKEN)
    if max_age_seconds is not None:
        age = (now if now is not None else time.time()) - signing.b62_decode(stamp)
        if age > max_age_seconds:
            raise signing.SignatureExpired(EXPIRED_TOKEN)
    return payload


@dataclass(frozen=True, slots=True)
class PortalAccess:
    customer_id: int
    contact_id: int | None


def portal_token(customer: Customer, *, contact: Contact | None = None, now: float | None = None) -> str:
    payload = signing.b62_encode(customer.pk) + ("-" + signing.b62_encode(contact.pk) if contact else "")
    return _sign(PORTAL_SALT, payload, now=now)


def portal_token_load(token: str, *, now: float | None = None) -> PortalAccess:
    """Who a portal token is for; raises ``signing.BadSignature`` (or ``SignatureExpired``)."""
    payload = _unsign(PORTAL_SALT, token, max_age_seconds=PORTAL_LINK_MAX_AGE_DAYS * 86400, now=now)
    customer, _, contact = payload.partition("-")
    try:
        return PortalAccess(signing.b62_decode(customer), signing.b62_decode(contact) if contact else None)
    except ValueError:
        raise signing.BadSignature(BAD_TOKEN) from None


def placeholder_portal_url(customer: Customer, *, contact: Contact | None = None) -> str:
    """A signed link to the placeholder page (no database row): previews."""
    return absolute_url(reverse("comms:portal", args=[portal_token(customer, contact=contact)]))


def portal_url(customer: Customer, *, contact: Contact | None = None) -> str:
    """Absolute link to the customer's portal: a fresh revocable magic link (``relance.portal.links``;
    it lasts the entity's portal setting)."""
    from relance.portal.links import portal_link_url

    return portal_link_url(customer, contact=contact, days=None, source="message")


def pay_url_for(portal: str) -> str:
    """The pay button's link, from the portal link: its payment page (``…/pay/``)."""
    if "/comms/portal/" in portal:
        return portal + "?pay=1"
    return portal.rstrip("/") + "/pay/"


def pay_url(customer: Customer, *, contact: Contact | None = None) -> str:
    return pay_url_for(portal_url(customer, contact=contact))


def opt_out_url(contact: Contact, channel: str) -> str:
    """Absolute signed link to stop ``channel`` messages to ``contact``: the compliance app owns the
    token and the page (``relance.compliance.links``)."""
    from relance.compliance import links as compliance_links

    return compliance_links.opt_out_url(contact, channel)

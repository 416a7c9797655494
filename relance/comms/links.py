"""Links in messages: the customer's portal, its payment page and the contact's opt-out.

Portal links are the portal's magic links (``relance.portal.links``: a ``PortalLink`` row, signed,
expiring, revocable) — the one portal-link mechanism. comms sits below portal in the layers, so
it does not import it: the portal app registers its link maker here when it starts
(``PortalConfig.ready``), and messages ask for a link through ``portal_url``. A preview asks for
a preview link: no row, a link of the real length that opens nothing. Opt-out links are the
compliance app's (they never expire).
"""

from __future__ import annotations

from typing import Protocol

from django.core.exceptions import ImproperlyConfigured

from relance.ledger.models import Contact, Customer

NO_PORTAL = "no portal link maker registered: relance.portal must be in INSTALLED_APPS"


class PortalLinkMaker(Protocol):
    def __call__(self, customer: Customer, *, contact: Contact | None, preview: bool) -> str:
        """The absolute URL of the customer's portal for a message (``preview``: persists nothing)."""
        ...


_maker: list[PortalLinkMaker] = []


def portal_link_maker_register(maker: PortalLinkMaker) -> None:
    """Called once by the portal app (``ready``); a second call replaces the first (tests)."""
    _maker[:] = [maker]


def portal_url(customer: Customer, *, contact: Contact | None = None, preview: bool = False) -> str:
    """Absolute link to the customer's portal: a fresh revocable magic link (it lasts the entity's
    portal setting), or for a preview a link that opens nothing."""
    if not _maker:
        raise ImproperlyConfigured(NO_PORTAL)
    return _maker[0](customer, contact=contact, preview=preview)


def pay_url_for(portal: str) -> str:
    """The pay button's link, from the portal link: its payment page (``…/pay/``)."""
    return portal.rstrip("/") + "/pay/"


def pay_url(customer: Customer, *, contact: Contact | None = None) -> str:
    return pay_url_for(portal_url(customer, contact=contact))


def opt_out_url(contact: Contact, channel: str) -> str:
    """Absolute signed link to stop ``channel`` messages to ``contact``: the compliance app owns the
    token and the page (``relance.compliance.links``)."""
    from relance.compliance import links as compliance_links

    return compliance_links.opt_out_url(contact, channel)

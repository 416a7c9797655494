"""Magic links: a signed token in the URL, a ``PortalLink`` row deciding whether it still opens.

The token is ``django.core.signing`` of the link's random ``token_id`` with the portal's salt, so
a token cannot be forged or altered without SECRET_KEY, and a link can be revoked or expire
without changing any key.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from django.core import signing
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from relance.common.fixed_sql import SENTINEL_TEXT, FixedQuery
from relance.common.links import absolute_url
from relance.ledger.models import Contact, Customer
from relance.portal.models import LinkSource, PortalLink

TOKEN_SALT = "relance.portal.link"
LINK_DAYS_INVALID = "a link lasts 1 to 366 days, not {days}"


class LinkRefused(Exception):
    """The token is not a portal link that opens now. ``reason``: bad, expired or revoked."""

    def __init__(self, reason: str, link: PortalLink | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.link = link


def token_id_new() -> str:
    """A random token id (144 bits): what a signed link carries."""
    return secrets.token_urlsafe(18)


def token_sign(token_id: str, *, salt: str = TOKEN_SALT) -> str:
    """The token of a link: its id signed with SECRET_KEY and the salt of the kind of link (the
    portal's, the credit application form's…): one home for signing links."""
    return signing.dumps(token_id, salt=salt)


def token_for(link: PortalLink) -> str:
    return token_sign(link.token_id)


def token_id_from(token: str, *, salt: str = TOKEN_SALT) -> str:
    """The token id a token carries; ``LinkRefused("bad")`` for anything not signed by us."""
    try:
        value = signing.loads(token, salt=salt)
    except signing.BadSignature:
        raise LinkRefused("bad") from None
    if not isinstance(value, str):
        raise LinkRefused("bad")
    return value


def _link_by_token_id(token_id: str) -> QuerySet[PortalLink]:
    # The contact is read lazily by the pages that write (a third of the columns to compile here);
    # token_id is unique: no ORDER BY (``.first()`` would add one).
    return (
        PortalLink.objects.select_related("customer", "customer__entity")
        .filter(token_id=token_id)
        .order_by()[:1]
    )


# Every portal page opens with it: compiled once per process (``relance.common.fixed_sql``).
_LINK_BY_TOKEN_ID = FixedQuery(_link_by_token_id, token_id=SENTINEL_TEXT)


def link_verify(token: str, *, now: datetime | None = None) -> PortalLink:
    """The link a token opens now, or ``LinkRefused`` (bad, expired, revoked)."""
    token_id = token_id_from(token)
    found = _LINK_BY_TOKEN_ID.objects(token_id=token_id)
    link = cast(PortalLink, found[0]) if found else None
    if link is None:
        raise LinkRefused("bad")
    now = now or timezone.now()
    if link.revoked_at is not None:
        raise LinkRefused("revoked", link)
    if link.expires_at <= now:
        raise LinkRefused("expired", link)
    return link


def link_create(
    *,
    customer: Customer,
    contact: Contact | None = None,
    days: int | None = None,
    source: str = LinkSource.MESSAGE,
    user: Any = None,
) -> PortalLink:
    """A new link (one INSERT, no transaction of its own: on SQLite a transaction that reads the
    settings and then writes fails at once, "database is locked", when another process wrote in
    between; a lone INSERT waits for the write lock instead — two delivery workers re-rendering)."""
    from relance.portal.selectors import portal_settings_for

    if days is None:
        days = portal_settings_for(entity=customer.entity).link_days
    if not 1 <= days <= 366:
        raise ValueError(LINK_DAYS_INVALID.format(days=days))
    return PortalLink.objects.create(
        customer=customer,
        contact=contact,
        token_id=token_id_new(),
        expires_at=timezone.now() + timedelta(days=days),
        source=source,
        created_by=user if getattr(user, "pk", None) else None,
    )


def link_revoke(*, link: PortalLink) -> bool:
    """Revoke a link at once; False if it was already revoked."""
    if link.revoked_at is not None:
        return False
    link.revoked_at = timezone.now()
    link.save(update_fields=["revoked_at", "updated_at"])
    return True


def link_path(link: PortalLink) -> str:
    return reverse("portal:overview", args=[token_for(link)])


def link_url(link: PortalLink) -> str:
    return absolute_url(link_path(link))


@dataclass(frozen=True)
class IssuedLink:
    link: PortalLink
    url: str


def portal_link_url(
    customer: Customer, *, contact: Contact | None = None, days: int | None = 30, source: str = "message"
) -> str:
    """An absolute URL of a fresh portal link for ``customer`` (what messages put in their text)."""
    return link_url(link_create(customer=customer, contact=contact, days=days, source=source))


#: The token id of preview links: of a real one's length, and never a row (real ones are random).
PREVIEW_TOKEN_ID = "preview-" + "0" * 16


def message_link_url(customer: Customer, *, contact: Contact | None, preview: bool) -> str:
    """The portal link a message carries (registered with ``relance.comms.links`` by the app): a
    fresh link lasting the entity's portal setting, or for a preview a signed link of the same
    length that persists nothing and opens nothing (the page says the link is not valid).

    Why not a real link for previews: a preview is read by staff, and every real link is access
    to the customer's account; why not a placeholder page: one mechanism, and the preview's SMS
    counts the characters the real link will take."""
    if preview:
        return absolute_url(
            reverse("portal:overview", args=[signing.dumps(PREVIEW_TOKEN_ID, salt=TOKEN_SALT)])
        )
    return portal_link_url(customer, contact=contact, days=None, source=LinkSource.MESSAGE)

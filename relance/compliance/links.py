"""Signed links: a contact's opt-out link and a sales owner's "hold escalation" link.

Tokens are signed with ``SECRET_KEY`` (django.core.signing) under their own salts, so one kind
of token can never be replayed as the other. Opt-out links never expire (a reminder read months
later must still let its reader opt out); hold links expire and are bound to one owner.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

from relance.common.links import absolute_url
from relance.core.channels import OPT_OUT_CHANNELS, channel_parse, opt_out_channel
from relance.ledger.models import Contact, Customer

OPT_OUT_SALT = "relance.compliance.opt_out"
HOLD_SALT = "relance.compliance.owner_hold"
#: How long a hold link works, in seconds (settings.RELANCE_HOLD_LINK_MAX_AGE overrides it).
HOLD_LINK_MAX_AGE = 14 * 24 * 3600
HOLD_DAYS_MAX = 90

CHANNEL_UNKNOWN = "no opt-out for channel {channel!r}: expected one of {choices}"
LINK_INVALID = "this link is not valid"
LINK_EXPIRED = "this link has expired"


def preference_channel(channel: str) -> str:
    """The channel whose opt-out rules ``channel`` (relance.core.channels): ``email``, ``sms``,
    ``letter`` or ``call``. Reads the legacy ``phone`` of links signed before the one vocabulary."""
    try:
        flag = str(opt_out_channel(channel_parse(channel)))
    except ValueError:
        flag = ""
    if flag not in OPT_OUT_CHANNELS:
        raise ValueError(CHANNEL_UNKNOWN.format(channel=channel, choices=", ".join(OPT_OUT_CHANNELS)))
    return flag


# --------------------------------------------------------------------------- opt-out


def opt_out_token(contact: Contact, channel: str) -> str:
    """A token naming the contact and the channel (``email``, ``sms``, ``letter``, ``call``)."""
    return signing.Signer(salt=OPT_OUT_SALT).sign_object({"c": contact.pk, "ch": preference_channel(channel)})


def opt_out_token_read(token: str) -> tuple[int, str]:
    """``(contact id, preference channel)``; ``signing.BadSignature`` when forged or damaged.
    A link signed before the one vocabulary names ``phone``: it is read as ``call``."""
    data = signing.Signer(salt=OPT_OUT_SALT).unsign_object(token)
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("c"), int)
        or not isinstance(data.get("ch"), str)
    ):
        raise signing.BadSignature(LINK_INVALID)
    try:
        return data["c"], preference_channel(data["ch"])
    except ValueError:
        raise signing.BadSignature(LINK_INVALID) from None


def opt_out_path(contact: Contact, channel: str) -> str:
    return reverse("compliance:opt_out", args=[opt_out_token(contact, channel)])


def opt_out_url(contact: Contact, channel: str) -> str:
    """The absolute opt-out link (for ``List-Unsubscribe`` and the message footer)."""
    return absolute_url(opt_out_path(contact, channel))


# --------------------------------------------------------------------------- owner hold


@dataclass(frozen=True)
class HoldLink:
    customer_id: int
    owner_id: int
    days: int


def owner_hold_token(customer: Customer, owner: object, days: int) -> str:
    if not 1 <= days <= HOLD_DAYS_MAX:
        raise ValueError(f"a hold lasts 1 to {HOLD_DAYS_MAX} days, not {days}")
    owner_pk = getattr(owner, "pk", None)
    if owner_pk is None:
        raise ValueError("the hold link needs a saved user")
    return signing.dumps({"cu": customer.pk, "o": owner_pk, "d": days}, salt=HOLD_SALT, compress=True)


def owner_hold_token_read(token: str) -> HoldLink:
    """The link's content; ``signing.SignatureExpired`` after the max age, ``BadSignature`` if forged."""
    max_age = getattr(settings, "RELANCE_HOLD_LINK_MAX_AGE", HOLD_LINK_MAX_AGE)
    data = signing.loads(token, salt=HOLD_SALT, max_age=max_age)
    try:
        return HoldLink(customer_id=int(data["cu"]), owner_id=int(data["o"]), days=int(data["d"]))
    except (KeyError, TypeError, ValueError):
        raise signing.BadSignature(LINK_INVALID) from None


def owner_hold_url(customer: Customer, owner: object, days: int) -> str:
    """The absolute "hold escalation for ``days`` days, I'm on it" link for the customer's sales owner."""
    return absolute_url(reverse("compliance:owner_hold", args=[owner_hold_token(customer, owner, days)]))

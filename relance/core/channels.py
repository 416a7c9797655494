"""The channel vocabulary: one name per way of reaching a customer, used by every layer.

A policy step lists channels (``email``, ``sms``, ``letter``, ``registered_letter``, ``call``), a
contact prefers one and opts out of some, delivery sends on one, compliance counts them: all with
these names. ``registered_letter`` is a step option, delivered as a ``letter`` (marked registered)
and ruled by the letter opt-out; ``portal`` is where a customer answers, never a step's channel.

The only other spelling accepted is the legacy ``phone`` (before this module, contacts and policy
files said ``phone`` for a call): ``channel_parse`` reads it as ``call`` on input (files, old
signed links); nothing stores or produces it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    LETTER = "letter"
    REGISTERED_LETTER = "registered_letter"
    CALL = "call"
    PORTAL = "portal"


@dataclass(frozen=True)
class ChannelSpec:
    """How a channel reaches a contact.

    ``address_field``: the contact's field that holds the address ("" when none is needed);
    ``opt_out_field``: the contact's opt-out flag ("" when the contact cannot opt out);
    ``delivered_as``: the channel a message on it is sent on.
    """

    label: str
    address_field: str
    opt_out_field: str
    delivered_as: Channel


SPECS: dict[Channel, ChannelSpec] = {
    Channel.EMAIL: ChannelSpec("E-mail", "email", "opt_out_email", Channel.EMAIL),
    Channel.SMS: ChannelSpec("SMS", "phone", "opt_out_sms", Channel.SMS),
    Channel.LETTER: ChannelSpec("Letter", "postal_address", "opt_out_letter", Channel.LETTER),
    Channel.REGISTERED_LETTER: ChannelSpec(
        "Registered letter", "postal_address", "opt_out_letter", Channel.LETTER
    ),
    # The call opt-out keeps its field name (opt_out_phone): it is a column of the API and of imports.
    Channel.CALL: ChannelSpec("Call", "phone", "opt_out_phone", Channel.CALL),
    Channel.PORTAL: ChannelSpec("Portal", "", "", Channel.PORTAL),
}

# The lists below hold plain strings (not enum members): they go into YAML, JSON and SQL as they are.
#: The channels a policy step may list (the engine's vocabulary).
STEP_CHANNELS: tuple[str, ...] = ("email", "sms", "letter", "registered_letter", "call")
#: The channels a message is sent on (delivery's vocabulary).
DELIVERY_CHANNELS: tuple[str, ...] = ("email", "sms", "letter", "call", "portal")
#: The channels a contact may prefer.
PREFERRED_CHANNELS: tuple[str, ...] = DELIVERY_CHANNELS
#: The channels a contact may opt out of, each with its own flag (``Contact.<opt_out_field>``).
OPT_OUT_CHANNELS: tuple[str, ...] = ("email", "sms", "letter", "call")
#: Legacy spelling → channel, read on input only (see the module's docstring).
LEGACY_NAMES: dict[str, str] = {"phone": "call"}
ERROR_UNKNOWN = "unknown channel {name!r}: expected one of {choices}"


def channel_parse(name: str) -> Channel:
    """The channel called ``name`` (the legacy ``phone`` is a call); ``ValueError`` otherwise."""
    text = name.strip().lower()
    try:
        return Channel(LEGACY_NAMES.get(text, text))
    except ValueError:
        raise ValueError(ERROR_UNKNOWN.format(name=name, choices=", ".join(Channel))) from None


def channel_label(channel: str) -> str:
    return SPECS[Channel(channel)].label


def address_field(channel: str) -> str:
    """The contact field a message on ``channel`` is addressed to (``""``: none, or no such channel)."""
    spec = SPECS.get(channel)  # type: ignore[call-overload]  # a str finds its StrEnum member
    return spec.address_field if spec is not None else ""


def opt_out_field(channel: str) -> str:
    """The contact's opt-out flag for ``channel`` (``""``: none to opt out of, or no such channel)."""
    spec = SPECS.get(channel)  # type: ignore[call-overload]
    return spec.opt_out_field if spec is not None else ""


def opt_out_channel(channel: str) -> Channel:
    """The channel whose opt-out rules ``channel`` (a registered letter follows the letter's)."""
    return Channel(SPECS[Channel(channel)].delivered_as)


def delivered_as(channel: str) -> Channel:
    """The channel a message on ``channel`` is sent on (a registered letter is a letter)."""
    return SPECS[Channel(channel)].delivered_as

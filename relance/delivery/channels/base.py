"""The contract every channel backend keeps.

A backend gets an ``OutboundMessage`` that is already rendered and leased to the calling worker; it
delivers it (or hands it to a provider) and returns a receipt, or raises ``TemporaryFailure`` (retry
later with backoff: only when the provider certainly did not take the message),
``PermanentFailure`` (no retry: bad address, hard bounce, refused number) or ``UncertainDelivery``
(it may have been taken: not resent automatically). Any other exception counts as uncertain.
Backends may hold a connection between ``open()`` and ``close()`` so a batch reuses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from django.conf import settings
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from relance.delivery.models import OutboundMessage


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    """What a backend reports for an accepted message."""

    provider: str
    provider_message_id: str = ""
    delivered: bool = False
    """True when acceptance is delivery (portal notification, call task created, in-memory)."""


class TemporaryFailure(Exception):
    """The channel could not take the message now (server down, rate limited): retry later."""


class PermanentFailure(Exception):
    """The message can never be delivered as addressed (invalid address, hard bounce)."""

    def __init__(self, message: str, *, invalid_recipient: bool = False) -> None:
        super().__init__(message)
        self.invalid_recipient = invalid_recipient


class UncertainDelivery(Exception):
    """The provider may have accepted the message (e.g. the connection dropped after SMTP's final
    "."): never resent automatically; the row goes to ``uncertain`` for a person to decide."""


class ChannelBackend:
    """Base class: subclasses set ``channel`` and ``provider`` and implement ``send``."""

    channel: ClassVar[str] = ""
    provider: ClassVar[str] = ""

    def open(self) -> None:
        """Prepare for a batch (open a connection). Default: nothing."""

    def close(self) -> None:
        """End a batch. Default: nothing."""

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        raise NotImplementedError

    def __enter__(self) -> ChannelBackend:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def get_channel_backend(channel: str) -> ChannelBackend:
    """The configured backend for a channel (``settings.RELANCE_CHANNELS[channel]``, a dotted path)."""
    channels: dict[str, str] = settings.RELANCE_CHANNELS
    try:
        path = channels[channel]
    except KeyError:
        raise LookupError(
            f"no backend configured for channel {channel!r} (settings.RELANCE_CHANNELS)"
        ) from None
    backend: ChannelBackend = import_string(path)()
    return backend

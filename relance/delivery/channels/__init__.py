"""Channel backends, chosen by ``settings.RELANCE_CHANNELS`` the way Django chooses email backends."""

from relance.delivery.channels.base import (
    ChannelBackend,
    DeliveryReceipt,
    PermanentFailure,
    TemporaryFailure,
    get_channel_backend,
)

__all__ = ["ChannelBackend", "DeliveryReceipt", "PermanentFailure", "TemporaryFailure", "get_channel_backend"]

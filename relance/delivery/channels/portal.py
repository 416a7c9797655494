"""Portal notifications: the delivered outbox row is the notification the customer's portal shows.

Nothing leaves the system, so accepting the message is delivering it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from relance.delivery.channels.base import ChannelBackend, DeliveryReceipt

if TYPE_CHECKING:
    from relance.delivery.models import OutboundMessage


class PortalChannel(ChannelBackend):
    channel = "portal"
    provider = "portal"

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        return DeliveryReceipt(provider=self.provider, provider_message_id=message.message_id, delivered=True)

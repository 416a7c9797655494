"""An in-memory backend for tests: every channel's messages land in ``MemoryChannel.outbox``."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from relance.delivery.channels.base import ChannelBackend, DeliveryReceipt, PermanentFailure, TemporaryFailure

if TYPE_CHECKING:
    from relance.delivery.models import OutboundMessage


class MemoryChannel(ChannelBackend):
    """Keeps what it is given. Tests can make it fail: put a recipient in ``fail_temporarily`` or
    ``fail_permanently``."""

    channel = "any"
    provider = "memory"
    outbox: ClassVar[list[OutboundMessage]] = []
    fail_temporarily: ClassVar[set[str]] = set()
    fail_permanently: ClassVar[set[str]] = set()

    @classmethod
    def reset(cls) -> None:
        cls.outbox.clear()
        cls.fail_temporarily.clear()
        cls.fail_permanently.clear()

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        if message.recipient in self.fail_permanently:
            raise PermanentFailure(f"{message.recipient}: refused", invalid_recipient=True)
        if message.recipient in self.fail_temporarily:
            raise TemporaryFailure(f"{message.recipient}: try again later")
        self.outbox.append(message)
        return DeliveryReceipt(provider=self.provider, provider_message_id=message.message_id, delivered=True)

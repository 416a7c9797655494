"""The compliance gate the delivery worker asks before sending each message.

``outbound_verdict`` applies the entity's contact rules (``relance.compliance``) to a claimed
outbox row: allowed; blocked for good (opt-out, invalid address, hold) with a reason; or deferred
to the first instant at which every time and frequency rule holds (``defer_until``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from relance.delivery.models import OutboundMessage


@dataclass(frozen=True)
class Verdict:
    """``allowed=False`` and no ``defer_until``: blocked, never sent. ``defer_until``: requeue for then."""

    allowed: bool
    defer_until: datetime | None = None
    reason: str = ""


def outbound_verdict(message: OutboundMessage, *, now: datetime) -> Verdict:
    """May ``message`` be sent at ``now``? The message itself does not count for its own caps."""
    from relance.compliance.selectors import message_assessment

    assessment = message_assessment(
        customer=message.customer,
        channel=message.channel,
        now=now,
        contact=message.contact,
        recipient=message.recipient,
        action=message.action,
        template_key=message.template_key,
        headers=message.headers or {},
        exclude_message_id=message.pk,
    )
    decision = assessment.decision
    return Verdict(allowed=decision.allowed, defer_until=decision.defer_until, reason=decision.reason)

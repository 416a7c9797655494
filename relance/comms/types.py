"""What rendering produces and delivery consumes: plain frozen values, no Django models."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a message (statement PDF, QR code image)."""

    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """One message ready to deliver: exactly what the customer will read.

    Rendered once, when the message is queued, and stored in the outbox, so that what is sent is what
    was decided and previewed, even if the template or the ledger changes before delivery.
    """

    template_key: str
    channel: str
    language: str
    subject: str
    text: str
    html: str = ""
    attachments: tuple[Attachment, ...] = ()
    rf_reference: str = ""
    amount_due: Decimal | None = None
    currency: str = ""
    links: dict[str, str] = field(default_factory=dict)
    """Named links in the message: ``portal``, ``pay``, ``opt_out``, ``hold`` (owner notifications)."""

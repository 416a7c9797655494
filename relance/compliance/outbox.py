"""What the contact caps need from the outbox, handed down by the delivery app.

The caps count the messages and calls already made, which are delivery's rows (``OutboundMessage``,
``CallTask``); compliance sits below delivery in the layers (docs/architecture.md), so it does
not read them itself: delivery registers its reader when it starts (``DeliveryConfig.ready``,
``relance.delivery.selectors.OutboxHistory``). No reader is an ``ImproperlyConfigured`` error,
never "nothing was sent": the delivery app is always installed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.core.exceptions import ImproperlyConfigured

NO_READER = "no outbox reader registered: relance.delivery must be in INSTALLED_APPS"


@dataclass(frozen=True)
class CountedMessage:
    """A run message to a customer (``action.is_contact``) on a capped channel."""

    pk: int
    customer_id: int
    contact_id: int | None
    status: str
    at: datetime  # sent_at, else updated_at


@dataclass(frozen=True)
class CallDone:
    """A collector's call task marked done."""

    at: datetime  # completed_at, else updated_at
    by_hand: bool  # no message behind it (a call made outside any run message)
    outcome: str


class OutboxReader(Protocol):
    def run_messages(
        self,
        *,
        customer_ids: Iterable[int],
        channels: Iterable[str],
        statuses: Iterable[str],
        since: datetime,
        queued: bool = False,
        exclude_id: int | None = None,
    ) -> list[CountedMessage]:
        """Run messages of ``statuses`` sent (else last changed) since ``since``; and, with
        ``queued``, every message still queued, whenever it was made."""
        ...

    def calls_placed(
        self, *, customer_id: int, contact_id: int | None, statuses: Iterable[str], exclude_id: int | None
    ) -> list[datetime]:
        """When each ``call`` message to the customer (to ``contact_id`` or to nobody in
        particular, when given) of ``statuses`` was placed."""
        ...

    def calls_done(self, *, customer_id: int, contact_id: int | None) -> list[CallDone]:
        """The customer's done call tasks (to ``contact_id`` or to nobody in particular, when given)."""
        ...


_reader: list[OutboxReader] = []


def outbox_reader_register(reader: OutboxReader) -> None:
    _reader[:] = [reader]


def outbox() -> OutboxReader:
    if not _reader:
        raise ImproperlyConfigured(NO_READER)
    return _reader[0]

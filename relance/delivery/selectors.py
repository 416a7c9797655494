"""Reads of the outbox."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from relance.compliance.outbox import CallDone, CountedMessage
from relance.core.errors import RelanceError
from relance.delivery.models import CallTask, MessageStatus, OutboundMessage
from relance.ledger.models import Customer, Entity

ERROR_NO_MESSAGE = "no message {pk} in the outbox"


def outbox_list(
    *,
    entity: Entity | None = None,
    statuses: Sequence[str] | None = None,
    customer: Customer | None = None,
    channel: str | None = None,
) -> QuerySet[OutboundMessage]:
    rows = OutboundMessage.objects.select_related("customer", "entity")
    if entity is not None:
        rows = rows.filter(entity=entity)
    if statuses:
        rows = rows.filter(status__in=list(statuses))
    if customer is not None:
        rows = rows.filter(customer=customer)
    if channel:
        rows = rows.filter(channel=channel)
    return rows.order_by("-queued_at", "-id")


def message_get(*, pk: int) -> OutboundMessage:
    try:
        return OutboundMessage.objects.select_related("customer", "entity", "contact").get(pk=pk)
    except OutboundMessage.DoesNotExist:
        raise RelanceError(ERROR_NO_MESSAGE.format(pk=pk)) from None


def outbox_due_count(*, now: datetime | None = None, channels: Sequence[str] | None = None) -> int:
    rows = OutboundMessage.objects.filter(
        status=MessageStatus.QUEUED, next_attempt_at__lte=now or timezone.now()
    )
    if channels:
        rows = rows.filter(channel__in=list(channels))
    return rows.count()


def outbox_status_counts(*, entity: Entity | None = None) -> dict[str, int]:
    rows = OutboundMessage.objects.all()
    if entity is not None:
        rows = rows.filter(entity=entity)
    return {
        row["status"]: row["n"] for row in rows.values("status").annotate(n=Count("id")).order_by("status")
    }


def message_as_dict(message: OutboundMessage, *, events: bool = False) -> dict[str, Any]:
    """The JSON form used by ``relance outbox --json``."""
    data: dict[str, Any] = {
        "id": message.pk,
        "idempotency_key": message.idempotency_key,
        "message_id": message.message_id,
        "customer_ref": message.customer.external_ref,
        "channel": message.channel,
        "template_key": message.template_key,
        "language": message.language,
        "recipient": message.recipient,
        "subject": message.subject,
        "status": message.status,
        "attempts": message.attempts,
        "last_error": message.last_error,
        "amount_due": str(message.amount_due) if message.amount_due is not None else None,
        "currency": message.currency,
        "rf_reference": message.rf_reference,
        "fallback_of": message.fallback_of_id,
        "provider": message.provider,
        "provider_message_id": message.provider_message_id,
        "queued_at": message.queued_at.isoformat(),
        "next_attempt_at": message.next_attempt_at.isoformat(),
        "sent_at": message.sent_at.isoformat() if message.sent_at else None,
        "delivered_at": message.delivered_at.isoformat() if message.delivered_at else None,
        "opened_at": message.opened_at.isoformat() if message.opened_at else None,
        "clicked_at": message.clicked_at.isoformat() if message.clicked_at else None,
    }
    if events:
        data["events"] = [
            {"kind": event.kind, "at": event.at.isoformat(), "detail": event.detail}
            for event in message.events.all()
        ]
        data["attachments"] = [
            {"filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in message.attachments.all()
        ]
        data["body_text"] = message.body_text
    return data


# What a customer may read back in the portal: what went to them, on a channel they read, and left.
CUSTOMER_CHANNELS = ("email", "sms", "letter")
DELIVERED_STATUSES = (MessageStatus.SENT, MessageStatus.DELIVERED)
# ``headers`` flags of messages never shown back: ``internal`` (to the sales owner, with their
# hold link) and ``one_time_secret`` (a sign-in or address code: shown, it would prove nothing).
UNLISTED_FLAGS = ("internal", "one_time_secret")


def customer_messages_sent(*, customer_ids: Sequence[int], limit: int = 100) -> list[OutboundMessage]:
    """Messages actually sent to these customers' contacts, newest first, for the portal to list
    (``customer_messages_listed``)."""
    rows = customer_messages_listed(customer_ids=customer_ids)
    return list(rows.order_by("-sent_at", "-queued_at", "-id")[:limit])


def customer_messages_listed(*, customer_ids: Sequence[int]) -> QuerySet[OutboundMessage]:
    """The messages a customer may see (the portal's Messages page and History).

    Not queued, failed or blocked ones (never sent), not call tasks (the collector's script), not
    internal notices or one-time codes (``UNLISTED_FLAGS``): a reminder link forwarded to a
    stranger must not show them a code that changes the billing address.
    """
    from relance.comms.defaults import KEYS

    owner_keys = [key for key, spec in KEYS.items() if spec.audience != "customer"]
    rows = OutboundMessage.objects.filter(
        customer_id__in=list(customer_ids),
        channel__in=CUSTOMER_CHANNELS,
        status__in=DELIVERED_STATUSES,
    ).exclude(template_key__in=owner_keys)
    for flag in UNLISTED_FLAGS:
        rows = rows.exclude(headers__has_key=flag)  # not ``=True``: NOT (NULL = true) drops every row
    return rows


def reminded_before(*, customer: Customer, action: Any) -> bool:
    """Did an earlier reminder about overdue items actually go out to this customer? (wording:
    "despite our previous reminder" only when true; a catch-up's first contact never says it).
    comms asks it through ``relance.comms.facts`` (registered in ``DeliveryConfig.ready``)."""
    sent = OutboundMessage.objects.filter(
        customer=customer,
        status__in=("sent", "delivered"),
        action__is_contact=True,
        action__kind="overdue",
    )
    if action is not None and getattr(action, "pk", None):
        sent = sent.exclude(action_id=action.pk)
    return sent.exists()


class OutboxHistory:
    """The outbox as the contact caps read it (``relance.compliance.outbox.OutboxReader``;
    registered in ``DeliveryConfig.ready``)."""

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
        counted = Q(status__in=list(statuses)) & (
            Q(sent_at__gte=since) | Q(sent_at__isnull=True, updated_at__gte=since)
        )
        rows = OutboundMessage.objects.filter(
            customer_id__in=list(customer_ids), channel__in=list(channels), action__is_contact=True
        ).filter(Q(status=MessageStatus.QUEUED) | counted if queued else counted)
        if exclude_id is not None:
            rows = rows.exclude(pk=exclude_id)
        values = rows.annotate(at=Coalesce("sent_at", "updated_at")).values_list(
            "pk", "customer_id", "contact_id", "status", "at"
        )
        return [CountedMessage(*row) for row in values]

    def calls_placed(
        self, *, customer_id: int, contact_id: int | None, statuses: Iterable[str], exclude_id: int | None
    ) -> list[datetime]:
        calls = OutboundMessage.objects.filter(
            customer_id=customer_id, channel="call", status__in=list(statuses)
        )
        if contact_id is not None:
            calls = calls.filter(Q(contact_id=contact_id) | Q(contact__isnull=True))
        if exclude_id is not None:
            calls = calls.exclude(pk=exclude_id)
        return list(calls.annotate(at=Coalesce("sent_at", "updated_at")).values_list("at", flat=True))

    def calls_done(self, *, customer_id: int, contact_id: int | None) -> list[CallDone]:
        tasks = CallTask.objects.filter(customer_id=customer_id, status="done")
        if contact_id is not None:
            tasks = tasks.filter(Q(contact_id=contact_id) | Q(contact__isnull=True))
        return [
            CallDone(completed_at or updated_at, message_id is None, outcome or "")
            for completed_at, updated_at, message_id, outcome in tasks.values_list(
                "completed_at", "updated_at", "message_id", "outcome"
            )
        ]

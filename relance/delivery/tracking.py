"""Provider events → the outbox: delivered, bounced, complained, opened, clicked.

Email providers report through django-anymail's normalised tracking signal (its webhooks are
mounted under ``/delivery/anymail/``); Twilio reports SMS status to ``/delivery/twilio/status/``.
Providers retry webhooks: events are deduplicated on the provider's event id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from relance.delivery.models import DeliveryEvent, DeliveryEventKind, MessageStatus, OutboundMessage
from relance.ledger.models import Contact

logger = logging.getLogger(__name__)

# Anymail's reject reasons that mean the address is wrong (a hard bounce).
HARD_REJECT_REASONS = {"invalid", "bounced"}
# Twilio error codes of undelivered SMS meaning the number cannot receive them.
TWILIO_HARD_ERRORS = {"30003", "30005", "30006", "21211", "21614"}
# A status never goes back: a late "sent" does not undo "delivered".
STATUS_RANK: dict[str, int] = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.UNCERTAIN: 1,
    MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.FAILED: 4,
    MessageStatus.BOUNCED: 4,
}


def message_for_provider_id(provider_message_id: str | None) -> OutboundMessage | None:
    if not provider_message_id:
        return None
    found = OutboundMessage.objects.filter(provider_message_id=provider_message_id).first()
    if found is None:  # SMTP: our own Message-ID is the provider id
        found = OutboundMessage.objects.filter(message_id=f"<{provider_message_id.strip('<>')}>").first()
    return found


def _advance(message: OutboundMessage, status: str, **fields: Any) -> None:
    """Move the message forward (never backwards) and set the given timestamps."""
    current = STATUS_RANK.get(message.status, 5)
    updates: dict[str, Any] = {key: value for key, value in fields.items() if getattr(message, key) is None}
    if STATUS_RANK.get(status, 0) > current:
        updates["status"] = status
    if updates:
        updates["updated_at"] = timezone.now()
        OutboundMessage.objects.filter(pk=message.pk).update(**updates)
        for key, value in updates.items():
            setattr(message, key, value)


def tracking_event_record(
    *,
    message: OutboundMessage,
    event_type: str,
    at: datetime,
    event_id: str | None,
    reject_reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> bool:
    """Apply one normalised event (anymail's vocabulary) to a message; False if already seen."""
    from relance.delivery.services import message_mark_bounced

    info = dict(detail or {})
    hard = event_type == "bounced" or (event_type == "rejected" and reject_reason in HARD_REJECT_REASONS)
    if hard:
        if event_id and DeliveryEvent.objects.filter(provider_event_id=event_id).exists():
            return False
        message_mark_bounced(
            message=message,
            hard=True,
            reason=str(info.get("description") or reject_reason or event_type),
            at=at,
            provider_event_id=event_id,
            detail=info,
        )
        return True
    kind = {
        "queued": DeliveryEventKind.SENT,
        "sent": DeliveryEventKind.SENT,
        "delivered": DeliveryEventKind.DELIVERED,
        "deferred": DeliveryEventKind.DEFERRED,
        "rejected": DeliveryEventKind.FAILED,
        "failed": DeliveryEventKind.FAILED,
        "complained": DeliveryEventKind.COMPLAINED,
        "unsubscribed": DeliveryEventKind.UNSUBSCRIBED,
        "opened": DeliveryEventKind.OPENED,
        "clicked": DeliveryEventKind.CLICKED,
    }.get(event_type)
    if kind is None:
        return False
    try:
        with transaction.atomic():
            DeliveryEvent.objects.create(
                message=message,
                kind=kind,
                at=at,
                detail={"event": event_type, **info},
                provider_event_id=event_id,
            )
            if kind == DeliveryEventKind.DELIVERED:
                _advance(message, MessageStatus.DELIVERED, delivered_at=at)
            elif kind == DeliveryEventKind.SENT:
                _advance(message, MessageStatus.SENT, sent_at=at)
            elif kind == DeliveryEventKind.FAILED:
                _advance(message, MessageStatus.FAILED)
                OutboundMessage.objects.filter(pk=message.pk).update(
                    last_error=str(info.get("description") or reject_reason or event_type)[:2000]
                )
            elif kind == DeliveryEventKind.OPENED:
                _advance(message, MessageStatus.DELIVERED, opened_at=at, delivered_at=at)
            elif kind == DeliveryEventKind.CLICKED:
                _advance(message, MessageStatus.DELIVERED, clicked_at=at, opened_at=at, delivered_at=at)
            elif (  # noqa: SIM102  (nested below on purpose: see there)
                kind in (DeliveryEventKind.COMPLAINED, DeliveryEventKind.UNSUBSCRIBED) and message.contact_id
            ):
                # A spam complaint or a provider-level unsubscribe: stop writing on this channel, and
                # keep the evidence (who, when, which event) with the contact's preferences.
                # nested on purpose: a complaint on another channel must not fall to the next elif
                if message.channel in ("email", "sms"):
                    from relance.compliance.services import contact_preference_set

                    contact_preference_set(
                        contact=Contact.objects.get(pk=message.contact_id),
                        channel=message.channel,
                        opted_out=True,
                        source="provider",
                        detail=f"{event_type} event for message {message.pk}",
                        at=at,
                    )
    except IntegrityError:
        return False  # the provider sent this event before
    return True


def anymail_tracking_received(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
    """``anymail.signals.tracking`` receiver: only the provider that sent a message may change it."""
    from relance.delivery.webhooks import esp_key, esp_of_message

    message = message_for_provider_id(getattr(event, "message_id", None))
    if message is None:
        return
    if esp_key(esp_name) != esp_of_message(message.provider):
        logger.warning(
            "%s event for message %s ignored: the message was sent through %r",
            esp_name,
            message.pk,
            message.provider,
        )
        return
    at = getattr(event, "timestamp", None) or timezone.now()
    event_id = getattr(event, "event_id", None)
    provider_event_id = (
        f"{esp_name}:{event_id}"
        if event_id
        else f"{esp_name}:{message.pk}:{event.event_type}:{at.isoformat()}"
    )
    detail = {
        "esp": esp_name,
        "recipient": getattr(event, "recipient", None) or "",
        "description": getattr(event, "description", None) or "",
        "mta_response": getattr(event, "mta_response", None) or "",
        "click_url": getattr(event, "click_url", None) or "",
    }
    tracking_event_record(
        message=message,
        event_type=str(event.event_type),
        at=at,
        event_id=provider_event_id[:200],
        reject_reason=getattr(event, "reject_reason", None),
        detail={key: value for key, value in detail.items() if value},
    )


# --------------------------------------------------------------------------------------------------
# Twilio


def twilio_signature(url: str, params: Iterable[tuple[str, str]], auth_token: str) -> str:
    """Twilio's X-Twilio-Signature: base64(HMAC-SHA1(token, URL + each POST key and value, sorted by key))."""
    payload = url + "".join(f"{key}{value}" for key, value in sorted(params, key=lambda item: item[0]))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


TWILIO_STATUS_EVENTS = {
    "queued": "queued",
    "accepted": "queued",
    "sending": "sent",
    "sent": "sent",
    "delivered": "delivered",
    "read": "opened",
    "undelivered": "failed",
    "failed": "failed",
}


def twilio_status_record(*, params: dict[str, str], at: datetime | None = None) -> bool:
    """Apply one Twilio status callback (``MessageSid``, ``MessageStatus``, ``ErrorCode``)."""
    message = message_for_provider_id(params.get("MessageSid") or params.get("SmsSid"))
    if message is None:
        return False
    status = (params.get("MessageStatus") or params.get("SmsStatus") or "").lower()
    error_code = params.get("ErrorCode") or ""
    event_type = TWILIO_STATUS_EVENTS.get(status)
    if event_type is None:
        return False
    if event_type == "failed" and error_code in TWILIO_HARD_ERRORS:
        event_type = "bounced"
    return tracking_event_record(
        message=message,
        event_type=event_type,
        at=at or timezone.now(),
        event_id=f"twilio:{message.provider_message_id}:{status}",
        detail={
            "twilio_status": status,
            "error_code": error_code,
            "description": f"twilio {status} {error_code}".strip(),
        },
    )

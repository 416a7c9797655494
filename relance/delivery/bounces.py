"""Bounce e-mails (delivery status notifications) matched to the message that bounced (issue 19).

A remote mail server that cannot deliver a reminder sends back a bounce to the envelope sender:
an RFC 3464 report (``multipart/report; report-type=delivery-status``) with the recipient, the
action (failed, delayed) and the status code, and the returned message or its headers. The mail
server that receives the bounce mailbox pipes each one to ``relance bounce`` (``bounce_record``).

The bounce is matched **by the returned message's Message-ID first** (each outbound message has
its own, ``OutboundMessage.message_id``, stable per key): so the contact and the message that
bounced are the ones marked, even when several contacts (of one customer or of several, an
accounting firm writing for many) share the address. Only when no Message-ID of ours is in the
bounce is it matched **by the address**: the latest e-mail sent to that recipient. A hard bounce
goes through ``services.message_mark_bounced`` like a provider's webhook (the address becomes
``bounced``, the message is queued on the step's next channel); a delay is recorded, nothing more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from email import message_from_bytes, policy
from email.message import Message
from typing import Any

from relance.delivery.models import MessageStatus, OutboundMessage

_MESSAGE_ID = re.compile(r"<[^<>\s@]+@[^<>\s]+>")
_QUOTED_ID = re.compile(r"^\s*Message-ID:\s*(<[^<>\s@]+@[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)
_STATUS = re.compile(r"\b([245])\.\d{1,3}\.\d{1,3}\b")


@dataclass(frozen=True)
class BounceReport:
    """What a bounce says: the Message-IDs it quotes, the failed recipients, hard or not, why."""

    message_ids: tuple[str, ...]
    recipients: tuple[str, ...]
    hard: bool
    reason: str
    bounce_id: str = ""


@dataclass(frozen=True)
class BounceOutcome:
    matched_by: str  # "message_id", "address" or "" (not ours)
    message_id: int | None = None
    hard: bool = False
    report: BounceReport | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, object]:
        return {"matched_by": self.matched_by or None, "message": self.message_id, "hard": self.hard}


def _parts(message: Message) -> list[Message]:
    return list(message.walk()) if message.is_multipart() else [message]


def bounce_parse(raw: bytes) -> BounceReport:
    """Read a bounce: RFC 3464 fields when present (``Final-Recipient``, ``Action``, ``Status``,
    ``Diagnostic-Code``), else the usual words of a non-standard bounce; the Message-IDs quoted in
    the returned message or its headers (``message/rfc822``, ``text/rfc822-headers``), then in
    ``In-Reply-To``/``References`` and the text."""
    bounce = message_from_bytes(raw, policy=policy.compat32)
    ids: list[str] = []
    recipients: list[str] = []
    actions: list[str] = []
    statuses: list[str] = []
    diagnostics: list[str] = []
    texts: list[str] = []
    own_id = (bounce.get("Message-ID") or "").strip()
    for part in _parts(bounce):
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            payload = part.get_payload()
            blocks: list[Message] = [
                block
                for block in (payload if isinstance(payload, list) else [])
                if isinstance(block, Message)
            ] or [message_from_bytes(str(payload).encode())]
            for block in blocks:
                for name, value in block.items():
                    key, text = name.lower(), " ".join(str(value).split())
                    if key in ("final-recipient", "original-recipient"):
                        address = text.split(";", 1)[-1].strip().strip("<>").lower()
                        if address and address not in recipients:
                            recipients.append(address)
                    elif key == "action":
                        actions.append(text.lower())
                    elif key == "status":
                        statuses.append(text)
                    elif key == "diagnostic-code":
                        diagnostics.append(text.split(";", 1)[-1].strip())
        elif kind == "message/rfc822":
            payload = part.get_payload()
            for returned in payload if isinstance(payload, list) else []:
                if isinstance(returned, Message) and returned.get("Message-ID"):
                    ids.append(str(returned["Message-ID"]).strip())
        elif kind in ("text/rfc822-headers", "text/plain") and not part.is_multipart():
            body = part.get_payload(decode=True)
            text = (body if isinstance(body, bytes) else b"").decode(
                part.get_content_charset() or "utf-8", errors="replace"
            )
            texts.append(text)
    for header in ("In-Reply-To", "References"):
        ids += _MESSAGE_ID.findall(bounce.get(header) or "")
    for text in texts:  # the returned headers, or a non-standard bounce's copy of them
        ids += _QUOTED_ID.findall(text)
    unique = tuple(dict.fromkeys(i for i in ids if i and i != own_id))
    if statuses:
        hard = any(s.startswith("5") for s in statuses) and not all(a == "delayed" for a in actions)
    elif actions:
        hard = "failed" in actions
    else:
        found = _STATUS.search(" ".join(texts))
        hard = found is not None and found.group(1) == "5"
    reason = "; ".join(diagnostics) or ", ".join(statuses) or (bounce.get("Subject") or "bounce")
    return BounceReport(unique, tuple(recipients), hard, reason[:500], own_id[:150])


def bounced_message(report: BounceReport) -> tuple[OutboundMessage | None, str]:
    """The outbound e-mail a bounce is about, and how it was found: by a quoted Message-ID of
    ours first, else by the failed recipient (the latest e-mail sent to that address)."""
    if report.message_ids:
        found = (
            OutboundMessage.objects.filter(message_id__in=report.message_ids, channel="email")
            .order_by("-pk")
            .first()
        )
        if found is not None:
            return found, "message_id"
    for address in report.recipients:
        found = (
            OutboundMessage.objects.filter(channel="email", recipient__iexact=address)
            .exclude(status=MessageStatus.QUEUED)
            .order_by("-pk")
            .first()
        )
        if found is not None:
            return found, "address"
    return None, ""


def bounce_record(raw: bytes) -> BounceOutcome:
    """Record one bounce e-mail: the message it is about bounced (hard: its address ``bounced``,
    the step's next channel queued; a delay: an event only). Not ours: nothing changes. The same
    bounce twice (its own Message-ID) counts once."""
    from relance.delivery.services import message_mark_bounced

    report = bounce_parse(raw)
    message, matched_by = bounced_message(report)
    if message is None:
        return BounceOutcome("", report=report)
    message_mark_bounced(
        message=message,
        hard=report.hard,
        reason=report.reason,
        provider_event_id=f"bounce:{report.bounce_id}" if report.bounce_id else None,
        detail={"source": "bounce e-mail", "matched_by": matched_by, "recipients": list(report.recipients)},
    )
    return BounceOutcome(matched_by, message.pk, report.hard, report)


# --------------------------------------------------------------------------------------------------
# Returned letters by their reference


def returned_letter(*, entity_id: int, reference: str) -> OutboundMessage | None:
    """The letter a returned envelope is about, by its reference: our Message-ID (printed on the
    letter and sent to the print provider as ``metadata[message_id]``) or the print provider's
    id for it (``provider_message_id``). Only the entity's letters."""
    text = (reference or "").strip()
    if not text:
        return None
    letters = OutboundMessage.objects.filter(entity_id=entity_id, channel="letter").select_related("contact")
    return (
        letters.filter(message_id__in=[text, f"<{text.strip('<>')}>"]).first()
        or letters.filter(provider_message_id=text).first()
    )


def letter_mark_returned(*, message: OutboundMessage, actor: Any, on: date, reason: str = "") -> bool:
    """A returned letter matched by its reference: that letter is marked bounced (an event on the
    message, once) and the contact it went to gets its postal address ``returned``
    (``cases.contact_returns.contact_mark_returned``, audited). Returns whether the address changed."""
    from django.db import transaction
    from django.utils import timezone

    from relance.cases.contact_returns import contact_mark_returned
    from relance.delivery.models import DeliveryEvent, DeliveryEventKind

    with transaction.atomic():
        event_id = f"returned:{message.pk}"
        if not DeliveryEvent.objects.filter(provider_event_id=event_id).exists():
            DeliveryEvent.objects.create(
                message=message,
                kind=DeliveryEventKind.BOUNCED,
                at=timezone.now(),
                detail={"source": "returned letter", "returned_on": on.isoformat(), "reason": reason},
                provider_event_id=event_id,
            )
            OutboundMessage.objects.filter(pk=message.pk).update(
                status=MessageStatus.BOUNCED,
                last_error=f"letter returned on {on.isoformat()}: {reason or 'no reason given'}"[:2000],
                updated_at=timezone.now(),
            )
            message.status = MessageStatus.BOUNCED
        if message.contact is None:
            return False
        return contact_mark_returned(contact=message.contact, actor=actor, on=on, reason=reason)

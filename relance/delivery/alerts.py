"""E-mails to the people who run Relance (not to customers): what went wrong with messages.

Sent with Django's mail (not the outbox: an outbox row belongs to a customer), to the entity's
administrators and credit managers who have an e-mail address, plus ``settings.ADMINS``. A mail
server that refuses is logged, never raised: an alert must not stop the run or the worker it
reports on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Count
from django.utils import timezone

from relance.accounts.alerts import alert_send
from relance.common.links import absolute_url
from relance.delivery.models import MessageStatus, OutboundMessage
from relance.ledger.models import Entity

logger = logging.getLogger(__name__)

#: Statuses that need a person: nothing more happens to them on their own.
ATTENTION = (MessageStatus.UNCERTAIN, MessageStatus.FAILED)


@dataclass(frozen=True, slots=True)
class TemplateFailure:
    """A message whose template failed to render when it was queued."""

    action_id: int
    customer_ref: str
    template_key: str
    error: str
    used_shipped_default: bool


def template_failure_alert(*, entity: Entity, run_as_of: date, failures: Sequence[TemplateFailure]) -> bool:
    """Tell the admins and credit managers which messages of a run a broken template stopped."""
    if not failures:
        return False
    lines = [
        f"The dunning run of {entity.name} on {run_as_of} could not render {len(failures)} message(s): "
        "the template failed. The rest of the run was queued.",
        "",
    ]
    for failure in failures:
        outcome = "sent with the shipped default" if failure.used_shipped_default else "queued as failed"
        lines.append(f"- {failure.customer_ref} ({failure.template_key}), {outcome}: {failure.error}")
    lines += [
        "",
        "Fix the template (it is checked against a sample customer when saved), then retry the failed "
        "messages from the Outbox page or with `relance outbox retry --status failed`.",
        f"Outbox: {absolute_url('/delivery/outbox/?status=failed')}",
    ]
    return alert_send(
        entity=entity,
        subject=f"Relance: {len(failures)} message(s) of {entity.name}'s run on {run_as_of} not rendered",
        body="\n".join(lines),
    )


def attention_counts(*, entity: Entity | None = None) -> dict[str, int]:
    """How many messages are uncertain or failed (``{status: count}``, zero counts omitted)."""
    rows = OutboundMessage.objects.filter(status__in=ATTENTION)
    if entity is not None:
        rows = rows.filter(entity=entity)
    return {row["status"]: row["n"] for row in rows.values("status").annotate(n=Count("id")).order_by()}


def attention_digest(*, now: datetime | None = None) -> int:
    """The daily e-mail: per entity with uncertain or failed messages, the counts and the oldest
    ones, to its admins and credit managers. Returns the number of e-mails sent."""
    at = now or timezone.now()
    sent = 0
    for entity in Entity.objects.filter(
        pk__in=OutboundMessage.objects.filter(status__in=ATTENTION).values("entity")
    ):
        counts = attention_counts(entity=entity)
        rows = list(
            OutboundMessage.objects.filter(entity=entity, status__in=ATTENTION)
            .select_related("customer")
            .order_by("status", "queued_at")[:20]
        )
        lines = [
            f"On {timezone.localdate(at)}, {entity.name} has "
            + ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
            + " message(s) that nothing more will happen to until someone decides.",
            "",
            "Uncertain: the worker stopped while sending; check with the provider or the recipient, then "
            "`relance outbox resolve ID --sent` or `--not-sent`. Failed: fix the cause, then retry or cancel.",
            "",
        ]
        lines += [
            f"- #{row.pk} {row.status} {row.channel} {row.customer.external_ref} {row.template_key}"
            + (f": {row.last_error[:120]}" if row.last_error else "")
            for row in rows
        ]
        lines += ["", f"Outbox: {absolute_url('/delivery/outbox/')}"]
        total = sum(counts.values())
        sent += alert_send(
            entity=entity,
            subject=f"Relance: {total} message(s) of {entity.name} need a decision",
            body="\n".join(lines),
        )
    return sent

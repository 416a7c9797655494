"""The one send-time check every message goes through just before it leaves.

``outbound_verdict`` answers for a claimed outbox row, in this order:

1. **Still true?** For a message of a dunning run (it has an ``action``): is the customer still
   owing what it asks, with no promise, plan or full dispute since the decision
   (``relance.dunning.selectors.message_still_due``)? If not, the message is **cancelled** with
   the reason; if the amount changed, it is **re-rendered** from the ledger as it is now.
   For a message outside a run that names a check in its headers (``STILL_TRUE_HEADER``: a
   credit notice, say), the check an app above registered for that name answers the same
   question (``still_true_register``; the credit app registers its notices' checks).
2. **Allowed now?** The entity's contact rules (``relance.compliance``): allowed; blocked for
   good (opt-out, invalid address, hold) with a reason; or deferred to the first instant at
   which every time and frequency rule holds (``defer_until``).

``relance compliance check`` and the customer 360 ask the same two questions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from relance.delivery.models import OutboundMessage

#: The header naming the "still true?" check of a message outside a run (``still_true_register``).
STILL_TRUE_HEADER = "still_true"


@dataclass(frozen=True)
class NoLongerTrue:
    """Why a message is no longer true: it is cancelled with this code and reason."""

    code: str
    reason: str


class StillTrueCheck(Protocol):
    def __call__(self, message: OutboundMessage, *, on: date) -> NoLongerTrue | None:
        """None when the message is still true on ``on`` (the entity's today)."""
        ...


_still_true_checks: dict[str, StillTrueCheck] = {}


def still_true_register(name: str, check: StillTrueCheck) -> None:
    """An app above delivery hands down the check of its messages (``AppConfig.ready``): a message
    whose ``headers[STILL_TRUE_HEADER]`` is ``name`` is asked ``check`` before it leaves."""
    _still_true_checks[name] = check


def _still_true_check(name: str) -> StillTrueCheck:
    try:
        return _still_true_checks[name]
    except KeyError:
        raise ImproperlyConfigured(
            f"no send-time check registered for {name!r}: is the app that queues these messages installed?"
        ) from None


@dataclass(frozen=True)
class Verdict:
    """``allowed=False`` and no ``defer_until``: blocked, never sent. ``defer_until``: requeue for then.

    ``cancel``: the message is no longer true (paid, promised, disputed…): cancelled, never sent.
    ``rerender_as_of``: still due but the amount changed: render it again as of that date first.
    """

    allowed: bool
    defer_until: datetime | None = None
    reason: str = ""
    cancel: bool = False
    code: str = ""
    rerender_as_of: date | None = None
    amount_due: Decimal | None = None


def send_day(message: OutboundMessage, now: datetime) -> date:
    """The business day the facts are read on: the entity's today, never before the run's date."""
    from relance.compliance import rules

    zone = rules.zone_or_none(message.customer.entity.timezone) or UTC
    today = now.astimezone(zone).date()
    run_day = message.action.on if message.action_id and message.action is not None else None
    return max(today, run_day) if run_day else today


#: People notices (the sales owner's "before the final notice") at most once per account in this window.
OWNER_NOTICE_DAYS = 7


def _owner_told_recently(message: OutboundMessage, now: datetime) -> datetime | None:
    """When another notice to our own people about this account went out in the last days."""
    from relance.delivery.models import OutboundMessage

    earlier = (
        OutboundMessage.objects.filter(
            customer_id=message.customer_id,
            recipient__iexact=message.recipient,
            status__in=("sent", "delivered"),
            sent_at__gte=now - timedelta(days=OWNER_NOTICE_DAYS),
            template_key__startswith="owner_",
        )
        .exclude(pk=message.pk)
        .order_by("-sent_at")
        .values_list("sent_at", flat=True)
        .first()
    )
    return earlier


def outbound_verdict(message: OutboundMessage, *, now: datetime) -> Verdict:
    """May ``message`` be sent at ``now``? The message itself does not count for its own caps."""
    from relance.compliance.selectors import message_assessment
    from relance.dunning.selectors import message_still_due

    rerender: date | None = None
    amount: Decimal | None = None
    if message.action_id:
        action = message.action
        on = send_day(message, now)
        still = message_still_due(
            customer=message.customer,
            action=action,
            on=on,
            amount_in_message=message.amount_due,
            currency=message.currency or (action.currency if action is not None else ""),
            internal=bool((message.headers or {}).get("internal")),
        )
        if not still.due:
            return Verdict(allowed=False, reason=still.reason, cancel=True, code=still.code)
        if (message.headers or {}).get("internal"):
            told = _owner_told_recently(message, now)
            if told is not None:
                return Verdict(
                    allowed=False,
                    reason=f"the sales owner was already told about this account on {told:%Y-%m-%d}",
                    cancel=True,
                    code="owner_told",
                )
        if still.code == "changed":
            rerender, amount = on, still.amount_due
    elif (message.headers or {}).get(STILL_TRUE_HEADER):
        check = _still_true_check(str(message.headers[STILL_TRUE_HEADER]))
        gone = check(message, on=send_day(message, now))
        if gone is not None:
            return Verdict(allowed=False, reason=gone.reason, cancel=True, code=gone.code)
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
    return Verdict(
        allowed=decision.allowed,
        defer_until=decision.defer_until,
        reason=decision.reason,
        rerender_as_of=rerender if decision.allowed else None,
        amount_due=amount,
    )

"""Smart notices (issue 15, item 9): utilisation crossing 80 % and 100 %, a saved card expiring.

**Where the utilisation comes from (one rule):** the daily notices read the scoring's
``utilisation`` factor stored with the day's ``CreditScore`` reasons (the engine's
``relance.engine.credit.exposure``); the send-time check reads the exposure selector
(``relance.credit.selectors.exposure.customer_exposure``, the order check's) for the one customer
as the ledger is when the message leaves (``utilisation_now``). The two are the same rule, held
together by ``tests/credit/test_exposure_agreement.py``: nothing here computes a utilisation itself.

**Once per crossing:** a ``UtilisationNotice`` per threshold stays open until utilisation falls back
below it (``relance.core.credit_notices.crossing_changes``); a later crossing notices again. A day
that crosses both thresholds at once opens both notices and sends one message (about the higher).

**Through the outbox:** the customer's billing contact (its preferred channel when that is SMS,
else e-mail) and its sales owner (internal) each get a message rendered in the customer's
language, queued with an idempotency key per notice, checked by the compliance rules when it
leaves — and cancelled then if it is no longer true (``utilisation_still_true``, registered with
delivery's send-time check in ``CreditConfig.ready``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from relance.core.credit_notices import (
    CARD_NOTICE_DAYS,
    card_expiring,
    card_last_day,
    crossing_changes,
    still_over,
)
from relance.credit.models import CreditScore, UtilisationNotice
from relance.credit.selectors.scores import latest_scoring_day
from relance.delivery.compliance import NoLongerTrue
from relance.delivery.models import OutboundMessage
from relance.ledger.models import Customer, Entity
from relance.portal.models import SavedCard

logger = logging.getLogger(__name__)

UTILISATION_TEMPLATE = "credit_utilisation"
OWNER_UTILISATION_TEMPLATE = "owner_credit_utilisation"
CARD_TEMPLATE = "card_expiring"
#: The send-time checks (``relance.delivery.compliance.STILL_TRUE_HEADER``) of these messages.
UTILISATION_CHECK = "credit_utilisation"
CARD_CHECK = "credit_card_expiring"
#: Channels a notice may go on, the contact's preference first when it is one of them.
NOTICE_CHANNELS = ("email", "sms")


@dataclass(frozen=True)
class NoticeReport:
    """What one day's notices did (``credit_notices_run`` adds the insurance tasks)."""

    as_of: date
    scoring_day: date | None
    opened: int = 0
    cleared: int = 0
    queued: int = 0
    cards: int = 0
    skipped: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "scoring_day": self.scoring_day.isoformat() if self.scoring_day else None,
            "opened": self.opened,
            "cleared": self.cleared,
            "queued": self.queued,
            "cards": self.cards,
            "skipped": list(self.skipped),
        }


# --------------------------------------------------------------------------------------------------
# The utilisation (one source: the scoring's factor)


def utilisation_of_reasons(reasons: Iterable[Mapping[str, Any]]) -> Decimal | None:
    """The ``utilisation`` factor's value (percent, 2 places) in a stored score's reasons; None
    when the customer has no limit (or the scorecard has no such factor)."""
    for reason in reasons:
        if reason.get("factor") == "utilisation":
            value = reason.get("value")
            return None if value in (None, "") else Decimal(str(value)).quantize(Decimal("0.01"))
    return None


def utilisations_of_day(*, entity: Entity, as_of: date) -> tuple[date | None, dict[int, Decimal | None]]:
    """Every scored customer's utilisation from the latest scoring on or before ``as_of``."""
    day = latest_scoring_day(entity=entity, on_or_before=as_of)
    if day is None:
        return None, {}
    rows = CreditScore.objects.filter(entity=entity, as_of=day).values_list("customer_id", "reasons")
    return day, {customer_id: utilisation_of_reasons(reasons) for customer_id, reasons in rows}


def utilisation_now(*, customer: Customer, on: date) -> Decimal | None:
    """The customer's utilisation on ``on`` as the ledger is now: the exposure selector's (the
    same rule as the scoring's factor, ``tests/credit/test_exposure_agreement.py``; a child is
    measured with its group against the parent's limit), in a few indexed queries."""
    from relance.credit.selectors.exposure import customer_exposure, customer_for_exposure

    fresh = customer_for_exposure(entity_id=customer.entity_id, external_ref=customer.external_ref)
    if fresh is None:
        return None
    return customer_exposure(customer=fresh, as_of=on).utilisation


# --------------------------------------------------------------------------------------------------
# Queueing a notice


def _customer_recipient(customer: Customer) -> tuple[str, Any, str, str]:
    """``(channel, contact, address, why none)``: the billing contact's preferred notice channel
    when it reaches them, else e-mail, else SMS."""
    from relance.delivery.services import recipient_for

    first = min(customer.contacts.all(), key=lambda c: (c.role != "billing", c.pk), default=None)
    preferred = getattr(first, "preferred_channel", "") or "email"
    order = [preferred] if preferred in NOTICE_CHANNELS else []
    order += [channel for channel in NOTICE_CHANNELS if channel not in order]
    reasons = []
    for channel in order:
        contact, address, why = recipient_for(customer, channel)
        if address:
            return channel, contact, address, ""
        reasons.append(f"{channel}: {why}")
    return "", None, "", "; ".join(reasons)


def _queue(
    *,
    customer: Customer,
    template_key: str,
    channel: str,
    recipient: str,
    contact: Any,
    key: str,
    as_of: date,
    extra: Mapping[str, Any],
    headers: Mapping[str, Any],
    broken: list[Any],
    now: datetime | None,
) -> bool:
    """Render and queue one notice (a broken template queues it as failed, see
    ``outbox_enqueue_checked``); True when newly queued."""
    from relance.delivery.services import outbox_enqueue_checked

    _, created = outbox_enqueue_checked(
        render={
            "template_key": template_key,
            "channel": channel,
            "as_of": as_of,
            "contact": contact,
            "message_key": key,
            "extra": dict(extra),
        },
        broken=broken,
        customer=customer,
        channel=channel,
        recipient=recipient,
        idempotency_key=key,
        contact=contact,
        headers=dict(headers),
        detail={"source": "credit notice", "template": template_key},
        now=now,
    )
    return created


def _utilisation_facts(customer: Customer, notice: UtilisationNotice) -> dict[str, Any]:
    limit = customer.credit_limit
    if customer.parent_id and customer.parent is not None and customer.parent.credit_limit is not None:
        limit = customer.parent.credit_limit  # the group's shared limit
        currency = customer.parent.currency
    else:
        currency = customer.currency
    return {
        "threshold": notice.threshold,
        "utilisation": notice.utilisation,
        "limit": limit if limit is not None else Decimal(0),
        "currency": currency,
        "crossed_on": notice.crossed_on,
    }


def utilisation_message_key(notice: UtilisationNotice, audience: str) -> str:
    return f"credit-utilisation:{notice.pk}:{audience}"


def _notify(
    customer: Customer, notice: UtilisationNotice, as_of: date, now: datetime | None
) -> tuple[int, list[str]]:
    """Queue the customer's and the sales owner's message about ``notice``."""
    facts = _utilisation_facts(customer, notice)
    headers = {"still_true": UTILISATION_CHECK, "notice": notice.pk}
    queued, skipped, broken = 0, [], []  # type: tuple[int, list[str], list[Any]]
    channel, contact, address, why = _customer_recipient(customer)
    if address:
        queued += _queue(
            customer=customer,
            template_key=UTILISATION_TEMPLATE,
            channel=channel,
            recipient=address,
            contact=contact,
            key=utilisation_message_key(notice, "customer"),
            as_of=as_of,
            extra={"credit": facts},
            headers=headers,
            broken=broken,
            now=now,
        )
    else:
        skipped.append(f"{customer.external_ref}: no contact to tell ({why})")
    owner = customer.sales_owner
    if owner is not None and owner.email:
        queued += _queue(
            customer=customer,
            template_key=OWNER_UTILISATION_TEMPLATE,
            channel="email",
            recipient=owner.email,
            contact=None,
            key=utilisation_message_key(notice, "owner"),
            as_of=as_of,
            extra={"credit": facts},
            headers={**headers, "internal": True},
            broken=broken,
            now=now,
        )
    skipped += [f"{item.customer_ref}: template {item.template_key} failed: {item.error}" for item in broken]
    return queued, skipped


# --------------------------------------------------------------------------------------------------
# The daily run


def utilisation_notices_run(*, entity: Entity, as_of: date, now: datetime | None = None) -> NoticeReport:
    """Open, clear and send the utilisation notices of ``as_of`` from the day's scoring."""
    day, utilisations = utilisations_of_day(entity=entity, as_of=as_of)
    if day is None:
        return NoticeReport(as_of=as_of, scoring_day=None, skipped=("no scoring on or before this day",))
    open_by_customer: dict[int, dict[int, UtilisationNotice]] = defaultdict(dict)
    for notice in UtilisationNotice.objects.filter(entity=entity, cleared_on__isnull=True):
        open_by_customer[notice.customer_id][notice.threshold] = notice
    customer_ids = set(utilisations) | set(open_by_customer)
    customers = {
        customer.pk: customer
        for customer in Customer.objects.filter(entity=entity, pk__in=customer_ids)
        .select_related("entity", "sales_owner", "parent")
        .prefetch_related("contacts")
    }
    opened = cleared = queued = 0
    skipped: list[str] = []
    for customer_id in sorted(customer_ids):
        customer = customers.get(customer_id)
        if customer is None:
            continue
        utilisation = utilisations.get(customer_id)
        open_now = open_by_customer.get(customer_id, {})
        changes = crossing_changes(open_now, utilisation)
        if not changes.opened and not changes.cleared:
            continue
        reached = utilisation if utilisation is not None else Decimal(0)  # opened needs a number
        with transaction.atomic():
            for threshold in changes.cleared:
                notice = open_now[threshold]
                notice.cleared_on = as_of
                notice.save(update_fields=["cleared_on"])
                cleared += 1
            created = [
                UtilisationNotice.objects.create(
                    entity=entity,
                    customer=customer,
                    threshold=threshold,
                    crossed_on=as_of,
                    utilisation=reached,
                )
                for threshold in changes.opened
            ]
            opened += len(created)
            if not created:
                continue
            notice = next(item for item in created if item.threshold == changes.notify)
            sent, why = _notify(customer, notice, as_of, now)
            queued += sent
            skipped += why
            if sent:
                UtilisationNotice.objects.filter(pk__in=[item.pk for item in created]).update(
                    notified_at=now or timezone.now()
                )
    return NoticeReport(
        as_of=as_of, scoring_day=day, opened=opened, cleared=cleared, queued=queued, skipped=tuple(skipped)
    )


def _card_months(as_of: date, within_days: int) -> list[tuple[int, int]]:
    """The (year, month) of every card expiry whose last day falls in [as_of, as_of + within_days]."""
    months = []
    year, month = as_of.year, as_of.month
    end = as_of + timedelta(days=within_days)
    while date(year, month, 1) <= end:
        if card_expiring(year, month, as_of, within_days=within_days):
            months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def card_message_key(card: SavedCard) -> str:
    return f"credit-card:{card.pk}:{card.exp_year:04d}-{card.exp_month:02d}"


def card_notices_run(*, entity: Entity, as_of: date, now: datetime | None = None) -> tuple[int, list[str]]:
    """A notice for every saved card expiring within ``CARD_NOTICE_DAYS``: once per card and expiry
    (the message key names both), with the customer's portal link to add a new card."""
    months = _card_months(as_of, CARD_NOTICE_DAYS)
    if not months:
        return 0, []
    from django.db.models import Q

    wanted = Q()
    for year, month in months:
        wanted |= Q(exp_year=year, exp_month=month)
    cards = (
        SavedCard.objects.filter(wanted, entity=entity, removed_at__isnull=True)
        .select_related("customer", "customer__entity")
        .prefetch_related("customer__contacts")
        .order_by("pk")
    )
    queued, skipped, broken = 0, [], []  # type: tuple[int, list[str], list[Any]]
    for card in cards:
        customer = card.customer
        key = card_message_key(card)
        if OutboundMessage.objects.filter(idempotency_key=key).exists():
            continue
        channel, contact, address, why = _customer_recipient(customer)
        if not address:
            skipped.append(f"{customer.external_ref}: no contact to tell of card ••••{card.last4} ({why})")
            continue
        queued += _queue(
            customer=customer,
            template_key=CARD_TEMPLATE,
            channel=channel,
            recipient=address,
            contact=contact,
            key=key,
            as_of=as_of,
            extra={
                "card": {
                    "brand": card.brand.title() if card.brand else "",
                    "last4": card.last4,
                    "exp_month": card.exp_month,
                    "exp_year": card.exp_year,
                    "expires_on": card_last_day(card.exp_year, card.exp_month),
                }
            },
            headers={
                "still_true": CARD_CHECK,
                "card": card.pk,
                "expiry": f"{card.exp_year:04d}-{card.exp_month:02d}",
            },
            broken=broken,
            now=now,
        )
    skipped += [f"{item.customer_ref}: template {item.template_key} failed: {item.error}" for item in broken]
    return queued, skipped


def notices_run(*, entity: Entity, as_of: date, now: datetime | None = None) -> NoticeReport:
    """The day's utilisation notices and saved-card notices."""
    report = utilisation_notices_run(entity=entity, as_of=as_of, now=now)
    cards, skipped = card_notices_run(entity=entity, as_of=as_of, now=now)
    return NoticeReport(
        as_of=report.as_of,
        scoring_day=report.scoring_day,
        opened=report.opened,
        cleared=report.cleared,
        queued=report.queued + cards,
        cards=cards,
        skipped=report.skipped + tuple(skipped),
    )


# --------------------------------------------------------------------------------------------------
# The send-time checks (registered with relance.delivery.compliance in CreditConfig.ready)


def utilisation_still_true(message: OutboundMessage, *, on: date) -> NoLongerTrue | None:
    """A utilisation notice leaves only while its notice is open and the utilisation, read again
    as the ledger is now, is still at or above its threshold."""
    notice = UtilisationNotice.objects.filter(pk=int((message.headers or {}).get("notice") or 0)).first()
    if notice is None:
        return NoLongerTrue("notice_gone", "the utilisation notice this message is about no longer exists")
    if notice.cleared_on is not None:
        return NoLongerTrue(
            "below_threshold",
            f"utilisation fell back below {notice.threshold} % on {notice.cleared_on.isoformat()}",
        )
    now = utilisation_now(customer=message.customer, on=on)
    if not still_over(notice.threshold, now):
        said = "the customer has no credit limit any more" if now is None else f"utilisation is now {now} %"
        return NoLongerTrue("below_threshold", f"{said}, below the {notice.threshold} % this notice is about")
    return None


def card_still_true(message: OutboundMessage, *, on: date) -> NoLongerTrue | None:
    """A card notice leaves only while the card is still on file with the expiry it speaks of."""
    headers = message.headers or {}
    card = SavedCard.objects.filter(pk=int(headers.get("card") or 0)).first()
    if card is None or card.removed_at is not None:
        return NoLongerTrue("card_removed", "the saved card was removed")
    if f"{card.exp_year:04d}-{card.exp_month:02d}" != headers.get("expiry"):
        return NoLongerTrue("card_updated", f"the card now expires {card.exp_month:02d}/{card.exp_year}")
    return None


def notice_checks() -> Sequence[tuple[str, Any]]:
    """The send-time checks this module hands to delivery (``CreditConfig.ready``)."""
    return ((UTILISATION_CHECK, utilisation_still_true), (CARD_CHECK, card_still_true))


# --------------------------------------------------------------------------------------------------
# The daily entry point (called by the daily credit step, ``relance credit review run``)


@dataclass(frozen=True)
class CreditNoticesReport:
    """The notices queued and the insurance declaration tasks created on one day."""

    notices: NoticeReport
    declarations: tuple[Any, ...]  # relance.credit.services.insurance.DeclarationDue

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.notices.as_dict(),
            "declaration_tasks": [
                {
                    "invoice_ref": item.invoice_ref,
                    "customer_ref": item.customer_ref,
                    "deadline": item.deadline.isoformat(),
                    "task_id": item.task_id,
                }
                for item in self.declarations
            ],
        }


def credit_notices_run(*, entity: Entity, as_of: date, now: datetime | None = None) -> CreditNoticesReport:
    """The day's credit notices (utilisation crossings from the day's scoring — run it after
    ``scores_compute`` — and saved cards expiring) and the credit manager's insurance declaration
    tasks. Safe to run twice: every notice, message and task is once."""
    from relance.credit.services.insurance import declaration_tasks_create

    notices = notices_run(entity=entity, as_of=as_of, now=now)
    declarations = declaration_tasks_create(entity=entity, as_of=as_of)
    return CreditNoticesReport(notices=notices, declarations=tuple(declarations))

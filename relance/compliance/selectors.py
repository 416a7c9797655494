"""Reads of the compliance app: the entity's rule settings and the facts about one message.

``message_assessment`` is what the delivery worker asks (through ``relance.delivery.compliance``)
and what ``relance compliance check`` explains: it gathers the recipient's zones, preferences and
history from the database and hands them to the pure rules.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from typing import Any

from relance.cases.models import ContactLog
from relance.cases.selectors import (
    hold_list_in_force,
    holds_in_force_among,
    holds_not_ended_by_customer,
    promise_list,
)
from relance.compliance import rules
from relance.compliance.models import ComplianceSettings
from relance.compliance.outbox import outbox
from relance.core.channels import address_field, opt_out_field
from relance.dunning import contacts
from relance.ledger.models import UNUSABLE_STATUSES, Contact, Customer

#: Outbox states that mean the message went (or may have gone) out: they count for the caps.
COUNTED_STATUSES = ("sending", "sent", "delivered", "uncertain")
#: Channels whose messages count for the caps (a portal notification reaches nobody by itself).
CAPPED_CHANNELS = ("email", "sms", "letter", "call")
#: Call outcomes that mean nobody was spoken to: ``relance.dunning.contacts`` (the one home).
NO_CONVERSATION_OUTCOMES = contacts.NO_CONVERSATION_OUTCOMES
#: Holds that stop even messages outside the dunning run (acknowledgements, confirmations).
HOLDS_FOR_EVERY_MESSAGE = frozenset({"do_not_contact"})


#: Settings and policy windows are read once per this many seconds per process: the worker asks
#: for every message, they change rarely (a change made in this process applies at once).
CACHE_SECONDS = 30.0
_SETTINGS: dict[int, tuple[float, ComplianceSettings]] = {}


def compliance_settings_get(*, entity_id: int, cached: bool = False) -> ComplianceSettings:
    """The entity's settings row, or an unsaved one holding the defaults."""
    if cached:
        hit = _SETTINGS.get(entity_id)
        if hit is not None and hit[0] > monotonic():
            return hit[1]
    row = ComplianceSettings.objects.filter(entity_id=entity_id).first() or ComplianceSettings(
        entity_id=entity_id
    )
    _SETTINGS[entity_id] = (monotonic() + CACHE_SECONDS, row)
    return row


def caches_clear() -> None:
    """Forget cached settings and policy windows (after a change; tests)."""
    _SETTINGS.clear()
    _POLICY_TIMINGS.clear()


def rule_config(*, settings_row: ComplianceSettings) -> rules.RuleConfig:
    quiet = rules.LocalWindow(
        settings_row.quiet_hours_start, settings_row.quiet_hours_end, frozenset(settings_row.allowed_weekdays)
    )
    return rules.RuleConfig(
        contact_cap=settings_row.contact_cap,
        contact_cap_days=settings_row.contact_cap_days,
        customer_cap=settings_row.customer_cap,
        customer_cap_days=settings_row.customer_cap_days,
        quiet_window=quiet,
        quiet_channels=frozenset(settings_row.quiet_hours_channels),
        skip_public_holidays=settings_row.skip_public_holidays,
        policy_window_channels=frozenset(settings_row.policy_window_channels),
        consumer_rules=settings_row.consumer_rules,
        massachusetts=settings_row.massachusetts,
    )


@dataclass(frozen=True)
class PolicyTiming:
    """The parts of a dunning policy that say when its messages may go out."""

    window: rules.LocalWindow | None = None
    weekdays: frozenset[int] | None = None
    holidays: str = ""
    """``customer`` (the customer's country, else the entity's), a country code, or '' (none)."""


NO_TIMING = PolicyTiming()
_POLICY_TIMINGS: dict[tuple[int, str], tuple[float, PolicyTiming]] = {}


def policy_timing(*, entity_id: int, policy_key: str) -> PolicyTiming:
    """The policy's ``send_window`` and ``business_days`` (read with fallbacks: older policies have neither)."""
    from relance.dunning.models import Policy
    from relance.engine.dunning.policy import policy_from_dict

    if not policy_key:
        return NO_TIMING
    cache_key = (entity_id, policy_key)
    hit = _POLICY_TIMINGS.get(cache_key)
    if hit is not None and hit[0] > monotonic():
        return hit[1]
    row = Policy.objects.filter(entity_id=entity_id, key=policy_key).only("spec").first()
    policy = policy_from_dict(row.spec) if row is not None else None
    window = getattr(policy, "send_window", None)
    business_days = getattr(policy, "business_days", None)
    timing = PolicyTiming(
        window=(
            rules.LocalWindow(
                window.start, window.end, frozenset(getattr(window, "weekdays", None) or rules.ALL_DAYS)
            )
            if window is not None
            else None
        ),
        weekdays=frozenset(business_days.weekdays) if business_days is not None else None,
        holidays=(
            ""
            if business_days is None or getattr(business_days, "holidays", "none") == "none"
            else str(business_days.holidays)
        ),
    )
    _POLICY_TIMINGS[cache_key] = (monotonic() + CACHE_SECONDS, timing)
    return timing


def policy_send_window(*, entity_id: int, policy_key: str) -> rules.LocalWindow | None:
    """The policy's ``send_window`` (start, end, weekdays) if the policy has one."""
    return policy_timing(entity_id=entity_id, policy_key=policy_key).window


def _is_internal(
    *,
    contact: Contact | None,
    customer: Customer,
    channel: str,
    recipient: str,
    template_key: str,
    action: Any,
    headers: Mapping[str, Any],
) -> bool:
    """Messages to our own people (the sales owner's notification) are not contacts with the customer."""
    if headers.get("internal") or headers.get("X-Relance-Internal"):
        return True
    if template_key.startswith("owner_") or getattr(action, "action", "") == "notify_owner":
        return True
    if contact is not None or not customer.sales_owner_id:
        return False
    owner = customer.sales_owner
    return bool(
        channel == "email" and owner is not None and owner.email and owner.email.lower() == recipient.lower()
    )


def _matching_contacts(
    *, customer: Customer, channel: str, contact: Contact | None, recipient: str
) -> list[Contact]:
    if contact is not None:
        return [contact]
    if not recipient:
        return []
    if channel == "email":
        return list(customer.contacts.filter(email__iexact=recipient.strip()))
    if channel in {"sms", "call"}:
        return list(customer.contacts.filter(phone=recipient.strip()))
    return []


def _local_noon(day: date, zone_name: str) -> datetime:
    zone = rules.zone_or_none(zone_name) or UTC
    return datetime.combine(day, time(12), tzinfo=zone)


def _calls_and_conversations(
    *, customer: Customer, contact: Contact | None, exclude_id: int | None
) -> tuple[tuple[datetime, ...], tuple[datetime, ...]]:
    """Calls placed to this person about this account, and telephone conversations with them."""
    reader = outbox()
    contact_id = contact.pk if contact is not None else None
    call_instants = reader.calls_placed(
        customer_id=customer.pk, contact_id=contact_id, statuses=COUNTED_STATUSES, exclude_id=exclude_id
    )
    done = reader.calls_done(customer_id=customer.pk, contact_id=contact_id)
    # Calls made by hand, outside any message: done tasks without a message, and logged phone contacts.
    call_instants += [call.at for call in done if call.by_hand]
    conversations = [
        call.at for call in done if (call.outcome or "").strip().lower() not in NO_CONVERSATION_OUTCOMES
    ]

    zone_name = customer.timezone or customer.entity.timezone
    for on in ContactLog.objects.filter(customer=customer, channel="call").values_list("on", flat=True):
        call_instants.append(_local_noon(on, zone_name))
        conversations.append(_local_noon(on, zone_name))
    return tuple(call_instants), tuple(conversations)


@dataclass
class _BatchFacts:
    """The holds and cap history of the customers of a batch of due messages (a delivery pass reads
    them in two queries per batch of 50 instead of two per message).

    ``contested``: customers with another queued message besides the batch's (the same customer's
    second message, in this batch or taken by another worker): their cap history changes while the
    batch is sent, so it is read live, message by message, as without a batch.
    """

    customers: set[int]
    holds: dict[int, list[Any]] = field(default_factory=dict)
    counted: dict[int, list[tuple[int | None, datetime, int]]] = field(default_factory=dict)
    contested: set[int] = field(default_factory=set)


_BATCH: ContextVar[_BatchFacts | None] = ContextVar("compliance_batch", default=None)


@contextmanager
def message_facts_batch() -> Iterator[None]:
    """Within this block (a delivery pass), ``message_facts_load`` reads a batch's holds and cap
    history at once and ``message_facts`` answers from them (they are at most a batch old when a
    message leaves, as the send-time rule's ledger facts)."""
    token = _BATCH.set(_BatchFacts(customers=set()))
    try:
        yield
    finally:
        _BATCH.reset(token)


def message_facts_load(*, messages: Iterable[tuple[int, int, int]], now: datetime) -> None:
    """Read the holds and the counted messages of the customers of ``messages`` ((message id,
    customer id, entity id) of a batch about to be sent), replacing the previous batch's."""

    batch = _BATCH.get()
    if batch is None:
        return
    triples = list(messages)
    in_batch = Counter(customer_id for _, customer_id, _ in triples)
    batch_ids = {message_id for message_id, _, _ in triples}
    batch.customers = set(in_batch)
    batch.holds, batch.counted, batch.contested = {}, {}, set()
    if not triples:
        return
    # Every day a message of the batch may be dated (the entity's today, a zone or two behind) is
    # within two days of ``now``: one query reads what ``_holds_in_force`` will ask of them.
    batch.holds = holds_not_ended_by_customer(
        customer_ids=batch.customers, since=(now - timedelta(days=2)).date()
    )
    # A customer's second message in the batch changes the first one's cap history as it goes.
    batch.contested = {customer_id for customer_id, count in in_batch.items() if count > 1}
    longest = max(
        max(row.contact_cap_days, row.customer_cap_days)
        for row in (compliance_settings_get(entity_id=entity_id, cached=True) for _, _, entity_id in triples)
    )
    cutoff = now - timedelta(days=longest)
    rows = outbox().run_messages(
        customer_ids=batch.customers,
        channels=CAPPED_CHANNELS,
        statuses=COUNTED_STATUSES,
        since=cutoff,
        queued=True,
    )
    for row in rows:
        if row.status == "queued":
            if row.pk not in batch_ids:  # another message may leave meanwhile (another worker's)
                batch.contested.add(row.customer_id)
        else:
            batch.counted.setdefault(row.customer_id, []).append((row.contact_id, row.at, row.pk))


def _batch_for(customer_id: int) -> _BatchFacts | None:
    batch = _BATCH.get()
    return batch if batch is not None and customer_id in batch.customers else None


def _holds_in_force(*, customer: Customer, on: date) -> list[Any]:
    batch = _batch_for(customer.pk)
    if batch is None:
        return list(hold_list_in_force(customer=customer, on=on))
    return holds_in_force_among(batch.holds.get(customer.pk, []), on=on)


def _counted_sent(
    *, customer: Customer, now: datetime, settings_row: ComplianceSettings, exclude_message_id: int | None
) -> list[tuple[int | None, datetime]]:
    """(contact id, instant) of the run messages to this customer that count for the caps."""
    batch = _batch_for(customer.pk)
    if batch is not None and customer.pk not in batch.contested:
        return [
            (contact_id, at)
            for contact_id, at, pk in batch.counted.get(customer.pk, [])
            if pk != exclude_message_id
        ]
    # Only what can still be in a cap's rolling window matters (later windows hold less).
    cutoff = now - timedelta(days=max(settings_row.contact_cap_days, settings_row.customer_cap_days))
    rows = outbox().run_messages(  # run messages to the customer, not the owner's notification
        customer_ids=[customer.pk],
        channels=CAPPED_CHANNELS,
        statuses=COUNTED_STATUSES,
        since=cutoff,
        exclude_id=exclude_message_id,
    )
    return [(row.contact_id, row.at) for row in rows]


@dataclass(frozen=True)
class Assessment:
    """The rules' decision and the facts it was made on (for explanations)."""

    decision: rules.Decision
    facts: rules.MessageFacts
    config: rules.RuleConfig
    contact: Contact | None
    policy_key: str


def message_facts(
    *,
    customer: Customer,
    channel: str,
    now: datetime,
    contact: Contact | None = None,
    recipient: str = "",
    action: Any = None,
    template_key: str = "",
    headers: Mapping[str, Any] | None = None,
    policy_key: str = "",
    exclude_message_id: int | None = None,
    holiday_country: str = "",
    dunning: bool | None = None,
) -> rules.MessageFacts:
    """Everything the rules need about a (possibly hypothetical) message, read from the database."""
    entity = customer.entity
    headers = headers or {}
    contact_tz = getattr(contact, "timezone", "") or ""
    zones, zones_label = rules.recipient_zones(
        contact_tz=contact_tz,
        customer_tz=customer.timezone,
        country=customer.country,
        entity_tz=entity.timezone,
    )
    if _is_internal(
        contact=contact,
        customer=customer,
        channel=channel,
        recipient=recipient,
        template_key=template_key,
        action=action,
        headers=headers,
    ):
        return rules.MessageFacts(channel=channel, zones=zones, zones_label=zones_label, internal=True)

    matching = _matching_contacts(customer=customer, channel=channel, contact=contact, recipient=recipient)
    flag = opt_out_field(channel)
    opted_out = bool(flag) and any(getattr(c, flag, False) for c in matching)
    address_invalid = ""
    if channel == "email" and any(c.email_status in UNUSABLE_STATUSES for c in matching):
        address_invalid = "email address"
    elif channel in {"sms", "call"} and any(c.phone_status in UNUSABLE_STATUSES for c in matching):
        address_invalid = "phone number"
    elif channel == "letter" and any(c.address_status in UNUSABLE_STATUSES for c in matching):
        address_invalid = "postal address"

    # Caps, run holds and the policy's window concern dunning messages (from a run), not replies.
    is_dunning = action is not None if dunning is None else dunning
    local_today = now.astimezone(rules.zone_or_none(entity.timezone) or UTC).date()
    hold_reason = ""
    for hold in _holds_in_force(customer=customer, on=local_today):
        if is_dunning or hold.kind in HOLDS_FOR_EVERY_MESSAGE:
            hold_reason = f"{hold.get_kind_display()}: {hold.reason}"
            break

    settings_row = compliance_settings_get(entity_id=entity.pk, cached=True)
    person = matching[0] if matching else None
    sent = (
        _counted_sent(
            customer=customer, now=now, settings_row=settings_row, exclude_message_id=exclude_message_id
        )
        if is_dunning
        else []
    )
    sent_to_customer = tuple(at for _, at in sent)
    sent_to_contact = tuple(at for contact_id, at in sent if person is not None and contact_id == person.pk)

    calls: tuple[datetime, ...] = ()
    conversations: tuple[datetime, ...] = ()
    if channel == "call" and settings_row.consumer_rules:
        calls, conversations = _calls_and_conversations(
            customer=customer, contact=person, exclude_id=exclude_message_id
        )
    policy = policy_key or getattr(action, "policy_key", "") or ""
    timing = policy_timing(entity_id=entity.pk, policy_key=policy) if is_dunning else NO_TIMING
    return rules.MessageFacts(
        channel=channel,
        zones=zones,
        zones_label=zones_label,
        capped=is_dunning,
        opted_out=opted_out,
        address_invalid=address_invalid,
        hold_reason=hold_reason,
        sent_to_contact=sent_to_contact,
        sent_to_customer=sent_to_customer,
        calls=calls,
        conversations=conversations,
        policy_window=timing.window,
        policy_weekdays=timing.weekdays,
        policy_holiday_country=(
            (customer.country or entity.country) if timing.holidays == "customer" else timing.holidays
        ),
        holiday_country=holiday_country or settings_row.holiday_country or customer.country or entity.country,
    )


def message_assessment(
    *,
    customer: Customer,
    channel: str,
    now: datetime,
    contact: Contact | None = None,
    recipient: str = "",
    action: Any = None,
    template_key: str = "",
    headers: Mapping[str, Any] | None = None,
    policy_key: str = "",
    exclude_message_id: int | None = None,
    dunning: bool | None = None,
) -> Assessment:
    """Would a message like this be allowed at ``now``, and if not, why and until when."""
    facts = message_facts(
        customer=customer,
        channel=channel,
        now=now,
        contact=contact,
        recipient=recipient,
        action=action,
        template_key=template_key,
        headers=headers,
        policy_key=policy_key,
        exclude_message_id=exclude_message_id,
        dunning=dunning,
    )
    config = rule_config(settings_row=compliance_settings_get(entity_id=customer.entity_id, cached=True))
    matching = _matching_contacts(customer=customer, channel=channel, contact=contact, recipient=recipient)
    contact_found = matching[0] if matching else None
    policy = policy_key or getattr(action, "policy_key", "") or ""
    return Assessment(rules.decide(facts, config, now), facts, config, contact_found, policy)


def contact_for_channel(*, customer: Customer, channel: str) -> Contact | None:
    """The contact a message on ``channel`` would go to: the first with an address for it,
    preferring those whose preferred channel it is."""
    field = address_field(channel)
    contacts = list(customer.contacts.order_by("pk"))
    if not field:
        return contacts[0] if contacts else None
    with_address = [c for c in contacts if getattr(c, field)]
    with_address.sort(key=lambda c: c.preferred_channel != channel)
    return with_address[0] if with_address else None


@dataclass(frozen=True)
class AccountStatus:
    """What a sales owner sees before holding the escalation: what is open, how late, what is planned."""

    customer: Customer
    on: date
    items: list[Any]
    open_by_currency: list[tuple[str, Any]]
    max_days_past_due: int
    holds: list[Any]
    promises: list[Any]
    recent_actions: list[Any]


def account_status(*, customer: Customer, on: date) -> AccountStatus:
    from decimal import Decimal

    from relance.dunning.models import DunningAction
    from relance.ledger.selectors import customer_open_items

    items = customer_open_items(customer=customer, as_of=on)
    totals: dict[str, Decimal] = {}
    for item in items:
        totals[item.currency] = totals.get(item.currency, Decimal(0)) + item.open_amount
    return AccountStatus(
        customer=customer,
        on=on,
        items=items,
        open_by_currency=sorted(totals.items()),
        max_days_past_due=max((item.days_past_due for item in items), default=0),
        holds=list(hold_list_in_force(customer=customer, on=on)),
        promises=list(promise_list(customer=customer, open_only=True)),
        recent_actions=list(DunningAction.objects.filter(customer=customer).order_by("-on", "-id")[:5]),
    )


def entity_today(*, customer: Customer, now: datetime) -> date:
    """The business day in the entity's time zone (holds and tasks are dated in it)."""
    return now.astimezone(rules.zone_or_none(customer.entity.timezone) or UTC).date()

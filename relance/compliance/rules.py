"""Compliance rules as pure functions: may this message go now, and if not, when?

No Django here: the app gathers the facts (``MessageFacts``) and the entity's settings
(``RuleConfig``); ``assess`` returns one ``RuleResult`` per rule and ``earliest_allowed`` finds the
first instant at which every deferring rule holds at once. Rules are separate from dunning
policies: a policy says what the business wants to send, these say what may be sent at all.

Time rules are evaluated in the recipient's time zone. When it is unknown, the caller passes every
zone of the recipient's country and a window must hold in each of them (our conservative reading
of "local time at the consumer's location"; see docs/communications.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

ALL_DAYS = frozenset(range(7))
WEEKDAYS = frozenset(range(5))
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

#: Channels on which the consumer pack's 08:00–21:00 rule applies (Reg F 1006.6(b)(1): calls, texts, emails).
CONSUMER_HOURS_CHANNELS = frozenset({"call", "sms", "email"})
#: How far ahead ``earliest_allowed`` looks before giving up (a window no instant satisfies).
HORIZON = timedelta(days=400)

OPTED_OUT = "the contact opted out of {channel} messages"
ADDRESS_INVALID = "the contact's {what} is marked invalid"
ON_HOLD = "the customer is on hold: {reason}"
CAP_REACHED = "{count} messages to this {scope} in the last {days} day(s): the cap is {limit}"
OUTSIDE_WINDOW = "{label}: {local} is outside {window}"
HOLIDAY = "{day} is a public holiday in {country} ({name})"
CALLS_7_IN_7 = "{count} calls about this debt in the {days} days ending {on}: at most {limit}"
CONVERSATION_COOLDOWN = "a telephone conversation on {day}: no call for {days} days (day 1 = that day)"
NO_ALLOWED_INSTANT = "no instant in the next {days} days satisfies every rule"


@dataclass(frozen=True)
class LocalWindow:
    """Hours ``[start, end)`` of local time on the given weekdays (0 = Monday)."""

    start: time
    end: time
    weekdays: frozenset[int] = ALL_DAYS

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError(f"a send window must end after it starts ({self.start}–{self.end})")
        if not self.weekdays or not self.weekdays <= ALL_DAYS:
            raise ValueError(f"weekdays must be a non-empty subset of 0..6, not {sorted(self.weekdays)}")

    def describe(self) -> str:
        days = (
            ",".join(DAY_NAMES[d] for d in sorted(self.weekdays))
            if self.weekdays != ALL_DAYS
            else "every day"
        )
        if self.start == time(0) and self.end == time.max:
            return days
        return f"{self.start:%H:%M}–{self.end:%H:%M} {days}"

    def holds(self, local: datetime) -> bool:
        return local.weekday() in self.weekdays and self.start <= local.time().replace(tzinfo=None) < self.end


@dataclass(frozen=True)
class RuleResult:
    """One rule's answer. ``permanent`` blocks never clear by waiting (opt-out, invalid address)."""

    rule: str
    allowed: bool
    reason: str = ""
    next_allowed: datetime | None = None
    permanent: bool = False


@dataclass(frozen=True)
class RuleConfig:
    """The entity's compliance settings as plain values (from ``ComplianceSettings``)."""

    contact_cap: int | None = 3
    contact_cap_days: int = 7
    customer_cap: int | None = 5
    customer_cap_days: int = 7
    quiet_window: LocalWindow | None = field(default_factory=lambda: LocalWindow(time(8), time(20), WEEKDAYS))
    quiet_channels: frozenset[str] = frozenset({"sms", "call"})
    skip_public_holidays: bool = False
    holiday_channels: frozenset[str] = frozenset({"email", "sms", "call"})
    policy_window_channels: frozenset[str] = frozenset({"email", "sms", "call"})
    consumer_rules: bool = False
    consumer_calls_per_7_days: int = 7
    consumer_conversation_days: int = 7
    massachusetts: bool = False


@dataclass(frozen=True)
class MessageFacts:
    """What the rules need to know about one message and its recipient's history.

    Instants are timezone-aware. ``sent_to_contact``/``sent_to_customer`` are earlier messages
    that count for the caps (not this one); ``calls`` and ``conversations`` are about this debt
    and this person (consumer pack).
    """

    channel: str
    zones: tuple[tzinfo, ...]
    zones_label: str = ""
    internal: bool = False
    capped: bool = True
    opted_out: bool = False
    address_invalid: str = ""
    hold_reason: str = ""
    sent_to_contact: tuple[datetime, ...] = ()
    sent_to_customer: tuple[datetime, ...] = ()
    calls: tuple[datetime, ...] = ()
    conversations: tuple[datetime, ...] = ()
    policy_window: LocalWindow | None = None
    policy_weekdays: frozenset[int] | None = None
    policy_holiday_country: str = ""
    holiday_country: str = ""


# --------------------------------------------------------------------------- time zones


def zone_or_none(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@lru_cache(maxsize=512)
def country_zones(country: str) -> tuple[str, ...]:
    """Every IANA zone in use in ``country`` (CLDR territory data via Babel), sorted."""
    from babel.core import get_global

    if country.upper() == "ZZ":  # CLDR's "unknown region": its zones are the Etc/GMT±N ones
        return ()
    names = get_global("territory_zones").get(country.upper(), ())
    available = available_timezones()
    return tuple(sorted(name for name in names if name in available and not name.startswith("Etc/")))


def recipient_zones(
    *, contact_tz: str = "", customer_tz: str = "", country: str = "", entity_tz: str = ""
) -> tuple[tuple[ZoneInfo, ...], str]:
    """The zones a time rule must hold in, and how they were chosen (for explanations).

    The contact's zone, else the customer's; else every zone of the customer's country (the
    recipient is somewhere in it); else the entity's; else UTC.
    """
    for name, source in ((contact_tz, "contact"), (customer_tz, "customer")):
        zone = zone_or_none(name)
        if zone is not None:
            return (zone,), f"{name} ({source})"
    if country:
        names = country_zones(country)
        if len(names) == 1:
            return (ZoneInfo(names[0]),), f"{names[0]} (only zone of {country.upper()})"
        if names:
            return tuple(ZoneInfo(n) for n in names), f"every zone of {country.upper()} ({len(names)})"
    zone = zone_or_none(entity_tz)
    if zone is not None:
        return (zone,), f"{entity_tz} (entity)"
    return (ZoneInfo("UTC"),), "UTC (nothing known)"


# --------------------------------------------------------------------------- windows


def _local_midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _next_in_zone(at: datetime, zone: tzinfo, window: LocalWindow) -> datetime | None:
    """The first instant >= ``at`` inside ``window`` in ``zone`` (``at`` itself if inside)."""
    local = at.astimezone(zone)
    if window.holds(local):
        return at
    for ahead in range(8):
        day = local.date() + timedelta(days=ahead)
        if day.weekday() not in window.weekdays:
            continue
        start = datetime.combine(day, window.start, tzinfo=zone).astimezone(UTC)
        if start >= at:
            return start
    return None


def next_in_window(at: datetime, zones: Sequence[tzinfo], window: LocalWindow) -> datetime | None:
    """The first instant >= ``at`` inside ``window`` in every zone at once, or None if there is none."""
    candidate = at
    for _ in range(64):
        latest = candidate
        for zone in zones:
            found = _next_in_zone(candidate, zone, window)
            if found is None:
                return None
            latest = max(latest, found)
        if latest == candidate:
            return candidate
        if latest - at > HORIZON:
            return None
        candidate = latest
    return None


def window_rule(
    rule: str, at: datetime, *, zones: Sequence[tzinfo], window: LocalWindow, label: str
) -> RuleResult:
    """Allowed when local time is inside ``window`` in every zone."""
    outside = [zone for zone in zones if not window.holds(at.astimezone(zone))]
    if not outside:
        return RuleResult(rule, True)
    local = at.astimezone(outside[0])
    shown = f"{local:%a %Y-%m-%d %H:%M} {getattr(outside[0], 'key', outside[0])}"
    reason = OUTSIDE_WINDOW.format(label=label, local=shown, window=window.describe())
    return RuleResult(rule, False, reason, next_in_window(at, zones, window))


@lru_cache(maxsize=256)
def _holidays(country: str, year: int) -> dict[date, str]:
    import holidays

    try:
        return dict(holidays.country_holidays(country.upper(), years=year).items())
    except NotImplementedError:  # a country the library does not know: no public holidays known
        return {}


def public_holiday(day: date, country: str) -> str:
    """The holiday's name, or '' on an ordinary day."""
    return _holidays(country, day.year).get(day, "") if country else ""


def holiday_rule(
    at: datetime, *, zones: Sequence[tzinfo], country: str, rule: str = "public_holiday"
) -> RuleResult:
    """Not on a day that is a public holiday in ``country`` in any of the zones."""
    candidate = at
    first_reason = ""
    for _ in range(64):
        latest = candidate
        for zone in zones:
            day = candidate.astimezone(zone).date()
            name = public_holiday(day, country)
            if name:
                first_reason = first_reason or HOLIDAY.format(day=day, country=country.upper(), name=name)
                latest = max(latest, _local_midnight(day + timedelta(days=1), zone))
        if latest == candidate:
            break
        candidate = latest
    if candidate == at:
        return RuleResult(rule, True)
    return RuleResult(rule, False, first_reason, candidate)


# --------------------------------------------------------------------------- frequency


def rolling_cap_rule(
    rule: str, at: datetime, *, prior: Iterable[datetime], limit: int, days: int, scope: str
) -> RuleResult:
    """At most ``limit`` messages in any rolling ``days``-day period (instants in ``(at - days, at]``)."""
    window = timedelta(days=days)
    recent = sorted(sent for sent in prior if at - window < sent <= at)
    if len(recent) < limit:
        return RuleResult(rule, True)
    frees_at = recent[len(recent) - limit] + window
    reason = CAP_REACHED.format(count=len(recent), scope=scope, days=days, limit=limit)
    return RuleResult(rule, False, reason, frees_at)


def _days_cap_in_zone(
    at: datetime, zone: tzinfo, prior: Iterable[datetime], limit: int, days: int
) -> tuple[int, date, datetime | None]:
    on = at.astimezone(zone).date()
    first = on - timedelta(days=days - 1)
    in_window = sorted(d for d in (p.astimezone(zone).date() for p in prior) if first <= d <= on)
    if len(in_window) < limit:
        return len(in_window), on, None
    free_day = in_window[len(in_window) - limit] + timedelta(days=days)
    return len(in_window), on, _local_midnight(free_day, zone)


def calls_per_days_rule(
    rule: str, at: datetime, *, zones: Sequence[tzinfo], calls: Iterable[datetime], limit: int, days: int
) -> RuleResult:
    """Reg F 1006.14(b)(2)(i)-style: at most ``limit`` calls within ``days`` consecutive local days.

    Days are counted in the recipient's local calendar, the day of the new call included; with
    several possible zones the call must be allowed in each of them.
    """
    calls = tuple(calls)
    worst: tuple[int, date, datetime] | None = None
    for zone in zones:
        count, on, frees_at = _days_cap_in_zone(at, zone, calls, limit, days)
        if frees_at is not None and (worst is None or frees_at > worst[2]):
            worst = (count, on, frees_at)
    if worst is None:
        return RuleResult(rule, True)
    reason = CALLS_7_IN_7.format(count=worst[0], days=days, on=worst[1], limit=limit)
    return RuleResult(rule, False, reason, worst[2])


def conversation_rule(
    at: datetime, *, zones: Sequence[tzinfo], conversations: Iterable[datetime], days: int = 7
) -> RuleResult:
    """No call within ``days`` consecutive days after a telephone conversation (its date is day 1)."""
    conversations = tuple(conversations)
    latest_block: tuple[date, datetime] | None = None
    for zone in zones:
        on = at.astimezone(zone).date()
        for talked in conversations:
            day = talked.astimezone(zone).date()
            if day <= on < day + timedelta(days=days):
                frees_at = _local_midnight(day + timedelta(days=days), zone)
                if latest_block is None or frees_at > latest_block[1]:
                    latest_block = (day, frees_at)
    if latest_block is None:
        return RuleResult("consumer_conversation", True)
    reason = CONVERSATION_COOLDOWN.format(day=latest_block[0], days=days)
    return RuleResult("consumer_conversation", False, reason, latest_block[1])


# --------------------------------------------------------------------------- all together

CONSUMER_HOURS = LocalWindow(time(8), time(21), ALL_DAYS)


def assess(facts: MessageFacts, config: RuleConfig, at: datetime) -> list[RuleResult]:
    """Every rule that applies to the message, evaluated at ``at`` (allowed ones included)."""
    if facts.internal:
        return [RuleResult("internal", True, "internal notification: contact rules do not apply")]
    channel = facts.channel
    results = [
        RuleResult(
            "opt_out",
            not facts.opted_out,
            OPTED_OUT.format(channel=channel) if facts.opted_out else "",
            permanent=facts.opted_out,
        ),
        RuleResult(
            "address",
            not facts.address_invalid,
            ADDRESS_INVALID.format(what=facts.address_invalid) if facts.address_invalid else "",
            permanent=bool(facts.address_invalid),
        ),
        RuleResult(
            "hold",
            not facts.hold_reason,
            ON_HOLD.format(reason=facts.hold_reason) if facts.hold_reason else "",
            permanent=bool(facts.hold_reason),
        ),
    ]
    if channel == "portal":
        return results
    zones = facts.zones or (ZoneInfo("UTC"),)
    if facts.capped and config.contact_cap is not None:
        results.append(
            rolling_cap_rule(
                "contact_cap",
                at,
                prior=facts.sent_to_contact,
                limit=config.contact_cap,
                days=config.contact_cap_days,
                scope="contact",
            )
        )
    if facts.capped and config.customer_cap is not None:
        results.append(
            rolling_cap_rule(
                "customer_cap",
                at,
                prior=facts.sent_to_customer,
                limit=config.customer_cap,
                days=config.customer_cap_days,
                scope="customer",
            )
        )
    if config.quiet_window is not None and channel in config.quiet_channels:
        results.append(
            window_rule("quiet_hours", at, zones=zones, window=config.quiet_window, label="quiet hours")
        )
    if config.skip_public_holidays and facts.holiday_country and channel in config.holiday_channels:
        results.append(holiday_rule(at, zones=zones, country=facts.holiday_country))
    if facts.policy_window is not None and channel in config.policy_window_channels:
        results.append(
            window_rule(
                "policy_window", at, zones=zones, window=facts.policy_window, label="the policy's send window"
            )
        )
    if facts.policy_weekdays is not None and channel in config.policy_window_channels:
        days = LocalWindow(time(0), time.max, facts.policy_weekdays)
        results.append(
            window_rule(
                "policy_business_days", at, zones=zones, window=days, label="the policy's business days"
            )
        )
    if facts.policy_holiday_country and channel in config.policy_window_channels:
        results.append(
            holiday_rule(at, zones=zones, country=facts.policy_holiday_country, rule="policy_holidays")
        )
    if config.consumer_rules:
        if channel in CONSUMER_HOURS_CHANNELS:
            results.append(
                window_rule(
                    "consumer_hours",
                    at,
                    zones=zones,
                    window=CONSUMER_HOURS,
                    label="consumer rules (08:00–21:00 local)",
                )
            )
        if channel == "call":
            results.append(
                calls_per_days_rule(
                    "consumer_calls",
                    at,
                    zones=zones,
                    calls=facts.calls,
                    limit=config.consumer_calls_per_7_days,
                    days=7,
                )
            )
            results.append(
                conversation_rule(
                    at, zones=zones, conversations=facts.conversations, days=config.consumer_conversation_days
                )
            )
            if config.massachusetts:
                results.append(
                    calls_per_days_rule(
                        "massachusetts_calls", at, zones=zones, calls=facts.calls, limit=2, days=7
                    )
                )
    return results


@dataclass(frozen=True)
class Decision:
    """The outcome: allowed now, blocked for good, or deferred to ``defer_until``."""

    allowed: bool
    results: tuple[RuleResult, ...]
    defer_until: datetime | None = None
    reason: str = ""


def earliest_allowed(
    evaluate: Callable[[datetime], list[RuleResult]], now: datetime, *, horizon: timedelta = HORIZON
) -> datetime | None:
    """The first instant >= ``now`` at which every rule allows, assuming nothing else is sent meanwhile."""
    candidate = now
    for _ in range(200):
        failing = [result for result in evaluate(candidate) if not result.allowed]
        if not failing:
            return candidate
        if any(result.permanent or result.next_allowed is None for result in failing):
            return None
        following = max(result.next_allowed for result in failing if result.next_allowed is not None)
        if following <= candidate or following - now > horizon:
            return None
        candidate = following
    return None


def decide(facts: MessageFacts, config: RuleConfig, now: datetime) -> Decision:
    """Assess at ``now``; when something defers the message, find when every rule holds together."""
    results = tuple(assess(facts, config, now))
    failing = [result for result in results if not result.allowed]
    if not failing:
        return Decision(True, results)
    reason = "; ".join(f"{result.rule}: {result.reason}" for result in failing)
    if any(result.permanent for result in failing):
        return Decision(False, results, None, reason)
    until = earliest_allowed(lambda at: assess(facts, config, at), now)
    if until is None:
        return Decision(False, results, None, f"{reason}; {NO_ALLOWED_INSTANT.format(days=HORIZON.days)}")
    return Decision(False, results, until, reason)

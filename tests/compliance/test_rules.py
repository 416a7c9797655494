"""The pure compliance rules, with the test vectors of commercial-and-kpis.md §5.4."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relance.compliance import rules
from relance.compliance.rules import LocalWindow, MessageFacts, RuleConfig

NEW_YORK = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")
# Only the consumer pack: no caps, no quiet hours, so each vector tests one rule.
CONSUMER = RuleConfig(contact_cap=None, customer_cap=None, quiet_window=None, consumer_rules=True)


def local(day: date, hour: int, minute: int = 0, zone: ZoneInfo = NEW_YORK) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


DAY_1 = date(2026, 3, 2)  # a Monday


def day(n: int) -> date:
    return DAY_1 + timedelta(days=n - 1)


def call_facts(**fields) -> MessageFacts:
    return MessageFacts(channel="call", zones=(NEW_YORK,), **fields)


def failing(facts: MessageFacts, config: RuleConfig, at: datetime) -> dict[str, rules.RuleResult]:
    return {r.rule: r for r in rules.assess(facts, config, at) if not r.allowed}


# --------------------------------------------------------------------------- §5.4 vectors


def test_seven_calls_in_seven_days_then_an_eighth_on_day_7_is_blocked():
    calls = tuple(local(day(n), 10) for n in range(1, 8))
    result = failing(call_facts(calls=calls), CONSUMER, local(day(7), 15))
    assert set(result) == {"consumer_calls"}
    assert "7 calls" in result["consumer_calls"].reason
    assert result["consumer_calls"].next_allowed == local(day(8), 0)


def test_a_call_on_day_8_is_allowed_because_only_six_fall_in_days_2_to_8():
    calls = tuple(local(day(n), 10) for n in range(1, 8))
    assert failing(call_facts(calls=calls), CONSUMER, local(day(8), 10)) == {}


def test_the_blocked_eighth_call_is_deferred_to_day_8_at_08_00_local():
    calls = tuple(local(day(n), 10) for n in range(1, 8))
    decision = rules.decide(call_facts(calls=calls), CONSUMER, local(day(7), 15))
    assert not decision.allowed
    assert decision.defer_until == local(day(8), 8)


def test_a_conversation_on_monday_blocks_calls_through_sunday_and_allows_the_next_monday():
    facts = call_facts(conversations=(local(DAY_1, 11),))
    for offset in range(7):  # Monday (day 1) .. Sunday (day 7)
        result = failing(facts, CONSUMER, local(DAY_1 + timedelta(days=offset), 12))
        assert set(result) == {"consumer_conversation"}, offset
        assert result["consumer_conversation"].next_allowed == local(DAY_1 + timedelta(days=7), 0)
    assert failing(facts, CONSUMER, local(DAY_1 + timedelta(days=7), 12)) == {}


def test_an_email_at_21_05_consumer_local_is_blocked_and_deferred_to_08_00():
    facts = MessageFacts(channel="email", zones=(NEW_YORK,))
    result = failing(facts, CONSUMER, local(DAY_1, 21, 5))
    assert set(result) == {"consumer_hours"}
    assert "21:05" in result["consumer_hours"].reason
    assert rules.decide(facts, CONSUMER, local(DAY_1, 21, 5)).defer_until == local(day(2), 8)
    assert failing(facts, CONSUMER, local(DAY_1, 20, 59)) == {}
    assert set(failing(facts, CONSUMER, local(DAY_1, 7, 59))) == {"consumer_hours"}


def test_an_unknown_time_zone_must_hold_in_every_zone_of_the_country():
    zones, label = rules.recipient_zones(country="US")
    assert label.startswith("every zone of US")
    assert {"America/New_York", "Pacific/Honolulu", "America/Los_Angeles"} <= {z.key for z in zones}
    facts = MessageFacts(channel="sms", zones=zones)
    # 08:30 in New York is 03:30 in Honolulu: blocked.
    at = local(day(2), 8, 30)
    assert set(failing(facts, CONSUMER, at)) == {"consumer_hours"}
    # The first instant that is 08:00–21:00 everywhere is 08:00 in Hawaii/Adak (UTC−10) = 18:00 UTC.
    until = rules.decide(facts, CONSUMER, at).defer_until
    assert until == datetime(2026, 3, 3, 18, 0, tzinfo=UTC)
    assert all(time(8) <= until.astimezone(z).time() < time(21) for z in zones)
    # Known zone: the same instant is fine in New York alone.
    assert failing(MessageFacts(channel="sms", zones=(NEW_YORK,)), CONSUMER, at) == {}


def test_massachusetts_allows_two_calls_per_seven_days():
    config = RuleConfig(
        contact_cap=None, customer_cap=None, quiet_window=None, consumer_rules=True, massachusetts=True
    )
    calls = (local(day(1), 10), local(day(3), 10))
    result = failing(call_facts(calls=calls), config, local(day(5), 10))
    assert set(result) == {"massachusetts_calls"}
    assert result["massachusetts_calls"].next_allowed == local(day(8), 0)
    assert failing(call_facts(calls=calls), config, local(day(8), 10)) == {}


# --------------------------------------------------------------------------- other rules


def test_opt_out_and_invalid_address_block_for_good():
    facts = MessageFacts(channel="email", zones=(PARIS,), opted_out=True, address_invalid="email address")
    decision = rules.decide(facts, RuleConfig(), local(DAY_1, 10, zone=PARIS))
    assert not decision.allowed and decision.defer_until is None
    assert "opted out of email" in decision.reason and "email address is marked invalid" in decision.reason


def test_internal_notifications_skip_contact_rules():
    facts = MessageFacts(channel="email", zones=(PARIS,), internal=True, opted_out=True)
    assert rules.decide(facts, RuleConfig(), local(DAY_1, 3, zone=PARIS)).allowed


def test_portal_notifications_only_check_opt_out_address_and_hold():
    facts = MessageFacts(channel="portal", zones=(PARIS,), sent_to_contact=(local(DAY_1, 1, zone=PARIS),) * 9)
    assert rules.decide(facts, RuleConfig(), local(DAY_1, 3, zone=PARIS)).allowed


def test_contact_cap_defers_until_the_oldest_message_leaves_the_rolling_window():
    config = RuleConfig(contact_cap=2, contact_cap_days=7, customer_cap=None, quiet_window=None)
    sent = (local(day(1), 9, zone=PARIS), local(day(3), 9, zone=PARIS))
    facts = MessageFacts(channel="email", zones=(PARIS,), sent_to_contact=sent)
    decision = rules.decide(facts, config, local(day(4), 9, zone=PARIS))
    assert decision.defer_until == local(day(8), 9, zone=PARIS)
    assert "2 messages to this contact in the last 7 day(s): the cap is 2" in decision.reason
    assert rules.decide(facts, config, local(day(8), 9, zone=PARIS)).allowed
    uncapped = MessageFacts(channel="email", zones=(PARIS,), sent_to_contact=sent, capped=False)
    assert rules.decide(uncapped, config, local(day(4), 9, zone=PARIS)).allowed


def test_quiet_hours_by_default_cover_sms_and_calls_on_weekdays_only():
    friday_evening = local(day(5), 20, 30, zone=PARIS)
    sms = rules.decide(MessageFacts(channel="sms", zones=(PARIS,)), RuleConfig(), friday_evening)
    assert sms.defer_until == local(day(8), 8, zone=PARIS)  # Monday 08:00
    email = rules.decide(MessageFacts(channel="email", zones=(PARIS,)), RuleConfig(), friday_evening)
    assert email.allowed


def test_public_holidays_and_the_policy_window_combine():
    config = RuleConfig(contact_cap=None, customer_cap=None, quiet_window=None, skip_public_holidays=True)
    window = LocalWindow(time(9), time(17), rules.WEEKDAYS)
    facts = MessageFacts(channel="email", zones=(PARIS,), holiday_country="FR", policy_window=window)
    christmas_eve = datetime(2026, 12, 24, 18, tzinfo=PARIS)  # Thursday evening; 25th is a holiday
    decision = rules.decide(facts, config, christmas_eve)
    assert decision.defer_until == datetime(2026, 12, 28, 9, tzinfo=PARIS)  # Fri 25 holiday, weekend
    result = failing(facts, config, datetime(2026, 12, 25, 10, tzinfo=PARIS))
    assert "Christmas" in result["public_holiday"].reason


def test_a_window_no_instant_satisfies_blocks_with_a_reason():
    config = RuleConfig(contact_cap=None, customer_cap=None, quiet_window=None)
    # One hour a day in zones 13–14 hours apart never overlaps.
    facts = MessageFacts(
        channel="email",
        zones=(ZoneInfo("Asia/Tokyo"), ZoneInfo("America/New_York")),
        policy_window=LocalWindow(time(9), time(10)),
    )
    decision = rules.decide(facts, config, datetime(2026, 3, 2, tzinfo=UTC))
    assert not decision.allowed and decision.defer_until is None
    assert "no instant" in decision.reason


def test_local_window_validation():
    with pytest.raises(ValueError, match="a send window must end after it starts"):
        LocalWindow(time(21), time(8))
    with pytest.raises(ValueError, match=r"weekdays must be a non-empty subset of 0..6, not \[7\]"):
        LocalWindow(time(8), time(21), frozenset({7}))


# --------------------------------------------------------------------------- invariants

ZONE_NAMES = [
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "Pacific/Honolulu",
    "Asia/Tokyo",
    "Australia/Sydney",
    "America/Los_Angeles",
    "Asia/Kolkata",
]


@settings(max_examples=150)
@given(
    now=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)),
    names=st.lists(st.sampled_from(ZONE_NAMES), min_size=1, max_size=3, unique=True),
    start_hour=st.integers(0, 12),
    length=st.integers(4, 12),
    weekdays=st.frozensets(st.integers(0, 6), min_size=1),
)
def test_next_in_window_is_inside_the_window_everywhere_and_the_first_such_minute(
    now, names, start_hour, length, weekdays
):
    zones = [ZoneInfo(n) for n in names]
    window = LocalWindow(time(start_hour), time(min(start_hour + length, 23)), weekdays)
    found = rules.next_in_window(now, zones, window)
    if found is None:
        return
    assert found >= now
    assert all(window.holds(found.astimezone(z)) for z in zones)
    if found > now:
        before = max(now, found - timedelta(minutes=1))
        assert not all(window.holds(before.astimezone(z)) for z in zones)


@settings(max_examples=100)
@given(
    offsets=st.lists(st.integers(0, 20 * 24), max_size=15),
    at_hours=st.integers(0, 20 * 24),
    limit=st.integers(1, 5),
)
def test_a_deferred_capped_message_is_allowed_exactly_when_the_cap_frees(offsets, at_hours, limit):
    base = datetime(2026, 3, 1, tzinfo=UTC)
    at = base + timedelta(hours=at_hours)
    prior = tuple(base + timedelta(hours=h) for h in offsets if base + timedelta(hours=h) <= at)
    config = RuleConfig(contact_cap=limit, contact_cap_days=7, customer_cap=None, quiet_window=None)
    facts = MessageFacts(channel="email", zones=(ZoneInfo("UTC"),), sent_to_contact=prior)
    decision = rules.decide(facts, config, at)
    recent = [p for p in prior if at - timedelta(days=7) < p]
    assert decision.allowed == (len(recent) < limit)
    if not decision.allowed:
        assert decision.defer_until is not None and decision.defer_until > at
        assert rules.decide(facts, config, decision.defer_until).allowed
        assert not rules.decide(facts, config, decision.defer_until - timedelta(seconds=1)).allowed


def test_recipient_zones_fall_back_from_contact_to_customer_to_country_to_entity():
    assert (
        rules.recipient_zones(contact_tz="Asia/Tokyo", customer_tz="Europe/Paris")[1]
        == "Asia/Tokyo (contact)"
    )
    assert rules.recipient_zones(contact_tz="Mars/Olympus", customer_tz="Europe/Paris")[1] == (
        "Europe/Paris (customer)"
    )
    assert rules.recipient_zones(country="FR", entity_tz="Asia/Tokyo")[1] == "Europe/Paris (only zone of FR)"
    assert "Europe/Berlin" in rules.country_zones("DE")
    assert rules.recipient_zones(country="ZZ", entity_tz="Asia/Tokyo")[1] == "Asia/Tokyo (entity)"
    assert rules.recipient_zones()[1] == "UTC (nothing known)"

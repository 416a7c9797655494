"""The rules of ``decide`` (``relance.engine.dunning.rules``, one module per family) each alone,
on small frames (the scenarios test them together)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd

from relance.engine.dunning.defaults import default_policies
from relance.engine.dunning.policy import BusinessDays, CadenceRules, Policy, Step
from relance.engine.dunning.rules import (
    amounts,
    cadence,
    calendar,
    channels,
    common,
    grouping,
    holds,
)
from relance.engine.dunning.rules import promises as promise_rules


def _suppressed(out):
    return [(row["customer_id"], row["reason"], row["detail"]) for row in out.table().to_pylist()]


def test_broken_promise_resends_once_unless_contacted_after_its_end():
    promises = pd.DataFrame(
        {"customer_id": [1, 2, 3], "end_day": [100, 100, 100], "state": ["broken", "broken", "active"]}
    )
    history = pd.DataFrame({"last_contact": [101.0]}, index=pd.Index([2], name="customer_id"))
    assert promise_rules._broken_promise_resends(promises, history) == [1]


def test_an_active_promise_pauses_its_customer_only():
    candidates = pd.DataFrame({"customer_id": [1, 1, 2], "invoice_id": [10, 11, 20]})
    promises = pd.DataFrame(
        {
            "customer_id": [1, 2],
            "end_day": [common._epoch_day(date(2026, 4, 23)), 0],
            "state": ["active", "kept"],
        }
    )
    out = common._Suppressed()
    keep = promise_rules._pause_for_promises(candidates, promises, np.ones(3, dtype=bool), out)
    assert keep.tolist() == [False, False, True]
    assert _suppressed(out) == [(1, "promise_active", "paused until 2026-04-23 (promised date plus grace)")]


def test_small_balance_is_per_customer_and_currency():
    policies = default_policies()  # standard: below 10 is not chased
    candidates = pd.DataFrame(
        {
            "customer_id": [1, 1, 2],
            "currency": ["EUR", "USD", "EUR"],
            "policy_key": ["standard"] * 3,
            "customer_chaseable_units": [
                common._units(Decimal("9.99")),
                common._units(Decimal("10")),
                0,
            ],
        }
    )
    out = common._Suppressed()
    keep = amounts._skip_small_balances(candidates, policies, np.ones(3, dtype=bool), out)
    assert candidates[keep].currency.tolist() == ["USD"]
    assert [(c, r) for c, r, _ in _suppressed(out)] == [(1, "small_balance"), (2, "small_balance")]


def test_an_active_plan_stops_its_customers_dunning():
    candidates = pd.DataFrame({"customer_id": [1, 2, 2], "invoice_id": [10, 20, 21]})
    plans = pd.DataFrame({"plan_id": [7], "customer_id": [2], "currency": ["EUR"]})
    out = common._Suppressed()
    keep = holds._stop_on_plan(candidates, plans, np.ones(3, dtype=bool), out)
    assert keep.tolist() == [True, False, False]
    assert [(c, r) for c, r, _ in _suppressed(out)] == [(2, "payment_plan")]


def test_an_invoice_disputed_in_full_is_not_chased():
    candidates = pd.DataFrame({"customer_id": [1, 1], "invoice_id": [10, 11], "chaseable_units": [0, 5]})
    out = common._Suppressed()
    keep = amounts._skip_disputed(candidates, np.ones(2, dtype=bool), out)
    assert keep.tolist() == [False, True]
    assert [row["invoice_id"] for row in out.table().to_pylist()] == [10]


def _decisions(**columns):
    return pd.DataFrame({"group_no": range(len(next(iter(columns.values())))), **columns})


def test_the_first_reachable_channel_of_the_step_is_chosen_else_no_channel():
    email, letter = 1 << 0, 1 << 2  # CHANNELS: email, sms, letter, …
    decisions = _decisions(
        channel_mask=[email | letter, letter, 0], channels=[("email", "letter")] * 3, customer_id=[1, 2, 3]
    )
    candidates = pd.DataFrame({"customer_id": [1, 2, 3], "invoice_id": [10, 20, 30], "group_no": [0, 1, 2]})
    out = common._Suppressed()
    contact = np.ones(3, dtype=bool)
    blocked = channels._choose_channels(decisions, candidates, contact, np.zeros(3, dtype=bool), out)
    assert decisions.channel.tolist()[:2] == ["email", "letter"] and pd.isna(decisions.channel[2])
    assert decisions.fallback.tolist() == [False, True, False]
    assert blocked.tolist() == [False, False, True]
    assert _suppressed(out) == [(3, "no_channel", "none of email, letter available")]


def _cadence(**overrides):
    values = {
        "last": np.array([np.nan]),
        "last_overdue": np.array([np.nan]),
        "min_days": np.array([7]),
        "phase_gap": np.array([7]),
        "max_contacts": np.array([-1]),
        "made": np.array([0]),
    }
    values.update({key: np.array(value) for key, value in overrides.items()})
    return cadence._Cadence(**values)


def test_cadence_holds_a_contact_too_soon_after_the_last_one():
    as_of = date(2026, 4, 10)
    decisions = _decisions(kind=["overdue"], max_days_past_due=[20], customer_id=[1])
    candidates = pd.DataFrame({"customer_id": [1], "invoice_id": [10], "group_no": [0]})
    for last, held in (
        (common._epoch_day(date(2026, 4, 5)), True),
        (common._epoch_day(date(2026, 4, 3)), False),
    ):
        out = common._Suppressed()
        blocked = cadence._hold_for_cadence(
            decisions,
            candidates,
            _cadence(last=[last]),
            as_of,
            np.ones(1, dtype=bool),
            np.zeros(1, dtype=bool),
            out,
        )
        assert blocked.tolist() == [held]
        assert [r for _, r, _ in _suppressed(out)] == (["cadence"] if held else [])


def test_the_contact_cap_keeps_overdue_messages_before_upcoming_ones():
    policies = {
        "p": Policy(key="p", name="p", steps=(), cadence=CadenceRules(max_contacts=3, window_days=30))
    }
    decisions = _decisions(kind=["upcoming", "overdue"], customer_id=[1, 1], policy_key=["p", "p"])
    candidates = pd.DataFrame({"customer_id": [1, 1], "invoice_id": [10, 11], "group_no": [0, 1]})
    out = common._Suppressed()
    capped = _cadence(
        last=[np.nan] * 2,
        last_overdue=[np.nan] * 2,
        min_days=[0, 0],
        phase_gap=[0, 0],
        max_contacts=[3, 3],
        made=[2, 2],
    )
    blocked = cadence._cap_contacts(
        decisions, candidates, policies, capped, np.ones(2, dtype=bool), np.zeros(2, dtype=bool), out
    )
    assert blocked.tolist() == [True, False]
    assert _suppressed(out) == [(1, "contact_cap", "2 contacts in the last 30 days (cap 3)")]


def test_grouping_makes_one_decision_per_customer_currency_and_kind_at_the_most_advanced_step():
    policies = default_policies()
    standard = policies["standard"]
    candidates = pd.DataFrame(
        {
            "customer_id": [1, 1, 1],
            "invoice_id": [10, 11, 12],
            "currency": ["EUR"] * 3,
            "entity_id": [1] * 3,
            "policy_key": ["standard"] * 3,
            "step_index": [standard.step_index("reminder_1"), standard.step_index("reminder_2"), 0],
            "due_count": [1, 1, 1],
            "chaseable_units": [100, 200, 300],
            "disputed_units": [0, 0, 0],
            "days_past_due": [3, 16, -5],
            "broken_promise": [False] * 3,
            "channel_mask": [1] * 3,
            "timezone": [None] * 3,
            "country": [None] * 3,
        }
    )
    decisions, grouped = grouping._group(candidates, policies)
    by_kind = {row.kind: row for row in decisions.itertuples()}
    assert set(by_kind) == {"overdue", "upcoming"}
    assert (by_kind["overdue"].step_key, by_kind["overdue"].amount_units) == ("reminder_2", 300)
    assert sorted(grouped.groupby("group_no").size().tolist()) == [1, 2]


def test_a_weekend_or_a_holiday_where_the_customer_is_is_not_a_business_day():
    policy = Policy(
        key="p",
        name="p",
        steps=(Step(key="s", offset_days=1, action="message", channels=("email",)),),
        business_days=BusinessDays(),
    )
    saturday = datetime(2026, 3, 7, 6, 0, tzinfo=UTC)
    assert "not a business day (weekend)" in str(
        calendar.non_business_reason(saturday, "Europe/Paris", "FR", policy)
    )
    christmas = datetime(2026, 12, 25, 6, 0, tzinfo=UTC)
    assert "public holiday in FR" in str(
        calendar.non_business_reason(christmas, "Europe/Paris", "FR", policy)
    )
    monday = datetime(2026, 3, 9, 6, 0, tzinfo=UTC)
    assert calendar.non_business_reason(monday, "Europe/Paris", "FR", policy) is None

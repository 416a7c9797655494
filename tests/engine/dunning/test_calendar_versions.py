"""Voids dated by ``voided_on``, broken promises written back, steps mapped by key across policy edits.

Same harness as ``test_scenarios.py`` (every backend; the app's recording of each run by ``Life``).
"""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from relance.core.errors import ValidationFailed
from relance.engine.dunning import Policy, policy_from_dict, policy_to_dict
from relance.engine.dunning.defaults import default_policies
from relance.engine.dunning.policy import SendWindow
from tests.engine.dunning.harness import Life, describe, suppressed
from tests.engine.dunning.rows import DunningRows

DUE = date(2026, 3, 2)  # a Monday


def day(offset: int) -> date:
    return DUE + timedelta(days=offset)


def test_an_invoice_voided_later_is_chased_before_its_void_date_not_after(make_life):
    rows = DunningRows()
    customer = rows.dunned_customer("C1")
    invoice = rows.invoice(1000, day(-30), DUE, customer=customer)
    rows.invoices[invoice - 1].update(status="void", voided_on=day(10))
    life = make_life(rows)
    assert describe(life.run(day(1))) == ["reminder_1 by email [1]"]  # history: it was open then
    assert describe(make_life(rows).run(day(20))) == []  # as of today it is void: nothing
    assert make_life(rows).run(day(20)).worklist.num_rows == 0


def test_an_invoice_void_from_the_start_is_never_chased(make_life):
    rows = DunningRows()
    customer = rows.dunned_customer("C1")
    rows.invoice(1000, day(-30), DUE, customer=customer, status="void")
    assert describe(make_life(rows).run(day(1))) == []


def test_a_promise_written_back_as_broken_is_read_as_broken(make_life):
    rows = DunningRows()
    customer = rows.dunned_customer("C1", policy="high_risk")
    invoice = rows.invoice(1000, day(-30), DUE, customer=customer)
    rows.contacted(customer, day(1), "reminder_1")
    rows.reached(invoice, "reminder_1", 2, day(1))
    promise = rows.promise(customer, day(4), made=day(2), invoices=(invoice,))  # grace 1: ends +5
    rows.promises[promise - 1]["status"] = "broken"  # what the app writes once it is broken
    life = make_life(rows)
    result = life.run(day(6))
    assert describe(result) == ["reminder_1 by email [1] (broken promise)"]
    assert result.worklist.column("broken_promises").to_pylist() == [1]
    assert describe(life.run(day(11))) == ["collector_call by call [1]"]  # resent once, not flagged again


def _without_pre_due() -> Policy:
    spec = policy_to_dict(default_policies()["standard"])
    spec["steps"] = [step for step in spec["steps"] if step["key"] != "pre_due"]
    return policy_from_dict(spec)


def test_an_edited_policy_keeps_invoices_at_the_step_key_they_reached(make_life):
    rows = DunningRows()
    customer = rows.dunned_customer("C1")
    rows.invoice(1000, day(-30), DUE, customer=customer)
    life = make_life(rows)
    first = life.run(day(1))
    assert [(r["step_key"], r["step_index"]) for r in first.invoice_steps.to_pylist()] == [("reminder_1", 1)]
    # The policy loses its first step: reminder_1 is now index 0 and reminder_2 index 1. Read by
    # index, the recorded 1 would say reminder_2 was reached and reminder_2 would never go out.
    life.policies["standard"] = _without_pre_due()
    assert describe(life.run(day(10))) == []
    later = life.run(day(16))
    assert describe(later) == ["reminder_2 by email [1]"]
    assert [(r["step_key"], r["step_index"]) for r in later.invoice_steps.to_pylist()] == [("reminder_2", 1)]


def test_a_reached_key_the_policy_no_longer_has_is_ignored(make_life):
    rows = DunningRows()
    customer = rows.dunned_customer("C1")
    invoice = rows.invoice(1000, day(-30), DUE, customer=customer)
    rows.contacted(customer, day(-5), "pre_due")
    rows.reached(invoice, "pre_due", 0, day(-5))
    rows.contacted(customer, day(1), "reminder_1")
    rows.reached(invoice, "reminder_1", 1, day(1))
    spec = policy_to_dict(default_policies()["standard"])
    spec["steps"] = [step for step in spec["steps"] if step["key"] != "reminder_1"]
    life = make_life(rows, {"standard": policy_from_dict(spec)})
    assert describe(life.run(day(3))) == []  # at pre_due (index 0): nothing new is due before +15
    assert describe(life.run(day(16))) == ["reminder_2 by email [1]"]


# --------------------------------------------------------------------------- business days

CALENDAR = {
    "send_window": {"start": "08:00", "end": "18:00", "weekdays": ["mon", "tue", "wed", "thu", "fri"]},
    "business_days": {"weekdays": ["mon", "tue", "wed", "thu", "fri"], "holidays": "customer"},
}


def with_calendar(policy: Policy, **overrides) -> Policy:
    return policy_from_dict({**policy_to_dict(policy), **CALENDAR, **overrides})


def calendar_life(make_life, rows: DunningRows, policies: dict[str, Policy] | None = None) -> Life:
    """The standard policy with business days and a send window; runs at 06:00 Paris time."""
    policies = policies or {"standard": with_calendar(default_policies()["standard"])}
    return make_life(rows, policies, run_zone="Europe/Paris")


def located(rows: DunningRows, ref: str, zone: str, country: str) -> int:
    customer = rows.dunned_customer(ref)
    rows.customer_calendar.append({"customer_id": customer, "timezone": zone, "country": country})
    return customer


def day_of(text: str) -> date:
    return date.fromisoformat(text)


def test_a_weekend_defers_contacts_to_the_next_business_day(make_life):
    rows = DunningRows()
    customer = located(rows, "FR1", "Europe/Paris", "FR")
    rows.invoice(1000, day_of("2026-02-06"), day_of("2026-03-06"), customer=customer)  # due Friday
    life = calendar_life(make_life, rows)
    decided = life.days(day_of("2026-02-28"), day_of("2026-03-10"))
    assert decided == {
        day_of("2026-03-02"): ["pre_due by email [1]"],  # due Sunday 1 March: sent Monday
        day_of("2026-03-09"): ["reminder_1 by email [1]"],  # due Saturday 7 March: sent Monday
    }
    saturday = calendar_life(make_life, rows).run(day_of("2026-03-07"), record=False)
    assert suppressed(saturday) == {(1, "non_business_day")}
    [row] = saturday.suppressed.to_pylist()
    assert row["detail"] == "sat 2026-03-07 in Europe/Paris: no send window that day"


def test_a_public_holiday_of_the_customers_country_defers_contacts(make_life):
    rows = DunningRows()
    customer = located(rows, "US1", "America/Los_Angeles", "US")
    rows.invoice(1000, day_of("2026-10-26"), day_of("2026-11-25"), customer=customer)  # +1: Thanksgiving
    life = calendar_life(make_life, rows)
    thanksgiving = life.run(day_of("2026-11-26"))
    assert describe(thanksgiving) == []
    [row] = thanksgiving.suppressed.to_pylist()
    assert row["reason"] == "non_business_day"
    assert row["detail"] == "thu 2026-11-26 in America/Los_Angeles: public holiday in US (Thanksgiving Day)"
    assert describe(life.run(day_of("2026-11-27"))) == ["reminder_1 by email [1]"]


def test_the_same_run_date_is_friday_in_los_angeles_and_saturday_in_auckland(make_life):
    # Friday 6 March 2026, 06:00 in Paris: Thursday 21:00 in Los Angeles (its window has closed:
    # delivery on Friday, a business day) and Friday 18:00 in Auckland (its window has just
    # closed: delivery on Saturday, not a business day).
    rows = DunningRows()
    los_angeles = located(rows, "LA", "America/Los_Angeles", "US")
    auckland = located(rows, "AKL", "Pacific/Auckland", "NZ")
    rows.invoice(1000, day_of("2026-02-05"), day_of("2026-03-05"), customer=los_angeles)
    rows.invoice(1000, day_of("2026-02-05"), day_of("2026-03-05"), customer=auckland)
    life = calendar_life(make_life, rows)
    friday = life.run(day_of("2026-03-06"))
    assert describe(friday) == ["reminder_1 by email [1]"]
    assert friday.decisions.column("customer_id").to_pylist() == [los_angeles]
    [held] = friday.suppressed.to_pylist()
    assert (held["customer_id"], held["reason"]) == (auckland, "non_business_day")
    assert held["detail"].startswith("sat 2026-03-07 in Pacific/Auckland")
    assert describe(life.run(day_of("2026-03-07"))) == []  # Saturday in Paris: nobody
    monday = life.run(day_of("2026-03-09"))  # Monday 18:00 in Auckland: delivery on Tuesday
    assert describe(monday) == ["reminder_1 by email [2]"]


def test_the_next_business_days_run_catches_up_with_the_most_advanced_step(make_life):
    spec = {
        "key": "tight",
        "name": "Two steps a day apart",
        "steps": [
            {"key": "first", "offset_days": 1, "action": "message", "channels": ["email"]},
            {"key": "second", "offset_days": 2, "action": "message", "channels": ["email"]},
        ],
        **CALENDAR,
    }
    rows = DunningRows()
    customer = located(rows, "FR1", "Europe/Paris", "FR")
    rows.customer_policy[0]["policy_key"] = "tight"
    rows.invoice(1000, day_of("2026-02-06"), day_of("2026-03-06"), customer=customer)  # due Friday
    life = calendar_life(make_life, rows, {"tight": policy_from_dict(spec)})
    decided = life.days(day_of("2026-03-06"), day_of("2026-03-10"))
    assert decided == {day_of("2026-03-09"): ["second by email [1] (catch-up)"]}


def test_internal_steps_are_not_deferred_and_policies_without_a_calendar_ignore_it(make_life):
    rows = DunningRows()
    customer = located(rows, "FR1", "Europe/Paris", "FR")
    rows.invoice(1000, day_of("2026-01-10"), day_of("2026-01-10"), customer=customer)
    rows.reached(1, "reminder_4", 4, day_of("2026-02-24"))
    saturday = day_of("2026-03-07")  # +56: notify_owner (internal) is due
    assert describe(calendar_life(make_life, rows).run(saturday)) == ["notify_owner [1]"]
    assert describe(make_life(rows, run_zone="Europe/Paris").run(day_of("2026-03-07"))) == [
        "notify_owner [1]"
    ]


def test_send_window_and_business_days_are_validated_with_clear_errors():
    spec = policy_to_dict(default_policies()["standard"])
    spec["send_window"] = {"start": 480, "end": "7:00", "weekdays": ["mon", "someday"]}
    spec["business_days"] = {"weekdays": [], "holidays": "Mars"}
    with pytest.raises(ValidationFailed) as failure:
        policy_from_dict(spec)
    message = failure.value.message
    assert 'send_window.start: expected a time "HH:MM" (quote it in YAML' in message
    assert (
        "send_window.weekdays[1]: expected one of mon, tue, wed, thu, fri, sat, sun, found 'someday'"
        in message
    )
    assert "business_days.weekdays: expected a non-empty list of weekdays" in message
    assert (
        "business_days.holidays: expected customer, none or a two-letter country code, found 'Mars'"
        in message
    )
    spec["send_window"] = {"start": "18:00", "end": "08:00"}
    spec["business_days"] = {"holidays": "NZ"}
    with pytest.raises(ValidationFailed, match=r"send_window.end: expected a time after start \(18:00\)"):
        policy_from_dict(spec)
    spec["send_window"] = {"start": "08:00", "end": "18:00"}  # weekdays default to mon..fri
    policy = policy_from_dict(spec)
    assert policy.send_window == SendWindow(time(8), time(18), (0, 1, 2, 3, 4))
    assert policy_from_dict(policy_to_dict(policy)) == policy


# --------------------------------------------------------------------------- custom fields


def test_a_step_condition_on_a_custom_field(make_life):
    spec = policy_to_dict(default_policies()["standard"])
    spec["steps"] = spec["steps"][1:2]  # reminder_1 only…
    spec["steps"][0]["conditions"] = [{"field": "custom.industry", "op": "in", "value": ["retail", "food"]}]
    policies = {"standard": policy_from_dict(spec)}  # …for retail and food customers
    rows = DunningRows()
    retail = rows.dunned_customer("RETAIL")
    energy = rows.dunned_customer("ENERGY")
    bare = rows.dunned_customer("BARE")  # no attribute at all: ""
    for customer in (retail, energy, bare):
        rows.invoice(1000, day(-30), DUE, customer=customer)
    rows.customer_attributes += [
        {"customer_id": retail, "name": "industry", "value": "retail"},
        {"customer_id": energy, "name": "industry", "value": "energy"},
        {"customer_id": energy, "name": "size", "value": "retail"},  # another field: ignored
    ]
    result = make_life(rows, policies).run(day(1))
    assert result.decisions.column("customer_id").to_pylist() == [retail]
    assert describe(result) == ["reminder_1 by email [1]"]


def test_custom_field_conditions_are_validated():
    spec = policy_to_dict(default_policies()["standard"])
    spec["steps"][1]["conditions"] = [
        {"field": "custom.Bad Name", "op": "eq", "value": "x"},
        {"field": "custom.industry", "op": "ge", "value": "x"},
        {"field": "colour", "op": "eq", "value": "x"},
    ]
    with pytest.raises(ValidationFailed) as failure:
        policy_from_dict(spec)
    message = failure.value.message
    assert "steps[1].conditions[0].field: expected custom.NAME with NAME of lower-case letters" in message
    assert "steps[1].conditions[1].op: expected eq, ne, in or not_in for a text field, found 'ge'" in message
    assert "steps[1].conditions[2].field: expected one of amount_due" in message and "custom.NAME" in message

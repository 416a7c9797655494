""" "Which step comes next and when" has one home (``policy.next_step`` and the cases it is built
on): the engine's SQL evaluates the same cases, so a run takes exactly the step ``next_step``
says is due today, and the workspace shows it."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from relance.engine.dunning.defaults import default_policies
from relance.engine.dunning.policy import (
    Condition,
    Policy,
    Step,
    next_step,
    reached_index,
)
from tests.engine.dunning.harness import Life
from tests.engine.dunning.rows import DunningRows

STANDARD = default_policies()["standard"]  # pre_due -5, reminder_1 1, reminder_2 15, reminder_3 30, …
AS_OF = date(2026, 6, 1)


def _step(key: str, offset: int, *conditions: Condition) -> Step:
    return Step(key=key, offset_days=offset, action="message", channels=("email",), conditions=conditions)


def test_the_reached_step_is_matched_by_key_in_the_current_policy():
    assert reached_index(STANDARD, []) == -1
    assert reached_index(STANDARD, ["pre_due", "reminder_2"]) == STANDARD.step_index("reminder_2")
    # a key the policy does not have (another policy's, or a removed step) is ignored
    assert reached_index(STANDARD, ["reminder_1", "gone"]) == STANDARD.step_index("reminder_1")


def test_the_most_advanced_due_step_is_taken_today_else_the_first_later_one_on_its_offset():
    ahead = next_step(STANDARD, reached=-1, days_past_due=20)  # pre_due, reminder_1, reminder_2 due
    assert ahead is not None and (ahead.step.key, ahead.in_days) == ("reminder_2", 0)
    ahead = next_step(STANDARD, reached=STANDARD.step_index("reminder_2"), days_past_due=20)
    assert ahead is not None and (ahead.step.key, ahead.in_days) == ("reminder_3", 10)
    ahead = next_step(STANDARD, reached=-1, days_past_due=-30)
    assert ahead is not None and (ahead.step.key, ahead.in_days) == ("pre_due", 25)
    assert next_step(STANDARD, reached=len(STANDARD.steps) - 1, days_past_due=400) is None


def test_a_step_whose_conditions_do_not_hold_is_skipped():
    large = Condition(field="amount_due", operator="ge", value=Decimal(10000))
    policy = Policy(key="p", name="p", steps=(_step("a", 1), _step("call", 5, large), _step("b", 10)))
    small = next_step(policy, reached=0, days_past_due=2, conditions_hold=lambda step: not step.conditions)
    assert small is not None and (small.step.key, small.in_days) == ("b", 8)
    unknown = next_step(policy, reached=0, days_past_due=2)  # conditions not known: taken to hold
    assert unknown is not None and unknown.step.key == "call"


def test_a_run_takes_the_step_next_step_says_is_due_today():
    rows = DunningRows()
    invoices: dict[int, tuple[date, list[str]]] = {}
    # one invoice per customer (no grouping, no cadence between them), at every lateness and stage
    for number, (dpd, reached) in enumerate(
        [
            (-10, []),
            (-5, []),
            (0, ["pre_due"]),
            (3, []),
            (20, []),
            (20, ["reminder_2"]),
            (33, ["reminder_1"]),
            (58, ["reminder_4"]),
            (61, ["other_policy_step", "reminder_4"]),
            (90, ["collector_call"]),
        ]
    ):
        customer = rows.dunned_customer(f"C{number}")
        due = AS_OF - timedelta(days=dpd)
        invoice = rows.invoice(1000, due - timedelta(days=30), due, customer=customer)
        for key in reached:
            rows.reached(invoice, key, 0, due)
        invoices[invoice] = (due, reached)
    result = Life(rows).run(AS_OF, record=False)
    taken = {row["invoice_id"]: row["step_key"] for row in result.invoice_steps.to_pylist()}
    expected = {}
    for invoice, (due, reached) in invoices.items():
        ahead = next_step(
            STANDARD, reached=reached_index(STANDARD, reached), days_past_due=(AS_OF - due).days
        )
        if ahead is not None and ahead.in_days == 0:
            expected[invoice] = ahead.step.key
    assert taken == expected and len(expected) >= 6

"""Scenarios as readable tables: a customer, its invoices and history, a date → the decision.

Each scenario drives ``decide`` like the daily run does (``Life`` records every decision, as the
app would), on every backend of the ``backend`` fixture (``make_life``, tests/engine/dunning/conftest.py).
Days are written relative to the invoice's due date DUE (Monday 2 March 2026).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from relance.engine.dunning.defaults import default_policies
from tests.engine.dunning.harness import describe, reasons, suppressed, table
from tests.engine.dunning.rows import DunningRows

DUE = date(2026, 3, 2)


def day(offset: int | str) -> date:
    return DUE + timedelta(days=int(offset))


def one_invoice(
    amount: int = 1000, *, policy: str | None = "standard", **customer
) -> tuple[DunningRows, int, int]:
    rows = DunningRows()
    customer_id = rows.dunned_customer("C1", policy=policy, **customer)
    invoice = rows.invoice(amount, day(-30), DUE, customer=customer_id)
    return rows, customer_id, invoice


STANDARD_LIFE = """
day  | decision
-5   | pre_due by email [1]
+1   | reminder_1 by email [1]
+16  | reminder_2 by email [1]      # +15 would be 14 days after +1: the 15-day rule moves it
+31  | reminder_3 by email [1]      # and each following one, one day later than its offset
+46  | reminder_4 by email [1]
+55  | notify_owner [1]             # internal: not a contact, no channel, no cadence
+61  | final_notice by letter [1]   # 15 days after +46 (still within the first 60 days)
+75  | collector_call by call [1]  # after 60 days past due only the 3-day minimum applies
"""


def test_standard_policy_day_by_day_through_an_invoice_life(make_life):
    rows, _, _ = one_invoice()
    life = make_life(rows)
    expected = {day(offset): [decision] for offset, decision in table(STANDARD_LIFE)}
    decided = life.days(day(-12), day(80), expect=expected)
    assert decided == expected


def test_a_second_run_of_the_same_day_adds_nothing(make_life):
    rows, _, _ = one_invoice()
    life = make_life(rows)
    assert describe(life.run(day(1))) == ["reminder_1 by email [1]"]
    again = life.run(day(1))
    assert again.decisions.num_rows == 0
    assert again.invoice_steps.num_rows == 0


def test_catch_up_after_an_outage_sends_only_the_most_advanced_step_due(make_life):
    rows, _, _ = one_invoice()
    life = make_life(rows)
    life.run(day(1))  # reminder_1, then three weeks of downtime… then a long one
    result = life.run(day(47))
    assert describe(result) == ["reminder_4 by email [1] (catch-up)"]
    assert "catch_up" in reasons(result)[0]
    assert [(row["step_key"], row["step_index"]) for row in result.invoice_steps.to_pylist()] == [
        ("reminder_4", 4)
    ]
    assert life.run(day(48)).decisions.num_rows == 0  # nothing missed is sent afterwards


def test_the_15_day_rule_holds_back_an_earlier_due_step_and_says_why(make_life):
    rows, customer, _ = one_invoice()
    rows.contacted(customer, day(10), "reminder_1")  # a collector's e-mail on day +10
    rows.reached(1, "reminder_1", 1, day(10))
    life = make_life(rows)
    held = life.run(day(15))
    assert held.decisions.num_rows == 0
    (row,) = held.suppressed.to_pylist()
    assert (row["invoice_id"], row["reason"]) == (1, "cadence")
    assert "at most one every 15 days" in row["detail"] and str(day(25)) in row["detail"]
    assert describe(life.run(day(25))) == ["reminder_2 by email [1]"]


PAYMENTS = """
case                          | paid      | on  | run | decision
paid the morning of the run   | 1000      | +1  | +1  | -
paid the day before           | 1000      | 0   | +1  | -
partial payment               | 400       | -2  | +1  | reminder_1 by email [1] 600.0000
paid the day after            | 1000      | +2  | +1  | reminder_1 by email [1] 1000.0000
"""


@pytest.mark.parametrize("case, paid, on, run, expected", table(PAYMENTS))
def test_payments(make_life, case, paid, on, run, expected):
    rows, customer, invoice = one_invoice()
    rows.pay(invoice, paid, day(on), customer=customer)
    result = make_life(rows).run(day(run))
    got = [
        f"{line} {row['amount_due']}"
        for line, row in zip(describe(result), result.decisions.to_pylist(), strict=True)
    ]
    assert got == ([] if expected == "-" else [expected]), case


def test_promise_kept_pauses_then_nothing_is_due(make_life):
    rows, customer, invoice = one_invoice()
    rows.promise(customer, day(20), made=day(3), invoices=(invoice,))
    life = make_life(rows)
    life.run(day(1))
    paused = life.run(day(16))  # reminder_2 would be due
    assert paused.decisions.num_rows == 0
    assert suppressed(paused) == {(None, "promise_active")}
    assert "paused until 2026-03-25" in paused.suppressed.to_pylist()[0]["detail"]  # date + 3 days grace
    life.insert(
        "payments",
        [
            {
                "payment_id": 1,
                "entity_id": 1,
                "customer_id": customer,
                "currency": "EUR",
                "date": day(13),
                "amount": 1000,
            }
        ],
    )
    life.insert(
        "allocations",
        [
            {
                "invoice_id": invoice,
                "entity_id": 1,
                "payment_id": 1,
                "credit_note_id": None,
                "date": day(13),
                "amount": 1000,
            }
        ],
    )
    assert life.days(day(13), day(40), expect={}) == {}


PROMISE_BROKEN = """
day  | decision
+1   | reminder_1 by email [1]
+16  | reminder_2 by email [1] (broken promise)   # promised +10, grace 3: broken from +14, and
                                                # the 15-day rule (contacted on +1) holds until +16
+31  | reminder_3 by email [1]
"""


def test_promise_broken_resumes_at_the_reached_step_flagged(make_life):
    rows, customer, invoice = one_invoice()
    rows.promise(customer, day(10), made=day(3), invoices=(invoice,))
    life = make_life(rows)
    decided = life.on([day(offset) for offset in (1, 12, 13, 14, 15, 16, 17, 30, 31, 32)])
    assert decided == {day(offset): [decision] for offset, decision in table(PROMISE_BROKEN)}
    held = life.run(day(14), record=False)  # broken, but contacted 13 days ago
    assert suppressed(held) == {(invoice, "cadence")}


def test_a_broken_promise_with_nothing_new_due_resends_the_reached_step_once(make_life):
    rows, customer, invoice = one_invoice(policy="high_risk")  # 5 days between contacts
    rows.contacted(customer, day(1), "reminder_1")
    rows.reached(invoice, "reminder_1", 2, day(1))
    rows.promise(customer, day(4), made=day(2), invoices=(invoice,))  # grace 1: broken from +6
    life = make_life(rows)
    assert describe(life.run(day(5))) == []
    assert describe(life.run(day(6))) == ["reminder_1 by email [1] (broken promise)"]
    assert describe(life.run(day(6))) == []  # once: the re-send is now in the history


def test_a_disputed_part_is_not_chased_the_rest_is(make_life):
    rows, customer, invoice = one_invoice()
    rows.dispute(invoice, 300, opened=day(-1), customer=customer)
    result = make_life(rows).run(day(1))
    (row,) = result.decisions.to_pylist()
    assert row["amount_due"] == pytest.approx(700)
    assert reasons(result)[0] == ["step_due", "partially_disputed"]


def test_a_fully_disputed_invoice_waits_until_resolved(make_life):
    rows, customer, invoice = one_invoice()
    rows.dispute(invoice, 1000, opened=day(-1), resolved=day(20), customer=customer)
    life = make_life(rows)
    during = life.run(day(1))
    assert during.decisions.num_rows == 0
    assert suppressed(during) == {(invoice, "disputed")}
    assert describe(life.run(day(20))) == ["reminder_2 by email [1] (catch-up)"]  # the step now due


PLAN = """
day  | decision
+5   | installment:1:1:upcoming by email
+9   | installment:1:1:overdue by email    # unpaid the day after its due date
+27  | installment:1:2:upcoming by email
"""


def test_an_active_plan_replaces_dunning_by_installment_reminders(make_life):
    rows, customer, _ = one_invoice()
    rows.plan(customer, day(2), [(day(8), 500, None), (day(30), 500, day(29))])
    life = make_life(rows)
    days = [day(offset) for offset in (2, 4, 5, 6, 8, 9, 10, 26, 27, 28, 30, 31)]
    assert life.on(days) == {day(offset): [decision] for offset, decision in table(PLAN)}
    assert suppressed(life.run(day(3), record=False)) == {(None, "payment_plan")}


@pytest.mark.parametrize("kind", ["hold", "legal", "do_not_contact"])
def test_holds_stop_everything_while_active(make_life, kind):
    rows, customer, _ = one_invoice()
    rows.hold(customer, kind, day(0), day(10))
    life = make_life(rows)
    result = life.run(day(5))
    assert result.decisions.num_rows == 0 and suppressed(result) == {(None, kind)}
    assert describe(life.run(day(11))) == ["reminder_1 by email [1]"]


CHANNELS = """
channels        | decision                      | reasons
email,letter    | reminder_1 by email [1]       | step_due
letter          | reminder_1 by letter [1]      | step_due channel_fallback
sms,call        | -                             | no_channel
"""


@pytest.mark.parametrize("channels, expected, codes", table(CHANNELS))
def test_an_opted_out_channel_falls_back_to_the_next(make_life, channels, expected, codes):
    rows, _, _ = one_invoice(channels=tuple(channels.split(",")))
    result = make_life(rows).run(day(1))
    if expected == "-":
        assert result.decisions.num_rows == 0 and suppressed(result) == {(1, codes)}
    else:
        assert describe(result) == [expected] and reasons(result) == [codes.split()]


def test_grouping_one_upcoming_and_one_overdue_message_listing_all_invoices(make_life):
    rows = DunningRows()
    customer = rows.dunned_customer("C1")
    for due in (day(-1), day(0), day(19)):  # on day +15: two +16 and +15 past due, one due in 4 days
        rows.invoice(500, due - timedelta(days=30), due, customer=customer)
    rows.invoice(500, day(-20), day(-15), customer=customer)  # +30 past due at day(15)
    result = make_life(rows).run(day(15))
    assert describe(result) == ["pre_due by email [3]", "reminder_3 by email [1,2,4] (catch-up)"]
    overdue = result.decisions.to_pylist()[1]
    assert overdue["invoice_count"] == 3 and overdue["amount_due"] == pytest.approx(1500)
    assert overdue["max_days_past_due"] == 30
    steps = {row["invoice_id"]: row["step_key"] for row in result.invoice_steps.to_pylist()}
    assert steps == {1: "reminder_2", 2: "reminder_2", 3: "pre_due", 4: "reminder_3"}


def test_small_balances_are_not_chased(make_life):
    rows, _, _ = one_invoice(amount=8)
    result = make_life(rows).run(day(1))
    assert result.decisions.num_rows == 0 and suppressed(result) == {(None, "small_balance")}


def test_contact_cap_over_the_rolling_window(make_life):
    policies = default_policies()
    rows, customer, _ = one_invoice(policy="high_risk")
    for offset in (-27, -23, -19, -15, -11, -7):  # six contacts in the 30 days to +1 (cap 6)
        rows.contacted(customer, day(offset), "manual_call", "phone")
    result = make_life(rows, policies).run(day(1))
    assert result.decisions.num_rows == 0
    assert suppressed(result) == {(1, "contact_cap")}


WHITE_GLOVE = """
amount | day | decision
20000  | -2  | personal_call by call [1]   # 5 days after the pre-due e-mail (the minimum)
5000   | -2  | -
"""


@pytest.mark.parametrize("amount, offset, expected", table(WHITE_GLOVE))
def test_white_glove_calls_before_due_only_for_large_amounts(make_life, amount, offset, expected):
    rows, customer, _ = one_invoice(int(amount), policy="white_glove")
    rows.contacted(customer, day(-7), "pre_due")
    rows.reached(1, "pre_due", 0, day(-7))
    result = make_life(rows).run(day(offset))
    assert describe(result) == ([] if expected == "-" else [expected])


def test_customers_without_a_policy_are_reported(make_life):
    rows, _, _ = one_invoice(policy=None)
    result = make_life(rows).run(day(5))
    assert result.decisions.num_rows == 0 and suppressed(result) == {(None, "no_policy")}


def test_worklist_priority_and_its_factors(make_life):
    rows = DunningRows()
    small = rows.dunned_customer("SMALL")
    big = rows.dunned_customer("BIG", risk="high")
    rows.invoice(100, day(-30), DUE, customer=small)
    rows.invoice(50_000, day(-60), day(-30), customer=big)
    rows.promise(big, day(5), made=day(1), invoices=(2,))
    result = make_life(rows).run(day(20), record=False)
    worklist = result.worklist.to_pylist()
    assert [row["customer_id"] for row in worklist] == [big, small]
    top = worklist[0]
    assert (top["max_days_past_due"], top["risk"], top["broken_promises"]) == (50, "high", 1)
    factors = top["factors"]
    assert set(factors) == {
        "overdue_amount",
        "days_past_due",
        "risk",
        "broken_promises",
        "days_since_contact",
    }
    assert top["priority"] == pytest.approx(sum(item["points"] for item in factors.values()))
    assert factors["risk"]["points"] == 20 and factors["broken_promises"]["points"] == 15

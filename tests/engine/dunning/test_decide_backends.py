"""The same ledger and history decided on SQLite, DuckDB and PostgreSQL: identical results.

Uses the ``backend`` fixture of tests/engine/conftest.py (PostgreSQL when
RELANCE_TEST_POSTGRES_URL is set); the expected decisions are written out in full.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from relance.engine.dunning import policy_from_dict
from relance.engine.dunning.behaviour import customer_behaviour, segment_customers, segment_rules_from_list
from relance.engine.dunning.decide import decide
from relance.engine.dunning.defaults import default_policies
from relance.engine.dunning.tables import create_dunning_tables
from tests.engine.dunning.harness import describe
from tests.engine.dunning.rows import DunningRows

AS_OF = date(2026, 4, 1)


def before(days: int) -> date:
    return AS_OF - timedelta(days=days)


def rich_ledger() -> DunningRows:
    """Ten customers, each exercising one rule, on one date."""
    rows = DunningRows()
    a = rows.dunned_customer("A-GROUPED")  # 1: an upcoming and two overdue invoices, one partly disputed
    rows.invoice(1000, before(40), before(-3), customer=a)  # due in 3 days: pre_due
    rows.invoice(2000, before(50), before(16), customer=a)  # +16: reminder_2 (catch-up)
    rows.invoice(500, before(45), before(15), customer=a)  # +15: reminder_2 (catch-up)
    rows.dispute(2, 200, opened=before(5), customer=a)
    rows.pay(2, 250, before(2), customer=a)
    b = rows.dunned_customer("B-LETTER", channels=("letter",))  # 2: e-mail opted out
    rows.invoice(300, before(31), before(1), customer=b)  # 6: reminder_1 by letter
    c = rows.dunned_customer("C-HOLD")  # 3: legal case
    rows.invoice(300, before(40), before(10), customer=c)
    rows.hold(c, "legal", before(20))
    d = rows.dunned_customer("D-PROMISE")  # 4: promise active
    rows.invoice(700, before(40), before(10), customer=d)
    rows.promise(d, before(-5), made=before(3), invoices=(6,))
    e = rows.dunned_customer("E-NOPOLICY", policy=None)  # 5
    rows.invoice(100, before(40), before(10), customer=e)
    f = rows.dunned_customer("F-PLAN")  # 6: plan; installment due in 2 days
    rows.invoice(900, before(60), before(30), customer=f)
    rows.plan(f, before(10), [(before(-2), 450, None), (before(-32), 450, None)])
    g = rows.dunned_customer("G-RISKY", risk="high", policy="conditional")  # 7: risk condition
    rows.invoice(5000, before(30), before(8), customer=g)
    h = rows.dunned_customer("H-CADENCE")  # 8: contacted 5 days ago at +10
    rows.invoice(400, before(45), before(15), customer=h)
    rows.contacted(h, before(5), "reminder_1")
    rows.reached(10, "reminder_1", 1, before(5))
    k = rows.dunned_customer("K-BROKEN", policy="high_risk")  # 9: promise broken, reached step re-sent
    rows.invoice(600, before(36), before(6), customer=k)
    rows.contacted(k, before(5), "reminder_1")
    rows.reached(11, "reminder_1", 2, before(5))
    rows.promise(k, before(3), made=before(4), invoices=(11,))  # grace 1: broken since yesterday
    m = rows.dunned_customer("M-SEGMENT", segment="public", policy="conditional")  # 10: segment condition
    rows.invoice(800, before(30), before(8), customer=m)
    rows.invoice(50, before(100), before(70), status="void", customer=m)  # void: never chased
    return rows


CONDITIONAL = {
    "key": "conditional",
    "name": "Conditional",
    "cadence": {"min_days_between": 3},
    "steps": [
        {"key": "reminder", "offset_days": 1, "action": "message", "channels": ["email"], "tone": "neutral"},
        {
            "key": "risky_call",
            "offset_days": 7,
            "action": "task",
            "channels": ["call"],
            "conditions": [
                {"field": "risk", "op": "eq", "value": "high"},
                {"field": "amount_due", "op": "ge", "value": 1000},
            ],
        },
        {
            "key": "public_letter",
            "offset_days": 7,
            "action": "message",
            "channels": ["letter"],
            "conditions": [{"field": "segment", "op": "in", "value": ["public"]}],
        },
    ],
}

EXPECTED = [
    # customer, description, amount due, reason codes
    (1, "pre_due by email [1]", "1000.0000", ["step_due"]),
    (
        1,
        "reminder_2 by email [2,3] (catch-up)",
        "2050.0000",
        ["step_due", "catch_up", "grouped", "partially_disputed"],
    ),
    (2, "reminder_1 by letter [4]", "300.0000", ["step_due", "channel_fallback"]),
    (6, "installment:1:1:upcoming by email", "450.0000", ["installment_due"]),
    (7, "risky_call by call [9] (catch-up)", "5000.0000", ["step_due", "catch_up"]),
    (9, "reminder_1 by email [11] (broken promise)", "600.0000", ["step_due", "promise_broken"]),
    (10, "public_letter by letter [12] (catch-up)", "800.0000", ["step_due", "catch_up"]),
]
EXPECTED_SUPPRESSED = {
    (3, None, "legal"),
    (4, None, "promise_active"),
    (5, None, "no_policy"),
    (6, None, "payment_plan"),
    (8, 10, "cadence"),
}


@pytest.fixture
def tables(backend):
    con = backend({}).invoices.get_backend()
    return create_dunning_tables(con, rich_ledger().rows())


def policies():
    return {**default_policies(), "conditional": policy_from_dict(CONDITIONAL)}


def test_every_backend_decides_the_same(tables):
    result = decide(tables, policies(), as_of=AS_OF)
    rows = result.decisions.to_pylist()
    got = [
        (
            row["customer_id"],
            line,
            str(row["amount_due"]),
            [reason["code"] for reason in row["reasons"]],
        )
        for row, line in zip(rows, describe(result), strict=True)
    ]
    assert got == EXPECTED
    assert [row["decision_id"] for row in rows] == list(range(1, len(rows) + 1))
    suppressed = {
        (row["customer_id"], row["invoice_id"], row["reason"]) for row in result.suppressed.to_pylist()
    }
    assert suppressed == EXPECTED_SUPPRESSED
    steps = {
        (row["invoice_id"], row["step_key"], row["decision_id"]) for row in result.invoice_steps.to_pylist()
    }
    assert steps == {
        (1, "pre_due", 1),
        (2, "reminder_2", 2),
        (3, "reminder_2", 2),
        (4, "reminder_1", 3),
        (9, "risky_call", 5),
        (11, "reminder_1", 6),
        (12, "public_letter", 7),
    }
    risky = rows[4]
    assert (risky["action"], risky["offset_days"], risky["policy_key"], risky["max_days_past_due"]) == (
        "task",
        7,
        "conditional",
        8,
    )


def test_worklist_is_the_same_on_every_backend(tables):
    worklist = decide(tables, policies(), as_of=AS_OF).worklist.to_pylist()
    by_customer = {row["customer_id"]: row for row in worklist}
    assert set(by_customer) == {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
    assert by_customer[1]["overdue_amount"] == Decimal("2050.0000")
    assert by_customer[9]["broken_promises"] == 1
    assert by_customer[7]["risk"] == "high"
    assert [row["priority"] for row in worklist] == sorted(
        (row["priority"] for row in worklist), reverse=True
    )


def test_behaviour_classes_on_every_backend(backend):
    rows = DunningRows()
    prompt, forgetful, chronic, new, risky = (rows.dunned_customer(ref) for ref in ("P", "F", "C", "N", "R"))
    for month in range(6):
        due = date(2026, 1, 5) + timedelta(days=30 * month)
        for customer, late_by in ((prompt, 0), (forgetful, 4), (chronic, 35), (risky, 0)):
            invoice = rows.invoice(100, due - timedelta(days=30), due, customer=customer)
            rows.pay(invoice, 100, due + timedelta(days=late_by), customer=customer)
    rows.invoice(100, date(2026, 6, 1), date(2026, 7, 1), customer=new)
    rows.invoice(100, date(2026, 3, 1), date(2026, 4, 1), customer=risky)  # 153 days past due at 1 Sep
    con = backend({}).invoices.get_backend()
    tables = create_dunning_tables(con, rows.rows())
    result = customer_behaviour(tables, date(2026, 9, 1)).to_pylist()
    classes = {row["customer_id"]: row["behaviour"] for row in result}
    assert classes == {
        prompt: "prompt",
        forgetful: "forgetful",
        chronic: "chronic_late",
        new: "new",
        risky: "at_risk",
    }
    chronic_row = next(row for row in result if row["customer_id"] == chronic)
    assert chronic_row["share_late"] == 1.0 and chronic_row["avg_days_late"] == 35.0
    assert "100% late" in chronic_row["evidence"] and "35.0 days late on average" in chronic_row["evidence"]
    rules = segment_rules_from_list(
        [
            {
                "segment": "watch",
                "when": [{"field": "behaviour", "op": "in", "value": ["at_risk", "chronic_late"]}],
            },
            {
                "segment": "vip",
                "when": [
                    {"field": "share_late", "op": "le", "value": 0.1},
                    {"field": "paid_invoices", "op": "ge", "value": 3},
                ],
            },
        ]
    )
    segments = {
        row["customer_id"]: (row["segment"], row["rule"])
        for row in segment_customers(
            customer_behaviour(tables, date(2026, 9, 1)), rules, default="standard"
        ).to_pylist()
    }
    assert segments == {
        prompt: ("vip", 2),
        forgetful: ("standard", 0),
        chronic: ("watch", 1),
        new: ("standard", 0),
        risky: ("watch", 1),
    }


def test_a_behaviour_condition_uses_the_customers_class(backend):
    """A step only for chronic late payers: the class is computed from history in the same query."""
    rows = DunningRows()
    chronic, prompt = (
        rows.dunned_customer("LATE", policy="by_class"),
        rows.dunned_customer("OK", policy="by_class"),
    )
    for month in range(4):
        due = date(2025, 11, 1) + timedelta(days=30 * month)
        for customer, late_by in ((chronic, 40), (prompt, 0)):
            invoice = rows.invoice(100, due - timedelta(days=30), due, customer=customer)
            rows.pay(invoice, 100, due + timedelta(days=late_by), customer=customer)
    late_invoice = rows.invoice(500, before(40), before(10), customer=chronic)
    ok_invoice = rows.invoice(500, before(40), before(10), customer=prompt)
    by_class = policy_from_dict(
        {
            "key": "by_class",
            "steps": [
                {"key": "gentle", "offset_days": 5, "action": "message", "channels": ["email"]},
                {
                    "key": "early_call",
                    "offset_days": 7,
                    "action": "task",
                    "channels": ["call"],
                    "conditions": [{"field": "behaviour", "op": "eq", "value": "chronic_late"}],
                },
            ],
        }
    )
    con = backend({}).invoices.get_backend()
    result = decide(create_dunning_tables(con, rows.rows()), {"by_class": by_class}, as_of=AS_OF)
    assert describe(result) == [
        f"early_call by call [{late_invoice}] (catch-up)",  # +10: gentle (+5) came due too
        f"gentle by email [{ok_invoice}]",  # a prompt payer: the call's condition fails
    ]


def test_behaviour_counts_the_promises_the_one_rule_settled(backend):
    """A promise is kept or broken by the one promise rule (``relance.core.promises``), written back
    by the run (``promise_settle``) before segments are computed; behaviour counts what is written.
    An open promise long past its date is neither (behaviour had its own rough copy of the rule,
    with a fixed 3 days' grace and no look at payments: it called a paid promise broken)."""
    rows = DunningRows()
    customer = rows.dunned_customer("P")
    invoice = rows.invoice(100, date(2026, 5, 1), date(2026, 6, 1), customer=customer)
    rows.pay(invoice, 100, date(2026, 6, 10), customer=customer)
    rows.promise(customer, date(2026, 6, 10), made=date(2026, 6, 2), invoices=(invoice,))  # open, paid
    settled = rows.promise(customer, date(2026, 7, 1), made=date(2026, 6, 20), amount=50)
    rows.promises[settled - 1]["status"] = "broken"  # as promise_settle writes it
    con = backend({}).invoices.get_backend()
    tables = create_dunning_tables(con, rows.rows())
    [row] = customer_behaviour(tables, date(2026, 9, 1)).to_pylist()
    assert (row["promises_made"], row["promises_kept"], row["promises_broken"]) == (2, 0, 1)

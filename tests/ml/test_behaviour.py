"""Behaviour change (issue 16, item 5) on a hand-made history, on every engine backend: the
recent days to pay against the customer's own history (mean + 2 standard deviations)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from relance.ml.behaviour import RULE, BehaviourRule, behaviour_change, behaviour_changes
from tests.engine.ledgers import LedgerRows

AS_OF = date(2026, 11, 30)


def _paid(ledger: LedgerRows, customer: int, paid_on: date, days_to_pay: int, amount: str = "100") -> None:
    issued = paid_on - timedelta(days=days_to_pay)
    invoice = ledger.invoice(amount, issued, issued + timedelta(days=30), customer=customer)
    ledger.pay(invoice, amount, paid_on, customer=customer)


def history() -> LedgerRows:
    ledger = LedgerRows()
    slower = ledger.customer("C-SLOWER")  # 30 ± 2 days for a year and a half, then 50
    steady = ledger.customer("C-STEADY")  # 30 days always, 31 lately: no change (min shift)
    young = ledger.customer("C-YOUNG")  # 3 earlier invoices only: too little history
    for n, days in enumerate([28, 30, 32, 29, 31, 30, 28, 32]):
        _paid(ledger, slower, AS_OF - timedelta(days=120 + 60 * n), days)
        _paid(ledger, steady, AS_OF - timedelta(days=120 + 60 * n), 30)
    for n in range(3):
        _paid(ledger, young, AS_OF - timedelta(days=120 + 30 * n), 20)
    for days_ago in (10, 40, 70):
        _paid(ledger, slower, AS_OF - timedelta(days=days_ago), 50)
        _paid(ledger, steady, AS_OF - timedelta(days=days_ago), 31)
        _paid(ledger, young, AS_OF - timedelta(days=days_ago), 60)
    return ledger


def test_a_customer_paying_slower_than_its_history_is_flagged(backend) -> None:
    tables = backend(history().rows())
    found = behaviour_changes(tables, AS_OF, entity_id=1)
    slower, steady, young = found["C-SLOWER"], found["C-STEADY"], found["C-YOUNG"]
    assert (slower.recent_paid, slower.recent_days_to_pay) == (3, 50.0)
    assert (slower.usual_paid, slower.usual_days_to_pay) == (8, 30.0)
    assert slower.usual_days_to_pay_sd == pytest.approx(1.60, abs=0.01)
    assert slower.changed
    assert "Pay behaviour changed: pays in 50 days lately" in slower.text
    assert not steady.changed  # 31 > 30 + 2 × 0, but one day is no change
    assert not young.changed  # 3 earlier invoices: fewer than 6
    assert young.recent_days_to_pay == 60.0


def test_nothing_after_the_as_of_date_is_read(backend) -> None:
    """The same verdicts from the ledger with and without its rows dated after the date."""
    earlier = AS_OF - timedelta(days=80)
    rows = history().rows()
    known = {
        "invoices": [row for row in rows["invoices"] if row["issue_date"] <= earlier],
        "payments": [row for row in rows["payments"] if row["date"] <= earlier],
        "allocations": [row for row in rows["allocations"] if row["date"] <= earlier],
        "credit_notes": [],
        "customers": rows["customers"],
    }
    with_later = behaviour_changes(backend(rows), earlier, entity_id=1)
    assert with_later == behaviour_changes(backend(known), earlier, entity_id=1)
    assert not with_later["C-SLOWER"].changed  # before the slow payments: as usual
    assert with_later["C-SLOWER"].recent_paid == 1


def test_the_rule_s_numbers_are_its_own() -> None:
    row = {
        "customer_ref": "C",
        "recent_paid": 2,
        "recent_sum": 80,
        "usual_paid": 6,
        "usual_sum": 180,
        "usual_sum_sq": 6 * 900,
    }
    assert behaviour_change(row, AS_OF).changed  # 40 > 30 + 2 × 0 and 10 days more
    assert not behaviour_change(row, AS_OF, BehaviourRule(min_shift_days=15)).changed
    assert not behaviour_change({**row, "recent_paid": 1, "recent_sum": 40}, AS_OF).changed
    assert not behaviour_change({"customer_ref": "C"}, AS_OF).changed
    assert RULE.sigmas == 2.0


def test_the_engine_only_daily_credit_run_raises_the_behaviour_trigger() -> None:
    """``behaviour_state`` hands the verdicts to ``daily_credit``: the customer whose pattern
    changed today (and not on the previous scoring day) gets ``pay_behaviour_changed``, with its
    figures; without the verdicts the run raises no such trigger (as before)."""
    from dataclasses import fields

    import ibis

    from relance.engine.credit.daily import daily_credit
    from relance.engine.credit.defaults import default_scorecard
    from relance.engine.dunning.tables import create_dunning_tables
    from relance.ml.behaviour import behaviour_state
    from tests.engine.dunning.rows import DunningRows

    ledger = history()
    rows = DunningRows(**{f.name: getattr(ledger, f.name) for f in fields(LedgerRows)})
    con = ibis.duckdb.connect()
    tables = create_dunning_tables(con, rows.rows())
    ids = {row["external_ref"]: row["customer_id"] for row in rows.customers}
    state = behaviour_state(tables.ledger, AS_OF, AS_OF - timedelta(days=60), backend=con)
    with_verdicts = daily_credit(tables, default_scorecard(), AS_OF, backend=con, behaviour=state)
    fired = [row for row in with_verdicts.triggers.to_pylist() if row["code"] == "pay_behaviour_changed"]
    assert [row["customer_id"] for row in fired] == [ids["C-SLOWER"]]
    assert (fired[0]["recent_days_to_pay"], fired[0]["usual_days_to_pay"]) == (50.0, 30.0)
    without = daily_credit(tables, default_scorecard(), AS_OF, backend=con)
    assert "pay_behaviour_changed" not in {row["code"] for row in without.triggers.to_pylist()}

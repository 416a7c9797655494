"""Review triggers on every backend, and the decision each review proposes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import ibis
import pyarrow as pa
import pytest

from relance.engine.backends import is_spark
from relance.engine.credit.triggers import (
    DEFAULT_RULES,
    TRIGGER_CODES,
    ReviewRules,
    propose,
    review_triggers_expr,
    round_limit,
    triggers_of_rows,
)
from relance.engine.dunning.tables import create_dunning_tables
from tests.engine.dunning.rows import DunningRows

AS_OF = date(2026, 9, 1)
YESTERDAY = date(2026, 8, 31)

SCORES = pa.schema(
    [
        ("customer_id", pa.int64()),
        ("currency", pa.string()),
        ("credit_limit", pa.decimal128(18, 4)),
        ("exposure", pa.decimal128(18, 4)),
        ("available", pa.decimal128(18, 4)),
        ("utilisation", pa.float64()),
        ("missing_rate", pa.bool_()),
        ("score", pa.int32()),
        ("risk_class", pa.string()),
        ("days_beyond_terms", pa.float64()),
        ("late_share", pa.float64()),
        ("relationship_months", pa.float64()),
        ("bureau_score", pa.float64()),
        ("derogatory_events", pa.float64()),
        ("recommended_limit", pa.decimal128(18, 4)),
        ("payment_terms_days", pa.int64()),
    ]
)


def _score(customer: int, risk_class: str, score: int, *, limit: str | None = "1000", exposure: str = "400",
           late: float = 20.0, dbt: float = 5.0, months: float = 24.0) -> dict[str, Any]:  # fmt: skip
    credit_limit = None if limit is None else Decimal(limit)
    return {
        "customer_id": customer,
        "currency": "EUR",
        "credit_limit": credit_limit,
        "exposure": Decimal(exposure),
        "available": None if credit_limit is None else credit_limit - Decimal(exposure),
        "utilisation": None if credit_limit is None else float(Decimal(exposure) * 100 / credit_limit),
        "missing_rate": False,
        "score": score,
        "risk_class": risk_class,
        "days_beyond_terms": dbt,
        "late_share": late,
        "relationship_months": months,
        "bureau_score": None,
        "derogatory_events": None,
        "recommended_limit": None,
        "payment_terms_days": 30,
    }


@pytest.fixture
def triggered(backend):
    rows = DunningRows()
    ids = {ref: rows.dunned_customer(ref) for ref in ("X", "H", "D", "R", "O", "P", "G", "S", "N")}
    rows.promise(ids["P"], date(2026, 8, 28), made=date(2026, 8, 1))  # broken on 1 Sep (grace 3)
    rows.promise(ids["P"], date(2026, 8, 20), made=date(2026, 8, 1))  # broken on 24 Aug: known before
    rows.promise(ids["O"], date(2026, 8, 28), made=date(2026, 8, 1))  # kept
    for promise in rows.promises[:2]:
        promise["status"] = "broken"
    rows.promises[2]["status"] = "kept"
    given = rows.rows()
    given["bureau_reports"] = [
        _report(ids["R"], date(2026, 6, 1), 60.0, 0),
        _report(ids["R"], date(2026, 9, 1), 60.0, 1),  # one more derogatory event, dated today
        _report(ids["O"], date(2026, 6, 1), 60.0, 0),
        _report(ids["O"], date(2026, 8, 15), 30.0, 3),  # worse, but before the previous scoring
    ]
    con = backend({}).invoices.get_backend()
    tables = create_dunning_tables(con, given)
    scores = [
        _score(ids["X"], "B", 25, exposure="1200"),
        _score(ids["H"], "B", 25, exposure="950"),
        _score(ids["D"], "D", 50),
        _score(ids["R"], "B", 25),
        _score(ids["O"], "B", 25),
        _score(ids["P"], "C", 35),
        _score(ids["G"], "A", 10, exposure="750", late=5.0, dbt=0.0, months=12.0),
        _score(ids["S"], "C", 35),
        _score(ids["N"], "C", 31, limit=None, exposure="0"),
    ]
    previous = [
        {"customer_id": ids[ref], "scored_on": on, "score": score, "risk_class": risk_class}
        for ref, on, score, risk_class in (
            ("D", YESTERDAY, 25, "B"),
            ("D", date(2026, 8, 1), 55, "D"),  # older: not the previous one
            ("R", YESTERDAY, 25, "B"),
            ("O", YESTERDAY, 25, "B"),
            ("P", YESTERDAY, 35, "C"),
            ("G", YESTERDAY, 12, "A"),
            ("X", AS_OF, 99, "A"),  # today's own: not a previous score
        )
    ]
    reviewed = [
        {"customer_id": customer, "last_reviewed_on": date(2026, 8, 1) if ref != "S" else date(2026, 5, 1)}
        for ref, customer in ids.items()
        if ref != "N"
    ]
    scores_today = _table(con, "scores_today", pa.Table.from_pylist(scores, schema=SCORES))
    previous_scores = _table(
        con,
        "previous_scores",
        pa.Table.from_pylist(
            previous,
            schema=pa.schema(
                [
                    ("customer_id", pa.int64()),
                    ("scored_on", pa.date32()),
                    ("score", pa.int32()),
                    ("risk_class", pa.string()),
                ]
            ),
        ),
    )
    last_reviews = _table(
        con,
        "last_reviews",
        pa.Table.from_pylist(
            reviewed, schema=pa.schema([("customer_id", pa.int64()), ("last_reviewed_on", pa.date32())])
        ),
    )
    expr = review_triggers_expr(tables, scores_today, previous_scores, AS_OF, last_reviews=last_reviews)
    fetched = con.to_pyarrow(expr).to_pylist()
    return ids, triggers_of_rows(fetched)


def _table(con: Any, name: str, arrow: pa.Table) -> Any:
    """The app's inputs as a table on ``con`` (Spark: a temporary view; elsewhere in memory)."""
    if is_spark(con):
        from relance.engine.spark import register_arrow

        return register_arrow(con, name, arrow)
    return ibis.memtable(arrow)


def _report(customer: int, on: date, score: float, events: int) -> dict[str, Any]:
    return {
        "customer_id": customer,
        "reported_on": on,
        "bureau_score": score,
        "recommended_limit": None,
        "derogatory_events": events,
    }


def test_each_trigger_fires_for_its_customer_only(triggered) -> None:
    ids, triggers = triggered
    ref_of = {customer: ref for ref, customer in ids.items()}
    fired = sorted((ref_of[trigger.customer_id], trigger.code) for trigger in triggers)
    assert fired == [
        ("D", "class_dropped"),
        ("G", "good_behaviour"),
        ("H", "high_utilisation"),
        ("P", "broken_promises"),
        ("R", "derogatory_event"),
        ("S", "scheduled"),
        ("X", "limit_breached"),
    ]
    assert set(TRIGGER_CODES) == {code for _, code in fired}
    why = {ref_of[trigger.customer_id]: trigger.reason for trigger in triggers}
    assert (
        why["X"] == "over its credit limit: 1,200 EUR of exposure against a limit of 1,000 EUR (120 % used)"
    )
    assert why["H"] == "near its credit limit: 95 % used (50 EUR left)"
    assert why["D"] == "risk class dropped from B to D (score 25 → 50)"
    assert why["R"] == "a bureau report of 2026-09-01: 1 derogatory events (was 0)"
    assert why["P"] == "a promise broken since 2026-08-31"
    assert why["G"] == "pays within terms (5 % late) for 12 months and uses 75 % of its limit: room to grow"
    assert why["S"] == "last reviewed on 2026-05-01: class C is reviewed every 90 days"
    facts = {ref_of[trigger.customer_id]: trigger.facts for trigger in triggers}
    assert facts["D"]["previous_class"] == "B" and facts["P"]["promises_broken_since"] == 1


def _trigger_rows(code: str, **facts: Any) -> dict[str, Any]:
    base = _score(1, "B", 25) | {
        "previous_class": None,
        "previous_score": None,
        "since": YESTERDAY,
        "report_on": None,
        "report_score": None,
        "report_events": None,
        "before_score": None,
        "before_events": None,
        "promises_broken_since": 0,
        "last_reviewed_on": None,
        "days_since_review": None,
        "review_every_days": 180,
        "on_hold": False,
        "payment_terms_days": 30,
    }
    return base | {"trigger": code} | facts


def _one(*rows: dict[str, Any], rules: ReviewRules = DEFAULT_RULES):
    (proposal,) = propose(triggers_of_rows(rows), rules)
    return proposal


def test_good_behaviour_raises_the_limit_within_the_bureaus_recommendation() -> None:
    good = dict(exposure=Decimal("7500"), credit_limit=Decimal("10000"), utilisation=75.0)
    raised = _one(_trigger_rows("good_behaviour", **good))
    assert (raised.decision, raised.new_limit) == ("raise_limit", Decimal("15000"))
    capped = _one(_trigger_rows("good_behaviour", **good, recommended_limit=Decimal("12345")))
    assert (capped.decision, capped.new_limit) == ("raise_limit", Decimal("12000"))
    assert capped.reasons[-1].endswith("(the bureau's recommended limit)")
    below = _one(_trigger_rows("good_behaviour", **good, recommended_limit=Decimal("9000")))
    assert below.decision == "keep"


def test_warning_signs_by_class() -> None:
    breach = dict(exposure=Decimal("1200"), credit_limit=Decimal("1000"), utilisation=120.0)
    assert _one(_trigger_rows("limit_breached", risk_class="E", **breach)).decision == "place_hold"
    assert _one(_trigger_rows("class_dropped", risk_class="E")).decision == "require_prepayment"
    lowered = _one(_trigger_rows("derogatory_event", risk_class="D", report_on=AS_OF, credit_limit=Decimal("10000"), exposure=Decimal("3000")))  # fmt: skip
    assert (lowered.decision, lowered.new_limit) == ("lower_limit", Decimal("7500"))
    shorter = _one(_trigger_rows("broken_promises", risk_class="C", promises_broken_since=2))
    assert (shorter.decision, shorter.new_terms_days) == ("change_terms", 15)
    # class B over its limit: raised to cover it (the exposure + 10 %, at least × 1.5)
    raised = _one(_trigger_rows("limit_breached", **breach))
    assert (raised.decision, raised.new_limit) == ("raise_limit", Decimal("1500"))
    # class C over its limit: no raise, a hold
    assert _one(_trigger_rows("limit_breached", risk_class="C", **breach)).decision == "place_hold"


def test_a_hold_is_lifted_and_a_quiet_review_keeps() -> None:
    assert _one(_trigger_rows("scheduled", on_hold=True)).decision == "lift_hold"
    kept = _one(_trigger_rows("scheduled"))
    assert kept.decision == "keep" and kept.reasons[0] == "never reviewed (class B)"


def test_limits_round_to_a_step_by_size() -> None:
    assert round_limit(Decimal("14999")) == Decimal("14000")
    assert round_limit(Decimal("9999")) == Decimal("9500")
    assert round_limit(Decimal("123456")) == Decimal("120000")
    assert round_limit(Decimal("2345678")) == Decimal("2340000")
    assert round_limit(Decimal("1201"), up=True) == Decimal("1500")

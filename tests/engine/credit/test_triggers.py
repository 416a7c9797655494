"""Review triggers and proposals on hand-made credit states (DuckDB, no Django)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import ibis
import pyarrow as pa
import pytest

from relance.engine.credit.triggers import (
    REVIEW_STATE_SCHEMA,
    THRESHOLDS,
    TRIGGER_CODES,
    propose,
    review_triggers_expr,
    trigger_of_row,
)

AS_OF = date(2026, 9, 1)


def state(**changes: Any) -> dict[str, Any]:
    """A quiet class B customer at 50 % of a 10,000 limit, reviewed last month: no trigger."""
    row: dict[str, Any] = {
        "customer_id": 1,
        "currency": "EUR",
        "credit_limit": Decimal("10000"),
        "exposure": Decimal("5000"),
        "utilisation": 50.0,
        "previous_utilisation": 50.0,
        "score": 20,
        "risk_class": "B",
        "previous_score": 20,
        "previous_class": "B",
        "broken_promises": 0.0,
        "previous_broken_promises": 0.0,
        "days_beyond_terms": 3.0,
        "relationship_months": 24.0,
        "derogatory_events": None,
        "previous_derogatory_events": None,
        "bureau_score": None,
        "previous_bureau_score": None,
        "terms_days": 30,
        "credit_hold": False,
        "last_reviewed_on": AS_OF - timedelta(days=40),
        "next_review_on": AS_OF + timedelta(days=100),
    }
    row.update(changes)
    if "exposure" in changes and "utilisation" not in changes and row["credit_limit"]:
        row["utilisation"] = float(row["exposure"] * 100 / row["credit_limit"])
    return row


def triggered(*rows: dict[str, Any]) -> list[tuple[int, str]]:
    schema = ibis.schema(REVIEW_STATE_SCHEMA)
    table = ibis.memtable(pa.Table.from_pylist(list(rows), schema=schema.to_pyarrow()), schema=schema)
    backend = ibis.duckdb.connect()
    found = backend.to_pyarrow(review_triggers_expr(table, AS_OF)).to_pylist()
    return sorted((row["customer_id"], row["code"]) for row in found)


def codes(**changes: Any) -> list[str]:
    return [code for _, code in triggered(state(**changes))]


def test_a_quiet_customer_has_no_trigger() -> None:
    assert codes() == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"exposure": Decimal("12000"), "previous_utilisation": 95.0},
            ["limit_breached"],
        ),  # over: not "high"
        ({"exposure": Decimal("9500")}, ["high_utilisation"]),
        ({"risk_class": "D", "score": 50}, ["class_dropped"]),
        ({"derogatory_events": 2, "previous_derogatory_events": 1}, ["derogatory_event"]),
        ({"derogatory_events": 1}, ["derogatory_event"]),
        ({"derogatory_events": 1, "previous_derogatory_events": 1}, []),  # known already
        ({"bureau_score": 40.0, "previous_bureau_score": 60.0}, ["derogatory_event"]),
        ({"bureau_score": 70.0, "previous_bureau_score": 60.0}, []),
        ({"broken_promises": 2.0, "previous_broken_promises": 1.0}, ["broken_promises"]),
        ({"broken_promises": 1.0}, []),  # one broken promise in the year is not enough
        ({"broken_promises": 2.0, "previous_broken_promises": 2.0}, []),  # nothing new
        (
            {"exposure": Decimal("8000"), "previous_utilisation": 60.0, "days_beyond_terms": 0.0},
            ["good_behaviour"],
        ),
        ({"next_review_on": AS_OF}, ["scheduled"]),
    ],
)
def test_each_trigger(changes: dict[str, Any], expected: list[str]) -> None:
    assert sorted(codes(**changes)) == sorted(expected)


def test_a_lasting_state_fires_again_only_after_the_cooldown() -> None:
    lasting = {"exposure": Decimal("12000"), "previous_utilisation": 120.0}
    assert codes(**lasting, last_reviewed_on=AS_OF - timedelta(days=5)) == []
    assert codes(**lasting, last_reviewed_on=AS_OF - timedelta(days=THRESHOLDS.cooldown_days)) == [
        "limit_breached"
    ]
    assert codes(**lasting, last_reviewed_on=None) == ["limit_breached"]


def test_no_limit_no_utilisation_trigger_and_one_row_per_customer_and_code() -> None:
    rows = [
        state(customer_id=1, credit_limit=None, utilisation=None, exposure=Decimal("99999")),
        state(customer_id=2, exposure=Decimal("12000"), risk_class="E", score=80, next_review_on=AS_OF),
    ]
    assert triggered(*rows) == [(2, "class_dropped"), (2, "limit_breached"), (2, "scheduled")]


def test_triggers_in_words_with_their_facts() -> None:
    row = {**state(exposure=Decimal("12000"), utilisation=120.0), "code": "limit_breached"}
    trigger = trigger_of_row(row)
    assert trigger.text == "Exposure €12,000.00 is over the €10,000.00 limit (120 % used)."
    assert trigger.facts == {
        "credit_limit": "10000",
        "exposure": "12000",
        "utilisation": 120.0,
        "currency": "EUR",
    }
    for code in TRIGGER_CODES:
        assert trigger_of_row({**state(derogatory_events=1, next_review_on=AS_OF), "code": code}).text
    lowered = {**state(bureau_score=40.0, previous_bureau_score=60.0), "code": "derogatory_event"}
    assert (
        trigger_of_row(lowered).text
        == "The latest bureau report shows a bureau score of 40 (was 60; higher is safer)."
    )


@pytest.mark.parametrize(
    ("changes", "codes_", "kind", "limit"),
    [
        # a good payer over its limit: raise by 25 % at least, covering the exposure with 10 % room
        ({"exposure": Decimal("12000")}, {"limit_breached"}, "raise_limit", Decimal("14000")),
        (
            {"exposure": Decimal("8000"), "risk_class": "A"},
            {"good_behaviour"},
            "raise_limit",
            Decimal("13000"),
        ),
        # class E over the limit: hold; already on hold: prepayment
        (
            {"exposure": Decimal("12000"), "risk_class": "E"},
            {"limit_breached"},
            "place_hold",
            Decimal("10000"),
        ),
        (
            {"exposure": Decimal("12000"), "risk_class": "E", "credit_hold": True},
            {"limit_breached"},
            "require_prepayment",
            Decimal("10000"),
        ),
        # a derogatory event over the limit: hold, whatever the class
        ({"exposure": Decimal("12000")}, {"derogatory_event"}, "place_hold", Decimal("10000")),
        # class D after a drop: lower by 25 %, rounded down to two significant digits
        (
            {"risk_class": "D", "credit_limit": Decimal("15500")},
            {"class_dropped"},
            "lower_limit",
            Decimal("11000"),
        ),
        ({"risk_class": "D", "credit_limit": None}, {"class_dropped"}, "require_prepayment", None),
        # on hold, back within the limit and not class E: lift
        ({"credit_hold": True, "risk_class": "C"}, {"scheduled"}, "lift_hold", Decimal("10000")),
        (
            {"risk_class": "C", "exposure": Decimal("12000")},
            {"limit_breached"},
            "require_guarantee",
            Decimal("10000"),
        ),
        ({"risk_class": "C"}, {"broken_promises"}, "change_terms", Decimal("10000")),
        ({}, {"scheduled"}, "keep", Decimal("10000")),
    ],
)
def test_proposals(changes: dict[str, Any], codes_: set[str], kind: str, limit: Decimal | None) -> None:
    proposal = propose(state(**changes), codes_)
    assert (proposal.kind, proposal.limit) == (kind, limit)
    assert proposal.reasons and all(reason.endswith(".") for reason in proposal.reasons)
    if kind == "change_terms":
        assert proposal.terms_days == THRESHOLDS.short_terms_days

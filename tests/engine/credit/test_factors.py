"""Credit factors from a small ledger, and the shipped scorecard's score of it, on every backend."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import ibis
import pytest

from relance.engine.credit.daily import daily_credit
from relance.engine.credit.defaults import default_scorecard
from relance.engine.credit.factors import credit_factors_expr, credit_scores_expr
from relance.engine.credit.scorecard import score_of_row
from relance.engine.dunning.tables import create_dunning_tables
from tests.engine.dunning.rows import DunningRows

AS_OF = date(2026, 9, 1)


@pytest.fixture
def ledger(backend):
    rows = DunningRows()
    prompt = rows.dunned_customer("P", credit_limit="1000")
    late = rows.dunned_customer("L")
    new = rows.dunned_customer("N")
    for month in range(6):  # due 5 Jan … 4 Jun, issued 30 days before: the first on 6 Dec 2025
        due = date(2026, 1, 5) + timedelta(days=30 * month)
        for customer, late_by in ((prompt, 0), (late, 35)):
            invoice = rows.invoice(100, due - timedelta(days=30), due, customer=customer)
            rows.pay(invoice, 100, due + timedelta(days=late_by), customer=customer)
    rows.invoice(300, date(2026, 8, 15), date(2026, 9, 14), customer=prompt)  # open, not yet due
    contested = rows.invoice(200, date(2026, 7, 1), date(2026, 7, 31), customer=late)
    rows.dispute(contested, 200, opened=date(2026, 8, 1), customer=late)
    rows.promise(late, date(2026, 7, 10), made=date(2026, 7, 1))
    rows.promises[-1]["status"] = "broken"
    bureau = rows.dunned_customer("B", credit_limit="6000")
    paid = rows.invoice(100, date(2026, 7, 2), date(2026, 8, 1), customer=bureau)
    rows.pay(paid, 100, date(2026, 8, 1), customer=bureau)
    given = rows.rows()
    given["bureau_reports"] = [
        _report(bureau, date(2026, 3, 1), 70.0, "10000", 0),
        _report(bureau, date(2026, 8, 20), 35.0, "4000", 2),  # the latest on or before the date
        _report(bureau, date(2026, 9, 10), 90.0, "20000", 0),  # after it: not known then
    ]
    given["returned_payments"] = [
        {"customer_id": bureau, "returned_on": on, "amount": Decimal("50")}
        for on in (date(2025, 6, 1), date(2026, 5, 1), date(2026, 9, 2))  # one in the year to the date
    ]
    con = backend({}).invoices.get_backend()
    tables = create_dunning_tables(con, given)
    return tables, {"P": prompt, "L": late, "N": new, "B": bureau}


def _report(customer: int, on: date, score: float, recommended: str, events: int) -> dict:
    return {
        "customer_id": customer,
        "reported_on": on,
        "bureau_score": score,
        "recommended_limit": Decimal(recommended),
        "derogatory_events": events,
    }


def test_the_factors_read_the_payment_behaviour(ledger) -> None:
    tables, ids = ledger
    ref_of = {customer: ref for ref, customer in ids.items()}
    rows = credit_factors_expr(tables, AS_OF).to_pyarrow().to_pylist()
    by_ref = {ref_of[row["customer_id"]]: row for row in rows}
    prompt, late, new = by_ref["P"], by_ref["L"], by_ref["N"]
    assert (prompt["days_beyond_terms"], prompt["late_share"], prompt["utilisation"]) == (0.0, 0.0, 30.0)
    assert prompt["relationship_months"] == 8.0  # 6 Dec 2025 to 1 Sep 2026: 8 whole months
    assert (late["days_beyond_terms"], late["late_share"], late["days_beyond_terms_trend"]) == (
        35.0,
        100.0,
        0.0,
    )
    assert (late["broken_promises"], late["disputes"], late["utilisation"]) == (1.0, 1.0, None)
    assert all(new[key] is None for key in ("days_beyond_terms", "late_share", "relationship_months"))
    for row in (prompt, late, new):
        assert row["bureau_score"] is None and row["bureau_limit_ratio"] is None
        assert row["returned_payments"] == 0.0  # the table exists: none returned
    bureau = by_ref["B"]
    assert (bureau["bureau_score"], bureau["derogatory_events"], bureau["bureau_limit_ratio"]) == (
        35.0,
        2.0,
        150.0,
    )
    assert (bureau["returned_payments"], bureau["recommended_limit"]) == (1.0, Decimal("4000"))
    assert bureau["bureau_reported_on"] == date(2026, 8, 20)
    assert (bureau["credit_limit"], bureau["exposure"], bureau["utilisation"]) == (
        Decimal("6000"),
        Decimal("0"),
        0.0,
    )


def test_the_shipped_scorecard_ranks_them(ledger) -> None:
    tables, ids = ledger
    card = default_scorecard()
    rows = credit_scores_expr(tables, card, AS_OF).to_pyarrow().to_pylist()
    scored = {row["customer_id"]: score_of_row(card, row) for row in rows}
    prompt, late, new = scored[ids["P"]], scored[ids["L"]], scored[ids["N"]]
    assert (prompt.score, prompt.risk_class) == (9, "A")  # 4 (8 months) + 5 (no bureau report)
    assert (late.score, late.risk_class) == (59, "D")  # 24 + 15 + 5 + 3 + 3 + 4 + 5
    assert (new.score, new.risk_class) == (31, "C")  # every factor unknown
    bureau = scored[ids["B"]]
    assert (bureau.score, bureau.risk_class) == (51, "D")  # 8 (1 month) + 6 + 12 + 20 + 5
    texts = {reason.factor: reason.text for reason in bureau.reasons}
    assert texts["bureau_score"] == "bureau score 35: above average risk"
    assert texts["derogatory_events"] == "2 derogatory events in the bureau report"
    assert texts["bureau_limit_ratio"] == "our limit is 150 % of the bureau's recommendation"
    assert texts["returned_payments"] == "one returned payment"
    reasons = {reason.factor: reason.text for reason in late.reasons}
    assert reasons["days_beyond_terms"] == "pays 35 days beyond terms on average: late"
    assert reasons["late_share"] == "100 % of invoices paid late: most of them"
    assert reasons["utilisation"] == "no credit limit set"
    assert {reason.factor: reason.text for reason in prompt.reasons}["relationship_months"] == (
        "a customer for 8 months"
    )


def test_the_daily_run_fetches_scores_and_triggers(ledger) -> None:
    tables, ids = ledger
    con = tables.invoices.get_backend()
    last_reviews = ibis.memtable(
        {
            "customer_id": [ids["P"]],
            "last_reviewed_on": [AS_OF - timedelta(days=400)],
            "next_review_on": [AS_OF - timedelta(days=35)],
        }
    )
    result = daily_credit(tables, default_scorecard(), AS_OF, backend=con, last_reviews=last_reviews)
    scores = {row["customer_id"]: (row["score"], row["risk_class"]) for row in result.scores.to_pylist()}
    assert scores == {ids["P"]: (9, "A"), ids["L"]: (59, "D"), ids["N"]: (31, "C"), ids["B"]: (51, "D")}
    fired = [(row["customer_id"], row["code"]) for row in result.triggers.to_pylist()]
    # P's review day has come; B's bureau report shows derogatory events (news: none were known)
    assert sorted(fired) == sorted([(ids["P"], "scheduled"), (ids["B"], "derogatory_event")])
    assert ibis.options.sql.fuse_selects  # DuckDB compiles the run unfused, and puts the option back

"""The backtest: AUC by ranks (hand-computed, ties included), outcomes, and scores that know
nothing after their date."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from relance.engine.credit.backtest import auc_by_ranks, backtest
from relance.engine.credit.defaults import default_scorecard
from relance.engine.credit.factors import credit_scores_expr
from relance.engine.dunning.tables import create_dunning_tables
from tests.engine.dunning.rows import DunningRows

AS_OF = date(2026, 6, 1)


@pytest.mark.parametrize(
    ("scores", "labels", "expected"),
    [
        ([1, 2, 3, 4], [0, 0, 1, 1], 1.0),  # a perfect ranking
        ([4, 3, 2, 1], [0, 0, 1, 1], 0.0),  # inverted
        ([1, 2, 2, 3], [0, 1, 0, 1], 0.875),  # (2>1) + (2=2: ½) + (3>1) + (3>2) = 3.5 of 4
        ([5, 5, 5, 5], [0, 1, 0, 1], 0.5),  # all tied: chance
        ([10, 20, 30, 40, 50], [1, 0, 1, 0, 1], 0.5),  # 3 of 6 pairs ranked right
        ([3, 1, 2], [1, 0, 0], 1.0),
    ],
)
def test_auc_by_hand(scores, labels, expected) -> None:
    assert auc_by_ranks(scores, labels) == pytest.approx(expected)


def test_auc_needs_both_sides() -> None:
    assert auc_by_ranks([1, 2], [1, 1]) is None and auc_by_ranks([], []) is None


def _ledger() -> tuple[DunningRows, dict[str, int]]:
    """P pays on time and L 35 days late, before and after the date; N has nothing due after it."""
    rows = DunningRows()
    ids = {ref: rows.dunned_customer(ref) for ref in ("P", "L", "N")}
    for month in range(8):  # due 5 Jan … 2 Aug 2026
        due = date(2026, 1, 5) + timedelta(days=30 * month)
        for ref, late_by in (("P", 0), ("L", 35)):
            invoice = rows.invoice(100, due - timedelta(days=30), due, customer=ids[ref])
            rows.pay(invoice, 100, due + timedelta(days=late_by), customer=ids[ref])
    rows.invoice(100, date(2026, 1, 1), date(2026, 1, 31), customer=ids["N"])  # paid never; due before
    return rows, ids


def test_the_late_payer_outranks_the_prompt_one(backend) -> None:
    rows, _ = _ledger()
    tables = create_dunning_tables(backend({}).invoices.get_backend(), rows.rows())
    result = backtest(tables, default_scorecard(), AS_OF)
    assert (result.n, result.positives, result.auc, result.gini) == (2, 1, 1.0, 1.0)


def test_a_later_payment_does_not_change_the_score_at_the_date(backend) -> None:
    """Everything after the date is unknown then: paying the late customer's invoices on time
    afterwards changes the outcome, never the score."""
    rows, ids = _ledger()
    con = backend({}).invoices.get_backend()
    card = default_scorecard()

    def scores() -> dict[int, int]:
        tables = create_dunning_tables(con, rows.rows())
        return {
            row["customer_id"]: row["score"]
            for row in credit_scores_expr(tables, card, AS_OF).to_pyarrow().to_pylist()
        }

    before = scores()
    for allocation in rows.allocations:
        if allocation["date"] > AS_OF:
            allocation["date"] = AS_OF + timedelta(days=1)  # paid (much) earlier, but after the date
    rows.invoice(500, date(2026, 7, 1), date(2026, 7, 31), customer=ids["P"])  # issued after it
    assert scores() == before

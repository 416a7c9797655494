"""Does the scorecard rank customers well on the entity's own history? (``relance credit backtest``)

The score of every customer is computed **as of a past date** with only what was known then
(``credit_scores_expr`` reads nothing after its date: allocations, invoices, disputes, orders,
bureau reports and returned payments are all taken as of it). It is then set against what
happened next: a customer is **positive** when it paid at least half of its invoices due in
(as_of, as_of + horizon] late — after the due date, or not at all by as_of + horizon + grace.
Customers with no invoice due in the horizon are left out.

The ranking power is the **AUC** (the chance that a positive scores higher than a negative, ties
counting half: the Mann–Whitney statistic from average ranks, in numpy) and the **Gini**
(2 × AUC − 1). 0.5 / 0: no better than chance; 1 / 1: every positive above every negative.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import ibis
import numpy as np

from relance.engine.credit.exposure import flat
from relance.engine.credit.factors import credit_scores_expr
from relance.engine.credit.scorecard import Scorecard
from relance.engine.dunning.behaviour import invoice_frame
from relance.engine.dunning.contract import DunningTables

LATE_SHARE_POSITIVE = 0.5  # at least half of the horizon's invoices paid late


@dataclass(frozen=True)
class BacktestResult:
    as_of: date
    horizon_days: int
    auc: float | None  # None without both a positive and a negative
    gini: float | None
    n: int  # customers with an invoice due in the horizon
    positives: int


def auc_by_ranks(scores: Any, labels: Any) -> float | None:
    """The AUC of ``scores`` (higher = more likely positive) for boolean ``labels``: the
    Mann–Whitney U of the positives' average ranks over (positives × negatives); None when one
    side is empty."""
    values = np.asarray(scores, dtype="float64")
    positive = np.asarray(labels, dtype=bool)
    n_pos = int(positive.sum())
    n_neg = len(values) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    last = np.cumsum(counts)  # 1-based rank of each distinct value's last occurrence
    average = (last - counts + 1 + last) / 2.0  # ties get the average of their ranks
    ranks = average[inverse]
    u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def outcomes_expr(tables: DunningTables, as_of: date, horizon_days: int = 90, grace_days: int = 0) -> Any:
    """Per customer with an invoice due in (as_of, as_of + horizon]: ``due`` and ``late`` counts
    and ``positive`` (late ≥ half), judged with the ledger as of as_of + horizon + grace."""
    horizon = as_of + timedelta(days=horizon_days)
    frame = invoice_frame(tables, horizon + timedelta(days=grace_days))
    due = frame.filter(frame.due_date > as_of, frame.due_date <= horizon)
    late = ~due.paid | (due.paid_on > due.due_date)
    per_customer = due.group_by("customer_id").aggregate(
        due=due.count(), late=ibis.ifelse(late, 1, 0).sum().cast("int64")
    )
    return per_customer.mutate(
        positive=per_customer.late.cast("float64") >= per_customer.due.cast("float64") * LATE_SHARE_POSITIVE
    )


def backtest(
    tables: DunningTables,
    scorecard: Scorecard,
    as_of: date,
    horizon_days: int = 90,
    *,
    grace_days: int = 0,
    backend: Any = None,
) -> BacktestResult:
    """The scorecard's AUC and Gini at ``as_of`` against the next ``horizon_days``' late payers."""
    scores = flat(
        credit_scores_expr(tables, scorecard, as_of).select(_s_customer="customer_id", score="score")
    )
    outcomes = outcomes_expr(tables, as_of, horizon_days, grace_days)
    joined = outcomes.join(scores, outcomes.customer_id == scores._s_customer).select("score", "positive")
    arrow = joined.to_pyarrow() if backend is None else backend.to_pyarrow(joined)
    labels = arrow.column("positive").to_numpy(zero_copy_only=False).astype(bool)
    auc = auc_by_ranks(arrow.column("score").to_numpy(zero_copy_only=False), labels)
    return BacktestResult(
        as_of=as_of,
        horizon_days=horizon_days,
        auc=auc,
        gini=None if auc is None else 2 * auc - 1,
        n=arrow.num_rows,
        positives=int(labels.sum()),
    )

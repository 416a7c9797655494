"""The daily credit run's engine part: every customer scored, then the review triggers, fetched.

The scores are computed once and kept in a temporary table (a checkpointed view on Spark, the
fetched rows on SQLite) that the triggers query reads: one pass over the ledger for both. The app
stores the scores (one ``CreditScore`` per customer and day) and opens reviews from the triggers
(``relance.engine.credit.triggers.triggers_of_rows`` and ``propose``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from relance.engine.backends import is_spark
from relance.engine.credit.factors import credit_scores_expr
from relance.engine.credit.scorecard import Scorecard
from relance.engine.credit.triggers import DEFAULT_RULES, ReviewRules, review_triggers_expr
from relance.engine.dunning.contract import DunningTables


@dataclass(frozen=True)
class DailyCredit:
    """``scores``: ``credit_scores_expr``'s columns, one row per customer (by customer_id);
    ``triggers``: ``review_triggers_expr``'s, one row per (customer, trigger)."""

    as_of: date
    scores: pa.Table
    triggers: pa.Table


def daily_credit(
    tables: DunningTables,
    scorecard: Scorecard,
    as_of: date,
    *,
    backend: Any,
    previous_scores: ir.Table | None = None,
    last_reviews: ir.Table | None = None,
    rules: ReviewRules = DEFAULT_RULES,
    include_open_orders: bool = True,
) -> DailyCredit:
    """Score every customer of ``tables`` as of ``as_of`` and find the review triggers, on ``backend``."""
    expr = credit_scores_expr(tables, scorecard, as_of, include_open_orders=include_open_orders)
    name = f"relance_credit_scores_{uuid.uuid4().hex[:12]}"
    if backend.name == "sqlite":
        arrow = backend.to_pyarrow(expr)
        scores, drop = ibis.memtable(arrow), None
    elif is_spark(backend):
        from relance.engine import spark

        name, scores = spark.materialise(backend, "credit_scores", expr)
        drop = lambda: spark.drop(backend, name)  # noqa: E731
    else:
        scores = backend.create_table(name, expr, temp=True)

        def drop() -> None:  # plain SQL, as decide's: Ibis's DROP is mis-rendered by some sqlglots
            result = backend.raw_sql(f'DROP TABLE IF EXISTS "{name}"')
            if backend.name != "duckdb":  # DuckDB hands back the connection, not a cursor
                result.close()

    try:
        triggers_expr = review_triggers_expr(
            tables, scores, previous_scores, as_of, rules, last_reviews=last_reviews
        )
        triggers = backend.to_pyarrow(triggers_expr.order_by("customer_id", "trigger"))
        if backend.name != "sqlite":
            arrow = backend.to_pyarrow(scores.order_by("customer_id"))
    finally:
        if drop is not None:
            drop()
    return DailyCredit(as_of=as_of, scores=arrow, triggers=triggers)

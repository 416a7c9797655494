"""The daily credit run's engine part: every customer scored, then the review triggers, fetched.

The scores are computed once and kept in a temporary table (a checkpointed view on Spark, the
fetched rows on SQLite) that the triggers query reads: one pass over the ledger for both. The app
stores the scores (one ``CreditScore`` per customer and day) and opens reviews from the triggers
(``relance.engine.credit.triggers.trigger_of_row`` and ``propose``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from relance.engine.backends import is_spark
from relance.engine.credit.factors import credit_scores_expr
from relance.engine.credit.scorecard import Scorecard
from relance.engine.credit.triggers import (
    BEHAVIOUR_STATE_SCHEMA,
    REVIEW_STATE_SCHEMA,
    THRESHOLDS,
    ReviewThresholds,
    review_triggers_expr,
)
from relance.engine.dunning.contract import DunningTables


@dataclass(frozen=True)
class DailyCredit:
    """``scores``: ``credit_scores_expr``'s columns, one row per customer (by customer_id);
    ``triggers``: ``review_triggers_expr``'s, one row per (customer, trigger code)."""

    as_of: date
    scores: pa.Table
    triggers: pa.Table


def review_state_expr(
    scores: ir.Table,
    previous_scores: ir.Table | None = None,
    last_reviews: ir.Table | None = None,
    credit_holds: ir.Table | None = None,
    behaviour: ir.Table | None = None,
) -> ir.Table:
    """The review state (``REVIEW_STATE_SCHEMA``) of every scored customer, in SQL: today's scores
    and facts beside the previous scoring day's (``previous_scores``: the same columns), the last
    and next review days (``last_reviews``: customer_id, last_reviewed_on, next_review_on) and the
    customers under a credit hold (``credit_holds``: customer_id).

    ``behaviour``: customer_id and the ``BEHAVIOUR_STATE_SCHEMA`` columns (the pay-behaviour
    verdicts of ``relance.ml.behaviour.behaviour_state``); with it the state carries them too and
    ``pay_behaviour_changed`` can fire (a customer without a row: no change)."""
    own_limit = scores.limit_holder_id == scores.customer_id  # a child is reviewed on its parent
    state = scores.select(
        customer_id=scores.customer_id,
        currency=scores.currency,
        credit_limit=ibis.ifelse(own_limit, scores.credit_limit, ibis.null("decimal(18, 4)")),
        exposure=scores.exposure,
        utilisation=ibis.ifelse(own_limit, scores.utilisation, ibis.null("float64")),
        score=scores.score.cast("int64"),
        risk_class=scores.risk_class,
        broken_promises=scores.broken_promises,
        days_beyond_terms=scores.days_beyond_terms,
        relationship_months=scores.relationship_months,
        derogatory_events=scores.derogatory_events.cast("int64"),
        bureau_score=scores.bureau_score,
        terms_days=scores.payment_terms_days.cast("int64"),
    )
    if previous_scores is not None:
        before = previous_scores.select(
            _p_customer="customer_id",
            previous_utilisation="utilisation",
            previous_score=previous_scores.score.cast("int64"),
            previous_class="risk_class",
            previous_broken_promises="broken_promises",
            previous_derogatory_events=previous_scores.derogatory_events.cast("int64"),
            previous_bureau_score="bureau_score",
        )
        state = state.left_join(before, state.customer_id == before._p_customer).drop("_p_customer")
    else:
        state = state.mutate(
            previous_utilisation=ibis.null("float64"),
            previous_score=ibis.null("int64"),
            previous_class=ibis.null("string"),
            previous_broken_promises=ibis.null("float64"),
            previous_derogatory_events=ibis.null("int64"),
            previous_bureau_score=ibis.null("float64"),
        )
    if credit_holds is not None:
        held = credit_holds.select(_h_customer="customer_id").distinct()
        state = state.left_join(held, state.customer_id == held._h_customer)
        state = state.mutate(credit_hold=state._h_customer.notnull()).drop("_h_customer")
    else:
        state = state.mutate(credit_hold=ibis.literal(False))
    if last_reviews is not None:
        reviews = last_reviews.select(
            _r_customer="customer_id", last_reviewed_on="last_reviewed_on", next_review_on="next_review_on"
        )
        state = state.left_join(reviews, state.customer_id == reviews._r_customer).drop("_r_customer")
    else:
        state = state.mutate(last_reviewed_on=ibis.null("date"), next_review_on=ibis.null("date"))
    if behaviour is None:
        return state.select(*REVIEW_STATE_SCHEMA)
    verdicts = behaviour.select(
        _b_customer=behaviour.customer_id.cast("int64"),
        **{name: behaviour[name].cast(kind) for name, kind in BEHAVIOUR_STATE_SCHEMA.items()},
    )
    state = state.left_join(verdicts, state.customer_id == verdicts._b_customer).drop("_b_customer")
    return state.select(*REVIEW_STATE_SCHEMA, *BEHAVIOUR_STATE_SCHEMA)


def daily_credit(
    tables: DunningTables,
    scorecard: Scorecard,
    as_of: date,
    *,
    backend: Any,
    previous_scores: ir.Table | None = None,
    last_reviews: ir.Table | None = None,
    credit_holds: ir.Table | None = None,
    thresholds: ReviewThresholds = THRESHOLDS,
    include_open_orders: bool = True,
    behaviour: ir.Table | None = None,
) -> DailyCredit:
    """Score every customer of ``tables`` as of ``as_of`` and find the review triggers, on ``backend``
    (the scores kept in a temporary table that the triggers query reads). ``behaviour``: the
    pay-behaviour verdicts (``review_state_expr``), for the ``pay_behaviour_changed`` trigger."""
    with _selects_unfused(backend.name == "duckdb"):
        return _daily_credit(
            tables,
            scorecard,
            as_of,
            backend=backend,
            previous_scores=previous_scores,
            last_reviews=last_reviews,
            credit_holds=credit_holds,
            thresholds=thresholds,
            include_open_orders=include_open_orders,
            behaviour=behaviour,
        )


@contextmanager
def _selects_unfused(unfused: bool) -> Iterator[None]:
    """Compile without Ibis's fusing of consecutive selects (``ibis.options.sql.fuse_selects``).
    Fusing weighs every candidate merge by the expression's complexity: for the scores' large
    expression that was ≈ 0.8 s of a 1M-invoice run's 3.1 s of CPU, for SQL DuckDB's optimiser
    flattens anyway (same scores and triggers; docs/benchmarks.md, "Credit scoring"). Only where
    measured: DuckDB (SQLite's parser has a depth limit that nesting would reach sooner)."""
    before = ibis.options.sql.fuse_selects
    if unfused:
        ibis.options.sql.fuse_selects = False
    try:
        yield
    finally:
        ibis.options.sql.fuse_selects = before


def _daily_credit(
    tables: DunningTables,
    scorecard: Scorecard,
    as_of: date,
    *,
    backend: Any,
    previous_scores: ir.Table | None,
    last_reviews: ir.Table | None,
    credit_holds: ir.Table | None,
    thresholds: ReviewThresholds,
    include_open_orders: bool,
    behaviour: ir.Table | None,
) -> DailyCredit:
    expr = credit_scores_expr(tables, scorecard, as_of, include_open_orders=include_open_orders)
    name = f"relance_credit_scores_{uuid.uuid4().hex[:12]}"
    drop: Any = None
    if backend.name == "sqlite":
        arrow = backend.to_pyarrow(expr)
        scores = ibis.memtable(arrow)
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
        state = review_state_expr(scores, previous_scores, last_reviews, credit_holds, behaviour)
        triggers_expr = review_triggers_expr(state, as_of, thresholds)
        triggers = backend.to_pyarrow(triggers_expr.order_by("customer_id", "code"))
        if backend.name != "sqlite":
            arrow = backend.to_pyarrow(scores.order_by("customer_id"))
    finally:
        if drop is not None:
            drop()
    return DailyCredit(as_of=as_of, scores=arrow, triggers=triggers)

"""A customer's credit factors as of a date, from the ledger and the case records.

The behavioural factors are the payment behaviour the dunning run already measures
(``relance.engine.dunning.behaviour.customer_behaviour_expr``: one home for "paid late", "days
late" and the trend), read as the scorecard's factors:

* ``days_beyond_terms``: the amount-weighted days paid after the due date (early counts 0) of the
  invoices due in the year to the date and paid in full; unknown when none was paid;
* ``days_beyond_terms_trend``: the same over invoices paid in the last 90 days less the 90 days
  before (positive: getting worse); unknown unless both have some;
* ``late_share``: the share of those invoices paid late, in percent; unknown when none was paid;
* ``broken_promises`` and ``disputes``: broken promises and disputes opened in the year;
* ``utilisation``: open amount over the credit limit, in percent; unknown without a limit;
* ``relationship_months``: whole calendar months since the customer's first invoice; unknown
  without one.

``returned_payments`` and the bureau factors are unknown until the ledger records returned
payments and bureau reports exist (issue 15's next increments): the scorecard's ``missing`` band
says so in the customer's reasons.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir

from relance.engine.credit.scorecard import FACTOR_KINDS, Scorecard, score_table
from relance.engine.dunning.behaviour import customer_behaviour_expr
from relance.engine.dunning.contract import DunningTables
from relance.engine.kpi import not_void

UNKNOWN_YET = ("returned_payments", "bureau_score", "derogatory_events", "bureau_limit_ratio")


def _unknown() -> ir.FloatingValue:
    return ibis.null("float64")


def credit_factors_expr(tables: DunningTables, as_of: date, *, backend: Any = None) -> ir.Table:
    """One row per customer: ``customer_id`` and a float64 column per factor (NULL: unknown).

    ``backend``: the one to run on when the tables are unbound (the app database's binding)."""
    behaviour = customer_behaviour_expr(tables, as_of)
    backend = backend if backend is not None else tables.invoices.get_backend()
    if backend.name == "sqlite":
        # The behaviour query is at SQLite's parser depth (one more layer, even an INSERT …
        # SELECT of it, overflows): read it, then score its rows as an in-memory table.
        behaviour = ibis.memtable(backend.to_pyarrow(behaviour))
    invoices = tables.invoices.filter(not_void(tables.invoices, as_of), tables.invoices.issue_date <= as_of)
    first = invoices.group_by(_f_customer="customer_id").aggregate(first_issue=invoices.issue_date.min())
    joined = behaviour.left_join(first, behaviour.customer_id == first._f_customer)
    paid = joined.paid_invoices > 0
    first_issue = joined.first_issue
    months = (as_of.year - first_issue.year()) * 12 + (as_of.month - first_issue.month())
    whole_months = months - ibis.ifelse(first_issue.day() > as_of.day, 1, 0)  # calendar months
    factors = {
        "days_beyond_terms": ibis.ifelse(paid, joined.weighted_days_late, _unknown()),
        "days_beyond_terms_trend": joined.dbt_trend.cast("float64"),
        "late_share": ibis.ifelse(paid, joined.share_late * 100.0, _unknown()),
        "broken_promises": joined.promises_broken.cast("float64"),
        "disputes": joined.disputes_opened.cast("float64"),
        "utilisation": (joined.utilisation * 100.0).cast("float64"),
        "relationship_months": whole_months.cast("float64"),
        **{key: _unknown() for key in UNKNOWN_YET},
    }
    if set(factors) != set(FACTOR_KINDS):
        raise AssertionError("every factor kind needs a column here")
    return joined.select("customer_id", **factors)


def credit_scores_expr(
    tables: DunningTables, card: Scorecard, as_of: date, *, backend: Any = None
) -> ir.Table:
    """Every customer's factors, bands, points, score and class as of ``as_of``: the daily scoring."""
    return score_table(card, credit_factors_expr(tables, as_of, backend=backend))

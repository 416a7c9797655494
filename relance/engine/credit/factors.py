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
* ``utilisation``: the exposure over the credit limit it is measured against, in percent
  (``relance.engine.credit.exposure``: open receivables + unbilled orders, converted, rolled up
  to the parent's limit); unknown without a limit;
* ``relationship_months``: whole calendar months since the customer's first invoice; unknown
  without one;
* ``returned_payments``: payments returned unpaid in the year to the date; unknown without a
  ``returned_payments`` table;
* ``bureau_score``, ``derogatory_events``: from the latest bureau report on or before the date;
  ``bureau_limit_ratio``: the limit it is measured against over the report's recommended limit,
  in percent. Unknown without a report (or a recommended limit).

Nothing after the date is read: allocations, invoices, disputes, orders, reports and returns are
all taken as of it. (Promise statuses and the credit limit are read as they are now: the ledger
keeps no history of them.)
"""

from __future__ import annotations

from datetime import date, timedelta

import ibis
import ibis.expr.types as ir

from relance.engine.credit.exposure import exposure_expr, flat, money
from relance.engine.credit.scorecard import FACTOR_KINDS, Scorecard, score_table
from relance.engine.dunning.behaviour import LOOKBACK_DAYS, behaviour_by_currency, customer_behaviour_expr
from relance.engine.dunning.contract import DunningTables
from relance.engine.schema import money_units

# The other columns of the factors table: what the review triggers and proposals read.
FACT_COLUMNS = (
    "limit_holder_id",
    "currency",
    "credit_limit",
    "exposure",
    "available",
    "missing_rate",
    "recommended_limit",
    "bureau_reported_on",
    "payment_terms_days",
)


def _unknown() -> ir.FloatingValue:
    return ibis.null("float64")


def latest_bureau_reports(tables: DunningTables, as_of: date) -> ir.Table | None:
    """Each customer's latest bureau report on or before ``as_of`` (None without the table)."""
    reports = tables.bureau_reports
    if reports is None:
        return None
    known = reports.filter(reports.reported_on <= as_of)
    last = known.group_by(_l_customer="customer_id").aggregate(_l_on=known.reported_on.max())
    latest = known.join(last, (known.customer_id == last._l_customer) & (known.reported_on == last._l_on))
    # two reports of one day: the riskier reading of each
    return latest.group_by(_b_customer="customer_id").aggregate(
        bureau_reported_on=latest.reported_on.max(),
        bureau_score=latest.bureau_score.min(),
        derogatory_events=latest.derogatory_events.max(),
        recommended_units=money_units(latest.recommended_limit).min(),
    )


def credit_factors_expr(tables: DunningTables, as_of: date, *, include_open_orders: bool = True) -> ir.Table:
    """One row per customer: ``customer_id``, a float64 column per factor (NULL: unknown) and the
    ``FACT_COLUMNS`` (limit, exposure, bureau recommendation) the reviews read."""
    # One pass over the invoices for the behaviour and the exposure. SQLite: the behaviour query is
    # at its parser's depth (one more layer overflows): each part is read first there (``flat``).
    by_currency = flat(behaviour_by_currency(tables, as_of))
    behaviour = flat(customer_behaviour_expr(tables, as_of, by_currency=by_currency))
    receivables = by_currency.filter(by_currency.open_units > 0).select(
        "customer_id", "currency", receivable_units="open_units"
    )
    exposure = flat(
        exposure_expr(tables, as_of, include_open_orders=include_open_orders, receivables=receivables)
    )
    exposure = exposure.rename(_e_customer="customer_id", _e_utilisation="utilisation")
    joined = behaviour.left_join(exposure, behaviour.customer_id == exposure._e_customer)
    bureau = latest_bureau_reports(tables, as_of)
    if bureau is not None:
        joined = joined.left_join(bureau, joined.customer_id == bureau._b_customer)
    returned = tables.returned_payments
    if returned is not None:
        start = as_of - timedelta(days=LOOKBACK_DAYS)
        recent = returned.filter(returned.returned_on <= as_of, returned.returned_on > start)
        per_customer = recent.group_by(_r_customer="customer_id").aggregate(_r_count=recent.count())
        joined = joined.left_join(per_customer, joined.customer_id == per_customer._r_customer)
    paid = joined.paid_invoices > 0
    first_issue = joined.first_issue
    months = (as_of.year - first_issue.year()) * 12 + (as_of.month - first_issue.month())
    whole_months = months - ibis.ifelse(first_issue.day() > as_of.day, 1, 0)  # calendar months
    limit_units = money_units(joined.credit_limit)
    if bureau is not None:
        recommended = joined.recommended_units
        bureau_factors = {
            "bureau_score": joined.bureau_score.cast("float64"),
            "derogatory_events": joined.derogatory_events.cast("float64"),
            "bureau_limit_ratio": ibis.ifelse(
                recommended > 0,
                limit_units.cast("float64") * 100.0 / recommended.cast("float64"),
                _unknown(),
            ),
        }
        bureau_facts = {
            "recommended_limit": money(recommended),
            "bureau_reported_on": joined.bureau_reported_on,
        }
    else:
        bureau_factors = {
            key: _unknown() for key in ("bureau_score", "derogatory_events", "bureau_limit_ratio")
        }
        bureau_facts = {
            "recommended_limit": ibis.null("decimal(18, 4)"),
            "bureau_reported_on": ibis.null("date"),
        }
    factors = {
        "days_beyond_terms": ibis.ifelse(paid, joined.weighted_days_late, _unknown()),
        "days_beyond_terms_trend": joined.dbt_trend.cast("float64"),
        "late_share": ibis.ifelse(paid, joined.share_late * 100.0, _unknown()),
        "broken_promises": joined.promises_broken.cast("float64"),
        "disputes": joined.disputes_opened.cast("float64"),
        "utilisation": joined._e_utilisation.cast("float64"),
        "relationship_months": whole_months.cast("float64"),
        "returned_payments": (
            joined._r_count.fill_null(0).cast("float64") if returned is not None else _unknown()
        ),
        **bureau_factors,
    }
    if set(factors) != set(FACTOR_KINDS):
        raise AssertionError("every factor kind needs a column here")
    facts = {
        "limit_holder_id": joined.limit_holder_id,
        "currency": joined.currency,
        "credit_limit": joined.credit_limit,
        "exposure": joined.exposure,
        "available": joined.available,
        "missing_rate": joined.missing_rate.fill_null(False),
        **bureau_facts,
        "payment_terms_days": joined.payment_terms_days,
    }
    return joined.select("customer_id", **factors, **facts)


def credit_scores_expr(
    tables: DunningTables, card: Scorecard, as_of: date, *, include_open_orders: bool = True
) -> ir.Table:
    """Every customer's factors, bands, points, score and class as of ``as_of``: the daily scoring
    (with the ``FACT_COLUMNS`` the review triggers read)."""
    factors = credit_factors_expr(tables, as_of, include_open_orders=include_open_orders)
    return score_table(card, factors)

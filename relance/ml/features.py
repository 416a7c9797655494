"""The features of an open invoice **as known at the end of a date**, built with Ibis over the
engine's tables (``DunningTables``: the ledger plus promises, disputes and contacts), so they run
on the app database, DuckDB and Spark like the dunning engine.

Every read is cut at the date ``at``: invoices issued by it and not void then, allocations dated by
it, disputes opened by it, promises made by it, contacts made by it, credit scores computed by it.
Nothing dated later can change a feature (tests/ml/test_leakage.py). The same function builds the
training rows (at past snapshot dates) and the rows predicted (at the as-of date): a training row
is exactly what a prediction at its date would have seen.

SQL computes sums and counts only; ratios, square roots and the calendar columns are taken in
numpy after the fetch (``finish``): SQLite divides integers as integers and has no ``sqrt`` unless
built with its math functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from relance.engine.days import backend_name, day_number
from relance.engine.dunning.behaviour import invoice_frame
from relance.engine.dunning.contract import DunningTables
from relance.engine.schema import MONEY_SCALE

LOOKBACK_DAYS = 365  # the customer's history counted: invoices settled in the year to the date
TREND_DAYS = 90  # trend: the last 90 days' days late against the 90 before
CONTACT_DAYS = 90  # contacts counted in the 90 days to the date
PROMISE_OUTCOME_DAYS = 14  # a promise's written outcome is read once its date is this far past

# Credit scores: one row per customer and scoring day (the credit app's daily table, bound by
# ``relance.predict.binding``); optional.
CREDIT_SCORES = ibis.schema({"customer_id": "int64", "as_of": "date", "score": "float64"})


@dataclass(frozen=True)
class Feature:
    """A model input: its column and what it is, in the words of the model card."""

    name: str
    description: str


# The model's inputs, in the order of its matrix (docs/predict.md lists them with this text).
FEATURES = (
    Feature("age_days", "days since the invoice was issued"),
    Feature("days_to_due", "days from the date to the due date (negative: past due)"),
    Feature("terms_days", "payment terms: due date minus issue date"),
    Feature("log_amount", "log of the invoice amount"),
    Feature("open_share", "share of the invoice still open"),
    Feature("amount_vs_usual", "amount over the customer's mean invoice amount of the year"),
    Feature("due_day_of_month", "day of the month of the due date"),
    Feature("due_quarter_end", "due in the last 10 days of a quarter"),
    Feature("cust_paid", "invoices the customer settled in the year"),
    Feature("cust_days_to_pay", "customer's recency-weighted mean days from issue to payment"),
    Feature(
        "cust_days_left",
        "customer's mean days from issue to payment minus the invoice's age (the baseline's pay date)",
    ),
    Feature("cust_days_late", "customer's recency-weighted mean days late (negative: early)"),
    Feature("cust_share_late", "customer's recency-weighted share of invoices paid late"),
    Feature("cust_late_sd", "standard deviation of the customer's days late"),
    Feature("cust_trend", "customer's mean days late of the last 90 days minus the 90 before"),
    Feature("cust_open_count", "customer's open invoices"),
    Feature("cust_log_open", "log of the customer's open balance"),
    Feature("cust_overdue_share", "share of the customer's open balance past due"),
    Feature("disputed", "the invoice is under an open dispute"),
    Feature("cust_disputes", "disputes the customer opened in the year"),
    Feature("promised", "the invoice is under a running promise to pay"),
    Feature("cust_promises", "promises the customer made in the year"),
    Feature("cust_promises_broken", "of those, broken"),
    Feature("contacts_90d", "contacts made with the customer in the last 90 days"),
    Feature("days_since_contact", "days since the customer was last contacted (-1: never)"),
    Feature("credit_score", "the customer's latest credit score (-1: none)"),
)
FEATURE_NAMES = tuple(feature.name for feature in FEATURES)

# The columns ``open_invoice_features`` hands over besides the features.
ID_COLUMNS = ("invoice_id", "customer_id", "currency", "issue_date", "due_date", "amount_units", "open_units")


def already_late(rows: pd.DataFrame) -> np.ndarray[Any, Any]:
    """Still open at the end of its due date: it can only be paid late (p_late is 1, a fact)."""
    return np.asarray(rows["days_to_due"].to_numpy(dtype="float64") <= 0)


def _days(later: ir.Value, earlier: ir.Value, dialect: str | None) -> ir.IntegerValue:
    return (day_number(later, dialect) - day_number(earlier, dialect)).cast("int64")


def _lit(value: date) -> ir.Value:
    return ibis.literal(value, type="date")


def _customer_history(tables: DunningTables, at: date, dialect: str | None) -> ir.Table:
    """Sums over the invoices the customer settled in the year to ``at`` (by ``at``), weighted by
    recency: a payment on ``at`` weighs 1, one a year before 0 (linear; portable SQL)."""
    frame = invoice_frame(tables, at)
    start = at - timedelta(days=LOOKBACK_DAYS)
    settled = frame.filter(frame.paid, frame.paid_on > start)
    age = _days(_lit(at), settled.paid_on, dialect).cast("float64")
    weight = 1.0 - age / float(LOOKBACK_DAYS)
    days_to_pay = _days(settled.paid_on, settled.issue_date, dialect).cast("float64")
    late = settled.days_late_raw.cast("float64")
    recent = settled.paid_on > _lit(at - timedelta(days=TREND_DAYS))
    previous = (settled.paid_on > _lit(at - timedelta(days=2 * TREND_DAYS))) & ~recent
    return settled.group_by(_h_customer=settled.customer_id).aggregate(
        h_paid=settled.count(),
        h_weight=weight.sum(),
        h_dtp=(weight * days_to_pay).sum(),
        h_late=(weight * late).sum(),
        h_late_count=(weight * ibis.ifelse(late > 0, 1.0, 0.0)).sum(),
        h_late_plain=late.sum(),
        h_late_n=ibis.ifelse(late > 0, 1, 0).sum().cast("int64"),
        h_dtp_plain=days_to_pay.sum(),
        h_late_sq=(late * late).sum(),
        h_recent_n=ibis.ifelse(recent, 1, 0).sum().cast("int64"),
        h_recent_late=ibis.ifelse(recent, late, 0.0).sum(),
        h_previous_n=ibis.ifelse(previous, 1, 0).sum().cast("int64"),
        h_previous_late=ibis.ifelse(previous, late, 0.0).sum(),
    )


def _customer_amounts(frame: ir.Table, at: date) -> ir.Table:
    """The customer's invoices issued in the year to ``at`` (count and amount) and its open and
    overdue balance at ``at``."""
    start = at - timedelta(days=LOOKBACK_DAYS)
    in_year = frame.issue_date > _lit(start)
    is_open = frame.open_units > 0
    return frame.group_by(_a_customer=frame.customer_id).aggregate(
        a_issued=ibis.ifelse(in_year, 1, 0).sum().cast("int64"),
        a_issued_units=ibis.ifelse(in_year, frame.amount_units, 0).sum().cast("int64"),
        a_open_count=ibis.ifelse(is_open, 1, 0).sum().cast("int64"),
        a_open_units=ibis.ifelse(is_open, frame.open_units, 0).sum().cast("int64"),
        a_overdue_units=ibis.ifelse(is_open & (frame.days_past_due > 0), frame.open_units, 0)
        .sum()
        .cast("int64"),
    )


def _disputes(tables: DunningTables, at: date) -> tuple[ir.Table, ir.Table]:
    """Invoices under a dispute open at the end of ``at``; disputes per customer opened in the year."""
    disputes = tables.disputes.filter(tables.disputes.opened_on <= _lit(at))
    open_now = disputes.filter(disputes.resolved_on.isnull() | (disputes.resolved_on > _lit(at)))
    by_invoice = open_now.select(_d_invoice=open_now.invoice_id).distinct()
    in_year = disputes.filter(disputes.opened_on > _lit(at - timedelta(days=LOOKBACK_DAYS)))
    by_customer = in_year.group_by(_d_customer=in_year.customer_id).aggregate(
        d_count=in_year.count().cast("int64")
    )
    return by_invoice, by_customer


def _promises(tables: DunningTables, at: date) -> tuple[ir.Table, ir.Table]:
    """Invoices under a running promise at ``at``; promises per customer made in the year and, of
    those whose outcome was known by ``at`` (promised date ``PROMISE_OUTCOME_DAYS`` before it),
    the broken ones."""
    promises = tables.promises.filter(tables.promises.created_on <= _lit(at))
    running = promises.filter(promises.promised_date >= _lit(at), promises.status != "cancelled")
    links = tables.promise_invoices
    by_invoice = (
        running.join(links, running.promise_id == links.promise_id)
        .select(_p_invoice=links.invoice_id)
        .distinct()
    )
    in_year = promises.filter(promises.created_on > _lit(at - timedelta(days=LOOKBACK_DAYS)))
    known = in_year.promised_date < _lit(at - timedelta(days=PROMISE_OUTCOME_DAYS))
    by_customer = in_year.group_by(_p_customer=in_year.customer_id).aggregate(
        p_count=in_year.count().cast("int64"),
        p_broken=ibis.ifelse(known & (in_year.status == "broken"), 1, 0).sum().cast("int64"),
    )
    return by_invoice, by_customer


def _contacts(tables: DunningTables, at: date, dialect: str | None) -> ir.Table:
    history = tables.contact_history
    made = history.filter(history.is_contact, history.date <= _lit(at))
    recent = made.date > _lit(at - timedelta(days=CONTACT_DAYS))
    return made.group_by(_c_customer=made.customer_id).aggregate(
        c_recent=ibis.ifelse(recent, 1, 0).sum().cast("int64"),
        c_since=_days(_lit(at), made.date.max(), dialect),
    )


def _scores(credit_scores: ir.Table, at: date) -> ir.Table:
    """Each customer's latest score computed on or before ``at``."""
    known = credit_scores.filter(credit_scores.as_of <= _lit(at))
    latest = known.group_by(_l_customer=known.customer_id).aggregate(_l_on=known.as_of.max())
    joined = known.join(latest, (known.customer_id == latest._l_customer) & (known.as_of == latest._l_on))
    return joined.group_by(_s_customer=joined.customer_id).aggregate(s_score=joined.score.max())


def open_invoice_features(
    tables: DunningTables, at: date, *, credit_scores: ir.Table | None = None, sample: int | None = None
) -> ir.Table:
    """One row per invoice open at the end of ``at``: ``ID_COLUMNS`` and the raw sums behind
    ``FEATURES`` (``finish`` turns them into the features).

    ``sample``: keep about one invoice in ``sample`` (by a hash of its id: the same invoices on
    every backend and every run), for training on a large ledger.
    """
    dialect = backend_name(tables.invoices)
    frame = invoice_frame(tables, at)
    open_invoices = frame.filter(frame.open_units > 0)
    if sample is not None and sample > 1:
        open_invoices = open_invoices.filter((open_invoices.invoice_id * 7919 + 17) % sample == 0)
    rows = open_invoices.select(
        *ID_COLUMNS,
        age_days=_days(_lit(at), open_invoices.issue_date, dialect),
        days_to_due=_days(open_invoices.due_date, _lit(at), dialect),
        terms_days=_days(open_invoices.due_date, open_invoices.issue_date, dialect),
    )
    history = _customer_history(tables, at, dialect)
    amounts = _customer_amounts(frame, at)
    disputed, customer_disputes = _disputes(tables, at)
    promised, customer_promises = _promises(tables, at)
    contacts = _contacts(tables, at, dialect)
    rows = rows.left_join(history, rows.customer_id == history._h_customer)
    rows = rows.left_join(amounts, rows.customer_id == amounts._a_customer)
    rows = rows.left_join(disputed, rows.invoice_id == disputed._d_invoice)
    rows = rows.left_join(customer_disputes, rows.customer_id == customer_disputes._d_customer)
    rows = rows.left_join(promised, rows.invoice_id == promised._p_invoice)
    rows = rows.left_join(customer_promises, rows.customer_id == customer_promises._p_customer)
    rows = rows.left_join(contacts, rows.customer_id == contacts._c_customer)
    extra: dict[str, Any] = {}
    if credit_scores is not None:
        scores = _scores(credit_scores, at)
        rows = rows.left_join(scores, rows.customer_id == scores._s_customer)
        extra["s_score"] = rows.s_score
    else:
        extra["s_score"] = ibis.null("float64")
    return rows.select(
        *ID_COLUMNS,
        "age_days",
        "days_to_due",
        "terms_days",
        h_paid=rows.h_paid.fill_null(0),
        h_weight=rows.h_weight.fill_null(0.0),
        h_dtp=rows.h_dtp.fill_null(0.0),
        h_late=rows.h_late.fill_null(0.0),
        h_late_count=rows.h_late_count.fill_null(0.0),
        h_late_plain=rows.h_late_plain.fill_null(0.0),
        h_late_n=rows.h_late_n.fill_null(0),
        h_dtp_plain=rows.h_dtp_plain.fill_null(0.0),
        h_late_sq=rows.h_late_sq.fill_null(0.0),
        h_recent_n=rows.h_recent_n.fill_null(0),
        h_recent_late=rows.h_recent_late.fill_null(0.0),
        h_previous_n=rows.h_previous_n.fill_null(0),
        h_previous_late=rows.h_previous_late.fill_null(0.0),
        a_issued=rows.a_issued.fill_null(0),
        a_issued_units=rows.a_issued_units.fill_null(0),
        a_open_count=rows.a_open_count.fill_null(0),
        a_open_units=rows.a_open_units.fill_null(0),
        a_overdue_units=rows.a_overdue_units.fill_null(0),
        disputed=rows._d_invoice.notnull(),
        d_count=rows.d_count.fill_null(0),
        promised=rows._p_invoice.notnull(),
        p_count=rows.p_count.fill_null(0),
        p_broken=rows.p_broken.fill_null(0),
        c_recent=rows.c_recent.fill_null(0),
        c_since=rows.c_since,
        **extra,
    )


def _ratio(numerator: Any, denominator: Any, default: float = 0.0) -> np.ndarray[Any, Any]:
    numerator = np.asarray(numerator, dtype="float64")
    denominator = np.asarray(denominator, dtype="float64")
    out = np.full(numerator.shape, default, dtype="float64")
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def finish(raw: pd.DataFrame) -> pd.DataFrame:
    """``open_invoice_features``' fetched rows as ``ID_COLUMNS`` + ``FEATURE_NAMES`` (float64), plus
    ``cust_paid_plain`` and ``cust_share_late_plain`` (the baseline's unweighted history)."""
    out = pd.DataFrame({name: raw[name].to_numpy() for name in ID_COLUMNS})
    out["issue_date"] = pd.to_datetime(raw["issue_date"]).dt.date
    out["due_date"] = pd.to_datetime(raw["due_date"]).dt.date
    amount = raw["amount_units"].to_numpy(dtype="float64")
    open_units = raw["open_units"].to_numpy(dtype="float64")
    due = pd.to_datetime(raw["due_date"])
    paid = raw["h_paid"].to_numpy(dtype="float64")
    late_mean = _ratio(raw["h_late_plain"], paid)
    late_var = _ratio(raw["h_late_sq"], paid) - late_mean**2
    recent = _ratio(raw["h_recent_late"], raw["h_recent_n"], np.nan)
    previous = _ratio(raw["h_previous_late"], raw["h_previous_n"], np.nan)
    trend = np.where(np.isnan(recent) | np.isnan(previous), 0.0, recent - previous)
    usual = _ratio(raw["a_issued_units"], raw["a_issued"])
    out["age_days"] = raw["age_days"].to_numpy(dtype="float64")
    out["days_to_due"] = raw["days_to_due"].to_numpy(dtype="float64")
    out["terms_days"] = raw["terms_days"].to_numpy(dtype="float64")
    out["log_amount"] = np.log1p(amount / MONEY_SCALE)
    out["open_share"] = _ratio(open_units, amount, 1.0)
    out["amount_vs_usual"] = _ratio(amount, usual, 1.0)
    out["due_day_of_month"] = due.dt.day.to_numpy(dtype="float64")
    quarter_end = due.dt.month.isin([3, 6, 9, 12]) & (due.dt.day > due.dt.days_in_month - 10)
    out["due_quarter_end"] = quarter_end.to_numpy(dtype="float64")
    out["cust_paid"] = paid
    out["cust_days_to_pay"] = _ratio(raw["h_dtp"], raw["h_weight"], np.nan)
    out["cust_days_left"] = _ratio(raw["h_dtp_plain"], paid, np.nan) - out["age_days"].to_numpy()
    out["cust_days_late"] = _ratio(raw["h_late"], raw["h_weight"], np.nan)
    out["cust_share_late"] = _ratio(raw["h_late_count"], raw["h_weight"], np.nan)
    out["cust_late_sd"] = np.where(paid > 1, np.sqrt(np.maximum(late_var, 0.0)), np.nan)
    out["cust_trend"] = trend
    out["cust_open_count"] = raw["a_open_count"].to_numpy(dtype="float64")
    out["cust_log_open"] = np.log1p(raw["a_open_units"].to_numpy(dtype="float64") / MONEY_SCALE)
    out["cust_overdue_share"] = _ratio(raw["a_overdue_units"], raw["a_open_units"])
    out["disputed"] = raw["disputed"].to_numpy(dtype="float64")
    out["cust_disputes"] = raw["d_count"].to_numpy(dtype="float64")
    out["promised"] = raw["promised"].to_numpy(dtype="float64")
    out["cust_promises"] = raw["p_count"].to_numpy(dtype="float64")
    out["cust_promises_broken"] = raw["p_broken"].to_numpy(dtype="float64")
    out["contacts_90d"] = raw["c_recent"].to_numpy(dtype="float64")
    out["days_since_contact"] = raw["c_since"].astype("float64").fillna(-1.0).to_numpy()
    out["credit_score"] = raw["s_score"].astype("float64").fillna(-1.0).to_numpy()
    # The baseline's rule reads the plain (unweighted) history: "most settled invoices late",
    # "issue date + the customer's mean days to pay".
    out["base_share_late"] = _ratio(raw["h_late_n"], paid, np.nan)
    out["base_days_to_pay"] = _ratio(raw["h_dtp_plain"], paid, np.nan)
    return out

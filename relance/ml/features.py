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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

from relance.engine.days import backend_name, day_number
from relance.engine.dunning.contract import DunningTables
from relance.engine.kpi import not_void
from relance.engine.schema import MONEY_SCALE, money_units

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
    Feature("cust_dispute_share", "disputes the customer opened in the year per invoice issued in it"),
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


def snapshot_table(snapshots: Sequence[date]) -> ir.Table:
    """The snapshot dates as a one-column table (``snapshot``), joined to the ledger in SQL."""
    days = sorted(set(snapshots))
    return ibis.memtable(pa.table({"snapshot": pa.array(days, type=pa.date32())}))


def invoice_states(tables: DunningTables, pairs: ir.Table, last: date) -> ir.Table:
    """``invoice_frame`` at each pair's own date: ``pairs`` holds the invoice's columns and its
    ``snapshot`` (issued by it, not void then); out come the frame's columns plus ``snapshot``,
    with what was allocated by that date. ``last``: the latest snapshot (allocations after it are
    never read). tests/ml/test_features.py checks it against ``invoice_frame`` date by date."""
    dialect = backend_name(tables.invoices)
    allocations = tables.allocations.filter(tables.allocations.date <= _lit(last))
    keys = pairs.select(_k_invoice=pairs.invoice_id, _k_snapshot=pairs.snapshot)
    matched = keys.join(
        allocations,
        (keys._k_invoice == allocations.invoice_id) & (allocations.date <= keys._k_snapshot),
    )
    per_pair = matched.group_by("_k_invoice", "_k_snapshot").aggregate(
        allocated_units=money_units(matched.amount).sum().cast("int64"),
        last_allocation=matched.date.max(),
    )
    joined = pairs.left_join(
        per_pair, (pairs.invoice_id == per_pair._k_invoice) & (pairs.snapshot == per_pair._k_snapshot)
    )
    amount_units = money_units(joined.amount)
    allocated = joined.allocated_units.fill_null(0)
    due_day = day_number(joined.due_date, dialect)
    return joined.select(
        "invoice_id",
        "customer_id",
        "currency",
        "issue_date",
        "due_date",
        "snapshot",
        amount_units=amount_units,
        open_units=amount_units - allocated,
        paid=(allocated >= amount_units) & joined.last_allocation.notnull(),
        paid_on=joined.last_allocation,
        days_late_raw=(day_number(joined.last_allocation, dialect) - due_day).cast("int64"),
        days_past_due=(day_number(joined.snapshot, dialect) - due_day).cast("int64"),
    )


def _issued_by_snapshot(invoices: ir.Table) -> ir.BooleanValue:
    """Issued by the row's ``snapshot`` and not void then (``invoice_frame``'s filter)."""
    return not_void(invoices, invoices.snapshot) & (invoices.issue_date <= invoices.snapshot)


def _customer_history(state: ir.Table, dialect: str | None) -> ir.Table:
    """Sums over the invoices the customer settled in the year to each snapshot (by it), weighted
    by recency: a payment on the snapshot weighs 1, one a year before 0 (linear; portable SQL).

    The weighted sums are kept in whole numbers — the weight times ``LOOKBACK_DAYS``, which the
    ratios in ``finish`` cancel — so that they do not depend on the order a parallel engine adds
    them in: float sums did (DuckDB's differed in the last bits between two runs, and a driver's
    days now and then with them; docs/predict.md)."""
    age = _days(state.snapshot, state.paid_on, dialect)
    settled = state.mutate(_age=age).filter(state.paid, age < LOOKBACK_DAYS)
    weight = (LOOKBACK_DAYS - settled._age).cast("int64")  # 1 − age / LOOKBACK_DAYS, scaled
    whole_days_to_pay = _days(settled.paid_on, settled.issue_date, dialect).cast("int64")
    whole_late = settled.days_late_raw.cast("int64")
    days_to_pay = whole_days_to_pay.cast("float64")
    late = whole_late.cast("float64")
    recent = settled._age < TREND_DAYS
    previous = (settled._age < 2 * TREND_DAYS) & ~recent
    return settled.group_by(_h_customer=settled.customer_id, _h_snapshot=settled.snapshot).aggregate(
        h_paid=settled.count(),
        h_weight=weight.sum().cast("int64"),
        h_dtp=(weight * whole_days_to_pay).sum().cast("int64"),
        h_late=(weight * whole_late).sum().cast("int64"),
        h_late_count=ibis.ifelse(whole_late > 0, weight, 0).sum().cast("int64"),
        h_late_plain=late.sum(),
        h_late_n=ibis.ifelse(late > 0, 1, 0).sum().cast("int64"),
        h_dtp_plain=days_to_pay.sum(),
        h_late_sq=(late * late).sum(),
        h_recent_n=ibis.ifelse(recent, 1, 0).sum().cast("int64"),
        h_recent_late=ibis.ifelse(recent, late, 0.0).sum(),
        h_previous_n=ibis.ifelse(previous, 1, 0).sum().cast("int64"),
        h_previous_late=ibis.ifelse(previous, late, 0.0).sum(),
    )


def _customer_amounts(state: ir.Table, dialect: str | None) -> ir.Table:
    """The customer's invoices issued in the year to each snapshot (count and amount) and its open
    and overdue balance then."""
    in_year = _days(state.snapshot, state.issue_date, dialect) < LOOKBACK_DAYS
    is_open = state.open_units > 0
    return state.group_by(_a_customer=state.customer_id, _a_snapshot=state.snapshot).aggregate(
        a_issued=ibis.ifelse(in_year, 1, 0).sum().cast("int64"),
        a_issued_units=ibis.ifelse(in_year, state.amount_units, 0).sum().cast("int64"),
        a_open_count=ibis.ifelse(is_open, 1, 0).sum().cast("int64"),
        a_open_units=ibis.ifelse(is_open, state.open_units, 0).sum().cast("int64"),
        a_overdue_units=ibis.ifelse(is_open & (state.days_past_due > 0), state.open_units, 0)
        .sum()
        .cast("int64"),
    )


def _disputes(
    tables: DunningTables, rows: ir.Table, needed: ir.Table, dialect: str | None
) -> tuple[ir.Table, ir.Table]:
    """(invoice, snapshot) under a dispute open at the end of the snapshot; disputes per
    (customer, snapshot) opened in the year to it."""
    disputes = tables.disputes
    keys = rows.select(_k_invoice=rows.invoice_id, _k_snapshot=rows.snapshot)
    open_then = keys.join(
        disputes,
        (keys._k_invoice == disputes.invoice_id)
        & (disputes.opened_on <= keys._k_snapshot)
        & (disputes.resolved_on.isnull() | (disputes.resolved_on > keys._k_snapshot)),
    )
    by_invoice = open_then.select(
        _d_invoice=open_then._k_invoice, _d_snapshot=open_then._k_snapshot
    ).distinct()
    made = needed.join(
        disputes, (needed._n_customer == disputes.customer_id) & (disputes.opened_on <= needed._n_snapshot)
    )
    in_year = made.filter(_days(made._n_snapshot, made.opened_on, dialect) < LOOKBACK_DAYS)
    by_customer = in_year.group_by(
        _d_customer=in_year._n_customer, _d_snapshot_c=in_year._n_snapshot
    ).aggregate(d_count=in_year.count().cast("int64"))
    return by_invoice, by_customer


def _promises(tables: DunningTables, needed: ir.Table, dialect: str | None) -> tuple[ir.Table, ir.Table]:
    """(invoice, snapshot) under a running promise then; promises per (customer, snapshot) made in
    the year to it and, of those whose outcome was known then (promised date
    ``PROMISE_OUTCOME_DAYS`` before it), the broken ones."""
    promises = tables.promises
    made = needed.join(
        promises, (needed._n_customer == promises.customer_id) & (promises.created_on <= needed._n_snapshot)
    )
    running = made.filter(made.promised_date >= made._n_snapshot, made.status != "cancelled")
    links = tables.promise_invoices
    by_invoice = (
        running.join(links, running.promise_id == links.promise_id)
        .select(_p_invoice=links.invoice_id, _p_snapshot=running._n_snapshot)
        .distinct()
    )
    in_year = made.filter(_days(made._n_snapshot, made.created_on, dialect) < LOOKBACK_DAYS)
    known = _days(in_year._n_snapshot, in_year.promised_date, dialect) > PROMISE_OUTCOME_DAYS
    by_customer = in_year.group_by(
        _p_customer=in_year._n_customer, _p_snapshot_c=in_year._n_snapshot
    ).aggregate(
        p_count=in_year.count().cast("int64"),
        p_broken=ibis.ifelse(known & (in_year.status == "broken"), 1, 0).sum().cast("int64"),
    )
    return by_invoice, by_customer


def _contacts(tables: DunningTables, needed: ir.Table, dialect: str | None) -> ir.Table:
    history = tables.contact_history
    made = needed.join(
        history,
        (needed._n_customer == history.customer_id)
        & history.is_contact
        & (history.date <= needed._n_snapshot),
    )
    recent = _days(made._n_snapshot, made.date, dialect) < CONTACT_DAYS
    return made.group_by(_c_customer=made._n_customer, _c_snapshot=made._n_snapshot).aggregate(
        c_recent=ibis.ifelse(recent, 1, 0).sum().cast("int64"),
        c_since=_days(made._n_snapshot.max(), made.date.max(), dialect),
    )


def _scores(credit_scores: ir.Table, needed: ir.Table) -> ir.Table:
    """Each customer's latest score computed on or before each snapshot."""
    known = needed.join(
        credit_scores,
        (needed._n_customer == credit_scores.customer_id) & (credit_scores.as_of <= needed._n_snapshot),
    )
    latest = known.group_by(_l_customer=known._n_customer, _l_snapshot=known._n_snapshot).aggregate(
        _l_on=known.as_of.max()
    )
    joined = known.join(
        latest,
        (known._n_customer == latest._l_customer)
        & (known._n_snapshot == latest._l_snapshot)
        & (known.as_of == latest._l_on),
    )
    return joined.group_by(_s_customer=joined._n_customer, _s_snapshot=joined._n_snapshot).aggregate(
        s_score=joined.score.max()
    )


def open_invoice_features(
    tables: DunningTables, at: date, *, credit_scores: ir.Table | None = None, sample: int | None = None
) -> ir.Table:
    """One row per invoice open at the end of ``at``: ``ID_COLUMNS`` and the raw sums behind
    ``FEATURES`` (``finish`` turns them into the features) — ``snapshot_features`` at one date."""
    return snapshot_features(tables, (at,), credit_scores=credit_scores, sample=sample).drop("snapshot")


def snapshot_features(
    tables: DunningTables,
    snapshots: Sequence[date],
    *,
    credit_scores: ir.Table | None = None,
    sample: int | None = None,
) -> ir.Table:
    """One row per invoice open at the end of each of ``snapshots`` (the column ``snapshot``), each
    with its features as known at the end of that date, in **one query** (the dates are a table
    joined to the ledger; every read is cut at the row's own date).

    ``sample``: keep about one invoice in ``sample`` (by a hash of its id: the same invoices on
    every backend and every run), for training on a large ledger. The customers' histories are
    then read only for the customers of the rows kept, at the dates kept — the cost grows with the
    sample, not with the snapshots × the ledger.
    """
    dialect = backend_name(tables.invoices)
    last = max(snapshots)
    dates = snapshot_table(snapshots)
    invoices = tables.invoices.filter(tables.invoices.issue_date <= _lit(last))
    sampled = sample is not None and sample > 1
    candidates = invoices
    if sampled:
        candidates = invoices.filter((invoices.invoice_id * 7919 + 17) % sample == 0)
    pairs = candidates.cross_join(dates)
    pairs = pairs.filter(_issued_by_snapshot(pairs))
    state = invoice_states(tables, pairs, last)
    open_invoices = state.filter(state.open_units > 0)
    needed = open_invoices.select(
        _n_customer=open_invoices.customer_id, _n_snapshot=open_invoices.snapshot
    ).distinct()
    if sampled:  # the customers' every invoice, at the dates they are needed
        theirs = invoices.join(needed, invoices.customer_id == needed._n_customer)
        theirs = theirs.mutate(snapshot=theirs._n_snapshot).drop("_n_customer", "_n_snapshot")
        customer_state = invoice_states(tables, theirs.filter(_issued_by_snapshot(theirs)), last)
    else:
        customer_state = state
    rows = open_invoices.select(
        *ID_COLUMNS,
        "snapshot",
        age_days=_days(open_invoices.snapshot, open_invoices.issue_date, dialect),
        days_to_due=_days(open_invoices.due_date, open_invoices.snapshot, dialect),
        terms_days=_days(open_invoices.due_date, open_invoices.issue_date, dialect),
    )
    history = _customer_history(customer_state, dialect)
    amounts = _customer_amounts(customer_state, dialect)
    disputed, customer_disputes = _disputes(tables, rows, needed, dialect)
    promised, customer_promises = _promises(tables, needed, dialect)
    contacts = _contacts(tables, needed, dialect)

    def by_customer(table: ir.Table, customer: str, snapshot: str) -> ir.Table:
        return rows.left_join(
            table, (rows.customer_id == table[customer]) & (rows.snapshot == table[snapshot])
        )

    rows = by_customer(history, "_h_customer", "_h_snapshot")
    rows = by_customer(amounts, "_a_customer", "_a_snapshot")
    rows = rows.left_join(
        disputed, (rows.invoice_id == disputed._d_invoice) & (rows.snapshot == disputed._d_snapshot)
    )
    rows = by_customer(customer_disputes, "_d_customer", "_d_snapshot_c")
    rows = rows.left_join(
        promised, (rows.invoice_id == promised._p_invoice) & (rows.snapshot == promised._p_snapshot)
    )
    rows = by_customer(customer_promises, "_p_customer", "_p_snapshot_c")
    rows = by_customer(contacts, "_c_customer", "_c_snapshot")
    extra: dict[str, Any] = {}
    if credit_scores is not None:
        rows = by_customer(_scores(credit_scores, needed), "_s_customer", "_s_snapshot")
        extra["s_score"] = rows.s_score
    else:
        extra["s_score"] = ibis.null("float64")
    return rows.select(
        *ID_COLUMNS,
        "snapshot",
        "age_days",
        "days_to_due",
        "terms_days",
        h_paid=rows.h_paid.fill_null(0),
        h_weight=rows.h_weight.fill_null(0),
        h_dtp=rows.h_dtp.fill_null(0),
        h_late=rows.h_late.fill_null(0),
        h_late_count=rows.h_late_count.fill_null(0),
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
    out["cust_dispute_share"] = _ratio(raw["d_count"], raw["a_issued"])
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

"""Predict every invoice open at the end of a date, from that date's knowledge only.

Training rows are **snapshots**: the invoices open at the end of each of the ``snapshots`` dates
``as_of − k·every`` (k = 1…), with their features as of that date (``features.open_invoice_features``,
the same query the prediction runs at ``as_of``) and their outcome as known at ``as_of``: paid on
day P → ``T = P − snapshot`` days, observed; still open at ``as_of`` → right-censored,
``T ≥ as_of − snapshot + 1``. A training row is thus exactly a past prediction with what was known
then, and nothing dated after ``as_of`` is read anywhere (tests/ml/test_leakage.py).

The survival model (``survival.SurvivalAFT``) is trained on four fifths of the invoices (by a
hash of their id) and both it and the customer-history baseline are measured on the fifth left
out; the baseline stands in, with a note saying so, when fewer than ``min_settled`` training
rows were paid (an entity with too little history).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from relance.core.errors import ValidationFailed
from relance.engine.days import unbound_tables_run_on
from relance.engine.dunning.behaviour import invoice_frame
from relance.engine.dunning.contract import DunningTables
from relance.engine.schema import MONEY_SCALE
from relance.ml.baseline import CustomerHistoryBaseline
from relance.ml.drivers import contribution_days, drivers_of_rows, sentence
from relance.ml.features import (
    FEATURE_NAMES,
    already_late,
    finish,
    open_invoice_features,
    snapshot_features,
)
from relance.ml.metrics import LATE_THRESHOLD, interval_coverage, late_accuracy, late_f1, mae_days
from relance.ml.predictions import (
    MODEL_BASELINE,
    MODEL_SURVIVAL,
    Driver,
    InvoicePrediction,
    PredictionRunSummary,
)
from relance.ml.survival import SurvivalAFT

ERROR_NO_INVOICE = "no invoice in the ledger: nothing to predict from"
ERROR_BEFORE_FIRST = (
    "as-of date {as_of} is before the first invoice (issued {first}): nothing to predict from"
)
NOTE_SURVIVAL = (
    "survival model (XGBoost AFT) trained on {rows} invoice snapshots ({settled} paid by the date, "
    "the rest censored), {snapshots} dates every {every} days back from {as_of}{sampled}"
)
NOTE_FALLBACK = (
    "customer-history baseline: too little settled history to train the survival model "
    "({settled} paid invoice snapshots, {needed} needed)"
)
HOLDOUT_BUCKETS = 5  # one invoice in five (by its id) is kept out of training to measure both models
# Measured on the held-out rows of snapshots at least this old: their outcomes are mostly known
# (on a recent snapshot only the quick payers have paid, which flatters whoever predicts early).
MATURE_DAYS = 90

Step = Callable[[str], None]


@dataclass(frozen=True)
class PredictSettings:
    """How much history trains the model, and how (the model card's "training window")."""

    # A year of weekly snapshots: on the IBM history 4× the rows of 12 monthly ones gave a better
    # model on every score (docs/benchmarks.md), for 4× the snapshot queries.
    snapshot_every_days: int = 7
    snapshots: int = 52
    min_settled: int = 100
    max_training_rows: int = 300_000
    seed: int = 0
    n_estimators: int = 50  # 50 trees beat 100 and 300 on the IBM backtest (docs/predict.md)
    max_depth: int = 4
    learning_rate: float = 0.1
    # Monotone constraints by feature name (1: more means paid later; -1: sooner); see
    # docs/predict.md for what the IBM backtest said of them.
    monotone: tuple[tuple[str, int], ...] = ()
    n_jobs: int = 2
    # The snapshots' features in one query (the dates a table joined to the ledger); False: one
    # query per snapshot, the simple approach (benchmarks/bench_predict.py compares them).
    one_query: bool = True
    # The drivers' contributions computed once per tree path pattern (``SurvivalAFT.contributions``,
    # the same numbers); False: one ``pred_contribs`` call over every row, the simple approach
    # (benchmarks/bench_predict.py --simple-contributions compares them).
    contributions_by_pattern: bool = True
    # Also the baseline's predictions of the same invoices when the model predicts (the
    # backtest's other side): a third of the prediction step's CPU, so only when asked.
    keep_baseline: bool = False


@dataclass(frozen=True)
class PredictionResult:
    summary: PredictionRunSummary
    predictions: tuple[InvoicePrediction, ...]
    metrics: dict[str, Any] = field(default_factory=dict)
    # The customer-history baseline's predictions of the same invoices (the same as
    # ``predictions`` when the run fell back to it): the backtest's other side; empty when the
    # model predicted and ``PredictSettings.keep_baseline`` is off.
    baseline_predictions: tuple[InvoicePrediction, ...] = ()


def _fetch(backend: Any, expr: ir.Table) -> pd.DataFrame:
    frame: pd.DataFrame = backend.to_pyarrow(expr).to_pandas()
    return frame


def first_issue_date(tables: DunningTables, backend: Any) -> date | None:
    first = tables.invoices.aggregate(first=tables.invoices.issue_date.min())
    value = _fetch(backend, first)["first"].iloc[0]
    if value is None or pd.isna(value):
        return None
    day: date = pd.Timestamp(value).date()
    return day


def _quiet(_: str) -> None:
    return None


def predict_open_invoices(
    tables: DunningTables,
    as_of: date,
    *,
    backend: Any,
    credit_scores: ir.Table | None = None,
    invoice_refs: ir.Table | None = None,
    settings: PredictSettings | None = None,
    step: Step = _quiet,
) -> PredictionResult:
    """Predictions for every invoice open at the end of ``as_of`` (see the module docstring).

    ``credit_scores``: ``features.CREDIT_SCORES`` rows, when the credit score exists;
    ``invoice_refs``: (invoice_id, invoice_ref) for the output, else the id is the reference.
    """
    settings = settings or PredictSettings()
    with unbound_tables_run_on(backend):
        first = first_issue_date(tables, backend)
        if first is None:
            raise ValidationFailed(ERROR_NO_INVOICE)
        if as_of < first:
            raise ValidationFailed(ERROR_BEFORE_FIRST.format(as_of=as_of, first=first))
        step(f"features of the invoices open on {as_of}")
        current = _current_rows(tables, as_of, backend, credit_scores, invoice_refs)
        if current.empty:
            summary = PredictionRunSummary(
                as_of=as_of, model=MODEL_BASELINE, trained_rows=0, note="no open invoice"
            )
            return PredictionResult(summary=summary, predictions=())
        training = _training_rows(tables, as_of, backend, credit_scores, settings, len(current), first, step)
    step("training")
    settled = int(training["observed"].sum()) if len(training) else 0
    ids = training["invoice_id"].to_numpy(dtype="int64") if len(training) else np.zeros(0, dtype="int64")
    held = (ids * 7 + settings.seed) % HOLDOUT_BUCKETS == 0
    measured = held & _mature(training, as_of)
    baseline = CustomerHistoryBaseline().fit(current)  # the customers' histories as of as_of
    metrics: dict[str, Any] = {"training_rows": len(training), "settled_rows": settled, "holdout": {}}
    model: SurvivalAFT | None = None
    if settled >= settings.min_settled and (~held).sum() > 0:
        constraints = dict(settings.monotone)
        model = SurvivalAFT(
            n_estimators=settings.n_estimators,
            max_depth=settings.max_depth,
            learning_rate=settings.learning_rate,
            random_state=settings.seed,
            n_jobs=settings.n_jobs,
            monotone=tuple(constraints.get(name, 0) for name in FEATURE_NAMES) if constraints else None,
        )
        fit_rows = training[~held]
        model.fit(fit_rows[list(FEATURE_NAMES)], fit_rows[["lower", "upper"]].to_numpy(), FEATURE_NAMES)
        metrics["scale"] = round(model.scale_, 4)
        if measured.any():
            rows = training[measured]
            metrics["holdout"] = {
                MODEL_SURVIVAL: holdout_metrics(rows, _model_frame(model, rows)),
                MODEL_BASELINE: holdout_metrics(rows, baseline.predict_frame(rows)),
            }
        sampled = int(training.attrs.get("sample_every", 1))
        metrics["sample_every"] = sampled
        note = NOTE_SURVIVAL.format(
            rows=len(training),
            settled=settled,
            snapshots=training["snapshot"].nunique(),
            every=settings.snapshot_every_days,
            as_of=as_of,
            sampled=f", one open invoice in {sampled} sampled" if sampled > 1 else "",
        )
    else:
        if measured.any():
            rows = training[measured]
            metrics["holdout"] = {MODEL_BASELINE: holdout_metrics(rows, baseline.predict_frame(rows))}
        note = NOTE_FALLBACK.format(settled=settled, needed=settings.min_settled)
    step("predicting")
    baseline_predictions: tuple[InvoicePrediction, ...] = ()
    if model is None or settings.keep_baseline:
        by_baseline = baseline.predict_frame(current)
        baseline_predictions = _predictions(
            current, by_baseline, _baseline_drivers(current, by_baseline), as_of, MODEL_BASELINE
        )
    if model is not None:
        predicted = _model_frame(model, current)
        values = current[list(FEATURE_NAMES)].to_numpy(dtype="float64")
        contributions = (
            model.contributions if settings.contributions_by_pattern else model.contributions_direct
        )
        days = contribution_days(predicted["days_p50"], contributions(values))
        drivers = drivers_of_rows(FEATURE_NAMES, values, days)
        name = MODEL_SURVIVAL
        predictions = _predictions(current, predicted, drivers, as_of, name)
    else:
        name = MODEL_BASELINE
        predictions = baseline_predictions
    summary = PredictionRunSummary(as_of=as_of, model=name, trained_rows=len(training), note=note)
    return PredictionResult(
        summary=summary, predictions=predictions, metrics=metrics, baseline_predictions=baseline_predictions
    )


def _mature(training: pd.DataFrame, as_of: date) -> np.ndarray[Any, Any]:
    if training.empty:
        return np.zeros(0, dtype=bool)
    oldest = pd.Timestamp(as_of - timedelta(days=MATURE_DAYS))
    return np.asarray(pd.to_datetime(training["snapshot"]) <= oldest)


def _current_rows(
    tables: DunningTables,
    as_of: date,
    backend: Any,
    credit_scores: ir.Table | None,
    invoice_refs: ir.Table | None,
) -> pd.DataFrame:
    features = open_invoice_features(tables, as_of, credit_scores=credit_scores)
    customers = tables.customers.select(_r_customer="customer_id", customer_ref="external_ref")
    rows = features.left_join(customers, features.customer_id == customers._r_customer)
    if invoice_refs is not None:
        refs = invoice_refs.select(_r_invoice="invoice_id", invoice_ref="invoice_ref")
        rows = rows.left_join(refs, rows.invoice_id == refs._r_invoice)
    else:
        rows = rows.mutate(invoice_ref=rows.invoice_id.cast("string"))
    raw = _fetch(backend, rows.drop("_r_customer", *(["_r_invoice"] if invoice_refs is not None else [])))
    raw = raw.sort_values("invoice_id", kind="stable").reset_index(drop=True)
    current = finish(raw)
    current["customer_ref"] = raw["customer_ref"].fillna("").to_numpy()
    current["invoice_ref"] = raw["invoice_ref"].fillna("").to_numpy()
    return current


def _training_rows(
    tables: DunningTables,
    as_of: date,
    backend: Any,
    credit_scores: ir.Table | None,
    settings: PredictSettings,
    open_now: int,
    first: date,
    step: Step,
) -> pd.DataFrame:
    """The snapshots' rows with their outcome known at ``as_of``: ``lower``/``upper`` days from the
    snapshot to payment (upper ∞ when still open), ``observed``, ``paid_on``."""
    dates = [
        as_of - timedelta(days=settings.snapshot_every_days * k) for k in range(1, settings.snapshots + 1)
    ]
    dates = [day for day in dates if day >= first]
    if not dates:
        return pd.DataFrame(columns=[*FEATURE_NAMES, "lower", "upper", "observed", "invoice_id", "snapshot"])
    per_snapshot = max(1, settings.max_training_rows // len(dates))
    sample = max(1, -(-open_now // per_snapshot))  # about as many open then as now
    outcome = invoice_frame(tables, as_of)
    outcome = outcome.select(_o_invoice="invoice_id", _o_paid="paid", _o_paid_on="paid_on")
    if settings.one_query:
        step(f"training rows of {len(dates)} snapshots, one query")
        batches = [dates]
    else:  # the simple approach, kept for the benchmark: one query per snapshot
        batches = [[day] for day in dates]
    parts = []
    for batch in batches:
        if len(batch) == 1:
            step(f"training rows as of {batch[0]}")
        features = snapshot_features(tables, batch, credit_scores=credit_scores, sample=sample)
        rows = features.join(outcome, features.invoice_id == outcome._o_invoice)  # void by as_of: out
        raw = _fetch(backend, rows.drop("_o_invoice"))
        if raw.empty:
            continue
        raw["snapshot"] = pd.to_datetime(raw["snapshot"]).dt.date
        # The snapshots newest first, each by invoice: the rows' order does not depend on the query.
        raw = raw.sort_values(["snapshot", "invoice_id"], ascending=[False, True], kind="stable")
        raw = raw.reset_index(drop=True)
        part = finish(raw)
        paid = raw["_o_paid"].fillna(False).to_numpy(dtype=bool)
        paid_on = pd.to_datetime(raw["_o_paid_on"])
        snapshot = pd.to_datetime(raw["snapshot"])
        waited = (paid_on - snapshot).dt.days.to_numpy(dtype="float64")
        observed_days = (pd.Timestamp(as_of) - snapshot).dt.days.to_numpy(dtype="float64")
        part["observed"] = paid
        part["lower"] = np.where(paid, np.maximum(waited, 1.0), observed_days + 1.0)
        part["upper"] = np.where(paid, np.maximum(waited, 1.0), np.inf)
        part["paid_on"] = paid_on.dt.date.where(paid, None)
        part["snapshot"] = raw["snapshot"].to_numpy()
        part["snapshot_as_of"] = as_of
        parts.append(part)
    if not parts:
        return pd.DataFrame()
    training = pd.concat(parts, ignore_index=True)
    training.attrs["sample_every"] = sample
    return training


def _model_frame(model: SurvivalAFT, rows: pd.DataFrame) -> pd.DataFrame:
    """The model's ``days_p10/p50/p90`` (days from the row's date, at least 1) and ``p_late``."""
    X = rows[list(FEATURE_NAMES)].to_numpy(dtype="float64")
    margin = model.predict_margin(X)
    quantiles = np.maximum(model.predict_quantiles(X, (0.1, 0.5, 0.9), margin=margin), 1.0)
    to_due = rows["days_to_due"].to_numpy(dtype="float64")
    p_late = np.where(already_late(rows), 1.0, model.survival(X, to_due, margin=margin))
    return pd.DataFrame(
        {
            "days_p10": quantiles[:, 0],
            "days_p50": quantiles[:, 1],
            "days_p90": quantiles[:, 2],
            "p_late": p_late,
        }
    )


def holdout_metrics(rows: pd.DataFrame, predicted: pd.DataFrame) -> dict[str, Any]:
    """The held-out snapshots' accuracy of "late", its F1, the pay-date MAE (days) and the
    p10–p90 coverage — the last two over the invoices paid by the as-of date only (an open one has
    no pay date yet: a known bias towards the prompt payers, said in docs/predict.md)."""
    observed = rows["observed"].to_numpy(dtype=bool)
    to_due = rows["days_to_due"].to_numpy(dtype="float64")
    lower = rows["lower"].to_numpy(dtype="float64")
    late_paid = observed & (lower > to_due)
    open_late = ~observed & (lower - 1 > to_due)  # still open after its due date: late, known
    known = observed | open_late
    actual = (late_paid | open_late)[known]
    guess = predicted["p_late"].to_numpy(dtype="float64")[known] >= LATE_THRESHOLD
    p50 = np.round(predicted["days_p50"].to_numpy(dtype="float64"))[observed]
    p10 = np.floor(predicted["days_p10"].to_numpy(dtype="float64"))[observed]
    p90 = np.ceil(predicted["days_p90"].to_numpy(dtype="float64"))[observed]
    actual_days = lower[observed]
    return {
        "rows": len(rows),
        "late_known": int(known.sum()),
        "accuracy": _round(late_accuracy(guess, actual)),
        "late_f1": _round(late_f1(guess, actual) or 0.0),
        "paid": int(observed.sum()),
        "pay_date_mae_days": _round(mae_days(p50, actual_days)),
        "p10_p90_coverage": _round(interval_coverage(p10, p90, actual_days)),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _baseline_drivers(current: pd.DataFrame, predicted: pd.DataFrame) -> list[tuple[Driver, ...]]:
    """The baseline's reasons: the customer's mean days to pay and share paid late."""
    out: list[tuple[Driver, ...]] = []
    for days_to_pay, share in zip(current["base_days_to_pay"], current["base_share_late"], strict=True):
        if np.isnan(days_to_pay):
            out.append((Driver("cust_paid", 0.0, "no settled history: the entity's average or the terms"),))
            continue
        out.append(
            (
                Driver("cust_days_to_pay", 0.0, sentence("cust_days_to_pay", days_to_pay)),
                Driver("cust_share_late", 0.0, sentence("cust_share_late", share)),
            )
        )
    return out


def _predictions(
    current: pd.DataFrame,
    predicted: pd.DataFrame,
    drivers: list[tuple[Driver, ...]],
    as_of: date,
    model: str,
) -> tuple[InvoicePrediction, ...]:
    base = np.datetime64(as_of, "D")
    days = {
        name: base
        + np.maximum(np.round(predicted[name].to_numpy(dtype="float64")), 1).astype("timedelta64[D]")
        for name in ("days_p10", "days_p50", "days_p90")
    }
    median = days["days_p50"]
    # As Python dates, the band never narrower than the median.
    expected = median.astype(object).tolist()
    p10 = np.minimum(days["days_p10"], median).astype(object).tolist()
    p90 = np.maximum(days["days_p90"], median).astype(object).tolist()
    p_late = np.clip(predicted["p_late"].to_numpy(dtype="float64"), 0.0, 1.0).tolist()
    scale = Decimal(MONEY_SCALE)
    rows = zip(
        current["invoice_id"].to_numpy(dtype="int64").tolist(),
        current["invoice_ref"].astype(str).tolist(),
        current["customer_ref"].astype(str).tolist(),
        current["currency"].astype(str).tolist(),
        current["open_units"].to_numpy(dtype="int64").tolist(),
        p_late,
        expected,
        p10,
        p90,
        drivers,
        strict=True,
    )
    return tuple(
        InvoicePrediction(
            invoice_id=invoice_id,
            invoice_ref=invoice_ref,
            customer_ref=customer_ref,
            currency=currency,
            open_amount=Decimal(open_units) / scale,
            as_of=as_of,
            p_late=late,
            expected_pay_date=on,
            pay_date_p10=low,
            pay_date_p90=high,
            drivers=reasons,
            model=model,
        )
        for invoice_id, invoice_ref, customer_ref, currency, open_units, late, on, low, high, reasons in rows
    )

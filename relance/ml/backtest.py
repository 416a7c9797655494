"""Would the predictions and the forecast have been right? (``relance predict backtest``)

At each cutoff date the ledger is replayed **as known at the end of that date** — the pipeline
(``relance.ml.pipeline.predict_open_invoices``) trains and predicts with nothing dated after it,
the same as-of replay the credit backtest relies on — once, giving the survival model's predictions
and the customer-history baseline's of the same invoices side by side. Both are then set against what happened, read from the whole
ledger up to ``observed_until`` (by default its last dated fact) through ``invoice_frame``, the
one home of "paid" and "paid late":

- invoice scores (``relance.ml.metrics.prediction_scores``), pooled over the cutoffs: accuracy and
  late-class F1 where lateness is known, pay-date MAE and p10–p90 coverage over the paid;
- the forecast (``relance.ml.forecast``) of each cutoff's open invoices against the allocations
  dated in each of its weeks: WAPE per week ahead (``week_wape``: week h of every cutoff) and
  over the first h weeks (``horizon_wape``: Σ over weeks 1…h and cutoffs of |forecast − actual| /
  Σ actual), and how often the week's actual fell inside its p10–p90 band. A week counts once it
  is over by ``observed_until``, or when every invoice of the cutoff was paid by then (later
  weeks are then known to bring nothing).

Amounts are pooled across currencies as invoiced (a ledger in one currency is the usual case).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from relance.engine.days import unbound_tables_run_on
from relance.engine.dunning.behaviour import invoice_frame
from relance.engine.dunning.contract import DunningTables
from relance.ml.forecast import forecast
from relance.ml.metrics import PredictionScores, interval_coverage, prediction_scores, wape
from relance.ml.pipeline import PredictSettings, predict_open_invoices
from relance.ml.predictions import InvoicePrediction

MODEL = "model"
BASELINE = "baseline"
HORIZONS = (1, 2, 4, 8, 13)  # weeks, for horizon_wape

Step = Callable[[str], None]


def cutoff_dates(start: date, end: date, every_days: int) -> list[date]:
    """``start``, ``start + every`` … up to ``end`` included."""
    if every_days < 1:
        raise ValueError(f"every: expected a number of days of 1 or more, got {every_days}")
    if end < start:
        raise ValueError(f"the last date {end} is before the first {start}")
    return [start + timedelta(days=k * every_days) for k in range((end - start).days // every_days + 1)]


@dataclass(frozen=True)
class CutoffResult:
    """One cutoff: how many invoices were open, which model the pipeline used (it may fall back
    to the baseline, with its note) and each side's weekly forecast against what came in."""

    as_of: date
    open_invoices: int
    model_used: str
    note: str
    scores: dict[str, PredictionScores]
    weeks: dict[str, list[dict[str, Any]]]  # side → [{week_start, expected, low, high, actual}]

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "open_invoices": self.open_invoices,
            "model_used": self.model_used,
            "note": self.note,
            "scores": {side: scores.to_json() for side, scores in self.scores.items()},
            "weeks": self.weeks,
        }


@dataclass(frozen=True)
class SideSummary:
    """One side (model or baseline) over every cutoff."""

    scores: PredictionScores
    week_wape: dict[int, float | None]  # week h ahead → WAPE
    horizon_wape: dict[int, float | None]  # first h weeks → WAPE
    band_coverage: float | None  # weeks whose actual was inside [low, high]

    def to_json(self) -> dict[str, Any]:
        def r(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        return {
            **self.scores.to_json(),
            "week_wape": {str(h): r(v) for h, v in self.week_wape.items()},
            "horizon_wape": {str(h): r(v) for h, v in self.horizon_wape.items()},
            "weekly_band_coverage": r(self.band_coverage),
        }


@dataclass(frozen=True)
class BacktestReport:
    cutoffs: tuple[CutoffResult, ...]
    observed_until: date
    weeks: int
    summary: dict[str, SideSummary] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "observed_until": self.observed_until.isoformat(),
            "weeks": self.weeks,
            "summary": {side: summary.to_json() for side, summary in self.summary.items()},
            "cutoffs": [cutoff.to_json() for cutoff in self.cutoffs],
        }


@dataclass
class _Pool:
    """What one side accumulates over the cutoffs."""

    columns: dict[str, list[Any]] = field(default_factory=dict)
    weekly: list[tuple[int, float, float, float, float]] = field(
        default_factory=list
    )  # h, exp, low, high, actual

    def add(self, **columns: Any) -> None:
        for name, values in columns.items():
            self.columns.setdefault(name, []).append(np.asarray(values, dtype="float64"))

    def column(self, name: str) -> Any:
        parts = self.columns.get(name)
        return np.concatenate(parts) if parts else np.zeros(0)


def _fetch(backend: Any, expr: ir.Table) -> pd.DataFrame:
    frame: pd.DataFrame = backend.to_pyarrow(expr).to_pandas()
    return frame


def _last_fact(tables: DunningTables, backend: Any) -> date:
    days: list[date] = []
    for table, column in ((tables.allocations, "date"), (tables.invoices, "issue_date")):
        value = _fetch(backend, table.aggregate(last=table[column].max()))["last"].iloc[0]
        if value is not None and not pd.isna(value):
            days.append(pd.Timestamp(value).date())
    if not days:
        raise ValueError("the ledger has no invoice: nothing to backtest")
    return max(days)


def _ordinals(values: Any) -> Any:
    """Dates (or NaT/None) as day ordinals, NaN for none."""
    stamps = pd.to_datetime(pd.Series(values), errors="coerce")
    days = (stamps - pd.Timestamp("0001-01-01")).dt.days + 1
    return days.to_numpy(dtype="float64", na_value=np.nan)


def backtest(
    tables: DunningTables,
    cutoffs: Sequence[date],
    *,
    backend: Any,
    credit_scores: ir.Table | None = None,
    invoice_refs: ir.Table | None = None,
    settings: PredictSettings | None = None,
    weeks: int = 13,
    observed_until: date | None = None,
    seed: int = 0,
    step: Step = lambda _: None,
) -> BacktestReport:
    """Replay each cutoff, predict with the model and the baseline, compare (module docstring)."""
    settings = replace(settings or PredictSettings(seed=seed), keep_baseline=True)
    with unbound_tables_run_on(backend):
        until = observed_until or _last_fact(tables, backend)
        truth = _fetch(
            backend,
            invoice_frame(tables, until).select("invoice_id", "due_date", "paid", "paid_on"),
        ).set_index("invoice_id")
        allocations = _fetch(backend, tables.allocations.select("invoice_id", "date", "amount"))
    allocations["day"] = _ordinals(allocations["date"])
    allocations["amount"] = allocations["amount"].astype("float64")
    pools = {MODEL: _Pool(), BASELINE: _Pool()}
    results = []
    for as_of in cutoffs:
        step(f"cutoff {as_of}: the model and the baseline")
        model = predict_open_invoices(
            tables,
            as_of,
            backend=backend,
            credit_scores=credit_scores,
            invoice_refs=invoice_refs,
            settings=settings,
        )
        scores = {}
        weekly = {}
        for side, predictions in ((MODEL, model.predictions), (BASELINE, model.baseline_predictions)):
            scores[side], weekly[side] = _judge(
                predictions, as_of, truth, allocations, until, weeks, seed, pools[side]
            )
        results.append(
            CutoffResult(
                as_of=as_of,
                open_invoices=len(model.predictions),
                model_used=model.summary.model,
                note=model.summary.note,
                scores=scores,
                weeks=weekly,
            )
        )
    summary = {side: _summarise(pool, until, weeks) for side, pool in pools.items()}
    return BacktestReport(cutoffs=tuple(results), observed_until=until, weeks=weeks, summary=summary)


def _judge(
    predictions: Sequence[InvoicePrediction],
    as_of: date,
    truth: pd.DataFrame,
    allocations: pd.DataFrame,
    until: date,
    weeks: int,
    seed: int,
    pool: _Pool,
) -> tuple[PredictionScores, list[dict[str, Any]]]:
    ids = np.array([p.invoice_id for p in predictions], dtype="int64")
    known = truth.reindex(ids)
    paid = known["paid"].fillna(False).to_numpy(dtype=bool)
    paid_day = np.where(paid, _ordinals(known["paid_on"]), np.nan)
    columns = {
        "p_late": [p.p_late for p in predictions],
        "expected_day": [p.expected_pay_date.toordinal() for p in predictions],
        "p10_day": [p.pay_date_p10.toordinal() for p in predictions],
        "p90_day": [p.pay_date_p90.toordinal() for p in predictions],
        "due_day": _ordinals(known["due_date"]),
        "paid_day": paid_day,
    }
    pool.add(**columns)
    scores = prediction_scores(**columns, observed_until=until.toordinal())
    # the weekly forecast against the allocations to these invoices dated in each week
    mine = allocations[allocations["invoice_id"].isin(ids) & (allocations["day"] > as_of.toordinal())]
    currencies = {p.currency for p in predictions} or {"XXX"}
    all_paid = bool(paid.all())
    rows = []
    for currency in sorted(currencies):
        chosen = [p for p in predictions if p.currency == currency]
        report = forecast(chosen, as_of, currency=currency, weeks=weeks, seed=seed)
        chosen_ids = {p.invoice_id for p in chosen}
        theirs = mine[mine["invoice_id"].isin(chosen_ids)]
        for h, week in enumerate(report.total.weeks, start=1):
            if week.end is None or (week.end > until and not all_paid):
                continue
            inside = (theirs["day"] >= week.start.toordinal()) & (theirs["day"] <= week.end.toordinal())
            actual = float(theirs.loc[inside, "amount"].sum())
            expected, low, high = float(week.expected), float(week.low), float(week.high)
            pool.weekly.append((h, expected, low, high, actual))
            rows.append(
                {
                    "week_start": week.start.isoformat(),
                    "currency": currency,
                    "expected": round(expected, 2),
                    "low": round(low, 2),
                    "high": round(high, 2),
                    "actual": round(actual, 2),
                }
            )
    return scores, rows


def _summarise(pool: _Pool, until: date, weeks: int) -> SideSummary:
    scores = prediction_scores(
        p_late=pool.column("p_late"),
        expected_day=pool.column("expected_day"),
        p10_day=pool.column("p10_day"),
        p90_day=pool.column("p90_day"),
        due_day=pool.column("due_day"),
        paid_day=pool.column("paid_day"),
        observed_until=until.toordinal(),
    )
    table = np.asarray(pool.weekly, dtype="float64").reshape(-1, 5)
    h, expected, low, high, actual = (table[:, i] for i in range(5))
    week_wape = {k: wape(expected[h == k], actual[h == k]) for k in range(1, weeks + 1)}
    horizon_wape = {k: wape(expected[h <= k], actual[h <= k]) for k in HORIZONS if k <= weeks}
    return SideSummary(
        scores=scores,
        week_wape=week_wape,
        horizon_wape=horizon_wape,
        band_coverage=interval_coverage(low, high, actual),
    )

"""The backtest of the predictions and the forecast on an entity's own ledger (the pure
``relance.ml.backtest`` computes; this binds the app database to it)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from relance.ledger.models import Entity
from relance.ml.backtest import BacktestReport, backtest
from relance.ml.pipeline import PredictSettings
from relance.predict.binding import app_predict_inputs


def predictions_backtest(
    *,
    entity: Entity,
    cutoffs: Sequence[date],
    weeks: int = 13,
    settings: PredictSettings | None = None,
    step: Callable[[str], None] | None = None,
) -> BacktestReport:
    """Replay the entity's ledger as of each cutoff, predict with the model and the baseline, and
    score both against what happened (nothing is stored)."""
    inputs = app_predict_inputs(entity=entity)
    settings = settings or PredictSettings()
    return backtest(
        inputs.tables,
        cutoffs,
        backend=inputs.backend,
        credit_scores=inputs.credit_scores,
        invoice_refs=inputs.invoice_refs,
        settings=settings,
        weeks=weeks,
        seed=settings.seed,
        step=step or (lambda _: None),
    )

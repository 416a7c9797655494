"""The scorecard's backtest on the entity's own ledger (the engine computes; this binds)."""

from __future__ import annotations

from datetime import date

from relance.credit.services.scorecards import engine_scorecard, scorecard_install_default
from relance.engine.credit.backtest import BacktestResult
from relance.ledger.models import Entity


def scorecard_backtest(*, entity: Entity, as_of: date, horizon_days: int = 90) -> BacktestResult:
    """AUC and Gini of the entity's scorecard scored as of ``as_of`` (only what was known then)
    against the customers that paid at least half of the next ``horizon_days``' invoices late."""
    from relance.credit.binding import app_credit_tables
    from relance.engine.credit.backtest import backtest
    from relance.engine.days import unbound_tables_run_on

    card = engine_scorecard(scorecard_install_default(entity=entity))
    backend, tables = app_credit_tables(entity=entity)
    with unbound_tables_run_on(backend):
        return backtest(tables, card, as_of, horizon_days, backend=backend)

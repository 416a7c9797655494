"""The daily scoring: every customer's score, class and reasons as of a day, stored.

The engine computes (``relance.engine.credit.factors.credit_scores_expr``, one query on the app
database); this module binds the tables, turns each row into its reasons and stores one
``CreditScore`` per customer and day (a second scoring of the same day replaces the first).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import transaction

from relance.credit.models import CreditScore
from relance.credit.services.scorecards import engine_scorecard, scorecard_install_default
from relance.engine.credit.scorecard import Score, Scorecard, score_of_row
from relance.ledger.models import Entity

BATCH = 5_000


@dataclass(frozen=True)
class ScoredCustomer:
    customer_id: int
    score: Score


@dataclass(frozen=True)
class ScoringOutcome:
    entity_id: int
    as_of: date
    scorecard_key: str
    scorecard_version: int
    scored: int
    classes: dict[str, int]  # customers per risk class


def reasons_json(card: Scorecard, score: Score) -> list[dict[str, Any]]:
    """The stored form of a score's reasons: ``{factor, value, points, text}`` per factor."""
    return [
        {
            "factor": reason.factor,
            "value": None if reason.value is None else str(reason.value),
            "points": reason.points,
            "text": reason.text,
        }
        for reason in score.reasons
    ]


def _narrowed(tables: Any, customer_ids: Collection[int]) -> Any:
    """The tables cut to ``customer_ids`` (allocations follow their invoices)."""
    ids = list(customer_ids)
    narrowed = {}
    for field in dataclasses.fields(tables):
        table = getattr(tables, field.name)
        if table is not None and "customer_id" in table.columns:
            narrowed[field.name] = table.filter(table.customer_id.isin(ids))
    return dataclasses.replace(tables, **narrowed)


def scores_of(
    *, entity: Entity, as_of: date, customer_ids: Collection[int] | None = None
) -> tuple[Scorecard, int, list[ScoredCustomer]]:
    """Compute the scores as of ``as_of`` (all customers, or only ``customer_ids``), unsaved."""
    from relance.credit.binding import app_credit_tables
    from relance.credit.selectors.settings import credit_settings_for
    from relance.engine.credit.factors import credit_scores_expr
    from relance.engine.days import unbound_tables_run_on

    stored = scorecard_install_default(entity=entity)
    card = engine_scorecard(stored)
    include_open_orders = credit_settings_for(entity=entity).exposure_includes_open_orders
    backend, tables = app_credit_tables(entity=entity)
    if customer_ids is not None:
        tables = _narrowed(tables, customer_ids)
    with unbound_tables_run_on(backend):
        expr = credit_scores_expr(tables, card, as_of, include_open_orders=include_open_orders)
        rows = backend.to_pyarrow(expr).to_pylist()
    scored = [ScoredCustomer(int(row["customer_id"]), score_of_row(card, row)) for row in rows]
    return card, stored.version, scored


def scores_compute(
    *, entity: Entity, as_of: date, customer_ids: Collection[int] | None = None
) -> ScoringOutcome:
    """Score (all customers or ``customer_ids``) as of ``as_of`` and store the scores of that day."""
    card, version, scored = scores_of(entity=entity, as_of=as_of, customer_ids=customer_ids)
    with transaction.atomic():
        existing = CreditScore.objects.filter(entity=entity, as_of=as_of)
        if customer_ids is not None:
            existing = existing.filter(customer_id__in=list(customer_ids))
        existing.delete()
        _store(entity, as_of, card, version, scored)
    return ScoringOutcome(
        entity_id=entity.pk,
        as_of=as_of,
        scorecard_key=card.key,
        scorecard_version=version,
        scored=len(scored),
        classes=dict(sorted(Counter(item.score.risk_class for item in scored).items())),
    )


def _store(
    entity: Entity, as_of: date, card: Scorecard, version: int, scored: Iterable[ScoredCustomer]
) -> None:
    batch: list[CreditScore] = []
    for item in scored:
        batch.append(
            CreditScore(
                entity=entity,
                customer_id=item.customer_id,
                as_of=as_of,
                scorecard_key=card.key,
                scorecard_version=version,
                score=item.score.score,
                risk_class=item.score.risk_class,
                reasons=reasons_json(card, item.score),
            )
        )
        if len(batch) >= BATCH:
            CreditScore.objects.bulk_create(batch)
            batch = []
    CreditScore.objects.bulk_create(batch)

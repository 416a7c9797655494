"""Storing a prediction run: one transaction, replacing the entity's rows of the same date."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from django.db import transaction

from relance.core.errors import ValidationFailed
from relance.ingest.services.bulk import insert_rows
from relance.ledger.models import Entity
from relance.ml.predictions import InvoicePrediction as Prediction
from relance.ml.predictions import PredictionRunSummary
from relance.predict.models import InvoicePrediction, PredictionRun

if TYPE_CHECKING:  # the pipeline needs the [predict] extra: imported when used
    from relance.ml.pipeline import PredictionResult, PredictSettings

BATCH_SIZE = 50_000
NEEDS_EXTRA = "predictions need the [predict] extra ({missing} is missing): pip install 'relance[predict]'"


@transaction.atomic
def prediction_run_store(
    *,
    entity: Entity,
    summary: PredictionRunSummary,
    predictions: Iterable[Prediction],
    metrics: Mapping[str, Any] | None = None,
) -> PredictionRun:
    """Store ``predictions`` as the entity's run of ``summary.as_of``: an earlier run of the same
    date is deleted with its rows (a rerun replaces, the unique (invoice, as_of) holds)."""
    PredictionRun.objects.filter(entity=entity, as_of=summary.as_of).delete()
    run = PredictionRun.objects.create(
        entity=entity,
        as_of=summary.as_of,
        model=summary.model,
        trained_rows=summary.trained_rows,
        metrics=dict(metrics or {}),
        note=summary.note,
    )
    columns = [
        "run_id",
        "entity_id",
        "invoice_id",
        "as_of",
        "currency",
        "open_amount",
        "p_late",
        "expected_pay_date",
        "pay_date_p10",
        "pay_date_p90",
        "drivers",
    ]
    batch: list[tuple[Any, ...]] = []
    for prediction in predictions:
        # Written as rows (COPY on PostgreSQL, one executemany elsewhere): a million model
        # objects through bulk_create cost several times more (docs/benchmarks.md).
        batch.append(
            (
                run.pk,
                entity.pk,
                prediction.invoice_id,
                prediction.as_of.isoformat(),
                prediction.currency,
                str(prediction.open_amount),
                prediction.p_late,
                prediction.expected_pay_date.isoformat(),
                prediction.pay_date_p10.isoformat(),
                prediction.pay_date_p90.isoformat(),
                json.dumps([driver.to_json() for driver in prediction.drivers], ensure_ascii=False),
            )
        )
        if len(batch) >= BATCH_SIZE:
            insert_rows(InvoicePrediction, columns, batch)
            batch = []
    insert_rows(InvoicePrediction, columns, batch)
    return run


def predictions_compute(
    *,
    entity: Entity,
    as_of: date,
    settings: PredictSettings | None = None,
    seed: int | None = None,
    step: Callable[[str], None] | None = None,
) -> tuple[PredictionRun, PredictionResult]:
    """Predict the entity's invoices open at the end of ``as_of`` and store the run (``seed``:
    replaces the settings' seed).

    Returns the stored run and the ``relance.ml.pipeline.PredictionResult``.
    """
    from relance.predict.binding import app_predict_inputs

    try:
        from relance.ml.pipeline import PredictSettings, predict_open_invoices
    except ImportError as exc:  # the [predict] extra
        raise ValidationFailed(NEEDS_EXTRA.format(missing=exc.name)) from None
    settings = settings or PredictSettings()
    if seed is not None:
        settings = dataclasses.replace(settings, seed=seed)

    inputs = app_predict_inputs(entity=entity)
    result = predict_open_invoices(
        inputs.tables,
        as_of,
        backend=inputs.backend,
        credit_scores=inputs.credit_scores,
        invoice_refs=inputs.invoice_refs,
        settings=settings,
        step=step or (lambda _: None),
    )
    run = prediction_run_store(
        entity=entity, summary=result.summary, predictions=result.predictions, metrics=result.metrics
    )
    return run, result

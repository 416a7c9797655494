"""The prediction's inputs over the app database: the dunning binding's tables (ledger, promises,
disputes, contacts), the invoices' references, and the credit app's daily scores.

``predict`` sits below ``credit`` and imports none of it: the scores are read from their table by
name (``credit.CreditScore``'s ``credit_creditscore``; tests/predict/test_binding.py checks the
name against the model), as the engine reads every app table — through Ibis, never the ORM.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir

from relance.dunning.binding import app_dunning_tables
from relance.engine.dunning.contract import DunningTables
from relance.ledger.models import Entity, Invoice

CREDIT_SCORE_TABLE = "credit_creditscore"


@dataclass(frozen=True)
class PredictInputs:
    backend: Any
    tables: DunningTables
    credit_scores: ir.Table
    invoice_refs: ir.Table


def credit_scores_table(entity_id: int) -> ir.Table:
    """The entity's daily credit scores as ``relance.ml.features.CREDIT_SCORES``."""
    raw = ibis.table(
        {"entity_id": "int64", "customer_id": "int64", "as_of": "date", "score": "int64"},
        name=CREDIT_SCORE_TABLE,
    )
    mine = raw.filter(raw.entity_id == entity_id)
    return mine.select(customer_id=mine.customer_id, as_of=mine.as_of, score=mine.score.cast("float64"))


def invoice_refs_table(entity_id: int) -> ir.Table:
    """(invoice_id, invoice_ref): the ERP's invoice numbers, for the output."""
    raw = ibis.table(
        {"id": "int64", "entity_id": "int64", "external_ref": "string"}, name=Invoice._meta.db_table
    )
    mine = raw.filter(raw.entity_id == entity_id)
    return mine.select(invoice_id=mine.id, invoice_ref=mine.external_ref)


def app_predict_inputs(*, entity: Entity) -> PredictInputs:
    backend, tables = app_dunning_tables(entity=entity)
    return PredictInputs(
        backend=backend,
        tables=tables,
        credit_scores=credit_scores_table(entity.pk),
        invoice_refs=invoice_refs_table(entity.pk),
    )


def invoice_predictions_table(entity_id: int) -> ir.Table:
    """The entity's stored predictions (every run) as the dunning contract's optional
    ``invoice_predictions`` (``invoice_id``, ``as_of``, ``p_late``): registered with the dunning
    binding in ``PredictConfig.ready``, so a policy's ``p_late`` condition reads them (the engine
    takes each invoice's latest on or before the run's date)."""
    from relance.predict.models import InvoicePrediction

    def column(name: str) -> str:
        return str(InvoicePrediction._meta.get_field(name).column)  # type: ignore[union-attr]

    raw = ibis.table(
        {
            column("invoice"): "int64",
            column("entity"): "int64",
            column("as_of"): "date",
            column("p_late"): "float64",
        },
        name=InvoicePrediction._meta.db_table,
    )
    mine = raw.filter(raw[column("entity")] == entity_id)
    return mine.select(
        invoice_id=mine[column("invoice")], as_of=mine[column("as_of")], p_late=mine[column("p_late")]
    )

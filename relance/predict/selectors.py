"""Reading stored predictions (pages and the API read them; they never recompute)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from relance.ledger.models import Entity, Invoice
from relance.predict.models import InvoicePrediction, PredictionRun


def latest_run(*, entity: Entity) -> PredictionRun | None:
    """The entity's newest run (latest as-of date, then latest made)."""
    return PredictionRun.objects.filter(entity=entity).order_by("-as_of", "-id").first()


def latest_predictions(
    *, entity: Entity, invoice_ids: Iterable[int] | None = None
) -> QuerySet[InvoicePrediction]:
    """The predictions of the entity's latest run (``invoice_ids``: only those invoices), with
    their invoice and customer loaded. Empty when the entity was never predicted."""
    run = latest_run(entity=entity)
    if run is None:
        return InvoicePrediction.objects.none()
    rows = InvoicePrediction.objects.filter(run=run).select_related("invoice", "invoice__customer", "run")
    if invoice_ids is not None:
        rows = rows.filter(invoice_id__in=list(invoice_ids))
    return rows.order_by("invoice_id")


def prediction_for_invoice(*, entity: Entity, invoice: Invoice) -> InvoicePrediction | None:
    """The newest stored prediction of ``invoice`` (None when it has none, or belongs to another
    entity)."""
    if invoice.entity_id != entity.pk:
        return None
    return (
        InvoicePrediction.objects.filter(entity=entity, invoice=invoice)
        .select_related("run", "invoice", "invoice__customer")
        .order_by("-as_of", "-run_id")
        .first()
    )

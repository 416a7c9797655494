"""Stored predictions: one run per entity and as-of date, one row per invoice open at its end.

Pages, the API and the forecast read these rows (``selectors``); nothing recomputes a prediction
on a page. Rows are derived data: a later run for the same date replaces them.
"""

from __future__ import annotations

from django.db import models

from relance.ledger.models import Entity, Invoice


class PredictionModel(models.TextChoices):
    SURVIVAL = "survival", "Survival model (XGBoost AFT)"
    BASELINE = "baseline", "Customer-history baseline"


class PredictionRun(models.Model):
    """One ``relance predict`` of an entity as of a date: the model used, the settled invoices it
    was trained on, its metrics beside the baseline's, and the note (why the baseline, if it was)."""

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+")
    as_of = models.DateField()
    model = models.CharField(max_length=16, choices=PredictionModel.choices)
    trained_rows = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["entity", "-as_of", "-id"]
        indexes = [models.Index(fields=["entity", "as_of"], name="predict_run_entity_as_of")]

    def __str__(self) -> str:
        return f"{self.entity} {self.as_of} ({self.model})"


class InvoicePrediction(models.Model):
    """When an open invoice will be paid, as known at the end of ``as_of`` (``relance.ml.predictions``).

    ``currency`` and ``open_amount`` are the invoice's at that date, kept so that a forecast sums
    stored rows without recomputing the ledger. ``drivers``: a list of ``{feature,
    contribution_days, text}``.
    """

    run = models.ForeignKey(PredictionRun, on_delete=models.CASCADE, related_name="predictions")
    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+")
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="predictions")
    as_of = models.DateField()
    currency = models.CharField(max_length=3)
    open_amount = models.DecimalField(max_digits=18, decimal_places=4)
    p_late = models.FloatField()
    expected_pay_date = models.DateField()
    pay_date_p10 = models.DateField()
    pay_date_p90 = models.DateField()
    drivers = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["invoice", "-as_of"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "as_of"], name="invoice_prediction_per_day"),
            models.CheckConstraint(
                condition=models.Q(p_late__gte=0) & models.Q(p_late__lte=1),
                name="invoice_prediction_p_late_0_1",
            ),
        ]
        indexes = [models.Index(fields=["entity", "as_of"], name="predict_invoice_entity_as_of")]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.as_of}: p_late {self.p_late:.2f}"

from django.contrib import admin

from relance.predict.models import InvoicePrediction, PredictionRun


@admin.register(PredictionRun)
class PredictionRunAdmin(admin.ModelAdmin):
    list_display = ("entity", "as_of", "model", "trained_rows", "created_at")
    list_filter = ("entity", "model")
    date_hierarchy = "as_of"


@admin.register(InvoicePrediction)
class InvoicePredictionAdmin(admin.ModelAdmin):
    list_display = ("invoice", "as_of", "p_late", "expected_pay_date", "pay_date_p10", "pay_date_p90")
    list_filter = ("entity",)
    raw_id_fields = ("run", "invoice")
    date_hierarchy = "as_of"

from django.contrib import admin

from relance.cashapp import models


@admin.register(models.BankAccount)
class BankAccountAdmin(admin.ModelAdmin):
    list_display = ("account_id", "currency", "name", "entity")
    list_filter = ("entity", "currency")


@admin.register(models.BankStatement)
class BankStatementAdmin(admin.ModelAdmin):
    list_display = ("statement_id", "account", "format", "period_start", "period_end", "imported_at")
    list_filter = ("format", "entity")
    raw_id_fields = ("account",)


@admin.register(models.BankLine)
class BankLineAdmin(admin.ModelAdmin):
    list_display = ("bank_ref", "booking_date", "amount", "currency", "counterparty_name", "status")
    list_filter = ("status", "direction", "currency")
    search_fields = ("bank_ref", "counterparty_name", "remittance_unstructured", "remittance_structured")
    raw_id_fields = ("statement", "account")


@admin.register(models.BankLineApplication)
class BankLineApplicationAdmin(admin.ModelAdmin):
    list_display = ("line", "payment", "customer", "confidence", "applied_at", "applied_by", "unapplied_at")
    list_filter = ("entity",)
    raw_id_fields = ("line", "payment", "customer", "applied_by_user")


@admin.register(models.KnownPayerAccount)
class KnownPayerAccountAdmin(admin.ModelAdmin):
    list_display = ("account_iban", "customer", "learned_by", "created_at")
    list_filter = ("entity",)
    search_fields = ("account_iban",)
    raw_id_fields = ("customer", "learned_from")


@admin.register(models.CashAppSettings)
class CashAppSettingsAdmin(admin.ModelAdmin):
    list_display = (
        "entity",
        "write_off_tolerance",
        "short_payment_action",
        "deduction_max_percent",
        "auto_apply_threshold",
        "match_tolerance",
        "match_tolerance_percent",
    )

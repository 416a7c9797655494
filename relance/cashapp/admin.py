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

"""The Django admin of a customer's case (the collector works in the workspace; this is for fixes)."""

from __future__ import annotations

from django.contrib import admin

from relance.cases.models import (
    ContactLog,
    CreditHold,
    CustomerHold,
    Dispute,
    ExternalCollection,
    Installment,
    PaymentPlan,
    Promise,
)


@admin.register(Promise)
class PromiseAdmin(admin.ModelAdmin):
    list_display = ["customer", "created_on", "promised_date", "amount", "currency", "status"]
    list_filter = ["entity", "status"]
    search_fields = ["customer__external_ref", "customer__name"]
    raw_id_fields = ["customer", "invoices", "created_by"]


@admin.register(Dispute)
class DisputeAdmin(admin.ModelAdmin):
    list_display = ["invoice", "customer", "amount", "reason_code", "status", "opened_on", "resolved_on"]
    list_filter = ["entity", "status", "reason_code"]
    search_fields = ["invoice__external_ref", "customer__external_ref"]
    raw_id_fields = ["customer", "invoice", "created_by"]


class InstallmentInline(admin.TabularInline):
    model = Installment
    extra = 0


@admin.register(PaymentPlan)
class PaymentPlanAdmin(admin.ModelAdmin):
    list_display = ["customer", "starts_on", "status", "currency"]
    list_filter = ["entity", "status"]
    raw_id_fields = ["customer", "invoices", "created_by"]
    inlines = [InstallmentInline]


@admin.register(CustomerHold)
class CustomerHoldAdmin(admin.ModelAdmin):
    list_display = ["customer", "kind", "reason", "starts_on", "ends_on"]
    list_filter = ["entity", "kind"]
    raw_id_fields = ["customer", "created_by"]


@admin.register(ContactLog)
class ContactLogAdmin(admin.ModelAdmin):
    list_display = ["on", "customer", "channel", "note"]
    list_filter = ["entity", "channel"]
    search_fields = ["customer__external_ref", "customer__name", "note"]
    raw_id_fields = ["customer", "created_by"]


@admin.register(CreditHold)
class CreditHoldAdmin(admin.ModelAdmin):
    list_display = ["customer", "status", "placed_on", "released_on", "released_by", "entity"]
    list_filter = ["entity", "status"]
    search_fields = ["customer__external_ref", "customer__name"]
    raw_id_fields = ["customer", "action"]


@admin.register(ExternalCollection)
class ExternalCollectionAdmin(admin.ModelAdmin):
    list_display = ["customer", "status", "handed_on", "amount", "currency", "agency", "status_changed_by"]
    list_filter = ["entity", "status"]
    search_fields = ["customer__external_ref", "customer__name", "agency"]
    raw_id_fields = ["customer", "action"]
    filter_horizontal = ["invoices"]

from typing import Any
from urllib.parse import quote, urlencode

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from relance.ledger.models import (
    Allocation,
    Contact,
    CreditNote,
    Customer,
    Entity,
    ExchangeRate,
    Invoice,
    InvoiceDocument,
    Order,
    Payment,
)


@admin.register(Entity)
class EntityAdmin(admin.ModelAdmin):
    list_display = ["name", "legal_name", "currency", "language", "country"]
    search_fields = ["name", "legal_name"]


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0
    fields = ["name", "role", "email", "phone", "preferred_channel", "email_status"]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = [
        "external_ref",
        "name",
        "entity",
        "segment",
        "currency",
        "payment_terms_days",
        "credit_limit",
    ]
    list_filter = ["entity", "segment", "currency", "country"]
    search_fields = ["external_ref", "name", "tax_id"]
    raw_id_fields = ["parent", "sales_owner", "collector"]
    inlines = [ContactInline]


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = ["external_ref", "customer", "issue_date", "due_date", "currency", "amount", "status"]
    list_filter = ["entity", "status", "currency"]
    search_fields = ["external_ref", "customer__name", "customer__external_ref", "po_number"]
    raw_id_fields = ["customer"]
    date_hierarchy = "due_date"


@admin.register(CreditNote)
class CreditNoteAdmin(admin.ModelAdmin):
    list_display = ["external_ref", "customer", "date", "currency", "amount"]
    search_fields = ["external_ref", "customer__name"]
    raw_id_fields = ["customer"]


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ["external_ref", "customer", "date", "currency", "amount", "returned_on"]
    search_fields = ["external_ref", "customer__name"]
    raw_id_fields = ["customer"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["external_ref", "customer", "order_date", "currency", "amount", "status"]
    list_filter = ["entity", "status", "currency"]
    search_fields = ["external_ref", "customer__name", "customer__external_ref"]
    raw_id_fields = ["customer"]
    date_hierarchy = "order_date"


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    list_display = ["rate_date", "base_currency", "quote_currency", "rate", "entity"]
    list_filter = ["entity", "base_currency", "quote_currency"]
    date_hierarchy = "rate_date"


@admin.register(Allocation)
class AllocationAdmin(admin.ModelAdmin):
    list_display = ["invoice", "payment", "credit_note", "date", "amount"]
    raw_id_fields = ["invoice", "payment", "credit_note"]


DOCUMENT_FIELDS = (
    "entity",
    "invoice",
    "original_name",
    "size",
    "sha256",
    "content_type",
    "created_at",
    "download",
)


@admin.register(InvoiceDocument)
class InvoiceDocumentAdmin(admin.ModelAdmin):
    """Read-only: PDFs come from the ERP (``relance documents import``, the API). The download
    goes through the API's GET, which a signed-in staff user may call; the file has no URL."""

    list_display = ["invoice", "entity", "original_name", "size", "created_at", "download"]
    list_filter = ["entity"]
    search_fields = ["invoice__external_ref", "original_name", "sha256"]
    fields = readonly_fields = DOCUMENT_FIELDS
    list_select_related = ["invoice", "entity"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="PDF")
    def download(self, document: InvoiceDocument) -> str:
        url = "/api/v1/invoices/{}/document?{}".format(
            quote(document.invoice.external_ref, safe="/"), urlencode({"entity": document.entity.name})
        )
        return format_html('<a href="{}">download (current version)</a>', url)

from django.contrib import admin

from relance.ledger.models import Allocation, Contact, CreditNote, Customer, Entity, Invoice, Payment


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
    list_display = ["external_ref", "customer", "date", "currency", "amount"]
    search_fields = ["external_ref", "customer__name"]
    raw_id_fields = ["customer"]


@admin.register(Allocation)
class AllocationAdmin(admin.ModelAdmin):
    list_display = ["invoice", "payment", "credit_note", "date", "amount"]
    raw_id_fields = ["invoice", "payment", "credit_note"]

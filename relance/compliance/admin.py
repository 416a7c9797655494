from django.contrib import admin

from relance.compliance.models import ComplianceSettings, ContactPreferenceEvent
from relance.compliance.selectors import caches_clear


@admin.register(ComplianceSettings)
class ComplianceSettingsAdmin(admin.ModelAdmin):
    list_display = (
        "entity",
        "contact_cap",
        "customer_cap",
        "quiet_hours_start",
        "quiet_hours_end",
        "consumer_rules",
    )
    readonly_fields = ("updated_by", "created_at", "updated_at")

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)
        caches_clear()


@admin.register(ContactPreferenceEvent)
class ContactPreferenceEventAdmin(admin.ModelAdmin):
    """The evidence of opt-outs: read-only (a change is a new event, made through the services)."""

    list_display = ("at", "contact", "channel", "opted_out", "source", "address")
    list_filter = ("channel", "opted_out", "source")
    search_fields = ("address", "contact__name", "contact__email", "contact__phone")

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

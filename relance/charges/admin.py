from django.contrib import admin

from relance.charges.models import EntityLateCharges


@admin.register(EntityLateCharges)
class EntityLateChargesAdmin(admin.ModelAdmin):
    list_display = (
        "entity",
        "enabled",
        "jurisdiction",
        "contractual_rate",
        "margin_pp",
        "include_compensation",
    )
    list_filter = ("enabled", "jurisdiction")
    search_fields = ("entity__name",)

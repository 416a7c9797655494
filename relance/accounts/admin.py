from django.contrib import admin

from relance.accounts.models import EntityAccess


@admin.register(EntityAccess)
class EntityAccessAdmin(admin.ModelAdmin):
    list_display = ["user", "entity", "created_at"]
    list_filter = ["entity"]
    search_fields = ["user__username", "entity__name"]

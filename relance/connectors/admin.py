from django.contrib import admin

from relance.connectors import models


@admin.register(models.Connector)
class ConnectorAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("entity", "source", "url", "interval_minutes", "last_sync_at", "push_enabled")
    list_filter = ("source",)
    # The encrypted tokens are never shown or edited here; cursors and results are the sync's.
    exclude = ("token_ciphertext",)
    readonly_fields = ("cursors", "last_sync_at", "last_result", "next_sync_at")


@admin.register(models.PushedChange)
class PushedChangeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("connector", "key", "external_id", "updated_at")
    search_fields = ("key", "external_id")
    readonly_fields = ("connector", "key", "fingerprint", "external_id")

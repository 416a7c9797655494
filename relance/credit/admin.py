from django.contrib import admin

from relance.credit import models


@admin.register(models.Scorecard)
class ScorecardAdmin(admin.ModelAdmin):
    list_display = ("key", "name", "entity", "version", "is_default")


@admin.register(models.CreditProfile)
class CreditProfileAdmin(admin.ModelAdmin):
    list_display = ("customer", "limit_expires_on", "next_review_on", "insurer", "insured_limit")
    raw_id_fields = ("customer",)


@admin.register(models.CreditSettings)
class CreditSettingsAdmin(admin.ModelAdmin):
    list_display = ("entity", "four_eyes_above", "exposure_includes_open_orders")


@admin.register(models.CreditReview)
class CreditReviewAdmin(admin.ModelAdmin):
    list_display = ("customer", "opened_on", "status", "proposal", "proposed_limit")
    list_filter = ("status", "proposal")
    raw_id_fields = ("customer", "decision")


@admin.register(models.CreditDecision)
class CreditDecisionAdmin(admin.ModelAdmin):
    list_display = ("customer", "decided_on", "kind", "source", "previous_limit", "new_limit")
    raw_id_fields = ("customer",)


@admin.register(models.CreditApplication)
class CreditApplicationAdmin(admin.ModelAdmin):
    list_display = ("legal_name", "status", "requested_limit", "currency", "created_at")
    list_filter = ("status",)
    raw_id_fields = ("customer", "decision")

from __future__ import annotations

import secrets

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from relance.core.actors import Actor
from relance.portal import links, selectors, services
from relance.portal.models import (
    DisputeCase,
    PlanRequest,
    PlanRequestStatus,
    PortalCheckout,
    PortalEvent,
    PortalLink,
    PortalSettings,
)


@admin.register(PortalLink)
class PortalLinkAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "customer",
        "contact",
        "source",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ]
    list_filter = ["source"]
    search_fields = ["customer__external_ref", "customer__name", "contact__email"]
    raw_id_fields = ["customer", "contact"]
    readonly_fields = ["token_id", "created_by", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    @admin.action(description="Revoke the selected links")
    def revoke(self, request: HttpRequest, queryset: QuerySet[PortalLink]) -> None:
        count = sum(1 for link in queryset if links.link_revoke(link=link))
        self.message_user(request, f"{count} link(s) revoked.")

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        if not change:
            obj.token_id = obj.token_id or secrets.token_urlsafe(18)
            obj.created_by = request.user
            obj.source = "admin"
        super().save_model(request, obj, form, change)


@admin.register(PortalEvent)
class PortalEventAdmin(admin.ModelAdmin):
    list_display = ["at", "customer", "action", "link", "ip"]
    list_filter = ["action"]
    search_fields = ["customer__external_ref", "customer__name"]
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(PlanRequest)
class PlanRequestAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "customer",
        "installments",
        "first_due",
        "total",
        "currency",
        "status",
        "created_at",
    ]
    list_filter = ["status"]
    readonly_fields = ["plan", "decided_by", "decided_at", "reasons", "invoice_ids", "link"]
    actions = ["approve", "reject"]

    def _decide(self, request: HttpRequest, queryset: QuerySet[PlanRequest], approve: bool) -> None:
        for found in queryset.filter(status=PlanRequestStatus.PENDING).select_related("customer__entity"):
            try:
                services.plan_request_decide(
                    request=found,
                    approve=approve,
                    on=selectors.portal_today(entity=found.customer.entity),
                    actor=Actor.user(request.user),
                )
            except services.PortalRefused as refused:
                self.message_user(request, f"request {found.pk}: {refused}", level=messages.ERROR)

    @admin.action(description="Approve (create the plan)")
    def approve(self, request: HttpRequest, queryset: QuerySet[PlanRequest]) -> None:
        self._decide(request, queryset, True)

    @admin.action(description="Reject")
    def reject(self, request: HttpRequest, queryset: QuerySet[PlanRequest]) -> None:
        self._decide(request, queryset, False)


@admin.register(PortalSettings)
class PortalSettingsAdmin(admin.ModelAdmin):
    list_display = ["entity", "link_days", "promise_max_days", "dispute_sla_days", "plan_max_installments"]


@admin.register(DisputeCase)
class DisputeCaseAdmin(admin.ModelAdmin):
    list_display = ["dispute", "owner", "sla_due_on"]
    raw_id_fields = ["dispute", "link"]


@admin.register(PortalCheckout)
class PortalCheckoutAdmin(admin.ModelAdmin):
    list_display = ["provider_ref", "customer", "provider", "amount", "currency", "status", "created_at"]
    list_filter = ["provider", "status"]
    readonly_fields = ["payment"]

"""Admin of the outbox: failed, bounced and uncertain messages are visible and can be retried."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from relance.core.actors import Actor
from relance.delivery.models import CallTask, DeliveryEvent, MessageAttachment, OutboundMessage
from relance.delivery.services import RETRYABLE, DeliveryError, message_cancel, message_retry


class DeliveryEventInline(admin.TabularInline):
    model = DeliveryEvent
    extra = 0
    can_delete = False
    fields = readonly_fields = ("at", "kind", "detail", "provider_event_id")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MessageAttachmentInline(admin.TabularInline):
    model = MessageAttachment
    extra = 0
    can_delete = False
    fields = readonly_fields = ("filename", "content_type", "size", "file")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OutboundMessage)
class OutboundMessageAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "queued_at",
        "status",
        "channel",
        "customer",
        "recipient",
        "template_key",
        "attempts",
        "last_error",
    ]
    list_filter = ["status", "channel", "entity", "template_key"]
    search_fields = ["recipient", "customer__external_ref", "customer__name", "idempotency_key", "message_id"]
    date_hierarchy = "queued_at"
    inlines = [MessageAttachmentInline, DeliveryEventInline]
    actions = ["retry_messages", "cancel_messages"]
    list_select_related = ["customer"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in OutboundMessage._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Retry (after fixing the contact)")
    def retry_messages(self, request: HttpRequest, queryset: QuerySet[OutboundMessage]) -> None:
        done = 0
        for message in queryset.filter(status__in=RETRYABLE):
            message_retry(message=message, user=request.user)
            done += 1
        self.message_user(request, f"{done} message(s) queued again.", messages.SUCCESS)

    @admin.action(description="Cancel")
    def cancel_messages(self, request: HttpRequest, queryset: QuerySet[OutboundMessage]) -> None:
        done = 0
        for message in queryset:
            try:
                message_cancel(message=message, user=request.user, actor=Actor.user(request.user))
                done += 1
            except DeliveryError:
                continue
        self.message_user(request, f"{done} message(s) cancelled.", messages.SUCCESS)


@admin.register(CallTask)
class CallTaskAdmin(admin.ModelAdmin):
    list_display = ["due_on", "customer", "assigned_to", "phone", "status", "outcome"]
    list_filter = ["status", "entity", "assigned_to"]
    search_fields = ["customer__external_ref", "customer__name", "phone"]
    list_select_related = ["customer", "assigned_to"]

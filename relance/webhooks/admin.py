"""The back office of webhooks (admins only: the Django admin is for the admin role): endpoints,
their deliveries and the log of every attempt. The secret is set when an endpoint is made and
rotated with ``relance webhook rotate`` or the API, never edited here."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from relance.core.errors import ValidationFailed
from relance.events.types import EVENT_TYPES
from relance.webhooks import signing
from relance.webhooks.guard import BadEndpointUrl, url_check
from relance.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from relance.webhooks.services import event_types_check, replay


class EndpointForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(
        choices=[(name, f"{name} — {kind.description}") for name, kind in EVENT_TYPES.items()],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None checked: every type.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "entity", "description", "event_types", "active", "max_in_flight"]

    def clean_url(self) -> str:
        try:
            return url_check(self.cleaned_data["url"])
        except BadEndpointUrl as exc:
            raise ValidationError(str(exc)) from exc

    def clean_event_types(self) -> list[str]:
        try:
            return event_types_check(self.cleaned_data["event_types"])
        except ValidationFailed as exc:
            raise ValidationError(exc.message) from exc


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ["url", "entity", "description", "active", "consecutive_failures", "disabled_reason"]
    list_filter = ["active", "entity"]
    search_fields = ["url", "description"]
    readonly_fields = [
        "secret_hint",
        "consecutive_failures",
        "failing_since",
        "disabled_at",
        "disabled_reason",
    ]
    actions = ["replay_last_day"]

    @admin.display(description="secret")
    def secret_hint(self, endpoint: WebhookEndpoint) -> str:
        return (
            f"{endpoint.secret[:10]}… (shown in full once, when made or rotated)" if endpoint.secret else ""
        )

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        if not obj.secret:
            obj.secret = signing.secret_new()
            self.message_user(request, f"The endpoint's secret (keep it for the receiver): {obj.secret}")
        super().save_model(request, obj, form, change)

    @admin.action(description="Send the last 24 hours of events again")
    def replay_last_day(self, request: HttpRequest, queryset: Any) -> None:
        from datetime import timedelta

        from django.utils import timezone

        count = sum(replay(endpoint=e, since=timezone.now() - timedelta(hours=24)) for e in queryset)
        self.message_user(request, f"{count} deliveries queued again")


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ("attempt", "at", "status_code", "latency_ms", "error", "worker")
    readonly_fields = ("attempt", "at", "status_code", "latency_ms", "error", "worker")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "event",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["status", "endpoint"]
    search_fields = ["event__uid", "event__type"]
    raw_id_fields = ["event", "endpoint"]
    readonly_fields = [
        "event",
        "endpoint",
        "ordering_key",
        "status",
        "attempts",
        "next_attempt_at",
        "first_attempt_at",
        "lease_owner",
        "lease_until",
        "last_status_code",
        "last_error",
        "delivered_at",
    ]
    inlines = [AttemptInline]

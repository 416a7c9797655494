"""Admin for entities' own message templates: a template is saved only if it compiles in the sandbox."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.html import format_html
from django.utils.http import urlencode

from relance.common.widgets import SourceTextarea
from relance.comms import defaults
from relance.comms.models import CommsSettings, MessageTemplate
from relance.comms.rendering import TemplateError
from relance.comms.services import message_template_check, template_history_start


class MessageTemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = ["entity", "key", "channel", "language", "subject", "body_text", "body_html"]
        widgets = {
            "body_text": SourceTextarea(rows=18, cols=100),
            "body_html": SourceTextarea(rows=18, cols=100),
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        parts = {"subject": "subject", "text": "body_text", "html": "body_html"}
        try:
            message_template_check(
                subject=data.get("subject", ""),
                body_text=data.get("body_text", ""),
                body_html=data.get("body_html", ""),
                name=f"{data.get('key', '')} [{data.get('channel', '')}, {data.get('language', '')}]",
                entity=data.get("entity"),
                key=data.get("key", ""),
                channel=data.get("channel", "email"),
                language=data.get("language", ""),
            )
        except TemplateError as exc:
            field = next((parts[part] for part in parts if exc.template.endswith(f" {part}")), None)
            where = f"line {exc.line}: " if exc.line else ""
            raise ValidationError({field: f"{where}{exc.message}"} if field else str(exc)) from None
        return data


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    form = MessageTemplateForm
    list_display = ["key", "channel", "language", "entity", "updated_at", "updated_by", "preview_link"]
    list_filter = ["entity", "channel", "language"]
    search_fields = ["key", "subject"]

    def get_changeform_initial_data(self, request: Any) -> dict[str, Any]:
        """``add/?key=…&channel=…&language=…`` starts from the shipped default (or the current one)."""
        initial: dict[str, Any] = dict(super().get_changeform_initial_data(request))
        key, channel, language = (initial.get(name) for name in ("key", "channel", "language"))
        if key and channel and language:
            source = defaults.default_source(str(key), str(channel), str(language))
            if source is not None:
                initial.update(
                    {"subject": source.subject, "body_text": source.text, "body_html": source.html}
                )
        return initial

    def save_model(self, request: Any, obj: MessageTemplate, form: Any, change: bool) -> None:
        """Saved as on the Templates page: the wording it replaces and the new one are both kept
        in the template's history."""
        if change and obj.pk:
            previous = MessageTemplate.objects.get(pk=obj.pk)
            template_history_start(previous)
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)
        template_history_start(obj)

    @admin.display(description="Preview")
    def preview_link(self, obj: MessageTemplate) -> str:
        customer = obj.entity.customers.order_by("external_ref").first()
        if customer is None:
            return "-"
        query = urlencode(
            {
                "entity": obj.entity.name,
                "customer": customer.external_ref,
                "template": obj.key,
                "channel": obj.channel,
                "lang": obj.language,
            }
        )
        return format_html('<a href="/comms/preview/?{}">preview</a>', query)


@admin.register(CommsSettings)
class CommsSettingsAdmin(admin.ModelAdmin):
    list_display = ["entity", "on_broken_template", "updated_at"]

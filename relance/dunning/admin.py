"""Admin for collections. Policies are edited as YAML and validated by the engine on save."""

from __future__ import annotations

from typing import Any

import yaml
from django import forms
from django.contrib import admin

from relance.common.widgets import SourceTextarea
from relance.core.errors import ValidationFailed
from relance.dunning.models import (
    CustomerAttribute,
    DunningAction,
    DunningRun,
    Policy,
    SegmentationRules,
    SegmentPolicy,
)
from relance.engine.dunning.policy import policy_from_dict, policy_to_dict


class PolicyForm(forms.ModelForm):
    """The spec as YAML text (how docs/policies.md shows it), stored as the engine's dict form."""

    spec_yaml = forms.CharField(
        label="Policy (YAML)",
        widget=SourceTextarea(rows=30, cols=110),
        help_text="key, name, cadence and steps; see docs/policies.md",
    )

    class Meta:
        model = Policy
        fields = ["entity", "spec_yaml"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["spec_yaml"].initial = yaml.safe_dump(self.instance.spec, sort_keys=False, width=100)

    def clean_spec_yaml(self) -> dict[str, Any]:
        try:
            data = yaml.safe_load(self.cleaned_data["spec_yaml"])
        except yaml.YAMLError as exc:
            raise forms.ValidationError(f"not valid YAML: {exc}") from None
        try:
            policy = policy_from_dict(data)
        except ValidationFailed as exc:
            raise forms.ValidationError(exc.message) from None
        if self.instance.pk and policy.key != self.instance.key:
            raise forms.ValidationError(f"the key cannot change here (it is {self.instance.key!r})")
        return policy_to_dict(policy)

    def save(self, commit: bool = True) -> Policy:
        spec = self.cleaned_data["spec_yaml"]
        self.instance.spec = spec
        self.instance.key = spec["key"]
        self.instance.name = spec["name"]
        return super().save(commit=commit)


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    form = PolicyForm
    list_display = ["key", "name", "version", "entity", "updated_at"]
    list_filter = ["entity"]
    search_fields = ["key", "name"]
    readonly_fields = ["version"]

    def save_model(self, request: Any, obj: Policy, form: Any, change: bool) -> None:
        """Through the import service, so that a changed spec makes a new version."""
        from relance.dunning.services import policy_import

        policy, _ = policy_import(entity=obj.entity, spec=form.cleaned_data["spec_yaml"])
        obj.pk = policy.pk
        obj.refresh_from_db()


@admin.register(SegmentPolicy)
class SegmentPolicyAdmin(admin.ModelAdmin):
    list_display = ["entity", "segment", "policy"]
    list_filter = ["entity"]


@admin.register(DunningRun)
class DunningRunAdmin(admin.ModelAdmin):
    list_display = ["entity", "as_of", "status", "started_at", "finished_at"]
    list_filter = ["entity"]
    readonly_fields = ["entity", "as_of", "status", "started_at", "finished_at", "counts", "started_by"]

    def has_add_permission(self, request: Any) -> bool:
        return False


@admin.register(DunningAction)
class DunningActionAdmin(admin.ModelAdmin):
    """Actions are the record of what runs decided: read-only except their status."""

    list_display = ["on", "customer", "action", "step_key", "channel", "amount_due", "currency", "status"]
    list_filter = ["entity", "action", "status", "kind"]
    search_fields = ["customer__external_ref", "customer__name", "step_key"]
    readonly_fields = [
        field.name for field in DunningAction._meta.get_fields() if field.concrete and field.name != "status"
    ] + ["invoices"]

    def has_add_permission(self, request: Any) -> bool:
        return False


class SegmentationRulesForm(forms.ModelForm):
    """The rules as YAML, validated by the engine."""

    rules_yaml = forms.CharField(
        label="Rules (YAML)",
        widget=SourceTextarea(rows=20, cols=110),
        help_text="[{segment: S, when: [{field, op, value}]}, …]; first match wins; see docs/dunning.md",
    )

    class Meta:
        model = SegmentationRules
        fields = ["entity", "rules_yaml", "default_segment"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["rules_yaml"].initial = yaml.safe_dump(
                self.instance.rules, sort_keys=False, width=100
            )

    def clean_rules_yaml(self) -> Any:
        from relance.engine.dunning.behaviour import segment_rules_from_list

        try:
            data = yaml.safe_load(self.cleaned_data["rules_yaml"]) or []
        except yaml.YAMLError as exc:
            raise forms.ValidationError(f"not valid YAML: {exc}") from None
        try:
            segment_rules_from_list(data)
        except ValidationFailed as exc:
            raise forms.ValidationError(exc.message) from None
        return data

    def save(self, commit: bool = True) -> SegmentationRules:
        self.instance.rules = self.cleaned_data["rules_yaml"]
        return super().save(commit=commit)


@admin.register(SegmentationRules)
class SegmentationRulesAdmin(admin.ModelAdmin):
    form = SegmentationRulesForm
    list_display = ["entity", "default_segment", "updated_at"]


@admin.register(CustomerAttribute)
class CustomerAttributeAdmin(admin.ModelAdmin):
    list_display = ["customer", "name", "value", "entity"]
    list_filter = ["entity", "name"]
    search_fields = ["customer__external_ref", "name", "value"]
    raw_id_fields = ["customer"]

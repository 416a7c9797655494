"""An action carries its step's channels (the engine's ``channels``): delivery reads them there,
and actions stored before the column existed get them from their policy's spec once."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from relance.dunning import services
from relance.dunning.models import DunningAction, Policy
from tests.dunning.conftest import D

pytestmark = pytest.mark.django_db


def test_a_run_stores_each_actions_step_channels_in_the_policys_order(scenario):
    customer = scenario.customer("C1")
    scenario.invoice("C1", "F1", "1000.00", due="2026-03-31")
    services.run_start(entity=scenario.entity, as_of=D("2026-04-20"))
    action = DunningAction.objects.get(customer=customer)
    spec = Policy.objects.get(entity=scenario.entity, key="standard").spec
    [step] = [step for step in spec["steps"] if step["key"] == action.step_key]
    assert action.step_channels == step["channels"] and action.channel == step["channels"][0]


def test_the_migration_fills_in_older_actions_from_the_policy_spec(scenario):
    customer = scenario.customer("C1")
    scenario.invoice("C1", "F1", "1000.00", due="2026-03-31")
    services.run_start(entity=scenario.entity, as_of=D("2026-04-20"))
    action = DunningAction.objects.get(customer=customer)
    expected = action.step_channels
    DunningAction.objects.update(step_channels=[])
    installment = DunningAction.objects.create(
        **{
            field.name: getattr(action, field.name)
            for field in DunningAction._meta.concrete_fields
            if field.name not in {"id", "created_at", "updated_at", "step_channels"}
        }
        | {"step_key": "installment:1:1:upcoming", "kind": "installment", "channel": "sms"}
    )
    migration = importlib.import_module("relance.dunning.migrations.0014_action_step_channels")
    migration._channels_from_specs(apps, None)
    action.refresh_from_db()
    installment.refresh_from_db()
    assert action.step_channels == expected
    assert installment.step_channels == ["sms"]  # not a policy step: the decided channel alone

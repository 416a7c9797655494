"""The data migrations to the one channel vocabulary: stored ``phone`` becomes ``call``, rows kept."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [
    ("ledger", "0007_search_text"),
    ("compliance", "0001_initial"),
    ("dunning", "0014_action_step_channels"),
]
AFTER = [
    ("ledger", "0008_channel_call"),
    ("compliance", "0002_preference_channel_call"),
    ("dunning", "0015_channel_call"),
]
SPEC = {
    "key": "calls",
    "steps": [
        {"key": "reminder", "offset_days": 1, "action": "message", "channels": ["email", "letter"]},
        {"key": "collector_call", "offset_days": 20, "action": "task", "channels": ["phone", "email"]},
    ],
}


def _migrate(targets):
    """Migrate to ``targets`` (AFTER: every app to its latest, so that the apps migrated back with
    the ledger — credit, cashapp… — come back too) and return the state at ``targets``."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes() if targets is AFTER else targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_stored_phone_preferences_opt_outs_policies_and_actions_become_call(
    make_customer, make_contact, make_action
):
    customer = make_customer("C1")
    caller = make_contact(customer, name="Caller", opt_out_phone=True)
    writer = make_contact(customer, name="Writer", preferred_channel="letter")
    action = make_action(customer, channel="email", action="task")
    try:
        old = _migrate(BEFORE)
        old.get_model("ledger", "Contact").objects.filter(pk=caller.pk).update(preferred_channel="phone")
        Event = old.get_model("compliance", "ContactPreferenceEvent")
        for channel in ("phone", "sms"):
            Event.objects.create(
                entity_id=customer.entity_id,
                contact_id=caller.pk,
                channel=channel,
                opted_out=True,
                at="2026-03-01T10:00:00Z",
                source="admin",
            )
        policy = old.get_model("dunning", "Policy").objects.create(
            entity_id=customer.entity_id, key="calls", name="Calls", spec=SPEC
        )
        old.get_model("dunning", "PolicyVersion").objects.create(policy=policy, version=1, spec=SPEC)
        old.get_model("dunning", "DunningAction").objects.filter(pk=action.pk).update(
            channel="phone", step_channels=["phone", "email"]
        )
        logged = old.get_model("cases", "ContactLog").objects.create(
            entity_id=customer.entity_id, customer_id=customer.pk, on="2026-03-02", channel="phone"
        )
    finally:
        new = _migrate(AFTER)

    Contact = new.get_model("ledger", "Contact")
    assert Contact.objects.get(pk=caller.pk).preferred_channel == "call"
    assert Contact.objects.get(pk=caller.pk).opt_out_phone  # the flag is kept
    assert Contact.objects.get(pk=writer.pk).preferred_channel == "letter"
    events = new.get_model("compliance", "ContactPreferenceEvent").objects.filter(contact_id=caller.pk)
    assert sorted(events.values_list("channel", flat=True)) == ["call", "sms"]
    for model in ("Policy", "PolicyVersion"):
        steps = new.get_model("dunning", model).objects.get().spec["steps"]
        assert [step["channels"] for step in steps] == [["email", "letter"], ["call", "email"]]
    migrated = new.get_model("dunning", "DunningAction").objects.get(pk=action.pk)
    assert (migrated.channel, migrated.step_channels) == ("call", ["call", "email"])
    assert new.get_model("cases", "ContactLog").objects.get(pk=logged.pk).channel == "call"

    # Backwards: the names go back, the rows stay.
    old = _migrate(BEFORE)
    try:
        assert old.get_model("ledger", "Contact").objects.get(pk=caller.pk).preferred_channel == "phone"
        assert old.get_model("dunning", "Policy").objects.get().spec["steps"][1]["channels"] == [
            "phone",
            "email",
        ]
    finally:
        _migrate(AFTER)

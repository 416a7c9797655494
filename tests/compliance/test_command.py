"""relance compliance check: the rules explained for one customer and channel."""

from __future__ import annotations

import json
from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from relance.compliance.services import contact_preference_set


def run(*args: str) -> str:
    out = StringIO()
    call_command("compliance", "check", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def customer(make_customer, make_contact, make_invoice):
    customer = make_customer("C1", timezone="Europe/Paris", country="FR")
    make_contact(customer)
    make_invoice(customer, "F1", "500", date(2026, 1, 1), date(2026, 2, 1))  # something to chase
    return customer


def test_a_customer_who_owes_nothing_is_not_due(make_customer, make_contact):
    make_contact(make_customer("C2"))
    report = json.loads(run("--customer", "C2", "--channel", "email", "--json"))
    assert report["verdict"] == "not_due" and report["rules"][0]["rule"] == "still_due"
    assert "Not due: paid or settled" in run("--customer", "C2", "--channel", "email")


def test_sms_in_the_evening_is_deferred_with_the_rule_and_next_instant(customer):
    report = json.loads(
        run("--customer", "C1", "--channel", "sms", "--at", "2026-03-02T21:30+01:00", "--json")
    )
    assert report["verdict"] == "deferred"
    assert report["next_allowed"] == "2026-03-03T07:00:00+00:00"
    assert report["time_zones"] == "Europe/Paris (customer)"
    rules = {r["rule"]: r for r in report["rules"]}
    assert not rules["quiet_hours"]["allowed"] and rules["opt_out"]["allowed"]
    text = run("--customer", "C1", "--channel", "sms", "--at", "2026-03-02T21:30+01:00")
    assert (
        "wait    quiet_hours" in text and "Deferred: next allowed instant 2026-03-03T07:00:00+00:00." in text
    )


def test_allowed_and_blocked(customer):
    assert (
        run("--customer", "C1", "--channel", "email", "--at", "2026-03-02T10:00")
        .rstrip()
        .endswith("Allowed now.")
    )
    contact_preference_set(contact=customer.contacts.get(), channel="email", opted_out=True, source="admin")
    report = json.loads(run("--customer", "C1", "--channel", "email", "--json"))
    assert report["verdict"] == "blocked" and report["next_allowed"] is None
    assert "opted out of email" in report["reason"]


def test_bad_input(customer):
    with pytest.raises(CommandError, match="ISO 8601"):
        run("--customer", "C1", "--channel", "email", "--at", "tomorrow")
    with pytest.raises(CommandError, match="no contact"):
        run("--customer", "C1", "--channel", "email", "--contact", "nobody@example.com")

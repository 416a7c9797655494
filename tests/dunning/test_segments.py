"""Behavioural classes with evidence and rule-based segments, from the app database through the engine."""

from __future__ import annotations

import pytest
import yaml
from django.core.management.base import CommandError

from relance.ledger.models import Customer
from tests.dunning.conftest import command, command_json

RULES = {
    "rules": [
        {
            "segment": "risky",
            "when": [{"field": "behaviour", "op": "in", "value": ["at_risk", "chronic_late"]}],
        },
        {"segment": "prompt", "when": [{"field": "behaviour", "op": "eq", "value": "prompt"}]},
    ],
}


@pytest.fixture
def history(scenario):
    """PROMPT paid three invoices on time; LATE paid three 40 days late; NEW has one open invoice."""
    for ref in ("PROMPT", "LATE", "NEW"):
        scenario.customer(ref, segment="manual" if ref == "NEW" else "")
    for number, due in enumerate(("2026-01-31", "2026-02-28", "2026-03-31"), start=1):
        scenario.invoice("PROMPT", f"P{number}", "100.00", due=due)
        scenario.pay("PROMPT", f"PP{number}", f"P{number}", "100.00", due)
        scenario.invoice("LATE", f"L{number}", "100.00", due=due)
        late = {1: "2026-03-12", 2: "2026-04-09", 3: "2026-05-11"}[number]
        scenario.pay("LATE", f"LP{number}", f"L{number}", "100.00", late)
    scenario.invoice("NEW", "N1", "100.00", due="2026-05-15")
    return scenario


def test_show_gives_each_class_with_its_evidence(history):
    rows = {row["customer_ref"]: row for row in command_json("segment", "show", "--as-of", "2026-05-20")}
    assert {ref: row["behaviour"] for ref, row in rows.items()} == {
        "LATE": "chronic_late",
        "NEW": "new",
        "PROMPT": "prompt",
    }
    assert "3 invoices paid in the window, 100% late" in rows["LATE"]["evidence"]
    assert "0% late" in rows["PROMPT"]["evidence"]
    assert all(row["proposed"] is None for row in rows.values())  # no rules yet: everyone keeps theirs


def test_rules_import_export_and_apply(history, tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(RULES))
    assert "2 segmentation rule(s) stored" in command("segment", "rules", "--import", str(path))
    assert yaml.safe_load(command("segment", "rules", "--export")) == {**RULES, "default": ""}
    dry = command_json("segment", "apply", "--as-of", "2026-05-20", "--dry-run")
    assert {(c["customer_ref"], c["after"], c["rule"]) for c in dry} == {
        ("LATE", "risky", 1),
        ("PROMPT", "prompt", 2),
    }
    assert set(Customer.objects.values_list("segment", flat=True)) == {"", "manual"}
    out = command("segment", "apply", "--as-of", "2026-05-20")
    assert "LATE: (none) → risky (rule 1)" in out and "2 customer segment(s) changed." in out
    assert dict(Customer.objects.values_list("external_ref", "segment")) == {
        "LATE": "risky",
        "NEW": "manual",  # matched no rule and there is no default: kept
        "PROMPT": "prompt",
    }
    assert command_json("segment", "apply", "--as-of", "2026-05-20") == []


def test_segments_then_choose_the_policy(history, tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({**RULES, "default": "standard_customers"}))
    command("segment", "rules", "--import", str(path))
    command("segment", "apply", "--as-of", "2026-05-20")
    assert Customer.objects.get(external_ref="NEW").segment == "standard_customers"
    command("policy", "assign", "high_risk", "--segment", "risky")
    history.invoice("LATE", "L4", "500.00", due="2026-06-05")
    history.invoice("PROMPT", "P4", "500.00", due="2026-06-05")
    decisions = history.run("2026-05-26")["decisions"]
    assert [(row["customer_ref"], row["policy"], row["step"]) for row in decisions] == [
        ("LATE", "high_risk", "pre_due_1"),  # risky → high risk: first reminder 10 days before due
        ("NEW", "standard", "reminder_1"),  # N1 was due 05-15; PROMPT's pre-due is only at -5
    ]


def test_bad_rules_are_refused_with_every_problem(history, tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "rules": [
                    {"segment": "x", "when": [{"field": "mood", "op": "eq", "value": "sad"}]},
                    {"when": []},
                ]
            }
        )
    )
    with pytest.raises(CommandError) as error:
        command("segment", "rules", "--import", str(path))
    assert "rules[0].when[0].field: expected one of segment" in str(error.value)
    assert "rules[1]: expected a mapping with a segment" in str(error.value)

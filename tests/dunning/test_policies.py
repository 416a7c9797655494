"""Policies: stored as the engine's dict form, YAML in and out, validated by the engine, mapped to segments."""

from __future__ import annotations

import pytest
import yaml
from django.core.management.base import CommandError

from relance.core.errors import Conflict, ValidationFailed
from relance.dunning import selectors, services
from relance.dunning.models import Policy, SegmentPolicy
from tests.dunning.conftest import command, command_json

MINIMAL = """
key: gentle
name: Gentle
steps:
  - {key: first, offset_days: 1, action: message, channels: [email]}
  - {key: call, offset_days: 20, action: task, channels: [call]}
"""


def test_import_defaults_then_list(entity):
    out = command("policy", "import", "--defaults")
    assert "Policy standard (Standard) created" in out
    rows = command_json("policy", "list")
    assert [row["key"] for row in rows] == ["high_risk", "standard", "white_glove"]
    assert all(row["steps"] >= 5 for row in rows)
    assert {row["key"]: row["segments"] for row in rows} == {
        "high_risk": [],
        "standard": ["(default)"],  # a new entity collects out of the box
        "white_glove": [],
    }
    assert "Default policy: standard" in out
    command("policy", "assign", "white_glove", "--default")
    again = command("policy", "import", "--defaults")
    assert "replaced" in again and Policy.objects.count() == 3
    assert "Default policy" not in again  # the entity's own default is kept
    assert SegmentPolicy.objects.get(entity=entity, segment="").policy.key == "white_glove"


def test_export_then_import_round_trips(entity, tmp_path):
    command("policy", "import", "--defaults")
    exported = command("policy", "export", "standard")
    assert exported.startswith("key: standard\nname: Standard\n")
    path = tmp_path / "standard.yaml"
    path.write_text(exported.replace("small_balance: 10", "small_balance: 25"))
    command("policy", "import", str(path))
    policy = selectors.policy_map(entity=entity)["standard"]
    assert str(policy.cadence.small_balance) == "25"
    assert yaml.safe_load(command("policy", "export", "standard")) == Policy.objects.get(key="standard").spec


def test_a_list_of_policies_imports_all_or_nothing(entity, tmp_path):
    bad = yaml.safe_load(MINIMAL) | {
        "key": "broken",
        "steps": [{"key": "x", "offset_days": 1, "action": "fax"}],
    }
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump({"policies": [yaml.safe_load(MINIMAL), bad]}))
    with pytest.raises(CommandError) as error:
        command("policy", "import", str(path))
    assert f"{path}[1]: policy broken:" in str(error.value)
    assert "steps[0].action: expected one of message, task" in str(error.value)
    assert not Policy.objects.exists()


def test_validate_lists_every_problem_and_stores_nothing(entity, tmp_path):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(MINIMAL)
    bad.write_text(
        "key: b\nsteps:\n  - {key: a, offset_days: 5, action: message}\n  - {key: a, offset_days: 1, action: task, channels: [pigeon]}\n"
    )
    assert "good.yaml: policy gentle is valid (2 steps)" in command("policy", "validate", str(good))
    with pytest.raises(CommandError) as error:
        command("policy", "validate", str(good), str(bad))
    message = str(error.value)
    assert "steps[0].channels: expected at least one channel for a message" in message
    assert "steps[1].channels[0]: expected one of email" in message
    assert "steps[1].key: expected a key not used by another step" in message
    assert "steps[1].offset_days: expected at least the previous step's (5)" in message
    assert not Policy.objects.exists()


def test_a_policy_file_that_still_says_phone_is_stored_as_a_call(entity, tmp_path):
    path = tmp_path / "gentle.yaml"
    path.write_text(MINIMAL.replace("channels: [call]", "channels: [phone]"))
    command("policy", "import", str(path))
    steps = Policy.objects.get(entity=entity, key="gentle").spec["steps"]
    assert steps[1]["channels"] == ["call"]


def test_not_yaml_is_reported_with_the_file(entity, tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("key: [unclosed\n")
    with pytest.raises(CommandError, match=r"x.yaml: not valid YAML"):
        command("policy", "import", str(path))


def test_assign_segments_and_default(entity, make_customer):
    command("policy", "import", "--defaults")
    command("policy", "assign", "standard", "--default")
    command("policy", "assign", "white_glove", "--segment", "key accounts")
    vip = make_customer("V", segment="key accounts")
    other = make_customer("O", segment="smb")
    assert selectors.customer_policy_key(customer=vip) == "white_glove"
    assert selectors.customer_policy_key(customer=other) == "standard"
    rows = {row["key"]: row["segments"] for row in command_json("policy", "list")}
    assert rows == {"high_risk": [], "standard": ["(default)"], "white_glove": ["key accounts"]}
    command("policy", "unassign", "--default")
    assert selectors.customer_policy_key(customer=other) is None
    with pytest.raises(CommandError, match="no policy 'nope' in entity acme"):
        command("policy", "assign", "nope", "--segment", "x")


def test_a_policy_in_use_cannot_be_deleted(entity):
    command("policy", "import", "--defaults")
    services.segment_policy_assign(entity=entity, policy_key="high_risk", segment="risky")
    with pytest.raises(Conflict, match="assigned to segment"):
        services.policy_delete(entity=entity, key="high_risk")
    services.segment_policy_remove(entity=entity, segment="risky")
    assert services.policy_delete(entity=entity, key="high_risk") is True
    assert list(SegmentPolicy.objects.values_list("segment", flat=True)) == [""]  # standard, the default


def test_model_clean_validates_through_the_engine(entity):
    from django.core.exceptions import ValidationError

    policy = Policy(entity=entity, key="gentle", name="Gentle", spec={"key": "gentle", "steps": []})
    with pytest.raises(ValidationError, match="a non-empty list of steps"):
        policy.full_clean()
    policy.spec = yaml.safe_load(MINIMAL) | {"key": "other"}
    with pytest.raises(ValidationError, match="the spec's key is 'other'"):
        policy.full_clean()


def test_admin_edits_policies_as_yaml(entity, admin_client):
    services.policy_import_yaml(entity=entity, text=MINIMAL)
    policy = Policy.objects.get(key="gentle")
    url = f"/admin/dunning/policy/{policy.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200 and "offset_days: 20" in page.content.decode()
    changed = MINIMAL.replace("offset_days: 20", "offset_days: 25")
    response = admin_client.post(url, {"entity": entity.pk, "spec_yaml": changed})
    assert response.status_code == 302
    policy.refresh_from_db()
    assert policy.spec["steps"][1]["offset_days"] == 25
    response = admin_client.post(url, {"entity": entity.pk, "spec_yaml": changed.replace("task", "fax")})
    assert response.status_code == 200 and "expected one of message" in response.content.decode()


def test_policy_validate_service_rejects_garbage():
    with pytest.raises(ValidationFailed, match="expected a mapping"):
        services.policy_validate(spec=["not", "a", "policy"])


def test_every_dunning_admin_page_opens(scenario, admin_client):
    scenario.customer("C1")
    scenario.invoice("C1", "F1", "1000.00", due="2026-03-31")
    scenario.run("2026-03-26")
    from relance.dunning.models import DunningAction

    for model in ("policy", "segmentpolicy", "dunningrun", "dunningaction"):
        assert admin_client.get(f"/admin/dunning/{model}/").status_code == 200, model
    for model in ("promise", "dispute", "paymentplan", "customerhold", "contactlog", "credithold"):
        assert admin_client.get(f"/admin/cases/{model}/").status_code == 200, model
    action = DunningAction.objects.get()
    page = admin_client.get(f"/admin/dunning/dunningaction/{action.pk}/change/")
    assert page.status_code == 200 and "pre_due" in page.content.decode()
    assert admin_client.get("/admin/dunning/dunningrun/add/").status_code == 403


def test_admin_edits_segmentation_rules_as_yaml(entity, admin_client):
    from relance.dunning.models import SegmentationRules

    rules = "- segment: risky\n  when:\n  - {field: behaviour, op: eq, value: at_risk}\n"
    response = admin_client.post(
        "/admin/dunning/segmentationrules/add/",
        {"entity": entity.pk, "rules_yaml": rules, "default_segment": ""},
    )
    assert response.status_code == 302
    assert SegmentationRules.objects.get().rules == [
        {"segment": "risky", "when": [{"field": "behaviour", "op": "eq", "value": "at_risk"}]}
    ]
    bad = rules.replace("behaviour", "mood")
    stored = SegmentationRules.objects.get()
    response = admin_client.post(
        f"/admin/dunning/segmentationrules/{stored.pk}/change/",
        {"entity": entity.pk, "rules_yaml": bad, "default_segment": ""},
    )
    assert response.status_code == 200 and "expected one of segment" in response.content.decode()

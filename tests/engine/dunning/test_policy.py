"""Policies as data: validation with every problem listed, dict/YAML round trips, the defaults."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relance.core.errors import ValidationFailed
from relance.engine.dunning.behaviour import segment_rules_from_list
from relance.engine.dunning.defaults import (
    DEFAULT_POLICY_KEYS,
    default_policies,
    policy_from_yaml,
    policy_to_yaml,
)
from relance.engine.dunning.policy import (
    ACTIONS,
    CHANNELS,
    TONES,
    CadencePhase,
    CadenceRules,
    Condition,
    Policy,
    Step,
    policy_from_dict,
    policy_to_dict,
)

MINIMAL = {"key": "p", "steps": [{"key": "s", "offset_days": 1, "action": "message", "channels": ["email"]}]}


def test_minimal_policy_gets_the_defaults():
    policy = policy_from_dict(MINIMAL)
    assert policy.name == "p" and policy.cadence == CadenceRules()
    assert policy.steps == (Step("s", 1, "message", ("email",), template_key="s"),)


BAD = [
    ({**MINIMAL, "steps": []}, "policy.steps: expected a non-empty list of steps, found []"),
    (
        {**MINIMAL, "steps": [{"key": "s", "offset_days": 1, "action": "fax", "channels": ["email"]}]},
        "steps[0].action: expected one of message, task, notify_owner, credit_hold, external_collection, found 'fax'",
    ),
    (
        {**MINIMAL, "steps": [{"key": "s", "offset_days": "1", "action": "message", "channels": ["email"]}]},
        "steps[0].offset_days: expected an integer, found '1'",
    ),
    (
        {**MINIMAL, "steps": [{"key": "s", "offset_days": 1, "action": "message"}]},
        "steps[0].channels: expected at least one channel for a message, found []",
    ),
    (
        {**MINIMAL, "steps": [{"key": "s", "offset_days": 1, "action": "message", "channels": ["pigeon"]}]},
        "steps[0].channels[0]: expected one of email, sms, letter, registered_letter, call, found 'pigeon'",
    ),
    (
        {
            **MINIMAL,
            "steps": [
                {"key": "a", "offset_days": 10, "action": "notify_owner"},
                {"key": "b", "offset_days": 5, "action": "notify_owner"},
            ],
        },
        "steps[1].offset_days: expected at least the previous step's (10): steps are in order, found 5",
    ),
    (
        {
            **MINIMAL,
            "steps": [
                {"key": "a", "offset_days": 1, "action": "notify_owner"},
                {"key": "a", "offset_days": 5, "action": "notify_owner"},
            ],
        },
        "steps[1].key: expected a key not used by another step, found 'a'",
    ),
    (
        {**MINIMAL, "cadence": {"min_days_between": -1}},
        "cadence.min_days_between: expected zero or more, found -1",
    ),
    ({**MINIMAL, "cadence": {"max_contacts": 0}}, "cadence.max_contacts: expected at least 1"),
    (
        {**MINIMAL, "cadence": {"small_balance": "ten"}},
        "cadence.small_balance: expected a number, found 'ten'",
    ),
    (
        {**MINIMAL, "colour": "red"},
        "policy.colour: expected one of business_days, cadence, description, key, name, send_window, steps",
    ),
    (
        {
            **MINIMAL,
            "steps": [
                {
                    "key": "s",
                    "offset_days": 1,
                    "action": "notify_owner",
                    "conditions": [{"field": "amount_due", "op": "in", "value": ["1"]}],
                }
            ],
        },
        "steps[0].conditions[0].op: expected a comparison (eq, ne, lt, le, gt, ge) for a number, found 'in'",
    ),
    (
        {
            **MINIMAL,
            "steps": [
                {
                    "key": "s",
                    "offset_days": 1,
                    "action": "notify_owner",
                    "conditions": [{"field": "mood", "op": "eq", "value": "x"}],
                }
            ],
        },
        "steps[0].conditions[0].field: expected one of amount_due",
    ),
]


@pytest.mark.parametrize("data, message", BAD)
def test_invalid_policies_say_where_and_what(data, message):
    with pytest.raises(ValidationFailed) as error:
        policy_from_dict(data)
    assert message in error.value.message
    assert error.value.message.startswith("policy p: ")


def test_every_problem_is_listed_at_once():
    data = {"key": "p", "colour": 1, "steps": [{"key": "", "offset_days": 1.5, "action": "x"}]}
    with pytest.raises(ValidationFailed) as error:
        policy_from_dict(data)
    assert error.value.message.count("; ") >= 3


def test_yaml_errors_name_the_source():
    with pytest.raises(ValidationFailed, match=r"^mine.yaml: not valid YAML"):
        policy_from_yaml("key: [unclosed", source="mine.yaml")
    with pytest.raises(ValidationFailed, match=r"^mine.yaml: policy \?: "):
        policy_from_yaml("steps: []", source="mine.yaml")


def test_default_policies_load_and_follow_the_seeds():
    policies = default_policies()
    assert tuple(policies) == DEFAULT_POLICY_KEYS
    standard = policies["standard"]
    assert [(step.key, step.offset_days) for step in standard.steps] == [
        ("pre_due", -5),
        ("reminder_1", 1),
        ("reminder_2", 15),
        ("reminder_3", 30),
        ("reminder_4", 45),
        ("notify_owner", 55),
        ("final_notice", 60),
        ("collector_call", 75),
    ]
    assert standard.cadence.min_days_at(30) == 15 and standard.cadence.min_days_at(61) == 3
    assert [step.tone for step in standard.steps if step.is_contact] == [
        "friendly",
        "friendly",
        "neutral",
        "firm",
        "urgent",
        "final",
        "firm",
    ]
    white = policies["white_glove"]
    call = white.steps[white.step_index("personal_call")]
    assert call.offset_days < 0 and call.action == "task" and call.conditions
    high = policies["high_risk"]
    assert {step.action for step in high.steps} >= {"credit_hold", "external_collection", "task"}
    assert len(high.steps) > len(standard.steps) and high.cadence.phases == ()


@pytest.mark.parametrize("key", DEFAULT_POLICY_KEYS)
def test_default_policies_round_trip_through_yaml(key):
    policy = default_policies()[key]
    assert policy_from_yaml(policy_to_yaml(policy)) == policy


keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)
numbers = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False)
conditions = st.one_of(
    st.builds(
        Condition,
        st.sampled_from(["amount_due", "invoice_amount", "days_past_due"]),
        st.sampled_from(["eq", "ne", "lt", "le", "gt", "ge"]),
        numbers,
    ),
    st.builds(
        Condition, st.sampled_from(["risk", "segment", "behaviour"]), st.sampled_from(["eq", "ne"]), keys
    ),
    st.builds(
        Condition,
        st.sampled_from(["risk", "segment"]),
        st.sampled_from(["in", "not_in"]),
        st.lists(keys, max_size=3).map(tuple),
    ),
)


@st.composite
def policies_strategy(draw):
    count = draw(st.integers(min_value=1, max_value=6))
    step_keys = draw(st.lists(keys, min_size=count, max_size=count, unique=True))
    offsets = sorted(draw(st.lists(st.integers(-30, 120), min_size=count, max_size=count)))
    steps = []
    for key, offset in zip(step_keys, offsets, strict=True):
        action = draw(st.sampled_from(ACTIONS))
        channels = tuple(draw(st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=3, unique=True)))
        steps.append(
            Step(
                key,
                offset,
                action,
                channels if action in ("message", "task") else (),
                template_key=draw(keys),
                tone=draw(st.sampled_from(TONES)),
                conditions=tuple(draw(st.lists(conditions, max_size=2))),
            )
        )
    cadence = CadenceRules(
        min_days_between=draw(st.integers(0, 30)),
        phases=tuple(
            draw(st.lists(st.builds(CadencePhase, st.integers(0, 120), st.integers(0, 30)), max_size=2))
        ),
        max_contacts=draw(st.none() | st.integers(1, 10)),
        window_days=draw(st.integers(1, 90)),
        small_balance=draw(numbers),
        promise_grace_days=draw(st.integers(0, 10)),
        installment_reminder_days=draw(st.integers(0, 10)),
    )
    return Policy(draw(keys), draw(keys), tuple(steps), cadence)


@given(policies_strategy())
def test_any_valid_policy_round_trips_through_its_dict_and_yaml(policy):
    assert policy_from_dict(policy_to_dict(policy)) == policy
    assert policy_from_yaml(policy_to_yaml(policy)) == policy


def test_segmentation_rules_are_validated():
    with pytest.raises(ValidationFailed) as error:
        segment_rules_from_list(
            [{"segment": "x", "when": [{"field": "share_late", "op": "ge", "value": "half"}]}]
        )
    assert "rules[0].when[0].value: expected a number, found 'half'" in error.value.message
    (rule,) = segment_rules_from_list(
        [{"segment": "x", "when": [{"field": "risk", "op": "eq", "value": "high"}]}]
    )
    assert rule.segment == "x" and rule.conditions[0].value == "high"

"""The shipped default policies (YAML files in ``policies/``) and YAML load/dump helpers."""

from __future__ import annotations

from pathlib import Path

import yaml

from relance.core.errors import ValidationFailed
from relance.engine.dunning.policy import Policy, policy_from_dict, policy_to_dict

POLICY_DIRECTORY = Path(__file__).with_name("policies")
DEFAULT_POLICY_KEYS = ("white_glove", "standard", "high_risk")
ERROR_YAML = "{source}: not valid YAML: {problem}"


def policy_from_yaml(text: str, *, source: str = "policy") -> Policy:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationFailed(ERROR_YAML.format(source=source, problem=exc)) from exc
    try:
        return policy_from_dict(data)
    except ValidationFailed as exc:
        raise ValidationFailed(f"{source}: {exc.message}") from exc


def policy_to_yaml(policy: Policy) -> str:
    return yaml.safe_dump(policy_to_dict(policy), sort_keys=False, allow_unicode=True, width=100)


def default_policies() -> dict[str, Policy]:
    """white_glove, standard and high_risk, read from the shipped YAML files."""
    return {
        key: policy_from_yaml((POLICY_DIRECTORY / f"{key}.yaml").read_text("utf-8"), source=f"{key}.yaml")
        for key in DEFAULT_POLICY_KEYS
    }

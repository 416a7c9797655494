"""Grouping: one decision per customer, currency and kind, at the most advanced step."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from relance.engine.dunning.policy import (
    Policy,
)


def _steps_table(policies: Mapping[str, Policy]) -> pd.DataFrame:
    rows = []
    for key, policy in policies.items():
        for index, step in enumerate(policy.steps):
            rows.append(
                {
                    "policy_key": key,
                    "step_index": index,
                    "step_key": step.key,
                    "offset_days": step.offset_days,
                    "action": step.action,
                    "kind": step.kind,
                    "channels": step.channels,
                    "tone": step.tone,
                    "template_key": step.template_key,
                }
            )
    return pd.DataFrame(rows)


def _group(candidates: pd.DataFrame, policies: Mapping[str, Policy]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One decision per customer, currency and kind (internal actions apart, by action): each
    invoice at its own step, the group at the most advanced one. Returns the decisions and the
    candidates with their ``group_no``."""
    steps = _steps_table(policies)
    candidates = candidates.merge(steps, on=["policy_key", "step_index"], how="left")
    candidates["group_action"] = np.where(candidates.kind == "internal", candidates.action, "")
    candidates["catch_up"] = candidates.due_count > 1
    group_keys = ["customer_id", "currency", "kind", "group_action"]
    decisions = (
        candidates.groupby(group_keys, sort=False)
        .agg(
            entity_id=("entity_id", "first"),
            policy_key=("policy_key", "first"),
            step_index=("step_index", "max"),
            amount_units=("chaseable_units", "sum"),
            disputed_units=("disputed_units", "sum"),
            invoice_count=("invoice_id", "size"),
            max_days_past_due=("days_past_due", "max"),
            broken_promise=("broken_promise", "any"),
            catch_up=("catch_up", "any"),
            channel_mask=("channel_mask", "first"),
            timezone=("timezone", "first"),
            country=("country", "first"),
        )
        .reset_index()
    )
    decisions = decisions.merge(
        steps, on=["policy_key", "step_index", "kind"], how="left", suffixes=("", "_s")
    )
    decisions["group_no"] = np.arange(len(decisions))
    candidates = candidates.merge(decisions[[*group_keys, "group_no"]], on=group_keys, how="left")
    return decisions, candidates

"""Grouping: one decision per customer, currency and kind, at the most advanced step."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from relance.engine.dunning.policy import (
    Policy,
)

# Per decision, from the candidate that opened its group (the same for every invoice of a customer).
FIRST_OF_GROUP = ("entity_id", "policy_key", "channel_mask", "timezone", "country")
STEP_COLUMNS = ("step_key", "offset_days", "action", "channels", "tone", "template_key")


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
    return pd.DataFrame(rows, columns=["policy_key", "step_index", "kind", *STEP_COLUMNS])


def _step_rows(
    policy_keys: pd.Series, step_index: np.ndarray, policies: Mapping[str, Policy]
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's step as a row number of ``_steps_table`` (policies in order, steps in order),
    and each row's policy as a code into ``policy_keys``'s distinct values (numpy, no merge)."""
    start: dict[str, int] = {}
    position = 0
    for key, policy in policies.items():
        start[key] = position
        position += len(policy.steps)
    codes, distinct = pd.factorize(policy_keys)
    first_row = np.array([start[str(key)] for key in distinct], dtype=np.int64)
    return first_row[codes] + step_index, codes


def _group(candidates: pd.DataFrame, policies: Mapping[str, Policy]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One decision per customer, currency and kind (internal actions apart, by action): each
    invoice at its own step, the group at the most advanced one. Returns the decisions and the
    candidates (invoice_id, customer_id, step_key, step_index) with their ``group_no``.

    Groups are numbered in the order their first candidate comes (as a pandas
    ``groupby(sort=False)`` would); it is all numpy over integer codes: a first run groups
    half a million candidates (docs/benchmarks.md).
    """
    steps = _steps_table(policies)
    step_index = candidates.step_index.to_numpy(np.int64)
    row, _ = _step_rows(candidates.policy_key, step_index, policies)
    kind_of_row = steps.kind.to_numpy(dtype=object)
    action_of_row = steps.action.to_numpy(dtype=object)
    # Kind and, for internal actions, the action: one code per step row.
    group_action_of_row = np.where(kind_of_row == "internal", action_of_row, "")
    kind_action, _ = pd.factorize(pd.Series(kind_of_row + "\x00" + group_action_of_row.astype(object)))
    customer_code, _ = pd.factorize(candidates.customer_id)
    currency_code, _ = pd.factorize(candidates.currency, use_na_sentinel=False)
    width = max(int(kind_action.max(initial=0)) + 1, 1)
    currencies = int(currency_code.max(initial=0)) + 1
    key = (customer_code.astype(np.int64) * currencies + currency_code) * width + kind_action[row]
    group, _ = pd.factorize(key)  # numbered by first appearance
    count = int(group.max(initial=-1)) + 1
    first = np.full(count, len(group), dtype=np.int64)
    np.minimum.at(first, group, np.arange(len(group), dtype=np.int64))
    numbers = pd.DataFrame(
        {
            "group": group,
            "step_index": step_index,
            "amount_units": candidates.chaseable_units.to_numpy(np.int64),
            "disputed_units": candidates.disputed_units.to_numpy(np.int64),
            "max_days_past_due": candidates.days_past_due.to_numpy(np.int64),
            "broken_promise": candidates.broken_promise.to_numpy(bool),
            "catch_up": candidates.due_count.to_numpy(np.int64) > 1,
        }
    ).groupby("group", sort=True)
    sums = numbers[["amount_units", "disputed_units"]].sum()
    highest = numbers[["step_index", "max_days_past_due"]].max()
    flags = numbers[["broken_promise", "catch_up"]].any()
    decision_row = row[first] - step_index[first] + highest.step_index.to_numpy(np.int64)
    first_row = row[first]
    decisions = pd.DataFrame(
        {
            "customer_id": candidates.customer_id.to_numpy(np.int64)[first],
            "currency": _taken(candidates.currency, first),
            "kind": _of_steps(kind_of_row, first_row),
            "group_action": _of_steps(group_action_of_row, first_row),
            **{name: _taken(candidates[name], first) for name in FIRST_OF_GROUP},
            "step_index": highest.step_index.to_numpy(np.int64),
            "amount_units": sums.amount_units.to_numpy(np.int64),
            "disputed_units": sums.disputed_units.to_numpy(np.int64),
            "invoice_count": np.bincount(group, minlength=count).astype(np.int64),
            "max_days_past_due": highest.max_days_past_due.to_numpy(np.int64),
            "broken_promise": flags.broken_promise.to_numpy(bool),
            "catch_up": flags.catch_up.to_numpy(bool),
            "step_key": _of_steps(steps.step_key.to_numpy(dtype=object), decision_row),
            "offset_days": steps.offset_days.to_numpy(np.int64)[decision_row],
            "action": _of_steps(action_of_row, decision_row),
            "channels": pd.Series(steps.channels.to_numpy(dtype=object)[decision_row], dtype=object),
            "tone": _of_steps(steps.tone.to_numpy(dtype=object), decision_row),
            "template_key": _of_steps(steps.template_key.to_numpy(dtype=object), decision_row),
            "group_no": np.arange(count, dtype=np.int64),
        }
    )
    grouped = pd.DataFrame(
        {
            "invoice_id": candidates.invoice_id.to_numpy(np.int64),
            "customer_id": candidates.customer_id.to_numpy(np.int64),
            "step_key": _of_steps(steps.step_key.to_numpy(dtype=object), row),
            "step_index": step_index,
            "group_no": group.astype(np.int64),
        }
    )
    return decisions, grouped


def _taken(column: pd.Series, positions: np.ndarray) -> pd.Series:
    """``column``'s values at ``positions``, in its own dtype (a categorical stays one: no copy of text)."""
    return column.iloc[positions].reset_index(drop=True)


def _of_steps(values: np.ndarray, rows: np.ndarray) -> pd.Categorical:
    """A steps-table column's values at ``rows``, as a categorical (codes; no text per row)."""
    codes, distinct = pd.factorize(values)
    return pd.Categorical.from_codes(codes[rows], categories=distinct)

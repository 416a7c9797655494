"""Cadence: the contact history, the minimum days between contacts and the cap over a rolling window."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
from ibis.backends import BaseBackend

from relance.engine.dunning.contract import (
    DunningTables,
)
from relance.engine.dunning.policy import (
    Policy,
)
from relance.engine.dunning.rules.common import _date, _epoch_day, _Suppressed


def _history(
    tables: DunningTables, policies: Mapping[str, Policy], as_of: date, backend: BaseBackend | None
) -> pd.DataFrame:
    """Per customer: last contact, last overdue contact, contacts in each policy's window."""
    history = tables.contact_history
    history = history.filter(history.is_contact, history.date <= as_of)
    upcoming_keys = sorted(
        {step.key for policy in policies.values() for step in policy.steps if step.kind == "upcoming"}
    )
    is_overdue = ~history.step_key.isin(upcoming_keys) if upcoming_keys else ibis.literal(True)
    is_overdue = is_overdue & ~history.step_key.startswith("installment:")
    windows = sorted({policy.cadence.window_days for policy in policies.values()})
    aggregates = {
        "last_contact": history.date.max(),
        "last_overdue_contact": ibis.ifelse(is_overdue, history.date, ibis.null("date")).max(),
    }
    for days in windows:
        start = as_of - timedelta(days=days - 1)
        aggregates[f"contacts_{days}"] = ibis.ifelse(history.date >= start, 1, 0).sum().cast("int64")
    expr = history.group_by("customer_id").aggregate(**aggregates)
    table = expr.to_pyarrow() if backend is None else backend.to_pyarrow(expr)
    frame = table.to_pandas()
    for column in ("last_contact", "last_overdue_contact"):  # epoch days, NaN when none
        days = table.column(column).cast(pa.int32()).to_numpy(zero_copy_only=False)
        frame[column] = np.asarray(days, dtype=np.float64)
    return frame


@dataclass(frozen=True)
class _Cadence:
    """Per decision: the policy's cadence figures and the customer's contact history."""

    last: np.ndarray  # epoch day of the last contact (NaN: none)
    last_overdue: np.ndarray  # … of the last overdue contact
    min_days: np.ndarray
    phase_gap: np.ndarray  # days between overdue contacts at the decision's days past due
    max_contacts: np.ndarray  # −1: no cap
    made: np.ndarray  # contacts in the policy's window


def _cadence_of(decisions: pd.DataFrame, policies: Mapping[str, Policy], history: pd.DataFrame) -> _Cadence:
    """``history``: ``_history`` by customer."""
    customer_ids = decisions.customer_id.to_numpy(np.int64)
    by_customer = history
    dpd = decisions.max_days_past_due.to_numpy(np.int64)
    policy_keys = decisions.policy_key.to_numpy(dtype=object)
    min_days = np.zeros(len(decisions), dtype=np.int64)
    phase_gap = np.zeros(len(decisions), dtype=np.int64)
    max_contacts = np.full(len(decisions), -1, dtype=np.int64)
    made = np.zeros(len(decisions), dtype=np.int64)
    for key, policy in policies.items():
        mine = policy_keys == key
        if not mine.any():
            continue
        cadence = policy.cadence
        min_days[mine] = cadence.min_days_between
        gap = np.full(int(mine.sum()), cadence.min_days_between, dtype=np.int64)
        for phase in cadence.phases:
            gap = np.where(
                dpd[mine] <= phase.until_days_past_due, np.maximum(gap, phase.min_days_between), gap
            )
        phase_gap[mine] = gap
        if cadence.max_contacts is not None:
            max_contacts[mine] = cadence.max_contacts
            column = f"contacts_{cadence.window_days}"
            if column in by_customer:
                made[mine] = by_customer[column].reindex(customer_ids[mine]).fillna(0).to_numpy(np.int64)
    return _Cadence(
        last=by_customer["last_contact"].reindex(customer_ids).to_numpy(np.float64),
        last_overdue=by_customer["last_overdue_contact"].reindex(customer_ids).to_numpy(np.float64),
        min_days=min_days,
        phase_gap=phase_gap,
        max_contacts=max_contacts,
        made=made,
    )


def _hold_for_cadence(
    decisions: pd.DataFrame,
    candidates: pd.DataFrame,
    cadence: _Cadence,
    as_of: date,
    is_contact: np.ndarray,
    blocked: np.ndarray,
    out: _Suppressed,
) -> np.ndarray:
    """Minimum days since the last contact (phases: since the last overdue contact)."""
    last, last_overdue, min_days, phase_gap = (
        cadence.last,
        cadence.last_overdue,
        cadence.min_days,
        cadence.phase_gap,
    )
    dpd = decisions.max_days_past_due.to_numpy(np.int64)
    as_of_day = _epoch_day(as_of)
    since_any = as_of_day - last
    since_overdue = as_of_day - last_overdue
    too_soon = is_contact & ~blocked & ~np.isnan(last) & (since_any < min_days)
    too_soon_overdue = (
        is_contact
        & ~blocked
        & (decisions.kind == "overdue").to_numpy()
        & ~np.isnan(last_overdue)
        & (since_overdue < phase_gap)
    )
    cadence_blocked = too_soon | too_soon_overdue
    if cadence_blocked.any():
        positions = np.flatnonzero(cadence_blocked)
        details = []
        for position in positions.tolist():
            parts = []
            if too_soon[position]:
                parts.append(
                    f"last contact {_date(last[position])}, next allowed {_date(last[position] + min_days[position])}"
                )
            if too_soon_overdue[position]:
                parts.append(
                    f"last overdue contact {_date(last_overdue[position])}, at most one every "
                    f"{phase_gap[position]} days at {dpd[position]} days past due: next allowed "
                    f"{_date(last_overdue[position] + phase_gap[position])}"
                )
            details.append("; ".join(parts))
        out.groups(candidates, decisions.group_no.to_numpy()[positions], "cadence", details)
        blocked = blocked | cadence_blocked
    return blocked


def _cap_contacts(
    decisions: pd.DataFrame,
    candidates: pd.DataFrame,
    policies: Mapping[str, Policy],
    cadence: _Cadence,
    is_contact: np.ndarray,
    blocked: np.ndarray,
    out: _Suppressed,
) -> np.ndarray:
    """The cap of contacts over the policy's rolling window: overdue messages before upcoming ones."""
    max_contacts, made = cadence.max_contacts, cadence.made
    capped = is_contact & ~blocked & (max_contacts >= 0)
    if not capped.any():
        return blocked
    customer_ids = decisions.customer_id.to_numpy(np.int64)
    policy_keys = decisions.policy_key.to_numpy(dtype=object)
    positions = np.flatnonzero(capped)
    order = pd.DataFrame(
        {
            "customer_id": customer_ids[positions],
            "upcoming": (decisions.kind.to_numpy()[positions] == "upcoming"),
            "position": positions,
        }
    ).sort_values(["customer_id", "upcoming"])
    rank = order.groupby("customer_id").cumcount().to_numpy()
    over = order.position.to_numpy()[rank >= (max_contacts - made)[order.position.to_numpy()]]
    if len(over):
        details = [
            f"{made[p]} contacts in the last {policies[policy_keys[p]].cadence.window_days} days "
            f"(cap {max_contacts[p]})"
            for p in over.tolist()
        ]
        out.groups(candidates, decisions.group_no.to_numpy()[over], "contact_cap", details)
        blocked = blocked.copy()
        blocked[over] = True
    return blocked

"""Amounts not chased: fully disputed invoices and small balances."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from relance.engine.dunning.policy import (
    Policy,
)
from relance.engine.dunning.rules.common import _money, _Suppressed, _units


def _skip_disputed(candidates: pd.DataFrame, keep: np.ndarray, out: _Suppressed) -> np.ndarray:
    """An invoice whose whole open amount is disputed is not chased."""
    disputed = keep & (candidates.chaseable_units <= 0).to_numpy()
    if disputed.any():
        out.invoices(candidates[disputed], "disputed", "the open amount is disputed in full")
        keep = keep & ~disputed
    return keep


def _skip_small_balances(
    candidates: pd.DataFrame, policies: Mapping[str, Policy], keep: np.ndarray, out: _Suppressed
) -> np.ndarray:
    """A customer whose chaseable total (per currency) is below the policy's threshold is not chased."""
    codes, keys = pd.factorize(candidates.policy_key)  # a few policies: no per-row map
    thresholds = np.array([_units(policies[key].cadence.small_balance) for key in keys], dtype=np.int64)
    small = keep & (candidates.customer_chaseable_units.to_numpy(np.int64) < thresholds[codes])
    if small.any():
        who = candidates[small].drop_duplicates(["customer_id", "currency"])
        details = [
            f"{_money(units)} {currency} below {policies[key].cadence.small_balance}"
            for units, currency, key in zip(
                who.customer_chaseable_units.tolist(),
                who.currency.tolist(),
                who.policy_key.tolist(),
                strict=True,
            )
        ]
        out.customers(who, "small_balance", details)
        keep = keep & ~small
    return keep

"""The named rules of ``decide`` alone, on small frames (the scenarios test them together)."""

from __future__ import annotations

import sys
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd

import relance.engine.dunning.decide  # noqa: F401 - the module, not the function the package exports
from relance.engine.dunning.defaults import default_policies

rules = sys.modules["relance.engine.dunning.decide"]


def _suppressed(out):
    return [(row["customer_id"], row["reason"], row["detail"]) for row in out.table().to_pylist()]


def test_broken_promise_resends_once_unless_contacted_after_its_end():
    promises = pd.DataFrame(
        {"customer_id": [1, 2, 3], "end_day": [100, 100, 100], "state": ["broken", "broken", "active"]}
    )
    history = pd.DataFrame({"last_contact": [101.0]}, index=pd.Index([2], name="customer_id"))
    assert rules._broken_promise_resends(promises, history) == [1]


def test_an_active_promise_pauses_its_customer_only():
    candidates = pd.DataFrame({"customer_id": [1, 1, 2], "invoice_id": [10, 11, 20]})
    promises = pd.DataFrame(
        {
            "customer_id": [1, 2],
            "end_day": [rules._epoch_day(date(2026, 4, 23)), 0],
            "state": ["active", "kept"],
        }
    )
    out = rules._Suppressed()
    keep = rules._pause_for_promises(candidates, promises, np.ones(3, dtype=bool), out)
    assert keep.tolist() == [False, False, True]
    assert _suppressed(out) == [(1, "promise_active", "paused until 2026-04-23 (promised date plus grace)")]


def test_small_balance_is_per_customer_and_currency():
    policies = default_policies()  # standard: below 10 is not chased
    candidates = pd.DataFrame(
        {
            "customer_id": [1, 1, 2],
            "currency": ["EUR", "USD", "EUR"],
            "policy_key": ["standard"] * 3,
            "customer_chaseable_units": [
                rules._units(Decimal("9.99")),
                rules._units(Decimal("10")),
                0,
            ],
        }
    )
    out = rules._Suppressed()
    left = rules._skip_small_balances(candidates, policies, out)
    assert left.currency.tolist() == ["USD"]
    assert [(c, r) for c, r, _ in _suppressed(out)] == [(1, "small_balance"), (2, "small_balance")]

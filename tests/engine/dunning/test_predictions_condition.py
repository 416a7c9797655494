"""``p_late`` in policy conditions (issue 16, item 4): a pre-due call for large invoices likely to be
paid late. Policies stay data; the stored predictions are an optional table: an invoice without a
prediction (or with one dated after the run) does not meet the condition. Every backend."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from relance.core.errors import ValidationFailed
from relance.engine.dunning import policy_from_dict
from tests.engine.dunning.harness import describe
from tests.engine.dunning.rows import DunningRows

DUE = date(2026, 3, 16)  # a Monday
CALL_DAY = DUE - timedelta(days=3)

POLICY: dict[str, Any] = {
    "key": "standard",
    "name": "Standard with a predicted-late call",
    "cadence": {"min_days_between": 3},
    "steps": [
        {
            "key": "pre_due_call",
            "offset_days": -3,
            "action": "task",
            "channels": ["call"],
            "tone": "friendly",
            "conditions": [
                {"field": "invoice_amount", "op": "ge", "value": 10000},
                {"field": "p_late", "op": "ge", "value": 0.6},
            ],
        },
        {
            "key": "reminder_1",
            "offset_days": 1,
            "action": "message",
            "channels": ["email"],
            "tone": "friendly",
        },
    ],
}


def _ledger(predictions: bool = True) -> DunningRows:
    rows = DunningRows()
    for ref in ("LIKELY", "UNLIKELY", "UNKNOWN", "FUTURE", "REVISED", "SMALL"):
        customer = rows.dunned_customer(ref)
        amount = 500 if ref == "SMALL" else 20000
        rows.invoice(amount, DUE - timedelta(days=30), DUE, customer=customer)
    stored = [
        (1, CALL_DAY - timedelta(days=1), 0.8),  # LIKELY
        (2, CALL_DAY - timedelta(days=1), 0.3),  # UNLIKELY; UNKNOWN (3) has none
        (4, CALL_DAY + timedelta(days=1), 0.9),  # FUTURE: dated after the run, not read
        (5, CALL_DAY - timedelta(days=20), 0.9),  # REVISED: the latest (0.2) counts
        (5, CALL_DAY - timedelta(days=2), 0.2),
        (6, CALL_DAY - timedelta(days=1), 0.95),  # SMALL: too small an invoice
    ]
    rows_out = rows.rows()
    if predictions:
        rows_out["invoice_predictions"] = [
            {"invoice_id": invoice, "as_of": on, "p_late": p} for invoice, on, p in stored
        ]
    rows.rows = lambda: rows_out  # type: ignore[method-assign]
    return rows


def test_a_pre_due_call_only_for_large_invoices_likely_late(make_life) -> None:
    life = make_life(_ledger(), {"standard": policy_from_dict(POLICY)})
    assert describe(life.run(CALL_DAY)) == ["pre_due_call by call [1]"]


def test_without_stored_predictions_the_condition_never_holds(make_life) -> None:
    life = make_life(_ledger(predictions=False), {"standard": policy_from_dict(POLICY)})
    assert describe(life.run(CALL_DAY)) == []


def test_p_late_is_a_probability() -> None:
    spec = {
        **POLICY,
        "steps": [{**POLICY["steps"][0], "conditions": [{"field": "p_late", "op": "ge", "value": 60}]}],
    }
    with pytest.raises(ValidationFailed, match="a probability from 0 to 1"):
        policy_from_dict(spec)

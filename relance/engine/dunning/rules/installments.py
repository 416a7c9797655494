"""Payment-plan installments: reminders before due and once overdue, on business days."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from ibis.backends import BaseBackend

from relance.engine.dunning.contract import (
    DunningTables,
)
from relance.engine.dunning.policy import (
    Policy,
)
from relance.engine.dunning.rules.calendar import _non_business, _uses_calendar
from relance.engine.dunning.rules.channels import _pick_channel, channel_masks
from relance.engine.dunning.rules.common import _epoch_day, _fetch, _ids, _Suppressed
from relance.engine.schema import money_units

INSTALLMENT_CHANNELS = ("email", "sms", "letter")


def _installment_reminders(
    tables: DunningTables,
    policies: Mapping[str, Policy],
    plans: pd.DataFrame,
    as_of: date,
    run_at: datetime,
    backend: BaseBackend | None,
    out: _Suppressed,
) -> tuple[pd.DataFrame | None, pd.Series]:
    """The active plans' installment reminders (on business days too), and each plan customer's entity."""
    installment_rows = None if plans.empty else _installments(tables, policies, as_of, backend)
    if installment_rows is not None and _uses_calendar(policies):
        installment_rows = _defer_installments(installment_rows, tables, policies, run_at, backend, out)
    entity_of = pd.Series(dtype="int64")
    if installment_rows is not None:
        customers = tables.customers
        entity_of = _fetch(
            customers.filter(customers.customer_id.isin(_ids(plans.customer_id.tolist()))).select(
                "customer_id", "entity_id"
            ),
            backend,
        ).set_index("customer_id")["entity_id"]
    return installment_rows, entity_of


def _defer_installments(
    rows: pd.DataFrame,
    tables: DunningTables,
    policies: Mapping[str, Policy],
    run_at: datetime,
    backend: BaseBackend | None,
    out: _Suppressed,
) -> pd.DataFrame | None:
    """Installment reminders follow the same business days as the rest of the customer's dunning."""
    if tables.customer_calendar is None:
        rows = rows.assign(timezone=None, country=None)
    else:
        calendar = tables.customer_calendar
        found = _fetch(
            calendar.filter(calendar.customer_id.isin(_ids(sorted(set(rows.customer_id.tolist()))))), backend
        ).drop_duplicates("customer_id")
        rows = rows.merge(found, on="customer_id", how="left")
    off = _non_business(rows, policies, run_at)
    deferred = pd.notna(off)
    if deferred.any():
        out.customers(rows[deferred], "non_business_day", list(off[deferred]))
    kept = rows[~deferred].drop(columns=["timezone", "country"])
    return None if kept.empty else kept


def _installments(
    tables: DunningTables,
    policies: Mapping[str, Policy],
    as_of: date,
    backend: BaseBackend | None,
) -> pd.DataFrame | None:
    """Reminders of the unpaid installments of active plans: once before due, once when overdue.

    The reminder's step key, ``installment:PLAN:SEQUENCE:upcoming|overdue``, is what the
    history remembers, so each goes out once.
    """
    plans = tables.plans
    plans = plans.filter(plans.status == "active", plans.starts_on <= as_of)
    lead_max = max(policy.cadence.installment_reminder_days for policy in policies.values())
    items = tables.plan_installments
    items = items.filter(
        items.paid_on.isnull() | (items.paid_on > as_of), items.due_date <= as_of + timedelta(days=lead_max)
    )
    joined = items.join(plans, items.plan_id == plans.plan_id)
    policy = tables.customer_policy.select(_p_customer_id="customer_id", policy_key="policy_key")
    joined = joined.left_join(policy, plans.customer_id == policy._p_customer_id)
    masks = channel_masks(tables, plans.customer_id)
    joined = joined.left_join(masks, plans.customer_id == masks._m_customer_id)
    installments = _fetch(
        joined.select(
            items.plan_id,
            items.sequence,
            items.due_date,
            plans.customer_id,
            plans.currency,
            policy.policy_key,
            channel_mask=masks.channel_mask.fill_null(0),
            amount_units=money_units(items.amount),
        ),
        backend,
    )
    if installments.empty:
        return None
    lead = installments.policy_key.map(
        {key: p.cadence.installment_reminder_days for key, p in policies.items()}
    ).fillna(3)
    due_day = np.array([_epoch_day(value) for value in installments.due_date], dtype=np.int64)
    as_of_day = _epoch_day(as_of)
    installments = installments[as_of_day >= due_day - lead.to_numpy(np.int64)].copy()
    due_day = due_day[as_of_day >= due_day - lead.to_numpy(np.int64)]
    if installments.empty:
        return None
    overdue = as_of_day > due_day
    phase = np.where(overdue, "overdue", "upcoming").astype(object)
    installments["step_key"] = (
        "installment:"
        + installments.plan_id.astype(str).to_numpy(dtype=object)
        + ":"
        + installments.sequence.astype(str).to_numpy(dtype=object)
        + ":"
        + phase
    )
    past = tables.contact_history
    past = past.filter(past.step_key.startswith("installment:"), past.customer_id.isin(plans.customer_id))
    sent = _fetch(past.select("customer_id", "step_key").distinct(), backend)
    if not sent.empty:
        marked = installments.merge(sent.assign(_sent=True), on=["customer_id", "step_key"], how="left")
        keep = marked._sent.isna().to_numpy()
        installments, phase, due_day = installments[keep], phase[keep], due_day[keep]
    customer_ids = installments.customer_id.to_numpy(np.int64)
    chosen = _pick_channel(installments.channel_mask.to_numpy(np.int64), INSTALLMENT_CHANNELS)
    reachable = ~pd.isna(chosen)
    installments, phase, due_day, chosen = (
        installments[reachable],
        phase[reachable],
        due_day[reachable],
        chosen[reachable],
    )
    if installments.empty:
        return None
    days = as_of_day - due_day
    text = (
        "installment "
        + installments.sequence.astype(str).to_numpy(dtype=object)
        + " of plan "
        + installments.plan_id.astype(str).to_numpy(dtype=object)
        + " due "
        + np.array([str(value) for value in installments.due_date], dtype=object)
        + np.where(days > 0, np.char.add(np.char.add(", ", days.astype(str)), " days overdue"), "").astype(
            object
        )
    )
    return pd.DataFrame(
        {
            "group_no": -1,
            "customer_id": customer_ids[reachable],
            "entity_id": 0,
            "currency": installments.currency.to_numpy(dtype=object),
            "policy_key": installments.policy_key.fillna("").to_numpy(dtype=object),
            "kind": "installment",
            "step_key": installments.step_key.to_numpy(dtype=object),
            "step_index": -1,
            "offset_days": 0,
            "action": "message",
            "channel": chosen,
            "tone": np.where(phase == "overdue", "firm", "friendly"),
            "template_key": "installment_" + phase,
            "channels": [list(INSTALLMENT_CHANNELS)] * len(installments),
            "invoice_ids": [[] for _ in range(len(installments))],
            "invoice_count": 0,
            "amount_units": installments.amount_units.to_numpy(np.int64),
            "max_days_past_due": days,
            "broken_promise": False,
            "catch_up": False,
            "reasons": [[{"code": "installment_due", "detail": detail}] for detail in text.tolist()],
        }
    )

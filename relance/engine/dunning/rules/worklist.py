"""The worklist: a priority per customer with overdue money, each factor's points shown."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
from ibis.backends import BaseBackend

from relance.engine.dunning.contract import (
    FACTORS,
    WORKLIST_COLUMNS,
    DunningTables,
    empty,
)
from relance.engine.dunning.policy import (
    Policy,
)
from relance.engine.dunning.rules.common import REASON_CODES, _decimals, _epoch_day, _fetch, _Suppressed
from relance.engine.schema import MONEY_SCALE

RISK_POINTS = {"high": 20.0, "medium": 10.0}


def _worklist(
    tables: DunningTables,
    policies: Mapping[str, Policy],
    frame: ir.Table,
    promises: pd.DataFrame,
    history: pd.DataFrame,
    as_of: date,
    backend: BaseBackend | None,
    out: _Suppressed,
) -> pa.Table:
    """A priority per customer with overdue money; each factor's points are shown.

    priority = amount (10 × log10 of the overdue amount) + lateness (30 × min(days, 180)/180)
    + risk (high 20, medium 10) + broken promises (15 each, at most 30) + time since the last
    contact (10 × min(days, 30)/30; never contacted: 10).
    """
    overdue = frame.filter(frame.days_past_due > 0, frame.chaseable_units > 0)
    per_customer = overdue.group_by(["customer_id", "currency"]).aggregate(
        overdue_units=overdue.chaseable_units.sum().cast("int64"),
        max_days_past_due=overdue.days_past_due.max(),
        policy_key=overdue.policy_key.max(),
    )
    rows = _fetch(per_customer, backend)
    if rows.empty:
        return empty(WORKLIST_COLUMNS)
    policy_key = rows.policy_key.astype(object)
    missing = policy_key.isna().to_numpy()
    out.customers(rows[missing], "no_policy", REASON_CODES["no_policy"])
    unknown = ~missing & ~policy_key.isin(list(policies)).to_numpy()
    if unknown.any():
        who = rows[unknown].drop_duplicates("customer_id")
        out.customers(
            who,
            "unknown_policy",
            [f"policy {key!r} is not among the policies given" for key in who.policy_key],
        )
    customer_ids = rows.customer_id.to_numpy(np.int64)
    profile = _fetch(tables.customer_profile.select("customer_id", "risk"), backend).drop_duplicates(
        "customer_id"
    )
    risk = (
        pd.Series(customer_ids)
        .map(profile.set_index("customer_id")["risk"])
        .astype(object)
        .fillna("")
        .to_numpy()
    )
    if promises.empty:
        broken = np.zeros(len(rows), dtype=np.int64)
    else:
        counts = promises[promises.state == "broken"].groupby("customer_id").size()
        broken = pd.Series(customer_ids).map(counts).fillna(0).to_numpy(np.int64)
    last = history["last_contact"].reindex(customer_ids).to_numpy(np.float64) if not history.empty else None
    since = np.full(len(rows), np.nan) if last is None else _epoch_day(as_of) - last
    units = rows.overdue_units.to_numpy(np.int64)
    dpd = rows.max_days_past_due.to_numpy(np.int64)
    points_amount = np.round(10 * np.log10(np.maximum(units / MONEY_SCALE, 1.0)), 2)
    points_late = np.round(30 * np.minimum(dpd, 180) / 180, 2)
    points_risk = pd.Series(risk).map(RISK_POINTS).fillna(0.0).to_numpy(np.float64)
    points_broken = np.minimum(15.0 * broken, 30.0)
    points_contact = np.where(np.isnan(since), 10.0, np.round(10 * np.minimum(since, 30) / 30, 2))
    priority = np.round(points_amount + points_late + points_risk + points_broken + points_contact, 2)
    amounts = _decimals(units)

    since_days = pa.array(np.nan_to_num(since).astype(np.int64), pa.int64(), mask=np.isnan(since))
    risk_text = pa.array(risk.tolist(), pa.string())
    factors = pa.StructArray.from_arrays(
        [
            pa.StructArray.from_arrays(
                [value, pa.array(points, pa.float64())], fields=list(FACTORS.field(name).type)
            )
            for name, value, points in (
                ("overdue_amount", amounts, points_amount),
                ("days_past_due", pa.array(dpd, pa.int64()), points_late),
                ("risk", risk_text, points_risk),
                ("broken_promises", pa.array(broken, pa.int64()), points_broken),
                ("days_since_contact", since_days, points_contact),
            )
        ],
        fields=list(FACTORS),
    )
    order = np.lexsort((customer_ids, -priority))
    table = pa.table(
        {
            "customer_id": pa.array(customer_ids),
            "currency": pa.array(rows.currency.astype(object).tolist(), pa.string()),
            "priority": pa.array(priority),
            "overdue_amount": amounts,
            "max_days_past_due": pa.array(dpd),
            "risk": risk_text,
            "broken_promises": pa.array(broken),
            "days_since_contact": since_days,
            "factors": factors,
        },
        schema=pa.schema(list(WORKLIST_COLUMNS.items())),
    )
    return table.take(pa.array(order))

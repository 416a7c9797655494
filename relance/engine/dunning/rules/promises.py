"""Promises to pay: each one's state by the one promise rule, the pause while active, the resend once broken."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis.backends import BaseBackend

from relance.core.promises import ACTIVE, BROKEN, OPEN, PaidByCutoff, PromiseTerms, promise_state
from relance.engine.dunning.contract import (
    DunningTables,
)
from relance.engine.dunning.policy import (
    Policy,
)
from relance.engine.dunning.rules.common import _count, _date, _epoch_day, _fetch, _ids, _money, _Suppressed
from relance.engine.kpi import not_void
from relance.engine.schema import money_units


def _promise_states(
    tables: DunningTables,
    policies: Mapping[str, Policy],
    base: ir.Table,
    as_of: date,
    backend: BaseBackend | None,
) -> pd.DataFrame:
    """Open or broken promises made by ``as_of``: customer_id, promise_id, end (date + grace), state.

    state: "active" (pausing), "kept" or "broken", by the one promise rule
    (``relance.core.promises``) applied to each of these few rows; what was paid is measured
    at each promise's cut-off.
    """
    promises = tables.promises
    # "broken" (written back by the app) is still read: dunning resumes flagged, the worklist counts it.
    promises = promises.filter(promises.status.isin([OPEN, BROKEN]), promises.created_on <= as_of)
    if not _count(promises, backend):  # the usual case: skip the queries below
        return pd.DataFrame({"customer_id": [], "promise_id": [], "end": [], "end_day": [], "state": []})
    frame = _fetch(
        promises.select(
            "promise_id",
            "customer_id",
            "created_on",
            "promised_date",
            "status",
            amount_units=money_units(promises.amount),
        ),
        backend,
    )
    # Only the promising customers' policies (not the whole customer_policy table).
    customer_policy = tables.customer_policy
    policy = (
        _fetch(customer_policy.filter(customer_policy.customer_id.isin(promises.customer_id)), backend)
        .drop_duplicates("customer_id")
        .set_index("customer_id")["policy_key"]
    )
    grace = frame.customer_id.map(policy).map(
        lambda key: policies[key].cadence.promise_grace_days if key in policies else 0
    )
    terms = [
        PromiseTerms(promised_date=promised, grace_days=int(days))
        for promised, days in zip(frame.promised_date, grace, strict=True)
    ]
    frame["end"] = [item.end for item in terms]
    # As epoch days too: a groupby max over date objects is a slow per-group Python fallback.
    frame["end_day"] = np.array([_epoch_day(item.end) for item in terms], dtype=np.int64)
    is_open = (frame.status == OPEN).to_numpy()
    cutoffs = {
        int(promise_id): item.cutoff(as_of)
        for promise_id, item, wanted in zip(frame.promise_id, terms, is_open, strict=True)
        if wanted
    }
    linked, still_open = _linked_open_at_cutoff(tables, base, cutoffs, as_of, backend)
    paid = _paid_by_cutoff(tables, promises, cutoffs, backend)
    states = []
    for row, item in zip(frame.itertuples(index=False), terms, strict=True):
        promise_id = int(row.promise_id)
        facts = (
            PaidByCutoff(
                linked_invoices=linked.get(promise_id, 0),
                still_open=still_open.get(promise_id, 0),
                paid=_money(paid.get(promise_id, 0)),
                amount=_money(row.amount_units),
            )
            if row.status == OPEN
            else None
        )
        states.append(promise_state(written_status=row.status, terms=item, paid=facts, as_of=as_of))
    frame["state"] = np.array(states, dtype=object)
    return frame[["promise_id", "customer_id", "end", "end_day", "state"]]


def _linked_open_at_cutoff(
    tables: DunningTables,
    base: ir.Table,
    cutoffs: Mapping[int, date],
    as_of: date,
    backend: BaseBackend | None,
) -> tuple[dict[int, int], dict[int, int]]:
    """Per promise: how many invoices it names, and how many of them are still open at its cut-off.

    One query per distinct cut-off: the as-of date (read from ``base``, already computed) and,
    for promises that ended unsettled and not yet marked broken, their ends.
    """
    if not cutoffs:
        return {}, {}
    links = tables.promise_invoices
    links = links.filter(links.promise_id.isin(_ids(sorted(cutoffs))))
    counts = _fetch(links.group_by("promise_id").aggregate(linked=links.invoice_id.count()), backend)
    linked = {int(p): int(n) for p, n in zip(counts.promise_id, counts.linked, strict=True)}
    still_open: dict[int, int] = {}
    for cutoff in sorted(set(cutoffs.values())):
        mine = [promise_id for promise_id, day in cutoffs.items() if day == cutoff and promise_id in linked]
        if not mine:
            continue
        wanted = links.filter(links.promise_id.isin(_ids(mine)))
        open_ids = base if cutoff == as_of else _open_invoices_at(tables, wanted.invoice_id, cutoff)
        open_ids = open_ids.select(_open_invoice_id="invoice_id")
        joined = wanted.join(open_ids, wanted.invoice_id == open_ids._open_invoice_id)
        rows = _fetch(joined.group_by("promise_id").aggregate(still_open=joined.invoice_id.count()), backend)
        still_open.update({int(p): int(n) for p, n in zip(rows.promise_id, rows.still_open, strict=True)})
    return linked, still_open


def _open_invoices_at(tables: DunningTables, invoice_ids: ir.Column, day: date) -> ir.Table:
    """Of ``invoice_ids``, those open on ``day`` (issued, not void, amount − allocations > 0)."""
    invoices = tables.invoices
    invoices = invoices.filter(
        invoices.invoice_id.isin(invoice_ids), not_void(invoices, day), invoices.issue_date <= day
    )
    allocations = tables.allocations
    allocations = allocations.filter(allocations.date <= day, allocations.invoice_id.isin(invoice_ids))
    allocated = allocations.group_by(_a_invoice_id=allocations.invoice_id).aggregate(
        allocated_units=money_units(allocations.amount).sum().cast("int64")
    )
    joined = invoices.left_join(allocated, invoices.invoice_id == allocated._a_invoice_id)
    joined = joined.filter(money_units(joined.amount) - joined.allocated_units.fill_null(0) > 0)
    return joined.select("invoice_id")


def _paid_by_cutoff(
    tables: DunningTables,
    promises: ir.Table,
    cutoffs: Mapping[int, date],
    backend: BaseBackend | None,
) -> dict[int, int]:
    """Per open promise: the customer's payments (units) dated from the promise's day to its cut-off."""
    if not cutoffs:
        return {}
    last = max(cutoffs.values())
    mine = promises.filter(promises.promise_id.isin(_ids(sorted(cutoffs))))
    payments = tables.payments
    payments = payments.filter(payments.date <= last, payments.customer_id.isin(mine.customer_id))
    payments = payments.select(_pay_customer="customer_id", _pay_date="date", _pay_amount="amount")
    joined = mine.join(
        payments, (mine.customer_id == payments._pay_customer) & (payments._pay_date >= mine.created_on)
    )
    per_day = _fetch(
        joined.group_by(["promise_id", "_pay_date"]).aggregate(
            units=money_units(joined._pay_amount).sum().cast("int64")
        ),
        backend,
    )
    paid: dict[int, int] = {}
    for promise_id, day, units in zip(per_day.promise_id, per_day._pay_date, per_day.units, strict=True):
        if day <= cutoffs[int(promise_id)]:
            paid[int(promise_id)] = paid.get(int(promise_id), 0) + int(units)
    return paid


def _broken_promise_resends(promises: pd.DataFrame, history: pd.DataFrame) -> list[int]:
    """Customers whose promise broke: the reached step is re-sent once, unless a contact
    happened after the (latest broken) promise ended. ``history``: ``_history`` by customer."""
    broken = promises[promises.state == BROKEN]
    if broken.empty:
        return []
    last = broken.groupby("customer_id")["end_day"].max()
    contacted = history["last_contact"].reindex(last.index)
    resend = last[contacted.isna() | (contacted <= last)]
    return [int(value) for value in resend.index]


def _pause_for_promises(
    candidates: pd.DataFrame, promises: pd.DataFrame, keep: np.ndarray, out: _Suppressed
) -> np.ndarray:
    """An active promise pauses the customer's dunning until its end (promised date plus grace)."""
    active = promises[promises.state == ACTIVE]
    paused = keep & candidates.customer_id.isin(active.customer_id).to_numpy()
    if paused.any():
        until = active.groupby("customer_id")["end_day"].max()
        who = candidates[paused].drop_duplicates("customer_id")
        details = [
            f"paused until {_date(until[c]).isoformat()} (promised date plus grace)" for c in who.customer_id
        ]
        out.customers(who, "promise_active", details)
        keep = keep & ~paused
    return keep

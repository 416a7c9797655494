"""``decide``: the daily decision step (see ``contract`` for its inputs and outputs).

Two layers, on purpose:

1. **Per invoice, in Ibis** (runs where the data is: SQLite, PostgreSQL, DuckDB over Parquet):
   each open invoice's open amount at the as-of date (amount − allocations dated ≤ A), its
   disputed part, its days past due, its customer's chaseable total, its policy, the step it
   has reached, and — one CASE per policy — the most advanced step now due and how many
   applicable steps have come due since the reached one. Only *candidates* leave the database:
   invoices with a step newly due, plus those of customers whose promise just broke.
2. **Per customer, vectorised pandas** over those candidates (far fewer rows than the ledger):
   holds, plans, promises, small balance, channel fallback, cadence, the contact cap and
   grouping. These rules compare each customer's candidate rows with its history and small
   side tables; expressing them as window functions portable to SQLite would be much longer and
   no faster at this size, and keeping them in one place keeps the reasons consistent.

The worklist is a third query: one aggregate per customer over the same invoice frame.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
from ibis.backends import BaseBackend

from relance.core.errors import ValidationFailed
from relance.engine.dunning.contract import (
    DECISION_COLUMNS,
    INVOICE_STEP_COLUMNS,
    SUPPRESSED_COLUMNS,
    WORKLIST_COLUMNS,
    Decisions,
    DunningTables,
    empty,
)
from relance.engine.dunning.policy import CHANNELS, Condition, Policy, Step
from relance.engine.schema import MONEY_SCALE, money_units

# Reason codes, in decisions (``reasons``) and in ``Decisions.suppressed`` (``reason``).
REASON_CODES = {
    "step_due": "the step's offset is reached and its conditions hold",
    "catch_up": "earlier steps came due meanwhile (a gap): only the most advanced one is sent",
    "grouped": "several invoices in one message",
    "partially_disputed": "a disputed part is left out of the amount due",
    "channel_fallback": "the preferred channel is not available: the next one is used",
    "promise_broken": "a promise to pay was broken: dunning resumes at the reached step",
    "installment_due": "a payment-plan installment is coming due or overdue",
    # suppressions
    "hold": "the customer is on hold",
    "legal": "the customer is in a legal case",
    "do_not_contact": "the customer must not be contacted",
    "payment_plan": "an active payment plan replaces dunning",
    "promise_active": "a promise to pay pauses dunning until its date plus grace",
    "small_balance": "the customer's chaseable amount is below the policy's small-balance threshold",
    "disputed": "the whole open amount of the invoice is disputed",
    "no_channel": "none of the step's channels is available for the customer",
    "cadence": "too soon after the last contact",
    "contact_cap": "the cap of contacts in the rolling window is reached",
    "no_policy": "the customer has no policy",
    "unknown_policy": "the customer's policy key is not among the policies given",
}
HOLD_KINDS = ("hold", "legal", "do_not_contact")
KIND_ORDER = {"upcoming": 0, "overdue": 1, "installment": 2, "internal": 3}
INSTALLMENT_CHANNELS = ("email", "sms", "letter")
ERROR_NO_POLICIES = "decide() needs at least one policy"


@ibis.udf.scalar.builtin(name="julianday")
def _julianday(value: dt.Date) -> dt.Float64:  # type: ignore[empty-body]
    """SQLite's native day number (Ibis's portable date delta is a slow Python UDF there)."""


def _dialect(table: ir.Table) -> str | None:
    try:
        return table.get_backend().name
    except Exception:  # unbound: compiled only
        return None


def _day_number(column: ir.Value, dialect: str | None) -> ir.IntegerValue:
    if dialect == "sqlite":
        return _julianday(column).cast("int64")  # type: ignore[arg-type]
    return column.epoch_days()  # type: ignore[attr-defined]


def _units(amount: Decimal) -> int:
    return int((amount * MONEY_SCALE).to_integral_value())


def _money(units: int) -> Decimal:
    return Decimal(int(units)) / MONEY_SCALE


# --------------------------------------------------------------------------- the Ibis layer


def _condition_expr(condition: Condition, frame: ir.Table) -> ir.BooleanValue:
    column: ir.Value
    value: Any = condition.value
    if condition.field == "amount_due":
        column, value = frame.customer_chaseable_units, _units(Decimal(value))  # type: ignore[arg-type]
    elif condition.field == "invoice_amount":
        column, value = frame.chaseable_units, _units(Decimal(value))  # type: ignore[arg-type]
    elif condition.field == "days_past_due":
        column, value = frame.days_past_due, int(value)  # type: ignore[arg-type]
    else:
        column = frame[condition.field].fill_null("")
    operator = condition.operator
    if operator == "in":
        return column.isin(list(value))
    if operator == "not_in":
        return ~column.isin(list(value))
    return {
        "eq": column == value,
        "ne": column != value,
        "lt": column < value,
        "le": column <= value,
        "gt": column > value,
        "ge": column >= value,
    }[operator]


def _step_applies(step: Step, frame: ir.Table) -> ir.BooleanValue:
    test = frame.days_past_due >= step.offset_days
    for condition in step.conditions:
        test = test & _condition_expr(condition, frame)
    return test


def _fields_used(policies: Iterable[Policy]) -> set[str]:
    return {condition.field for policy in policies for step in policy.steps for condition in step.conditions}


def open_invoice_frame(
    tables: DunningTables,
    policies: Mapping[str, Policy],
    as_of: date,
    *,
    behaviour: ir.Table | None = None,
) -> ir.Table:
    """One row per invoice open at ``as_of`` (issued by then, not void), with what the steps need.

    Columns: invoice_id, entity_id, customer_id, currency, due_date, days_past_due, open_units,
    disputed_units, chaseable_units, customer_chaseable_units, policy_key, reached_index, and
    the customer fields the policies' conditions use (segment, risk, behaviour).
    """
    dialect = _dialect(tables.invoices)
    allocations = tables.allocations.filter(tables.allocations.date <= as_of)
    allocated = allocations.group_by(_a_invoice_id=allocations.invoice_id).aggregate(
        allocated_units=money_units(allocations.amount).sum().cast("int64")
    )
    disputes = tables.disputes
    disputes = disputes.filter(
        disputes.opened_on <= as_of, disputes.resolved_on.isnull() | (disputes.resolved_on > as_of)
    )
    disputed = disputes.group_by(_d_invoice_id=disputes.invoice_id).aggregate(
        disputed_units=money_units(disputes.amount).sum().cast("int64")
    )
    steps = tables.invoice_steps
    reached = steps.group_by(_s_invoice_id=steps.invoice_id).aggregate(reached_index=steps.step_index.max())
    policy = tables.customer_policy.select(_p_customer_id="customer_id", policy_key="policy_key")

    invoices = tables.invoices
    invoices = invoices.filter(invoices.status != "void", invoices.issue_date <= as_of)
    joined = invoices.left_join(allocated, invoices.invoice_id == allocated._a_invoice_id)
    joined = joined.select(
        "invoice_id",
        "entity_id",
        "customer_id",
        "currency",
        "due_date",
        open_units=money_units(joined.amount) - joined.allocated_units.fill_null(0),
    )
    joined = joined.filter(joined.open_units > 0)
    # One flat chain of joins, then one projection: nested sub-selects overflow SQLite's parser
    # once several policies' CASE branches are added on top.
    used = _fields_used(policies.values())
    chain = joined.left_join(disputed, joined.invoice_id == disputed._d_invoice_id)
    chain = chain.left_join(reached, joined.invoice_id == reached._s_invoice_id)
    chain = chain.left_join(policy, joined.customer_id == policy._p_customer_id)
    extra: list[str] = []
    if "segment" in used:
        customers = tables.customers.select(_c_customer_id="customer_id", segment="segment")
        chain = chain.left_join(customers, joined.customer_id == customers._c_customer_id)
        extra.append("segment")
    if "risk" in used:
        profile = tables.customer_profile.select(_r_customer_id="customer_id", risk="risk")
        chain = chain.left_join(profile, joined.customer_id == profile._r_customer_id)
        extra.append("risk")
    if "behaviour" in used:
        if behaviour is None:
            from relance.engine.dunning.behaviour import customer_behaviour_expr

            behaviour = customer_behaviour_expr(tables, as_of)
        classes = behaviour.select(_b_customer_id="customer_id", behaviour="behaviour")
        chain = chain.left_join(classes, joined.customer_id == classes._b_customer_id)
        extra.append("behaviour")
    disputed_units = chain.disputed_units.fill_null(0)
    chaseable = ibis.ifelse(chain.open_units > disputed_units, chain.open_units - disputed_units, 0)
    as_of_day = _day_number(ibis.literal(as_of), dialect)
    frame = chain.select(
        "invoice_id",
        "entity_id",
        "customer_id",
        "currency",
        "due_date",
        "open_units",
        "policy_key",
        *[chain[name].fill_null("").name(name) for name in extra],
        disputed_units=ibis.ifelse(disputed_units > chain.open_units, chain.open_units, disputed_units),
        chaseable_units=chaseable,
        reached_index=chain.reached_index.fill_null(-1),
        days_past_due=(as_of_day - _day_number(chain.due_date, dialect)).cast("int64"),
    )
    frame = frame.mutate(
        customer_chaseable_units=frame.chaseable_units.sum()
        .over(group_by=[frame.customer_id, frame.currency])
        .cast("int64")
    )
    return frame


def invoice_frame(
    tables: DunningTables,
    policies: Mapping[str, Policy],
    as_of: date,
    *,
    behaviour: ir.Table | None = None,
) -> ir.Table:
    """``open_invoice_frame`` plus, per the customer's policy, ``due_index`` (the most advanced
    applicable step whose offset is reached; −1: none) and ``due_count`` (applicable steps due
    after the reached one: more than one means a catch-up)."""
    frame = open_invoice_frame(tables, policies, as_of, behaviour=behaviour)
    due_cases = []
    count_terms = []
    for key, policy_obj in policies.items():
        is_policy = frame.policy_key == key
        applies = [_step_applies(step, frame) for step in policy_obj.steps]
        # A pre-due step is not "missed" once the invoice is past due: it cannot be sent anyway.
        moot_if_late = [
            ibis.literal(True) if step.offset_days >= 0 else frame.days_past_due < 0
            for step in policy_obj.steps
        ]
        for index in reversed(range(len(policy_obj.steps))):
            due_cases.append((is_policy & applies[index], index))
        count = sum(
            (
                ibis.ifelse(applies[index] & (frame.reached_index < index) & moot_if_late[index], 1, 0)
                for index in range(len(applies))
            ),
            start=ibis.literal(0),
        )
        count_terms.append((is_policy, count))
    if not due_cases:  # no customer has any of the policies
        return frame.mutate(due_index=ibis.literal(-1, "int64"), due_count=ibis.literal(0, "int64"))
    due_index = ibis.cases(*due_cases, else_=-1).cast("int64")
    due_count = ibis.cases(*count_terms, else_=0).cast("int64")
    return frame.mutate(due_index=due_index, due_count=due_count)


# --------------------------------------------------------------------------- side tables


def _fetch(expr: ir.Table, backend: BaseBackend | None) -> pd.DataFrame:
    table = expr.to_pyarrow() if backend is None else backend.to_pyarrow(expr)  # type: ignore[attr-defined]
    return table.to_pandas(types_mapper=None)


def _count(table: ir.Table, backend: BaseBackend | None) -> int:
    expr = table.count()
    return int(expr.execute() if backend is None else backend.execute(expr))  # type: ignore[attr-defined]


def _active(table: ir.Table, start: str, end: str, as_of: date) -> ir.Table:
    return table.filter(table[start] <= as_of, table[end].isnull() | (table[end] >= as_of))


def _promise_states(
    tables: DunningTables, policies: Mapping[str, Policy], as_of: date, backend: BaseBackend | None
) -> pd.DataFrame:
    """Open promises made by ``as_of``: customer_id, promise_id, end (date + grace), state.

    state: "active" (pausing), "kept" or "broken". Kept: every promised invoice fully paid by
    ``as_of`` or, for a promise without invoices, the customer's payments dated from its
    creation to ``as_of`` reach its amount.
    """
    promises = tables.promises
    promises = promises.filter(promises.status == "open", promises.created_on <= as_of)
    if not _count(promises, backend):  # the usual case: skip compiling the query below
        return pd.DataFrame({"customer_id": [], "promise_id": [], "end": [], "state": []})
    links = tables.promise_invoices
    invoices = tables.invoices
    allocations = tables.allocations.filter(tables.allocations.date <= as_of)
    allocated = allocations.group_by(_a_invoice_id=allocations.invoice_id).aggregate(
        allocated_units=money_units(allocations.amount).sum().cast("int64")
    )
    promise_ids = promises.select(_promise_id="promise_id")
    linked = links.join(promise_ids, links.promise_id == promise_ids._promise_id)
    amounts = invoices.select(_invoice_id="invoice_id", amount="amount")
    linked = linked.join(amounts, linked.invoice_id == amounts._invoice_id)
    linked = linked.left_join(allocated, linked.invoice_id == allocated._a_invoice_id)
    open_units = money_units(linked.amount) - linked.allocated_units.fill_null(0)
    per_promise = linked.group_by(_pp_id=linked.promise_id).aggregate(
        linked_invoices=linked.invoice_id.count(), still_open=ibis.ifelse(open_units > 0, 1, 0).sum()
    )
    payments = tables.payments.filter(tables.payments.date <= as_of)
    payments = payments.select(_pay_customer="customer_id", _pay_date="date", _pay_amount="amount")
    with_payments = promises.join(
        payments,
        (promises.customer_id == payments._pay_customer) & (payments._pay_date >= promises.created_on),
    )
    paid = with_payments.group_by(_paid_id=with_payments.promise_id).aggregate(
        paid_units=money_units(with_payments._pay_amount).sum().cast("int64")
    )
    rows = promises.left_join(per_promise, promises.promise_id == per_promise._pp_id).drop("_pp_id")
    rows = rows.left_join(paid, rows.promise_id == paid._paid_id).drop("_paid_id")
    frame = _fetch(
        rows.select(
            "promise_id",
            "customer_id",
            "promised_date",
            amount_units=money_units(rows.amount),
            linked_invoices=rows.linked_invoices.fill_null(0),
            still_open=rows.still_open.fill_null(0),
            paid_units=rows.paid_units.fill_null(0),
        ),
        backend,
    )
    if frame.empty:
        return frame.assign(end=pd.Series(dtype=object), state=pd.Series(dtype=object))
    policy = _fetch(tables.customer_policy, backend).set_index("customer_id")["policy_key"]
    grace = frame.customer_id.map(policy).map(
        lambda key: policies[key].cadence.promise_grace_days if key in policies else 0
    )
    frame["end"] = [
        promised + timedelta(days=int(days))
        for promised, days in zip(frame.promised_date, grace, strict=True)
    ]
    kept = np.where(frame.linked_invoices > 0, frame.still_open == 0, frame.paid_units >= frame.amount_units)
    frame["state"] = np.where(kept, "kept", np.where(frame["end"] < as_of, "broken", "active"))
    return frame


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
    return _fetch(history.group_by("customer_id").aggregate(**aggregates), backend)


# --------------------------------------------------------------------------- reasons


def _reason(code: str, detail: str) -> dict[str, str]:
    return {"code": code, "detail": detail}


def _suppressed(rows: list[dict[str, Any]], frame: pd.DataFrame, reason: str, detail: Any) -> None:
    details = detail if isinstance(detail, pd.Series) else pd.Series(detail, index=frame.index)
    for customer_id, invoice_id, text in zip(
        frame.customer_id.tolist(), frame.invoice_id.tolist(), details.tolist(), strict=True
    ):
        rows.append({"customer_id": customer_id, "invoice_id": invoice_id, "reason": reason, "detail": text})


def _customer_suppressed(
    rows: list[dict[str, Any]], customers: pd.DataFrame, reason: str, detail: str
) -> None:
    for customer_id in customers.customer_id.unique().tolist():
        rows.append({"customer_id": customer_id, "invoice_id": None, "reason": reason, "detail": detail})


# --------------------------------------------------------------------------- decide


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


def _channel_codes(channels: pd.DataFrame) -> np.ndarray:
    """(customer_id, channel) pairs as one int64 key each, for fast membership tests."""
    codes = channels.channel.map({name: position for position, name in enumerate(CHANNELS)})
    known = codes.notna()
    return np.unique(channels.customer_id[known].to_numpy(np.int64) * 16 + codes[known].to_numpy(np.int64))


def _pick_channel(customer_ids: np.ndarray, options: Sequence[str], available: np.ndarray) -> np.ndarray:
    """The first of ``options`` available to each customer (None when none is)."""
    chosen = np.full(len(customer_ids), None, dtype=object)
    for channel in reversed(options):
        has = np.isin(customer_ids * 16 + CHANNELS.index(channel), available)
        chosen = np.where(has, channel, chosen)
    return chosen


def decide(
    tables: DunningTables,
    policies: Mapping[str, Policy],
    *,
    as_of: date,
    backend: BaseBackend | None = None,
) -> Decisions:
    """Every action due on ``as_of``, with its reasons; what was held back and why; the worklist.

    Idempotent given the history: once the app records the decisions (contact_history and
    invoice_steps), running the same date again decides nothing new.
    """
    if not policies:
        raise ValidationFailed(ERROR_NO_POLICIES)
    # Only the policies some customer has: each one adds a CASE branch per step to the query.
    keys = _fetch(tables.customer_policy.select("policy_key").distinct(), backend).policy_key
    used = {key: policy for key, policy in policies.items() if key in set(keys.tolist())}
    frame = invoice_frame(tables, used, as_of)
    promises = _promise_states(tables, policies, as_of, backend)
    broken = promises[promises.state == "broken"]
    history = _history(tables, policies, as_of, backend)

    # Broken promises resume at the reached step: re-send it once, unless a contact happened
    # after the promise ended.
    resend_customers: list[int] = []
    if not broken.empty:
        last = broken.groupby("customer_id")["end"].max()
        contacted = history.set_index("customer_id")["last_contact"].reindex(last.index)
        resend = last[contacted.isna() | (contacted <= last)]
        resend_customers = [int(value) for value in resend.index]
    wanted = frame.due_index > frame.reached_index
    if resend_customers:
        wanted = wanted | (frame.customer_id.isin(resend_customers) & (frame.reached_index >= 0))
    candidates = _fetch(frame.filter(wanted, frame.policy_key.isin(list(used) or [""])), backend)

    suppressed: list[dict[str, Any]] = []
    candidates["broken_promise"] = candidates.customer_id.isin(resend_customers)
    candidates["step_index"] = np.maximum(candidates.due_index, candidates.reached_index)

    # Customer-wide stops: holds, legal, do-not-contact; then plans; then active promises.
    holds = _fetch(
        _active(tables.holds, "starts_on", "ends_on", as_of).select("customer_id", "kind"), backend
    )
    for kind in HOLD_KINDS:
        stopped = candidates.customer_id.isin(holds.customer_id[holds.kind == kind])
        _customer_suppressed(suppressed, candidates[stopped], kind, REASON_CODES[kind])
        candidates = candidates[~stopped]
    plans_table = tables.plans
    plans = _fetch(
        plans_table.filter(plans_table.status == "active", plans_table.starts_on <= as_of).select(
            "plan_id", "customer_id", "currency"
        ),
        backend,
    )
    on_plan = candidates.customer_id.isin(plans.customer_id)
    _customer_suppressed(suppressed, candidates[on_plan], "payment_plan", REASON_CODES["payment_plan"])
    candidates = candidates[~on_plan]
    active = promises[promises.state == "active"]
    paused = candidates.customer_id.isin(active.customer_id)
    if paused.any():
        until = active.groupby("customer_id")["end"].max()
        for customer_id in candidates.customer_id[paused].unique().tolist():
            suppressed.append(
                {
                    "customer_id": customer_id,
                    "invoice_id": None,
                    "reason": "promise_active",
                    "detail": f"paused until {until[customer_id].isoformat()} (promised date plus grace)",
                }
            )
    candidates = candidates[~paused]

    # Fully disputed invoices, then small balances.
    disputed = candidates.chaseable_units <= 0
    _suppressed(suppressed, candidates[disputed], "disputed", "the open amount is disputed in full")
    candidates = candidates[~disputed]
    threshold = candidates.policy_key.map(
        {key: _units(p.cadence.small_balance) for key, p in policies.items()}
    ).astype("int64")
    small = candidates.customer_chaseable_units < threshold
    if small.any():
        for (customer_id, currency), group in candidates[small].groupby(["customer_id", "currency"]):
            suppressed.append(
                {
                    "customer_id": customer_id,
                    "invoice_id": None,
                    "reason": "small_balance",
                    "detail": f"{_money(group.customer_chaseable_units.iloc[0])} {currency} below "
                    f"{policies[group.policy_key.iloc[0]].cadence.small_balance}",
                }
            )
    candidates = candidates[~small]

    # Steps: each invoice's own step; the group takes the most advanced one.
    steps = _steps_table(policies)
    candidates = candidates.merge(steps, on=["policy_key", "step_index"], how="left")
    candidates["group_action"] = np.where(candidates.kind == "internal", candidates.action, "")
    group_keys = ["customer_id", "currency", "kind", "group_action"]
    candidates = candidates.sort_values(["customer_id", "currency", "kind", "group_action", "step_index"])
    grouped = candidates.groupby(group_keys, sort=False)
    decisions = grouped.agg(
        entity_id=("entity_id", "first"),
        policy_key=("policy_key", "last"),
        step_index=("step_index", "max"),
        amount_units=("chaseable_units", "sum"),
        disputed_units=("disputed_units", "sum"),
        invoice_count=("invoice_id", "size"),
        max_days_past_due=("days_past_due", "max"),
        broken_promise=("broken_promise", "any"),
        catch_up=("due_count", lambda counts: bool((counts > 1).any())),
    ).reset_index()
    decisions = decisions.merge(
        steps, on=["policy_key", "step_index", "kind"], how="left", suffixes=("", "_s")
    )
    decisions["group_no"] = np.arange(len(decisions))
    candidates = candidates.merge(decisions[[*group_keys, "group_no"]], on=group_keys, how="left")

    # Channels: the first of the step's channels the customer can be reached on.
    is_contact = decisions.kind != "internal"
    channels = _fetch(tables.customer_channels, backend)
    available = _channel_codes(channels)
    decisions["channel"] = None
    decisions["fallback"] = False
    customer_ids = decisions.customer_id.to_numpy(np.int64)
    for options, index in (
        decisions[is_contact].groupby(decisions.channels[is_contact].map(tuple)).groups.items()
    ):
        positions = decisions.index.get_indexer(index)
        chosen = _pick_channel(customer_ids[positions], options, available)
        decisions.loc[index, "channel"] = chosen
        decisions.loc[index, "fallback"] = [value is not None and value != options[0] for value in chosen]
    no_channel = is_contact & decisions.channel.isna()
    blocked_groups: dict[int, tuple[str, str]] = {}
    for row in decisions[no_channel].itertuples():
        blocked_groups[row.group_no] = ("no_channel", f"none of {', '.join(row.channels)} available")

    # Cadence: minimum days since the last contact (phases: since the last overdue contact).
    history = history.set_index("customer_id")
    contact_rows = decisions[is_contact & ~no_channel]
    if not contact_rows.empty:
        last = history["last_contact"].reindex(contact_rows.customer_id).to_numpy()
        last_overdue = history["last_overdue_contact"].reindex(contact_rows.customer_id).to_numpy()
        for position, row in enumerate(contact_rows.itertuples()):
            cadence = policies[row.policy_key].cadence
            reasons = []
            if last[position] is not None and not pd.isna(last[position]) and cadence.min_days_between:
                since = (as_of - last[position]).days
                if since < cadence.min_days_between:
                    next_day = last[position] + timedelta(days=cadence.min_days_between)
                    reasons.append(f"last contact {last[position]}, next allowed {next_day}")
            if row.kind == "overdue" and not pd.isna(last_overdue[position]):
                gap = cadence.min_days_at(int(row.max_days_past_due))
                since = (as_of - last_overdue[position]).days
                if since < gap:
                    next_day = last_overdue[position] + timedelta(days=gap)
                    reasons.append(
                        f"last overdue contact {last_overdue[position]}, at most one every {gap} days "
                        f"at {int(row.max_days_past_due)} days past due: next allowed {next_day}"
                    )
            if reasons:
                blocked_groups[row.group_no] = ("cadence", "; ".join(reasons))

    # Contact cap over the rolling window: overdue messages first.
    open_contacts = decisions[is_contact & ~decisions.group_no.isin(list(blocked_groups))]
    if not open_contacts.empty:
        ordered = open_contacts.assign(
            order=open_contacts.kind.map({"overdue": 0, "upcoming": 1})
        ).sort_values(["customer_id", "order"])
        for customer_id, group in ordered.groupby("customer_id", sort=False):
            cadence = policies[group.policy_key.iloc[0]].cadence
            if cadence.max_contacts is None:
                continue
            column = f"contacts_{cadence.window_days}"
            made = history[column].get(customer_id, 0) if column in history else 0
            made = 0 if pd.isna(made) else int(made)
            room = cadence.max_contacts - made
            for offset, row in enumerate(group.itertuples()):
                if offset >= room:
                    blocked_groups[row.group_no] = (
                        "contact_cap",
                        f"{made} contacts in the last {cadence.window_days} days (cap {cadence.max_contacts})",
                    )

    blocked = candidates.group_no.isin(list(blocked_groups))
    for reason in ("no_channel", "cadence", "contact_cap"):
        numbers = [number for number, (code, _) in blocked_groups.items() if code == reason]
        rows = candidates[blocked & candidates.group_no.isin(numbers)]
        _suppressed(suppressed, rows, reason, rows.group_no.map(lambda number: blocked_groups[number][1]))
    candidates = candidates[~blocked]
    decisions = decisions[~decisions.group_no.isin(list(blocked_groups))]

    installment_rows = _installments(tables, policies, plans, available, history, as_of, backend)
    result = _assemble(decisions, candidates, installment_rows, as_of)
    worklist = _worklist(
        tables, policies, open_invoice_frame(tables, {}, as_of), promises, history, as_of, backend, suppressed
    )
    return Decisions(
        as_of=as_of,
        decisions=result[0],
        invoice_steps=result[1],
        suppressed=_table(suppressed, SUPPRESSED_COLUMNS),
        worklist=worklist,
    )


def _installments(
    tables: DunningTables,
    policies: Mapping[str, Policy],
    plans: pd.DataFrame,
    available: np.ndarray,
    history: pd.DataFrame,
    as_of: date,
    backend: BaseBackend | None,
) -> list[dict[str, Any]]:
    """Reminders of the unpaid installments of active plans: once before due, once when overdue."""
    if plans.empty:
        return []
    plan_ids = [int(value) for value in plans.plan_id]
    items = tables.plan_installments
    items = items.filter(items.plan_id.isin(plan_ids), items.paid_on.isnull() | (items.paid_on > as_of))
    installments = _fetch(
        items.select("plan_id", "sequence", "due_date", amount_units=money_units(items.amount)), backend
    )
    if installments.empty:
        return []
    installments = installments.merge(plans, on="plan_id")
    policy_of = _fetch(tables.customer_policy, backend).set_index("customer_id")["policy_key"]
    customer_ids = [int(value) for value in plans.customer_id]
    past = tables.contact_history
    past = past.filter(past.customer_id.isin(customer_ids), past.step_key.startswith("installment:"))
    sent = set(_fetch(past.select("customer_id", "step_key"), backend).itertuples(index=False, name=None))
    rows = []
    for item in installments.itertuples():
        policy_key = policy_of.get(item.customer_id)
        lead = policies[policy_key].cadence.installment_reminder_days if policy_key in policies else 3
        if as_of < item.due_date - timedelta(days=lead):
            continue
        phase = "overdue" if as_of > item.due_date else "upcoming"
        step_key = f"installment:{item.plan_id}:{item.sequence}:{phase}"
        if (item.customer_id, step_key) in sent:
            continue
        chosen = _pick_channel(np.array([item.customer_id], dtype=np.int64), INSTALLMENT_CHANNELS, available)[
            0
        ]
        if chosen is None:
            continue
        days = (as_of - item.due_date).days
        rows.append(
            {
                "customer_id": item.customer_id,
                "currency": item.currency,
                "policy_key": policy_key or "",
                "kind": "installment",
                "step_key": step_key,
                "step_index": -1,
                "offset_days": 0,
                "action": "message",
                "channel": chosen,
                "tone": "firm" if phase == "overdue" else "friendly",
                "template_key": f"installment_{phase}",
                "amount_units": item.amount_units,
                "max_days_past_due": days,
                "reasons": [
                    _reason(
                        "installment_due",
                        f"installment {item.sequence} of plan {item.plan_id} due {item.due_date}"
                        + (f", {days} days overdue" if days > 0 else ""),
                    )
                ],
            }
        )
    return rows


def _assemble(
    decisions: pd.DataFrame, candidates: pd.DataFrame, installments: list[dict[str, Any]], as_of: date
) -> tuple[pa.Table, pa.Table]:
    ids_by_group = (
        candidates.sort_values("invoice_id")
        .groupby("group_no")["invoice_id"]
        .agg(lambda ids: ",".join(str(value) for value in ids))
    )
    records: list[dict[str, Any]] = []
    for row in decisions.itertuples():
        reasons = [
            _reason(
                "step_due",
                f"{row.step_key} is due at {row.offset_days:+d} days; the most overdue invoice is "
                f"{row.max_days_past_due:+d} days from its due date",
            )
        ]
        if row.catch_up:
            reasons.append(_reason("catch_up", "earlier steps came due meanwhile; only this one is sent"))
        if row.invoice_count > 1:
            reasons.append(_reason("grouped", f"{row.invoice_count} invoices in one {row.kind} {row.action}"))
        if row.disputed_units:
            reasons.append(_reason("partially_disputed", f"{_money(row.disputed_units)} disputed, left out"))
        if row.fallback:
            reasons.append(
                _reason("channel_fallback", f"{row.channels[0]} not available, using {row.channel}")
            )
        if row.broken_promise:
            reasons.append(_reason("promise_broken", "a promise to pay was broken; dunning resumes"))
        records.append(
            {
                "group_no": row.group_no,
                "customer_id": row.customer_id,
                "entity_id": row.entity_id,
                "currency": row.currency,
                "policy_key": row.policy_key,
                "kind": row.kind,
                "step_key": row.step_key,
                "step_index": row.step_index,
                "offset_days": row.offset_days,
                "action": row.action,
                "channel": row.channel if row.kind != "internal" else None,
                "tone": row.tone,
                "template_key": row.template_key,
                "invoice_ids": ids_by_group.get(row.group_no, ""),
                "invoice_count": row.invoice_count,
                "amount_units": row.amount_units,
                "max_days_past_due": row.max_days_past_due,
                "broken_promise": bool(row.broken_promise),
                "catch_up": bool(row.catch_up),
                "reasons": reasons,
            }
        )
    entity_of = candidates.groupby("customer_id")["entity_id"].first().to_dict()
    for item in installments:
        records.append(
            {
                **item,
                "group_no": None,
                "entity_id": entity_of.get(item["customer_id"]),
                "invoice_ids": "",
                "invoice_count": 0,
                "broken_promise": False,
                "catch_up": False,
            }
        )
    records.sort(key=lambda record: (record["customer_id"], KIND_ORDER[record["kind"]], record["step_key"]))
    decision_of_group = {}
    for number, record in enumerate(records, start=1):
        record["decision_id"] = number
        record["amount_due"] = _money(record.pop("amount_units"))
        record["reasons"] = json.dumps(record["reasons"], ensure_ascii=False)
        if record["group_no"] is not None:
            decision_of_group[record["group_no"]] = number
    decisions_table = _table(records, DECISION_COLUMNS)
    steps = candidates[["invoice_id", "group_no", "step_key", "step_index"]].copy()
    steps["decision_id"] = steps.group_no.map(decision_of_group)
    steps["reached_on"] = as_of
    steps = steps.sort_values("invoice_id")
    return decisions_table, _table(steps.to_dict("records"), INVOICE_STEP_COLUMNS)


def _table(records: list[dict[str, Any]], columns: Mapping[str, pa.DataType]) -> pa.Table:
    if not records:
        return empty(columns)
    schema = pa.schema(list(columns.items()))
    return pa.Table.from_pylist(
        [{name: record.get(name) for name in columns} for record in records], schema=schema
    )


# --------------------------------------------------------------------------- worklist

RISK_POINTS = {"high": 20.0, "medium": 10.0}


def _worklist(
    tables: DunningTables,
    policies: Mapping[str, Policy],
    frame: ir.Table,
    promises: pd.DataFrame,
    history: pd.DataFrame,
    as_of: date,
    backend: BaseBackend | None,
    suppressed: list[dict[str, Any]],
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
    for customer_id, policy_key in zip(rows.customer_id.tolist(), rows.policy_key.tolist(), strict=True):
        if policy_key is None or pd.isna(policy_key):
            reason, detail = "no_policy", REASON_CODES["no_policy"]
        elif policy_key not in policies:
            reason, detail = "unknown_policy", f"policy {policy_key!r} is not among the policies given"
        else:
            continue
        suppressed.append(
            {"customer_id": customer_id, "invoice_id": None, "reason": reason, "detail": detail}
        )
    if rows.empty:
        return empty(WORKLIST_COLUMNS)
    profile = _fetch(tables.customer_profile.select("customer_id", "risk"), backend)
    risk = rows.customer_id.map(
        profile.drop_duplicates("customer_id").set_index("customer_id")["risk"]
    ).fillna("")
    broken_counts = (
        promises[promises.state == "broken"].groupby("customer_id").size() if not promises.empty else None
    )
    broken = rows.customer_id.map(broken_counts).fillna(0).astype("int64") if broken_counts is not None else 0
    last = (
        rows.customer_id.map(history["last_contact"])
        if not history.empty
        else pd.Series(None, index=rows.index)
    )
    days_since = pd.Series(
        [None if pd.isna(value) else (as_of - value).days for value in last], index=rows.index, dtype="Int64"
    )
    amount = rows.overdue_units.to_numpy(np.float64) / MONEY_SCALE
    points_amount = np.round(10 * np.log10(np.maximum(amount, 1.0)), 2)
    points_late = np.round(30 * np.minimum(rows.max_days_past_due.to_numpy(np.float64), 180) / 180, 2)
    points_risk = risk.map(RISK_POINTS).fillna(0.0).to_numpy(np.float64)
    broken_array = np.asarray(broken, dtype=np.int64) * np.ones(len(rows), dtype=np.int64)
    points_broken = np.minimum(15.0 * broken_array, 30.0)
    since_array = days_since.to_numpy(dtype=np.float64, na_value=np.nan)
    points_contact = np.where(np.isnan(since_array), 10.0, np.round(10 * np.minimum(since_array, 30) / 30, 2))
    priority = np.round(points_amount + points_late + points_risk + points_broken + points_contact, 2)
    factors = [
        json.dumps(
            {
                "overdue_amount": {"value": str(_money(units)), "points": float(p_amount)},
                "days_past_due": {"value": int(dpd), "points": float(p_late)},
                "risk": {"value": r, "points": float(p_risk)},
                "broken_promises": {"value": int(b), "points": float(p_broken)},
                "days_since_contact": {"value": None if np.isnan(s) else int(s), "points": float(p_contact)},
            }
        )
        for units, dpd, r, b, s, p_amount, p_late, p_risk, p_broken, p_contact in zip(
            rows.overdue_units.tolist(),
            rows.max_days_past_due.tolist(),
            risk.tolist(),
            broken_array.tolist(),
            since_array.tolist(),
            points_amount.tolist(),
            points_late.tolist(),
            points_risk.tolist(),
            points_broken.tolist(),
            points_contact.tolist(),
            strict=True,
        )
    ]
    table = pd.DataFrame(
        {
            "customer_id": rows.customer_id.to_numpy(np.int64),
            "currency": rows.currency.astype(object),
            "priority": priority,
            "overdue_amount": [_money(units) for units in rows.overdue_units.tolist()],
            "max_days_past_due": rows.max_days_past_due.to_numpy(np.int64),
            "risk": risk.astype(object),
            "broken_promises": broken_array,
            "days_since_contact": days_since,
            "factors": factors,
        }
    ).sort_values(["priority", "customer_id"], ascending=[False, True])
    schema = pa.schema(list(WORKLIST_COLUMNS.items()))
    return pa.Table.from_pandas(table, schema=schema, preserve_index=False)

"""``decide``: the daily decision step (see ``contract`` for its inputs and outputs).

Two layers, on purpose:

1. **Per invoice, in Ibis** (runs where the data is: SQLite, PostgreSQL, DuckDB over Parquet).
   One pass over the ledger computes each open invoice's open amount at the as-of date
   (amount − allocations dated ≤ A), its disputed part, its days past due, its policy and the
   step it has reached; the result goes to a temporary table. On top of it, one CASE per
   policy gives the most advanced step now due and how many applicable steps came due since the
   reached one (more than one: a catch-up). Only *candidates* leave the database: invoices with
   a step newly due, plus those of customers whose promise just broke, with the customer's
   chaseable total (a window sum) and channel bit mask.
2. **Per customer, vectorised numpy/pandas, output built by Arrow**, over those candidates (far
   fewer rows than the ledger): holds, plans, promises, small balance, channel fallback,
   cadence, the contact cap and grouping. These rules compare each customer's candidate rows
   with its history and small side tables. As window functions portable to SQLite they would
   be much longer and hard to read, and at this size they are not the bottleneck (see
   docs/benchmarks.md). Keeping them in one place also keeps the reasons consistent.

The worklist is one more aggregate per customer over the temporary table.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from ibis.backends import BaseBackend

from relance.core.errors import ValidationFailed
from relance.core.promises import ACTIVE, BROKEN, OPEN, PaidByCutoff, PromiseTerms, promise_state
from relance.engine.backends import _sqlite_insert, is_spark
from relance.engine.dunning.contract import (
    DECISION_COLUMNS,
    FACTORS,
    INVOICE_STEP_COLUMNS,
    REASON,
    SUPPRESSED_COLUMNS,
    WORKLIST_COLUMNS,
    Decisions,
    DunningTables,
    empty,
)
from relance.engine.dunning.policy import (
    CHANNELS,
    CUSTOM_PREFIX,
    HOLIDAYS_CUSTOMER,
    HOLIDAYS_NONE,
    WEEKDAYS,
    Condition,
    Policy,
    Step,
    due_index_cases,
    reached_index_cases,
    step_is_due,
)
from relance.engine.kpi import not_void
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
    "non_business_day": "the day of delivery is not a business day for the customer (weekend, "
    "public holiday or no send window in their time zone): the next business day's run catches up",
}
HOLD_KINDS = ("hold", "legal", "do_not_contact")
KIND_ORDER = {"upcoming": 0, "overdue": 1, "installment": 2, "internal": 3}
INSTALLMENT_CHANNELS = ("email", "sms", "letter")
ERROR_NO_POLICIES = "decide() needs at least one policy"
# When ``run_at`` is not given: the run's instant is 06:00 UTC on the as-of date.
DEFAULT_RUN_TIME = time(6, 0)


@ibis.udf.scalar.builtin(name="julianday")  # type: ignore[untyped-decorator]  # Ibis ships no types
def _julianday(value: dt.Date) -> dt.Float64:
    """SQLite's native day number (Ibis's portable date delta is a slow Python UDF there)."""


def _dialect(table: ir.Table) -> str | None:
    try:
        name: str = table.get_backend().name
        return name
    except Exception:  # unbound: compiled only
        return None


def _day_number(column: ir.Value, dialect: str | None) -> ir.IntegerValue:
    if dialect == "sqlite":
        return _julianday(column).cast("int64")
    return column.epoch_days()


def _units(amount: Decimal) -> int:
    return int((amount * MONEY_SCALE).to_integral_value())


def _money(units: int) -> Decimal:
    return Decimal(int(units)) / MONEY_SCALE


# --------------------------------------------------------------------------- the Ibis layer


def _condition_expr(condition: Condition, frame: ir.Table) -> ir.BooleanValue:
    column: ir.Value
    value: Any = condition.value
    if condition.field == "amount_due":
        column, value = frame.customer_chaseable_units, _units(Decimal(value))
    elif condition.field == "invoice_amount":
        column, value = frame.chaseable_units, _units(Decimal(value))
    elif condition.field == "days_past_due":
        column, value = frame.days_past_due, int(value)
    elif condition.field.startswith(CUSTOM_PREFIX):
        column = frame[custom_column(condition.field)].fill_null("")
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
    conditions: ir.BooleanValue | bool = True
    for condition in step.conditions:
        test = _condition_expr(condition, frame)
        conditions = test if conditions is True else conditions & test
    due: ir.BooleanValue = step_is_due(step, frame.days_past_due, conditions)
    return due


def custom_column(field_name: str) -> str:
    """The frame's column for condition field ``custom.NAME``."""
    return "custom__" + field_name[len(CUSTOM_PREFIX) :].replace("-", "_")


def _fields_used(policies: Iterable[Policy]) -> set[str]:
    return {condition.field for policy in policies for step in policy.steps for condition in step.conditions}


def _reached_by_key(steps: ir.Table, policies: Mapping[str, Policy]) -> ir.Table:
    """Per invoice and per policy, the highest index *in that policy's current steps* of the
    step keys the invoice reached (−1: none of them exists there).

    Steps are matched by key, not by the recorded ``step_index``: after a policy is edited
    (a step inserted or removed), an invoice stays at the step key it reached. A key no longer
    in the policy is ignored (the invoice is at the last reached key that still exists).
    """
    columns = {}
    for number, policy in enumerate(policies.values()):
        index = ibis.cases(*reached_index_cases(policy, lambda key: steps.step_key == key), else_=-1)
        columns[f"_reached_{number}"] = index.max().cast("int64")
    if not columns:  # no policy: nothing is read, but the aggregate needs a column
        columns["_reached_none"] = steps.step_index.max()
    return steps.group_by(_s_invoice_id=steps.invoice_id).aggregate(**columns)


def _reached_index(chain: ir.Table, policies: Mapping[str, Policy]) -> ir.IntegerValue:
    """The reached step's index in the invoice's (customer's) current policy; −1 when none."""
    if not policies:
        return ibis.literal(-1, "int64")
    return (
        ibis.cases(
            *[(chain.policy_key == key, chain[f"_reached_{number}"]) for number, key in enumerate(policies)],
            else_=-1,
        )
        .fill_null(-1)
        .cast("int64")
    )


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
    reached = _reached_by_key(tables.invoice_steps, policies)
    policy = tables.customer_policy.select(_p_customer_id="customer_id", policy_key="policy_key")

    invoices = tables.invoices
    # Void as of the run: an invoice voided later is still chased before its void date.
    invoices = invoices.filter(not_void(invoices, as_of), invoices.issue_date <= as_of)
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
    absent: list[str] = []  # custom fields without an attributes table: "" for everyone
    for number, field_name in enumerate(sorted(name for name in used if name.startswith(CUSTOM_PREFIX))):
        attributes = tables.customer_attributes
        if attributes is None:
            absent.append(custom_column(field_name))
            continue
        wanted = attributes.filter(attributes.name == field_name[len(CUSTOM_PREFIX) :])
        wanted = wanted.group_by(**{f"_x{number}_customer_id": wanted.customer_id}).aggregate(
            **{custom_column(field_name): wanted.value.max()}
        )
        chain = chain.left_join(wanted, joined.customer_id == wanted[f"_x{number}_customer_id"])
        extra.append(custom_column(field_name))
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
        *[ibis.literal("").name(name) for name in absent],
        disputed_units=ibis.ifelse(disputed_units > chain.open_units, chain.open_units, disputed_units),
        chaseable_units=chaseable,
        reached_index=_reached_index(chain, policies),
        days_past_due=(as_of_day - _day_number(chain.due_date, dialect)).cast("int64"),
    )
    return frame


def with_customer_totals(frame: ir.Table) -> ir.Table:
    """``frame`` plus ``customer_chaseable_units``: the customer's chaseable total per currency."""
    return frame.mutate(
        customer_chaseable_units=frame.chaseable_units.sum()
        .over(group_by=[frame.customer_id, frame.currency])
        .cast("int64")
    )


def _lookup(tests: Mapping[str, ir.BooleanValue]) -> Callable[[Step], ir.BooleanValue]:
    """Each step's already built test, by key."""
    return lambda step: tests[step.key]


def invoice_frame(
    tables: DunningTables,
    policies: Mapping[str, Policy],
    as_of: date,
    *,
    behaviour: ir.Table | None = None,
    base: ir.Table | None = None,
) -> ir.Table:
    """``open_invoice_frame`` plus, per the customer's policy, ``due_index`` (the most advanced
    applicable step whose offset is reached; −1: none) and ``due_count`` (applicable steps due
    after the reached one: more than one means a catch-up).

    ``base``: an already computed (e.g. cached) ``open_invoice_frame`` to build on.
    """
    if base is None:
        base = open_invoice_frame(tables, policies, as_of, behaviour=behaviour)
    frame = with_customer_totals(base)
    due_cases: list[tuple[ir.BooleanValue, int]] = []
    count_terms = []
    for key, policy_obj in policies.items():
        is_policy = frame.policy_key == key
        applies = [_step_applies(step, frame) for step in policy_obj.steps]
        # A pre-due step is not "missed" once the invoice is past due: it cannot be sent anyway.
        moot_if_late = [
            ibis.literal(True) if step.offset_days >= 0 else frame.days_past_due < 0
            for step in policy_obj.steps
        ]
        applies_of = {step.key: test for step, test in zip(policy_obj.steps, applies, strict=True)}
        due_cases.extend(
            (is_policy & test, index) for test, index in due_index_cases(policy_obj, _lookup(applies_of))
        )
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
    table = expr.to_pyarrow() if backend is None else backend.to_pyarrow(expr)
    return table.to_pandas(types_mapper=None)


def _count(table: ir.Table, backend: BaseBackend | None) -> int:
    expr = table.count()
    return int(expr.execute() if backend is None else backend.execute(expr))


def _active(table: ir.Table, start: str, end: str, as_of: date) -> ir.Table:
    return table.filter(table[start] <= as_of, table[end].isnull() | (table[end] >= as_of))


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
    links = links.filter(links.promise_id.isin(sorted(cutoffs)))
    counts = _fetch(links.group_by("promise_id").aggregate(linked=links.invoice_id.count()), backend)
    linked = {int(p): int(n) for p, n in zip(counts.promise_id, counts.linked, strict=True)}
    still_open: dict[int, int] = {}
    for cutoff in sorted(set(cutoffs.values())):
        mine = [promise_id for promise_id, day in cutoffs.items() if day == cutoff and promise_id in linked]
        if not mine:
            continue
        wanted = links.filter(links.promise_id.isin(mine))
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
    mine = promises.filter(promises.promise_id.isin(sorted(cutoffs)))
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


# --------------------------------------------------------------------------- reasons


EPOCH = date(1970, 1, 1)


def _epoch_day(value: date) -> int:
    return (value - EPOCH).days


def _date(day: float) -> date:
    return EPOCH + timedelta(days=int(day))


class _Suppressed:
    """Collects what was held back, as frames (one per rule), for one table at the end."""

    def __init__(self) -> None:
        self.parts: list[pd.DataFrame] = []

    def _add(self, customer_ids: Any, invoice_ids: Any, reason: str, detail: Any) -> None:
        frame = pd.DataFrame({"customer_id": np.asarray(customer_ids, dtype=np.int64)})
        if not len(frame):
            return
        frame["invoice_id"] = pd.array(invoice_ids, dtype="Int64") if invoice_ids is not None else pd.NA
        frame["reason"] = reason
        frame["detail"] = detail if isinstance(detail, str) else list(detail)
        self.parts.append(frame)

    def customers(self, rows: pd.DataFrame, reason: str, detail: str | list[str]) -> None:
        """One row per customer (``rows`` may repeat a customer when ``detail`` is a text)."""
        if isinstance(detail, str):
            rows = rows.drop_duplicates("customer_id")
        self._add(rows.customer_id.to_numpy(), None, reason, detail)

    def invoices(self, rows: pd.DataFrame, reason: str, detail: str) -> None:
        self._add(rows.customer_id.to_numpy(), rows.invoice_id.to_numpy(), reason, detail)

    def groups(self, candidates: pd.DataFrame, group_nos: Any, reason: str, details: list[str]) -> None:
        """Every invoice of the given decision groups, each with its group's detail."""
        detail_of = pd.Series(list(details), index=np.asarray(group_nos))
        rows = candidates[candidates.group_no.isin(detail_of.index)]
        self._add(
            rows.customer_id.to_numpy(), rows.invoice_id.to_numpy(), reason, rows.group_no.map(detail_of)
        )

    def table(self) -> pa.Table:
        if not self.parts:
            return empty(SUPPRESSED_COLUMNS)
        frame = pd.concat(self.parts, ignore_index=True)
        # In a fixed order: the candidates arrive in the backend's order (hash aggregates differ).
        frame = frame.sort_values(
            ["customer_id", "invoice_id", "reason"], kind="stable", na_position="first", ignore_index=True
        )
        return pa.Table.from_pandas(
            frame, schema=pa.schema(list(SUPPRESSED_COLUMNS.items())), preserve_index=False
        )


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


def channel_masks(tables: DunningTables, customer_ids: ir.Column | None = None) -> ir.Table:
    """Per customer (of ``customer_ids`` when given), its channels as a bit mask (bit i: ``CHANNELS[i]``)."""
    channels = tables.customer_channels
    if customer_ids is not None:
        channels = channels.filter(channels.customer_id.isin(customer_ids))
    channels = channels.distinct()
    bit = ibis.cases(
        *[(channels.channel == name, 1 << position) for position, name in enumerate(CHANNELS)], else_=0
    )
    return channels.group_by(_m_customer_id=channels.customer_id).aggregate(
        channel_mask=bit.sum().cast("int64")
    )


def _pick_channel(masks: np.ndarray, options: Sequence[str]) -> np.ndarray:
    """The first of ``options`` in each mask (None when none is)."""
    chosen = np.full(len(masks), None, dtype=object)
    for channel in reversed(options):
        has = (masks & (1 << CHANNELS.index(channel))) != 0
        chosen = np.where(has, channel, chosen)
    return chosen


def decide(
    tables: DunningTables,
    policies: Mapping[str, Policy],
    *,
    as_of: date,
    backend: BaseBackend | None = None,
    run_at: datetime | None = None,
) -> Decisions:
    """Every action due on ``as_of``, with its reasons; what was held back and why; the worklist.

    ``run_at``: the instant the run's messages are released (timezone-aware; default 06:00 UTC
    on ``as_of``). With a policy's ``business_days``/``send_window`` it gives each customer's
    day of delivery in their time zone; contacts are deferred when that day is not a business day.

    Idempotent given the history: once the app records the decisions (contact_history and
    invoice_steps), running the same date again decides nothing new.
    """
    if not policies:
        raise ValidationFailed(ERROR_NO_POLICIES)
    # Only the policies some customer has: each one adds a CASE branch per step to the query.
    keys = _fetch(tables.customer_policy.select("policy_key").distinct(), backend).policy_key
    used = {key: policy for key, policy in policies.items() if key in set(keys.tolist())}
    con: Any = backend if backend is not None else tables.invoices.get_backend()
    temporary: list[str] = []

    def materialise(prefix: str, expr: ir.Table) -> ir.Table:
        if is_spark(con):  # Spark has no temporary tables: a checkpointed temporary view
            from relance.engine import spark

            name, table = spark.materialise(con, prefix, expr)
        else:
            name = f"relance_{prefix}_{uuid.uuid4().hex[:12]}"
            table = con.create_table(name, expr, temp=True)
        temporary.append(name)
        return table

    try:
        behaviour = None
        if "behaviour" in _fields_used(used.values()):  # its own table: one query would be too deep
            from relance.engine.dunning.behaviour import customer_behaviour_expr

            expr = customer_behaviour_expr(tables, as_of)
            if con.name == "sqlite":
                # CREATE TABLE … AS over it is too deep for SQLite's parser: fetch, then store.
                name = f"relance_behaviour_{uuid.uuid4().hex[:12]}"
                arrow = con.to_pyarrow(expr).select(["customer_id", "behaviour"])
                behaviour = con.create_table(
                    name, schema=ibis.schema({"customer_id": "int64", "behaviour": "string"}), temp=True
                )
                temporary.append(name)
                _sqlite_insert(con, name, arrow)
            else:
                behaviour = materialise("behaviour", expr.select("customer_id", "behaviour"))
        # The only pass over the whole ledger: open invoices with their amounts, kept in a
        # temporary table so the step query and the worklist both read the small result.
        base = materialise("open_invoices", open_invoice_frame(tables, used, as_of, behaviour=behaviour))
        if run_at is None:
            run_at = datetime.combine(as_of, DEFAULT_RUN_TIME, tzinfo=UTC)
        return _decide(tables, policies, used, base, as_of, backend, run_at)
    finally:
        for name in temporary:
            if is_spark(con):
                from relance.engine import spark

                spark.drop(con, name)
                continue
            # Plain SQL: Ibis's own DROP is mis-rendered for SQLite by some sqlglot versions.
            result = con.raw_sql(f'DROP TABLE IF EXISTS "{name}"')
            if con.name != "duckdb":  # DuckDB hands back the connection itself, not a cursor
                result.close()


def _decide(
    tables: DunningTables,
    policies: Mapping[str, Policy],
    used: Mapping[str, Policy],
    base: ir.Table,
    as_of: date,
    backend: BaseBackend | None,
    run_at: datetime,
) -> Decisions:
    """The per-customer rules over the candidates, in order; each suppression lands in ``out``."""
    promises = _promise_states(tables, policies, base, as_of, backend)
    history = _history(tables, policies, as_of, backend).set_index("customer_id")
    resend_customers = _broken_promise_resends(promises, history)
    candidates = _candidates(tables, used, base, as_of, resend_customers, backend)
    out = _Suppressed()

    keep = np.ones(len(candidates), dtype=bool)  # one mask, one copy at the end (see _stop_held)
    keep = _stop_held(candidates, tables, as_of, backend, keep, out)
    plans = _active_plans(tables, as_of, backend)
    keep = _stop_on_plan(candidates, plans, keep, out)
    keep = _pause_for_promises(candidates, promises, keep, out)
    keep = _skip_disputed(candidates, keep, out)
    candidates = _skip_small_balances(candidates[keep], policies, out)

    decisions, candidates = _group(candidates, policies)
    is_contact = (decisions.kind != "internal").to_numpy()
    blocked = _defer_non_business_days(decisions, candidates, policies, run_at, is_contact, out)
    blocked = _choose_channels(decisions, candidates, is_contact, blocked, out)
    cadence = _cadence_of(decisions, policies, history)
    blocked = _hold_for_cadence(decisions, candidates, cadence, as_of, is_contact, blocked, out)
    blocked = _cap_contacts(decisions, candidates, policies, cadence, is_contact, blocked, out)
    candidates = candidates[candidates.group_no.isin(decisions.group_no.to_numpy()[~blocked])]
    decisions = decisions[~blocked]

    installment_rows, entity_of = _installment_reminders(tables, policies, plans, as_of, run_at, backend, out)
    result = _assemble(decisions, candidates, installment_rows, entity_of, as_of)
    worklist = _worklist(tables, policies, base, promises, history, as_of, backend, out)
    return Decisions(
        as_of=as_of,
        decisions=result[0],
        invoice_steps=result[1],
        suppressed=out.table(),
        worklist=worklist,
    )


# --------------------------------------------------------------------------- the rules of _decide


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


def _candidates(
    tables: DunningTables,
    used: Mapping[str, Policy],
    base: ir.Table,
    as_of: date,
    resend_customers: list[int],
    backend: BaseBackend | None,
) -> pd.DataFrame:
    """The invoices with a step newly due (or re-sent after a broken promise), with the customer's
    channel mask and calendar: the only rows that leave the database."""
    frame = invoice_frame(tables, used, as_of, base=base)
    wanted = frame.due_index > frame.reached_index
    if resend_customers:
        wanted = wanted | (frame.customer_id.isin(resend_customers) & (frame.reached_index >= 0))
    wanted_rows = frame.filter(wanted, frame.policy_key.isin(list(used) or [""]))
    masks = channel_masks(tables, wanted_rows.customer_id)
    wanted_rows = wanted_rows.left_join(masks, wanted_rows.customer_id == masks._m_customer_id)
    wanted_rows = wanted_rows.drop("_m_customer_id")
    with_calendar = _uses_calendar(used) and tables.customer_calendar is not None
    if with_calendar:
        assert tables.customer_calendar is not None
        calendar = tables.customer_calendar.select(
            _cal_customer_id="customer_id", timezone="timezone", country="country"
        )
        wanted_rows = wanted_rows.left_join(
            calendar, wanted_rows.customer_id == calendar._cal_customer_id
        ).drop("_cal_customer_id")
    candidates = _fetch(wanted_rows, backend)
    if not with_calendar:
        candidates["timezone"] = None
        candidates["country"] = None
    candidates["channel_mask"] = candidates.channel_mask.fillna(0).astype("int64")
    candidates["broken_promise"] = candidates.customer_id.isin(resend_customers)
    candidates["step_index"] = np.maximum(candidates.due_index, candidates.reached_index)
    return candidates


def _stop_held(
    candidates: pd.DataFrame,
    tables: DunningTables,
    as_of: date,
    backend: BaseBackend | None,
    keep: np.ndarray,
    out: _Suppressed,
) -> np.ndarray:
    """Customer-wide stops first: hold, legal, do-not-contact (in that order of reasons).

    The rules before grouping narrow one mask: each filter of the (first-run: 0.5M-row) frame
    would copy it.
    """
    holds = _fetch(
        _active(tables.holds, "starts_on", "ends_on", as_of).select("customer_id", "kind"), backend
    )
    customer_of = candidates.customer_id
    for kind in HOLD_KINDS:
        stopped = keep & customer_of.isin(holds.customer_id[holds.kind == kind]).to_numpy()
        if stopped.any():
            out.customers(candidates[stopped], kind, REASON_CODES[kind])
            keep = keep & ~stopped
    return keep


def _active_plans(tables: DunningTables, as_of: date, backend: BaseBackend | None) -> pd.DataFrame:
    plans_table = tables.plans
    return _fetch(
        plans_table.filter(plans_table.status == "active", plans_table.starts_on <= as_of).select(
            "plan_id", "customer_id", "currency"
        ),
        backend,
    )


def _stop_on_plan(
    candidates: pd.DataFrame, plans: pd.DataFrame, keep: np.ndarray, out: _Suppressed
) -> np.ndarray:
    """An active payment plan replaces dunning (its installments are reminded instead)."""
    on_plan = keep & candidates.customer_id.isin(plans.customer_id).to_numpy()
    if on_plan.any():
        out.customers(candidates[on_plan], "payment_plan", REASON_CODES["payment_plan"])
        keep = keep & ~on_plan
    return keep


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


def _skip_disputed(candidates: pd.DataFrame, keep: np.ndarray, out: _Suppressed) -> np.ndarray:
    """An invoice whose whole open amount is disputed is not chased."""
    disputed = keep & (candidates.chaseable_units <= 0).to_numpy()
    if disputed.any():
        out.invoices(candidates[disputed], "disputed", "the open amount is disputed in full")
        keep = keep & ~disputed
    return keep


def _skip_small_balances(
    candidates: pd.DataFrame, policies: Mapping[str, Policy], out: _Suppressed
) -> pd.DataFrame:
    """A customer whose chaseable total (per currency) is below the policy's threshold is not chased."""
    threshold = candidates.policy_key.map(
        {key: _units(p.cadence.small_balance) for key, p in policies.items()}
    ).astype("int64")
    small = candidates.customer_chaseable_units < threshold
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
    return candidates[~small]


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


def _defer_non_business_days(
    decisions: pd.DataFrame,
    candidates: pd.DataFrame,
    policies: Mapping[str, Policy],
    run_at: datetime,
    is_contact: np.ndarray,
    out: _Suppressed,
) -> np.ndarray:
    """No contact on a day that is not a business day for the customer (where they are, on the
    day it would be delivered). Nothing is recorded, so the next business day's run decides
    again (the catch-up rule sends the most advanced step then due). Returns the blocked mask."""
    blocked = np.zeros(len(decisions), dtype=bool)
    if _uses_calendar(policies) and is_contact.any():
        off = _non_business(decisions, policies, run_at)
        deferred = is_contact & pd.notna(off)
        if deferred.any():
            out.groups(
                candidates, decisions.group_no.to_numpy()[deferred], "non_business_day", list(off[deferred])
            )
            blocked |= deferred
    return blocked


def _choose_channels(
    decisions: pd.DataFrame,
    candidates: pd.DataFrame,
    is_contact: np.ndarray,
    blocked: np.ndarray,
    out: _Suppressed,
) -> np.ndarray:
    """The first of the step's channels the customer can be reached on (``channel``, and
    ``fallback`` when it is not the first); none of them: ``no_channel``."""
    channel = np.full(len(decisions), None, dtype=object)
    fallback = np.zeros(len(decisions), dtype=bool)
    masks_of = decisions.channel_mask.to_numpy(np.int64)
    options_of = decisions.channels.map(",".join).to_numpy(dtype=object)
    for joined_options in set(options_of[is_contact].tolist()):
        options = tuple(joined_options.split(","))
        positions = np.flatnonzero(is_contact & (options_of == joined_options))
        chosen = _pick_channel(masks_of[positions], options)
        channel[positions] = chosen
        fallback[positions] = (chosen != None) & (chosen != options[0])  # noqa: E711 - elementwise
    decisions["channel"] = channel
    decisions["fallback"] = fallback
    no_channel = is_contact & ~blocked & pd.isna(channel)
    if no_channel.any():
        rows = decisions[no_channel]
        out.groups(
            candidates,
            rows.group_no,
            "no_channel",
            [f"none of {', '.join(c)} available" for c in rows.channels],
        )
        blocked = blocked | no_channel
    return blocked


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
            customers.filter(customers.customer_id.isin(plans.customer_id.tolist())).select(
                "customer_id", "entity_id"
            ),
            backend,
        ).set_index("customer_id")["entity_id"]
    return installment_rows, entity_of


# --------------------------------------------------------------------------- business days


def _uses_calendar(policies: Mapping[str, Policy]) -> bool:
    return any(p.business_days is not None or p.send_window is not None for p in policies.values())


def _zone(name: Any) -> ZoneInfo:
    try:
        return ZoneInfo(name) if isinstance(name, str) and name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@lru_cache(maxsize=512)
def _holiday_name(country: str, day: date) -> str | None:
    import holidays

    if country not in holidays.list_supported_countries():
        return None
    calendar = holidays.country_holidays(country, years=day.year)
    name = calendar.get(day)
    return None if name is None else str(name)


def delivery_day(run_at: datetime, timezone: str | None, policy: Policy) -> date:
    """The customer's local date of delivery of a message released at ``run_at``: that date,
    or the next one when the policy's send window has already closed there."""
    local = run_at.astimezone(_zone(timezone))
    window = policy.send_window
    if window is not None and local.time() >= window.end:
        return local.date() + timedelta(days=1)
    return local.date()


def non_business_reason(
    run_at: datetime, timezone: str | None, country: str | None, policy: Policy
) -> str | None:
    """Why the customer's day of delivery is not a business day under ``policy`` (None: it is)."""
    if policy.business_days is None and policy.send_window is None:
        return None
    day = delivery_day(run_at, timezone, policy)
    zone = _zone(timezone).key
    where = f"{WEEKDAYS[day.weekday()]} {day.isoformat()} in {zone}"
    window = policy.send_window
    if window is not None and day.weekday() not in window.weekdays:
        return f"{where}: no send window that day"
    rules = policy.business_days
    if rules is None:
        return None
    if day.weekday() not in rules.weekdays:
        return f"{where}: not a business day (weekend)"
    if rules.holidays == HOLIDAYS_NONE:
        return None
    holiday_country = (country or "").upper() if rules.holidays == HOLIDAYS_CUSTOMER else rules.holidays
    name = _holiday_name(holiday_country, day) if holiday_country else None
    if name is not None:
        return f"{where}: public holiday in {holiday_country} ({name})"
    return None


def _non_business(rows: pd.DataFrame, policies: Mapping[str, Policy], run_at: datetime) -> np.ndarray:
    """Per row (customer_id, policy_key, timezone, country): the reason its day is not a business
    day, or None. Computed once per distinct (policy, zone, country)."""
    keys = pd.DataFrame(
        {
            "policy_key": rows.policy_key.astype(object).to_numpy(),
            "timezone": rows.timezone.astype(object).where(rows.timezone.notna(), "").to_numpy(),
            "country": rows.country.astype(object).where(rows.country.notna(), "").to_numpy(),
        }
    )
    distinct = keys.drop_duplicates()
    reasons = {
        (key, zone, country): (
            non_business_reason(run_at, zone, country, policies[key]) if key in policies else None
        )
        for key, zone, country in distinct.itertuples(index=False)
    }
    return np.array(
        [reasons[item] for item in keys.itertuples(index=False, name=None)], dtype=object
    ).reshape(len(rows))


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
            calendar.filter(calendar.customer_id.isin(sorted(set(rows.customer_id.tolist())))), backend
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


def _decimals(units: Any) -> pa.Array:
    """Exact ``decimal(18, 4)`` values from int64 counts of 1/MONEY_SCALE."""
    array = pa.array(np.asarray(units, dtype=np.int64), pa.int64()).cast(pa.decimal128(19, 0))
    return array.view(pa.decimal128(19, 4)).cast(pa.decimal128(18, 4))


def _arrow_signed(values: pa.Array) -> pa.Array:
    text = pc.cast(values, pa.string())
    return pc.if_else(pc.greater_equal(values, 0), pc.binary_join_element_wise("+", text, ""), text)


def _reason_lists(candidates: Sequence[tuple[str, pa.Array, pa.Array]], rows: int) -> pa.Array:
    """``list<REASON>`` per row from the candidate reasons, in order: (code, detail per row,
    whether the row has it). Built column-wise by Arrow (no per-row Python)."""
    if rows == 0:
        return pa.array([], pa.list_(REASON))
    has = np.column_stack(
        [
            np.asarray(pc.fill_null(present, False).to_numpy(zero_copy_only=False), dtype=bool)
            for _, _, present in candidates
        ]
    )
    details = np.column_stack(
        [np.asarray(detail.to_numpy(zero_copy_only=False), dtype=object) for _, detail, _ in candidates]
    )
    codes = np.broadcast_to(np.array([code for code, _, _ in candidates], dtype=object), has.shape)
    keep = has.ravel()  # row-major: each row's reasons together, in the candidates' order
    offsets = np.concatenate([[0], np.cumsum(has.sum(axis=1))]).astype(np.int32)
    values = pa.StructArray.from_arrays(
        [pa.array(codes.ravel()[keep], pa.string()), pa.array(details.ravel()[keep], pa.string())],
        fields=list(REASON),
    )
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values, type=pa.list_(REASON))


def _decision_reasons(table: pa.Table) -> pa.Array:
    """The ``reasons`` of each decision, built column-wise by Arrow (no per-row Python)."""
    join = pc.binary_join_element_wise
    rows = table.num_rows

    def constant(text: str) -> pa.Array:
        return pa.array([text] * rows, pa.string())

    always = pa.array(np.ones(rows, dtype=bool))
    step_due = join(
        table.column("step_key").combine_chunks(),
        " is due at ",
        _arrow_signed(table.column("offset_days")),
        " days; the most overdue invoice is ",
        _arrow_signed(table.column("max_days_past_due")),
        " days from its due date",
        "",
    )
    grouped = join(
        pc.cast(table.column("invoice_count"), pa.string()),
        " invoices in one ",
        table.column("kind"),
        " ",
        table.column("action"),
        "",
    )
    disputed = join(
        pc.cast(_decimals(table.column("disputed_units").to_numpy()), pa.string()), " disputed, left out", ""
    )
    fallback = join(
        table.column("first_channel"), " not available, using ", pc.fill_null(table.column("channel"), ""), ""
    )
    return _reason_lists(
        [
            ("step_due", step_due, always),
            (
                "catch_up",
                constant("earlier steps came due meanwhile; only this one is sent"),
                table.column("catch_up").combine_chunks(),
            ),
            ("grouped", grouped, pc.greater(table.column("invoice_count"), 1)),
            ("partially_disputed", disputed, pc.greater(table.column("disputed_units"), 0)),
            ("channel_fallback", fallback, table.column("fallback").combine_chunks()),
            (
                "promise_broken",
                constant("a promise to pay was broken; dunning resumes"),
                table.column("broken_promise").combine_chunks(),
            ),
        ],
        rows,
    )


def _assemble(
    decisions: pd.DataFrame,
    candidates: pd.DataFrame,
    installments: pd.DataFrame | None,
    entity_of: pd.Series,
    as_of: date,
) -> tuple[pa.Table, pa.Table]:
    """The decision and invoice-step tables, built by Arrow (a first run can decide for millions)."""
    ids = pa.table(
        {
            "group_no": pa.array(candidates.group_no.to_numpy(np.int64)),
            "invoice_id": pa.array(candidates.invoice_id.to_numpy(np.int64)),
        }
    ).sort_by([("group_no", "ascending"), ("invoice_id", "ascending")])
    lists = ids.group_by("group_no", use_threads=False).aggregate([("invoice_id", "list")])
    group_no = pa.array(decisions.group_no.to_numpy(np.int64))
    # Every decision has its candidates: each group is found.
    invoice_ids = pc.take(
        lists.column("invoice_id_list"), pc.index_in(group_no, value_set=lists.column("group_no"))
    ).cast(pa.list_(pa.int64()))
    internal = (decisions.kind == "internal").to_numpy(bool)
    channel = pa.array(
        decisions.channel.to_numpy(dtype=object),
        pa.string(),
        mask=internal | decisions.channel.isna().to_numpy(),
    )
    strings = ["currency", "policy_key", "kind", "step_key", "action", "tone", "template_key"]
    table = pa.Table.from_pandas(decisions[strings], preserve_index=False).cast(
        pa.schema([(name, pa.string()) for name in strings])
    )
    table = table.append_column("group_no", group_no)
    for name in (
        "customer_id",
        "entity_id",
        "step_index",
        "offset_days",
        "invoice_count",
        "amount_units",
        "max_days_past_due",
        "disputed_units",
    ):
        table = table.append_column(name, pa.array(decisions[name].to_numpy(np.int64)))
    for name in ("broken_promise", "catch_up", "fallback"):
        table = table.append_column(name, pa.array(decisions[name].to_numpy(bool)))
    table = table.append_column("channel", channel).append_column("invoice_ids", invoice_ids)
    options = [list(step_channels) for step_channels in decisions.channels.tolist()]
    table = table.append_column("channels", pa.array(options, pa.list_(pa.string())))
    first = [step_channels[0] if step_channels else "" for step_channels in options]
    table = table.append_column("first_channel", pa.array(first, pa.string()))
    table = table.append_column("reasons", _decision_reasons(table))
    keep = [*DECISION_COLUMNS.keys() - {"decision_id", "amount_due"}, "group_no", "amount_units"]
    table = table.select(keep)
    if installments is not None:
        extra = installments.assign(
            entity_id=installments.customer_id.map(entity_of).fillna(0).astype("int64")
        )

        def column(name: str) -> pa.Array:
            kind = table.schema.field(name).type
            plain = kind == pa.string() or pa.types.is_list(kind)
            return pa.array(extra[name].to_numpy(dtype=object if plain else None), kind, from_pandas=True)

        extra_table = pa.table({name: column(name) for name in keep})
        table = pa.concat_tables([table, extra_table])
    kind_order = pc.take(
        pa.array(list(KIND_ORDER.values()), pa.int64()),
        pc.index_in(table.column("kind"), value_set=pa.array(list(KIND_ORDER), pa.string())),
    )
    table = table.append_column("kind_order", kind_order).sort_by(
        [("customer_id", "ascending"), ("kind_order", "ascending"), ("step_key", "ascending")]
    )
    decision_id = pa.array(np.arange(1, table.num_rows + 1, dtype=np.int64))
    table = table.append_column("decision_id", decision_id)
    table = table.append_column("amount_due", _decimals(table.column("amount_units").to_numpy()))
    decisions_table = table.select(list(DECISION_COLUMNS)).cast(pa.schema(list(DECISION_COLUMNS.items())))
    frame = pd.DataFrame(
        {"decision_id": decision_id.to_numpy(), "group_no": table.column("group_no").to_numpy()}
    )
    decision_of_group = pd.Series(frame.decision_id.to_numpy(), index=frame.group_no.to_numpy())
    decision_of_group = decision_of_group[decision_of_group.index >= 0]
    steps = candidates[["invoice_id", "group_no", "step_key", "step_index"]].sort_values("invoice_id")
    steps_table = pa.table(
        {
            "invoice_id": pa.array(steps.invoice_id.to_numpy(np.int64)),
            "decision_id": pa.array(steps.group_no.map(decision_of_group).to_numpy(np.int64)),
            "step_key": pa.array(steps.step_key.tolist(), pa.string()),
            "step_index": pa.array(steps.step_index.to_numpy(np.int64)),
            "reached_on": pa.array([as_of] * len(steps), pa.date32()),
        },
        schema=pa.schema(list(INVOICE_STEP_COLUMNS.items())),
    )
    return decisions_table, steps_table


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

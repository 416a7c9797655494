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
   docs/benchmarks.md). They live in ``relance.engine.dunning.rules``, one module per family
   (each tested alone in tests/engine/dunning/test_rules.py); ``_decide`` applies them in
   order and every suppression lands in one collector, which keeps the reasons consistent.

The worklist (``rules.worklist``) is one more aggregate per customer over the temporary table.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from ibis.backends import BaseBackend

from relance.core.errors import ValidationFailed
from relance.engine.backends import _sqlite_insert, is_spark
from relance.engine.days import backend_name, day_number
from relance.engine.dunning.contract import (
    DECISION_COLUMNS,
    INVOICE_STEP_COLUMNS,
    REASON,
    Decisions,
    DunningTables,
)
from relance.engine.dunning.policy import (
    CUSTOM_PREFIX,
    Condition,
    Policy,
    Step,
    due_index_cases,
    reached_index_cases,
    step_is_due,
)
from relance.engine.dunning.rules.amounts import _skip_disputed, _skip_small_balances
from relance.engine.dunning.rules.cadence import _cadence_of, _cap_contacts, _history, _hold_for_cadence
from relance.engine.dunning.rules.calendar import _defer_non_business_days, _uses_calendar
from relance.engine.dunning.rules.channels import _choose_channels, channel_masks
from relance.engine.dunning.rules.common import REASON_CODES as REASON_CODES
from relance.engine.dunning.rules.common import _arrow, _decimals, _fetch, _ids, _Suppressed, _units
from relance.engine.dunning.rules.grouping import _group
from relance.engine.dunning.rules.holds import _active_plans, _stop_held, _stop_on_plan
from relance.engine.dunning.rules.installments import _installment_reminders
from relance.engine.dunning.rules.promises import (
    _broken_promise_resends,
    _pause_for_promises,
    _promise_states,
)
from relance.engine.dunning.rules.worklist import _worklist
from relance.engine.kpi import not_void
from relance.engine.schema import money_units

KIND_ORDER = {"upcoming": 0, "overdue": 1, "installment": 2, "internal": 3}
ERROR_NO_POLICIES = "decide() needs at least one policy"
# When ``run_at`` is not given: the run's instant is 06:00 UTC on the as-of date.
DEFAULT_RUN_TIME = time(6, 0)


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
    elif condition.field == "p_late":
        # No prediction stored for the invoice (null): the condition does not hold.
        test = _compare(frame.p_late, condition.operator, float(value))
        return test.fill_null(False)
    elif condition.field.startswith(CUSTOM_PREFIX):
        column = frame[custom_column(condition.field)].fill_null("")
    else:
        column = frame[condition.field].fill_null("")
    return _compare(column, condition.operator, value)


def _compare(column: ir.Value, operator: str, value: Any) -> ir.BooleanValue:
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


def _latest_predictions(predictions: ir.Table, as_of: date) -> ir.Table:
    """``_q_invoice_id``, ``p_late``: each invoice's latest stored prediction as of ``as_of`` (none
    dated later is read)."""
    known = predictions.filter(predictions.as_of <= as_of)
    last = known.group_by(_l_invoice_id=known.invoice_id).aggregate(_l_as_of=known.as_of.max())
    joined = known.join(last, (known.invoice_id == last._l_invoice_id) & (known.as_of == last._l_as_of))
    return joined.select(_q_invoice_id=joined.invoice_id, p_late=joined.p_late.cast("float64"))


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
    dialect = backend_name(tables.invoices)
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
    numbers: list[ir.Value] = []  # p_late: the latest stored prediction, null without one
    if "p_late" in used and tables.invoice_predictions is not None:
        predictions = _latest_predictions(tables.invoice_predictions, as_of)
        chain = chain.left_join(predictions, joined.invoice_id == predictions._q_invoice_id)
        numbers.append(chain.p_late)
    elif "p_late" in used:
        numbers.append(ibis.null("float64").name("p_late"))
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
    as_of_day = day_number(ibis.literal(as_of), dialect)
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
        *numbers,
        disputed_units=ibis.ifelse(disputed_units > chain.open_units, chain.open_units, disputed_units),
        chaseable_units=chaseable,
        reached_index=_reached_index(chain, policies),
        days_past_due=(as_of_day - day_number(chain.due_date, dialect)).cast("int64"),
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


# --------------------------------------------------------------------------- decide


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
    keep = _skip_small_balances(candidates, policies, keep, out)

    decisions, candidates = _group(candidates[keep], policies)
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


# --------------------------------------------------------------------------- candidates and the output
# (the rules themselves: relance.engine.dunning.rules)


# What the rules read of each candidate (the step query's conditions need more).
CANDIDATE_COLUMNS = (
    "invoice_id",
    "entity_id",
    "customer_id",
    "currency",
    "policy_key",
    "disputed_units",
    "chaseable_units",
    "customer_chaseable_units",
    "days_past_due",
    "reached_index",
    "due_index",
    "due_count",
    "channel_mask",
)


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
        wanted = wanted | (frame.customer_id.isin(_ids(resend_customers)) & (frame.reached_index >= 0))
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
    columns = [*CANDIDATE_COLUMNS, *(("timezone", "country") if with_calendar else ())]
    # In one order on every backend (and whatever order DuckDB's parallel scans produce): the
    # groups are numbered, and the contact cap picks among a customer's decisions, in this order.
    ordered = wanted_rows.select(*columns).order_by("customer_id", "currency", "invoice_id")
    fetched = _arrow(ordered, backend)
    # Texts as categoricals: the rules copy and group these rows by codes, not by text.
    candidates = fetched.to_pandas(strings_to_categorical=True)
    if not with_calendar:
        candidates["timezone"] = None
        candidates["country"] = None
    candidates["channel_mask"] = candidates.channel_mask.fillna(0).astype("int64")
    candidates["broken_promise"] = candidates.customer_id.isin(resend_customers)
    candidates["step_index"] = np.maximum(candidates.due_index, candidates.reached_index)
    return candidates


def _arrow_signed(values: pa.Array) -> pa.Array:
    text = pc.cast(values, pa.string())
    return pc.if_else(pc.greater_equal(values, 0), pc.binary_join_element_wise("+", text, ""), text)


def _plain_array(values: pa.Array | pa.ChunkedArray, kind: pa.DataType) -> pa.Array:
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    return array.cast(kind)


def _reason_lists(reasons: Sequence[tuple[str, pa.Array | str, np.ndarray]], rows: int) -> pa.Array:
    """``list<REASON>`` per row from the candidate reasons, in order: (code, detail, whether each
    row has it). The detail is one text for every row that has the reason, or an array with the
    detail of each row that has it, in row order. Built by Arrow takes (no Python object per row
    or reason)."""
    if rows == 0:
        return pa.array([], pa.list_(REASON))
    has = np.column_stack([present for _, _, present in reasons])
    row, reason = np.nonzero(has)  # row-major: each row's reasons together, in the candidates' order
    # Every detail end to end (reason k's details from starts[k]), then one take.
    parts = [
        pa.array([detail], pa.string()) if isinstance(detail, str) else _plain_array(detail, pa.string())
        for _, detail, _ in reasons
    ]
    starts = np.concatenate([[0], np.cumsum([len(part) for part in parts])[:-1]]).astype(np.int64)
    constant = np.array([isinstance(detail, str) for _, detail, _ in reasons])
    rank = np.cumsum(has, axis=0, dtype=np.int64) - 1  # a row's place among the rows with reason k
    index = starts[reason] + np.where(constant[reason], 0, rank[row, reason])
    codes = pa.array([code for code, _, _ in reasons], pa.string())
    offsets = np.concatenate([[0], np.cumsum(has.sum(axis=1))]).astype(np.int32)
    values = pa.StructArray.from_arrays(
        [
            codes.take(pa.array(reason, pa.int64())),
            pa.concat_arrays(parts).take(pa.array(index, pa.int64())),
        ],
        fields=list(REASON),
    )
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values, type=pa.list_(REASON))


def _decision_reasons(table: pa.Table) -> pa.Array:
    """The ``reasons`` of each decision, built column-wise by Arrow (no per-row Python); each
    detail only for the decisions that have the reason."""
    join = pc.binary_join_element_wise

    def flag(name: str) -> np.ndarray:
        return np.asarray(table.column(name).to_numpy(), dtype=bool)

    def only(present: np.ndarray, name: str) -> pa.Array:
        return pc.filter(table.column(name), pa.array(present)).combine_chunks()

    step_due = join(
        table.column("step_key").combine_chunks(),
        " is due at ",
        _arrow_signed(table.column("offset_days")),
        " days; the most overdue invoice is ",
        _arrow_signed(table.column("max_days_past_due")),
        " days from its due date",
        "",
    )
    is_grouped = table.column("invoice_count").to_numpy() > 1
    grouped = join(
        pc.cast(only(is_grouped, "invoice_count"), pa.string()),
        " invoices in one ",
        only(is_grouped, "kind"),
        " ",
        only(is_grouped, "action"),
        "",
    )
    disputed_units = table.column("disputed_units").to_numpy()
    is_disputed = disputed_units > 0
    disputed = join(pc.cast(_decimals(disputed_units[is_disputed]), pa.string()), " disputed, left out", "")
    is_fallback = flag("fallback")
    fallback = join(
        only(is_fallback, "first_channel"),
        " not available, using ",
        pc.fill_null(only(is_fallback, "channel"), ""),
        "",
    )
    return _reason_lists(
        [
            ("step_due", step_due, np.ones(table.num_rows, dtype=bool)),
            ("catch_up", "earlier steps came due meanwhile; only this one is sent", flag("catch_up")),
            ("grouped", grouped, is_grouped),
            ("partially_disputed", disputed, is_disputed),
            ("channel_fallback", fallback, is_fallback),
            ("promise_broken", "a promise to pay was broken; dunning resumes", flag("broken_promise")),
        ],
        table.num_rows,
    )


def _assemble(
    decisions: pd.DataFrame,
    candidates: pd.DataFrame,
    installments: pd.DataFrame | None,
    entity_of: pd.Series,
    as_of: date,
) -> tuple[pa.Table, pa.Table]:
    """The decision and invoice-step tables, built by Arrow (a first run can decide for millions)."""
    # Each decision's invoice ids, ascending: the candidates sorted by (group, invoice), cut per group.
    group_of = candidates.group_no.to_numpy(np.int64)
    invoice_of = candidates.invoice_id.to_numpy(np.int64)
    order = np.lexsort((invoice_of, group_of))
    groups, starts = np.unique(group_of[order], return_index=True)
    offsets = np.append(starts, len(order)).astype(np.int32)
    lists = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(invoice_of[order], pa.int64()))
    group_no = pa.array(decisions.group_no.to_numpy(np.int64))
    # Every decision has its candidates: each group is found.
    invoice_ids = lists.take(pa.array(np.searchsorted(groups, decisions.group_no.to_numpy(np.int64))))
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
    # A step's channels, once per distinct step (not once per decision), then taken per decision.
    codes, distinct = pd.factorize(decisions.channels, use_na_sentinel=False)
    of_code = pa.array([list(options) for options in distinct], pa.list_(pa.string()))
    first_of_code = pa.array([options[0] if options else "" for options in distinct], pa.string())
    indices = pa.array(np.asarray(codes, dtype=np.int64))
    table = table.append_column("channels", of_code.take(indices))
    table = table.append_column("first_channel", first_of_code.take(indices))
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
    # Each candidate's decision: by its group (installment rows have none: group_no −1).
    decision_group = table.column("group_no").to_numpy()
    from_group = decision_group >= 0
    decision_of_group = np.zeros(int(decision_group.max(initial=-1)) + 1, dtype=np.int64)
    decision_of_group[decision_group[from_group]] = decision_id.to_numpy()[from_group]
    by_invoice = np.argsort(invoice_of, kind="stable")
    steps_table = pa.table(
        {
            "invoice_id": pa.array(invoice_of[by_invoice]),
            "decision_id": pa.array(decision_of_group[group_of[by_invoice]]),
            "step_key": pa.array(candidates.step_key.iloc[by_invoice], from_pandas=True).cast(pa.string()),
            "step_index": pa.array(candidates.step_index.to_numpy(np.int64)[by_invoice]),
            "reached_on": pa.array(np.full(len(by_invoice), (as_of - date(1970, 1, 1)).days, np.int32)).cast(
                pa.date32()
            ),
        },
        schema=pa.schema(list(INVOICE_STEP_COLUMNS.items())),
    )
    return decisions_table, steps_table

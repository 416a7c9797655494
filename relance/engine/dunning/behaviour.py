"""Per-customer payment behaviour, behavioural classes with their evidence, and segmentation.

Metrics (Ibis, one aggregate per customer) over the invoices due in the lookback window
(default 365 days up to the as-of date) and paid in full by then — an invoice's payment date
is the date of the allocation that closed it:

* paid_invoices, late_invoices, share_late (late = paid after its due date);
* avg_days_late (over paid invoices, on-time ones count 0), avg_days_late_when_late,
  weighted_days_late (amount-weighted, Upflow's "average payment delay" without open items);
* dbt_trend: weighted days late of invoices paid in the last 90 days minus that of the 90
  days before (positive = getting worse; null when either side has none);
* open_units, overdue_units, max_days_past_due (open invoices at the as-of date);
* promises_made / promises_kept / promises_broken in the window, by their written status: whether a
  promise is kept or broken is the one promise rule's (``relance.core.promises``), which the daily
  run applies and writes back (``promise_settle``) before segments are computed; an open promise
  counts as neither; disputes_opened in the window, disputes_open now;
* credit_limit and utilisation (open / limit) from customer_profile: the dunning's signal
  ("over its limit" makes a customer at risk, and segments may test it). Credit management's
  utilisation is ``relance.engine.credit.exposure`` (orders too, converted, the parent's limit
  for a group); it is not read here because this query is at SQLite's parser depth and runs
  inside ``decide``'s own (one more join overflows): both read the open amount of
  ``invoice_frame``, and equal each other for a customer with no orders, no parent limit and
  one currency.

Classes (first match wins), after the seeds' types of late payers:

* ``at_risk``: a broken promise, an invoice more than 90 days past due, over its credit limit,
  or profile risk "high";
* ``new``: fewer than 3 paid invoices (not enough history);
* ``prompt``: at most 10 % paid late;
* ``forgetful``: late, but on average within 10 days — they pay soon after the first reminder;
* ``chronic_late``: the rest — regularly late by more than that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
from ibis.backends import BaseBackend

from relance.core.errors import ValidationFailed
from relance.engine.days import backend_name, day_number
from relance.engine.dunning.contract import DunningTables
from relance.engine.kpi import not_void
from relance.engine.schema import MONEY_SCALE, money_units

BEHAVIOUR_CLASSES = ("at_risk", "new", "prompt", "forgetful", "chronic_late")
MIN_PAID_HISTORY = 3
PROMPT_MAX_SHARE_LATE = 0.10
FORGETFUL_MAX_DAYS_LATE = 10
AT_RISK_DAYS_PAST_DUE = 90
TREND_DAYS = 90
LOOKBACK_DAYS = 365  # paid invoices counted: those due in the year to the as-of date

SEGMENT_FIELDS = (
    "segment",
    "collector",
    "payment_terms_days",
    "risk",
    "behaviour",
    "paid_invoices",
    "share_late",
    "avg_days_late",
    "weighted_days_late",
    "dbt_trend",
    "overdue_amount",
    "open_amount",
    "max_days_past_due",
    "promises_broken",
    "disputes_open",
    "utilisation",
)
TEXT_SEGMENT_FIELDS = ("segment", "collector", "risk", "behaviour")
SEGMENT_OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in")
ERROR_RULES = "segmentation rules: {problems}"


def invoice_frame(tables: DunningTables, as_of: date) -> ir.Table:
    """One row per invoice issued by ``as_of`` and not void then: its amount and **open amount**
    (amount less what was allocated to it by ``as_of``, in integer money units), whether it is paid
    in full and on which day (the allocation that closed it), its days late and days past due.

    The one home of "open" and "paid late" for the behaviour metrics and credit exposure.
    """
    dialect = backend_name(tables.invoices)
    allocations = tables.allocations.filter(tables.allocations.date <= as_of)
    per_invoice = allocations.group_by(_a_invoice_id=allocations.invoice_id).aggregate(
        allocated_units=money_units(allocations.amount).sum().cast("int64"),
        last_allocation=allocations.date.max(),
    )
    invoices = tables.invoices
    invoices = invoices.filter(not_void(invoices, as_of), invoices.issue_date <= as_of)
    joined = invoices.left_join(per_invoice, invoices.invoice_id == per_invoice._a_invoice_id)
    amount_units = money_units(joined.amount)
    allocated = joined.allocated_units.fill_null(0)
    as_of_day = day_number(ibis.literal(as_of), dialect)
    due_day = day_number(joined.due_date, dialect)
    return joined.select(
        "invoice_id",
        "customer_id",
        "currency",
        "issue_date",
        "due_date",
        amount_units=amount_units,
        open_units=amount_units - allocated,
        paid=(allocated >= amount_units) & joined.last_allocation.notnull(),
        paid_on=joined.last_allocation,
        days_late_raw=(day_number(joined.last_allocation, dialect) - due_day).cast("int64"),
        days_past_due=(as_of_day - due_day).cast("int64"),
    )


# The metrics summed per (customer, currency) and then per customer: every one adds up.
SUMMED_METRICS = (
    "paid_invoices",
    "late_invoices",
    "days_late_sum",
    "weighted_late_sum",
    "weight_sum",
    "recent_late_sum",
    "recent_weight",
    "previous_late_sum",
    "previous_weight",
    "open_units",
    "overdue_units",
)
INTEGER_METRICS = ("paid_invoices", "late_invoices", "days_late_sum", "open_units", "overdue_units")


def _metrics(frame: ir.Table, as_of: date, lookback_days: int) -> dict[str, ir.Value]:
    """The aggregates of ``invoice_frame`` behind the metrics (sums, a maximum, a minimum)."""
    start = as_of - timedelta(days=lookback_days)
    trend_start = as_of - timedelta(days=TREND_DAYS)
    previous_start = as_of - timedelta(days=2 * TREND_DAYS)
    paid_in_window = frame.paid & (frame.due_date >= start) & (frame.due_date <= as_of)
    days_late = ibis.ifelse(frame.days_late_raw > 0, frame.days_late_raw, 0)
    late = paid_in_window & (frame.days_late_raw > 0)
    recent = paid_in_window & (frame.paid_on > trend_start)
    previous = paid_in_window & (frame.paid_on > previous_start) & (frame.paid_on <= trend_start)
    is_open = frame.open_units > 0
    weight = frame.amount_units.cast("float64")
    return dict(
        paid_invoices=ibis.ifelse(paid_in_window, 1, 0).sum().cast("int64"),
        late_invoices=ibis.ifelse(late, 1, 0).sum().cast("int64"),
        days_late_sum=ibis.ifelse(paid_in_window, days_late, 0).sum().cast("int64"),
        weighted_late_sum=ibis.ifelse(paid_in_window, weight * days_late.cast("float64"), 0.0).sum(),
        weight_sum=ibis.ifelse(paid_in_window, weight, 0.0).sum(),
        recent_late_sum=ibis.ifelse(recent, weight * days_late.cast("float64"), 0.0).sum(),
        recent_weight=ibis.ifelse(recent, weight, 0.0).sum(),
        previous_late_sum=ibis.ifelse(previous, weight * days_late.cast("float64"), 0.0).sum(),
        previous_weight=ibis.ifelse(previous, weight, 0.0).sum(),
        open_units=ibis.ifelse(is_open, frame.open_units, 0).sum().cast("int64"),
        overdue_units=ibis.ifelse(is_open & (frame.days_past_due > 0), frame.open_units, 0)
        .sum()
        .cast("int64"),
        max_days_past_due=ibis.ifelse(is_open, frame.days_past_due, ibis.null("int64")).max(),
        first_issue=frame.issue_date.min(),
    )


def behaviour_by_currency(
    tables: DunningTables, as_of: date, *, lookback_days: int = LOOKBACK_DAYS
) -> ir.Table:
    """The metrics per (customer, currency), in one pass over the invoices: sums, a maximum and a
    minimum, so that they add up per customer. Credit exposure reads its ``open_units`` (the open
    receivables in each currency) from the same pass."""
    frame = invoice_frame(tables, as_of)
    return frame.group_by("customer_id", "currency").aggregate(**_metrics(frame, as_of, lookback_days))


def customer_behaviour_expr(
    tables: DunningTables,
    as_of: date,
    *,
    lookback_days: int = LOOKBACK_DAYS,
    by_currency: ir.Table | None = None,
) -> ir.Table:
    """The metrics and the ``behaviour`` class per customer, as one Ibis expression
    (``by_currency``: ``behaviour_by_currency`` of the same date and lookback, when the caller
    reads it for something else too)."""
    start = as_of - timedelta(days=lookback_days)
    if by_currency is None:  # one aggregate (decide runs this inside its own query: no deeper)
        frame = invoice_frame(tables, as_of)
        metrics = frame.group_by("customer_id").aggregate(**_metrics(frame, as_of, lookback_days))
    else:
        sums = {
            name: by_currency[name].sum().cast("int64")
            if name in INTEGER_METRICS
            else by_currency[name].sum()
            for name in SUMMED_METRICS
        }
        metrics = by_currency.group_by("customer_id").aggregate(
            **sums,
            max_days_past_due=by_currency.max_days_past_due.max(),
            first_issue=by_currency.first_issue.min(),
        )
    promises = tables.promises.filter(
        tables.promises.created_on <= as_of, tables.promises.created_on >= start
    )
    per_promises = promises.group_by(_pr_customer="customer_id").aggregate(
        promises_made=promises.count(),
        promises_kept=ibis.ifelse(promises.status == "kept", 1, 0).sum().cast("int64"),
        promises_broken=ibis.ifelse(promises.status == "broken", 1, 0).sum().cast("int64"),
    )
    disputes = tables.disputes.filter(tables.disputes.opened_on <= as_of)
    per_disputes = disputes.group_by(_d_customer="customer_id").aggregate(
        disputes_opened=ibis.ifelse(disputes.opened_on >= start, 1, 0).sum().cast("int64"),
        disputes_open=ibis.ifelse(disputes.resolved_on.isnull() | (disputes.resolved_on > as_of), 1, 0)
        .sum()
        .cast("int64"),
    )
    profile = tables.customer_profile.select(
        _p_customer="customer_id",
        risk="risk",
        credit_limit_units=money_units(tables.customer_profile.credit_limit),
    )
    customers = tables.customers.select("customer_id", "segment", "collector", "payment_terms_days")
    result = customers.left_join(metrics, customers.customer_id == metrics.customer_id).drop(
        "customer_id_right"
    )
    result = result.left_join(per_promises, result.customer_id == per_promises._pr_customer).drop(
        "_pr_customer"
    )
    result = result.left_join(per_disputes, result.customer_id == per_disputes._d_customer).drop(
        "_d_customer"
    )
    result = result.left_join(profile, result.customer_id == profile._p_customer).drop("_p_customer")
    paid_count = result.paid_invoices.fill_null(0)
    late_count = result.late_invoices.fill_null(0)
    share_late = ibis.ifelse(paid_count > 0, late_count.cast("float64") / paid_count.cast("float64"), 0.0)
    avg_late_when_late = ibis.ifelse(
        late_count > 0, result.days_late_sum.fill_null(0).cast("float64") / late_count.cast("float64"), 0.0
    )
    result = result.mutate(
        paid_invoices=paid_count,
        late_invoices=late_count,
        share_late=share_late,
        avg_days_late=ibis.ifelse(
            paid_count > 0,
            result.days_late_sum.fill_null(0).cast("float64") / paid_count.cast("float64"),
            0.0,
        ),
        avg_days_late_when_late=avg_late_when_late,
        weighted_days_late=ibis.ifelse(
            result.weight_sum.fill_null(0) > 0, result.weighted_late_sum / result.weight_sum, 0.0
        ),
        dbt_trend=ibis.ifelse(
            (result.recent_weight.fill_null(0) > 0) & (result.previous_weight.fill_null(0) > 0),
            result.recent_late_sum / result.recent_weight - result.previous_late_sum / result.previous_weight,
            ibis.null("float64"),
        ),
        open_units=result.open_units.fill_null(0),
        overdue_units=result.overdue_units.fill_null(0),
        promises_made=result.promises_made.fill_null(0),
        promises_kept=result.promises_kept.fill_null(0),
        promises_broken=result.promises_broken.fill_null(0),
        disputes_opened=result.disputes_opened.fill_null(0),
        disputes_open=result.disputes_open.fill_null(0),
        risk=result.risk.fill_null(""),
        utilisation=ibis.ifelse(
            result.credit_limit_units > 0,
            result.open_units.fill_null(0).cast("float64") / result.credit_limit_units.cast("float64"),
            ibis.null("float64"),
        ),
    )
    over_limit = result.utilisation.fill_null(0.0) > 1.0
    behaviour = ibis.cases(
        (
            (result.promises_broken > 0)
            | (result.max_days_past_due.fill_null(0) > AT_RISK_DAYS_PAST_DUE)
            | over_limit
            | (result.risk == "high"),
            "at_risk",
        ),
        (result.paid_invoices < MIN_PAID_HISTORY, "new"),
        (result.share_late <= PROMPT_MAX_SHARE_LATE, "prompt"),
        (result.avg_days_late_when_late <= FORGETFUL_MAX_DAYS_LATE, "forgetful"),
        else_="chronic_late",
    )
    return result.mutate(behaviour=behaviour).drop(
        "days_late_sum",
        "weighted_late_sum",
        "weight_sum",
        "recent_late_sum",
        "recent_weight",
        "previous_late_sum",
        "previous_weight",
    )


def _evidence(row: Mapping[str, Any]) -> str:
    parts = [
        f"{row['paid_invoices']} invoices paid in the window, {row['share_late']:.0%} late",
        f"{row['avg_days_late_when_late']:.1f} days late on average when late",
        f"amount-weighted {row['weighted_days_late']:.1f} days late",
    ]
    if row["dbt_trend"] is not None and not pd.isna(row["dbt_trend"]):
        parts.append(f"trend {row['dbt_trend']:+.1f} days (last 90 days vs the 90 before)")
    if row["max_days_past_due"] is not None and not pd.isna(row["max_days_past_due"]):
        parts.append(f"oldest open invoice {int(row['max_days_past_due'])} days from due")
    parts.append(
        f"promises {row['promises_made']} made, {row['promises_kept']} kept, {row['promises_broken']} broken"
    )
    if row["disputes_open"]:
        parts.append(f"{row['disputes_open']} disputes open")
    if row["utilisation"] is not None and not pd.isna(row["utilisation"]):
        parts.append(f"{row['utilisation']:.0%} of the credit limit used")
    if row["risk"]:
        parts.append(f"risk {row['risk']}")
    return "; ".join(parts)


def customer_behaviour(
    tables: DunningTables,
    as_of: date,
    *,
    backend: BaseBackend | None = None,
    lookback_days: int = LOOKBACK_DAYS,
) -> pa.Table:
    """The metrics, the class and a readable ``evidence`` text per customer."""
    expr = customer_behaviour_expr(tables, as_of, lookback_days=lookback_days)
    table = expr.to_pyarrow() if backend is None else backend.to_pyarrow(expr)
    frame = table.to_pandas()
    frame["open_amount"] = frame.open_units / MONEY_SCALE
    frame["overdue_amount"] = frame.overdue_units / MONEY_SCALE
    frame["evidence"] = [_evidence(row) for row in frame.to_dict("records")]
    return pa.Table.from_pandas(frame.sort_values("customer_id"), preserve_index=False)


# --------------------------------------------------------------------------- segmentation


@dataclass(frozen=True)
class SegmentCondition:
    field: str
    operator: str
    value: float | str | tuple[str, ...]


@dataclass(frozen=True)
class SegmentRule:
    """Customers matching every condition get ``segment`` (rules are tried in order)."""

    segment: str
    conditions: tuple[SegmentCondition, ...] = ()


def segment_rules_from_list(data: Any) -> tuple[SegmentRule, ...]:
    """Rules from their list form: ``[{segment: key_accounts, when: [{field, op, value}]}]``."""
    problems: list[str] = []
    if not isinstance(data, list):
        raise ValidationFailed(ERROR_RULES.format(problems=f"expected a list, found {data!r}"))
    rules = []
    for position, item in enumerate(data):
        path = f"rules[{position}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("segment"), str) or not item["segment"]:
            problems.append(
                f"{path}: expected a mapping with a segment and conditions (when), found {item!r}"
            )
            continue
        conditions = []
        for index, raw in enumerate(item.get("when") or []):
            where = f"{path}.when[{index}]"
            if not isinstance(raw, Mapping):
                problems.append(f"{where}: expected a mapping with field, op, value, found {raw!r}")
                continue
            field, operator, value = raw.get("field"), raw.get("op"), raw.get("value")
            if field not in SEGMENT_FIELDS:
                problems.append(
                    f"{where}.field: expected one of {', '.join(SEGMENT_FIELDS)}, found {field!r}"
                )
                continue
            if operator not in SEGMENT_OPERATORS:
                problems.append(
                    f"{where}.op: expected one of {', '.join(SEGMENT_OPERATORS)}, found {operator!r}"
                )
                continue
            if operator in ("in", "not_in"):
                if not isinstance(value, list):
                    problems.append(f"{where}.value: expected a list, found {value!r}")
                    continue
                value = tuple(str(entry) for entry in value)
            elif field in TEXT_SEGMENT_FIELDS:
                if operator not in ("eq", "ne") or not isinstance(value, str):
                    problems.append(
                        f"{where}: expected eq/ne with a text for {field}, found {operator} {value!r}"
                    )
                    continue
            else:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    problems.append(f"{where}.value: expected a number, found {value!r}")
                    continue
                value = float(value)
            conditions.append(SegmentCondition(field, operator, value))
        rules.append(SegmentRule(item["segment"], tuple(conditions)))
    if problems:
        raise ValidationFailed(ERROR_RULES.format(problems="; ".join(problems)))
    return tuple(rules)


def _matches(frame: pd.DataFrame, condition: SegmentCondition) -> pd.Series:
    column = frame[condition.field]
    if condition.field in TEXT_SEGMENT_FIELDS:
        column = column.fillna("").astype(str)
    value = condition.value
    if condition.operator == "in":
        return column.astype(str).isin(list(value))  # type: ignore[arg-type]
    if condition.operator == "not_in":
        return ~column.astype(str).isin(list(value))  # type: ignore[arg-type]
    result = {
        "eq": lambda: column == value,
        "ne": lambda: column != value,
        "lt": lambda: column < value,
        "le": lambda: column <= value,
        "gt": lambda: column > value,
        "ge": lambda: column >= value,
    }[condition.operator]()
    return result.fillna(False).astype(bool)


def segment_customers(behaviour: pa.Table, rules: Sequence[SegmentRule], *, default: str = "") -> pa.Table:
    """customer_id, segment, rule (1-based index of the rule that matched, 0 = default), evidence."""
    frame = behaviour.to_pandas()
    segment = pd.Series(default, index=frame.index, dtype=object)
    rule_number = pd.Series(0, index=frame.index, dtype="int64")
    undecided = pd.Series(True, index=frame.index)
    for number, rule in enumerate(rules, start=1):
        hit = undecided.copy()
        for condition in rule.conditions:
            hit &= _matches(frame, condition)
        segment[hit] = rule.segment
        rule_number[hit] = number
        undecided &= ~hit
    return pa.table(
        {
            "customer_id": frame.customer_id.to_numpy(),
            "segment": segment.astype(str).tolist(),
            "rule": rule_number.to_numpy(),
            "evidence": frame.evidence.tolist() if "evidence" in frame else [""] * len(frame),
        }
    )

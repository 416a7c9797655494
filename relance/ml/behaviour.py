"""Behaviour change: a customer whose recent payments break from its own history (issue 16, item 5).

The rule: over the invoices **paid** by the as-of date (the KPI engine's own definition: settled
by its allocations up to the date, cash taking part, paid on the day of the last cash allocation —
``relance.engine.kpi.invoice_frame``), a customer's **days to pay** (paid − issue date) of the
invoices paid in the last ``recent_days`` are compared with those paid in the ``history_days``
before. The pattern **changed** when

* there are at least ``min_recent`` recent and ``min_history`` earlier paid invoices, and
* the recent mean is above the history's mean + ``sigmas`` standard deviations (sample), and at
  least ``min_shift_days`` above its mean (a perfectly regular payer paying one day later is no
  change).

``pay_history_expr`` is one Ibis expression (one row per customer: counts, sums and sums of
squares — no standard deviation in SQL, which SQLite lacks); ``behaviour_change`` turns a row
into the verdict and its sentence. No fact dated after the as-of date is read. Pure: no Django.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from relance.engine.credit.triggers import BEHAVIOUR_STATE_SCHEMA
from relance.engine.days import backend_name, day_number
from relance.engine.kpi import KpiParams, invoice_frame
from relance.engine.schema import LedgerTables


@dataclass(frozen=True)
class BehaviourRule:
    """The numbers of the rule (an entity may change them one day)."""

    recent_days: int = 90
    history_days: int = 730
    min_recent: int = 2
    min_history: int = 6
    sigmas: float = 2.0
    min_shift_days: float = 5.0


RULE = BehaviourRule()


@dataclass(frozen=True)
class BehaviourChange:
    """One customer's recent days to pay against its history, and whether the pattern changed."""

    customer_ref: str
    as_of: date
    recent_paid: int
    recent_days_to_pay: float | None  # mean; None without recent payments
    usual_paid: int
    usual_days_to_pay: float | None  # the history's mean
    usual_days_to_pay_sd: float | None  # its sample standard deviation
    changed: bool
    rule: BehaviourRule = RULE

    @property
    def text(self) -> str:
        """The verdict in words, with the figures it rests on."""
        r = self.rule
        if self.recent_days_to_pay is None or self.usual_days_to_pay is None:
            return "Too few paid invoices to compare recent payments with the customer's history."
        recent = f"pays in {self.recent_days_to_pay:.0f} days lately ({self.recent_paid} invoice(s) paid in the last {r.recent_days} days)"
        usual = f"{self.usual_days_to_pay:.0f} ± {self.usual_days_to_pay_sd or 0:.0f} days before ({self.usual_paid} invoices)"
        if self.changed:
            return f"Pay behaviour changed: {recent}, against {usual} — more than {r.sigmas:g} standard deviations slower."
        return f"Pays as usual: {recent}, against {usual}."

    def to_json(self) -> dict[str, Any]:
        return {
            "customer_ref": self.customer_ref,
            "as_of": self.as_of.isoformat(),
            "recent_paid": self.recent_paid,
            "recent_days_to_pay": self.recent_days_to_pay,
            "usual_paid": self.usual_paid,
            "usual_days_to_pay": self.usual_days_to_pay,
            "usual_days_to_pay_sd": self.usual_days_to_pay_sd,
            "changed": self.changed,
            "text": self.text,
        }


def pay_history_expr(
    tables: LedgerTables,
    as_of: date,
    *,
    entity_id: int | None = None,
    rule: BehaviourRule = RULE,
    dialect: str | None = None,
) -> ir.Table:
    """One row per customer (``customer_ref``) with paid invoices in the windows: ``recent_paid``,
    ``recent_sum``, ``usual_paid``, ``usual_sum``, ``usual_sum_sq`` (days to pay)."""
    params = KpiParams(as_of=as_of, entity_id=entity_id, group_by="customer")
    frame = invoice_frame(tables, params, dialect)
    paid = (
        (frame.allocated_at_end >= frame.amount_units)
        & (frame.cash_at_end > 0)
        & frame.last_cash_date.notnull()
    )
    recent_from = as_of - timedelta(days=rule.recent_days - 1)
    usual_from = recent_from - timedelta(days=rule.history_days)
    frame = frame.filter(paid, frame.last_cash_date >= usual_from)
    days = (day_number(frame.last_cash_date, dialect) - day_number(frame.issue_date, dialect)).cast("int64")
    recent = frame.last_cash_date >= recent_from
    return frame.group_by(customer_ref=frame.group_key).aggregate(
        recent_paid=ibis.ifelse(recent, 1, 0).sum().cast("int64"),
        recent_sum=ibis.ifelse(recent, days, 0).sum().cast("int64"),
        usual_paid=ibis.ifelse(recent, 0, 1).sum().cast("int64"),
        usual_sum=ibis.ifelse(recent, 0, days).sum().cast("int64"),
        usual_sum_sq=ibis.ifelse(recent, 0, days * days).sum().cast("int64"),
    )


def behaviour_change(row: Mapping[str, Any], as_of: date, rule: BehaviourRule = RULE) -> BehaviourChange:
    """The verdict for one row of ``pay_history_expr``."""
    recent_paid, usual_paid = int(row.get("recent_paid") or 0), int(row.get("usual_paid") or 0)
    recent = int(row.get("recent_sum") or 0) / recent_paid if recent_paid else None
    mean = sd = None
    if usual_paid:
        total, squares = int(row.get("usual_sum") or 0), int(row.get("usual_sum_sq") or 0)
        mean = total / usual_paid
        variance = (squares - total * total / usual_paid) / (usual_paid - 1) if usual_paid > 1 else 0.0
        sd = math.sqrt(max(variance, 0.0))
    changed = (
        recent is not None
        and mean is not None
        and sd is not None
        and recent_paid >= rule.min_recent
        and usual_paid >= rule.min_history
        and recent > mean + rule.sigmas * sd
        and recent - mean >= rule.min_shift_days
    )
    return BehaviourChange(
        customer_ref=str(row["customer_ref"]),
        as_of=as_of,
        recent_paid=recent_paid,
        recent_days_to_pay=None if recent is None else round(recent, 2),
        usual_paid=usual_paid,
        usual_days_to_pay=None if mean is None else round(mean, 2),
        usual_days_to_pay_sd=None if sd is None else round(sd, 2),
        changed=bool(changed),
        rule=rule,
    )


def behaviour_changes(
    tables: LedgerTables,
    as_of: date,
    *,
    backend: Any = None,
    entity_id: int | None = None,
    rule: BehaviourRule = RULE,
) -> dict[str, BehaviourChange]:
    """Every customer's verdict as of ``as_of`` (customers with paid invoices in the windows),
    by customer reference. ``tables`` bound to a backend, or unbound and run on ``backend``."""
    dialect = backend.name if backend is not None else backend_name(tables.invoices)
    expr = pay_history_expr(tables, as_of, entity_id=entity_id, rule=rule, dialect=dialect)
    runner = backend if backend is not None else expr.get_backend()
    rows = runner.to_pyarrow(expr).to_pylist()
    return {str(row["customer_ref"]): behaviour_change(row, as_of, rule) for row in rows}


def behaviour_state(
    tables: LedgerTables,
    as_of: date,
    previous: date | None,
    *,
    backend: Any = None,
    entity_id: int | None = None,
    rule: BehaviourRule = RULE,
) -> ir.Table:
    """Today's and the previous scoring day's verdicts as the credit engine's optional state
    columns (``customer_id`` + ``BEHAVIOUR_STATE_SCHEMA``): the input of the engine-only
    ``daily_credit(behaviour=…)``, as the app's review run builds them row by row
    (``relance.credit.services.reviews``). One customer row per customer with a verdict today."""
    now = behaviour_changes(tables, as_of, backend=backend, entity_id=entity_id, rule=rule)
    before = (
        behaviour_changes(tables, previous, backend=backend, entity_id=entity_id, rule=rule)
        if previous is not None
        else {}
    )
    runner = backend if backend is not None else tables.customers.get_backend()
    customers = runner.to_pyarrow(tables.customers.select("customer_id", "external_ref")).to_pylist()
    ids = {str(row["external_ref"]): int(row["customer_id"]) for row in customers}
    rows = []
    for ref, verdict in now.items():
        if ref not in ids:
            continue
        was = before.get(ref)
        rows.append(
            {
                "customer_id": ids[ref],
                "pay_behaviour_changed": verdict.changed,
                "previous_pay_behaviour_changed": bool(was and was.changed),
                "recent_days_to_pay": verdict.recent_days_to_pay,
                "usual_days_to_pay": verdict.usual_days_to_pay,
                "usual_days_to_pay_sd": verdict.usual_days_to_pay_sd,
                "recent_paid": verdict.recent_paid,
                "usual_paid": verdict.usual_paid,
            }
        )
    schema = ibis.schema({"customer_id": "int64", **BEHAVIOUR_STATE_SCHEMA})
    return ibis.memtable(pa.Table.from_pylist(rows, schema=schema.to_pyarrow()), schema=schema)

"""What every rule shares: the reason codes, the collector of suppressions, money and day numbers, fetching."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
from ibis.backends import BaseBackend

from relance.engine.dunning.contract import (
    SUPPRESSED_COLUMNS,
    empty,
)
from relance.engine.schema import MONEY_SCALE

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


def _units(amount: Decimal) -> int:
    return int((amount * MONEY_SCALE).to_integral_value())


def _money(units: int) -> Decimal:
    return Decimal(int(units)) / MONEY_SCALE


def _arrow(expr: ir.Table, backend: BaseBackend | None) -> pa.Table:
    return expr.to_pyarrow() if backend is None else backend.to_pyarrow(expr)


def _fetch(expr: ir.Table, backend: BaseBackend | None) -> pd.DataFrame:
    return _arrow(expr, backend).to_pandas(types_mapper=None)


def _ids(values: Any) -> ir.IntegerColumn:
    """Integer ids as a column to test ``isin`` against (a small in-memory table).

    Not a literal list: Ibis compiles a literal per value, which made the compile time grow with
    the data (thousands of promise or customer ids at 10M invoices); a table compiles to one name.
    """
    array = pa.array(np.asarray(list(values), dtype=np.int64), pa.int64())
    column: ir.IntegerColumn = ibis.memtable(pa.table({"id": array})).id
    return column


def _count(table: ir.Table, backend: BaseBackend | None) -> int:
    expr = table.count()
    return int(expr.execute() if backend is None else backend.execute(expr))


def _active(table: ir.Table, start: str, end: str, as_of: date) -> ir.Table:
    return table.filter(table[start] <= as_of, table[end].isnull() | (table[end] >= as_of))


EPOCH = date(1970, 1, 1)


def _epoch_day(value: date) -> int:
    return (value - EPOCH).days


def _date(day: float) -> date:
    return EPOCH + timedelta(days=int(day))


def _decimals(units: Any) -> pa.Array:
    """Exact ``decimal(18, 4)`` values from int64 counts of 1/MONEY_SCALE."""
    array = pa.array(np.asarray(units, dtype=np.int64), pa.int64()).cast(pa.decimal128(19, 0))
    return array.view(pa.decimal128(19, 4)).cast(pa.decimal128(18, 4))


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

"""Dates as day numbers in SQL, the same on every backend: one home for the engine's date
arithmetic (days past due, days late, days beyond terms).

SQLite has no date type: Relance stores dates as ISO text there, and Ibis's portable date delta
is a slow Python UDF, so SQLite uses its native ``julianday``; the other backends count days
since the epoch. Both give the same differences.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir


@ibis.udf.scalar.builtin(name="julianday")  # type: ignore[untyped-decorator]  # Ibis ships no types
def _julianday(value: dt.Date) -> dt.Float64:
    """SQLite's native day number."""


def backend_name(table: ir.Table) -> str | None:
    """The name of the backend ``table`` is bound to (``sqlite``, ``duckdb``…); None when unbound
    (an expression only compiled, never executed here)."""
    try:
        name: str = table.get_backend().name
        return name
    except Exception:
        return None


def day_number(column: ir.Value, backend: str | None) -> ir.IntegerValue:
    """``column`` (a date) as a whole day number; subtract two to get days between."""
    if backend == "sqlite":
        return _julianday(column).cast("int64")
    return column.epoch_days()

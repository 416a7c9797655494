"""Dates as day numbers in SQL, the same on every backend: one home for the engine's date
arithmetic (days past due, days late, days beyond terms).

SQLite has no date type: Relance stores dates as ISO text there, and Ibis's portable date delta
is a slow Python UDF, so SQLite uses its native ``julianday``; the other backends count days
since the epoch. Both give the same differences.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir


@ibis.udf.scalar.builtin(name="julianday")  # type: ignore[untyped-decorator]  # Ibis ships no types
def _julianday(value: dt.Date) -> dt.Float64:
    """SQLite's native day number."""


# The backend unbound tables run on (the app database's binding: its tables are unbound
# expressions executed by ``backend.to_pyarrow``), for the queries that must know it while they
# are built: SQLite's date arithmetic, and the credit queries read in steps there (``flat``).
_UNBOUND_BACKEND: ContextVar[Any] = ContextVar("unbound_backend", default=None)


@contextmanager
def unbound_tables_run_on(backend: Any) -> Iterator[None]:
    """Within the block, unbound tables count as bound to ``backend``."""
    token = _UNBOUND_BACKEND.set(backend)
    try:
        yield
    finally:
        _UNBOUND_BACKEND.reset(token)


def backend_of(table: ir.Table) -> Any:
    """The backend ``table`` is bound to, else the one of ``unbound_tables_run_on``, else None
    (an expression only compiled, never executed here)."""
    try:
        return table.get_backend()
    except Exception:
        return _UNBOUND_BACKEND.get()


def backend_name(table: ir.Table) -> str | None:
    """The name of ``backend_of(table)`` (``sqlite``, ``duckdb``…), None when there is none."""
    backend = backend_of(table)
    return None if backend is None else str(backend.name)


def day_number(column: ir.Value, backend: str | None) -> ir.IntegerValue:
    """``column`` (a date) as a whole day number; subtract two to get days between."""
    if backend == "sqlite":
        return _julianday(column).cast("int64")
    return column.epoch_days()

"""Querysets compiled once and run again with other values: fixed SQL for the hot read paths.

Django builds and compiles a queryset on every call. For a lookup with joins and sub-selects
that is several milliseconds of CPU — more than the database takes to answer it (the ERP's order
check: ``relance.credit.selectors.check``). ``FixedQuery`` builds the queryset once per process
and database vendor with **sentinel** values (values no row has: negative ids, a day in 1901, a
reference with a control character), compiles it, and records where each sentinel lands among
the parameters; afterwards a call only swaps the parameters. The SQL stays the ORM's, so the rules
a queryset encodes (the ledger's open amount…) keep their one home.

The SQL's shape must not depend on the values: a list of ids compiles to ``IN (%s, %s, …)``, so a
caller keeps one ``FixedQuery`` per list length (and per any value that changes the SQL).
``ENABLED = False`` compiles every call (what the benchmark compares with).

On PostgreSQL the fixed SQL also runs as a **prepared statement**: the same text every call, so the
server plans it once per connection (psycopg prepares a statement from its fifth run on a
connection) instead of on every request — planning the order check's customer read took longer
than running it (1.4 → 0.25 ms). Only these queries bind on the server; the rest of Django keeps
client-side binding and never prepares. On when the database's ``OPTIONS`` hold a
``prepare_threshold`` (``config.env.database_config`` sets 5 unless
``RELANCE_PREPARED_STATEMENTS=false``, for a pooler that cannot keep prepared statements).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable

#: False: build and compile the queryset on every call, as Django does (for comparisons).
ENABLED = True

#: Sentinels no stored row has (ids are positive; no day of the ledgers is in 1901; imports refuse
#: control characters in references).
SENTINEL_ID = -7_391_000_001
#: For 32-bit id columns (Django's auth tables: users, groups): Django treats a value out of a
#: column's range as "no row" and refuses to compile it.
SENTINEL_INT32_ID = -2_000_000_001
SENTINEL_DAY = date(1901, 2, 3)
SENTINEL_TEXT = "\x01relance-sentinel"


def sentinel_ids(count: int, start: int = 0) -> list[int]:
    """``count`` distinct sentinel ids (for an ``IN`` list)."""
    return [SENTINEL_ID - 1 - start - number for number in range(count)]


def _other(value: Any) -> Any:
    """Another sentinel of the same kind (``FixedQuery._check``)."""
    if isinstance(value, list | tuple):
        return [_other(one) for one in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value - 1_000_000
    if isinstance(value, date):
        return value + timedelta(days=1)
    if isinstance(value, str):
        return value + "~"
    return value


def _prepared(connection: BaseDatabaseWrapper) -> bool:
    return (
        connection.vendor == "postgresql"
        and connection.settings_dict.get("OPTIONS", {}).get("prepare_threshold") is not None
    )


def fixed_cursor(using: str = "default") -> CursorWrapper:
    """A cursor for a statement composed of fixed SQL (``FixedQuery.sql`` parts joined by a
    constant text): prepared on PostgreSQL like ``FixedQuery.rows``."""
    return _cursor(connections[using])


def _cursor(connection: BaseDatabaseWrapper) -> CursorWrapper:
    """A cursor of ``connection`` for fixed SQL: on PostgreSQL one binding its parameters on the
    server (Django's own ``ServerBindingCursor``, with the connection's time zone as
    ``create_cursor`` sets it), so psycopg may prepare the statement; Django's otherwise. Wrapped as
    Django wraps its cursors (query logging, ``execute_wrapper``)."""
    if not _prepared(connection):
        return connection.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor
    from django.db.backends.postgresql.psycopg_any import register_tzloader
    from psycopg import postgres
    from psycopg.pq import Format

    connection.ensure_connection()
    raw: Any = ServerBindingCursor(connection.connection)  # type: ignore[call-arg]  # psycopg's Cursor(connection)
    timezone = connection.timezone  # type: ignore[attr-defined]
    loader = connection.connection.adapters.get_loader(postgres.types["timestamptz"].oid, Format.TEXT)
    if getattr(loader, "timezone", None) != timezone:
        register_tzloader(timezone, raw)
    connection.validate_thread_sharing()
    if connection.queries_logged:
        return connection.make_debug_cursor(raw)
    return connection.make_cursor(raw)


@dataclass(frozen=True)
class _Slot:
    index: int
    name: str
    item: int | None  # the position in a list value
    as_text: bool  # the vendor took the sentinel as text (SQLite's dates)


class _Compiled:
    def __init__(self, queryset: QuerySet[Any], using: str, sentinels: Mapping[str, Any]) -> None:
        self.queryset = queryset
        self.compiler = queryset.query.get_compiler(using=using)
        self.sql, params = self.compiler.as_sql()
        self.params = list(params)
        wanted: dict[Any, tuple[str, int | None, bool]] = {}
        for name, value in sentinels.items():
            values = list(value) if isinstance(value, list | tuple) else [value]
            for number, one in enumerate(values):
                item = number if isinstance(value, list | tuple) else None
                if (type(one), one) in wanted:
                    raise ValueError(f"two values share the sentinel {one!r}: give {name} its own")
                wanted[(type(one), one)] = (name, item, False)
                if isinstance(one, date):
                    wanted[(str, one.isoformat())] = (name, item, True)
        self.slots: list[_Slot] = []
        seen: set[tuple[str, int | None]] = set()
        for index, param in enumerate(self.params):
            try:
                found = wanted.get((type(param), param))
            except TypeError:  # an unhashable parameter is never a sentinel
                found = None
            if found is not None:
                self.slots.append(_Slot(index, found[0], found[1], found[2]))
                seen.add((found[0], found[1]))
        missing = {(name, item) for name, item, _ in wanted.values()} - seen
        if missing:
            raise ValueError(f"sentinels not found among the compiled parameters: {sorted(missing, key=str)}")

    def bind(self, values: Mapping[str, Any]) -> list[Any]:
        params = list(self.params)
        for slot in self.slots:
            value = values[slot.name]
            if slot.item is not None:
                value = value[slot.item]
            params[slot.index] = value.isoformat() if slot.as_text else value
        return params


class FixedQuery:
    """A queryset built by ``build(**values)``, compiled once per database with ``sentinels`` (the
    same keyword arguments, with sentinel values), then run with the real values."""

    def __init__(self, build: Callable[..., QuerySet[Any]], **sentinels: Any) -> None:
        self._build = build
        self._sentinels = sentinels
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def _for(self, using: str) -> _Compiled:
        compiled = self._compiled.get(using)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(using)
                if compiled is None:
                    compiled = _Compiled(self._build(**self._sentinels), using, self._sentinels)
                    self._check(compiled, using)
                    self._compiled[using] = compiled
        return compiled

    def _check(self, compiled: _Compiled, using: str) -> None:
        """Compiled with other sentinels, the SQL must be the same and the parameters those
        ``bind`` gives: no value of the call was baked into the SQL or derived from (a day + 1…)."""
        others = {name: _other(value) for name, value in self._sentinels.items()}
        sql, params = self._build(**others).query.get_compiler(using=using).as_sql()
        if sql != compiled.sql or list(params) != compiled.bind(others):
            raise ValueError("this queryset's SQL depends on its values: it cannot be fixed")

    def sql(self, using: str = "default", **values: Any) -> tuple[str, list[Any]]:
        """The SQL and its parameters for ``values`` (to run or to nest in a statement)."""
        if not ENABLED:
            sql, params = self._build(**values).query.sql_with_params()
            return sql, list(params)
        compiled = self._for(using)
        return compiled.sql, compiled.bind(values)

    def rows(self, using: str = "default", **values: Any) -> list[tuple[Any, ...]]:
        """The rows as tuples, for a ``values_list`` queryset of plain columns (text, numbers:
        no field converters run)."""
        if not ENABLED:
            return [tuple(row) if isinstance(row, tuple) else (row,) for row in self._build(**values)]
        sql, params = self.sql(using, **values)
        with _cursor(connections[using]) as cursor:
            cursor.execute(sql, params)
            return [tuple(row) for row in cursor.fetchall()]

    def objects(self, using: str = "default", **values: Any) -> list[Model]:
        """The model instances (with what the queryset selects related and annotates)."""
        if not ENABLED:
            return list(self._build(**values))
        compiled = self._for(using)
        sql, params = compiled.sql, compiled.bind(values)
        compiler = copy.copy(compiled.compiler)
        connection = connections[using]
        compiler.connection = connection  # this thread's (the compiling one's may differ)
        compiler.as_sql = lambda *args, **kwargs: (sql, params)  # type: ignore[method-assign]
        if _prepared(connection):
            with _cursor(connection) as cursor:
                cursor.execute(sql, params)
                fetched = cursor.fetchall()
            # ModelIterable asks for the rows in chunks; one chunk holds them all.
            compiler.execute_sql = lambda *args, **kwargs: [fetched]  # type: ignore[method-assign]
        query = copy.copy(compiled.queryset.query)
        query.get_compiler = lambda *args, **kwargs: compiler  # type: ignore[method-assign]
        queryset: QuerySet[Any] = QuerySet(model=compiled.queryset.model, query=query, using=using)
        return list(ModelIterable(queryset))

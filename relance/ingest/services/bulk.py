"""Bulk SQL of the import: COPY and executemany inserts, updates, server-side cursors, fresh statistics."""

from __future__ import annotations

import decimal
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import astuple, replace
from datetime import datetime
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import Model

from relance.ingest.records import (
    Record,
)

STATISTICS_EVERY_BATCHES = 20  # re-ANALYZE tables that grow during a long import (PostgreSQL)

FLOAT_DECIMALS = decimal.Context(prec=15)  # as django.db.backends.sqlite3 reads DecimalField

# Page cache of a SQLite import, in KiB (a negative cache_size). The default 2 MiB cannot hold the
# pages of the invoice indexes a large import touches at random (by customer): every batch then
# writes and re-reads the same pages through the WAL. 128 MiB holds most of them for millions of rows;
# SQLite only takes what it uses.
SQLITE_IMPORT_CACHE_KIB = 128 * 1024


@contextmanager
def bulk_session() -> Iterator[None]:
    """Connection settings for one large import, restored afterwards (the connection is reused).

    SQLite: a larger page cache for the main and the temporary schema (the keys seen so far). Only
    the cache changes: journal and synchronous settings stay as configured, so an import is as
    durable as any other write, and a rollback still undoes all of it.
    """
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA main.cache_size")
        main = cursor.fetchone()[0]
        cursor.execute("PRAGMA temp.cache_size")
        temp = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA main.cache_size = {-SQLITE_IMPORT_CACHE_KIB}")
        cursor.execute(f"PRAGMA temp.cache_size = {-SQLITE_IMPORT_CACHE_KIB // 4}")
    try:
        yield
    finally:
        if not connection.needs_rollback:  # a failed enclosing transaction takes no query
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA main.cache_size = {int(main)}")
                cursor.execute(f"PRAGMA temp.cache_size = {int(temp)}")


def server_cursor() -> Any:
    """A psycopg cursor with server-side binding: Django's client-side binding quotes every
    element of a large array parameter in Python, which dominates the cost of a batch."""
    import psycopg

    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: Any) -> str:
    """One value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES) if ("\\" in value or not value.isprintable()) else value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)  # int, Decimal, date: their str() is what COPY reads


def copy_rows(
    cursor: Any, table: str, columns: str, rows: list[tuple[Any, ...]], suffix: tuple[Any, ...] = ()
) -> None:
    """COPY ``rows`` in one write: formatting the text here is several times faster than
    psycopg's per-value ``write_row``. ``suffix``: values that end every row."""
    end = "".join("\t" + _copy_text(value) for value in suffix) + "\n"
    text = "".join("\t".join([_copy_text(value) for value in row]) + end for row in rows)
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        copy.write(text.encode("utf-8"))


def fresh_statistics(*models: type[Model]) -> None:
    """Refresh PostgreSQL's planner statistics of tables an import looks rows up in.

    Right after a bulk load the statistics still describe an empty table, and the planner then
    answers ``external_ref = ANY(…)`` by filtering every row of the entity, once per batch: a
    re-import becomes quadratic. Tables that grow during an import (payments, allocations) are
    analysed again every few batches; ANALYZE counts the transaction's own new rows. ANALYZE samples a fixed number of rows, so it costs well under
    a second even for millions of rows. Skipped (harmlessly) where not allowed.
    """
    if connection.vendor != "postgresql":
        return
    for model in models:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
        except DatabaseError:
            pass


def record_digest(record: Record) -> str:
    values = astuple(replace(record, line=None, source=""))
    return hashlib.blake2b(repr(values).encode(), digest_size=12).hexdigest()


def insert_rows(
    model: type[Model],
    columns: list[str],
    rows: list[tuple[Any, ...]],
    constants: dict[str, Any] | None = None,
) -> None:
    """Insert many rows fast: PostgreSQL COPY, otherwise one executemany. ``constants`` are
    columns with the same value on every row, written once into the statement rather than bound
    on each row."""
    insert_into(model._meta.db_table, columns, rows, constants)


def insert_into(
    table_name: str,
    columns: list[str],
    rows: list[tuple[Any, ...]],
    constants: dict[str, Any] | None = None,
) -> None:
    if not rows:
        return
    constants = constants or {}
    quote = connection.ops.quote_name
    table = quote(table_name)
    names = ", ".join(quote(column) for column in [*columns, *constants])
    if connection.vendor == "postgresql":
        with server_cursor() as cursor:
            copy_rows(cursor, table, names, rows, suffix=tuple(constants.values()))
        return
    marks = ", ".join(["%s"] * len(columns) + [_sql_literal(value) for value in constants.values()])
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)  # noqa: S608


def copy_text_into(
    model: type[Model], columns: list[str], lines: list[str], constants: dict[str, Any]
) -> None:
    """PostgreSQL: COPY ``lines`` already in COPY's text format (tab-separated, escaped), each
    followed by ``constants``."""
    if not lines:
        return
    quote = connection.ops.quote_name
    names = ", ".join(quote(column) for column in [*columns, *constants])
    end = "".join("\t" + _copy_text(value) for value in constants.values()) + "\n"
    with (
        server_cursor() as cursor,
        cursor.copy(f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN") as copy,
    ):
        copy.write((end.join(lines) + end).encode("utf-8"))


def _sql_literal(value: int | str) -> str:
    if isinstance(value, int):
        return str(int(value))
    return "'" + str(value).replace("'", "''").replace("%", "%%") + "'"


def insert_returning_ids(
    model: type[Model], columns: list[str], rows: list[tuple[Any, ...]]
) -> dict[str, int]:
    """Insert rows (one of the columns is ``external_ref``) and return their ids by external ref,
    in one statement: no look-up afterwards on a table that grows during the import."""
    if not rows:
        return {}
    quote = connection.ops.quote_name
    names = ", ".join(quote(column) for column in columns)
    if connection.vendor == "postgresql":
        # One array per column: a short statement, whatever the number of rows.
        types = [model._meta.get_field(column).db_type(connection) for column in columns]
        arrays = ", ".join(f"%s::{db_type}[]" for db_type in types)
        with server_cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {quote(model._meta.db_table)} ({names}) SELECT * FROM unnest({arrays})"  # noqa: S608
                " RETURNING external_ref, id",
                [list(column) for column in zip(*rows, strict=True)],
            )
            return dict(cursor.fetchall())
    values = ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(model._meta.db_table)} ({names}) VALUES {values}"  # noqa: S608
            " RETURNING external_ref, id",
            [value for row in rows for value in row],
        )
        return dict(cursor.fetchall())


def update_rows(model: type[Model], columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """``rows`` are (values…, id) tuples."""
    if not rows:
        return
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(column)} = %s" for column in columns)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE id = %s",  # noqa: S608
            rows,
        )

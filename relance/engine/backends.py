"""Bind the engine's tables to a backend, from a URL.

* ``sqlite:///path/to.db`` and ``duckdb:///path/to.duckdb`` (or ``duckdb://:memory:``): a database
  holding tables named like the engine schemas (invoices, credit_notes, …);
* ``postgres://user:pass@host:port/db`` (also ``postgresql://``): the same, on PostgreSQL;
* ``parquet:///dir``: DuckDB reading ``dir/{invoices,credit_notes,payments,allocations,customers}``
  where each is ``NAME.parquet`` or a directory ``NAME/`` of Parquet files;
* ``spark://MASTER/dir``: the same files as Spark temporary views, on a SparkSession of
  ``MASTER`` — ``local`` (every core of this machine), ``local[N]``, ``host:7077`` (a standalone
  cluster: the directory must be visible to every executor), ``yarn``; ``sc://host:15002/dir``
  for Spark Connect (see ``relance.engine.spark``). A Spark session already running in the
  process is reused as it is.

The app database (Django's tables, other names and storage) is bound by
``relance.ledger.binding`` instead. Every binding hands the engine tables conformed to the
engine schemas: the columns it expects, in its order and types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc
from ibis.backends import BaseBackend

from relance.core.errors import ValidationFailed
from relance.engine.schema import SCHEMAS, LedgerTables

SCHEMES = ("sqlite", "duckdb", "postgres", "postgresql", "parquet", "spark", "sc")
ERROR_SCHEME = (
    "backend URL {url!r}: expected sqlite:///PATH, duckdb:///PATH, postgres://…, parquet:///DIR "
    "or spark://MASTER/DIR"
)
ERROR_SPARK_URL = (
    "backend URL {url!r}: expected spark://MASTER/DIR (MASTER: local, local[N], host:port, yarn)"
)
ERROR_PARQUET_MISSING = (
    "parquet directory {directory}: no {name}.parquet file or {name}/ directory of Parquet files"
)
ERROR_TABLE_MISSING = "backend {url}: no table {name!r} (expected the engine tables: {names})"


@dataclass(frozen=True)
class BoundLedger:
    """A backend connection and the ledger tables on it."""

    backend: BaseBackend
    tables: LedgerTables


def conform(table: ir.Table, name: str) -> ir.Table:
    """``table`` with exactly the engine schema's columns, cast where the storage type differs."""
    schema = SCHEMAS[name]
    columns = []
    for column, dtype in schema.items():
        if column not in table.columns:
            raise ValidationFailed(f"table {name!r} has no column {column!r}")
        value = table[column]
        columns.append((value if value.type() == dtype else value.cast(dtype)).name(column))
    return table.select(*columns)


def _parquet_source(directory: Path, name: str) -> str:
    single = directory / f"{name}.parquet"
    if single.is_file():
        return str(single)
    folder = directory / name
    if folder.is_dir():
        return str(folder / "**" / "*.parquet")
    raise ValidationFailed(ERROR_PARQUET_MISSING.format(directory=directory, name=name))


def is_spark(backend: BaseBackend) -> bool:
    name: str = backend.name
    return name == "pyspark"


def spark_url(url: str) -> tuple[str, str]:
    """``spark://MASTER/DIR`` (or ``sc://HOST:PORT/DIR``) as Spark's master URL and the directory.

    Parsed by hand: ``local[2]`` is no valid URL host for ``urllib``.
    """
    scheme, _, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if not authority or not slash or not path:
        raise ValidationFailed(ERROR_SPARK_URL.format(url=url))
    directory = path if "://" in path else "/" + path
    if scheme.lower() == "sc":
        return f"sc://{authority}", directory
    if authority == "local":
        return "local[*]", directory
    if authority.startswith("local[") or authority in ("yarn",):
        return authority, directory
    return f"spark://{authority}", directory


def _spark_tables(url: str) -> tuple[BaseBackend, dict[str, ir.Table]]:
    from relance.engine import spark

    master, directory = spark_url(url)
    backend = spark.spark_backend(spark.SparkOptions(master=master))
    raw = {}
    for name in SCHEMAS:
        single, folder = Path(directory) / f"{name}.parquet", Path(directory) / name
        if "://" in directory:  # a remote file system: Spark finds out
            source = f"{directory.rstrip('/')}/{name}.parquet"
        elif single.is_file():
            source = str(single)
        elif folder.is_dir():
            source = str(folder)
        else:
            raise ValidationFailed(ERROR_PARQUET_MISSING.format(directory=directory, name=name))
        raw[name] = spark.read_parquet(backend, source, name)
    return backend, raw


def _path(url: str) -> str:
    parts = urlsplit(url)
    path = unquote(parts.netloc + parts.path) if parts.netloc == ":memory:" else unquote(parts.path)
    return path or ":memory:"


def quiet_duckdb(backend: BaseBackend) -> BaseBackend:
    """DuckDB draws a progress bar on *stdout* for a query longer than 2 s (it broke the JSON of
    ``relance kpi --json``): off."""
    backend.raw_sql("SET enable_progress_bar = false")
    return backend


def connect(url: str) -> BoundLedger:
    """Connect to ``url`` and bind the five ledger tables (see the module docstring)."""
    scheme = url.partition("://")[0].lower()
    if scheme not in SCHEMES:
        raise ValidationFailed(ERROR_SCHEME.format(url=url))
    backend: BaseBackend
    if scheme in ("spark", "sc"):
        backend, raw = _spark_tables(url)
    elif scheme == "parquet":
        directory = Path(_path(url))
        backend = quiet_duckdb(ibis.duckdb.connect())
        raw = {
            name: backend.read_parquet(_parquet_source(directory, name), table_name=name) for name in SCHEMAS
        }
    else:
        if scheme == "sqlite":
            backend = ibis.sqlite.connect(_path(url))
        elif scheme == "duckdb":
            backend = quiet_duckdb(ibis.duckdb.connect(_path(url)))
        else:
            backend = ibis.connect(url.replace("postgresql://", "postgres://", 1))
        raw = {}
        for name in SCHEMAS:
            try:
                raw[name] = backend.table(name)
            except Exception as exc:  # each backend raises its own "no such table"
                message = ERROR_TABLE_MISSING.format(url=url, name=name, names=", ".join(SCHEMAS))
                raise ValidationFailed(message) from exc
    return BoundLedger(backend, LedgerTables(**{name: conform(raw[name], name) for name in SCHEMAS}))


def engine_arrow_table(name: str, data: Any) -> pa.Table:
    schema = SCHEMAS[name]
    if isinstance(data, pa.Table):
        return data.select(schema.names).cast(schema.to_pyarrow())
    records = [{column: row.get(column) for column in schema.names} for row in data]
    return pa.Table.from_pylist(records, schema=schema.to_pyarrow())


def _sqlite_insert(backend: BaseBackend, name: str, arrow: pa.Table, batch_rows: int = 100_000) -> None:
    """Insert as Django stores rows in SQLite: dates as ISO text, decimals as text (NUMERIC affinity)."""
    columns = ", ".join(f'"{column}"' for column in arrow.column_names)
    marks = ", ".join("?" for _ in arrow.column_names)
    sql = f'INSERT INTO "{name}" ({columns}) VALUES ({marks})'  # noqa: S608 - names are our schema's
    con = backend.con
    for batch in arrow.to_batches(max_chunksize=batch_rows):
        converted = []
        for index, field in enumerate(batch.schema):
            values = batch.column(index)
            if pa.types.is_date(field.type) or pa.types.is_decimal(field.type):
                values = pc.cast(values, pa.string())
            converted.append(values.to_pylist())
        con.executemany(sql, zip(*converted, strict=True))
    con.commit()


def create_ledger_tables(
    backend: BaseBackend, rows: Mapping[str, Any], *, overwrite: bool = True
) -> LedgerTables:
    """Create the engine tables on ``backend`` from the engine schemas and insert ``rows``.

    For tests, demos and benchmarks: ``rows`` maps a table name to a list of dicts or a pyarrow
    Table (missing tables stay empty). Returns the bound tables.
    """
    tables = {}
    for name, schema in SCHEMAS.items():
        arrow = engine_arrow_table(name, rows.get(name, ()))
        if is_spark(backend):  # temporary views: nothing written to a warehouse
            from relance.engine.spark import register_arrow

            tables[name] = conform(register_arrow(backend, name, arrow), name)
            continue
        if overwrite:
            # Ibis's own DROP is mis-rendered by some sqlglot versions: plain SQL is portable here.
            backend.raw_sql(f'DROP TABLE IF EXISTS "{name}"')
        table = backend.create_table(name, schema=schema)
        if arrow.num_rows:
            if backend.name == "sqlite":
                _sqlite_insert(backend, name, arrow)
            else:
                backend.insert(name, arrow)
        tables[name] = conform(table, name)
    return LedgerTables(**tables)

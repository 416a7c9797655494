"""Create the dunning engine's tables on a backend from rows (tests, demos, benchmarks, files)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
from ibis.backends import BaseBackend

from relance.core.errors import ValidationFailed
from relance.engine.backends import _sqlite_insert, create_ledger_tables, is_spark, quiet_duckdb
from relance.engine.dunning.contract import (
    ALL_SCHEMAS,
    CONTRACT_SCHEMAS,
    CREDIT_SCHEMAS,
    DUNNING_SCHEMAS,
    OPTIONAL_COLUMNS,
    PREDICTION_SCHEMAS,
    DunningTables,
    conform_dunning,
)

ERROR_PARQUET_MISSING = "parquet directory {directory}: no {name}.parquet file or {name}/ directory"


def dunning_arrow_table(name: str, data: Any) -> pa.Table:
    schema = CONTRACT_SCHEMAS[name]
    if isinstance(data, pa.Table):
        for column in OPTIONAL_COLUMNS.get(name, ()):
            if column not in data.column_names:
                data = data.append_column(column, pa.nulls(data.num_rows, schema[column].to_pyarrow()))
        return data.select(schema.names).cast(schema.to_pyarrow())
    records = [{column: row.get(column) for column in schema.names} for row in data]
    return pa.Table.from_pylist(records, schema=schema.to_pyarrow())


def create_dunning_tables(backend: BaseBackend, rows: Mapping[str, Any]) -> DunningTables:
    """Create the contract's tables on ``backend`` (replacing any of the same name) with ``rows``.

    ``rows`` maps a table name to a list of dicts or a pyarrow Table; missing ledger and dunning
    tables stay empty, a missing credit or prediction table (``CREDIT_SCHEMAS``,
    ``PREDICTION_SCHEMAS``) is None (none of them).
    """
    ledger = create_ledger_tables(backend, rows)
    tables: dict[str, Any] = {
        name: getattr(ledger, name)
        for name in ("invoices", "credit_notes", "payments", "allocations", "customers")
    }
    credit = {
        name: schema for name, schema in {**CREDIT_SCHEMAS, **PREDICTION_SCHEMAS}.items() if name in rows
    }
    for name, schema in {**DUNNING_SCHEMAS, **credit}.items():
        arrow = dunning_arrow_table(name, rows.get(name, ()))
        if is_spark(backend):  # temporary views: nothing written to a warehouse
            from relance.engine.spark import register_arrow

            tables[name] = conform_dunning(register_arrow(backend, name, arrow), name)
            continue
        backend.raw_sql(f'DROP TABLE IF EXISTS "{name}"')
        table = backend.create_table(name, schema=schema)
        if arrow.num_rows:
            if backend.name == "sqlite":
                _sqlite_insert(backend, name, arrow)
            else:
                backend.insert(name, arrow)
        tables[name] = conform_dunning(table, name)
    return DunningTables(**tables)


def _empty_table(con: BaseBackend, name: str) -> Any:
    if is_spark(con):
        from relance.engine.spark import register_arrow

        return register_arrow(con, name, dunning_arrow_table(name, ()))
    return con.create_table(name, schema=ALL_SCHEMAS[name], temp=True)


def _read_parquet(con: BaseBackend, source: str, name: str) -> Any:
    if is_spark(con):
        from relance.engine.spark import read_parquet

        return read_parquet(con, source, name)
    return con.read_parquet(source, table_name=name)


def unordered(backend: BaseBackend) -> BaseBackend:
    """DuckDB need not keep the rows of a result in the order of its inputs: the ledger pass into
    the temporary table then runs without the ordered collection (about a tenth of its CPU, see
    docs/benchmarks.md). The candidates are fetched sorted (``decide._candidates``), so the
    decisions do not depend on the order the rows come in."""
    backend.raw_sql("SET preserve_insertion_order = false")
    return backend


def read_parquet_tables(
    directory: Path, backend: BaseBackend | None = None
) -> tuple[BaseBackend, DunningTables]:
    """``backend`` (DuckDB unless given; Spark too) over ``directory``: each table ``NAME.parquet``
    or ``NAME/*.parquet``.

    The ledger tables must exist; a missing dunning table is taken as empty, a missing credit
    table (``CREDIT_SCHEMAS``: orders, exchange rates, bureau reports, returned payments) or
    prediction table (``PREDICTION_SCHEMAS``: no ``p_late`` condition holds) as none.
    """
    con = backend or unordered(quiet_duckdb(ibis.duckdb.connect()))
    tables = {}
    for name in CONTRACT_SCHEMAS:
        single, folder = directory / f"{name}.parquet", directory / name
        if single.is_file():
            source = str(single)
        elif folder.is_dir():  # Spark reads a directory (and its partitions) by itself
            source = str(folder) if is_spark(con) else str(folder / "*.parquet")
        elif name in DUNNING_SCHEMAS:
            tables[name] = conform_dunning(_empty_table(con, name), name)
            continue
        elif name in CREDIT_SCHEMAS or name in PREDICTION_SCHEMAS:
            continue
        else:
            raise ValidationFailed(ERROR_PARQUET_MISSING.format(directory=directory, name=name))
        tables[name] = conform_dunning(_read_parquet(con, source, name), name)
    return con, DunningTables(**tables)

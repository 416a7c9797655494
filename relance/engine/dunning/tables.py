"""Create the dunning engine's tables on a backend from rows (tests, demos, benchmarks, files)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
from ibis.backends import BaseBackend

from relance.core.errors import ValidationFailed
from relance.engine.backends import _sqlite_insert, create_ledger_tables
from relance.engine.dunning.contract import ALL_SCHEMAS, DUNNING_SCHEMAS, DunningTables, conform_dunning

ERROR_PARQUET_MISSING = "parquet directory {directory}: no {name}.parquet file or {name}/ directory"


def dunning_arrow_table(name: str, data: Any) -> pa.Table:
    schema = ALL_SCHEMAS[name]
    if isinstance(data, pa.Table):
        return data.select(schema.names).cast(schema.to_pyarrow())
    records = [{column: row.get(column) for column in schema.names} for row in data]
    return pa.Table.from_pylist(records, schema=schema.to_pyarrow())


def create_dunning_tables(backend: BaseBackend, rows: Mapping[str, Any]) -> DunningTables:
    """Create all sixteen tables on ``backend`` (replacing any of the same name) with ``rows``.

    ``rows`` maps a table name to a list of dicts or a pyarrow Table; missing tables stay empty.
    """
    ledger = create_ledger_tables(backend, rows)
    tables: dict[str, Any] = {
        name: getattr(ledger, name)
        for name in ("invoices", "credit_notes", "payments", "allocations", "customers")
    }
    for name, schema in DUNNING_SCHEMAS.items():
        arrow = dunning_arrow_table(name, rows.get(name, ()))
        backend.raw_sql(f'DROP TABLE IF EXISTS "{name}"')  # type: ignore[attr-defined]
        table = backend.create_table(name, schema=schema)  # type: ignore[attr-defined]
        if arrow.num_rows:
            if backend.name == "sqlite":
                _sqlite_insert(backend, name, arrow)
            else:
                backend.insert(name, arrow)  # type: ignore[attr-defined]
        tables[name] = conform_dunning(table, name)
    return DunningTables(**tables)


def read_parquet_tables(
    directory: Path, backend: BaseBackend | None = None
) -> tuple[BaseBackend, DunningTables]:
    """DuckDB over ``directory``: each table ``NAME.parquet`` or ``NAME/*.parquet``.

    The ledger tables must exist; a missing dunning table is taken as empty.
    """
    con = backend or ibis.duckdb.connect()
    tables = {}
    for name, schema in ALL_SCHEMAS.items():
        single, folder = directory / f"{name}.parquet", directory / name
        if single.is_file():
            source = str(single)
        elif folder.is_dir():
            source = str(folder / "*.parquet")
        elif name in DUNNING_SCHEMAS:
            tables[name] = conform_dunning(con.create_table(name, schema=schema, temp=True), name)  # type: ignore[attr-defined]
            continue
        else:
            raise ValidationFailed(ERROR_PARQUET_MISSING.format(directory=directory, name=name))
        tables[name] = conform_dunning(con.read_parquet(source, table_name=name), name)  # type: ignore[attr-defined]
    return con, DunningTables(**tables)

"""Decide on files alone (a ledger in a data lake): Parquet in, decisions out.

``decide_files(source, as_of=…, out=…)`` reads ``source/NAME.parquet`` (or ``NAME/*.parquet``)
for every contract table with DuckDB, or with Spark (``backend="spark"``, on ``spark_master``:
``local[*]`` unless given, see ``relance.engine.spark``) — the five ledger tables are required,
a missing dunning table is empty — decides with the given policies (the shipped defaults otherwise) and writes
the decisions to ``out``: Parquet when it ends in ``.parquet`` (list and record columns kept
typed), JSON lines otherwise (JSON lists and objects). The other
outputs (invoice steps, suppressed, worklist) go next to it as ``<stem>.<name>.<suffix>``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from relance.core.errors import ValidationFailed
from relance.engine.dunning.contract import Decisions
from relance.engine.dunning.decide import decide
from relance.engine.dunning.defaults import default_policies
from relance.engine.dunning.policy import Policy
from relance.engine.dunning.tables import read_parquet_tables

OUTPUTS = ("invoice_steps", "suppressed", "worklist")


def _plain(value: Any) -> Any:
    """A value of a row as JSON: money as text, dates in ISO form, lists and records kept nested."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def write_table(table: pa.Table, path: Path) -> None:
    if path.suffix == ".parquet":
        pq.write_table(table, path)
        return
    with path.open("w", encoding="utf-8") as handle:
        for row in table.to_pylist():
            handle.write(json.dumps({key: _plain(value) for key, value in row.items()}, ensure_ascii=False))
            handle.write("\n")


def output_paths(out: Path) -> dict[str, Path]:
    paths = {"decisions": out}
    for name in OUTPUTS:
        paths[name] = out.with_name(f"{out.stem}.{name}{out.suffix}")
    return paths


FILE_BACKENDS = ("duckdb", "spark")
ERROR_BACKEND = "backend {name!r}: expected one of " + ", ".join(FILE_BACKENDS)


def decide_files(
    source: Path,
    *,
    as_of: date,
    out: Path,
    policies: Mapping[str, Policy] | None = None,
    backend: str = "duckdb",
    spark_master: str | None = None,
) -> Decisions:
    if backend not in FILE_BACKENDS:
        raise ValidationFailed(ERROR_BACKEND.format(name=backend))
    con = None
    if backend == "spark":
        from relance.engine.spark import DEFAULT_LOCAL_MASTER, SparkOptions, spark_backend

        con = spark_backend(SparkOptions(master=spark_master or DEFAULT_LOCAL_MASTER))
    con, tables = read_parquet_tables(source, con)
    try:
        result = decide(tables, policies or default_policies(), as_of=as_of, backend=con)
    finally:
        if backend == "duckdb":  # the Spark session is the process's: it ends with it
            con.disconnect()
    paths = output_paths(out)
    write_table(result.decisions, paths["decisions"])
    for name in OUTPUTS:
        write_table(getattr(result, name), paths[name])
    return result

"""``connect(url)``: each URL form binds the same ledger."""

from __future__ import annotations

from datetime import date

import ibis
import pyarrow.parquet as pq
import pytest

from relance.core.errors import ValidationFailed
from relance.engine.backends import connect, create_ledger_tables, engine_arrow_table
from relance.engine.kpi import KpiParams, compute_kpis
from relance.engine.schema import SCHEMAS
from tests.conftest import postgres_url
from tests.engine.ledgers import shared_dataset

PARAMS = KpiParams(as_of=date(2023, 3, 31), currency="EUR")


def dso(url: str) -> float:
    ledger = connect(url)
    assert set(ledger.tables.invoices.columns) == set(SCHEMAS["invoices"].names)
    return compute_kpis(ledger.tables, PARAMS)[0].to_json()["dso"]


def test_sqlite_and_duckdb_files(tmp_path):
    rows = shared_dataset().rows()
    create_ledger_tables(ibis.sqlite.connect(tmp_path / "ledger.sqlite3"), rows)
    duck = ibis.duckdb.connect(tmp_path / "ledger.duckdb")
    create_ledger_tables(duck, rows)
    duck.disconnect()
    assert dso(f"sqlite:///{tmp_path}/ledger.sqlite3") == 51.08
    assert dso(f"duckdb:///{tmp_path}/ledger.duckdb") == 51.08


def test_postgres_url():
    url = postgres_url()
    if not url:
        pytest.skip("SKIPPED: PostgreSQL backend: set RELANCE_TEST_POSTGRES_URL")
    con = ibis.connect(url)
    schema = "engine_connect_test"
    con.raw_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE; CREATE SCHEMA "{schema}"')
    try:
        create_ledger_tables(ibis.connect(url, schema=schema), shared_dataset().rows())
        separator = "&" if "?" in url else "?"
        assert dso(f"{url}{separator}schema={schema}") == 51.08
    finally:
        con.raw_sql(f'DROP SCHEMA "{schema}" CASCADE')


def test_parquet_files_and_directories(tmp_path):
    for index, (name, rows) in enumerate(shared_dataset().rows().items()):
        if index % 2:
            pq.write_table(engine_arrow_table(name, rows), tmp_path / f"{name}.parquet")
        else:
            (tmp_path / name / "year=2023").mkdir(parents=True)
            pq.write_table(engine_arrow_table(name, rows), tmp_path / name / "year=2023" / "part.parquet")
    assert dso(f"parquet://{tmp_path}") == 51.08


def test_duckdb_draws_no_progress_bar(tmp_path):
    """DuckDB's progress bar goes to stdout (a query over 2 s): it corrupted `relance kpi --json`."""
    for name, rows in shared_dataset().rows().items():
        pq.write_table(engine_arrow_table(name, rows), tmp_path / f"{name}.parquet")
    setting = "SELECT current_setting('enable_progress_bar')"
    assert connect(f"parquet://{tmp_path}").backend.raw_sql(setting).fetchall() == [(False,)]
    from relance.engine.dunning.tables import read_parquet_tables

    decision_backend, _ = read_parquet_tables(tmp_path)  # `relance engine run --source` opens its own
    assert decision_backend.raw_sql(setting).fetchall() == [(False,)]


def test_errors_name_what_is_missing(tmp_path):
    with pytest.raises(ValidationFailed, match="expected sqlite"):
        connect("oracle://x")
    with pytest.raises(ValidationFailed, match="no invoices.parquet"):
        connect(f"parquet://{tmp_path}")
    ibis.sqlite.connect(tmp_path / "empty.sqlite3").raw_sql("CREATE TABLE invoices (x int)")
    with pytest.raises(ValidationFailed, match="no table 'credit_notes'"):
        connect(f"sqlite:///{tmp_path}/empty.sqlite3")

"""The ``backend`` fixture: the same ledger loaded into SQLite, DuckDB and (when configured) PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import ibis
import pytest

from relance.engine.backends import create_ledger_tables
from relance.engine.schema import LedgerTables
from tests.conftest import postgres_url

Loader = Callable[[Mapping[str, Any]], LedgerTables]
POSTGRES_SKIP = "SKIPPED: PostgreSQL backend: set RELANCE_TEST_POSTGRES_URL"


@pytest.fixture(params=["sqlite", "duckdb", "postgres"])
def backend(request, tmp_path) -> Iterator[Loader]:
    """A function loading engine-schema rows into a fresh database of each backend kind."""
    name = request.param
    cleanup: Callable[[], None] = lambda: None  # noqa: E731
    if name == "sqlite":
        con = ibis.sqlite.connect(tmp_path / "ledger.sqlite3")
    elif name == "duckdb":
        con = ibis.duckdb.connect()
    else:
        url = postgres_url()
        if not url:
            pytest.skip(POSTGRES_SKIP)
        schema = f"engine_test_{uuid.uuid4().hex[:12]}"
        admin = ibis.connect(url)
        admin.raw_sql(f'CREATE SCHEMA "{schema}"').close()
        con = ibis.connect(url, schema=schema)

        def cleanup() -> None:
            con.disconnect()
            admin.raw_sql(f'DROP SCHEMA "{schema}" CASCADE').close()
            admin.disconnect()

    def load(rows: Mapping[str, Any]) -> LedgerTables:
        return create_ledger_tables(con, rows)

    load.backend_name = name  # type: ignore[attr-defined]
    yield load
    cleanup()

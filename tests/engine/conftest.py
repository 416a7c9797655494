"""The ``backend`` fixture: the same ledger loaded into SQLite, DuckDB, (when configured) PostgreSQL
and (when pyspark and Java are installed) Spark in local mode.

Spark cases are marked ``spark``; one SparkSession serves the whole test process.

A backend that lacks what a test needs is named in ``@pytest.mark.notimpl(["spark"], reason=...)``
(the ibis test suite's convention): the test still runs there and is expected to fail (a strict
xfail), so the day the backend gains it the run says so. Never a silent skip.
"""

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
SPARK_SKIP = "SKIPPED: Spark backend: {reason}"
# Tiny tables, many queries: compiling Java for each query and adaptive planning cost more
# than they save (tests ×2–3 faster without them). Results are the same.
SPARK_TEST_SETTINGS = (
    ("spark.sql.adaptive.enabled", "false"),
    ("spark.sql.codegen.wholeStage", "false"),
    ("spark.sql.codegen.factoryMode", "NO_CODEGEN"),
)
BACKENDS = ["sqlite", "duckdb", "postgres", pytest.param("spark", marks=pytest.mark.spark)]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``notimpl(backends, reason=...)``: a strict xfail on the listed backends of the ``backend`` fixture."""
    for item in items:
        marker = item.get_closest_marker("notimpl")
        callspec = getattr(item, "callspec", None)
        if marker is None or callspec is None:
            continue
        if callspec.params.get("backend") in marker.args[0]:
            reason = marker.kwargs.get("reason", "not implemented on this backend")
            raises = marker.kwargs.get("raises")
            item.add_marker(pytest.mark.xfail(strict=True, reason=reason, raises=raises))


@pytest.fixture(scope="session")
def spark_backend() -> Any:
    """Ibis on one local SparkSession (2 threads) for the whole test process; skips without pyspark/Java."""
    from relance.engine.spark import SparkOptions, pyspark_available, spark_backend

    reason = pyspark_available()
    if reason:
        pytest.skip(SPARK_SKIP.format(reason=reason))
    return spark_backend(
        SparkOptions(
            master="local[2]", driver_memory="1g", shuffle_partitions=1, settings=SPARK_TEST_SETTINGS
        )
    )


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path) -> Iterator[Loader]:
    """A function loading engine-schema rows into a fresh database of each backend kind."""
    name = request.param
    cleanup: Callable[[], None] = lambda: None  # noqa: E731
    if name == "sqlite":
        con = ibis.sqlite.connect(tmp_path / "ledger.sqlite3")
    elif name == "duckdb":
        con = ibis.duckdb.connect()
    elif name == "spark":
        con = request.getfixturevalue("spark_backend")
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
    load.con = con  # type: ignore[attr-defined]
    yield load
    cleanup()

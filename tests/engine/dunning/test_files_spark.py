"""Spark decides on Parquet files exactly what DuckDB decides (``decide_files``, ``relance engine run``).

Marked ``spark``: skipped with the reason when pyspark or Java is missing. The ``spark_backend``
fixture (tests/engine/conftest.py) starts the process's one SparkSession first, so the command
reuses it instead of starting a bigger default one.
"""

from __future__ import annotations

import io
import json
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command

from relance.engine.dunning.files import decide_files, output_paths
from relance.engine.dunning.tables import dunning_arrow_table
from relance.synthetic.generator import GeneratorConfig, generate_ledger
from relance.synthetic.writers import write_parquet
from tests.engine.dunning.test_decide_backends import AS_OF, policies, rich_ledger

pytestmark = pytest.mark.spark

OUTPUTS = ("decisions", "invoice_steps", "suppressed", "worklist")
LAKE_AS_OF = date(2025, 6, 30)


def test_spark_decides_what_duckdb_decides_on_the_same_files(spark_backend, tmp_path):
    rows = rich_ledger().rows()
    for name, data in rows.items():
        if name == "plan_installments":  # a directory of parts
            (tmp_path / name).mkdir()
            pq.write_table(dunning_arrow_table(name, data), tmp_path / name / "part-0.parquet")
        else:
            pq.write_table(dunning_arrow_table(name, data), tmp_path / f"{name}.parquet")
    on_duckdb = decide_files(tmp_path, as_of=AS_OF, out=tmp_path / "duck.jsonl", policies=policies())
    on_spark = decide_files(
        tmp_path, as_of=AS_OF, out=tmp_path / "spark.jsonl", policies=policies(), backend="spark"
    )
    assert on_spark.decisions.num_rows == 7
    for name in OUTPUTS:
        assert getattr(on_spark, name).equals(getattr(on_duckdb, name)), name
    duck_files, spark_files = output_paths(tmp_path / "duck.jsonl"), output_paths(tmp_path / "spark.jsonl")
    for name in OUTPUTS:
        assert spark_files[name].read_text() == duck_files[name].read_text(), name


@pytest.fixture
def lake(tmp_path):
    """A generated ledger (relance.synthetic) as Parquet, every customer on the standard policy,
    reachable by e-mail, letter, both or neither."""
    ledger = generate_ledger(GeneratorConfig(seed=5, customers=60, end=LAKE_AS_OF, years=1))
    write_parquet(ledger, tmp_path / "lake")
    customer_ids = ledger.customers.column("customer_id").to_pylist()
    pq.write_table(
        pa.table({"customer_id": customer_ids, "policy_key": ["standard"] * len(customer_ids)}),
        tmp_path / "lake" / "customer_policy.parquet",
    )
    channels = [(customer, "email") for customer in customer_ids if customer % 3]
    channels += [(customer, "letter") for customer in customer_ids if customer % 2]
    pq.write_table(
        dunning_arrow_table("customer_channels", [{"customer_id": c, "channel": k} for c, k in channels]),
        tmp_path / "lake" / "customer_channels.parquet",
    )
    return tmp_path / "lake"


def engine_run(lake, out, *backend: str) -> dict:
    stdout = io.StringIO()
    call_command(
        "engine",
        "run",
        "--source",
        str(lake),
        "--as-of",
        LAKE_AS_OF.isoformat(),
        "--out",
        str(out),
        "--json",
        *backend,
        stdout=stdout,
    )
    return json.loads(stdout.getvalue())


def test_engine_run_backend_spark_matches_duckdb(spark_backend, lake, tmp_path):
    on_duckdb = engine_run(lake, tmp_path / "duck" / "decisions.parquet")
    on_spark = engine_run(lake, tmp_path / "spark" / "decisions.parquet", "--backend", "spark")
    assert on_spark["decisions"] == on_duckdb["decisions"] > 5
    assert (on_spark["suppressed"], on_spark["worklist"]) == (on_duckdb["suppressed"], on_duckdb["worklist"])
    for name, path in on_spark["files"].items():
        assert pq.read_table(path).equals(pq.read_table(on_duckdb["files"][name])), name

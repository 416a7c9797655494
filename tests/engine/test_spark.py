"""``spark://MASTER/DIR`` URLs, and ``connect`` on Spark giving the golden DSO."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from relance.core.errors import ValidationFailed
from relance.engine.backends import connect, engine_arrow_table, spark_url
from tests.engine.ledgers import shared_dataset
from tests.engine.test_backends import dso


@pytest.mark.parametrize(
    ("url", "master", "directory"),
    [
        ("spark://local/data/ledger", "local[*]", "/data/ledger"),
        ("spark://local[2]/data/ledger", "local[2]", "/data/ledger"),
        ("spark://local[*]/tmp/x", "local[*]", "/tmp/x"),
        ("spark://spark-master:7077/mnt/lake/ledger", "spark://spark-master:7077", "/mnt/lake/ledger"),
        ("spark://yarn/lake", "yarn", "/lake"),
        ("spark://spark-master:7077/s3a://bucket/ledger", "spark://spark-master:7077", "s3a://bucket/ledger"),
        ("sc://connect-host:15002/lake", "sc://connect-host:15002", "/lake"),
    ],
)
def test_spark_urls(url, master, directory):
    assert spark_url(url) == (master, directory)


@pytest.mark.parametrize("url", ["spark://local", "spark:///data", "spark://local/"])
def test_a_spark_url_needs_a_master_and_a_directory(url):
    with pytest.raises(ValidationFailed, match="expected spark://MASTER/DIR"):
        connect(url)


@pytest.mark.spark
def test_connect_spark_reads_parquet_files_and_directories(spark_backend, tmp_path):
    for index, (name, rows) in enumerate(shared_dataset().rows().items()):
        if index % 2:
            pq.write_table(engine_arrow_table(name, rows), tmp_path / f"{name}.parquet")
        else:
            (tmp_path / name / "year=2023").mkdir(parents=True)
            pq.write_table(engine_arrow_table(name, rows), tmp_path / name / "year=2023" / "part.parquet")
    assert dso(f"spark://local[2]{tmp_path}") == 51.08
    with pytest.raises(ValidationFailed, match="no invoices.parquet"):
        connect(f"spark://local[2]{tmp_path / 'empty'}")

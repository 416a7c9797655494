"""`relance engine run`: decisions from Parquet files alone, no app database involved."""

import io
import json
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from relance.synthetic.generator import GeneratorConfig, generate_ledger
from relance.synthetic.writers import write_parquet

AS_OF = date(2025, 6, 30)


@pytest.fixture
def lake(tmp_path):
    ledger = generate_ledger(GeneratorConfig(seed=3, customers=40, end=AS_OF, years=1))
    write_parquet(ledger, tmp_path)
    customer_ids = ledger.customers.column("customer_id")
    pq.write_table(
        pa.table({"customer_id": customer_ids, "policy_key": pa.array(["standard"] * len(customer_ids))}),
        tmp_path / "customer_policy.parquet",
    )
    return tmp_path


def test_decides_on_parquet_and_writes_json_lines(lake, tmp_path):
    out = tmp_path / "out" / "decisions.jsonl"
    stdout = io.StringIO()
    call_command(
        "engine",
        "run",
        "--source",
        str(lake),
        "--as-of",
        AS_OF.isoformat(),
        "--out",
        str(out),
        "--json",
        stdout=stdout,
    )
    counts = json.loads(stdout.getvalue())
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert counts["decisions"] == len(rows) > 0
    assert {row["policy_key"] for row in rows} == {"standard"}
    assert all(row["reasons"][0]["code"] == "step_due" for row in rows)  # a JSON list, not text
    assert (tmp_path / "out" / "decisions.worklist.jsonl").exists()


def test_bad_input_is_a_clear_error(lake, tmp_path):
    with pytest.raises(CommandError, match="not a directory"):
        call_command(
            "engine",
            "run",
            "--source",
            str(tmp_path / "nowhere"),
            "--as-of",
            "2025-06-30",
            "--out",
            str(tmp_path / "d.jsonl"),
        )
    (lake / "invoices.parquet").unlink()
    with pytest.raises(CommandError, match="invoices"):
        call_command(
            "engine",
            "run",
            "--source",
            str(lake),
            "--as-of",
            "2025-06-30",
            "--out",
            str(tmp_path / "d.jsonl"),
        )

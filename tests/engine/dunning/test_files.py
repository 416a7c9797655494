"""Deciding on Parquet files alone gives what the same rows give in a database."""

from __future__ import annotations

import json
from datetime import date

import ibis
import pyarrow as pa
import pyarrow.parquet as pq

from relance.engine.dunning.decide import decide
from relance.engine.dunning.defaults import default_policies
from relance.engine.dunning.files import decide_files, output_paths
from relance.engine.dunning.tables import create_dunning_tables, dunning_arrow_table
from tests.engine.dunning.test_decide_backends import AS_OF, policies, rich_ledger


def test_parquet_directory_matches_the_database(tmp_path):
    rows = rich_ledger().rows()
    for name, data in rows.items():
        if name != "plan_installments":  # a missing dunning table counts as empty
            pq.write_table(dunning_arrow_table(name, data), tmp_path / f"{name}.parquet")
    (tmp_path / "plan_installments").mkdir()
    pq.write_table(
        dunning_arrow_table("plan_installments", rows["plan_installments"]),
        tmp_path / "plan_installments" / "part-0.parquet",
    )
    out = tmp_path / "out" / "decisions.jsonl"
    out.parent.mkdir()
    result = decide_files(tmp_path, as_of=AS_OF, out=out, policies=policies())
    expected = decide(create_dunning_tables(ibis.duckdb.connect(), rows), policies(), as_of=AS_OF)
    assert result.decisions.equals(expected.decisions)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["step_key"] for line in lines] == expected.decisions.column("step_key").to_pylist()
    assert lines[1]["amount_due"] == "2050.0000"
    # lists and records stay nested: no text to parse
    assert lines[1]["invoice_ids"] == expected.decisions.column("invoice_ids")[1].as_py()
    assert lines[1]["reasons"][0]["code"] == "step_due"
    worklist = [json.loads(line) for line in output_paths(out)["worklist"].read_text().splitlines()]
    assert isinstance(worklist[0]["factors"]["overdue_amount"]["value"], str)
    paths = output_paths(out)
    assert paths["worklist"].name == "decisions.worklist.jsonl" and paths["worklist"].exists()


def test_parquet_output(tmp_path):
    rows = rich_ledger().rows()
    for name in (
        "invoices",
        "credit_notes",
        "payments",
        "allocations",
        "customers",
        "customer_policy",
        "customer_channels",
    ):
        pq.write_table(dunning_arrow_table(name, rows[name]), tmp_path / f"{name}.parquet")
    out = tmp_path / "decisions.parquet"
    result = decide_files(tmp_path, as_of=date(2026, 4, 1), out=out, policies=default_policies())
    written = pq.read_table(out)
    assert written.num_rows == result.decisions.num_rows > 0
    # the typed lists and records survive Parquet
    assert written.schema.field("invoice_ids").type == pa.list_(pa.int64())
    assert written.schema.field("reasons").type == result.decisions.schema.field("reasons").type
    assert written.schema.field("channels").type == pa.list_(pa.string())
    worklist = pq.read_table(output_paths(out)["worklist"])
    assert worklist.schema.field("factors").type == result.worklist.schema.field("factors").type

"""The credit tables of the engine contract: optional everywhere, read when present."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import ibis
import pyarrow as pa
import pyarrow.parquet as pq

from relance.engine.dunning.contract import CREDIT_SCHEMAS, DunningTables
from relance.engine.dunning.tables import create_dunning_tables, dunning_arrow_table, read_parquet_tables
from tests.engine.dunning.rows import DunningRows


def test_unbound_has_every_credit_table() -> None:
    tables = DunningTables.unbound()
    for name, schema in CREDIT_SCHEMAS.items():
        assert getattr(tables, name).schema() == schema


def test_created_only_when_given() -> None:
    rows = DunningRows()
    rows.dunned_customer("A")
    given = rows.rows() | {
        "returned_payments": [{"customer_id": 1, "returned_on": date(2026, 1, 5), "amount": Decimal("10")}]
    }
    tables = create_dunning_tables(ibis.duckdb.connect(), given)
    assert tables.orders is None and tables.exchange_rates is None and tables.bureau_reports is None
    assert tables.returned_payments is not None
    assert tables.returned_payments.to_pyarrow().num_rows == 1


def test_parquet_a_missing_file_means_none_and_old_profiles_have_no_currency(tmp_path) -> None:
    rows = DunningRows()
    rows.dunned_customer("A", credit_limit="100")
    for name, data in rows.rows().items():
        if name in ("invoices", "credit_notes", "payments", "allocations", "customers"):
            schema = DunningTables.unbound().__getattribute__(name).schema().to_pyarrow()
            pq.write_table(pa.Table.from_pylist(data, schema=schema), tmp_path / f"{name}.parquet")
    # a customer profile written before the currency column existed
    pq.write_table(
        pa.table(
            {
                "customer_id": [1],
                "risk": [""],
                "credit_limit": pa.array([Decimal("100")], pa.decimal128(18, 4)),
            }
        ),
        tmp_path / "customer_profile.parquet",
    )
    bureau = dunning_arrow_table(
        "bureau_reports",
        [
            {
                "customer_id": 1,
                "reported_on": date(2026, 1, 5),
                "bureau_score": 55.0,
                "recommended_limit": Decimal("5000"),
                "derogatory_events": 0,
            }
        ],
    )
    pq.write_table(bureau, tmp_path / "bureau_reports.parquet")
    con, tables = read_parquet_tables(tmp_path)
    assert tables.orders is None and tables.exchange_rates is None and tables.returned_payments is None
    assert tables.bureau_reports is not None
    assert tables.bureau_reports.to_pyarrow().column("bureau_score").to_pylist() == [55.0]
    assert tables.customer_profile.to_pyarrow().to_pylist() == [
        {"customer_id": 1, "risk": "", "credit_limit": Decimal("100"), "currency": None}
    ]
    con.disconnect()

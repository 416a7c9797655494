from __future__ import annotations

import csv
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq

from relance.synthetic.generator import GeneratorConfig, iter_ledger_chunks
from relance.synthetic.model import GeneratedLedger
from relance.synthetic.writers import CSV_HEADERS, write_csv, write_parquet
from tests.synthetic.conftest import END


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == CSV_HEADERS[path.stem]
        return list(reader)


def test_parquet_round_trips_the_tables(ledger: GeneratedLedger, tmp_path: Path) -> None:
    paths = write_parquet(ledger, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{name}.parquet" for name in ledger.tables())
    for name, table in ledger.tables().items():
        assert pq.read_table(paths[name]).equals(table), name


def test_parquet_streams_chunks_into_one_file_per_table(tmp_path: Path) -> None:
    config = GeneratorConfig(seed=5, customers=50, invoices=2_000, end=END, chunk_invoices=500)
    seen: list[int] = []
    write_parquet(
        iter_ledger_chunks(config), tmp_path, on_part=lambda part: seen.append(part.invoices.num_rows)
    )
    assert len(seen) > 2 and sum(seen) == 2_000
    invoices = pq.read_table(tmp_path / "invoices.parquet")
    assert invoices.num_rows == 2_000
    assert invoices["invoice_id"].to_pylist() == list(range(1, 2_001))


def test_csv_parses_back_to_the_same_ledger(ledger: GeneratedLedger, tmp_path: Path) -> None:
    write_csv(ledger, tmp_path)
    customers = _rows(tmp_path / "customers.csv")
    invoices = _rows(tmp_path / "invoices.csv")
    payments = _rows(tmp_path / "payments.csv")
    credit_notes = _rows(tmp_path / "credit_notes.csv")

    generated_customers = ledger.customers.to_pylist()
    assert [row["customer_ref"] for row in customers] == [c["external_ref"] for c in generated_customers]
    assert [row["name"] for row in customers] == [c["name"] for c in generated_customers]
    currency_of = {row["customer_ref"]: row["currency"] for row in customers}

    generated = ledger.invoices.to_pylist()
    assert len(invoices) == len(generated)
    for row, invoice in zip(invoices, generated, strict=True):
        assert row["invoice_ref"] == f"INV-{invoice['invoice_id']:06d}"
        assert row["customer_ref"] == f"C-{invoice['customer_id']:05d}"
        assert row["issue_date"] == invoice["issue_date"].isoformat()
        assert Decimal(row["amount"]) == invoice["amount"]
        assert row["amount"].count(".") == 1 and len(row["amount"].split(".")[1]) == 2
        assert row["currency"] == currency_of[row["customer_ref"]]
        assert row["status"] == invoice["status"]
    assert any(row["po_number"] for row in invoices) and any(not row["po_number"] for row in invoices)

    # Payment rows add up to each payment; the invoice-referenced rows are exactly the cash allocations.
    per_payment: dict[str, Decimal] = defaultdict(Decimal)
    for row in payments:
        per_payment[row["payment_ref"]] += Decimal(row["amount"])
    assert per_payment == {f"PAY-{p['payment_id']:06d}": p["amount"] for p in ledger.payments.to_pylist()}
    cash = {
        (f"PAY-{a['payment_id']:06d}", f"INV-{a['invoice_id']:06d}"): a["amount"]
        for a in ledger.allocations.to_pylist()
        if a["payment_id"] is not None
    }
    assert {
        (r["payment_ref"], r["invoice_ref"]): Decimal(r["amount"]) for r in payments if r["invoice_ref"]
    } == cash
    assert any(not row["invoice_ref"] for row in payments), "unapplied cash has rows of its own"

    assert {row["credit_note_ref"] for row in credit_notes} == {
        f"CN-{c['credit_note_id']:06d}" for c in ledger.credit_notes.to_pylist()
    }
    credited = sum(Decimal(row["amount"]) for row in credit_notes)
    assert credited == sum(c["amount"] for c in ledger.credit_notes.to_pylist())


def test_csv_of_an_empty_ledger_has_headers(tmp_path: Path) -> None:
    config = GeneratorConfig(seed=1, customers=1, invoices=0, end=END)
    write_csv(iter_ledger_chunks(config), tmp_path)
    assert _rows(tmp_path / "invoices.csv") == []
    assert len(_rows(tmp_path / "customers.csv")) == 1

"""Write a generated ledger as Parquet (engine schemas) or as the canonical import CSV files.

Both writers accept one ``GeneratedLedger`` or an iterable of parts (``iter_ledger_chunks``) and
stream the parts to disk, so 10M invoices never sit in memory at once.

The CSV files are what ``relance import`` reads (one file per kind, a header row, ISO dates,
amounts with a decimal point and two decimals, UTF-8):

- customers.csv: customer_ref,name,currency,payment_terms_days,credit_limit,segment,language,country,email,phone
- invoices.csv: invoice_ref,customer_ref,issue_date,due_date,currency,amount,po_number,status
- payments.csv: payment_ref,customer_ref,date,amount,currency,invoice_ref,returned_on — one row per
  allocation of the payment, plus one row with an empty invoice_ref for its unapplied part; the
  rows of a payment add up to its amount. The allocation date is not in the file (the payment
  date is). ``returned_on`` is set on every row of a returned payment (``relance.synthetic.credit``).
- credit_notes.csv: credit_note_ref,customer_ref,date,amount,currency,invoice_ref — same layout.
- orders.csv: order_ref,customer_ref,date,currency,amount,status — open and delivered orders.
- exchange_rates.csv: date,base_currency,quote_currency,rate — monthly rates from every currency in
  use to ``base_currency`` (for ``relance rates import``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from relance.synthetic.credit import (
    exchange_rates_table,
    ledger_first_day,
    ledger_last_day,
    orders_table,
    returned_payments_table,
)
from relance.synthetic.model import SCHEMAS, TABLE_NAMES, GeneratedLedger, money_array, money_cents

CSV_HEADERS: dict[str, tuple[str, ...]] = {
    "customers": (
        "customer_ref",
        "name",
        "currency",
        "payment_terms_days",
        "credit_limit",
        "segment",
        "language",
        "country",
        "email",
        "phone",
    ),
    "invoices": (
        "invoice_ref",
        "customer_ref",
        "issue_date",
        "due_date",
        "currency",
        "amount",
        "po_number",
        "status",
    ),
    "payments": ("payment_ref", "customer_ref", "date", "amount", "currency", "invoice_ref", "returned_on"),
    "credit_notes": ("credit_note_ref", "customer_ref", "date", "amount", "currency", "invoice_ref"),
    "orders": ("order_ref", "customer_ref", "date", "currency", "amount", "status"),
    "exchange_rates": ("date", "base_currency", "quote_currency", "rate"),
}
REF_PREFIXES = {
    "customer": ("C-", 5),
    "invoice": ("INV-", 6),
    "payment": ("PAY-", 6),
    "credit_note": ("CN-", 6),
    "order": ("SO-", 6),
}
PARQUET_ROW_GROUP = 1_000_000

Parts = GeneratedLedger | Iterable[GeneratedLedger]
OnPart = Callable[[GeneratedLedger], None]


def refs(kind: str, ids: pa.Array | pa.ChunkedArray | np.ndarray) -> pa.Array:
    """External references from generated ids: ``INV-000042``, ``C-00007``, ``PAY-…``, ``CN-…``."""
    prefix, width = REF_PREFIXES[kind]
    digits = pc.utf8_lpad(
        pc.cast(pa.array(ids) if isinstance(ids, np.ndarray) else ids, pa.string()), width, "0"
    )
    return pc.binary_join_element_wise(prefix, digits, "")


def po_numbers(invoices: pa.Table) -> pa.Array:
    """Purchase-order numbers, derived from the ids: a third of the customers quote one."""
    invoice_ids = invoices["invoice_id"].to_numpy()
    customer_ids = invoices["customer_id"].to_numpy()
    numbers = (invoice_ids * 7919) % 900_000 + 100_000
    text = pc.binary_join_element_wise("PO-", pc.cast(pa.array(numbers), pa.string()), "")
    return pc.if_else(pa.array(customer_ids % 3 == 0), text, pa.scalar(None, pa.string()))


def _amount_text(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    return pc.cast(pc.cast(column, pa.decimal128(18, 2)), pa.string())


def _parts(ledger: Parts) -> Iterable[GeneratedLedger]:
    return [ledger] if isinstance(ledger, GeneratedLedger) else ledger


def write_parquet(ledger: Parts, out_dir: str | Path, *, on_part: OnPart | None = None) -> dict[str, Path]:
    """Write ``out_dir/{invoices,credit_notes,payments,allocations,customers}.parquet``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / f"{name}.parquet" for name in TABLE_NAMES}
    writers = {name: pq.ParquetWriter(paths[name], SCHEMAS[name]) for name in TABLE_NAMES}
    try:
        for part in _parts(ledger):
            for name, table in part.tables().items():
                writers[name].write_table(table, row_group_size=PARQUET_ROW_GROUP)
            if on_part is not None:
                on_part(part)
    finally:
        for writer in writers.values():
            writer.close()
    return paths


def _source_rows(
    sources: pa.Table,
    allocations: pa.Table,
    id_column: str,
    kind: str,
    ref_header: str,
    returned: pa.Table | None = None,
) -> pa.Table:
    """One row per allocation of each payment (or credit note), plus one for its unallocated rest."""
    sources = sources.sort_by(id_column)
    source_ids = sources[id_column].to_numpy()
    mine = allocations.filter(pc.is_valid(allocations[id_column]))
    allocated_source = mine[id_column].to_numpy()
    allocated_cents = money_cents(mine["amount"])
    position = np.searchsorted(source_ids, allocated_source)
    total_cents = money_cents(sources["amount"])
    rest_cents = total_cents - np.bincount(
        position, weights=allocated_cents, minlength=source_ids.size
    ).astype(np.int64)
    rest = np.flatnonzero(rest_cents > 0)
    row_source = np.concatenate([position, rest])
    row_cents = np.concatenate([allocated_cents, rest_cents[rest]])
    row_invoice = np.concatenate([mine["invoice_id"].to_numpy(), np.zeros(rest.size, np.int64)])
    row_unapplied = np.arange(row_source.size) >= position.size
    row_order = np.lexsort((row_unapplied, row_source))
    taken = sources.take(pa.array(row_source[row_order]))
    columns = {
        ref_header: refs(kind, taken[id_column]),
        "customer_ref": refs("customer", taken["customer_id"]),
        "date": taken["date"],
        "amount": _amount_text(money_array(row_cents[row_order])),
        "currency": taken["currency"],
        "invoice_ref": pc.if_else(
            pa.array(row_unapplied[row_order]),
            pa.scalar(None, pa.string()),
            refs("invoice", row_invoice[row_order]),
        ),
    }
    if returned is not None:  # every row of a returned payment says so
        at = pc.index_in(taken[id_column], value_set=returned[id_column])
        columns["returned_on"] = pc.take(returned["returned_on"], at)
    return pa.table(columns)


def csv_tables(part: GeneratedLedger) -> dict[str, pa.Table]:
    """The canonical import CSV tables of one ledger (part)."""
    customers, invoices = part.customers, part.invoices
    return {
        "customers": pa.table(
            {
                "customer_ref": customers["external_ref"],
                "name": customers["name"],
                "currency": customers["currency"],
                "payment_terms_days": customers["payment_terms_days"],
                "credit_limit": _amount_text(customers["credit_limit"]),
                "segment": customers["segment"],
                "language": customers["language"],
                "country": customers["country"],
                "email": customers["email"],
                "phone": customers["phone"],
            }
        ),
        "invoices": pa.table(
            {
                "invoice_ref": refs("invoice", invoices["invoice_id"]),
                "customer_ref": refs("customer", invoices["customer_id"]),
                "issue_date": invoices["issue_date"],
                "due_date": invoices["due_date"],
                "currency": invoices["currency"],
                "amount": _amount_text(invoices["amount"]),
                "po_number": po_numbers(invoices),
                "status": invoices["status"],
            }
        ),
        "payments": _source_rows(
            part.payments,
            part.allocations,
            "payment_id",
            "payment",
            "payment_ref",
            returned=returned_payments_table(part),
        ),
        "credit_notes": _source_rows(
            part.credit_notes, part.allocations, "credit_note_id", "credit_note", "credit_note_ref"
        ),
        "orders": _order_rows(orders_table(part)),
    }


def _order_rows(orders: pa.Table) -> pa.Table:
    return pa.table(
        {
            "order_ref": refs("order", orders["order_id"]),
            "customer_ref": refs("customer", orders["customer_id"]),
            "date": orders["order_date"],
            "currency": orders["currency"],
            "amount": _amount_text(orders["amount"]),
            "status": orders["status"],
        }
    )


def _rate_rows(rates: pa.Table) -> pa.Table:
    return pa.table(
        {
            "date": rates["rate_date"],
            "base_currency": rates["base_currency"],
            "quote_currency": rates["quote_currency"],
            "rate": pc.cast(rates["rate"], pa.string()),
        }
    )


def write_csv(
    ledger: Parts, out_dir: str | Path, *, on_part: OnPart | None = None, base_currency: str = "EUR"
) -> dict[str, Path]:
    """Write ``out_dir/{customers,invoices,payments,credit_notes,orders,exchange_rates}.csv`` in the
    canonical import format; the rates convert every currency in use to ``base_currency``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / f"{name}.csv" for name in CSV_HEADERS}
    options = pacsv.WriteOptions(include_header=True, quoting_style="needed")
    writers: dict[str, pacsv.CSVWriter] = {}
    currencies: set[str] = set()
    days: list[date] = []
    try:
        for part in _parts(ledger):
            tables = csv_tables(part)
            currencies.update(part.customers["currency"].to_pylist())
            days.extend(day for day in (ledger_first_day(part), ledger_last_day(part)) if day is not None)
            for name, table in tables.items():
                table = table.cast(pa.schema([(column, pa.string()) for column in CSV_HEADERS[name]]))
                if name not in writers:
                    writers[name] = pacsv.CSVWriter(paths[name], table.schema, write_options=options)
                writers[name].write_table(table)
            if on_part is not None:
                on_part(part)
        if days:
            rates = _rate_rows(
                exchange_rates_table(currencies, base=base_currency, first=min(days), last=max(days))
            )
            name = "exchange_rates"
            table = rates.cast(pa.schema([(column, pa.string()) for column in CSV_HEADERS[name]]))
            writers[name] = pacsv.CSVWriter(paths[name], table.schema, write_options=options)
            writers[name].write_table(table)
    finally:
        for writer in writers.values():
            writer.close()
    for name, path in paths.items():  # an empty ledger still gets headed files
        if name not in writers:
            path.write_text(",".join(CSV_HEADERS[name]) + "\n", encoding="utf-8")
    return paths

"""The engine's input tables, as unbound Ibis schemas.

Every backend binding (app database, Parquet, Spark) must produce tables with exactly these
columns. Money columns are decimals in the ledger currency; the engine sums them as integers
of ``MONEY_SCALE`` (see ADR 0003) so that SQLite's floating storage never leaks into totals.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

MONEY_SCALE = 10_000  # four decimal places: enough for every ISO 4217 currency

INVOICES = ibis.schema(
    {
        "invoice_id": "int64",
        "entity_id": "int64",
        "customer_id": "int64",
        "currency": "string",
        "issue_date": "date",
        "due_date": "date",
        "amount": "decimal(18, 4)",
        "status": "string",  # "open" or "void"
        # the day it was voided; null for one void from the start. Reports as of an earlier
        # day still count it, so a past date reads the same after a later void.
        "voided_on": "date",
    }
)

CREDIT_NOTES = ibis.schema(
    {
        "credit_note_id": "int64",
        "entity_id": "int64",
        "customer_id": "int64",
        "currency": "string",
        "date": "date",
        "amount": "decimal(18, 4)",
    }
)

PAYMENTS = ibis.schema(
    {
        "payment_id": "int64",
        "entity_id": "int64",
        "customer_id": "int64",
        "currency": "string",
        "date": "date",
        "amount": "decimal(18, 4)",
    }
)

# One row per application of a payment or a credit note to an invoice, dated.
ALLOCATIONS = ibis.schema(
    {
        "invoice_id": "int64",
        "entity_id": "int64",
        "payment_id": "int64",  # null when the source is a credit note
        "credit_note_id": "int64",  # null when the source is a payment
        "date": "date",
        "amount": "decimal(18, 4)",
    }
)

CUSTOMERS = ibis.schema(
    {
        "customer_id": "int64",
        "entity_id": "int64",
        "external_ref": "string",
        "name": "string",
        "parent_id": "int64",
        "segment": "string",
        "collector": "string",
        "payment_terms_days": "int64",
    }
)

SCHEMAS = {
    "invoices": INVOICES,
    "credit_notes": CREDIT_NOTES,
    "payments": PAYMENTS,
    "allocations": ALLOCATIONS,
    "customers": CUSTOMERS,
}


@dataclass(frozen=True)
class LedgerTables:
    """The ledger as Ibis tables on one backend (or unbound, for building expressions)."""

    invoices: ir.Table
    credit_notes: ir.Table
    payments: ir.Table
    allocations: ir.Table
    customers: ir.Table

    @classmethod
    def unbound(cls) -> LedgerTables:
        return cls(**{name: ibis.table(schema, name=name) for name, schema in SCHEMAS.items()})


def money_units(column: ir.NumericValue) -> ir.IntegerValue:
    """A money column as an exact integer count of 1/MONEY_SCALE units."""
    return (column * MONEY_SCALE).round().cast("int64")

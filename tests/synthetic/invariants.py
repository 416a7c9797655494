"""The ledger invariants every generated ledger must keep, as plain assertions over DataFrames."""

from __future__ import annotations

import pandas as pd

from relance.synthetic.generator import GeneratedLedger, GeneratorConfig
from relance.synthetic.model import money_cents


def frames(ledger: GeneratedLedger) -> dict[str, pd.DataFrame]:
    """The tables as DataFrames with money as integer ``cents`` and dates as ``datetime.date``."""
    result = {}
    for name, table in ledger.tables().items():
        frame = table.to_pandas(date_as_object=True)
        money = "credit_limit" if name == "customers" else "amount"
        frame["cents"] = money_cents(table[money])
        result[name] = frame
    return result


def _consecutive(ids: pd.Series) -> None:
    assert list(ids.sort_values()) == list(range(1, len(ids) + 1)), "ids are 1..n without gaps"


def assert_invariants(ledger: GeneratedLedger, config: GeneratorConfig) -> None:
    f = frames(ledger)
    invoices, payments, credits = f["invoices"], f["payments"], f["credit_notes"]
    allocations, customers = f["allocations"], f["customers"]

    assert len(invoices) == config.invoice_count
    assert len(customers) == config.customer_count
    for frame, column in (
        (invoices, "invoice_id"),
        (payments, "payment_id"),
        (credits, "credit_note_id"),
        (customers, "customer_id"),
    ):
        _consecutive(frame[column])
        assert (frame["entity_id"] == config.entity_id).all()
    for frame in (invoices, payments, credits, allocations):
        assert (frame["cents"] > 0).all(), "every amount is positive"

    # Parents are key accounts in the same currency, one level deep.
    children = customers[customers["parent_id"].notna()]
    parents = customers.set_index("customer_id").loc[children["parent_id"].astype("int64")]
    assert (parents["parent_id"].isna()).all()
    assert (parents["currency"].to_numpy() == children["currency"].to_numpy()).all()
    assert (children["parent_id"].to_numpy() != children["customer_id"].to_numpy()).all()

    # Nothing exists outside the history; due dates follow issue dates.
    assert (invoices["issue_date"] >= config.start_date).all()
    assert (invoices["issue_date"] <= config.end).all()
    assert (invoices["due_date"] >= invoices["issue_date"]).all()
    for frame in (payments, credits, allocations):
        assert (frame["date"] <= config.end).all()
    assert set(invoices["status"]) <= {"open", "void"}

    # Every document is in its customer's single currency.
    currency_of = customers.set_index("customer_id")["currency"]
    for frame in (invoices, payments, credits):
        assert (frame["currency"].to_numpy() == currency_of.loc[frame["customer_id"]].to_numpy()).all()

    # Allocations: exactly one source, same customer, dated after source and invoice, never over-allocating.
    is_cash = allocations["payment_id"].notna()
    assert (is_cash != allocations["credit_note_id"].notna()).all(), "exactly one source"
    joined = allocations.merge(
        invoices[["invoice_id", "customer_id", "issue_date", "cents", "status"]].rename(
            columns={"cents": "invoice_cents", "customer_id": "invoice_customer"}
        ),
        on="invoice_id",
        how="left",
        validate="many_to_one",
    )
    assert joined["invoice_customer"].notna().all(), "every allocation has its invoice"
    assert (joined["status"] == "open").all(), "void invoices are never settled"
    assert (joined["date"] >= joined["issue_date"]).all()
    for frame, key in ((payments, "payment_id"), (credits, "credit_note_id")):
        part = joined[joined[key].notna()].merge(
            frame[[key, "customer_id", "date", "cents"]].rename(
                columns={"date": "source_date", "cents": "source_cents"}
            ),
            on=key,
            how="left",
            validate="many_to_one",
        )
        assert part["customer_id"].notna().all(), f"every {key} exists"
        assert (part["customer_id"] == part["invoice_customer"]).all()
        assert (part["date"] >= part["source_date"]).all()
        per_source = part.groupby(key).agg(allocated=("cents", "sum"), total=("source_cents", "first"))
        assert (per_source["allocated"] <= per_source["total"]).all()
        assert not part.duplicated([key, "invoice_id"]).any(), f"one allocation per ({key}, invoice)"
    per_invoice = joined.groupby("invoice_id").agg(
        allocated=("cents", "sum"), total=("invoice_cents", "first")
    )
    assert (per_invoice["allocated"] <= per_invoice["total"]).all()

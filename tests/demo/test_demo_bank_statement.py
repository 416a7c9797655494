"""The demo's statement of the day as a document: a camt.053.001.02 the product's own parser
reads whole, balances adding up, every kind of entry where the demo says it is."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from lxml import etree

from relance.cashapp.statements.camt import parse_camt
from relance.demo.bank_statement import CAMT_053, OPENING_BALANCE, camt053, entries_choose
from relance.engine.cashapp.lines import OpenItem

TODAY = date(2026, 12, 7)


def _item(invoice_id: int, customer_id: int, amount: str) -> OpenItem:
    return OpenItem(
        invoice_id=invoice_id,
        invoice_ref=f"INV-{invoice_id:06d}",
        customer_id=customer_id,
        customer_ref=f"C-{customer_id:05d}",
        customer_name=f"Customer {customer_id} SAS",
        parent_id=None,
        currency="EUR",
        open_amount=Decimal(amount),
        due_date=date(2026, 11, 1),
        issue_date=date(2026, 10, 1),
    )


ITEMS = [
    _item(customer * 10 + n, customer, f"{100 + customer * 37 + n * 211}.{customer:02d}")
    for customer in range(1, 13)
    for n in range(3)
]


def test_the_statement_is_a_camt053_the_parser_reads_whole(tmp_path) -> None:
    statement = entries_choose(ITEMS, currency="EUR", today=TODAY, seed=42)
    kinds = [entry.kind for entry in statement.entries]
    assert kinds.count("sure") == 3
    assert {"one_to_many", "partial", "ocr_slip", "iban_only", "unknown"} <= set(kinds)
    assert kinds.count("debit") == 2 and len(statement.known_payers) == 1
    customers = [entry.iban for entry in statement.entries if entry.kind not in {"debit", "unknown"}]
    assert len(set(customers)) == len(customers)  # each case its own payer
    document = camt053(
        statement,
        account_iban="FR7630006000011234567890189",
        account_bic="AGRIFRPP",
        currency="EUR",
        today=TODAY,
        owner="Demo Industries SAS",
    )
    assert etree.fromstring(document).tag == f"{{{CAMT_053}}}Document"
    path = tmp_path / "day.xml"
    path.write_bytes(document)
    (parsed,) = parse_camt(path, source="day.xml")
    assert parsed.account_iban == "FR7630006000011234567890189" and parsed.account_currency == "EUR"
    assert len(parsed.lines) == len(statement.entries) and parsed.skipped == 0
    net = sum((line.amount for line in parsed.lines), Decimal("0"))
    assert parsed.opening_balance == OPENING_BALANCE
    assert parsed.closing_balance == OPENING_BALANCE + net
    for entry, line in zip(statement.entries, parsed.lines, strict=True):
        assert line.amount == (entry.amount if entry.credit else -entry.amount)
        assert line.booking_date == TODAY and line.currency == "EUR"
        assert line.counterparty_name == entry.name and line.remittance_unstructured == entry.remittance
        assert line.remittance_structured == entry.creditor_ref
        assert line.bank_ref.startswith("DEMO20261207")
    slip = next(e for e in statement.entries if e.kind == "ocr_slip")
    assert "O" in slip.remittance.split()[-1] and slip.invoices[0] not in slip.remittance
    assert next(e for e in statement.entries if e.creditor_ref).creditor_ref.startswith("RF")

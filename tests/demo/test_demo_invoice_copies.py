"""The demo attaches a generated "invoice copy" PDF to a few open invoices (once)."""

from __future__ import annotations

from datetime import date

import pytest

pytestmark = pytest.mark.usefixtures("document_root")


def test_copies_are_real_pdfs_for_the_oldest_debtors_open_invoices_once(entity, make_customer, make_invoice):
    from pypdf import PdfReader

    from relance.demo.invoice_copies import demo_invoice_copies_attach
    from relance.ledger.models import InvoiceDocument
    from relance.ledger.selectors import invoice_document_current

    old = make_customer("OLD", name="Oldest <Debtor>")
    newer = make_customer("NEW")
    first = make_invoice(old, "INV-OLD", "120.00", date(2026, 1, 1), date(2026, 1, 31))
    make_invoice(newer, "INV-NEW", "80.00", date(2026, 3, 1), date(2026, 3, 31))

    assert demo_invoice_copies_attach(entity=entity, as_of=date(2026, 4, 1), customers=1) == 1
    document = invoice_document_current(invoice=first)
    assert document is not None and document.original_name == "INV-OLD.pdf"
    from io import BytesIO

    with document.file.open("rb") as handle:
        text = PdfReader(BytesIO(handle.read())).pages[0].extract_text()
    assert "INV-OLD" in text and "Oldest <Debtor>" in text
    assert demo_invoice_copies_attach(entity=entity, as_of=date(2026, 4, 1)) == 0  # once
    assert InvoiceDocument.objects.count() == 1

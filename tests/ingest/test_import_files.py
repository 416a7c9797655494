"""`relance import` on well-formed files: create, re-import, update, dry run, XLSX, mappings, entities."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from relance.ingest.sources import open_table
from relance.ledger.models import Contact, Customer, Entity, Invoice
from tests.ingest.conftest import CUSTOMERS_CSV, INVOICES_CSV

pytestmark = pytest.mark.django_db


def test_customers_import_creates_accounts_and_primary_billing_contacts(customers_loaded):
    assert customers_loaded.outcome["created"] == 3
    dupont = Customer.objects.get(external_ref="C1")
    assert (dupont.name, dupont.currency, dupont.payment_terms_days) == ("Dupont SARL", "EUR", 30)
    assert dupont.credit_limit == Decimal("50000")
    assert (dupont.language, dupont.country, dupont.segment) == ("fr", "FR", "SMB")
    contact = Contact.objects.get(customer=dupont)
    # The national number is read with the customer's country as region and stored in E.164.
    assert (contact.role, contact.email, contact.phone) == ("billing", "ap@dupont.fr", "+33123456789")
    assert not Contact.objects.filter(customer__external_ref="C2").exists()


def test_invoices_import_links_customers_and_keeps_amounts_exact(invoices_loaded):
    assert invoices_loaded.outcome["created"] == 4
    invoice = Invoice.objects.get(external_ref="I2")
    assert invoice.customer.external_ref == "C1"
    assert (invoice.issue_date, invoice.due_date) == (date(2026, 1, 20), date(2026, 2, 19))
    assert invoice.amount == Decimal("300.50")
    assert Invoice.objects.get(external_ref="I3").currency == "GBP"


def test_reimporting_the_same_files_changes_nothing(invoices_loaded, write, run_import):
    stamps = dict(Invoice.objects.values_list("external_ref", "updated_at"))
    customers = run_import("customers", write("customers.csv", CUSTOMERS_CSV))
    invoices = run_import("invoices", write("invoices.csv", INVOICES_CSV))
    assert (customers.outcome["created"], customers.outcome["updated"], customers.outcome["unchanged"]) == (
        0,
        0,
        3,
    )
    assert (invoices.outcome["created"], invoices.outcome["updated"], invoices.outcome["unchanged"]) == (
        0,
        0,
        4,
    )
    assert dict(Invoice.objects.values_list("external_ref", "updated_at")) == stamps
    assert Contact.objects.count() == 2


def test_an_updated_row_updates_the_existing_record(invoices_loaded, write, run_import):
    changed = INVOICES_CSV.replace(
        "I2,C1,2026-01-20,2026-02-19,EUR,300.50", "I2,C1,2026-01-20,2026-03-01,EUR,310"
    )
    run = run_import("invoices", write("invoices.csv", changed))
    assert (run.outcome["created"], run.outcome["updated"], run.outcome["unchanged"]) == (0, 1, 3)
    invoice = Invoice.objects.get(external_ref="I2")
    assert (invoice.due_date, invoice.amount) == (date(2026, 3, 1), Decimal("310"))
    assert Invoice.objects.count() == 4


def test_an_updated_customer_email_updates_its_primary_contact(customers_loaded, write, run_import):
    run = run_import(
        "customers", write("customers.csv", CUSTOMERS_CSV.replace("ap@dupont.fr", "compta@dupont.fr"))
    )
    assert (run.outcome["updated"], run.outcome["unchanged"]) == (1, 2)
    assert list(Contact.objects.filter(customer__external_ref="C1").values_list("email", flat=True)) == [
        "compta@dupont.fr"
    ]


def test_absent_optional_columns_leave_existing_values_alone(customers_loaded, write, run_import):
    run = run_import("customers", write("names.csv", "customer_ref,name\nC1,Dupont et Fils\n"))
    assert run.outcome["updated"] == 1
    dupont = Customer.objects.get(external_ref="C1")
    assert (dupont.name, dupont.segment, dupont.payment_terms_days) == ("Dupont et Fils", "SMB", 30)


def test_dry_run_reports_what_would_happen_and_writes_nothing(customers_loaded, write, run_import):
    run = run_import("invoices", write("invoices.csv", INVOICES_CSV), "--dry-run")
    assert run.ok
    assert (run.outcome["created"], run.outcome["committed"], run.outcome["dry_run"]) == (4, False, True)
    assert Invoice.objects.count() == 0


def test_xlsx_is_read_with_dates_and_numbers_as_cells(customers_loaded, tmp_path, run_import):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["invoice_ref", "customer_ref", "issue_date", "due_date", "amount"])
    sheet.append(["X1", "C1", date(2026, 1, 5), date(2026, 2, 4), 55.94])
    sheet.append(["X2", "C1", "2026-01-06", "2026-02-05", 12])
    path = tmp_path / "invoices.xlsx"
    workbook.save(path)
    run = run_import("invoices", path)
    assert run.ok, run.stderr
    assert Invoice.objects.get(external_ref="X1").amount == Decimal("55.94")
    assert Invoice.objects.get(external_ref="X2").issue_date == date(2026, 1, 6)


def test_xlsx_errors_name_the_sheet_row(customers_loaded, tmp_path, run_import):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["invoice_ref", "customer_ref", "issue_date", "due_date", "amount"])
    sheet.append(["X1", "C1", "2026-01-05", "2026-02-04", "abc"])
    path = tmp_path / "bad.xlsx"
    workbook.save(path)
    run = run_import("invoices", path)
    assert not run.ok
    assert f"{path}:2: amount: expected a positive amount" in run.stderr


def test_mapping_renames_columns_and_reads_dates_decimals_and_constants(customers_loaded, write, run_import):
    mapping = write(
        "mapping.yaml",
        'delimiter: ";"\ndate_format: "%d/%m/%Y"\ndecimal_separator: ","\nthousands_separator: "."\n'
        "columns:\n  invoice_ref: Facture\n  customer_ref: Client\n  issue_date: Date\n"
        "  due_date: Echeance\n  amount: Montant\nconstants:\n  currency: EUR\n",
    )
    source = write(
        "factures.csv", "Facture;Client;Date;Echeance;Montant\nF-1;C1;31/01/2026;02/03/2026;1.234,50\n"
    )
    run = run_import("invoices", source, "--mapping", str(mapping))
    assert run.ok, run.stderr + run.error
    invoice = Invoice.objects.get(external_ref="F-1")
    assert (invoice.issue_date, invoice.due_date, invoice.amount) == (
        date(2026, 1, 31),
        date(2026, 3, 2),
        Decimal("1234.50"),
    )
    assert invoice.currency == "EUR"


def test_mapping_with_an_unknown_canonical_field_is_a_clear_error(customers_loaded, write, run_import):
    mapping = write("mapping.yaml", "columns:\n  invoice_number: Facture\n")
    run = run_import("invoices", write("f.csv", INVOICES_CSV), "--mapping", str(mapping))
    assert not run.ok
    assert "unknown invoices field 'invoice_number'" in run.error
    assert "invoice_ref, customer_ref, issue_date" in run.error


def test_example_mappings_load(tmp_path):
    from pathlib import Path

    from relance.ingest.mappings import mapping_load

    root = Path(__file__).resolve().parents[2] / "docs" / "mappings"
    assert mapping_load(root / "ibm-ar.yaml", kind="payments").derived["payment_ref"] == "PAY-{invoiceNumber}"
    assert mapping_load(root / "erp-semicolon-eu.yaml", kind="invoices").decimal_separator == ","
    assert mapping_load(root / "us-customers.yaml", kind="customers").constants["currency"] == "USD"


def test_imports_go_to_the_entity_named_by_entity(invoices_loaded, write, run_import):
    other = Entity.objects.create(name="subsidiary", currency="USD")
    without = run_import("customers", write("c.csv", "customer_ref,name\nS1,Sub customer\n"))
    assert not without.ok and "--entity" in without.error
    run = run_import(
        "customers", write("c.csv", "customer_ref,name\nS1,Sub customer\n"), "--entity", "subsidiary"
    )
    assert run.ok
    customer = Customer.objects.get(external_ref="S1")
    assert (customer.entity, customer.currency) == (other, "USD")


def test_reader_streams_rows_with_physical_line_numbers(write):
    import inspect

    path = write("f.csv", 'invoice_ref,po_number\nA,"two\nlines"\n\nB,x\n')
    table = open_table(path)
    rows = table.rows
    assert [(row.line, row.cells["invoice_ref"]) for row in rows] == [(2, "A"), (5, "B")]
    assert inspect.isgenerator(rows)

"""Bad input: every file below is rejected whole, with each error at FILE:LINE, and leaves nothing."""

from __future__ import annotations

import csv
import tracemalloc
from decimal import Decimal

import pytest

from relance.ingest.services import file_import
from relance.ledger.models import Allocation, Contact, CreditNote, Customer, Invoice, Payment

pytestmark = pytest.mark.django_db

HEADER = "invoice_ref,customer_ref,issue_date,due_date,currency,amount\n"


def assert_nothing_written(customers: int = 3, invoices: int = 0) -> None:
    assert Customer.objects.count() == customers
    assert Invoice.objects.count() == invoices
    assert Payment.objects.count() == 0
    assert CreditNote.objects.count() == 0
    assert Allocation.objects.count() == 0


def test_unknown_customer_on_an_invoice(customers_loaded, write, run_import):
    path = write(
        "inv.csv", HEADER + "I1,C1,2026-01-05,2026-02-04,EUR,10\nI2,NOPE,2026-01-05,2026-02-04,EUR,10\n"
    )
    run = run_import("invoices", path)
    assert not run.ok
    assert (
        f"{path}:3: customer_ref: expected a customer_ref already imported for this entity, found 'NOPE'"
        in run.stderr
    )
    assert_nothing_written()


def test_duplicate_refs_inside_one_file(customers_loaded, write, run_import):
    path = write(
        "inv.csv",
        HEADER + "I1,C1,2026-01-05,2026-02-04,EUR,10\nI2,C1,2026-01-05,2026-02-04,EUR,10\n"
        "I1,C1,2026-01-05,2026-02-04,EUR,10\n",
    )
    run = run_import("invoices", path)
    assert not run.ok
    assert (
        f"{path}:4: invoice_ref: expected a ref used only once in the file (it is already on line 2)"
        in run.stderr
    )
    assert_nothing_written()


def test_duplicate_refs_across_batches_are_found(customers_loaded, write, monkeypatch):
    from relance.ingest import services
    from relance.ledger.selectors import entity_resolve

    monkeypatch.setattr(services.InvoiceWriter, "batch_size", 2)
    rows = (
        "".join(f"I{n},C1,2026-01-05,2026-02-04,EUR,10\n" for n in range(5))
        + "I1,C1,2026-01-05,2026-02-04,EUR,11\n"
    )
    outcome = file_import(kind="invoices", path=write("inv.csv", HEADER + rows), entity=entity_resolve())
    assert not outcome.committed
    assert [str(e).split(": ", 1)[1] for e in outcome.errors] == [
        "invoice_ref: expected a ref used only once in the file (it is already on line 3), found 'I1'"
    ]
    assert_nothing_written()


def test_due_date_before_issue_date(customers_loaded, write, run_import):
    path = write("inv.csv", HEADER + "I1,C1,2026-02-05,2026-02-04,EUR,10\n")
    run = run_import("invoices", path)
    assert (
        f"{path}:2: due_date: expected a due date on or after the issue date 2026-02-05, found '2026-02-04'"
        in run.stderr
    )
    assert_nothing_written()


@pytest.mark.parametrize("amount", ["-10", "0", "abc", "1,5", "12.34567", "NaN"])
def test_negative_zero_or_non_numeric_amounts(customers_loaded, write, run_import, amount):
    path = write("inv.csv", HEADER + f'I1,C1,2026-01-05,2026-02-04,EUR,"{amount}"\n')
    run = run_import("invoices", path)
    assert not run.ok
    assert (
        f"{path}:2: amount: expected a positive amount with '.' as decimal separator and at most 4 decimals, found '{amount}'"
        in run.stderr
    )
    assert_nothing_written()


def test_unknown_currency(customers_loaded, write, run_import):
    path = write(
        "inv.csv", HEADER + "I1,C1,2026-01-05,2026-02-04,EUR,10\nI2,C1,2026-01-05,2026-02-04,EUX,10\n"
    )
    run = run_import("invoices", path)
    assert f"{path}:3: currency: expected an ISO 4217 currency code such as EUR, found 'EUX'" in run.stderr
    assert_nothing_written()


def test_every_error_of_every_row_is_listed(customers_loaded, write, run_import):
    path = write("inv.csv", HEADER + "I1,C9,2026-13-05,2026-02-04,EUR,-1\n,C1,2026-01-05,2026-02-04,XXX,1\n")
    run = run_import("invoices", path)
    lines = [line for line in run.stderr.splitlines() if line.startswith(str(path))]
    assert [line.split(": ")[1] for line in lines] == [
        "customer_ref",
        "issue_date",
        "amount",
        "invoice_ref",
        "currency",
    ]
    assert "5 error(s) in 2 row(s); nothing was imported" in run.error


def test_a_payment_allocating_more_than_the_invoice_owes(invoices_loaded, write, run_import):
    path = write(
        "pay.csv",
        "payment_ref,customer_ref,date,amount,currency,invoice_ref\n"
        "P1,C1,2026-02-01,1000,EUR,I1\n"
        "P2,C1,2026-02-02,200.01,EUR,I1\n"
        "P3,C1,2026-02-02,5,EUR,I2\n",
    )
    run = run_import("payments", path)
    assert not run.ok
    assert (
        f"{path}:3: amount: expected at most 200.00 (what invoice I1 still owes), found '200.01'"
        in run.stderr
    )
    assert_nothing_written(invoices=4)


def test_a_payment_in_another_currency_than_its_invoice(invoices_loaded, write, run_import):
    path = write(
        "pay.csv", "payment_ref,customer_ref,date,amount,currency,invoice_ref\nP1,C1,2026-02-01,10,USD,I1\n"
    )
    run = run_import("payments", path)
    assert f"{path}:2: currency: expected EUR, the invoice's currency" in run.stderr
    assert_nothing_written(invoices=4)


def test_a_payment_before_the_invoice_was_issued(invoices_loaded, write, run_import):
    path = write(
        "pay.csv", "payment_ref,customer_ref,date,amount,currency,invoice_ref\nP1,C1,2026-01-01,10,EUR,I1\n"
    )
    run = run_import("payments", path)
    assert f"{path}:2: date: expected a date on or after the invoice's issue date" in run.stderr
    assert_nothing_written(invoices=4)


def test_a_csv_in_cp1252_with_semicolons(entity, write, run_import):
    text = "customer_ref;name;country\nC1;Société Générale;FR\nC2;Crédit Agricole – Île-de-France;FR\n"
    run = run_import("customers", write("clients.csv", text, encoding="cp1252"))
    assert run.ok, run.stderr + run.error
    assert (run.outcome["encoding"], run.outcome["delimiter"]) == ("cp1252", ";")
    assert Customer.objects.get(external_ref="C2").name == "Crédit Agricole – Île-de-France"


def test_a_csv_in_latin_1_with_tabs(entity, write, run_import):
    text = "customer_ref\tname\nC1\tBrasserie Müller\nC2\tCafé Ñandú\n"
    run = run_import("customers", write("clients.tsv", text, encoding="latin-1"))
    assert run.ok, run.stderr + run.error
    assert Customer.objects.get(external_ref="C2").name == "Café Ñandú"


def test_utf8_with_bom_and_pipes(entity, write, run_import):
    run = run_import("customers", write("c.csv", "\ufeffcustomer_ref|name\nC1|Łódź Sp. z o.o.\n"))
    assert run.ok, run.error
    assert Customer.objects.get(external_ref="C1").name == "Łódź Sp. z o.o."


def test_an_empty_file(entity, write, run_import):
    run = run_import("invoices", write("empty.csv", ""))
    assert not run.ok
    assert (
        "empty.csv: the file is empty: expected a header line with the columns invoice_ref, customer_ref"
        in run.error
    )


def test_a_header_only_file(entity, write, run_import):
    run = run_import("invoices", write("header.csv", HEADER))
    assert not run.ok
    assert "header.csv: the file has a header but no data rows" in run.error


def test_a_missing_required_column_is_one_error_naming_the_expected_columns(entity, write, run_import):
    path = write("inv.csv", "invoice_ref,customer_ref,issue_date,amount\nI1,C1,2026-01-05,10\n")
    run = run_import("invoices", path)
    assert not run.ok
    assert run.error.startswith(
        f"{path}:1: missing required column(s) due_date; invoices files need the columns "
        "invoice_ref, customer_ref, issue_date, due_date, amount"
    )


def test_a_row_with_more_cells_than_the_header(customers_loaded, write, run_import):
    path = write("inv.csv", HEADER + "I1,C1,2026-01-05,2026-02-04,EUR,1,200\n")
    run = run_import("invoices", path)
    assert f"{path}:2: row: expected 6 cells as in the header, found '7 cells'" in run.stderr
    assert_nothing_written()


def test_formula_injection_is_stored_as_text_and_neutralised_in_rejects(entity, write, run_import):
    path = write(
        "c.csv",
        'customer_ref,name,email\nC1,"=HYPERLINK(""http://x"",""y"")",\nC2,+cmd|calc,not-an-email\n@SUM(A1),-2+3,\n',
    )
    run = run_import("customers", path, "--skip-invalid")
    assert run.ok
    assert Customer.objects.get(external_ref="C1").name == '=HYPERLINK("http://x","y")'
    assert Customer.objects.get(external_ref="@SUM(A1)").name == "-2+3"
    rejects = path.with_name("c.csv.rejects.csv")
    assert run.outcome["rejects_path"] == str(rejects)
    with rejects.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.reader(stream))
    assert rows[0] == ["customer_ref", "name", "email", "line", "error"]
    assert rows[1][:4] == ["C2", "'+cmd|calc", "not-an-email", "3"]
    assert rows[1][4].startswith("email: expected an e-mail address")


def test_skip_invalid_imports_the_valid_rows_only(customers_loaded, write, run_import):
    path = write(
        "inv.csv", HEADER + "I1,C1,2026-01-05,2026-02-04,EUR,10\nI2,NOPE,2026-01-05,2026-02-04,EUR,10\n"
    )
    run = run_import("invoices", path, "--skip-invalid")
    assert run.ok
    assert (run.outcome["created"], run.outcome["rejected_rows"]) == (1, 1)
    assert list(Invoice.objects.values_list("external_ref", flat=True)) == ["I1"]


def test_printed_errors_are_capped_with_a_count_of_the_rest(customers_loaded, write, run_import, monkeypatch):
    from relance.ingest.services import rejects

    monkeypatch.setattr(rejects, "MAX_LISTED_ERRORS", 3)
    rows = "".join(f"I{n},NOPE,2026-01-05,2026-02-04,EUR,10\n" for n in range(5))
    run = run_import("invoices", write("inv.csv", HEADER + rows))
    assert run.stderr.count("customer_ref: expected") == 3
    assert "… and 2 more error(s)" in run.stderr


def test_a_large_file_streams_in_flat_memory(customers_loaded, tmp_path):
    """~50 MB of CSV imports with a memory peak far below the file size (rows are never all held).

    The rows carry a wide column that no canonical field uses, so the file is large while the
    test stays quick; the 1,000,000-row run is in benchmarks/bench_import.py.
    """
    from relance.ledger.selectors import entity_resolve

    path = tmp_path / "big.csv"
    notes = "x" * 2000
    with path.open("w", encoding="utf-8") as stream:
        stream.write("invoice_ref,customer_ref,issue_date,due_date,amount,notes\n")
        for n in range(25_000):
            stream.write(f"INV-{n:07d},C1,2026-01-05,2026-02-04,{n % 997 + 1}.25,{notes}\n")
    size = path.stat().st_size
    assert size > 50_000_000
    # The columnar path's modules, imported once per process (~23 MB of code objects): not memory
    # that grows with the file.
    import pyarrow.compute
    import pyarrow.csv  # noqa: F401

    tracemalloc.start()
    try:
        outcome = file_import(kind="invoices", path=path, entity=entity_resolve())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert outcome.committed and outcome.result.created == 25_000
    assert peak < size / 5, f"peak {peak:,} bytes for a {size:,}-byte file"
    assert Invoice.objects.count() == 25_000
    assert sum(Invoice.objects.values_list("amount", flat=True)) == sum(
        Decimal(f"{n % 997 + 1}.25") for n in range(25_000)
    )


def test_contacts_with_bad_cells_are_rejected(customers_loaded, write, run_import):
    path = write(
        "contacts.csv",
        "customer_ref,name,email,phone,preferred_channel,opt_out_sms\n"
        "C1,Paul,paul@dupont.fr,06 12 34 56 78,pigeon,maybe\n",
    )
    run = run_import("contacts", path)
    assert (
        f"{path}:2: preferred_channel: expected one of email, sms, letter, call, portal, found 'pigeon'"
        in run.stderr
    )
    assert f"{path}:2: opt_out_sms: expected yes/no, true/false or 1/0, found 'maybe'" in run.stderr
    assert Contact.objects.count() == 2


def test_a_byte_that_does_not_decode_after_the_sample_is_a_clear_error(
    customers_loaded, tmp_path, run_import
):
    from relance.ingest.sources import SAMPLE_BYTES

    path = tmp_path / "inv.csv"
    rows = [f"I{n},C1,2026-01-05,2026-02-04,EUR,10\n" for n in range(SAMPLE_BYTES // 30 + 10)]
    path.write_bytes(
        (HEADER + "".join(rows)).encode() + "I-x,C1,2026-01-05,2026-02-04,EUR,10,Société\n".encode("cp1252")
    )
    line = len(rows) + 2
    run = run_import("invoices", path)
    assert not run.ok
    assert f"{path}:{line}: cannot decode the file as utf-8; set `encoding:` in a mapping file" in run.error
    assert_nothing_written()


@pytest.mark.parametrize(
    ("currency", "amount", "places"), [("JPY", "10.5", 0), ("EUR", "0.001", 2), ("KWD", "1.0005", 3)]
)
def test_amounts_finer_than_the_currency_allows_are_refused(
    entity, write, run_import, currency, amount, places
):
    run_import("customers", write("c.csv", "customer_ref,name,currency\nC1,Dupont,EUR\n"))
    result = run_import(
        "invoices",
        write(
            "i.csv",
            f"invoice_ref,customer_ref,issue_date,due_date,currency,amount\nI1,C1,2026-01-05,2026-02-04,{currency},{amount}\n",
        ),
    )
    assert not result.ok
    assert (
        f"i.csv:2: amount: expected an amount with at most {places} decimal(s), as {currency} has, found '{amount}'"
        in result.stderr
    )
    assert not Invoice.objects.exists()

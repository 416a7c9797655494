"""Payments (one row per allocation), credit notes and contacts through `relance import`."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from relance.ledger.models import Allocation, Contact, CreditNote, Customer, Invoice, Payment
from relance.ledger.selectors import invoice_open_amount, payment_unallocated

pytestmark = pytest.mark.django_db

PAYMENTS = """payment_ref,customer_ref,date,amount,currency,invoice_ref
P1,C1,2026-02-10,1200,EUR,I1
P2,C1,2026-02-11,100,EUR,I2
P1,C1,2026-02-10,100.50,EUR,I2
P2,C1,2026-02-11,25,EUR,
P3,C2,2026-02-12,999.99,GBP,I3
"""


def allocations() -> set[tuple[str, str, Decimal, date]]:
    return {
        (a.payment.external_ref, a.invoice.external_ref, a.amount, a.date)
        for a in Allocation.objects.select_related("payment", "invoice").filter(payment__isnull=False)
    }


@pytest.fixture
def payments_loaded(invoices_loaded, write, run_import):
    run = run_import("payments", write("payments.csv", PAYMENTS))
    assert run.ok, run.stderr + run.error
    return run


def test_rows_sharing_payment_ref_are_one_payment_with_its_allocations(payments_loaded):
    assert payments_loaded.outcome["created"] == 3
    p1 = Payment.objects.get(external_ref="P1")
    assert (p1.amount, p1.date, p1.currency) == (Decimal("1300.50"), date(2026, 2, 10), "EUR")
    assert allocations() == {
        ("P1", "I1", Decimal("1200"), date(2026, 2, 10)),
        ("P1", "I2", Decimal("100.50"), date(2026, 2, 10)),
        ("P2", "I2", Decimal("100"), date(2026, 2, 11)),
        ("P3", "I3", Decimal("999.99"), date(2026, 2, 12)),
    }
    # The row without an invoice is unapplied cash.
    assert payment_unallocated(payment=Payment.objects.get(external_ref="P2")) == Decimal("25")
    assert invoice_open_amount(invoice=Invoice.objects.get(external_ref="I2")) == Decimal("100.00")


def test_reimporting_payments_is_idempotent(payments_loaded, write, run_import):
    before = allocations()
    ids = set(Allocation.objects.values_list("id", flat=True))
    run = run_import("payments", write("payments.csv", PAYMENTS))
    assert (run.outcome["created"], run.outcome["updated"], run.outcome["unchanged"]) == (0, 0, 3)
    assert allocations() == before
    assert set(Allocation.objects.values_list("id", flat=True)) == ids


def test_a_changed_payment_replaces_its_allocations(payments_loaded, write, run_import):
    changed = PAYMENTS.replace("P1,C1,2026-02-10,100.50,EUR,I2\n", "P1,C1,2026-02-10,50,EUR,\n")
    run = run_import("payments", write("payments.csv", changed))
    assert (run.outcome["updated"], run.outcome["unchanged"]) == (1, 2)
    assert Payment.objects.get(external_ref="P1").amount == Decimal("1250")
    assert {a for a in allocations() if a[0] == "P1"} == {
        ("P1", "I1", Decimal("1200"), date(2026, 2, 10)),
    }
    assert payment_unallocated(payment=Payment.objects.get(external_ref="P1")) == Decimal("50")


def test_a_changed_payment_that_would_over_allocate_is_rejected_and_nothing_changes(
    payments_loaded, write, run_import
):
    before = allocations()
    changed = PAYMENTS.replace("P1,C1,2026-02-10,100.50,EUR,I2", "P1,C1,2026-02-10,200.51,EUR,I2")
    path = write("payments.csv", changed)
    run = run_import("payments", path)
    assert not run.ok
    assert (
        f"{path}:4: amount: expected at most 200.50 (what invoice I2 still owes), found '200.51'"
        in run.stderr
    )
    assert allocations() == before
    assert Payment.objects.get(external_ref="P1").amount == Decimal("1300.50")


def test_rows_of_one_payment_must_agree_on_customer_date_and_currency(invoices_loaded, write, run_import):
    path = write(
        "payments.csv",
        "payment_ref,customer_ref,date,amount,currency,invoice_ref\n"
        "P1,C1,2026-02-10,10,EUR,I1\nP1,C1,2026-02-11,10,EUR,I2\n",
    )
    run = run_import("payments", path)
    assert f"{path}:3: date: expected the same date as line 2 of payment P1, found '2026-02-11'" in run.stderr
    assert Payment.objects.count() == Allocation.objects.count() == 0


def test_two_rows_of_one_payment_for_the_same_invoice_are_duplicates(invoices_loaded, write, run_import):
    path = write(
        "payments.csv",
        "payment_ref,customer_ref,date,amount,currency,invoice_ref\n"
        "P1,C1,2026-02-10,10,EUR,I1\nP1,C1,2026-02-10,10,EUR,I1\n",
    )
    run = run_import("payments", path)
    assert (
        f"{path}:3: invoice_ref: expected one row per invoice in a payment (invoice already on line 2)"
        in run.stderr
    )
    assert Payment.objects.count() == 0


def test_payment_of_an_unknown_invoice(invoices_loaded, write, run_import):
    path = write(
        "payments.csv",
        "payment_ref,customer_ref,date,amount,currency,invoice_ref\nP1,C1,2026-02-10,10,EUR,I99\n",
    )
    run = run_import("payments", path)
    assert (
        f"{path}:2: invoice_ref: expected an invoice_ref already imported for this entity, found 'I99'"
        in run.stderr
    )
    assert Payment.objects.count() == 0


def test_payment_for_another_customers_invoice(invoices_loaded, write, run_import):
    path = write(
        "payments.csv",
        "payment_ref,customer_ref,date,amount,currency,invoice_ref\nP1,C3,2026-02-10,10,EUR,I1\n",
    )
    run = run_import("payments", path)
    assert f"{path}:2: invoice_ref: expected an invoice of the same customer account" in run.stderr
    assert Payment.objects.count() == 0


def test_invoice_amount_cannot_drop_below_what_is_allocated(payments_loaded, write, run_import):
    path = write(
        "inv.csv",
        "invoice_ref,customer_ref,issue_date,due_date,currency,amount\nI1,C1,2026-01-05,2026-02-04,EUR,1000\n",
    )
    run = run_import("invoices", path)
    assert (
        f"{path}:2: amount: expected an amount of at least 1200.00 (already allocated to invoices)"
        in run.stderr
    )
    assert Invoice.objects.get(external_ref="I1").amount == Decimal("1200")


CREDIT_NOTES = """credit_note_ref,customer_ref,date,amount,currency,invoice_ref,reason
CN1,C1,2026-01-25,100,EUR,I1,price adjustment
CN2,C1,2026-01-26,40,EUR,,goodwill
"""


def test_credit_notes_are_allocated_to_their_invoice_on_their_date(invoices_loaded, write, run_import):
    run = run_import("credit_notes", write("cn.csv", CREDIT_NOTES))
    assert run.ok, run.stderr
    assert run.outcome["created"] == 2
    allocation = Allocation.objects.get(credit_note__external_ref="CN1")
    assert (allocation.invoice.external_ref, allocation.amount, allocation.date) == (
        "I1",
        Decimal("100"),
        date(2026, 1, 25),
    )
    assert not Allocation.objects.filter(credit_note__external_ref="CN2").exists()
    assert CreditNote.objects.get(external_ref="CN2").reason == "goodwill"
    again = run_import("credit_notes", write("cn.csv", CREDIT_NOTES))
    assert (again.outcome["created"], again.outcome["updated"], again.outcome["unchanged"]) == (0, 0, 2)
    moved = run_import("credit_notes", write("cn.csv", CREDIT_NOTES.replace(",EUR,I1,", ",EUR,I2,")))
    assert (moved.outcome["updated"], moved.outcome["unchanged"]) == (1, 1)
    assert list(
        Allocation.objects.filter(credit_note__external_ref="CN1").values_list(
            "invoice__external_ref", flat=True
        )
    ) == ["I2"]


def test_a_credit_note_larger_than_the_invoice_owes_is_rejected(invoices_loaded, write, run_import):
    path = write(
        "cn.csv", "credit_note_ref,customer_ref,date,amount,invoice_ref\nCN1,C1,2026-01-25,300.51,I2\n"
    )
    run = run_import("credit_notes", path)
    assert (
        f"{path}:2: amount: expected at most 300.50 (what invoice I2 still owes), found '300.51'"
        in run.stderr
    )
    assert CreditNote.objects.count() == Allocation.objects.count() == 0


CONTACTS = """customer_ref,contact_ref,name,role,email,phone,preferred_channel,postal_address,opt_out_email,opt_out_sms,opt_out_letter,opt_out_phone
C1,,Paul Martin,accounts payable,Paul.Martin@Dupont.fr,06 12 34 56 78,sms,"1 rue de la Paix
75002 Paris",no,yes,0,1
C2,CT-9,Jane Doe,billing,jane@acme.co.uk,020 7946 0018,email,,,,,
"""


def test_contacts_are_created_then_updated_by_ref_or_by_email(customers_loaded, write, run_import):
    run = run_import("contacts", write("contacts.csv", CONTACTS))
    assert run.ok, run.stderr + run.error
    assert run.outcome["created"] == 2
    paul = Contact.objects.get(email="paul.martin@dupont.fr")
    assert (paul.phone, paul.preferred_channel, paul.role) == ("+33612345678", "sms", "accounts payable")
    assert (paul.opt_out_email, paul.opt_out_sms, paul.opt_out_letter, paul.opt_out_phone) == (
        False,
        True,
        False,
        True,
    )
    assert paul.postal_address == "1 rue de la Paix\n75002 Paris"
    assert Contact.objects.get(external_ref="CT-9").phone == "+442079460018"
    again = run_import("contacts", write("contacts.csv", CONTACTS))
    assert (again.outcome["created"], again.outcome["updated"], again.outcome["unchanged"]) == (0, 0, 2)
    renamed = run_import("contacts", write("contacts.csv", CONTACTS.replace("Jane Doe", "Jane Smith")))
    assert (renamed.outcome["updated"], renamed.outcome["unchanged"]) == (1, 1)
    assert Contact.objects.get(external_ref="CT-9").name == "Jane Smith"
    assert Contact.objects.count() == 4  # 2 primary billing contacts from customers.csv + 2


def test_customer_parent_may_come_later_in_the_same_file(entity, write, run_import):
    from relance.ledger.models import Customer

    run = run_import(
        "customers", write("c.csv", "customer_ref,name,parent_ref\nSUB,Subsidiary,HQ\nHQ,Group,\n")
    )
    assert run.ok, run.stderr + run.error
    assert Customer.objects.get(external_ref="SUB").parent == Customer.objects.get(external_ref="HQ")
    bad = run_import("customers", write("c.csv", "customer_ref,name,parent_ref\nX,Orphan,NOBODY\n"))
    assert "parent_ref: expected a customer_ref in the database or in the file, found 'NOBODY'" in bad.stderr
    assert not Customer.objects.filter(external_ref="X").exists()


def test_invoice_issue_date_cannot_move_after_its_allocations(payments_loaded, write, run_import):
    path = write(
        "inv.csv",
        "invoice_ref,customer_ref,issue_date,due_date,currency,amount\nI1,C1,2026-02-11,2026-03-04,EUR,1200\n",
    )
    run = run_import("invoices", path)
    assert f"{path}:2: issue_date: expected an issue date on or before 2026-02-10" in run.stderr
    assert Invoice.objects.get(external_ref="I1").issue_date == date(2026, 1, 5)


def test_rows_of_one_payment_are_grouped_across_batches(invoices_loaded, write, run_import, monkeypatch):
    from relance.ingest.services import payments

    monkeypatch.setattr(payments.PaymentWriter, "batch_size", 2)
    monkeypatch.setattr(payments, "PAYMENT_BATCH_SIZE", 1)
    run = run_import("payments", write("payments.csv", PAYMENTS))
    assert run.ok, run.stderr + run.error
    assert Payment.objects.get(external_ref="P1").amount == Decimal("1300.50")
    assert Payment.objects.get(external_ref="P2").amount == Decimal("125")
    assert Allocation.objects.count() == 4


def test_every_row_of_a_payment_with_a_bad_row_is_rejected(invoices_loaded, write, run_import):
    path = write(
        "payments.csv",
        "payment_ref,customer_ref,date,amount,currency,invoice_ref\n"
        "P1,C1,2026-02-10,10,EUR,I1\nP2,C1,2026-02-10,5,EUR,I2\nP1,C1,2026-02-10,10,GBP,I2\nP1,C1,2026-02-10,1,EUR,\n",
    )
    run = run_import("payments", path, "--skip-invalid")
    assert run.ok
    assert (run.outcome["created"], run.outcome["rejected_rows"]) == (1, 3)
    import csv

    with path.with_name("payments.csv.rejects.csv").open(encoding="utf-8", newline="") as stream:
        rejects = list(csv.reader(stream))
    assert [row[:7] for row in rejects[1:]] == [
        ["P1", "C1", "2026-02-10", "10", "EUR", "I1", "2"],
        ["P1", "C1", "2026-02-10", "10", "GBP", "I2", "4"],
        ["P1", "C1", "2026-02-10", "1", "EUR", "", "5"],
    ]
    assert rejects[1][7].startswith(
        "payment_ref: expected every row of payment P1 to be valid (line 4 is not)"
    )
    assert rejects[2][7].startswith(
        "currency: expected the same currency as line 2 of payment P1, found 'GBP'"
    )
    assert rejects[3][7].startswith(
        "payment_ref: expected every row of payment P1 to be valid (line 4 is not)"
    )
    assert list(Payment.objects.values_list("external_ref", flat=True)) == ["P2"]


def test_a_large_payments_file_is_grouped_in_flat_memory(invoices_loaded, tmp_path):
    """Payment rows wait in a temporary table, not in Python: memory does not grow with the file."""
    import tracemalloc

    from relance.ingest.services import file_import

    path = tmp_path / "payments.csv"
    rows = 30_000
    with path.open("w", encoding="utf-8") as stream:
        stream.write("payment_ref,customer_ref,date,amount,currency,invoice_ref\n")
        for n in range(rows):
            stream.write(f"PAY-{n % 15_000:06d},C1,2026-02-10,0.01,EUR,\n")
    tracemalloc.start()
    try:
        outcome = file_import(kind="payments", path=path, entity=Invoice.objects.first().entity)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert outcome.committed and outcome.result.created == 15_000
    assert Payment.objects.get(external_ref="PAY-000000").amount == Decimal("0.02")
    # Holding the grouped rows in Python instead peaked at about 14 MB here.
    assert peak < 8_000_000, f"peak {peak:,} bytes"


def test_a_row_rejected_for_its_parent_leaves_nothing_behind(entity, write, run_import):
    from relance.ledger.models import Contact

    run_import("customers", write("a.csv", "customer_ref,name,segment\nOLD,Old Name,SMB\n"))
    result = run_import(
        "customers",
        write(
            "c.csv",
            "customer_ref,name,segment,email,parent_ref\n"
            "A,Alpha,SMB,a@example.com,\n"
            "B,Beta,SMB,b@example.com,NOBODY\n"
            "OLD,New Name,Enterprise,,NOBODY\n",
        ),
        "--skip-invalid",
    )
    assert result.ok
    assert result.outcome["created"] == 1 and result.outcome["updated"] == 0
    assert not Customer.objects.filter(external_ref="B").exists()
    assert not Contact.objects.filter(email="b@example.com").exists()
    old = Customer.objects.get(external_ref="OLD")
    assert (old.name, old.segment, old.parent) == ("Old Name", "SMB", None)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("S,Self,S\n", "not the customer itself"),
        ("A,Alpha,B\nB,Beta,A\n", "groups have one level"),
        ("TOP,Top,\nMID,Middle,TOP\nLOW,Low,MID\n", "MID belongs to TOP"),
    ],
)
def test_groups_have_one_level_and_no_cycles(entity, write, run_import, rows, message):
    result = run_import("customers", write("c.csv", "customer_ref,name,parent_ref\n" + rows))
    assert not result.ok
    assert message in result.stderr
    assert not Customer.objects.exists()


def test_a_subsidiary_cannot_become_a_parent_later(entity, write, run_import):
    run_import("customers", write("c.csv", "customer_ref,name,parent_ref\nHQ,Group,\nSUB,Subsidiary,HQ\n"))
    result = run_import(
        "customers", write("d.csv", "customer_ref,name,parent_ref\nHQ,Group,OTHER\nOTHER,Other,\n")
    )
    assert not result.ok and "HQ has subsidiaries of its own" in result.stderr
    assert Customer.objects.get(external_ref="HQ").parent is None


def test_voiding_by_import_dates_the_void_so_past_reports_keep_the_invoice(entity, write, run_import):
    from django.utils import timezone

    from relance.ledger.selectors import ledger_totals

    header = "invoice_ref,customer_ref,issue_date,due_date,currency,amount,status\n"
    run_import("customers", write("c.csv", "customer_ref,name\nC1,Dupont\n"))
    run_import(
        "invoices",
        write(
            "i.csv",
            header + "I1,C1,2026-01-05,2026-02-04,EUR,100,open\nI2,C1,2026-01-05,2026-02-04,EUR,50,void\n",
        ),
    )
    assert Invoice.objects.get(external_ref="I2").voided_on is None  # void from the start
    assert run_import("invoices", write("j.csv", header + "I1,C1,2026-01-05,2026-02-04,EUR,100,void\n")).ok
    voided = Invoice.objects.get(external_ref="I1")
    assert voided.voided_on == timezone.localdate()
    yesterday = voided.voided_on.fromordinal(voided.voided_on.toordinal() - 1)
    assert ledger_totals(entity=entity, as_of=yesterday)["EUR"].open_invoices == Decimal(100)
    assert "EUR" not in ledger_totals(entity=entity, as_of=voided.voided_on)
    assert run_import("invoices", write("k.csv", header + "I1,C1,2026-01-05,2026-02-04,EUR,100,open\n")).ok
    assert Invoice.objects.get(external_ref="I1").voided_on is None

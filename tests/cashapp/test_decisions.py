"""A person's decisions on bank lines (``relance.cashapp.decisions``): accept a suggestion, split,
assign to a customer, unapply; each through the one apply path, audited, learned; errors write
nothing; the applied-cash export shows applications in force and reversed."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from relance.audit.models import AuditEvent
from relance.cashapp import decisions, matching
from relance.cashapp.models import BankLine, BankLineApplication, KnownPayerAccount, KnownReferencePattern
from relance.cashapp.services import bank_account_add, bank_statement_import
from relance.core.actors import Actor
from relance.core.errors import Conflict, ValidationFailed
from relance.ledger.models import Allocation, Payment
from relance.ledger.selectors import data_versions, invoice_open_amount
from tests.cashapp.samples import Entry, Statement, camt

pytestmark = pytest.mark.django_db

IBAN = "NL77ABNA0574908765"
STRANGER = "DE89370400440532013000"
D = date.fromisoformat
ALICE = Actor.cli("alice")


def run(name: str, *args: str) -> str:
    out = io.StringIO()
    call_command(name, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def account(entity):
    return bank_account_add(entity=entity, account=IBAN, currency="EUR", name="main")


@pytest.fixture
def ledger(make_customer, make_invoice):
    dupont = make_customer("C1", name="Dupont SARL")
    other = make_customer("C2", name="Zeta Industries GmbH")
    invoices = {
        "INV-2026-0001": make_invoice(dupont, "INV-2026-0001", "1405.31", D("2026-10-01"), D("2026-10-31")),
        "INV-2026-0002": make_invoice(dupont, "INV-2026-0002", "500.00", D("2026-10-05"), D("2026-11-04")),
        "INV-2026-0003": make_invoice(dupont, "INV-2026-0003", "250.00", D("2026-10-07"), D("2026-11-06")),
        "INV-2026-0104": make_invoice(other, "INV-2026-0104", "980.00", D("2026-10-10"), D("2026-11-09")),
    }
    return {"dupont": dupont, "other": other, "invoices": invoices}


def imported(entity, tmp_path: Path, *entries: Entry, statement_id: str = "S-1") -> dict[str, BankLine]:
    path = tmp_path / f"{statement_id}.xml"
    path.write_bytes(camt(2, Statement(statement_id, iban=IBAN, entries=entries)))
    bank_statement_import(entity=entity, path=path)
    return {line.bank_ref: line for line in BankLine.objects.filter(entity=entity)}


def suggested(line: BankLine, *candidates: tuple[str, str, str]) -> BankLine:
    """Give ``line`` ranked suggestions (customer_ref, invoice_ref, amount) as matching stores them."""
    line.status = "suggested"
    line.suggestions = [
        {
            "allocations": [{"invoice_ref": invoice_ref, "amount": amount}],
            "customer_ref": customer_ref,
            "confidence": 0.5 - index / 10,
            "reasons": [f"candidate {index}"],
            "residual": "0.00",
            "shortfall": "0.00",
        }
        for index, (customer_ref, invoice_ref, amount) in enumerate(candidates)
    ]
    line.save()
    return line


def test_accept_applies_the_chosen_suggestion(tmp_path, entity, account, ledger) -> None:
    line = imported(entity, tmp_path, Entry("500.00", servicer_ref="A-1", iban=STRANGER))["A-1"]
    suggested(line, ("C1", "INV-2026-0002", "500.00"), ("C1", "INV-2026-0001", "500.00"))
    before = data_versions(entity_id=entity.pk)["ledger"]

    line = decisions.line_accept(entity=entity, line=line, suggestion_index=1, actor=ALICE)

    assert line.status == "applied"
    payment = Payment.objects.get(external_ref=f"BANK-{line.pk}")
    assert [(a.invoice.external_ref, a.amount) for a in payment.allocations.all()] == [
        ("INV-2026-0001", Decimal("500.00"))
    ]
    assert data_versions(entity_id=entity.pk)["ledger"] > before
    application = BankLineApplication.objects.get()
    assert (application.how, application.applied_by, application.payment_ref) == (
        "accept",
        ALICE.label,
        payment.external_ref,
    )
    assert application.allocations == [{"invoice_ref": "INV-2026-0001", "amount": "500.00"}]
    assert f"accepted by {ALICE.label}" in line.reasons  # then what became of the shortfall
    event = AuditEvent.objects.get(action="bank_line_accept")
    assert event.actor_label == ALICE.label and event.after["bank_ref"] == "A-1"
    # Learned: the stranger's account now pays Dupont.
    assert KnownPayerAccount.objects.filter(account_iban=STRANGER, customer=ledger["dupont"]).exists()
    # Applied: accepting again is a conflict, nothing written.
    with pytest.raises(Conflict, match="already applied"):
        decisions.line_accept(entity=entity, line=line, actor=ALICE)
    assert Payment.objects.count() == 1


def test_accept_a_suggestion_that_does_not_exist(tmp_path, entity, account, ledger) -> None:
    line = imported(entity, tmp_path, Entry("500.00", servicer_ref="A-1"))["A-1"]
    suggested(line, ("C1", "INV-2026-0002", "500.00"))
    with pytest.raises(ValidationFailed, match="no suggestion 3 \\(it has 1\\)"):
        decisions.line_accept(entity=entity, line=line, suggestion_index=3, actor=ALICE)
    assert Payment.objects.count() == 0 and BankLineApplication.objects.count() == 0


def test_split_across_invoices_keeps_the_rest_as_unapplied_cash(tmp_path, entity, account, ledger) -> None:
    line = imported(entity, tmp_path, Entry("800.00", servicer_ref="A-1", iban=STRANGER))["A-1"]
    line = decisions.line_split(
        entity=entity,
        line=line,
        allocations=[("INV-2026-0002", Decimal("500.00")), ("INV-2026-0003", Decimal("200.00"))],
        actor=ALICE,
        note="remittance e-mail of 4 Dec",
    )
    assert line.status == "applied"
    payment = Payment.objects.get()
    assert payment.amount == Decimal("800.00") and payment.customer == ledger["dupont"]
    assert sorted((a.invoice.external_ref, a.amount) for a in payment.allocations.all()) == [
        ("INV-2026-0002", Decimal("500.00")),
        ("INV-2026-0003", Decimal("200.00")),
    ]
    application = BankLineApplication.objects.get()
    assert (application.how, application.residual, application.shortfall) == (
        "split",
        Decimal("100.00"),
        Decimal("50.00"),
    )
    assert "remittance e-mail of 4 Dec" in line.reasons
    assert invoice_open_amount(invoice=ledger["invoices"]["INV-2026-0003"]) == Decimal("50.00")


def test_split_errors_name_the_invoice_and_write_nothing(tmp_path, entity, account, ledger) -> None:
    from relance.ledger.services import entity_create_or_update

    beta, _ = entity_create_or_update(name="beta", currency="EUR")
    from relance.ledger.models import Customer, Invoice

    theirs = Customer.objects.create(entity=beta, external_ref="B1", name="Beta customer")
    Invoice.objects.create(
        entity=beta,
        customer=theirs,
        external_ref="BETA-1",
        issue_date=D("2026-10-01"),
        due_date=D("2026-10-31"),
        amount=Decimal("100.00"),
        currency="EUR",
    )
    lines = imported(
        entity,
        tmp_path,
        Entry("1405.31", servicer_ref="A-0", unstructured="INV-2026-0001"),
        Entry("300.00", servicer_ref="A-1", iban=STRANGER),
    )
    matching.lines_match(entity=entity, actor=ALICE, confirm=False)  # INV-2026-0001 is paid: closed
    payments = Payment.objects.count()
    line = lines["A-1"]
    cases = [
        ([("BETA-1", Decimal("100.00"))], "invoice BETA-1 is not an invoice of entity acme"),
        ([("INV-2026-0001", Decimal("100.00"))], "invoice INV-2026-0001 is closed"),
        ([("INV-2026-0003", Decimal("260.00"))], "invoice INV-2026-0003 has 250.00 EUR open, less than"),
        (
            [("INV-2026-0002", Decimal("250.00")), ("INV-2026-0003", Decimal("100.00"))],
            "add up to 350.00 EUR, more than the line's 300.00",
        ),
        ([("INV-2026-0002", Decimal("0"))], "must be more than 0"),
    ]
    for allocations, message in cases:
        with pytest.raises(ValidationFailed, match=message.replace("(", "\\(")):
            decisions.line_split(entity=entity, line=line, allocations=allocations, actor=ALICE)
    assert Payment.objects.count() == payments
    assert BankLine.objects.get(pk=line.pk).status == "unmatched"


def test_assign_applies_when_the_customer_has_one_fitting_invoice(tmp_path, entity, account, ledger) -> None:
    line = imported(entity, tmp_path, Entry("980.00", servicer_ref="A-1", name="ZI Holding", iban=STRANGER))[
        "A-1"
    ]
    line = decisions.line_assign(entity=entity, line=line, customer="C2", actor=ALICE)
    # Who paid is known; one invoice of theirs has exactly that amount: applied.
    assert line.status == "applied"
    assert [a.invoice.external_ref for a in Allocation.objects.all()] == ["INV-2026-0104"]
    application = BankLineApplication.objects.get()
    assert (
        application.how == "assign"
        and application.reasons[0] == f"{ALICE.label} said Zeta Industries GmbH paid"
    )
    assert line.assigned_customer is None
    assert KnownPayerAccount.objects.filter(account_iban=STRANGER, customer=ledger["other"]).exists()
    assert AuditEvent.objects.filter(action="bank_line_assign").count() == 1


def test_assign_leaves_a_choice_to_the_person(tmp_path, entity, account, ledger, make_invoice) -> None:
    make_invoice(ledger["other"], "INV-2026-0105", "980.00", D("2026-10-11"), D("2026-11-10"))
    line = imported(entity, tmp_path, Entry("980.00", servicer_ref="A-1", name="ZI Holding", iban=STRANGER))[
        "A-1"
    ]
    line = decisions.line_assign(entity=entity, line=line, customer="C2", actor=ALICE)
    # Two invoices of that amount: suggested, only the customer's, and left to the person.
    assert line.status == "suggested" and Payment.objects.count() == 0
    assert {a["invoice_ref"] for s in line.suggestions for a in s["allocations"]} == {
        "INV-2026-0104",
        "INV-2026-0105",
    }
    assert line.assigned_customer == ledger["other"]
    assert matching.lines_match(entity=entity, actor=Actor.cli(), confirm=False).lines == 0
    line = decisions.line_accept(entity=entity, line=line, suggestion_index=1, actor=ALICE)
    assert line.status == "applied" and line.assigned_customer is None


def test_assign_without_a_fitting_invoice_is_unapplied_cash(tmp_path, entity, account, ledger) -> None:
    line = imported(entity, tmp_path, Entry("77.00", servicer_ref="A-1", name="Nobody", iban=STRANGER))["A-1"]
    with pytest.raises(ValidationFailed, match="customer NOPE is not a customer of entity acme"):
        decisions.line_assign(entity=entity, line=line, customer="NOPE", actor=ALICE)
    line = decisions.line_assign(entity=entity, line=line, customer=ledger["other"], actor=ALICE)
    assert line.status == "applied"
    payment = Payment.objects.get()
    assert (payment.customer, payment.amount, payment.allocations.count()) == (
        ledger["other"],
        Decimal("77.00"),
        0,
    )
    assert BankLineApplication.objects.get().residual == Decimal("77.00")


def test_unapply_reverses_and_keeps_history(tmp_path, entity, account, ledger) -> None:
    line = imported(entity, tmp_path, Entry("1405.31", servicer_ref="A-1", unstructured="INV-2026-0001"))[
        "A-1"
    ]
    matching.lines_match(entity=entity, actor=Actor.cli(), confirm=False)
    line.refresh_from_db()
    assert line.status == "applied"
    invoice = ledger["invoices"]["INV-2026-0001"]
    assert invoice_open_amount(invoice=invoice) == 0
    before = data_versions(entity_id=entity.pk)["ledger"]

    with pytest.raises(ValidationFailed, match="reason"):
        decisions.line_unapply(entity=entity, line=line, reason=" ", actor=ALICE)
    line = decisions.line_unapply(
        entity=entity, line=line, reason="paid by the parent, not Dupont", actor=ALICE
    )

    assert line.status in {"suggested", "unmatched"}
    assert Payment.objects.count() == 0 and Allocation.objects.count() == 0
    assert invoice_open_amount(invoice=invoice) == Decimal("1405.31")
    assert data_versions(entity_id=entity.pk)["ledger"] > before
    application = BankLineApplication.objects.get()
    assert application.unapplied_at is not None and application.payment is None
    assert (application.unapplied_by, application.unapplied_reason) == (
        ALICE.label,
        "paid by the parent, not Dupont",
    )
    assert application.allocations == [{"invoice_ref": "INV-2026-0001", "amount": "1405.31"}]
    assert any("unapplied by" in reason for reason in line.reasons)
    event = AuditEvent.objects.get(action="bank_line_unapply")
    assert event.after["reason"] == "paid by the parent, not Dupont"
    # What the line taught is forgotten.
    assert not KnownPayerAccount.objects.filter(learned_from=line).exists()
    with pytest.raises(Conflict, match="not applied"):
        decisions.line_unapply(entity=entity, line=line, reason="again", actor=ALICE)

    # The next run does not apply it by itself again: a person does.
    matching.lines_match(entity=entity, actor=Actor.cli(), confirm=False)
    line.refresh_from_db()
    assert line.status == "suggested" and Payment.objects.count() == 0
    assert matching.UNAPPLIED_BEFORE in line.reasons
    line = decisions.line_accept(entity=entity, line=line, actor=ALICE)
    assert line.status == "applied"
    assert Payment.objects.get().external_ref == f"BANK-{line.pk}-2"
    assert BankLineApplication.objects.filter(unapplied_at__isnull=True).count() == 1

    # The export shows both: the reversal and the application in force.
    rows = list(csv.DictReader(io.StringIO(run("bank", "export").lstrip("\ufeff"))))
    assert [(row["state"], row["invoice_ref"], row["amount"]) for row in rows] == [
        ("reversed", "INV-2026-0001", "1405.31"),
        ("in_force", "INV-2026-0001", "1405.31"),
    ]
    assert rows[0]["bank_ref"] == "A-1" and rows[0]["customer_ref"] == "C1"
    assert rows[1]["payment_ref"] == f"BANK-{line.pk}-2"
    objects = json.loads(run("bank", "export", "--json"))
    assert [item["state"] for item in objects] == ["reversed", "in_force"]
    assert objects[1]["allocations"] == [{"invoice_ref": "INV-2026-0001", "amount": "1405.31"}]
    assert json.loads(run("bank", "export", "--json", "--since", "2999-01-01")) == []


def test_export_csv_is_formula_safe_and_adds_up(tmp_path, entity, account, ledger) -> None:
    line = imported(
        entity, tmp_path, Entry("800.00", servicer_ref="A-1", name="=HYPERLINK(1)", iban=STRANGER)
    )["A-1"]
    decisions.line_split(
        entity=entity, line=line, allocations=[("INV-2026-0002", Decimal("500"))], actor=ALICE
    )
    out = tmp_path / "applied.csv"
    run("bank", "export", "--output", str(out))
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8").lstrip("\ufeff"))))
    assert [(row["invoice_ref"], row["amount"]) for row in rows] == [
        ("INV-2026-0002", "500.00"),
        ("", "300.00"),
    ]
    assert {row["payer"] for row in rows} == {"'=HYPERLINK(1)"}


def test_a_payer_account_a_person_assigned_is_learned(
    tmp_path, entity, account, ledger, make_invoice
) -> None:
    make_invoice(ledger["other"], "INV-2026-0105", "310.00", D("2026-10-12"), D("2026-11-11"))
    lines = imported(
        entity,
        tmp_path,
        Entry("980.00", servicer_ref="A-1", name="ZI HOLDING", iban=STRANGER, unstructured="INV-2026-0104"),
    )
    decisions.line_assign(entity=entity, line=lines["A-1"], customer="C2", actor=ALICE)
    lines = imported(
        entity,
        tmp_path,
        Entry("310.00", servicer_ref="A-2", name="ZI HOLDING", iban=STRANGER),
        statement_id="S-2",
    )
    matching.lines_match(entity=entity, actor=Actor.cli(), confirm=False)
    line = BankLine.objects.get(bank_ref="A-2")
    # Ranked first on the amount and the learned account (the amount alone would not say whose).
    assert line.status == "suggested"
    assert line.suggestions[0]["allocations"] == [{"invoice_ref": "INV-2026-0105", "amount": "310.00"}]
    assert "the payer's IBAN paid this customer before" in line.reasons


def test_a_reference_pattern_a_person_decided_is_learned(tmp_path, entity, account, ledger) -> None:
    lines = imported(
        entity,
        tmp_path,
        Entry("500.00", servicer_ref="A-1", name="Payments Hub", iban="", unstructured="ACME-PAY-2026-0017"),
    )
    decisions.line_split(
        entity=entity, line=lines["A-1"], allocations=[("INV-2026-0002", Decimal("500"))], actor=ALICE
    )
    assert list(KnownReferencePattern.objects.values_list("pattern", "customer__external_ref")) == [
        ("ACME-PAY-9999-9999", "C1")
    ]
    imported(
        entity,
        tmp_path,
        Entry("250.00", servicer_ref="A-2", name="Payments Hub", iban="", unstructured="ACME-PAY-2026-0042"),
        statement_id="S-2",
    )
    matching.lines_match(entity=entity, actor=Actor.cli(), confirm=False)
    line = BankLine.objects.get(bank_ref="A-2")
    # Ranked first: the amount and the learned pattern (no IBAN, another payer name).
    assert line.status == "suggested"
    assert line.suggestions[0]["allocations"] == [{"invoice_ref": "INV-2026-0003", "amount": "250.00"}]
    assert line.suggestions[0]["customer_ref"] == "C1"
    assert any("ACME-PAY-9999-9999" in reason for reason in line.reasons)


def test_another_entitys_line_is_not_found(tmp_path, entity, account, ledger) -> None:
    from relance.core.errors import NotFound
    from relance.ledger.services import entity_create_or_update

    line = imported(entity, tmp_path, Entry("500.00", servicer_ref="A-1"))["A-1"]
    beta, _ = entity_create_or_update(name="beta", currency="EUR")
    with pytest.raises(NotFound):
        decisions.line_split(entity=beta, line=line, allocations=[("INV-2026-0002", Decimal(1))], actor=ALICE)
    with pytest.raises(NotFound):
        decisions.line_unapply(entity=beta, line=line, reason="x", actor=ALICE)


def test_a_customer_is_thanked_once_for_a_line(
    tmp_path, entity, account, ledger, django_capture_on_commit_callbacks
) -> None:
    from relance.delivery.models import OutboundMessage
    from relance.ledger.models import Contact

    Contact.objects.create(customer=ledger["dupont"], email="ap@example.com")
    line = imported(entity, tmp_path, Entry("500.00", servicer_ref="A-1", iban=STRANGER))["A-1"]
    split = [("INV-2026-0002", Decimal("500.00"))]
    with django_capture_on_commit_callbacks(execute=True):
        line = decisions.line_split(entity=entity, line=line, allocations=split, actor=ALICE)
    assert OutboundMessage.objects.filter(template_key="payment_thank_you").count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        line = decisions.line_unapply(entity=entity, line=line, reason="wrong invoice", actor=ALICE)
        line = decisions.line_split(
            entity=entity, line=line, allocations=[("INV-2026-0003", Decimal("250.00"))], actor=ALICE
        )
    # Applied again to the same customer: not thanked a second time.
    assert OutboundMessage.objects.filter(template_key="payment_thank_you").count() == 1
    assert Payment.objects.get().external_ref == f"BANK-{line.pk}-2"

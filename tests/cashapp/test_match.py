"""``relance match``: lines applied through the ledger import's layer (a payment and allocations),
suggested or unmatched with reasons; payers learned; short and over payments; scoping; a run that
fails half-way resumes without applying a line twice; the daily run sees the payment."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from relance.audit.models import AuditEvent
from relance.cashapp import matching
from relance.cashapp.models import BankLine, BankLineApplication, KnownPayerAccount
from relance.cashapp.services import bank_account_add, bank_statement_import
from relance.core.actors import Actor
from relance.ledger.models import Allocation, Payment
from relance.ledger.selectors import data_versions, invoice_open_amount
from tests.cashapp.samples import Entry, Statement, camt
from tests.conftest import postgres_url

pytestmark = pytest.mark.django_db

IBAN = "NL77ABNA0574908765"
PAYER = "FR7630006000011234567890189"
D = date.fromisoformat


def run(name: str, *args: str) -> str:
    out = io.StringIO()
    call_command(name, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def match_json() -> dict:
    return json.loads(run("match", "--json"))


def lines_json(*args: str) -> dict[str, dict]:
    return {line["bank_ref"]: line for line in json.loads(run("bank", "lines", "--json", *args))}


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


def statement(tmp_path: Path, *entries: Entry, statement_id: str = "S-1", iban: str = IBAN) -> Path:
    path = tmp_path / f"{statement_id}.xml"
    path.write_bytes(camt(2, Statement(statement_id, iban=iban, entries=entries)))
    return path


def imported(entity, tmp_path: Path, *entries: Entry, statement_id: str = "S-1") -> None:
    bank_statement_import(entity=entity, path=statement(tmp_path, *entries, statement_id=statement_id))


def test_match_applies_suggests_and_leaves(tmp_path, entity, account, ledger) -> None:
    imported(
        entity,
        tmp_path,
        Entry("1405.31", servicer_ref="A-1", unstructured="INV-2026-0001"),
        Entry("750.00", servicer_ref="A-2", unstructured="Rechnungen INV-2026-0002 INV-2026-0003"),
        Entry("77.00", servicer_ref="A-3", name="Nobody Known", iban="DE89370400440532013000"),
        Entry("754.25", sign="DBIT", servicer_ref="A-4", name="Landlord"),
    )
    versions_before = data_versions(entity_id=entity.pk)["ledger"]
    counts = match_json()
    assert (counts["lines"], counts["applied"], counts["unmatched"]) == (3, 2, 1)
    assert set(Payment.objects.values_list("external_ref", flat=True)) == {
        f"BANK-{BankLine.objects.get(bank_ref='A-1').pk}",
        f"BANK-{BankLine.objects.get(bank_ref='A-2').pk}",
    }
    assert data_versions(entity_id=entity.pk)["ledger"] > versions_before

    lines = lines_json()
    assert lines["A-1"]["status"] == "applied"
    assert lines["A-1"]["allocations"] == [{"invoice_ref": "INV-2026-0001", "amount": "1405.31"}]
    assert lines["A-1"]["confidence"] >= 0.95 and lines["A-1"]["reasons"]
    assert lines["A-2"]["allocations"] == [
        {"invoice_ref": "INV-2026-0002", "amount": "500.00"},
        {"invoice_ref": "INV-2026-0003", "amount": "250.00"},
    ]
    assert lines["A-3"]["status"] == "unmatched" and lines["A-3"]["allocations"] == []
    assert lines["A-3"]["reasons"]
    assert lines["A-4"]["status"] == "debit"

    payment = Payment.objects.get(external_ref=f"BANK-{BankLine.objects.get(bank_ref='A-1').pk}")
    assert (payment.customer, payment.amount, payment.date, payment.currency) == (
        ledger["dupont"],
        Decimal("1405.31"),
        D("2026-12-04"),
        "EUR",
    )
    assert invoice_open_amount(invoice=ledger["invoices"]["INV-2026-0001"]) == 0
    application = BankLineApplication.objects.get(line__bank_ref="A-1")
    assert application.payment == payment and application.applied_by.startswith("cli")
    assert application.unapplied_at is None
    # The payer's IBAN is learned from what was applied.
    assert list(KnownPayerAccount.objects.values_list("account_iban", "customer__external_ref")) == [
        (PAYER, "C1")
    ]
    assert lines_json("--status", "applied").keys() == {"A-1", "A-2"}
    event = AuditEvent.objects.get(action="match")
    assert event.actor_label.startswith("cli") and event.after["applied"] == 2

    # Again: nothing left to apply, nothing applied twice.
    again = match_json()
    assert (again["lines"], again["applied"], again["unmatched"]) == (1, 0, 1)
    assert Payment.objects.count() == 2 and Allocation.objects.count() == 3


def test_text_output(tmp_path, entity, account, ledger) -> None:
    imported(entity, tmp_path, Entry("1405.31", servicer_ref="A-1", unstructured="INV-2026-0001"))
    assert run("match").strip() == "acme: 1 line(s) matched: 1 applied, 0 suggested, 0 unmatched"


def test_suggested_line_keeps_ranked_candidates(tmp_path, entity, account, make_invoice, ledger) -> None:
    # Two invoices of the same amount, no reference: the matcher cannot tell which.
    make_invoice(ledger["other"], "INV-2026-0105", "980.00", D("2026-10-11"), D("2026-11-10"))
    imported(entity, tmp_path, Entry("980.00", servicer_ref="A-1", name="Zeta Industries", iban=""))
    counts = match_json()
    line = lines_json()["A-1"]
    assert counts["applied"] == 0 and line["status"] in {"suggested", "unmatched"}
    assert line["allocations"] == [] and Payment.objects.count() == 0
    if line["status"] == "suggested":
        ranked = [s["confidence"] for s in line["suggestions"]]
        assert ranked == sorted(ranked, reverse=True) and all(s["reasons"] for s in line["suggestions"])
        assert {a["invoice_ref"] for s in line["suggestions"] for a in s["allocations"]} <= {
            "INV-2026-0104",
            "INV-2026-0105",
        }


def test_overpayment_stays_unapplied_cash(tmp_path, entity, account, ledger) -> None:
    imported(entity, tmp_path, Entry("1405.81", servicer_ref="A-1", unstructured="INV-2026-0001"))
    match_json()
    payment = Payment.objects.get()
    assert payment.amount == Decimal("1405.81")
    assert [(a.invoice.external_ref, a.amount) for a in payment.allocations.all()] == [
        ("INV-2026-0001", Decimal("1405.31"))
    ]
    application = BankLineApplication.objects.get()
    assert application.residual == Decimal("0.50")
    assert any("unapplied cash" in reason for reason in lines_json()["A-1"]["reasons"])


def test_short_payment_reports_the_residual(tmp_path, entity, account, ledger) -> None:
    imported(entity, tmp_path, Entry("1404.81", servicer_ref="A-1", unstructured="INV-2026-0001"))
    match_json()
    line = lines_json()["A-1"]
    assert line["status"] == "applied"
    assert line["allocations"] == [{"invoice_ref": "INV-2026-0001", "amount": "1404.81"}]
    assert BankLineApplication.objects.get().shortfall == Decimal("0.50")
    assert invoice_open_amount(invoice=ledger["invoices"]["INV-2026-0001"]) == Decimal("0.50")
    assert any("stays open" in reason for reason in line["reasons"])


def test_another_entitys_line_never_matches_our_invoices(tmp_path, entity, account, ledger) -> None:
    from relance.ledger.services import entity_create_or_update

    beta, _ = entity_create_or_update(name="beta", currency="EUR")
    bank_account_add(entity=beta, account="DE89370400440532013000", currency="EUR")
    path = statement(
        tmp_path,
        Entry("1405.31", servicer_ref="B-1", unstructured="INV-2026-0001"),
        iban="DE89370400440532013000",
    )
    bank_statement_import(entity=beta, path=path)
    counts = json.loads(run("match", "--entity", "beta", "--json"))
    assert (counts["lines"], counts["applied"], counts["unmatched"]) == (1, 0, 1)
    assert Payment.objects.count() == 0
    # Our run does not see beta's line either.
    assert json.loads(run("match", "--entity", "acme", "--json"))["lines"] == 0


def test_a_line_applied_is_never_applied_again(tmp_path, entity, account, ledger) -> None:
    imported(entity, tmp_path, Entry("1405.31", servicer_ref="A-1", unstructured="INV-2026-0001"))
    line = BankLine.objects.get()  # read before the run: a stale copy, as a second run holds it
    match_json()
    assert line.status == "unmatched"
    # Applying the stale copy again (a second run that read the line before the first committed):
    # the locked re-read finds it applied, and nothing is written.
    assert (
        matching._line_apply(line, _chosen(ledger), _items(entity), actor=Actor.cli(), confirm=False) is None
    )
    # And the database refuses a second application in force whatever the code does.
    first = BankLineApplication.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        BankLineApplication.objects.create(
            entity=entity,
            line=first.line,
            payment=first.payment,
            customer=first.customer,
            applied_at=first.applied_at,
            applied_by="another run",
            applied_by_kind="system",
        )
    assert Payment.objects.count() == 1 and BankLineApplication.objects.count() == 1


def _items(entity):
    return {item.invoice_id: item for item in matching.selectors.open_items(entity=entity)} | {
        invoice.pk: _item(invoice) for invoice in entity.invoices.all()
    }


def _item(invoice):
    from relance.engine.cashapp.lines import OpenItem

    return OpenItem(
        invoice_id=invoice.pk,
        invoice_ref=invoice.external_ref,
        customer_id=invoice.customer_id,
        customer_ref=invoice.customer.external_ref,
        customer_name=invoice.customer.name,
        parent_id=None,
        currency=invoice.currency,
        open_amount=invoice.amount,
        due_date=invoice.due_date,
        issue_date=invoice.issue_date,
    )


def _chosen(ledger):
    from relance.engine.cashapp.lines import Allocation as Share
    from relance.engine.cashapp.lines import Candidate

    invoice = ledger["invoices"]["INV-2026-0001"]
    return Candidate(
        allocations=(Share(invoice.pk, Decimal("1405.31")),),
        customer_id=invoice.customer_id,
        confidence=0.99,
        reasons=("test",),
    )


@pytest.mark.django_db(transaction=True)
def test_failure_mid_batch_resumes_without_applying_twice(
    tmp_path, entity, account, ledger, monkeypatch
) -> None:
    imported(
        entity,
        tmp_path,
        Entry("1405.31", servicer_ref="A-1", unstructured="INV-2026-0001"),
        Entry("500.00", servicer_ref="A-2", unstructured="INV-2026-0002"),
        Entry("250.00", servicer_ref="A-3", unstructured="INV-2026-0003"),
    )
    real = matching._payers_learn  # called in a batch's write, after its payments are written
    calls = {"n": 0}

    def dies_on_the_second(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("the process died here")
        return real(*args, **kwargs)

    monkeypatch.setattr(matching, "_payers_learn", dies_on_the_second)
    with pytest.raises(RuntimeError):
        matching.lines_match(entity=entity, actor=Actor.cli(), confirm=False)
    # The first line is applied (its own transaction); the second batch (lines 2 and 3, written
    # in bulk) rolled back whole: no payment, no allocation, statuses unchanged.
    statuses = dict(BankLine.objects.values_list("bank_ref", "status"))
    assert statuses == {"A-1": "applied", "A-2": "unmatched", "A-3": "unmatched"}
    assert Payment.objects.count() == 1 and Allocation.objects.count() == 1
    monkeypatch.setattr(matching, "_payers_learn", real)

    outcome = matching.lines_match(entity=entity, actor=Actor.cli(), confirm=False)
    assert (outcome.lines, outcome.statuses["applied"]) == (2, 2)
    assert set(BankLine.objects.values_list("status", flat=True)) == {"applied"}
    assert Payment.objects.count() == 3 and BankLineApplication.objects.count() == 3
    assert sorted(Allocation.objects.values_list("invoice__external_ref", flat=True)) == [
        "INV-2026-0001",
        "INV-2026-0002",
        "INV-2026-0003",
    ]


@pytest.mark.django_db(transaction=True)
def test_failure_mid_batch_rolls_the_batch_back_whole(
    tmp_path, entity, account, make_customer, make_invoice, monkeypatch
) -> None:
    """Lines are written a batch a transaction (1, 2, 4… lines, then ``batch_size``): a crash in
    the third batch leaves the first two batches applied and the third untouched, and the re-run
    applies each remaining line once."""
    customer = make_customer("C9", name="Batch SARL")
    for n in range(1, 9):
        make_invoice(customer, f"INV-2026-09{n:02d}", f"{100 + n}.00", D("2026-10-01"), D("2026-10-31"))
    imported(
        entity,
        tmp_path,
        *(
            Entry(
                f"{100 + n}.00", servicer_ref=f"B-{n}", unstructured=f"INV-2026-09{n:02d}", name="Batch SARL"
            )
            for n in range(1, 9)
        ),
    )
    real = matching._payers_learn
    calls = {"n": 0}

    def dies_in_the_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # in the third batch (lines 4 to 7), after its payments were written
            raise RuntimeError("the process died here")
        return real(*args, **kwargs)

    monkeypatch.setattr(matching, "_payers_learn", dies_in_the_third)
    with pytest.raises(RuntimeError):
        matching.lines_match(entity=entity, actor=Actor.cli(), confirm=False, batch_size=4)
    statuses = dict(BankLine.objects.values_list("bank_ref", "status"))
    assert [ref for ref, status in sorted(statuses.items()) if status == "applied"] == ["B-1", "B-2", "B-3"]
    assert Payment.objects.count() == 3 and BankLineApplication.objects.count() == 3
    monkeypatch.setattr(matching, "_payers_learn", real)

    outcome = matching.lines_match(entity=entity, actor=Actor.cli(), confirm=False, batch_size=4)
    assert (outcome.lines, outcome.statuses["applied"]) == (5, 5)
    assert Payment.objects.count() == 8 and BankLineApplication.objects.count() == 8
    paid = sorted(Allocation.objects.values_list("invoice__external_ref", flat=True))
    assert paid == [f"INV-2026-09{n:02d}" for n in range(1, 9)]  # each once


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    not postgres_url() or "postgres" not in os.environ.get("DATABASE_URL", ""),
    reason="PostgreSQL only: the killed process needs a database it can reach (DATABASE_URL=postgres://…)",
)
def test_killed_mid_batch_resumes_without_applying_twice(tmp_path, entity, account, ledger) -> None:
    """A real process killed while its second batch's payments (lines 2 and 3) are written but not
    committed."""
    from django.db import connection

    imported(
        entity,
        tmp_path,
        Entry("1405.31", servicer_ref="A-1", unstructured="INV-2026-0001"),
        Entry("500.00", servicer_ref="A-2", unstructured="INV-2026-0002"),
        Entry("250.00", servicer_ref="A-3", unstructured="INV-2026-0003"),
    )
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    killed = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("match_killed.py")), "2"],
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert killed.returncode == 9, killed.stderr
    statuses = dict(BankLine.objects.values_list("bank_ref", "status"))
    assert statuses == {"A-1": "applied", "A-2": "unmatched", "A-3": "unmatched"}
    assert Payment.objects.count() == 1 and Allocation.objects.count() == 1
    counts = match_json()
    assert (counts["lines"], counts["applied"]) == (2, 2)
    assert Payment.objects.count() == 3 and BankLineApplication.objects.count() == 3
    assert sorted(Allocation.objects.values_list("invoice__external_ref", flat=True)) == [
        "INV-2026-0001",
        "INV-2026-0002",
        "INV-2026-0003",
    ]


def test_the_daily_run_sees_the_payment(tmp_path, entity, account, make_customer, make_invoice) -> None:
    from relance.ledger.models import Contact

    run("policy", "import", "--defaults")
    run("policy", "assign", "standard", "--default")
    customer = make_customer("C1", name="Dupont SARL")
    Contact.objects.create(customer=customer, email="ap@example.com", postal_address="1 rue X")
    make_invoice(customer, "INV-2026-0001", "1405.31", D("2026-10-01"), D("2026-11-01"))
    before = json.loads(run("run", "--as-of", "2026-12-05", "--dry-run", "--json"))
    assert any("INV-2026-0001" in row["invoice_refs"] for row in before["decisions"])

    imported(entity, tmp_path, Entry("1405.31", servicer_ref="A-1", unstructured="INV-2026-0001"))
    assert match_json()["applied"] == 1
    after = json.loads(run("run", "--as-of", "2026-12-05", "--dry-run", "--json"))
    assert not any("INV-2026-0001" in row["invoice_refs"] for row in after["decisions"])


def test_the_customer_is_thanked_through_the_outbox(
    tmp_path, entity, account, ledger, django_capture_on_commit_callbacks
) -> None:
    from relance.delivery.models import OutboundMessage
    from relance.ledger.models import Contact

    Contact.objects.create(customer=ledger["dupont"], email="ap@example.com")
    imported(entity, tmp_path, Entry("1405.31", servicer_ref="A-1", unstructured="INV-2026-0001"))
    with django_capture_on_commit_callbacks(execute=True):
        match_json()
    message = OutboundMessage.objects.get()
    assert (message.customer, message.template_key, message.recipient) == (
        ledger["dupont"],
        "payment_thank_you",
        "ap@example.com",
    )
    assert "1405.31" in message.body_text or "1,405.31" in message.body_text


def test_real_camt_sample_end_to_end(shared_datasets, entity, make_customer, make_invoice) -> None:
    """The OCA camt.053 sample: its one customer credit ("#RD PARTY MEDIA CUSNO 90782 4210773",
    1405.31 EUR) against a ledger that has the invoice; its debits are never matched."""
    media = make_customer("90782", name="3rd party Media")
    make_invoice(media, "4210773", "1405.31", D("2013-12-01"), D("2013-12-31"))
    make_invoice(media, "4210774", "99.00", D("2013-12-02"), D("2014-01-01"))
    bank_account_add(entity=entity, account=IBAN, currency="EUR")
    run("bank", "import", str(shared_datasets / "bank" / "oca-test-camt053.xml"))
    counts = match_json()
    assert (counts["lines"], counts["applied"]) == (1, 1)
    lines = [line for line in json.loads(run("bank", "lines", "--json")) if line["status"] == "applied"]
    assert [line["allocations"] for line in lines] == [[{"invoice_ref": "4210773", "amount": "1405.31"}]]
    payment = Payment.objects.get()
    assert (payment.customer, payment.amount, payment.date) == (media, Decimal("1405.31"), D("2014-01-05"))
    assert list(KnownPayerAccount.objects.values_list("account_iban", flat=True)) == ["NL69ABNA0522123643"]


def test_a_payment_the_ledger_refuses_is_suggested_with_the_reason(
    tmp_path, entity, account, make_customer, make_invoice
) -> None:
    """The import's rules hold: a bank line booked before the invoice was issued cannot pay it."""
    customer = make_customer("C1", name="Dupont SARL")
    make_invoice(customer, "INV-2026-0009", "300.00", D("2026-12-10"), D("2027-01-09"))
    imported(entity, tmp_path, Entry("300.00", servicer_ref="A-1", unstructured="INV-2026-0009"))
    counts = match_json()
    assert (counts["applied"], counts["suggested"], counts["refused"]) == (0, 1, 1)
    line = lines_json()["A-1"]
    assert line["status"] == "suggested" and line["suggestions"][0]["allocations"] == [
        {"invoice_ref": "INV-2026-0009", "amount": "300.00"}
    ]
    assert "the ledger refused the payment" in line["reasons"][-1]
    assert Payment.objects.count() == 0 and BankLineApplication.objects.count() == 0


def test_a_promise_paid_by_the_bank_line_is_kept(
    tmp_path, entity, account, make_customer, make_invoice
) -> None:
    from relance.cases.models import PromiseStatus
    from relance.cases.services import promise_add
    from relance.ledger.models import Contact

    run("policy", "import", "--defaults")
    run("policy", "assign", "standard", "--default")
    customer = make_customer("C1", name="Dupont SARL")
    Contact.objects.create(customer=customer, email="ap@example.com", postal_address="1 rue X")
    invoice = make_invoice(customer, "INV-2026-0001", "1405.31", D("2026-10-01"), D("2026-11-01"))
    promise = promise_add(
        customer=customer,
        promised_date=D("2026-12-06"),
        on=D("2026-12-01"),
        invoices=[invoice],
        actor=Actor.cli(),
    )
    imported(entity, tmp_path, Entry("1405.31", servicer_ref="A-1", unstructured="INV-2026-0001"))
    assert match_json()["applied"] == 1
    run("run", "--as-of", "2026-12-07", "--json")
    promise.refresh_from_db()
    assert promise.status == PromiseStatus.KEPT


def test_generated_ledger_statement_of_the_day(db, tmp_path) -> None:
    """A generated ledger (``relance generate --load``) and a statement paying some of its open
    invoices, each line quoting its invoice: every line is applied, to exactly its invoice."""
    from relance.ledger.models import Entity
    from relance.ledger.selectors import STILL_OWED, invoice_list_with_open

    run(
        "generate", "--customers", "30", "--months", "3", "--end", "2026-11-30", "--load", "--entity", "synth",
        "--out", str(tmp_path / "gen"), "--quiet",
    )  # fmt: skip
    synth = Entity.objects.get(name="synth")
    bank_account_add(entity=synth, account=IBAN, currency=synth.currency)
    open_invoices = list(
        invoice_list_with_open(entity=synth)
        .filter(open_amount__gt=STILL_OWED, currency=synth.currency, issue_date__lte=D("2026-12-04"))
        .select_related("customer")
        .order_by("id")[:12]
    )
    assert len(open_invoices) >= 5
    intended = {}
    entries = []
    for number, invoice in enumerate(open_invoices):
        amount = Decimal(invoice.open_amount).quantize(Decimal("0.01"))
        ref = f"L-{number}"
        intended[ref] = [{"invoice_ref": invoice.external_ref, "amount": str(amount)}]
        entries.append(
            Entry(
                str(amount),
                servicer_ref=ref,
                unstructured=f"Payment {invoice.external_ref}",
                name=invoice.customer.name,
                iban="",
                currency=synth.currency,
            )
        )
    path = tmp_path / "day.xml"
    path.write_bytes(camt(2, Statement("DAY", currency=synth.currency, entries=tuple(entries))))
    bank_statement_import(entity=synth, path=path)
    counts = json.loads(run("match", "--entity", "synth", "--json"))
    lines = {
        line["bank_ref"]: line for line in json.loads(run("bank", "lines", "--entity", "synth", "--json"))
    }
    assert counts["lines"] == len(entries) and counts["unmatched"] == 0
    # Never a wrong invoice: an applied line is applied to its invoice, a suggested one has it first.
    found = {
        ref: line["allocations"] if line["status"] == "applied" else line["suggestions"][0]["allocations"]
        for ref, line in lines.items()
    }
    assert found == intended
    # The generator numbers invoices INV-000015: a reference key of 2 digits ("15"), shorter than
    # the matcher's min_reference_length, still counts written in full (its short form INV:15).
    assert counts["applied"] == len(entries)

"""``relance match``'s bulk path (``lines_apply`` of a batch): the same outcome as the per-line
path, one ledger write a batch, a refused batch done line by line (good lines applied, the bad
one reported), lines sharing an invoice applied after the others, short payments settled per
line, thank-you messages queued per payment. Runs on SQLite and PostgreSQL (``DATABASE_URL``)."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relance.cashapp import matching
from relance.cashapp.models import BankLine, BankLineApplication, CashAppSettings, KnownPayerAccount
from relance.cashapp.services import bank_account_add, bank_statement_import
from relance.core.actors import Actor
from relance.ledger.models import Allocation, CreditNote, Payment
from relance.ledger.selectors import data_versions, invoice_open_amount
from tests.cashapp.samples import Entry, Statement, camt

pytestmark = pytest.mark.django_db

IBAN = "NL77ABNA0574908765"
D = date.fromisoformat


@pytest.fixture
def account(entity):
    return bank_account_add(entity=entity, account=IBAN, currency="EUR", name="main")


@pytest.fixture
def invoices(make_customer, make_invoice):
    """Eight invoices of two customers, each paid by one line below."""
    dupont = make_customer("C1", name="Dupont SARL")
    zeta = make_customer("C2", name="Zeta Industries GmbH")
    found = {}
    for n in range(1, 9):
        customer = dupont if n % 2 else zeta
        ref = f"INV-2026-08{n:02d}"
        found[ref] = make_invoice(customer, ref, f"{100 * n}.00", D("2026-10-01"), D("2026-10-31"))
    return {"dupont": dupont, "zeta": zeta, "invoices": found}


def imported(entity, tmp_path: Path, *entries: Entry) -> None:
    path = tmp_path / "S-1.xml"
    path.write_bytes(camt(2, Statement("S-1", iban=IBAN, entries=entries)))
    bank_statement_import(entity=entity, path=path)


def paying_lines(invoices) -> list[Entry]:
    return [
        Entry(
            str(invoice.amount),
            servicer_ref=f"B-{n}",
            unstructured=ref,
            name=invoice.customer.name,
            iban=f"FR76300060000112345678901{80 + n % 2}",
        )
        for n, (ref, invoice) in enumerate(invoices["invoices"].items(), start=1)
    ]


def state(entity) -> dict:
    return {
        "statuses": dict(BankLine.objects.values_list("bank_ref", "status")),
        "allocations": sorted(
            (ref, Decimal(amount))
            for ref, amount in Allocation.objects.filter(payment__isnull=False).values_list(
                "invoice__external_ref", "amount"
            )
        ),
        "payments": sorted(Payment.objects.values_list("external_ref", "amount")),
        "payers": sorted(KnownPayerAccount.objects.values_list("account_iban", "customer__external_ref")),
        "applications": BankLineApplication.objects.count(),
    }


@pytest.mark.parametrize("bulk", [True, False])
def test_bulk_and_per_line_paths_write_the_same(tmp_path, entity, account, invoices, bulk) -> None:
    imported(entity, tmp_path, *paying_lines(invoices), Entry("77.77", servicer_ref="N-1", name="Nobody"))
    outcome = matching.lines_match(entity=entity, actor=Actor.cli(), confirm=False, bulk=bulk)
    assert outcome.as_dict() | {"entity": ""} == {
        "entity": "",
        "lines": 9,
        "applied": 8,
        "suggested": 0,
        "unmatched": 1,
        "already_applied": 0,
        "refused": 0,
    }
    found = state(entity)
    assert found["statuses"] == {**{f"B-{n}": "applied" for n in range(1, 9)}, "N-1": "unmatched"}
    assert found["allocations"] == [(ref, Decimal(100 * n)) for n, ref in enumerate(invoices["invoices"], 1)]
    assert len(found["payments"]) == 8 and found["applications"] == 8
    assert found["payers"] == [
        ("FR7630006000011234567890180", "C2"),
        ("FR7630006000011234567890181", "C1"),
    ]
    for invoice in invoices["invoices"].values():
        assert invoice_open_amount(invoice=invoice) == 0
    application = BankLineApplication.objects.get(line__bank_ref="B-3")
    assert (application.payment_ref, application.how, application.allocations) == (
        f"BANK-{application.line_id}",
        "match",
        [{"invoice_ref": "INV-2026-0803", "amount": "300.00"}],
    )


def test_no_query_a_line(tmp_path, entity, account, invoices) -> None:
    """The lines are read with only what matching reads (``selectors.LINE_FACTS``) and written
    from those rows: a field left out and read anyway would cost a query for each of 100,000 lines.
    No SELECT fetches one line or the entity by id; the account comes once per batch."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    imported(entity, tmp_path, *paying_lines(invoices), Entry("77.77", servicer_ref="N-1", name="Nobody"))
    with CaptureQueriesContext(connection) as queries:
        outcome = matching.lines_match(entity=entity, actor=Actor.cli(), confirm=False)
    assert outcome.statuses["applied"] == 8
    by_id = Counter(
        table
        for query in queries.captured_queries
        for table in ("cashapp_bankline", "cashapp_bankaccount", "ledger_entity")
        if query["sql"].startswith("SELECT") and f'WHERE "{table}"."id" = ' in query["sql"]
    )
    # 9 lines in batches of 1, 2, 4 and 2; the account's prefetch (``IN (1)`` on PostgreSQL)
    assert set(by_id) <= {"cashapp_bankaccount"} and by_id["cashapp_bankaccount"] <= 4, by_id


def test_a_batch_is_one_ledger_write(tmp_path, entity, account, invoices, monkeypatch) -> None:
    """Batches of 1, 2, 4, 1 lines: the first alone, then one ``upsert_records`` call a batch (one
    data-version bump), not one a line."""
    imported(entity, tmp_path, *paying_lines(invoices))
    calls: list[int] = []
    real = matching.upsert_records

    def counted(kind, records, *, entity):
        records = list(records)
        calls.append(len(records))
        return real(kind, records, entity=entity)

    monkeypatch.setattr(matching, "upsert_records", counted)
    before = data_versions(entity_id=entity.pk)["ledger"]
    matching.lines_match(entity=entity, actor=Actor.cli(), confirm=False, batch_size=4)
    assert calls == [1, 2, 4, 1]
    assert data_versions(entity_id=entity.pk)["ledger"] == before + 4


def test_a_refused_batch_is_done_line_by_line(tmp_path, entity, account, invoices, make_invoice) -> None:
    """A line the ledger refuses (booked before its invoice was issued) in a batch of four: the
    batch's bulk write is refused whole, then the batch is applied line by line: the three good
    lines are applied, the bad one suggested with the ledger's reason."""
    late = make_invoice(invoices["dupont"], "INV-2026-0899", "999.00", D("2026-12-10"), D("2027-01-09"))
    entries = paying_lines(invoices)[:5]
    entries.insert(2, Entry("999.00", servicer_ref="BAD", unstructured="INV-2026-0899", name="Dupont SARL"))
    imported(entity, tmp_path, *entries)
    outcome = matching.lines_match(entity=entity, actor=Actor.cli(), confirm=False, batch_size=4)
    assert (outcome.statuses["applied"], outcome.statuses["suggested"], outcome.refused) == (5, 1, 1)
    statuses = dict(BankLine.objects.values_list("bank_ref", "status"))
    assert statuses == {**{f"B-{n}": "applied" for n in range(1, 6)}, "BAD": "suggested"}
    bad = BankLine.objects.get(bank_ref="BAD")
    assert "the ledger refused the payment" in bad.reasons[-1]
    assert not Allocation.objects.filter(invoice=late).exists()
    assert Payment.objects.count() == 5 and BankLineApplication.objects.count() == 5


def test_lines_sharing_an_invoice_are_applied_in_order(
    tmp_path, entity, account, make_customer, make_invoice
) -> None:
    """Two partial payments of one invoice in a batch: the second is applied after the first,
    alone, so each line's short payment is what it left (not what the batch left)."""
    customer = make_customer("C1", name="Dupont SARL")
    invoice = make_invoice(customer, "INV-2026-0001", "1000.00", D("2026-10-01"), D("2026-10-31"))
    other = make_invoice(customer, "INV-2026-0002", "250.00", D("2026-10-01"), D("2026-10-31"))
    imported(
        entity,
        tmp_path,
        Entry("100.00", servicer_ref="P-0", unstructured="INV-2026-0002 first part"),
        Entry("400.00", servicer_ref="P-1", unstructured="First instalment INV-2026-0001"),
        Entry("300.00", servicer_ref="P-2", unstructured="Second instalment INV-2026-0001"),
        Entry("150.00", servicer_ref="P-3", unstructured="INV-2026-0002 rest"),
    )
    outcome = matching.lines_match(entity=entity, actor=Actor.cli(), confirm=False, batch_size=4)
    assert outcome.statuses["applied"] == 4
    assert (
        invoice_open_amount(invoice=invoice) == Decimal("300.00") and invoice_open_amount(invoice=other) == 0
    )
    shortfalls = {
        application.line.bank_ref: application.reasons[-1]
        for application in BankLineApplication.objects.select_related("line")
    }
    assert "600.00 EUR stays open" in shortfalls["P-1"]
    assert "300.00 EUR stays open" in shortfalls["P-2"]


def test_write_offs_in_a_batch_are_per_line(tmp_path, entity, account, invoices) -> None:
    """A short payment under the tolerance in a bulk batch is written off by the one rule."""
    CashAppSettings.objects.create(entity=entity, write_off_tolerance=Decimal("1.00"))
    entries = paying_lines(invoices)[:4]
    entries[2] = Entry("299.50", servicer_ref="B-3", unstructured="INV-2026-0803", name="Dupont SARL")
    imported(entity, tmp_path, *entries)
    matching.lines_match(entity=entity, actor=Actor.cli(), confirm=False, batch_size=4)
    application = BankLineApplication.objects.get(line__bank_ref="B-3")
    assert application.residual_action == "write_off"
    assert application.residual_records["credit_notes"] == [f"{application.payment_ref}-WO1"]
    assert CreditNote.objects.get().amount == Decimal("0.50")
    assert invoice_open_amount(invoice=invoices["invoices"]["INV-2026-0803"]) == 0
    others = BankLineApplication.objects.exclude(pk=application.pk)
    assert {a.residual_action for a in others} == {"none"} and CreditNote.objects.count() == 1


def test_each_paying_customer_is_thanked_once(
    tmp_path, entity, account, invoices, django_capture_on_commit_callbacks
) -> None:
    from relance.delivery.models import OutboundMessage
    from relance.ledger.models import Contact

    Contact.objects.create(customer=invoices["dupont"], email="ap@dupont.example")
    Contact.objects.create(customer=invoices["zeta"], email="ap@zeta.example")
    imported(entity, tmp_path, *paying_lines(invoices)[:4])
    with django_capture_on_commit_callbacks(execute=True):
        matching.lines_match(entity=entity, actor=Actor.cli(), confirm=True, batch_size=4)
    messages = sorted(
        OutboundMessage.objects.filter(template_key="payment_thank_you").values_list("recipient", flat=True)
    )
    assert messages == ["ap@dupont.example", "ap@dupont.example", "ap@zeta.example", "ap@zeta.example"]


def test_a_line_applied_meanwhile_is_left_as_it_is(tmp_path, entity, account, invoices) -> None:
    """``lines_apply`` re-reads the lines locked: a line applied since it was read is skipped."""
    imported(entity, tmp_path, *paying_lines(invoices)[:2])
    stale = list(BankLine.objects.order_by("bank_ref"))
    matching.lines_match(entity=entity, actor=Actor.cli(), confirm=False)
    refs = matching.lines_apply(
        [
            (line, matching.LineApplication(customer_ref="C1", allocations=(), confidence=None, reasons=()))
            for line in stale
        ],
        actor=Actor.cli(),
        confirm=False,
    )
    assert refs == {line.pk: None for line in stale}
    assert Payment.objects.count() == 2


# --- the fast path and the simple path decide the same, on varied statements (Hypothesis) ------

PAYERS = {"C1": "Dupont SARL", "C2": "Zeta Industries GmbH"}
AMOUNTS = ("100.00", "250.00", "410.50", "99.99", "1200.00", "37.10")


def _entries(kinds: list[tuple], refs: list[tuple[str, str, Decimal]]) -> list[Entry]:
    """Statement entries from drawn kinds: paid in full, partly, over, two invoices at once, by
    amount only, noise, and a payment booked before its invoice was issued (the ledger refuses)."""
    entries = []
    for n, (kind, i, j, cents) in enumerate(kinds):
        ref, customer, amount = refs[i % len(refs)]
        other_ref, _other_customer, other_amount = refs[j % len(refs)]
        extra = Decimal(cents) / 100
        name, text = PAYERS[customer], ref
        if kind == "full":
            paid = amount
        elif kind == "part":
            paid = max(Decimal("0.01"), amount - extra)
        elif kind == "over":
            paid = amount + extra
        elif kind == "two":
            paid, text = amount + other_amount, f"{ref} {other_ref}"
        elif kind == "amount":
            paid, text = amount, "monthly payment"
        elif kind == "late":
            paid, text = Decimal("555.00"), "INV-2027-0001"
        else:
            paid, name, text = Decimal("12.34") + extra, "Unknown payer", "advance"
        entries.append(Entry(str(paid), servicer_ref=f"H-{n}", unstructured=text, name=name))
    return entries


def _decisions(entity) -> dict:
    """Everything a run decided and wrote, by line and payment ref (ids are shared by both runs)."""
    lines = BankLine.objects.filter(entity=entity).order_by("bank_ref")
    return {
        "lines": [
            (line.bank_ref, line.status, line.confidence, line.reasons, line.suggestions) for line in lines
        ],
        "allocations": sorted(
            (payment_ref, invoice_ref, amount)
            for payment_ref, invoice_ref, amount in Allocation.objects.filter(
                entity=entity, payment__isnull=False
            ).values_list("payment__external_ref", "invoice__external_ref", "amount")
        ),
        "payments": sorted(Payment.objects.filter(entity=entity).values_list("external_ref", "amount")),
        "credit_notes": sorted(
            CreditNote.objects.filter(entity=entity).values_list("external_ref", "amount")
        ),
        "applications": sorted(
            BankLineApplication.objects.filter(entity=entity).values_list(
                "payment_ref", "confidence", "reasons", "residual_action"
            )
        ),
    }


def _money_kept(entity) -> None:
    """Money is never created or lost: each applied line is one payment of its whole amount, what
    it allocates plus what stays unapplied is that amount, and no invoice is paid beyond it."""
    from django.db.models import Sum

    for application in BankLineApplication.objects.filter(entity=entity).select_related("line", "payment"):
        allocated = Allocation.objects.filter(payment=application.payment).aggregate(s=Sum("amount"))["s"]
        allocated = Decimal(allocated or 0)
        unapplied = application.payment.amount - allocated
        assert application.payment.amount == application.line.amount
        assert unapplied >= 0 and allocated + unapplied == application.line.amount
    for line in BankLine.objects.filter(entity=entity).exclude(status="applied"):
        assert not BankLineApplication.objects.filter(line=line).exists()
    from relance.ledger.models import Invoice

    for invoice in Invoice.objects.filter(entity=entity):
        assert invoice_open_amount(invoice=invoice) >= 0


KIND = st.tuples(
    st.sampled_from(["full", "full", "part", "over", "two", "amount", "noise", "late"]),
    st.integers(0, 5),
    st.integers(0, 5),
    st.integers(1, 5000),
)


@given(kinds=st.lists(KIND, min_size=1, max_size=9), batch=st.sampled_from([2, 3, 500]))
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_bulk_path_decides_as_the_simple_path(
    tmp_path, entity, account, make_customer, make_invoice, kinds, batch
) -> None:
    """On any statement drawn (the same invoice paid twice, short and over payments, two invoices
    in one line, amount-only lines, noise, a line the ledger refuses), the bulk path (batches of
    ``batch`` lines, ``lines_apply`` and the bulk status writes) writes exactly what the simple
    path (one transaction a line) writes, and neither creates or loses money."""
    with transaction.atomic():
        customers = {ref: make_customer(ref, name=name) for ref, name in PAYERS.items()}
        refs = []
        for n, amount in enumerate(AMOUNTS):
            customer = "C1" if n % 2 else "C2"
            ref = f"INV-2026-{n + 1:04d}"
            make_invoice(customers[customer], ref, amount, D("2026-10-01"), D("2026-10-31"))
            refs.append((ref, customer, Decimal(amount)))
        make_invoice(customers["C1"], "INV-2027-0001", "555.00", D("2027-01-05"), D("2027-02-04"))
        imported(entity, tmp_path, *_entries(kinds, refs))
        runs = []
        for bulk, size in ((False, 1), (True, batch)):
            savepoint = transaction.savepoint()
            outcome = matching.lines_match(
                entity=entity, actor=Actor.cli(), confirm=False, batch_size=size, bulk=bulk
            )
            _money_kept(entity)
            runs.append((outcome.as_dict(), _decisions(entity)))
            transaction.savepoint_rollback(savepoint)
        transaction.set_rollback(True)
    assert runs[0] == runs[1]


@given(
    parts=st.lists(
        st.lists(st.decimals("0.01", "999.99", places=2), min_size=0, max_size=3), min_size=1, max_size=6
    )
)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_open_items_read_raw_are_what_the_orm_reads(entity, make_customer, make_invoice, make_payment, parts):
    """``open_items`` reads its rows without the ORM's converters and converts them itself: the
    same open amounts (to the cent, floats of SQLite included) and days as through the ORM."""
    from relance.cashapp import selectors
    from relance.ledger.models import Invoice

    Allocation.objects.all().delete()
    Payment.objects.all().delete()
    Invoice.objects.all().delete()
    customer = (
        make_customer("C1", name="Dupont SARL") if not entity.customers.exists() else entity.customers.get()
    )
    for n, paid in enumerate(parts):
        total = sum(paid, Decimal(0)) + Decimal("0.03") * (n + 1)
        invoice = make_invoice(
            customer,
            f"INV-{n}",
            total,
            D("2026-10-01"),
            D("2026-10-31") + (n % 3) * (D("2026-11-01") - D("2026-10-31")),
        )
        for k, amount in enumerate(paid):
            payment = make_payment(customer, f"P-{n}-{k}", amount, D("2026-11-05"))
            Allocation.objects.create(
                entity=entity, invoice=invoice, payment=payment, date=D("2026-11-05"), amount=amount
            )
    through_orm = [selectors.open_item(row) for row in selectors.open_items_query(entity=entity)]
    assert selectors.open_items(entity=entity) == through_orm
    assert [item.open_amount for item in through_orm] == [
        Decimal("0.03") * (n + 1) for n in sorted(range(len(parts)), key=lambda n: (n % 3, n))
    ]


def test_a_line_assigned_during_the_run_is_left_to_the_person(
    tmp_path, entity, account, invoices, monkeypatch
) -> None:
    """A person assigns a line to a customer after the run read it, before its batch is written:
    the run does not apply it (the lock checks the assignment too); the person's decision still
    applies assigned lines (``by_person``)."""
    imported(entity, tmp_path, *paying_lines(invoices)[:4])
    real = matching.lines_apply

    def assigned_meanwhile(batch, **kwargs):
        if len(batch) > 1:  # the second batch: B-2 and B-3
            BankLine.objects.filter(bank_ref="B-2").update(assigned_customer=invoices["zeta"])
        return real(batch, **kwargs)

    monkeypatch.setattr(matching, "lines_apply", assigned_meanwhile)
    matching.lines_match(entity=entity, actor=Actor.cli(), confirm=False, batch_size=4)
    statuses = dict(BankLine.objects.values_list("bank_ref", "status"))
    assert (
        statuses["B-2"] != "applied" and not BankLineApplication.objects.filter(line__bank_ref="B-2").exists()
    )
    assert [ref for ref, status in sorted(statuses.items()) if status == "applied"] == ["B-1", "B-3", "B-4"]

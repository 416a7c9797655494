"""Short and over payments: a small residual written off (a credit note with a reason), a larger one
a deduction (a short-payment dispute through the cases app, the customer told) or left open, a
partial payment left open; an overpayment kept as unapplied credit, shown on the 360 and the
portal. Money is never created or lost."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relance.cases.models import Dispute
from relance.cashapp import matching
from relance.cashapp.models import BankLineApplication, CashAppSettings
from relance.cashapp.residuals import (
    DEDUCTION,
    LEAVE_OPEN,
    NONE,
    PARTIAL,
    WRITE_OFF,
    residual_decide,
    residuals_settle,
)
from relance.cashapp.selectors import cashapp_settings_for, match_policy_for
from relance.core.actors import Actor
from relance.engine.cashapp.amounts import Tolerance
from relance.engine.cashapp.matcher import MatchPolicy
from relance.engine.credit.kpis import is_write_off
from relance.ledger.models import Allocation, CreditNote, Payment
from relance.ledger.selectors import invoice_open_amount
from tests.cashapp.test_match import IBAN, Entry, imported

pytestmark = pytest.mark.django_db

D = date.fromisoformat
WIDE = MatchPolicy(tolerance=Tolerance(absolute=Decimal("200")))  # short payments still applied


@pytest.fixture
def account(entity):
    from relance.cashapp.services import bank_account_add

    return bank_account_add(entity=entity, account=IBAN, currency="EUR", name="main")


@pytest.fixture
def dupont(make_customer, make_invoice):
    customer = make_customer("C1", name="Dupont SARL")
    make_invoice(customer, "INV-2026-0001", "1405.31", D("2026-10-01"), D("2026-10-31"))
    make_invoice(customer, "INV-2026-0002", "500.00", D("2026-10-05"), D("2026-11-04"))
    return customer


def configure(entity, **fields) -> CashAppSettings:
    found, _ = CashAppSettings.objects.update_or_create(entity=entity, defaults=fields)
    return found


def match(entity, policy: MatchPolicy | None = WIDE):
    return matching.lines_match(entity=entity, actor=Actor.cli("alice"), policy=policy)


# --------------------------------------------------------------------------- the rule


@pytest.mark.parametrize(
    ("shortfall", "tolerance", "action", "expected"),
    [
        ("0", "1", "deduction", NONE),
        ("0.50", "1", "deduction", WRITE_OFF),
        ("1.00", "1", "leave_open", WRITE_OFF),
        ("1.01", "1", "leave_open", LEAVE_OPEN),
        ("20", "1", "deduction", DEDUCTION),
        ("20", None, "deduction", DEDUCTION),
        ("0.50", None, "leave_open", LEAVE_OPEN),
        ("150", "1", "deduction", PARTIAL),  # more than 10 % of 1000 open: a partial payment
    ],
)
def test_the_rule(shortfall, tolerance, action, expected) -> None:
    assert (
        residual_decide(
            shortfall=Decimal(shortfall),
            open_before=Decimal("1000"),
            tolerance=None if tolerance is None else Decimal(tolerance),
            action=action,
            deduction_max_percent=Decimal("10"),
        )
        == expected
    )


def test_settings_reader_defaults_and_the_auto_apply_threshold(entity) -> None:
    defaults = cashapp_settings_for(entity=entity)
    assert defaults.pk is None and defaults.write_off_tolerance == 0
    assert defaults.short_payment_action == "leave_open"
    assert match_policy_for(entity=entity).thresholds.auto_apply == 0.95
    configure(entity, auto_apply_threshold=0.99)
    assert match_policy_for(entity=entity).thresholds.auto_apply == 0.99


# --------------------------------------------------------------------------- short payments


def test_small_residual_written_off_with_a_reason(tmp_path, entity, account, dupont) -> None:
    configure(entity, write_off_tolerance=Decimal("1.00"), short_payment_action="deduction")
    imported(entity, tmp_path, Entry("1404.81", servicer_ref="A-1", unstructured="INV-2026-0001"))
    match(entity, policy=None)
    application = BankLineApplication.objects.get()
    assert application.residual_action == WRITE_OFF
    note = CreditNote.objects.get()
    assert (note.external_ref, note.amount, note.date) == (
        f"{application.payment_ref}-WO1",
        Decimal("0.50"),
        D("2026-12-04"),
    )
    assert "payment difference" in note.reason and "A-1" in note.reason
    assert not is_write_off(note.reason)  # not bad debt for the credit KPIs
    assert Allocation.objects.get(credit_note=note).invoice.external_ref == "INV-2026-0001"
    assert invoice_open_amount(invoice=note.allocations.get().invoice) == 0
    assert any("written off" in reason for reason in application.line.reasons)
    assert not Dispute.objects.exists()


def test_deduction_opens_a_short_payment_dispute_and_tells_the_customer(
    tmp_path, entity, account, dupont, django_capture_on_commit_callbacks
) -> None:
    from relance.delivery.models import OutboundMessage
    from relance.ledger.models import Contact

    Contact.objects.create(customer=dupont, email="ap@example.com")
    configure(entity, write_off_tolerance=Decimal("1.00"), short_payment_action="deduction")
    imported(entity, tmp_path, Entry("1385.31", servicer_ref="A-1", unstructured="INV-2026-0001"))
    with django_capture_on_commit_callbacks(execute=True):
        outcome = match(entity)
    assert outcome.statuses["applied"] == 1
    dispute = Dispute.objects.get()
    assert (dispute.invoice.external_ref, dispute.amount, dispute.reason_code, dispute.opened_on) == (
        "INV-2026-0001",
        Decimal("20.0000"),
        "short_payment",
        D("2026-12-04"),
    )
    assert "A-1" in dispute.note
    assert BankLineApplication.objects.get().residual_action == DEDUCTION
    assert not CreditNote.objects.exists()
    keys = sorted(OutboundMessage.objects.values_list("template_key", flat=True))
    assert keys == ["dispute_received", "payment_thank_you"]
    told = OutboundMessage.objects.get(template_key="dispute_received")
    assert "20.00" in told.body_text or "20,00" in told.body_text
    # The case timeline has it as any dispute opened.
    from relance.audit.models import CaseEvent

    assert CaseEvent.objects.filter(kind="dispute_opened", customer=dupont).exists()


def test_a_disputed_amount_is_not_disputed_again(tmp_path, entity, account, dupont) -> None:
    from relance.cases.services import dispute_open
    from relance.ledger.models import Invoice

    invoice = Invoice.objects.get(external_ref="INV-2026-0001")
    dispute_open(
        invoice=invoice,
        reason_code="pricing",
        on=D("2026-11-20"),
        amount=Decimal("20"),
        actor=Actor.cli("bob"),
    )
    configure(entity, short_payment_action="deduction")
    imported(entity, tmp_path, Entry("1385.31", servicer_ref="A-1", unstructured="INV-2026-0001"))
    match(entity)
    assert Dispute.objects.count() == 1
    assert any("already under dispute" in reason for reason in BankLineApplication.objects.get().reasons)


def test_short_left_open_by_setting(tmp_path, entity, account, dupont) -> None:
    configure(entity, write_off_tolerance=Decimal("1.00"), short_payment_action="leave_open")
    imported(entity, tmp_path, Entry("1385.31", servicer_ref="A-1", unstructured="INV-2026-0001"))
    match(entity)
    application = BankLineApplication.objects.get()
    assert application.residual_action == LEAVE_OPEN
    assert not Dispute.objects.exists() and not CreditNote.objects.exists()
    assert any("stays open" in reason for reason in application.reasons)


def test_partial_payment_is_left_open_whatever_the_setting(tmp_path, entity, account, dupont) -> None:
    configure(entity, write_off_tolerance=Decimal("1.00"), short_payment_action="deduction")
    imported(entity, tmp_path, Entry("700.00", servicer_ref="A-1", unstructured="INV-2026-0001"))
    match(entity, policy=None)
    application = BankLineApplication.objects.get()
    assert application.residual_action == PARTIAL
    assert not Dispute.objects.exists()
    assert any("partial payment" in reason for reason in application.reasons)


def test_tolerance_converted_into_the_lines_currency(entity, make_customer, make_invoice) -> None:
    """The tolerance is in the entity's currency: 1.00 EUR is 1.10 USD at the entity's rate; no rate,
    no write-off (said on the line)."""
    from relance.cashapp.residuals import tolerance_in
    from relance.core.rates import MissingRate
    from relance.ledger.models import ExchangeRate

    found = configure(entity, write_off_tolerance=Decimal("1.00"))
    with pytest.raises(MissingRate):
        tolerance_in(found, currency="USD", on=D("2026-12-04"))
    ExchangeRate.objects.create(
        entity=entity,
        rate_date=D("2026-12-01"),
        base_currency="EUR",
        quote_currency="USD",
        rate=Decimal("1.1"),
    )
    assert tolerance_in(found, currency="USD", on=D("2026-12-04")) == Decimal("1.10")
    assert tolerance_in(found, currency="EUR", on=D("2026-12-04")) == Decimal("1.00")


# --------------------------------------------------------------------------- over payments


def test_overpayment_is_unapplied_credit_on_the_portal_and_the_360(
    tmp_path, entity, account, dupont, client, admin_user
) -> None:
    imported(
        entity, tmp_path, Entry("1905.81", servicer_ref="A-1", unstructured="INV-2026-0001 INV-2026-0002")
    )
    match(entity, policy=None)
    payment = Payment.objects.get()
    allocated = sum(a.amount for a in payment.allocations.all())
    assert payment.amount - allocated == Decimal("0.50")
    # Every invoice is paid: the portal still shows the credit (not only netted in the balance).
    from relance.portal.models import PortalLink
    from relance.portal.selectors import portal_overview

    link = PortalLink(customer=dupont)
    balances = portal_overview(link=link, as_of=D("2026-12-05"))
    assert [(b.currency, b.balance, b.unapplied, b.open_count) for b in balances] == [
        ("EUR", Decimal("0.00"), Decimal("0.50"), 0)
    ]
    client.force_login(admin_user)
    from django.urls import reverse

    page = client.get(reverse("workspace:customer", args=[dupont.pk])).content.decode()
    assert 'id="unapplied-credit"' in page and "0.50" in page


# --------------------------------------------------------------------------- money is kept


def _payment_with(entity, customer, invoices, paid: Decimal, ref: str) -> Payment:
    """A payment of ``paid`` allocated to ``invoices`` in order (each at most its open amount), as a
    matched line would be, written by the ledger import's layer."""
    from relance.ingest.records import AllocationRecord, PaymentRecord, upsert_records

    left, allocations = paid, []
    for invoice in invoices:
        part = min(invoice.amount, left)
        if part > 0:
            allocations.append(AllocationRecord(invoice.external_ref, part))
            left -= part
    record = PaymentRecord(
        payment_ref=ref,
        customer_ref=customer.external_ref,
        date=D("2026-12-04"),
        currency="EUR",
        amount=paid,
        allocations=tuple(allocations),
    )
    upsert_records("payments", [record], entity=entity)
    return Payment.objects.get(external_ref=ref)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    amounts=st.lists(st.integers(min_value=100, max_value=500_000), min_size=1, max_size=3),
    paid_cents=st.integers(min_value=1, max_value=1_600_000),
    tolerance_cents=st.integers(min_value=0, max_value=500),
    action=st.sampled_from(["deduction", "leave_open"]),
    percent=st.sampled_from([Decimal("0"), Decimal("10"), Decimal("100")]),
)
def test_money_is_never_created_or_lost(
    entity, make_customer, make_invoice, amounts, paid_cents, tolerance_cents, action, percent
) -> None:
    """line amount = allocations + unapplied credit; the invoices' open amount before = allocations
    + written off + disputed + left open; a deduction disputes the residual exactly."""
    from django.db import transaction

    from relance.cashapp.models import BankLine

    class Rollback(Exception):
        pass

    try:
        with transaction.atomic():
            customer = make_customer("H1")
            invoices = [
                make_invoice(customer, f"H-{n}", Decimal(cents) / 100, D("2026-10-01"), D("2026-10-31"))
                for n, cents in enumerate(amounts, start=1)
            ]
            paid = Decimal(paid_cents) / 100
            open_before = sum((invoice.amount for invoice in invoices), Decimal(0))
            payment = _payment_with(entity, customer, invoices, paid, "H-PAY")
            line = BankLine(
                pk=10**6, entity=entity, bank_ref="H-LINE", booking_date=D("2026-12-04"), currency="EUR"
            )
            line.amount = paid
            found = CashAppSettings(
                entity=entity,
                write_off_tolerance=Decimal(tolerance_cents) / 100,
                short_payment_action=action,
                deduction_max_percent=percent,
            )
            outcome = residuals_settle(
                line=line, payment=payment, settings=found, actor=Actor.cli("h"), confirm=False
            )
            allocated = sum((a.amount for a in payment.allocations.all()), Decimal(0))
            unapplied = payment.amount - allocated
            assert paid == allocated + unapplied and unapplied >= 0
            written_off = sum(
                (note.amount for note in CreditNote.objects.filter(customer=customer)), Decimal(0)
            )
            disputed = sum((d.amount for d in Dispute.objects.filter(customer=customer)), Decimal(0))
            left_open = sum((invoice_open_amount(invoice=invoice) for invoice in invoices), Decimal(0))
            assert open_before == allocated + written_off + left_open
            assert outcome.written_off == written_off
            touched = set(payment.allocations.values_list("invoice_id", flat=True))
            shortfall = sum((i.amount for i in invoices if i.pk in touched), Decimal(0)) - allocated
            if outcome.action == DEDUCTION:
                assert disputed == shortfall
            else:
                assert disputed == 0
            if outcome.action == WRITE_OFF:
                assert written_off == shortfall
            if shortfall == 0:
                assert outcome.action == NONE
            raise Rollback
    except Rollback:
        pass


def test_unapply_takes_the_write_off_and_the_deduction_back(tmp_path, entity, account, dupont) -> None:
    from relance.cashapp.decisions import line_unapply
    from relance.cashapp.models import BankLine

    configure(entity, write_off_tolerance=Decimal("1.00"), short_payment_action="deduction")
    imported(
        entity,
        tmp_path,
        Entry("1404.81", servicer_ref="A-1", unstructured="INV-2026-0001"),
        Entry("480.00", servicer_ref="A-2", unstructured="INV-2026-0002"),
    )
    match(entity)
    assert CreditNote.objects.count() == 1 and Dispute.objects.filter(status="open").count() == 1
    for ref in ("A-1", "A-2"):
        line_unapply(
            entity=entity,
            line=BankLine.objects.get(bank_ref=ref),
            reason="wrong customer",
            actor=Actor.cli("bob"),
        )
    assert not CreditNote.objects.exists() and not Allocation.objects.exists()
    dispute = Dispute.objects.get()
    assert (dispute.status, dispute.resolution) == ("resolved", "withdrawn")
    assert "wrong customer" in dispute.note
    from relance.ledger.models import Invoice

    assert invoice_open_amount(invoice=Invoice.objects.get(external_ref="INV-2026-0001")) == Decimal(
        "1405.31"
    )


def test_remittance_advice_splits_the_line(tmp_path, entity, account, dupont) -> None:
    import io
    import json

    from django.core.management import call_command

    from relance.cashapp.models import BankLine

    imported(
        entity,
        tmp_path,
        Entry("1900.00", servicer_ref="A-9", name="Someone Else", iban="DE89370400440532013000"),
    )
    advice = tmp_path / "advice.txt"
    advice.write_text("Hello,\n\n  2026-0001   1.405,31\n  inv 2026/0002  480,00\n\nTotal 1.885,31\n")
    out = io.StringIO()
    call_command("bank", "remittance", "A-9", str(advice), "--check", "--json", stdout=out)
    checked = json.loads(out.getvalue())
    assert checked["split"] is False and checked["unapplied"] == "14.69"
    assert BankLine.objects.get(bank_ref="A-9").status != "applied"
    out = io.StringIO()
    call_command("bank", "remittance", "A-9", str(advice), stdout=out)
    assert "split A-9" in out.getvalue()
    line = BankLine.objects.get(bank_ref="A-9")
    assert line.status == "applied"
    payment = Payment.objects.get()
    assert sorted((a.invoice.external_ref, a.amount) for a in payment.allocations.all()) == [
        ("INV-2026-0001", Decimal("1405.3100")),
        ("INV-2026-0002", Decimal("480.0000")),
    ]
    # 20.00 short of INV-2026-0002 (4 %): left open by default; 14.69 unapplied credit.
    assert payment.amount - sum(a.amount for a in payment.allocations.all()) == Decimal("14.69")
    assert BankLineApplication.objects.get(line=line).residual_action == LEAVE_OPEN


def test_remittance_errors_name_file_line_and_field(tmp_path, entity, account, dupont) -> None:
    import io

    from django.core.management import call_command
    from django.core.management.base import CommandError

    imported(
        entity,
        tmp_path,
        Entry("100.00", servicer_ref="A-9", name="Someone Else", iban="DE89370400440532013000"),
    )
    advice = tmp_path / "advice.csv"
    advice.write_text("invoice;amount\nINV-2026-0001;60,00\nINV-9999;40,00\n")
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 error"):
        call_command("bank", "remittance", "A-9", str(advice), stdout=io.StringIO(), stderr=err)
    assert f"{advice}:3: invoice reference: expected an open invoice" in err.getvalue()
    assert not Payment.objects.exists()

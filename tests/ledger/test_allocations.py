"""Invariants of the ledger: nothing allocates more than a payment holds or an invoice owes, and
open items always add up to invoices − credit notes − allocated cash, as of any date."""

import contextlib
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from relance.core.errors import OverAllocation, ValidationFailed
from relance.ledger import selectors, services
from relance.ledger.models import Allocation, CreditNote, Customer, Invoice, Payment

START = date(2024, 1, 1)


def test_allocation_reduces_the_open_amount_from_its_date(entity, make_customer, make_invoice, make_payment):
    customer = make_customer("C1")
    invoice = make_invoice(customer, "INV-1", "100.00", START, START + timedelta(days=30))
    payment = make_payment(customer, "PAY-1", "60.00", date(2024, 2, 10))
    services.allocation_create(
        invoice=invoice, payment=payment, amount=Decimal("60.00"), on=date(2024, 2, 10)
    )

    assert selectors.invoice_open_amount(invoice=invoice) == Decimal("40.00")
    assert selectors.invoice_open_amount(invoice=invoice, as_of=date(2024, 2, 9)) == Decimal("100.00")
    assert selectors.payment_unallocated(payment=payment) == 0
    opened = selectors.invoice_list_with_open(entity=entity, as_of=date(2024, 2, 10)).get()
    assert opened.open_amount == Decimal("40.00")


def test_over_allocation_of_an_invoice_is_refused(entity, make_customer, make_invoice, make_payment):
    customer = make_customer("C1")
    invoice = make_invoice(customer, "INV-1", "100.00", START)
    payment = make_payment(customer, "PAY-1", "500.00", START)
    services.allocation_create(invoice=invoice, payment=payment, amount=Decimal("80"), on=START)
    with pytest.raises(OverAllocation, match="invoice INV-1 owes 20"):
        services.allocation_create(
            invoice=invoice,
            payment=make_payment(customer, "PAY-2", "50.00", START),
            amount=Decimal("50"),
            on=START,
        )
    assert Allocation.objects.count() == 1


def test_over_allocation_of_a_payment_is_refused(entity, make_customer, make_invoice, make_payment):
    customer = make_customer("C1")
    payment = make_payment(customer, "PAY-1", "100.00", START)
    services.allocation_create(
        invoice=make_invoice(customer, "INV-1", "70", START), payment=payment, amount=Decimal("70"), on=START
    )
    with pytest.raises(OverAllocation, match="payment PAY-1 has 30"):
        services.allocation_create(
            invoice=make_invoice(customer, "INV-2", "70", START),
            payment=payment,
            amount=Decimal("40"),
            on=START,
        )


def test_allocation_rules(entity, make_customer, make_invoice, make_payment):
    customer, other = make_customer("C1"), make_customer("C2")
    invoice = make_invoice(customer, "INV-1", "100", date(2024, 3, 1))
    with pytest.raises(ValidationFailed, match="another customer"):
        services.allocation_create(
            invoice=invoice,
            payment=make_payment(other, "P-O", "10", date(2024, 3, 1)),
            amount=Decimal(1),
            on=date(2024, 3, 1),
        )
    with pytest.raises(ValidationFailed, match="cannot allocate USD"):
        services.allocation_create(
            invoice=invoice,
            payment=make_payment(customer, "P-USD", "10", date(2024, 3, 1), currency="USD"),
            amount=Decimal(1),
            on=date(2024, 3, 1),
        )
    with pytest.raises(ValidationFailed, match="before the invoice issue date"):
        services.allocation_create(
            invoice=invoice,
            payment=make_payment(customer, "P-EARLY", "10", date(2024, 1, 1)),
            amount=Decimal(1),
            on=date(2024, 1, 1),
        )
    with pytest.raises(ValidationFailed, match="exactly one source"):
        services.allocation_create(invoice=invoice, amount=Decimal(1), on=date(2024, 3, 1))


def test_a_parent_account_may_pay_a_child_invoice(entity, make_customer, make_invoice, make_payment):
    parent = make_customer("GROUP")
    child = make_customer("SUB", parent=parent)
    invoice = make_invoice(child, "INV-1", "100", START)
    services.allocation_create(
        invoice=invoice, payment=make_payment(parent, "P-1", "100", START), amount=Decimal(100), on=START
    )
    assert selectors.invoice_open_amount(invoice=invoice) == 0


def test_entity_init_is_idempotent(db):
    first, created = services.entity_create_or_update(name="acme", currency="eur")
    again, created_again = services.entity_create_or_update(name="acme", currency="USD")
    assert created and not created_again
    assert first.pk == again.pk and again.currency == "EUR"


amounts = st.integers(min_value=1, max_value=100_000).map(lambda cents: Decimal(cents) / 100)


class AllocationInvariantTests(TestCase):
    """Random sequences of documents and allocation attempts keep the ledger balanced."""

    @settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
    @given(
        invoices=st.lists(amounts, min_size=1, max_size=5),
        payments=st.lists(amounts, min_size=0, max_size=4),
        credit_notes=st.lists(amounts, min_size=0, max_size=2),
        attempts=st.lists(
            st.tuples(st.integers(0, 10), st.integers(0, 10), amounts, st.booleans(), st.integers(0, 60)),
            max_size=15,
        ),
    )
    def test_money_is_never_created_or_lost(self, invoices, payments, credit_notes, attempts):
        entity, _ = services.entity_create_or_update(name="prop", currency="EUR")
        customer = Customer.objects.create(entity=entity, external_ref="C", name="C", currency="EUR")
        invoice_rows = [
            Invoice.objects.create(
                entity=entity,
                customer=customer,
                external_ref=f"I{i}",
                issue_date=START,
                due_date=START + timedelta(days=30),
                currency="EUR",
                amount=amount,
            )
            for i, amount in enumerate(invoices)
        ]
        payment_rows = [
            Payment.objects.create(
                entity=entity,
                customer=customer,
                external_ref=f"P{i}",
                date=START + timedelta(days=i),
                currency="EUR",
                amount=amount,
            )
            for i, amount in enumerate(payments)
        ]
        credit_rows = [
            CreditNote.objects.create(
                entity=entity,
                customer=customer,
                external_ref=f"N{i}",
                date=START,
                currency="EUR",
                amount=amount,
            )
            for i, amount in enumerate(credit_notes)
        ]
        for invoice_index, source_index, amount, use_credit, day in attempts:
            sources = credit_rows if use_credit else payment_rows
            if not sources:
                continue
            source = sources[source_index % len(sources)]
            kwargs = {"credit_note": source} if use_credit else {"payment": source}
            with contextlib.suppress(OverAllocation, ValidationFailed):
                services.allocation_create(
                    invoice=invoice_rows[invoice_index % len(invoice_rows)],
                    amount=amount,
                    on=START + timedelta(days=day),
                    **kwargs,
                )

        for invoice in invoice_rows:
            assert 0 <= selectors.invoice_open_amount(invoice=invoice) <= invoice.amount
        for payment in payment_rows:
            assert 0 <= selectors.payment_unallocated(payment=payment) <= payment.amount
        for note in credit_rows:
            assert 0 <= selectors.credit_note_unallocated(credit_note=note) <= note.amount

        for as_of in (START, START + timedelta(days=15), START + timedelta(days=90)):
            totals = selectors.ledger_totals(entity=entity, as_of=as_of).get("EUR")
            if totals is None:
                continue
            open_invoices = sum(
                (selectors.invoice_open_amount(invoice=i, as_of=as_of) for i in invoice_rows), Decimal(0)
            )
            open_credits = sum(
                (selectors.credit_note_unallocated(credit_note=n, as_of=as_of) for n in credit_rows),
                Decimal(0),
            )
            assert totals.open_invoices == open_invoices
            assert totals.open_items == open_invoices - open_credits
            assert totals.open_items == totals.invoiced - totals.credited - totals.cash_allocated


def test_a_second_allocation_of_the_same_source_to_the_same_invoice_is_refused(
    entity, make_customer, make_invoice, make_payment
):
    customer = make_customer("C1")
    invoice = make_invoice(customer, "INV-1", "100", START)
    payment = make_payment(customer, "P-1", "100", START)
    services.allocation_create(invoice=invoice, payment=payment, amount=Decimal(10), on=START)
    with pytest.raises(ValidationFailed, match="already allocated to invoice INV-1"):
        services.allocation_create(invoice=invoice, payment=payment, amount=Decimal(10), on=START)


def test_customer_tax_id_is_validated_for_its_country(entity, make_customer):
    from django.core.exceptions import ValidationError

    customer = make_customer("C-VAT", country="FR", tax_id="FR 40 303 265 045")
    customer.full_clean()
    assert customer.tax_id == "FR40303265045"
    customer.tax_id = "FR00000000000"
    with pytest.raises(ValidationError, match="invalid tax id"):
        customer.full_clean()


def test_a_voided_invoice_still_counts_before_its_void_date(entity, make_customer, make_invoice):
    customer = make_customer("C1")
    invoice = make_invoice(customer, "INV-V", "100", START, START + timedelta(days=30))
    invoice.status, invoice.voided_on = "void", date(2024, 3, 1)
    invoice.save()
    before = selectors.ledger_totals(entity=entity, as_of=date(2024, 2, 29))["EUR"]
    assert before.open_invoices == Decimal(100)
    assert selectors.invoice_list_with_open(entity=entity, as_of=date(2024, 2, 29)).count() == 1
    assert selectors.invoice_list_with_open(entity=entity, as_of=date(2024, 3, 1)).count() == 0
    assert "EUR" not in selectors.ledger_totals(entity=entity, as_of=date(2024, 3, 1))
    assert selectors.invoice_list_with_open(entity=entity).count() == 0


def test_an_invoice_paid_in_awkward_parts_is_not_open(entity, make_customer, make_invoice, make_payment):
    customer = make_customer("C1")
    # in floating point 0.14 − (0.01 + 0.01 + 0.12) is 2.8e-17, not 0 (SQLite stores REAL)
    invoice = make_invoice(customer, "INV-F", "0.14", START)
    for index, part in enumerate(["0.01", "0.01", "0.12"]):
        payment = make_payment(customer, f"P{index}", part, START)
        services.allocation_create(invoice=invoice, payment=payment, amount=Decimal(part), on=START)
    assert not selectors.customer_open_items(customer=customer, as_of=START)
    assert not selectors.customer_list_with_balances(entity=entity, as_of=START, only_open=True).exists()

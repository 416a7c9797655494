"""A realistic customer for rendering tests: overdue and upcoming invoices, a part payment,
a promise, a dispute and a payment plan; an entity with bank details and branding."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

AS_OF = date(2026, 11, 23)


@dataclass
class Ledger:
    entity: object
    customer: object
    contact: object
    invoices: list
    collector: object
    owner: object


@pytest.fixture
def ledger(entity, make_customer, make_invoice, make_payment, django_user_model):
    from relance.cases.models import Dispute, Installment, PaymentPlan, Promise
    from relance.ledger.models import Allocation

    entity.iban = "FR7630006000011234567890189"
    entity.bic = "AGRIFRPP"
    entity.address = "12 rue de la Paix\n75002 Paris"
    entity.vat_id = "FR40303265045"
    entity.primary_colour = "#123456"
    entity.save()
    collector = django_user_model.objects.create_user(
        "claire", email="claire@acme.example", first_name="Claire", last_name="Martin"
    )
    owner = django_user_model.objects.create_user(
        "sam", email="sam@acme.example", first_name="Sam", last_name="Owner"
    )
    customer = make_customer(
        "C-100", name="Globex Industries", language="fr", country="FR", collector=collector, sales_owner=owner
    )
    contact = customer.contacts.create(
        name="Jeanne Dupont",
        email="jeanne@globex.example",
        phone="+33612345678",
        postal_address="Globex Industries\n5 avenue Foch\n69006 Lyon",
    )
    overdue = make_invoice(customer, "INV-2026-001", "1234.50", date(2026, 9, 1), date(2026, 10, 1))
    part_paid = make_invoice(customer, "INV-2026-002", "500.00", date(2026, 10, 1), date(2026, 10, 31))
    upcoming = make_invoice(customer, "INV-2026-003", "89.90", date(2026, 11, 10), date(2026, 12, 10))
    make_invoice(customer, "INV-2026-000", "10.00", date(2026, 8, 1), date(2026, 8, 31))
    paid = customer.invoices.get(external_ref="INV-2026-000")
    payment = make_payment(customer, "PAY-1", "210.00", date(2026, 11, 5))
    Allocation.objects.create(
        entity=entity, invoice=part_paid, payment=payment, date=date(2026, 11, 5), amount=Decimal("200.00")
    )
    Allocation.objects.create(
        entity=entity, invoice=paid, payment=payment, date=date(2026, 11, 5), amount=Decimal("10.00")
    )
    promise = Promise.objects.create(
        entity=entity,
        customer=customer,
        created_on=date(2026, 11, 10),
        promised_date=date(2026, 11, 20),
        amount=Decimal("1234.50"),
        currency="EUR",
    )
    promise.invoices.add(overdue)
    Dispute.objects.create(
        entity=entity,
        customer=customer,
        invoice=part_paid,
        amount=Decimal("50.00"),
        reason_code="quantity",
        opened_on=date(2026, 11, 12),
    )
    plan = PaymentPlan.objects.create(
        entity=entity, customer=customer, starts_on=date(2026, 11, 1), currency="EUR"
    )
    Installment.objects.create(plan=plan, sequence=1, due_date=date(2026, 11, 15), amount=Decimal("300.00"))
    Installment.objects.create(plan=plan, sequence=2, due_date=date(2026, 12, 15), amount=Decimal("300.00"))
    return Ledger(
        entity=entity,
        customer=customer,
        contact=contact,
        invoices=[overdue, part_paid, upcoming],
        collector=collector,
        owner=owner,
    )


@pytest.fixture
def quick(monkeypatch):
    """No statement PDF (tested on its own) and a stand-in QR image: these tests are about wording."""
    from relance.comms import context, services

    monkeypatch.setattr(services, "_statement", lambda *args: None)
    monkeypatch.setattr(context.payment_refs, "epc_qr_png", lambda **fields: b"\x89PNG-stub")
    monkeypatch.setattr(context.payment_refs, "epc_qr_svg", lambda **fields: "<svg/>")

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest


@pytest.fixture
def relance_changes():
    """Changes made in Relance after a first sync, which the ERP must hear about: a hold, a
    resolved dispute, a promise, and a payment taken in the portal and allocated to an invoice."""

    def make(entity, *, customer_ref: str, invoice_ref: str) -> dict[str, object]:
        from relance.cases.models import CustomerHold, Dispute, Promise
        from relance.ledger.models import Allocation, Customer, Invoice, Payment
        from relance.portal.models import PortalCheckout

        customer = Customer.objects.get(entity=entity, external_ref=customer_ref)
        invoice = Invoice.objects.get(entity=entity, external_ref=invoice_ref)
        today = date(2026, 11, 20)
        hold = CustomerHold.objects.create(
            entity=entity, customer=customer, kind="hold", reason="bankruptcy filing checked", starts_on=today
        )
        dispute = Dispute.objects.create(
            entity=entity, customer=customer, invoice=invoice, amount=Decimal("50"), reason_code="pricing",
            status="resolved", opened_on=today - timedelta(days=5), resolved_on=today, resolution="credit_note",
        )  # fmt: skip
        promise = Promise.objects.create(
            entity=entity, customer=customer, created_on=today, promised_date=today + timedelta(days=10),
            amount=Decimal("200"), currency=invoice.currency,
        )  # fmt: skip
        promise.invoices.add(invoice)
        payment = Payment.objects.create(
            entity=entity, customer=customer, external_ref="pi_3PORTAL", date=today, currency=invoice.currency,
            amount=Decimal("100"), method="stripe",
        )  # fmt: skip
        Allocation.objects.create(
            entity=entity, invoice=invoice, payment=payment, date=today, amount=Decimal("100")
        )
        PortalCheckout.objects.create(
            entity=entity, customer=customer, provider="stripe", provider_ref="cs_test_1", amount=Decimal("100"),
            currency=invoice.currency, status="paid", payment=payment,
        )  # fmt: skip
        return {"hold": hold, "dispute": dispute, "promise": promise, "payment": payment}

    return make

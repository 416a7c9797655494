"""Portal fixtures: a customer with a child account, open and paid invoices, a live link."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache

from tests.delivery.conftest import smtp_server, smtp_settings  # noqa: F401  (a real SMTP server)


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def today(entity):
    from relance.portal.selectors import portal_today

    return portal_today(entity=entity)


@pytest.fixture
def ledger(entity, make_customer, make_invoice, make_payment, today):
    """Parent P1 (with child P1-A) owing 3 invoices; stranger S9 owing 1."""
    from relance.ledger.models import Contact
    from relance.ledger.services import allocation_create

    entity.iban = "FR7630006000011234567890189"
    entity.bic = "AGRIFRPP"
    entity.save()
    parent = make_customer("P1", name="Parent SA", credit_limit=Decimal("10000"))
    child = make_customer("P1-A", name="Child SARL", parent=parent)
    stranger = make_customer("S9", name="Stranger Ltd")
    Contact.objects.create(customer=parent, name="Ana", email="ana@parent.example", role="billing")
    Contact.objects.create(customer=stranger, name="Sam", email="sam@stranger.example", role="billing")
    day = timedelta(days=1)
    invoices = {
        "late": make_invoice(parent, "INV-1", "1200.00", today - 60 * day, today - 30 * day),
        "soon": make_invoice(parent, "INV-2", "300.00", today - 5 * day, today + 25 * day),
        "child": make_invoice(child, "INV-3", "500.00", today - 40 * day, today - 10 * day),
        "paid": make_invoice(parent, "INV-4", "80.00", today - 90 * day, today - 60 * day),
        "stranger": make_invoice(stranger, "INV-9", "999.00", today - 50 * day, today - 20 * day),
    }
    payment = make_payment(parent, "PAY-1", "80.00", today - 61 * day)
    allocation_create(invoice=invoices["paid"], amount=Decimal("80.00"), on=today - 61 * day, payment=payment)
    return {"parent": parent, "child": child, "stranger": stranger, "invoices": invoices}


@pytest.fixture
def link(ledger):
    from relance.portal.links import link_create

    return link_create(customer=ledger["parent"], contact=ledger["parent"].contacts.first(), days=30)


@pytest.fixture
def stranger_link(ledger):
    from relance.portal.links import link_create

    return link_create(customer=ledger["stranger"], days=30)


@pytest.fixture
def url(link):
    from django.urls import reverse

    from relance.portal.links import token_for

    token = token_for(link)

    def build(name: str = "overview", *args) -> str:
        return reverse(f"portal:{name}", args=[token, *args])

    return build


def sent_messages() -> list[tuple[str, str]]:
    """(recipient, text) of every message the portal sent: outbox rows, else Django's mail outbox."""
    from django.core import mail

    found = [(", ".join(m.to), str(m.body)) for m in mail.outbox]
    try:
        from relance.delivery.models import OutboundMessage
    except ImportError:
        return found
    return found + [(m.recipient, m.body_text) for m in OutboundMessage.objects.all()]

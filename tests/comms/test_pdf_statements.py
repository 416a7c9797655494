"""Statements of account: open items with aging, balance per currency, payment details, in the
customer's language."""

from datetime import date
from decimal import Decimal

import pytest

from relance.comms.pdf import statement_pdf
from relance.ledger import services
from relance.ledger.models import Contact, CreditNote
from tests.comms.pdf_helpers import page_size_pt, page_texts

AS_OF = date(2024, 9, 30)


def plain(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


@pytest.fixture
def account(entity, make_customer, make_invoice, make_payment):
    entity.legal_name = "ACME SAS"
    entity.address = "12 rue de la Paix\n75002 Paris"
    entity.iban = "FR7630006000011234567890189"
    entity.bic = "AGRIFRPP"
    entity.save()
    customer = make_customer("C-42", name="Durand SARL", language="fr", country="FR")
    Contact.objects.create(customer=customer, name="Compta", postal_address="5 avenue Foch\n69006 Lyon")
    make_invoice(customer, "INV-OLD", "1000.00", date(2024, 5, 1), date(2024, 5, 31))  # 122 days
    partly = make_invoice(customer, "INV-MID", "2500.00", date(2024, 8, 1), date(2024, 8, 31))  # 30 days
    make_invoice(customer, "INV-NEW", "300.00", date(2024, 9, 20), date(2024, 10, 20))  # not yet due
    make_invoice(customer, "INV-USD", "99.90", date(2024, 7, 1), date(2024, 7, 31), currency="USD")  # 61 days
    paid = make_invoice(customer, "INV-PAID", "50.00", date(2024, 6, 1), date(2024, 6, 30))
    payment = make_payment(customer, "PAY-1", "600.00", date(2024, 9, 15))
    services.allocation_create(
        invoice=partly, payment=payment, amount=Decimal("500.00"), on=date(2024, 9, 15)
    )
    services.allocation_create(invoice=paid, payment=payment, amount=Decimal("50.00"), on=date(2024, 9, 15))
    CreditNote.objects.create(
        entity=entity,
        customer=customer,
        external_ref="CN-1",
        date=date(2024, 9, 1),
        currency="EUR",
        amount=Decimal("120.00"),
    )
    return customer


def test_statement_lists_open_items_with_aging_and_totals_per_currency(account):
    pdf = statement_pdf(customer=account, as_of=AS_OF)
    assert page_size_pt(pdf) == (595.3, 841.9)
    text = plain("\n".join(page_texts(pdf)))
    assert "Relevé de compte · Durand SARL" in text
    assert "Éléments ouverts au 30 septembre 2024" in text
    assert "Durand SARL\n5 avenue Foch\n69006 Lyon" in text
    assert "INV-OLD Facture 01/05/2024 31/05/2024 122 1 000,00 € 1 000,00 €" in text
    assert "INV-MID Facture 01/08/2024 31/08/2024 30 2 500,00 € 2 000,00 €" in text
    assert "INV-NEW Facture 20/09/2024 20/10/2024 300,00 € 300,00 €" in text
    assert "INV-USD Facture 01/07/2024 31/07/2024 61 99,90 $US 99,90 $US" in text
    assert "INV-PAID" not in text
    assert "CN-1 Avoir 01/09/2024 -120,00 € -120,00 €" in text
    assert "PAY-1 Paiement non affecté 15/09/2024 -600,00 € -50,00 €" in text
    # EUR: not yet due 300 − 120 − 50 (credits are unaged) → 130; 1–30: 2,000; 91+: 1,000; balance 3,130.
    assert "EUR 130,00 € 2 000,00 € 0,00 € 0,00 € 1 000,00 € 3 000,00 € 3 130,00 €" in text
    assert "USD 0,00 $US 0,00 $US 0,00 $US 99,90 $US 0,00 $US 99,90 $US 99,90 $US" in text
    assert "FR76 3000 6000 0112 3456 7890 189" in text and "Montant dû 3 000,00 €" in text
    assert "Numéro client" in text and "C-42" in text and "Référence de paiement" in text


def test_statement_language_can_be_chosen(account):
    text = plain("\n".join(page_texts(statement_pdf(customer=account, as_of=AS_OF, language="en"))))
    assert "Statement of account · Durand SARL" in text and "Open items as of September 30, 2024" in text
    assert "INV-OLD Invoice 5/1/24 5/31/24 122 €1,000.00 €1,000.00" in text
    assert "Balance by currency" in text and "Page 1 of 1" in text


def test_long_statements_run_over_pages_with_numbers(account, make_invoice):
    for number in range(45):
        make_invoice(account, f"INV-{number:03}", "10.00", date(2024, 9, 1), date(2024, 9, 10))
    pdf = statement_pdf(customer=account, as_of=AS_OF, language="en", paper="letter")
    texts = page_texts(pdf)
    assert page_size_pt(pdf) == (612.0, 792.0)
    assert len(texts) >= 2
    assert f"Page {len(texts)} of {len(texts)}" in texts[-1]
    assert "INV-044" in "\n".join(texts)


def test_a_settled_account_says_so(entity, make_customer):
    customer = make_customer("C-0", name="Nobody Owes")
    text = page_texts(statement_pdf(customer=customer, as_of=AS_OF))[0]
    assert "Your account has no open items. Thank you." in text
    assert "Nobody Owes" in text

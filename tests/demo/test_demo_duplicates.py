"""The demo plants customers typed in twice and searches: the review page has pairs of every kind
of evidence (once: a second call plants nothing more)."""

from __future__ import annotations

from datetime import date


def test_the_demo_plants_duplicates_with_each_kind_of_evidence(entity, make_customer, make_invoice) -> None:
    from relance.demo.duplicates import COPIES, demo_duplicates_seed
    from relance.ledger.models import Contact, Customer
    from relance.quality.models import DuplicateCandidate

    words = [
        "Transportes Ramos S.A.",
        "Hoffmann Feinkost GmbH",
        "Yardley Components Ltd",
        "Barbier Froid SARL",
    ]
    for number in range(1, 29):
        customer = make_customer(
            f"C-{number:05d}", name=f"{words[number % 4].split()[0]} {number} Trading SA", country="FR"
        )
        Contact.objects.create(
            customer=customer, email=f"ap@c{number}.example", phone=f"+3361234{number:04d}"
        )
        make_invoice(customer, f"INV-{number}", "100.00", date(2026, 1, 1), date(2026, 1, 31))
    found = demo_duplicates_seed(entity=entity)
    copies = Customer.objects.filter(external_ref__startswith="DUP-")
    assert copies.count() == len(COPIES) and found >= len(COPIES)
    reasons = " ".join(" ".join(pair.reasons) for pair in DuplicateCandidate.objects.all())
    for evidence in ("same phone", "same tax id", "same address", "same e-mail domain"):
        assert evidence in reasons
    assert all(copy.invoices.count() == 1 for copy in copies)
    demo_duplicates_seed(entity=entity)
    assert Customer.objects.filter(external_ref__startswith="DUP-").count() == len(COPIES)

"""The demo's duplicate customers: a few accounts typed in twice in the ERP, as happens (a
different legal form, upper case, a typo, the words in another order), each copy with an open
invoice and a contact, then the search that fills the review page (Workspace → Duplicates).

The generated ledger has look-alikes of its own (its word lists are short); these add the other
kinds of evidence: a shared tax id, phone, e-mail domain and postal address."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from relance.ledger.models import Contact, Customer, Entity, Invoice
from relance.quality.duplicates_services import duplicates_find

# (how the copy's name is typed, what it shares with the original)
COPIES = (
    ("upper", "phone"),
    ("typo", "tax_id"),
    ("reordered", "address"),
    ("legal_form", "domain"),
)
ADDRESS = "{n} avenue des Tilleuls, 69003 Lyon"


def _name(name: str, how: str) -> str:
    words = name.split()
    if how == "upper":
        return name.upper()
    if how == "typo":
        longest = max(range(len(words)), key=lambda i: len(words[i]))
        word = words[longest]
        words[longest] = word[:2] + word[3] + word[2] + word[4:] if len(word) > 4 else word + "e"
        return " ".join(words)
    if how == "reordered":
        return " ".join(reversed(words[:2])) + (" " + " ".join(words[2:]) if len(words) > 2 else "")
    return f"{words[0]} {' '.join(words[1:-1]) or words[-1]} Holding"


@transaction.atomic
def demo_duplicates_seed(*, entity: Entity) -> int:
    """Plant the copies (once: a second call finds them) and search; returns the pairs found."""
    if not Customer.objects.filter(entity=entity, external_ref__startswith="DUP-").exists():
        today = timezone.localdate()
        originals = list(
            Customer.objects.filter(entity=entity, parent__isnull=True, invoices__status="open")
            .distinct()
            .order_by("external_ref")[: len(COPIES) * 7 : 7]
        )
        for number, (original, (how, shared)) in enumerate(zip(originals, COPIES, strict=False), start=1):
            contact = original.contacts.order_by("id").first()
            copy = Customer.objects.create(
                entity=entity,
                external_ref=f"DUP-{number:03d}",
                name=_name(original.name, how),
                currency=original.currency,
                collector=original.collector,  # the original's portfolio: every queue has an owner
                sales_owner=original.sales_owner,
                language=original.language,
                country=original.country,
                segment=original.segment,
                tax_id=f"{original.country or 'FR'}40303265{number:03d}" if shared == "tax_id" else "",
            )
            if shared == "tax_id":
                original.tax_id = copy.tax_id
                original.save(update_fields=["tax_id", "updated_at"])
            email = phone = address = ""
            if contact is not None and shared == "phone":
                phone = contact.phone
            if contact is not None and shared == "domain" and "@" in contact.email:
                email = "accounts@" + contact.email.rpartition("@")[2]
            if shared == "address":
                address = ADDRESS.format(n=10 + number)
                if contact is not None:
                    Contact.objects.filter(pk=contact.pk).update(postal_address=address)
            Contact.objects.create(
                customer=copy,
                name="Accounts payable",
                email=email or f"ap-{number}@{copy.external_ref.lower()}.example",
                phone=phone,
                postal_address=address,
            )
            Invoice.objects.create(
                entity=entity,
                customer=copy,
                external_ref=f"DUP-INV-{number:03d}",
                issue_date=today - timedelta(days=45),
                due_date=today - timedelta(days=15),
                currency=copy.currency,
                amount=Decimal(1200 + 350 * number),
            )
    return len(duplicates_find(entity=entity).pairs)

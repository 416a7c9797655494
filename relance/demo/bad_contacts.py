"""Bad contacts in the demo ledger (issue 19), so the data-quality pages have something to show:
a few dozen customers get a doubtful or broken address of each kind, a returned letter, a hard
bounce, and one of them no usable address at all (a "find a new contact" task after the run).
Deterministic: the same customers (by primary key) every time."""

from __future__ import annotations

from typing import Any

from relance.ledger.models import Contact, Customer, Entity

#: (what goes wrong, the contact's changed fields). Statuses come from the checks (relance
#: quality contacts) except bounced and returned, which come from what happened.
DEFECTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("disposable", {"email": "compta@yopmail.com"}),
    ("no-reply", {"email": "noreply@{domain}"}),
    ("typo", {"email": "factures@gmial.com"}),
    ("generic", {"email": "info@{domain}"}),
    ("landline", {"phone": "+33142685300"}),
    ("bad phone", {"phone": "+3361234"}),
    ("no postcode", {"postal_address": "12 rue des Lilas\nParis"}),
    ("complete", {"postal_address": "8 boulevard Voltaire\n75011 Paris"}),
    (
        "bounced",
        {"email_status": "bounced", "email_reason": "hard bounce: 550 5.1.1 mailbox unknown (demo)"},
    ),
    (
        "returned",
        {
            "postal_address": "3 impasse du Moulin\n69002 Lyon",
            "address_status": "returned",
            "address_reason": "letter returned: moved, no forwarding address (demo)",
        },
    ),
    (
        "unreachable",
        {
            "email": "ap@{domain}",
            "email_status": "bounced",
            "email_reason": "hard bounce: 550 5.1.1 mailbox unknown (demo)",
            "phone": "",
            "postal_address": "9 rue Basse\n33000 Bordeaux",
            "address_status": "returned",
            "address_reason": "letter returned: unknown at this address (demo)",
        },
    ),
)
EVERY = 37  # one customer in 37 gets a defect, in turn


def bad_contacts_seed(*, entity: Entity) -> int:
    """Break some demo contacts; returns how many were changed."""
    customer_ids = list(Customer.objects.filter(entity=entity).order_by("pk").values_list("pk", flat=True))
    chosen = customer_ids[5::EVERY]
    contacts = {
        c.customer_id: c for c in Contact.objects.filter(customer_id__in=chosen).order_by("customer_id", "pk")
    }
    changed = []
    for position, customer_id in enumerate(chosen):
        contact = contacts.get(customer_id)
        if contact is None:
            continue
        _what, fields = DEFECTS[position % len(DEFECTS)]
        domain = contact.email.rpartition("@")[2] or "example.org"
        for name, value in fields.items():
            if name in ("email", "phone", "postal_address"):
                contact.address_changed(name)
            setattr(contact, name, value.format(domain=domain) if isinstance(value, str) else value)
        changed.append(contact)
    fields_written = sorted({name for _what, fields in DEFECTS for name in fields} | {"phone_kind"})
    reasons = {
        "email_reason",
        "phone_reason",
        "address_reason",
        "email_status",
        "phone_status",
        "address_status",
    }
    Contact.objects.bulk_update(changed, sorted(set(fields_written) | reasons))  # type: ignore[no-untyped-call]
    return len(changed)

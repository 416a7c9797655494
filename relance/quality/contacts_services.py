"""Writes of contact validation: each address's status and reason from the checks of
``relance.quality.contacts``, in bulk (an import's new contacts, or a whole entity)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from relance.ledger.models import Contact, ContactStatus, Entity
from relance.ledger.services import data_version_bump
from relance.quality.contacts import EVENT_STATUSES, address_check, email_check, phone_check

BATCH = 2000
FIELDS = (
    "email_status",
    "email_reason",
    "phone_status",
    "phone_reason",
    "phone_kind",
    "address_status",
    "address_reason",
)


@dataclass(frozen=True)
class ValidationResult:
    checked: int
    changed: int
    by_status: dict[str, int]

    def as_dict(self) -> dict[str, object]:
        return {"checked": self.checked, "changed": self.changed, "by_status": dict(self.by_status)}


def _unchecked_q() -> Q:
    """Contacts with an address whose status is not known yet (new or changed since)."""
    return (
        (~Q(email="") & Q(email_status=ContactStatus.UNKNOWN))
        | (~Q(phone="") & Q(phone_status=ContactStatus.UNKNOWN))
        | (~Q(postal_address="") & Q(address_status=ContactStatus.UNKNOWN))
    )


def contact_validate(contact: Contact, country: str) -> bool:
    """Check one contact's addresses and set their statuses (not over a bounce or a return).
    Returns whether a field changed; the caller saves ``FIELDS``."""
    before = tuple(getattr(contact, name) for name in FIELDS)
    if contact.email and contact.email_status not in EVENT_STATUSES:
        found = email_check(contact.email)
        contact.email_status, contact.email_reason = found.status, found.reason
    if contact.phone and contact.phone_status not in EVENT_STATUSES:
        phone = phone_check(contact.phone, country)
        contact.phone_status, contact.phone_reason, contact.phone_kind = (
            phone.status,
            phone.reason,
            phone.kind,
        )
    if contact.postal_address and contact.address_status not in EVENT_STATUSES:
        found = address_check(contact.postal_address, country)
        contact.address_status, contact.address_reason = found.status, found.reason
    return tuple(getattr(contact, name) for name in FIELDS) != before


def contacts_validate(
    *,
    entity: Entity,
    only_unchecked: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> ValidationResult:
    """Check the entity's contacts (by default only those with an address not checked yet: what
    an import added or changed) and store each address's status and reason."""
    contacts: QuerySet[Contact] = Contact.objects.filter(customer__entity=entity)
    if only_unchecked:
        contacts = contacts.filter(_unchecked_q())
    total = contacts.count()
    checked = changed = 0
    by_status: dict[str, int] = {}
    rows = (
        contacts.select_related(None)
        .only("id", "customer_id", "email", "phone", "postal_address", *FIELDS)
        .order_by("id")
    )
    countries = dict(entity.customers.values_list("id", "country"))
    with transaction.atomic():
        batch: list[Contact] = []
        for contact in rows.iterator(chunk_size=BATCH):
            checked += 1
            if contact_validate(contact, countries.get(contact.customer_id) or entity.country):
                batch.append(contact)
            for status in (contact.email_status, contact.phone_status, contact.address_status):
                by_status[status] = by_status.get(status, 0) + 1
            if len(batch) >= BATCH:
                changed += _save(batch)
            if progress is not None and checked % BATCH == 0:
                progress(checked, total)
        changed += _save(batch)
        if changed:
            data_version_bump(entity_id=entity.pk)
    if progress is not None:
        progress(checked, total)
    return ValidationResult(checked=checked, changed=changed, by_status=by_status)


def _save(batch: list[Contact]) -> int:
    """One UPDATE per distinct set of values, not a CASE per row (``bulk_update``): after an
    import almost every contact gets the same statuses and reasons, so a batch of 2,000 is a
    handful of ``UPDATE … WHERE id IN (…)`` (the benchmark's 100k check: docs/benchmarks.md)."""
    count = len(batch)
    groups: dict[tuple[str, ...], list[int]] = {}
    for contact in batch:
        groups.setdefault(tuple(getattr(contact, name) for name in FIELDS), []).append(contact.pk)
    now = timezone.now()
    for values, ids in groups.items():
        Contact.objects.filter(pk__in=ids).update(**dict(zip(FIELDS, values, strict=True)), updated_at=now)
    batch.clear()
    return count

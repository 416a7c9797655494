"""Writes of contact validation: each address's status and reason from the checks of
``relance.ledger.contact_checks``, in bulk (an import's new contacts, or a whole entity)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from relance.ledger.contact_checks import (
    EVENT_STATUSES,
    Finding,
    PhoneFinding,
    address_check,
    email_check,
    phone_check,
)
from relance.ledger.models import Contact, ContactStatus, Entity
from relance.ledger.services import data_version_bump
from relance.quality.score import ContactFacts

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


def _statuses(
    email: str,
    phone: str,
    postal_address: str,
    current: tuple[str, ...],
    country: str,
    checks: CheckMemo | None = None,
) -> tuple[str, ...]:
    """The ``FIELDS`` values after checking one contact's addresses (``current``: their values
    now; a bounce or a return is kept). The one rule both the per-contact and the bulk path use."""
    memo = checks or CheckMemo()
    values = dict(zip(FIELDS, current, strict=True))
    if email and values["email_status"] not in EVENT_STATUSES:
        found = memo.email(email)
        values["email_status"], values["email_reason"] = found.status, found.reason
    if phone and values["phone_status"] not in EVENT_STATUSES:
        number = memo.phone(phone, country)
        values["phone_status"], values["phone_reason"], values["phone_kind"] = (
            number.status,
            number.reason,
            number.kind,
        )
    if postal_address and values["address_status"] not in EVENT_STATUSES:
        found = memo.address(postal_address, country)
        values["address_status"], values["address_reason"] = found.status, found.reason
    return tuple(values[name] for name in FIELDS)


class CheckMemo:
    """Each distinct address checked once in a bulk check (the checks are pure): an import often
    repeats a phone switchboard, a postal address or an e-mail across contacts."""

    def __init__(self) -> None:
        self._emails: dict[str, Finding] = {}
        self._phones: dict[tuple[str, str], PhoneFinding] = {}
        self._addresses: dict[tuple[str, str], Finding] = {}

    def email(self, value: str) -> Finding:
        found = self._emails.get(value)
        if found is None:
            found = self._emails[value] = email_check(value)
        return found

    def phone(self, value: str, country: str) -> PhoneFinding:
        key = (value, country)
        found = self._phones.get(key)
        if found is None:
            found = self._phones[key] = phone_check(value, country)
        return found

    def address(self, value: str, country: str) -> Finding:
        key = (value, country)
        found = self._addresses.get(key)
        if found is None:
            found = self._addresses[key] = address_check(value, country)
        return found


def contact_validate(contact: Contact, country: str) -> bool:
    """Check one contact's addresses and set their statuses (not over a bounce or a return).
    Returns whether a field changed; the caller saves ``FIELDS``."""
    before = tuple(getattr(contact, name) for name in FIELDS)
    after = _statuses(contact.email, contact.phone, contact.postal_address, before, country)
    for name, value in zip(FIELDS, after, strict=True):
        setattr(contact, name, value)
    return after != before


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


#: A customer's contacts in the score's order (the first one's words name a problem).
CONTACT_ORDER = ("customer_id", "role", "name", "id")
#: The columns the bulk check reads once: the contact, its addresses and statuses, and what the
#: score needs besides (``confirmed_on``).
_ROW = ("id", "customer_id", "email", "phone", "postal_address", *FIELDS, "confirmed_on")


def contacts_check_rows(
    *, entity: Entity, progress: Callable[[int, int], None] | None = None
) -> tuple[ValidationResult, dict[int, list[ContactFacts]]]:
    """The check after an import, set-based: every contact of the entity read once, the addresses
    not checked yet checked in memory (each distinct value once, ``CheckMemo``), the new statuses
    written by distinct values (``_save_grouped``), and the rows as they now are handed back per
    customer, so that the score (``report.quality_check``) does not read them again. Same
    statuses as ``contacts_validate(only_unchecked=True)`` (tests/quality/test_check_fast_path.py)."""
    countries = dict(entity.customers.values_list("id", "country"))
    rows = list(
        Contact.objects.filter(customer__entity=entity)
        .order_by(*CONTACT_ORDER)
        .values_list(*_ROW)
        .iterator(chunk_size=5000)
    )
    unknown = ContactStatus.UNKNOWN
    status_at = {name: 5 + n for n, name in enumerate(FIELDS)}
    e_status, p_status, a_status = (
        status_at["email_status"],
        status_at["phone_status"],
        status_at["address_status"],
    )
    todo = [
        n
        for n, row in enumerate(rows)
        if (row[2] and row[e_status] == unknown)
        or (row[3] and row[p_status] == unknown)
        or (row[4] and row[a_status] == unknown)
    ]
    total = len(todo)
    memo = CheckMemo()
    changed: dict[tuple[str, ...], list[int]] = {}
    by_status: dict[str, int] = {}
    for done, n in enumerate(todo, start=1):
        row = rows[n]
        current = row[5 : 5 + len(FIELDS)]
        after = _statuses(row[2], row[3], row[4], current, countries.get(row[1]) or entity.country, memo)
        if after != current:
            changed.setdefault(after, []).append(row[0])
            rows[n] = (*row[:5], *after, row[-1])
        for status in (after[0], after[2], after[5]):
            by_status[status] = by_status.get(status, 0) + 1
        if progress is not None and done % BATCH == 0:
            progress(done, total)
    count = sum(len(ids) for ids in changed.values())
    with transaction.atomic():
        now = timezone.now()
        for values, ids in changed.items():
            for start in range(0, len(ids), BATCH):
                Contact.objects.filter(pk__in=ids[start : start + BATCH]).update(
                    **dict(zip(FIELDS, values, strict=True)), updated_at=now
                )
        if count:
            data_version_bump(entity_id=entity.pk)
    if progress is not None:
        progress(total, total)
    facts: dict[int, list[ContactFacts]] = {}
    for row in rows:
        facts.setdefault(row[1], []).append(
            ContactFacts(
                email=row[2],
                phone=row[3],
                postal_address=row[4],
                email_status=row[e_status],
                phone_status=row[p_status],
                address_status=row[a_status],
                email_reason=row[status_at["email_reason"]],
                phone_reason=row[status_at["phone_reason"]],
                address_reason=row[status_at["address_reason"]],
                confirmed_on=row[-1],
            )
        )
    return ValidationResult(checked=total, changed=count, by_status=by_status), facts

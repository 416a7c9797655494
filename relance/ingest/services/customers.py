"""Customers (and their groups) and contacts."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from relance.ingest.records import (
    ContactRecord,
    CustomerRecord,
)
from relance.ingest.services.rejects import (
    EXPECTED_KNOWN_PARENT,
    EXPECTED_NO_SUBSIDIARIES,
    EXPECTED_TOP_LEVEL_PARENT,
)
from relance.ingest.services.writer import Item, Writer
from relance.ledger.models import (
    ADDRESS_STATUS,
    ADDRESS_STATUS_FIELDS,
    Contact,
    Customer,
)
from relance.ledger.selectors import customer_ids_by_ref


class CustomerWriter(Writer):
    key_field = "customer_ref"
    FIELDS = (
        "name",
        "currency",
        "payment_terms_days",
        "credit_limit",
        "segment",
        "language",
        "country",
        "tax_id",
        "registration_id",
        "timezone",
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # rows with a parent_ref, whether they were counted unchanged, and the customer's values
        # before this import (None when it created the customer) to undo a rejected row
        self._parents: list[tuple[Item, bool, dict[str, Any] | None]] = []

    def _write(self, batch: list[Item]) -> None:
        refs = [item.record.customer_ref for item in batch]
        # by its own ref or, for a merged customer's ref, its survivor's (an alias)
        found = customer_ids_by_ref(entity_id=self.entity.pk, refs=refs)
        by_id = {c.pk: c for c in Customer.objects.filter(pk__in=set(found.values()))}
        existing = {ref: by_id[customer_id] for ref, customer_id in found.items()}
        contacts: dict[int, Contact] = {}
        ids = [c.pk for c in existing.values()]
        for billing in Contact.objects.filter(customer_id__in=ids, role="billing").order_by("-id"):
            contacts[billing.customer_id] = billing  # ends with the oldest billing contact
        to_create: list[Customer] = []
        to_update: list[Customer] = []
        changed_contacts: list[tuple[Customer, CustomerRecord]] = []
        for item in batch:
            record: CustomerRecord = item.record
            values = {
                name: getattr(record, name) for name in self.FIELDS if getattr(record, name) is not None
            }
            customer = existing.get(record.customer_ref)
            before = None if customer is None else {name: getattr(customer, name) for name in self.FIELDS}
            if customer is None:
                values.setdefault("currency", self.entity.currency)
                values.setdefault("language", self.entity.language)
                customer = Customer(entity=self.entity, external_ref=record.customer_ref, **values)
                to_create.append(customer)
                self.created += 1
                changed = True
            else:
                changed = False
                for name, value in values.items():
                    if getattr(customer, name) != value:
                        setattr(customer, name, value)
                        changed = True
                if changed:
                    to_update.append(customer)
                contact = contacts.get(customer.pk)
                if (record.email is not None or record.phone is not None) and (
                    contact is None
                    or (record.email is not None and contact.email != record.email)
                    or (record.phone is not None and contact.phone != record.phone)
                ):
                    changed = True
                if changed:
                    self.updated += 1
                else:
                    self.unchanged += 1
            if record.email is not None or record.phone is not None:
                changed_contacts.append((customer, record))
            if record.parent_ref is not None:
                self._parents.append((item, not changed, before))
        now = timezone.now()
        Customer.objects.bulk_create(to_create)
        if to_update:
            for customer in to_update:
                customer.updated_at = now
            Customer.objects.bulk_update(to_update, [*self.FIELDS, "updated_at"])
        self._primary_contacts(changed_contacts, contacts)
        for customer in [*to_create, *to_update]:
            self.parser.remember(customer)

    def _primary_contacts(
        self, pairs: list[tuple[Customer, CustomerRecord]], contacts: dict[int, Contact]
    ) -> None:
        new: list[Contact] = []
        changed: list[Contact] = []
        for customer, record in pairs:
            contact = contacts.get(customer.pk)
            if contact is None:
                new.append(
                    Contact(
                        customer=customer,
                        name=record.name,
                        role="billing",
                        email=record.email or "",
                        phone=record.phone or "",
                    )
                )
                continue
            before = (contact.email, contact.phone)
            if record.email is not None and record.email != contact.email:
                contact.email = record.email
                contact.address_changed("email")
            if record.phone is not None and record.phone != contact.phone:
                contact.phone = record.phone
                contact.address_changed("phone")
            if (contact.email, contact.phone) != before:
                contact.updated_at = timezone.now()
                changed.append(contact)
        Contact.objects.bulk_create(new)
        if changed:
            Contact.objects.bulk_update(changed, ["email", "phone", *ADDRESS_STATUS_FIELDS, "updated_at"])

    def finish(self) -> None:
        """Link parents once every row is in: a parent may come later in the file.

        Groups have one level (a parent is a top-level account, a subsidiary has none of its
        own), as ``allocation_create`` assumes. A row whose parent is refused is undone — a
        customer it created is removed, one it updated gets its old values back — so that
        ``--skip-invalid`` never keeps part of a rejected row.
        """
        super().finish()
        if not self._parents:
            return
        wanted = {item.record.parent_ref for item, _, _ in self._parents} | {
            item.record.customer_ref for item, _, _ in self._parents
        }
        ids: dict[str, tuple[int, int | None]] = {}
        wanted_list = sorted(wanted)
        found = customer_ids_by_ref(entity_id=self.entity.pk, refs=wanted_list)
        found_ids = sorted(set(found.values()))
        parent_ids: dict[int, int | None] = {}
        for start in range(0, len(found_ids), 500):
            parent_ids.update(
                Customer.objects.filter(pk__in=found_ids[start : start + 500]).values_list("id", "parent_id")
            )
        for ref, pk in found.items():
            ids[ref] = (pk, parent_ids[pk])
        refs_by_id = {pk: ref for ref, (pk, _) in ids.items()}
        proposed = {
            item.record.customer_ref: ids[item.record.parent_ref][0]
            for item, _, _ in self._parents
            if item.record.customer_ref in ids and item.record.parent_ref in ids
        }
        parents_in_use = set(proposed.values()) | set(
            Customer.objects.filter(entity=self.entity, parent__isnull=False).values_list(
                "parent_id", flat=True
            )
        )
        for item, counted_unchanged, before in self._parents:
            record: CustomerRecord = item.record
            own = ids.get(record.customer_ref)
            if own is None:
                continue  # the customer itself was rejected
            parent = ids.get(record.parent_ref or "")
            problem: tuple[str, object] | None = None
            if parent is None:
                problem = (EXPECTED_KNOWN_PARENT, record.parent_ref)
            else:
                grandparent = proposed.get(record.parent_ref or "", parent[1])
                if grandparent is not None:
                    problem = (
                        EXPECTED_TOP_LEVEL_PARENT.format(
                            parent=record.parent_ref, grandparent=refs_by_id.get(grandparent, grandparent)
                        ),
                        record.parent_ref,
                    )
                elif own[0] in parents_in_use:
                    problem = (EXPECTED_NO_SUBSIDIARIES.format(ref=record.customer_ref), record.parent_ref)
            if problem is not None:
                self.reject(item, "parent_ref", *problem)
                self._undo(own[0], before, counted_unchanged)
                continue
            assert parent is not None
            if own[1] != parent[0]:
                Customer.objects.filter(pk=own[0]).update(parent_id=parent[0], updated_at=timezone.now())
                if counted_unchanged:
                    self.unchanged -= 1
                    self.updated += 1

    def _undo(self, customer_id: int, before: dict[str, Any] | None, counted_unchanged: bool) -> None:
        if before is None:
            Contact.objects.filter(customer_id=customer_id).delete()
            Customer.objects.filter(pk=customer_id).delete()
            self.created -= 1
        else:
            customer = Customer.objects.get(pk=customer_id)
            for name, value in before.items():
                setattr(customer, name, value)
            Customer.objects.filter(pk=customer_id).update(**before, search_text=customer.search_text_value())
            if counted_unchanged:
                self.unchanged -= 1
            else:
                self.updated -= 1


class ContactWriter(Writer):
    key_field = "contact_ref"
    FIELDS = (
        "name",
        "role",
        "email",
        "phone",
        "preferred_channel",
        "postal_address",
        "opt_out_email",
        "opt_out_sms",
        "opt_out_letter",
        "opt_out_phone",
    )

    def _duplicate(self, item: Item, first_line: int | None, first_digest: str, digest: str) -> None:
        if item.record.contact_ref is None:
            self.key_field = "email"
        super()._duplicate(item, first_line, first_digest, digest)
        self.key_field = "contact_ref"

    def _write(self, batch: list[Item]) -> None:
        items = []
        for item in batch:
            customer_id = self._customer_id(item)
            if customer_id is not None:
                items.append((item, customer_id))
        refs = [item.record.contact_ref for item, _ in items if item.record.contact_ref]
        by_ref = {
            found.external_ref: found
            for found in Contact.objects.filter(customer__entity=self.entity, external_ref__in=refs).order_by(
                "-id"
            )
        }
        emails = [item.record.email for item, _ in items if not item.record.contact_ref]
        by_email: dict[tuple[int, str], Contact] = {}
        customer_ids = [customer_id for item, customer_id in items if not item.record.contact_ref]
        for found in Contact.objects.filter(customer_id__in=customer_ids, email__in=emails).order_by("-id"):
            by_email[(found.customer_id, found.email)] = found
        to_create: list[Contact] = []
        to_update: list[Contact] = []
        for item, customer_id in items:
            record: ContactRecord = item.record
            values = {
                name: getattr(record, name) for name in self.FIELDS if getattr(record, name) is not None
            }
            contact: Contact | None
            if record.contact_ref:
                contact = by_ref.get(record.contact_ref)
            else:
                contact = by_email.get((customer_id, record.email or ""))
            if contact is None:
                to_create.append(
                    Contact(customer_id=customer_id, external_ref=record.contact_ref or "", **values)
                )
                self.created += 1
                continue
            changed = contact.customer_id != customer_id
            contact.customer_id = customer_id
            for name, value in values.items():
                if getattr(contact, name) != value:
                    setattr(contact, name, value)
                    changed = True
                    if name in ADDRESS_STATUS:
                        contact.address_changed(name)
            if changed:
                contact.updated_at = timezone.now()
                to_update.append(contact)
                self.updated += 1
            else:
                self.unchanged += 1
        Contact.objects.bulk_create(to_create)
        if to_update:
            Contact.objects.bulk_update(
                to_update, ["customer_id", *self.FIELDS, *ADDRESS_STATUS_FIELDS, "updated_at"]
            )

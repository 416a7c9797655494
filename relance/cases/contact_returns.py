"""Returned mail (issue 19): a letter the post brought back invalidates that postal address.

Three ways in, one service: ``relance contact returned`` (one letter, or the print provider's CSV
of returns), the API (``POST /api/v1/contacts/{id}/returned``) and the workspace. The address's
status becomes ``returned`` with the reason (``ledger.services.contact_status_set``, the one
write of an address status, which hard bounces use too); the next run no longer offers the
letter channel for that contact (``dunning.binding``), so it writes on the customer's next valid
channel, or opens a "find a new contact" task when none is left (``delivery.services``).

Here, below the run and the API in the layers, so both can call it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from django.db import transaction

from relance.audit.services import audit_record
from relance.core.actors import Actor
from relance.core.errors import NotFound, ValidationFailed
from relance.ledger.models import Contact, ContactStatus, Customer, Entity
from relance.ledger.services import contact_status_set

ERROR_NO_ADDRESS = "contact {contact} of {customer} has no postal address: nothing to mark returned"
ERROR_NO_CONTACT = "{customer} has no contact with a postal address{matching}"
ERROR_SEVERAL = (
    "{customer} has {count} contacts with a postal address: say which with --contact REF (one of {refs})"
)
ERROR_CSV_HEADER = "{source}: expected the columns customer_ref and, optionally, contact_ref, returned_on, reason; found {found}"
ERROR_CSV_ROW = "{source}, line {line}, {field}: {problem}"
CSV_COLUMNS = ("customer_ref", "contact_ref", "returned_on", "reason")


def returned_contact(*, customer: Customer, contact_ref: str = "", contact_id: int | None = None) -> Contact:
    """The contact whose letter came back: by id, by its ref, else the customer's only contact
    with a postal address (several: ``ValidationFailed`` naming them)."""
    contacts = Contact.objects.filter(customer=customer).select_related("customer")
    if contact_id is not None or contact_ref:
        found = contacts.filter(pk=contact_id).first() if contact_id is not None else None
        if found is None and contact_ref:
            found = contacts.filter(external_ref=contact_ref).first()
            if found is None and contact_ref.isdigit():
                found = contacts.filter(pk=int(contact_ref)).first()
        if found is None:
            raise NotFound(f"no contact {contact_ref or contact_id} for customer {customer.external_ref}")
        if not found.postal_address.strip():
            raise ValidationFailed(ERROR_NO_ADDRESS.format(contact=found, customer=customer.external_ref))
        return found
    with_address = [c for c in contacts if c.postal_address.strip()]
    if not with_address:
        raise ValidationFailed(ERROR_NO_CONTACT.format(customer=customer.external_ref, matching=""))
    if len(with_address) > 1:
        refs = ", ".join(c.external_ref or str(c.pk) for c in with_address)
        raise ValidationFailed(
            ERROR_SEVERAL.format(customer=customer.external_ref, count=len(with_address), refs=refs)
        )
    return with_address[0]


@transaction.atomic
def contact_mark_returned(*, contact: Contact, actor: Actor, on: date, reason: str = "") -> bool:
    """The letter to ``contact`` came back on ``on``: its postal address is ``returned``. Audited.
    Returns whether the status changed (marking it twice changes nothing)."""
    why = f"letter returned on {on.isoformat()}" + (f": {reason}" if reason else "")
    before = {"address_status": contact.address_status, "address_reason": contact.address_reason}
    changed = contact_status_set(contact=contact, channel="letter", status=ContactStatus.RETURNED, reason=why)
    if changed:
        audit_record(
            action="contact_returned",
            actor_label=actor.label,
            obj=contact,
            entity=contact.customer.entity,
            before=before,
            after={"address_status": contact.address_status, "address_reason": contact.address_reason},
        )
    return changed


@dataclass(frozen=True)
class ReturnsOutcome:
    rows: int
    marked: int
    unchanged: int

    def as_dict(self) -> dict[str, int]:
        return {"rows": self.rows, "marked": self.marked, "unchanged": self.unchanged}


def returns_import(*, entity: Entity, path: Path | str, actor: Actor, today: date) -> ReturnsOutcome:
    """The print provider's CSV of returned letters: ``customer_ref`` (required), ``contact_ref``,
    ``returned_on`` (YYYY-MM-DD, default today) and ``reason``. All or nothing: a bad line names
    the file, line and field, and nothing is marked."""
    path = Path(path)
    source = path.name
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    if "customer_ref" not in header or not set(header) <= set(CSV_COLUMNS):
        raise ValidationFailed(ERROR_CSV_HEADER.format(source=source, found=", ".join(header) or "nothing"))
    planned: list[tuple[Contact, date, str]] = []
    errors: list[str] = []
    customers = {c.external_ref: c for c in Customer.objects.filter(entity=entity)}
    for line, raw in enumerate(reader, start=2):
        row = {(key or "").strip().lower(): (value or "").strip() for key, value in raw.items()}
        customer = customers.get(row.get("customer_ref", ""))
        if customer is None:
            errors.append(
                ERROR_CSV_ROW.format(
                    source=source,
                    line=line,
                    field="customer_ref",
                    problem=f"expected a known customer, found {row.get('customer_ref', '')!r}",
                )
            )
            continue
        on = today
        if row.get("returned_on"):
            try:
                on = date.fromisoformat(row["returned_on"])
            except ValueError:
                errors.append(
                    ERROR_CSV_ROW.format(
                        source=source,
                        line=line,
                        field="returned_on",
                        problem=f"expected a date YYYY-MM-DD, found {row['returned_on']!r}",
                    )
                )
                continue
        try:
            contact = returned_contact(customer=customer, contact_ref=row.get("contact_ref", ""))
        except (NotFound, ValidationFailed) as exc:
            errors.append(
                ERROR_CSV_ROW.format(source=source, line=line, field="contact_ref", problem=exc.message)
            )
            continue
        planned.append((contact, on, row.get("reason", "")[:200]))
    if errors:
        raise ValidationFailed(
            "; ".join(errors[:20]) + (f" (and {len(errors) - 20} more)" if len(errors) > 20 else "")
        )
    marked = 0
    with transaction.atomic():
        for contact, on, reason in planned:
            marked += contact_mark_returned(contact=contact, actor=actor, on=on, reason=reason)
    return ReturnsOutcome(rows=len(planned), marked=marked, unchanged=len(planned) - marked)

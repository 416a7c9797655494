"""The customer confirms or edits their contact details in the portal (issue 19).

The customer sees their contacts (name, postal address; e-mail and phone change through the
preferences page, which checks a code sent to the new address first) and either confirms them
as they are, which sets ``Contact.confirmed_on`` (the freshness of the data-quality score), or
changes them. A change becomes a ``ContactProposal`` a collector accepts or rejects
(``proposal_decide``), or applies at once when the entity's ``PortalSettings.contact_changes``
says ``apply``. Every read is scoped to the link's customer: another customer's contact is a
``ContactNotFound`` (a 404 for the view).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from relance.audit.services import audit_record
from relance.core.identifiers import check_plain_text
from relance.ledger.contact_checks import INVALID, email_check, phone_check
from relance.ledger.models import Contact, Customer
from relance.ledger.services import data_version_bump
from relance.portal.models import ContactChanges, ContactProposal, PortalSettings, ProposalStatus
from relance.portal.services import Actor, PortalRefused, event_record

#: The fields a customer edits here (e-mail and phone: the preferences page, with a code).
EDITABLE = ("name", "postal_address")
MAX_LENGTHS = {"name": 200, "postal_address": 1000}
ALREADY_DECIDED = "proposal {pk} is {status}: only a pending proposal can be decided"
#: The fields of a new contact the customer proposes (always a billing contact).
NEW_CONTACT_FIELDS = ("name", "email", "phone")
NEW_CONTACT_ROLE = "billing"


class ContactNotFound(Exception):
    """No such contact for this customer (another customer's id included)."""


def portal_contacts(*, customer: Customer) -> QuerySet[Contact]:
    """The contacts the customer sees: billing first."""
    return Contact.objects.filter(customer=customer).order_by("-role", "id")


def portal_contact(*, customer: Customer, contact_id: int) -> Contact:
    found = Contact.objects.filter(customer=customer, pk=contact_id).first()
    if found is None:
        raise ContactNotFound(contact_id)
    return found


def changes_mode(*, customer: Customer) -> str:
    found = PortalSettings.objects.filter(entity_id=customer.entity_id).values_list(
        "contact_changes", flat=True
    )
    return found.first() or ContactChanges.PROPOSE


def pending_proposals(*, customer: Customer) -> QuerySet[ContactProposal]:
    return ContactProposal.objects.filter(customer=customer, status=ProposalStatus.PENDING)


def _clean(values: dict[str, str]) -> dict[str, str]:
    cleaned = {}
    for name in EDITABLE:
        if name not in values:
            continue
        text = values[name].replace("\r\n", "\n").strip()
        if len(text) > MAX_LENGTHS[name]:
            raise PortalRefused("The {field} is too long.", field=name.replace("_", " "))
        try:
            check_plain_text(text, multiline=name == "postal_address")
        except Exception:
            raise PortalRefused(
                "The {field} holds characters we cannot print.", field=name.replace("_", " ")
            ) from None
        cleaned[name] = text
    return cleaned


def _apply(contact: Contact, changes: dict[str, list[str]], on: date) -> None:
    fields = ["confirmed_on", "updated_at"]
    for name, (_old, new) in changes.items():
        setattr(contact, name, new)
        fields.append(name)
        if name == "postal_address":
            contact.address_changed(name)
            fields += ["address_status", "address_reason"]
    contact.confirmed_on = on
    contact.save(update_fields=fields)
    data_version_bump(entity_id=contact.customer.entity_id)


@transaction.atomic
def details_submit(
    *, actor: Actor, contact_id: int, values: dict[str, str], on: date
) -> ContactProposal | None:
    """The customer confirms (``values`` as shown) or edits one contact. Confirming sets its
    ``confirmed_on``; an edit is applied at once or becomes a pending proposal (returned)."""
    customer = actor.link.customer
    contact = portal_contact(customer=customer, contact_id=contact_id)
    cleaned = _clean(values)
    changes = {
        name: [getattr(contact, name), new] for name, new in cleaned.items() if getattr(contact, name) != new
    }
    if not changes:
        Contact.objects.filter(pk=contact.pk).update(confirmed_on=on, updated_at=timezone.now())
        contact.confirmed_on = on
        event_record(actor=actor, action="details_confirmed", contact=contact.pk)
        return None
    direct = changes_mode(customer=customer) == ContactChanges.APPLY
    proposal = ContactProposal.objects.create(
        customer=customer,
        contact=contact,
        link=actor.link,
        changes=changes,
        status=ProposalStatus.APPLIED if direct else ProposalStatus.PENDING,
        decided_at=timezone.now() if direct else None,
    )
    if direct:
        _apply(contact, changes, on)
    event_record(
        actor=actor,
        action="details_changed" if direct else "details_proposed",
        contact=contact.pk,
        fields=sorted(changes),
    )
    return proposal


@transaction.atomic
def proposal_decide(
    *, proposal: ContactProposal, accept: bool, user: Any, on: date, note: str = ""
) -> ContactProposal:
    """A collector accepts (the change applies, the contact counts as confirmed that day) or
    rejects a pending proposal. Audited."""
    proposal = (
        ContactProposal.objects.select_for_update(of=("self",))  # the proposal's row: its contact may be none
        .select_related("contact__customer", "customer")
        .get(pk=proposal.pk)
    )
    if proposal.status != ProposalStatus.PENDING:
        raise PortalRefused(ALREADY_DECIDED, pk=proposal.pk, status=proposal.status)
    contact = proposal.contact
    fields = ["status", "decided_by", "decided_at", "note", "updated_at"]
    if contact is None:  # a new contact the customer proposed
        changes = {name: list(pair) for name, pair in proposal.changes.items() if name in NEW_CONTACT_FIELDS}
        if accept:
            proposal.contact = _create(proposal.customer, changes, on)
            fields.append("contact")
    else:
        changes = {name: list(pair) for name, pair in proposal.changes.items() if name in EDITABLE}
        if accept:
            _apply(contact, changes, on)
    proposal.status = ProposalStatus.ACCEPTED if accept else ProposalStatus.REJECTED
    proposal.decided_by = user if getattr(user, "is_authenticated", False) else None
    proposal.decided_at = timezone.now()
    proposal.note = note[:1000]
    proposal.save(update_fields=fields)
    audit_record(
        action="contact_proposal_" + ("accept" if accept else "reject"),
        actor=proposal.decided_by,
        obj=proposal,
        before={"status": ProposalStatus.PENDING.value},
        after={"status": proposal.status, "changes": changes, "note": note},
    )
    return proposal


def _new_contact_clean(customer: Customer, values: dict[str, str]) -> dict[str, str]:
    """A proposed contact's name, e-mail and phone, checked by the contact checks the data-quality
    check runs (``ledger.contact_checks``): an address that cannot work is refused here, with the
    check's reason; the phone is kept in its international form."""
    cleaned: dict[str, str] = {}
    for name in NEW_CONTACT_FIELDS:
        text = " ".join((values.get(name) or "").split())
        if len(text) > MAX_LENGTHS.get(name, 200):
            raise PortalRefused("The {field} is too long.", field=name)
        try:
            check_plain_text(text)
        except Exception:
            raise PortalRefused("The {field} holds characters we cannot print.", field=name) from None
        cleaned[name] = text
    if not cleaned["name"]:
        raise PortalRefused("Please give the contact's name.")
    if not cleaned["email"] and not cleaned["phone"]:
        raise PortalRefused("Please give an e-mail address or a phone number.")
    if cleaned["email"]:
        found = email_check(cleaned["email"])
        if found.status == INVALID:
            raise PortalRefused("This e-mail address cannot be used: {reason}.", reason=found.reason)
    if cleaned["phone"]:
        number = phone_check(cleaned["phone"], customer.country)
        if number.status == INVALID:
            raise PortalRefused("This phone number cannot be used: {reason}.", reason=number.reason)
        cleaned["phone"] = number.e164
    return cleaned


def _create(customer: Customer, changes: dict[str, list[str]], on: date) -> Contact:
    """The contact made from an accepted (or applied) proposal: a billing contact, confirmed that
    day; its addresses are ``unknown`` until the next check, and the next run writes to it."""
    contact = Contact.objects.create(
        customer=customer,
        role=NEW_CONTACT_ROLE,
        confirmed_on=on,
        **{name: pair[1] for name, pair in changes.items() if name in NEW_CONTACT_FIELDS},
    )
    data_version_bump(entity_id=customer.entity_id)
    return contact


@transaction.atomic
def contact_propose_new(*, actor: Actor, values: dict[str, str], on: date) -> ContactProposal:
    """The customer adds a billing contact: a pending proposal for the collectors' review (or made
    at once when the entity's portal settings say ``apply``). Always for the link's customer."""
    customer = actor.link.customer
    cleaned = _new_contact_clean(customer, values)
    changes = {name: ["", value] for name, value in cleaned.items() if value}
    direct = changes_mode(customer=customer) == ContactChanges.APPLY
    proposal = ContactProposal.objects.create(
        customer=customer,
        contact=_create(customer, changes, on) if direct else None,
        link=actor.link,
        changes=changes,
        status=ProposalStatus.APPLIED if direct else ProposalStatus.PENDING,
        decided_at=timezone.now() if direct else None,
    )
    event_record(
        actor=actor,
        action="contact_added" if direct else "contact_proposed",
        contact=proposal.contact_id,
        fields=sorted(changes),
    )
    return proposal

"""Writes of duplicate detection: find and store an entity's candidate pairs, "not a duplicate".

The matching itself is ``relance.quality.duplicates`` (no Django); here the ledger is read into
its records and the pairs are stored (``DuplicateCandidate``), replacing the previous ones.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from relance.core.errors import ValidationFailed
from relance.ledger.models import Contact, Customer, Entity
from relance.quality import duplicates
from relance.quality.models import DuplicateCandidate, NotDuplicate

NOT_DUPLICATE_SAME = "a customer is not a pair with itself ({ref})"


@dataclass(frozen=True)
class FindOutcome:
    """What a search found: the pairs (highest score first) and how the blocking went."""

    pairs: list[duplicates.CandidatePair]
    stats: duplicates.BlockingStats


def iban_sources() -> list[tuple[type[models.Model], str, str]]:
    """Every table tying an IBAN to a customer: (model, customer field, IBAN field), found like
    the merge's foreign keys (``Customer._meta.related_objects``), so the learned payers of cash
    application count without this app importing its sibling."""
    from relance.quality.merge import customer_relations

    sources = []
    for relation in customer_relations():
        model = relation.related_model
        if not isinstance(model, type):
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, models.CharField) and field.name.endswith("iban"):
                sources.append((model, relation.field.name, field.name))
    return sources


def entity_facts(*, entity: Entity) -> list[duplicates.CustomerFacts]:
    """The entity's customers as the matcher's records: names, ids, contacts' e-mails, phones and
    addresses, IBANs."""
    emails: dict[int, list[str]] = defaultdict(list)
    phones: dict[int, list[str]] = defaultdict(list)
    addresses: dict[int, list[str]] = defaultdict(list)
    contacts = Contact.objects.filter(customer__entity=entity).values_list(
        "customer_id", "email", "phone", "postal_address"
    )
    for customer_id, email, phone, address in contacts.iterator(chunk_size=5000):
        if email:
            emails[customer_id].append(email)
        if phone:
            phones[customer_id].append(phone)
        if address:
            addresses[customer_id].append(address)
    ibans: dict[int, list[str]] = defaultdict(list)
    for model, customer_field, iban_field in iban_sources():
        rows = model._base_manager.filter(**{f"{customer_field}__entity": entity}).exclude(**{iban_field: ""})
        for customer_id, iban in rows.values_list(customer_field, iban_field).iterator(chunk_size=5000):
            if customer_id is not None:
                ibans[customer_id].append(iban)
    customers = Customer.objects.filter(entity=entity).values_list(
        "id", "external_ref", "name", "country", "parent_id", "tax_id", "registration_id"
    )
    return [
        duplicates.customer_facts(
            id=pk,
            ref=ref,
            name=name,
            country=country,
            parent_id=parent_id,
            tax_id=tax_id,
            registration_id=registration_id,
            ibans=ibans.get(pk, ()),
            emails=emails.get(pk, ()),
            phones=phones.get(pk, ()),
            addresses=addresses.get(pk, ()),
        )
        for pk, ref, name, country, parent_id, tax_id, registration_id in customers.iterator(chunk_size=5000)
    ]


def not_duplicate_refs(*, entity: Entity) -> set[tuple[str, str]]:
    """The ref pairs said not to be duplicates (sorted within each pair)."""
    return set(NotDuplicate.objects.filter(entity=entity).values_list("ref_low", "ref_high"))


def duplicates_find(
    *, entity: Entity, store: bool = True, progress: Callable[[str], None] | None = None
) -> FindOutcome:
    """The entity's candidate pairs, without the pairs said not to be duplicates; with ``store``
    they replace the stored ones (the review page reads those)."""
    say = progress or (lambda _step: None)
    say("reading customers")
    facts = entity_facts(entity=entity)
    pairs, stats = duplicates.candidate_pairs(facts, excluded=not_duplicate_refs(entity=entity), progress=say)
    if store:
        say("storing")
        now = timezone.now()
        with transaction.atomic():
            DuplicateCandidate.objects.filter(entity=entity).delete()
            DuplicateCandidate.objects.bulk_create(
                (
                    DuplicateCandidate(
                        entity=entity,
                        customer_low_id=pair.low.id,
                        customer_high_id=pair.high.id,
                        score=pair.score,
                        reasons=list(pair.reasons),
                        found_at=now,
                    )
                    for pair in pairs
                ),
                batch_size=2000,
            )
    return FindOutcome(pairs, stats)


@transaction.atomic
def not_duplicate_mark(
    *, entity: Entity, first: Customer, second: Customer, user: Any = None, actor_label: str = ""
) -> NotDuplicate:
    """Remember that two customers are not the same: the pair never comes back as a candidate.
    Its stored candidate goes at once."""
    if first.pk == second.pk:
        raise ValidationFailed(NOT_DUPLICATE_SAME.format(ref=first.external_ref))
    low, high = sorted((first.external_ref, second.external_ref))
    record, created = NotDuplicate.objects.get_or_create(
        entity=entity,
        ref_low=low,
        ref_high=high,
        defaults={"decided_by": user, "actor_label": actor_label[:200]},
    )
    if created:
        from relance.audit.services import audit_record

        audit_record(
            action="not_duplicate",
            obj=record,
            actor=user,
            actor_label=actor_label,
            entity=entity,
            after={"customer_refs": [low, high]},
        )
    ids = sorted((first.pk, second.pk))
    DuplicateCandidate.objects.filter(entity=entity, customer_low_id=ids[0], customer_high_id=ids[1]).delete()
    return record

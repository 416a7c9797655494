"""Merging two customers into one, and undoing it until the entity's next dunning run.

The survivor keeps every row of both. Which rows those are is not listed by hand: every foreign
key to ``ledger.Customer`` is found from ``Customer._meta.related_objects``, so a table added
later moves too. ``MERGE_RULES`` records how each one was reviewed (tests/quality/test_merge.py
fails on a foreign key missing from it); one it does not know yet is moved like the others.

- ``move``: the rows now point to the survivor (their ids kept for the undo).
- ``derived``: rows computed from the ledger (duplicate candidates): the merged customer's are
  deleted and come back with the next computation.
- ``children``: ``Customer.parent``; a merged group's members join the survivor's group.
- ``move_or_set_aside``: moved, but where both have one in force (an open credit review) the
  merged customer's is set aside instead of refusing the merge.

A row that would break a unique constraint (the survivor has its own: an attribute of the same
name, a profile) is not moved: it is kept, serialised, in the merge record and put back by the
undo. A conditional unique constraint (one open hand-off per customer) is business state: the
merge is refused until one of the two is closed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.core import serializers
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from relance.core.errors import NotFound, ValidationFailed
from relance.events.services import emit
from relance.ledger.models import Customer, CustomerAlias, Entity, VersionScope
from relance.quality.models import CustomerMerge, DuplicateCandidate

MOVE = "move"
DERIVED = "derived"
CHILDREN = "children"
MOVE_OR_SET_ASIDE = "move_or_set_aside"

# Every foreign key to ledger.Customer, as reviewed: "app_label.Model.field" → rule.
MERGE_RULES: dict[str, str] = {
    # the ledger
    "ledger.Customer.parent": CHILDREN,
    "ledger.Contact.customer": MOVE,
    "ledger.Invoice.customer": MOVE,
    "ledger.CreditNote.customer": MOVE,
    "ledger.Payment.customer": MOVE,
    "ledger.Order.customer": MOVE,
    "ledger.CustomerAlias.customer": MOVE,  # refs merged into the merged customer follow it
    # the case: promises, disputes, plans, holds, contacts made, credit holds, hand-offs
    "cases.Promise.customer": MOVE,
    "cases.Dispute.customer": MOVE,
    "cases.PaymentPlan.customer": MOVE,
    "cases.CustomerHold.customer": MOVE,
    "cases.ContactLog.customer": MOVE,
    "cases.CreditHold.customer": MOVE,  # two active credit holds: refused
    "cases.ExternalCollection.customer": MOVE,  # two open hand-offs: refused
    # dunning, messages, calls, the case timeline
    "dunning.DunningAction.customer": MOVE,
    "dunning.Suppression.customer": MOVE,
    "dunning.WorklistEntry.customer": MOVE,
    "dunning.CustomerAttribute.customer": MOVE,  # same name on both: the survivor's stays
    "dunning.SegmentChange.customer": MOVE,
    "delivery.OutboundMessage.customer": MOVE,
    "delivery.CallTask.customer": MOVE,
    "audit.CaseEvent.customer": MOVE,
    # the portal
    "portal.PortalLink.customer": MOVE,
    "portal.PortalEvent.customer": MOVE,
    "portal.PlanRequest.customer": MOVE,
    "portal.PortalCheckout.customer": MOVE,
    "portal.SavedCard.customer": MOVE,
    # credit management
    "credit.CreditProfile.customer": MOVE,  # one per customer: the survivor's stays
    "credit.CreditScore.customer": MOVE,  # one per day: the survivor's stays
    "credit.BureauReport.customer": MOVE,
    "credit.CreditDecision.customer": MOVE,
    "credit.CreditReview.customer": MOVE_OR_SET_ASIDE,  # two open reviews: the survivor's stays
    "credit.CreditApplication.customer": MOVE,
    "credit.ApplicationLink.customer": MOVE,
    "credit.UtilisationNotice.customer": MOVE_OR_SET_ASIDE,  # re-sent by the next step if still due
    "credit.DeclarationTask.customer": MOVE,
    # cash application
    "cashapp.BankLine.assigned_customer": MOVE,
    "cashapp.BankLineApplication.customer": MOVE,
    "cashapp.KnownPayerAccount.customer": MOVE,
    "cashapp.KnownReferencePattern.customer": MOVE,
    # the workspace
    "workspace.CustomerNote.customer": MOVE,
    "workspace.WorklistSnooze.customer": MOVE,
    # this app: computed pairs, found again by the next search
    "quality.DuplicateCandidate.customer_low": DERIVED,
    "quality.DuplicateCandidate.customer_high": DERIVED,
    # the contact checks' problems: computed again by the next check
    "quality.QualityProblem.customer": DERIVED,
    # a portal contact change waiting for a collector: the survivor's to accept or refuse
    "portal.ContactProposal.customer": MOVE,
    # events already recorded (webhooks): the customer's history, delivered or not
    "events.Event.customer": MOVE,
}

SAME_CUSTOMER = "a customer cannot be merged into itself ({ref})"
OTHER_ENTITY = "{survivor} and {merged} are not customers of the same entity"
GROUP_MEMBER = "{child} is a member of {parent}'s group: a group and its member are two accounts on purpose"
TWO_LEVELS = "{survivor} is a member of a group, so it cannot take {merged}'s members (groups have one level)"
CONFLICT = (
    "{survivor} and {merged} both have {what} where only one is allowed ({constraint}); "
    "settle one of them first"
)
MERGE_NOT_FOUND = "no merge of {ref} to undo in entity {entity}"
MERGE_UNDONE = "the merge of {ref} into {survivor} was undone already"
MERGE_AFTER_RUN = (
    "the merge of {ref} into {survivor} cannot be undone: the dunning run of {run} came after it "
    "and acted on the merged customer"
)
SURVIVOR_GONE = (
    "the merge of {ref} cannot be undone: its survivor {survivor} was merged since; undo that merge first"
)
REF_TAKEN = "the merge of {ref} cannot be undone: a customer {ref} exists again"


def customer_relations() -> list[models.ForeignObjectRel]:
    """Every foreign key and one-to-one to ``Customer``, hidden ones (``related_name="+"``)
    included: ``Customer._meta.related_objects`` leaves those out."""
    return [
        field
        for field in Customer._meta.get_fields(include_hidden=True)
        if isinstance(field, models.ForeignObjectRel) and not field.many_to_many
    ]


def related_keys() -> dict[str, models.ForeignObjectRel]:
    """Every relation to ``Customer`` by ``app_label.Model.field``."""
    keys = {}
    for relation in customer_relations():
        model = relation.related_model
        assert isinstance(model, type)
        keys[f"{model._meta.app_label}.{model.__name__}.{relation.field.name}"] = relation
    return keys


def rule_of(key: str) -> str:
    """The reviewed rule of a foreign key; one added since is moved (never left behind)."""
    return MERGE_RULES.get(key, MOVE)


@dataclass(frozen=True)
class MergeOutcome:
    """What a merge did: the record, and how many rows moved or were set aside per table."""

    merge: CustomerMerge
    moved: dict[str, int]
    set_aside: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "merge_id": self.merge.pk,
            "survivor_ref": self.merge.survivor_ref,
            "merged_ref": self.merge.merged_ref,
            "moved": self.moved,
            "set_aside": self.set_aside,
        }


def _unique_sets(
    model: type[models.Model], field: models.Field[Any, Any]
) -> list[tuple[str, tuple[str, ...], Q | None]]:
    """The model's unique sets that include ``field``: (name, the other fields, condition)."""
    sets: list[tuple[str, tuple[str, ...], Q | None]] = []
    if field.unique:
        sets.append((f"{model.__name__}.{field.name}", (), None))
    for constraint in model._meta.constraints:
        fields = tuple(getattr(constraint, "fields", ()) or ())
        if isinstance(constraint, models.UniqueConstraint) and field.name in fields:
            others = tuple(name for name in fields if name != field.name)
            sets.append((constraint.name, others, constraint.condition))
    for together in model._meta.unique_together:
        if field.name in together:
            sets.append(
                (f"{model.__name__} unique together", tuple(n for n in together if n != field.name), None)
            )
    return sets


def _serialise(rows: list[models.Model]) -> list[dict[str, Any]]:
    return list(json.loads(serializers.serialize("json", rows)))


def _restore(payload: list[dict[str, Any]]) -> None:
    for item in serializers.deserialize("json", json.dumps(payload)):
        item.save()


def _bump_versions(entity_id: int) -> None:
    from relance.ledger.services import data_version_bump

    for scope in VersionScope.values:
        data_version_bump(entity_id=entity_id, scope=scope)


def _check_pair(survivor: Customer, merged: Customer) -> None:
    if survivor.pk == merged.pk:
        raise ValidationFailed(SAME_CUSTOMER.format(ref=survivor.external_ref))
    if survivor.entity_id != merged.entity_id:
        raise ValidationFailed(
            OTHER_ENTITY.format(survivor=survivor.external_ref, merged=merged.external_ref)
        )
    for child, parent in ((survivor, merged), (merged, survivor)):
        if child.parent_id == parent.pk:
            raise ValidationFailed(GROUP_MEMBER.format(child=child.external_ref, parent=parent.external_ref))
    if survivor.parent_id is not None and Customer.objects.filter(parent=merged).exists():
        raise ValidationFailed(TWO_LEVELS.format(survivor=survivor.external_ref, merged=merged.external_ref))


@transaction.atomic
def customer_merge(
    *,
    survivor: Customer,
    merged: Customer,
    user: Any = None,
    actor_label: str = "",
    score: int | None = None,
    reasons: list[str] | None = None,
) -> MergeOutcome:
    """Fold ``merged`` into ``survivor``: every row of the merged customer now belongs to the
    survivor, the merged customer is deleted and its ref becomes an alias of the survivor (later
    imports under it land there). Audited; undone by ``customer_merge_undo`` until the next run."""
    from relance.audit.services import audit_record

    locked = {c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=[survivor.pk, merged.pk])}
    if len(locked) < 2:
        _check_pair(survivor, merged)
        raise NotFound("one of the two customers no longer exists")
    survivor, merged = locked[survivor.pk], locked[merged.pk]
    _check_pair(survivor, merged)
    merged_values = _serialise([merged])
    moved: dict[str, list[int]] = {}
    set_aside: list[dict[str, Any]] = []
    counts_set_aside: dict[str, int] = {}
    for key, relation in related_keys().items():
        model = relation.related_model
        assert isinstance(model, type) and issubclass(model, models.Model)
        field = relation.field
        rows = model._base_manager.filter(**{field.name: merged.pk})
        rule = rule_of(key)
        if rule == DERIVED:
            rows.delete()
            continue
        if rule == CHILDREN:
            ids = list(rows.values_list("pk", flat=True))
            if ids:
                model._base_manager.filter(pk__in=ids).update(**{field.name: survivor.pk})
                moved[key] = ids
            continue
        aside_ids = _conflicting(model, field, rows, survivor, merged, refuse=rule != MOVE_OR_SET_ASIDE)
        if aside_ids:
            aside = list(model._base_manager.filter(pk__in=aside_ids))
            set_aside.extend(_serialise(aside))
            counts_set_aside[key] = len(aside)
            model._base_manager.filter(pk__in=aside_ids).delete()
        ids = list(rows.exclude(pk__in=aside_ids).values_list("pk", flat=True))
        if ids:
            for start in range(0, len(ids), 500):
                model._base_manager.filter(pk__in=ids[start : start + 500]).update(
                    **{field.name: survivor.pk}
                )
            moved[key] = ids
    merged_id, merged_ref = merged.pk, merged.external_ref
    Customer.objects.filter(pk=merged_id).delete()
    CustomerAlias.objects.create(entity_id=survivor.entity_id, customer=survivor, external_ref=merged_ref)
    record = CustomerMerge.objects.create(
        entity_id=survivor.entity_id,
        survivor_id_value=survivor.pk,
        survivor_ref=survivor.external_ref,
        merged_id_value=merged_id,
        merged_ref=merged_ref,
        merged_values=merged_values,
        moved=moved,
        dropped=set_aside,
        score=score,
        reasons=list(reasons or []),
        merged_by=user,
        actor_label=actor_label[:200],
    )
    _bump_versions(survivor.entity_id)
    counts = {key: len(ids) for key, ids in moved.items()}
    emit(
        "customer.merged",
        {"merge_id": record.pk, "merged_id": merged_id, "merged_ref": merged_ref, "moved": counts},
        entity=survivor.entity_id,
        customer=survivor,
    )
    audit_record(
        action="merge",
        obj=survivor,
        actor=user,
        actor_label=actor_label,
        after={"merged_ref": merged_ref, "merged_id": merged_id, "merge_id": record.pk, "moved": counts},
    )
    return MergeOutcome(record, counts, counts_set_aside)


def _conflicting(
    model: type[models.Model],
    field: models.Field[Any, Any],
    rows: models.QuerySet[Any],
    survivor: Customer,
    merged: Customer,
    *,
    refuse: bool,
) -> list[int]:
    """Ids of the merged customer's rows the survivor already has one of (by a unique set with
    ``field``); a conditional set in conflict refuses the merge."""
    aside: list[int] = []
    for name, others, condition in _unique_sets(model, field):
        for row in rows.values("pk", *others):
            theirs = model._base_manager.filter(**{field.name: survivor.pk}, **{o: row[o] for o in others})
            if condition is not None:
                if not model._base_manager.filter(condition, pk=row["pk"]).exists():
                    continue
                if theirs.filter(condition).exists():
                    if not refuse:
                        aside.append(row["pk"])
                        continue
                    raise ValidationFailed(
                        CONFLICT.format(
                            survivor=survivor.external_ref,
                            merged=merged.external_ref,
                            what=f"a {model._meta.verbose_name}",
                            constraint=name,
                        )
                    )
                continue
            if theirs.exists():
                aside.append(row["pk"])
    return sorted(set(aside))


def merge_latest(*, entity: Entity, merged_ref: str) -> CustomerMerge:
    """The latest merge of ``merged_ref`` in the entity."""
    merge = CustomerMerge.objects.filter(entity=entity, merged_ref=merged_ref).order_by("-id").first()
    if merge is None:
        raise NotFound(MERGE_NOT_FOUND.format(ref=merged_ref, entity=entity.name))
    return merge


def merge_undo_blocker(merge: CustomerMerge) -> str | None:
    """Why the merge cannot be undone now, or None: undone already, a dunning run since (it
    acted on the merged customer), its survivor merged since, or the ref taken again."""
    from relance.dunning.models import DunningRun

    if merge.undone_at is not None:
        return MERGE_UNDONE.format(ref=merge.merged_ref, survivor=merge.survivor_ref)
    run = (
        DunningRun.objects.filter(entity_id=merge.entity_id, started_at__gt=merge.created_at)
        .order_by("started_at")
        .first()
    )
    if run is not None:
        return MERGE_AFTER_RUN.format(ref=merge.merged_ref, survivor=merge.survivor_ref, run=run.as_of)
    if not Customer.objects.filter(pk=merge.survivor_id_value).exists():
        return SURVIVOR_GONE.format(ref=merge.merged_ref, survivor=merge.survivor_ref)
    if Customer.objects.filter(entity_id=merge.entity_id, external_ref=merge.merged_ref).exists():
        return REF_TAKEN.format(ref=merge.merged_ref)
    return None


@transaction.atomic
def customer_merge_undo(*, merge: CustomerMerge, actor_label: str = "") -> CustomerMerge:
    """Put the merged customer back with its own id and every row it had; its alias goes."""
    from relance.audit.services import audit_record

    merge = CustomerMerge.objects.select_for_update().get(pk=merge.pk)
    blocker = merge_undo_blocker(merge)
    if blocker is not None:
        raise ValidationFailed(blocker)
    CustomerAlias.objects.filter(entity_id=merge.entity_id, external_ref=merge.merged_ref).delete()
    _restore(merge.merged_values)
    keys = related_keys()
    for key, ids in merge.moved.items():
        relation = keys.get(key)
        if relation is None:
            continue  # the table is gone
        model = relation.related_model
        assert isinstance(model, type) and issubclass(model, models.Model)
        for start in range(0, len(ids), 500):
            model._base_manager.filter(pk__in=ids[start : start + 500]).update(
                **{relation.field.name: merge.merged_id_value}
            )
    _restore(merge.dropped)
    merge.undone_at = timezone.now()
    merge.undone_by = actor_label[:200]
    merge.save(update_fields=["undone_at", "undone_by", "updated_at"])
    DuplicateCandidate.objects.filter(entity_id=merge.entity_id).filter(
        Q(customer_low_id=merge.survivor_id_value) | Q(customer_high_id=merge.survivor_id_value)
    ).delete()
    _bump_versions(merge.entity_id)
    restored = Customer.objects.get(pk=merge.merged_id_value)
    emit(
        "customer.merge_undone",
        {"merge_id": merge.pk, "survivor_id": merge.survivor_id_value, "survivor_ref": merge.survivor_ref},
        entity=merge.entity_id,
        customer=restored,
    )
    audit_record(
        action="unmerge",
        obj=restored,
        actor_label=actor_label,
        after={"survivor_ref": merge.survivor_ref, "merge_id": merge.pk},
    )
    return merge

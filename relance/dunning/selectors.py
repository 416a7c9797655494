"""Reads of the collections app: policies, customers' promises/disputes/plans/holds, runs, the worklist."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import yaml
from django.db.models import Count, Q, QuerySet

from relance.core.errors import NotFound
from relance.dunning.models import (
    HANDOFF_OPEN,
    CreditHold,
    CreditHoldStatus,
    CustomerHold,
    Dispute,
    DisputeStatus,
    DunningAction,
    DunningRun,
    ExternalCollection,
    PaymentPlan,
    PlanStatus,
    Policy,
    Promise,
    SegmentationRules,
    SegmentPolicy,
    Suppression,
    WorklistEntry,
)
from relance.engine.dunning.policy import Policy as EnginePolicy
from relance.engine.dunning.policy import policy_from_dict
from relance.ledger.models import Customer, Entity

POLICY_NOT_FOUND = "no policy {key!r} in entity {entity} (known: {known})"
NO_RUN_YET = "entity {entity} has no dunning run yet: run `relance run --as-of DATE` first"


def policy_list(*, entity: Entity) -> QuerySet[Policy]:
    return Policy.objects.filter(entity=entity).order_by("key")


def policy_get(*, entity: Entity, key: str) -> Policy:
    policy = Policy.objects.filter(entity=entity, key=key).first()
    if policy is None:
        known = ", ".join(policy_list(entity=entity).values_list("key", flat=True)) or "none"
        raise NotFound(POLICY_NOT_FOUND.format(key=key, entity=entity.name, known=known))
    return policy


def policy_map(*, entity: Entity) -> dict[str, EnginePolicy]:
    """The entity's policies as the engine's dataclasses, by key (what ``decide`` takes)."""
    return {policy.key: policy_from_dict(policy.spec) for policy in policy_list(entity=entity)}


def policy_versions(*, entity: Entity) -> dict[str, int]:
    """The current version of each of the entity's policies, by key (what a run records)."""
    return dict(Policy.objects.filter(entity=entity).values_list("key", "version"))


def policy_export_yaml(*, policy: Policy) -> str:
    """The policy as YAML, in the order a person reads it (key, name, cadence, steps)."""
    text: str = yaml.safe_dump(policy.spec, sort_keys=False, allow_unicode=True, width=100)
    return text


def segment_policy_list(*, entity: Entity) -> QuerySet[SegmentPolicy]:
    return SegmentPolicy.objects.filter(entity=entity).select_related("policy").order_by("segment")


def customer_policy_key(*, customer: Customer) -> str | None:
    """The policy the customer follows: its segment's, else the entity's default, else none."""
    mappings = dict(
        SegmentPolicy.objects.filter(
            entity_id=customer.entity_id, segment__in=[customer.segment, ""]
        ).values_list("segment", "policy__key")
    )
    return mappings.get(customer.segment) or mappings.get("")


@dataclass(frozen=True)
class CustomersWithoutPolicy:
    """Invoiced customers a run would not chase for want of a policy, and their segments."""

    count: int
    segments: tuple[str, ...]


def customers_without_policy(*, entity: Entity) -> CustomersWithoutPolicy:
    """Customers with invoices whose segment has no policy while the entity has no default one."""
    mapped = set(SegmentPolicy.objects.filter(entity=entity).values_list("segment", flat=True))
    if "" in mapped:
        return CustomersWithoutPolicy(count=0, segments=())
    by_segment = dict(
        Customer.objects.filter(entity=entity, invoices__isnull=False)
        .exclude(segment__in=mapped)
        .order_by()
        .values("segment")
        .annotate(customers=Count("pk", distinct=True))
        .values_list("segment", "customers")
    )
    return CustomersWithoutPolicy(count=sum(by_segment.values()), segments=tuple(sorted(by_segment)))


def promise_list(*, customer: Customer, open_only: bool = False) -> QuerySet[Promise]:
    promises = Promise.objects.filter(customer=customer).prefetch_related("invoices")
    return promises.filter(status="open") if open_only else promises


def dispute_list_open(*, entity: Entity, on: date | None = None) -> QuerySet[Dispute]:
    disputes = Dispute.objects.filter(entity=entity, status=DisputeStatus.OPEN).select_related(
        "invoice", "customer"
    )
    return disputes.filter(opened_on__lte=on) if on else disputes


def dispute_get(*, entity: Entity, dispute_id: int) -> Dispute:
    dispute = Dispute.objects.filter(entity=entity, pk=dispute_id).first()
    if dispute is None:
        raise NotFound(f"no dispute {dispute_id} in entity {entity.name}")
    return dispute


def plan_active(*, customer: Customer) -> PaymentPlan | None:
    return (
        PaymentPlan.objects.filter(customer=customer, status=PlanStatus.ACTIVE)
        .prefetch_related("installments")
        .first()
    )


def hold_list_in_force(*, customer: Customer, on: date) -> QuerySet[CustomerHold]:
    return CustomerHold.objects.filter(customer=customer, starts_on__lte=on).filter(
        Q(ends_on__isnull=True) | Q(ends_on__gte=on)
    )


def run_latest(*, entity: Entity) -> DunningRun:
    run = DunningRun.objects.filter(entity=entity).order_by("-as_of").first()
    if run is None:
        raise NotFound(NO_RUN_YET.format(entity=entity.name), code="no_run")
    return run


def suppression_list_of_run(*, run: DunningRun) -> QuerySet[Suppression]:
    """What ``run`` held back: the rows it wrote, and earlier rows it extended (summarised runs).

    A row stands for every run of its entity from ``run`` to ``last_run``.
    """
    return Suppression.objects.filter(run__entity_id=run.entity_id, run__as_of__lte=run.as_of).filter(
        Q(last_run__as_of__gte=run.as_of) | Q(last_run__isnull=True, run=run)
    )


def run_decisions(*, run: DunningRun) -> list[dict[str, Any]]:
    """The decisions a run applied, in the same JSON form as when it ran."""
    actions = (
        DunningAction.objects.filter(run=run)
        .select_related("customer")
        .prefetch_related("invoices")
        .order_by("id")
    )
    return [
        {
            "customer_ref": action.customer.external_ref,
            "kind": action.kind,
            "action": action.action,
            "step": action.step_key,
            "offset_days": action.offset_days,
            "channel": action.channel or None,
            "tone": action.tone,
            "template": action.template_key,
            "policy": action.policy_key,
            "invoice_refs": sorted(
                (invoice.external_ref for invoice in action.invoices.all()),
            ),
            "amount_due": str(action.amount_due),
            "currency": action.currency,
            "max_days_past_due": action.max_days_past_due,
            "broken_promise": action.broken_promise,
            "catch_up": action.catch_up,
            "reasons": action.reasons,
        }
        for action in actions
    ]


def worklist_rows(
    *, entity: Entity, collector_email: str | None = None, run: DunningRun | None = None
) -> tuple[DunningRun, list[dict[str, Any]]]:
    """The worklist of the entity's latest run (or ``run``), highest priority first.

    ``collector_email`` keeps the customers whose collector has that e-mail address.
    """
    run = run or run_latest(entity=entity)
    entries = WorklistEntry.objects.filter(run=run).select_related("customer", "customer__collector")
    if collector_email:
        entries = entries.filter(customer__collector__email__iexact=collector_email.strip())
    on_hold = set(
        CreditHold.objects.filter(entity=entity, status=CreditHoldStatus.ACTIVE).values_list(
            "customer_id", flat=True
        )
    )
    handed_off = set(
        ExternalCollection.objects.filter(entity=entity, status__in=HANDOFF_OPEN).values_list(
            "customer_id", flat=True
        )
    )
    rows = []
    for entry in entries.order_by("-priority", "customer__external_ref"):
        collector = entry.customer.collector
        rows.append(
            {
                "customer_ref": entry.customer.external_ref,
                "customer_name": entry.customer.name,
                "collector": collector.email if collector is not None else None,
                "priority": round(entry.priority, 2),
                "currency": entry.currency,
                "overdue_amount": str(entry.overdue_amount),
                "max_days_past_due": entry.max_days_past_due,
                "risk": entry.risk,
                "broken_promises": entry.broken_promises,
                "days_since_contact": entry.days_since_contact,
                "factors": entry.factors,
                "credit_hold": entry.customer_id in on_hold,
                "external_collection": entry.customer_id in handed_off,
            }
        )
    return run, rows


def customer_credit_hold(*, customer: Customer) -> CreditHold | None:
    """The customer's active credit hold (no new orders), if any: for the customer page and sales."""
    return CreditHold.objects.filter(customer=customer, status=CreditHoldStatus.ACTIVE).first()


def customer_hand_off(*, customer: Customer) -> ExternalCollection | None:
    """The customer's open hand-off to external collection, if any."""
    return ExternalCollection.objects.filter(customer=customer, status__in=HANDOFF_OPEN).first()


def segmentation_rules_get(*, entity: Entity) -> SegmentationRules | None:
    return SegmentationRules.objects.filter(entity=entity).first()


def customer_behaviour_rows(*, entity: Entity, as_of: date) -> list[dict[str, Any]]:
    """Each customer's behaviour class, its metrics and the evidence, computed by the engine."""
    from relance.dunning.binding import app_dunning_tables
    from relance.engine.dunning.behaviour import customer_behaviour

    backend, tables = app_dunning_tables(entity=entity)
    rows: list[dict[str, Any]] = customer_behaviour(tables, as_of, backend=backend).to_pylist()
    return rows


def customer_segments(*, entity: Entity, as_of: date) -> list[dict[str, Any]]:
    """Per customer: current segment, behaviour, the segment the rules give (None: keep) and why."""
    import pyarrow as pa

    from relance.engine.dunning.behaviour import segment_customers, segment_rules_from_list

    stored = segmentation_rules_get(entity=entity)
    rules = segment_rules_from_list(stored.rules if stored else [])
    default = stored.default_segment if stored else ""
    behaviour = customer_behaviour_rows(entity=entity, as_of=as_of)
    refs = dict(Customer.objects.filter(entity=entity).values_list("pk", "external_ref"))
    current = dict(Customer.objects.filter(entity=entity).values_list("pk", "segment"))
    assigned = (
        segment_customers(pa.Table.from_pylist(behaviour), rules, default=default).to_pylist()
        if behaviour
        else []
    )
    by_customer = {row["customer_id"]: row for row in behaviour}
    result = []
    for row in assigned:
        customer_id = row["customer_id"]
        matched = row["rule"] > 0 or bool(default)
        result.append(
            {
                "customer_ref": refs.get(customer_id, str(customer_id)),
                "segment": current.get(customer_id, ""),
                "behaviour": by_customer[customer_id]["behaviour"],
                "proposed": row["segment"] if matched else None,
                "rule": int(row["rule"]),
                "evidence": row["evidence"],
            }
        )
    return sorted(result, key=lambda item: item["customer_ref"])

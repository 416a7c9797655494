"""Who a policy draft affects: the customers whose next contact would change, and how.

A customer's **next contact** under a policy is what the simulated run (``simulation.simulate``,
the engine's own decision on the ledger of ``as_of``) would do for them that day; when the run
would do nothing for them, the first step of the policy still ahead of one of their open
invoices, on its due date + offset (as the customer page's next steps read it: the steps after
the one the invoice reached, matched by key). Conditions, holds, promises and the cadence are
therefore weighed for the simulated day only; later dates are the policy's plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Q, QuerySet

from relance.dunning.models import InvoiceStep, Policy, SegmentPolicy
from relance.engine.dunning.policy import Policy as EnginePolicy
from relance.ledger.models import Customer
from relance.workspace.policy_editing import channels_text
from relance.workspace.simulation import Simulation

CHASED = "chased"
NOT_CHASED = "not_chased"
EARLIER = "earlier"
LATER = "later"
CHANGED = "changed"
KIND_ORDER = (CHASED, NOT_CHASED, EARLIER, LATER, CHANGED)
KIND_LABELS = {
    CHASED: "would now be chased",
    NOT_CHASED: "would no longer be chased",
    EARLIER: "chased earlier",
    LATER: "chased later",
    CHANGED: "chased the same day with another step",
}


@dataclass(frozen=True)
class NextContact:
    on: date
    step_key: str
    action: str
    channels: tuple[str, ...]

    def __str__(self) -> str:
        how = f" by {channels_text(self.channels)}" if self.channels else ""
        return f"{self.step_key} ({self.action.replace('_', ' ')}{how}) on {self.on:%Y-%m-%d}"


@dataclass(frozen=True)
class AffectedCustomer:
    customer_id: int
    name: str
    external_ref: str
    kind: str
    before: NextContact | None
    after: NextContact | None

    @property
    def days(self) -> int:
        """By how many days the next contact moves (0 unless earlier or later)."""
        if self.before is None or self.after is None:
            return 0
        return abs((self.after.on - self.before.on).days)

    @property
    def change(self) -> str:
        """The change in one sentence."""
        if self.kind == CHASED:
            return f"Would now be chased: {self.after}."
        if self.kind == NOT_CHASED:
            return f"Would no longer be chased (was {self.before})."
        if self.kind in (EARLIER, LATER):
            plural = "s" if self.days != 1 else ""
            return f"Chased {self.days} day{plural} {self.kind}: {self.before} → {self.after}."
        return f"Chased the same day with another step: {self.before} → {self.after}."


def customers_following(*, customers: QuerySet[Customer], policy: Policy) -> QuerySet[Customer]:
    """Of ``customers`` (already scoped to the user), those following ``policy``: their segment is
    mapped to it, or it is the default and their segment is mapped to no policy."""
    mappings = list(
        SegmentPolicy.objects.filter(entity_id=policy.entity_id).values_list("segment", "policy_id")
    )
    mine = {segment for segment, policy_id in mappings if policy_id == policy.pk}
    if not mine:
        return customers.none()
    following = Q(segment__in=[segment for segment in mine if segment])
    if "" in mine:
        following |= ~Q(segment__in=[segment for segment, _ in mappings if segment])
    return customers.filter(following, entity_id=policy.entity_id)


def _planned(
    *, policy: EnginePolicy, invoices: list[tuple[int, date]], reached: dict[int, set[str]], as_of: date
) -> NextContact | None:
    """The first step still ahead (after ``as_of``) of one of the invoices, by date."""
    best: NextContact | None = None
    for invoice_id, due_date in invoices:
        keys = reached.get(invoice_id, set())
        reached_index = max((i for i, step in enumerate(policy.steps) if step.key in keys), default=-1)
        for step in policy.steps[reached_index + 1 :]:
            on = due_date + timedelta(days=step.offset_days)
            if on > as_of:
                if best is None or on < best.on:
                    best = NextContact(on, step.key, step.action, step.channels)
                break
    return best


def _next_contact(
    *,
    customer_id: int,
    policy: EnginePolicy,
    simulation: Simulation,
    invoices: list[tuple[int, date]],
    reached: dict[int, set[str]],
) -> NextContact | None:
    contact = simulation.contacts.get(customer_id)
    if contact is not None:
        step_key, action, channel = contact
        return NextContact(simulation.as_of, step_key, action, (channel,) if channel else ())
    return _planned(policy=policy, invoices=invoices, reached=reached, as_of=simulation.as_of)


def _kind(before: NextContact | None, after: NextContact | None) -> str | None:
    if before == after:
        return None
    if before is None:
        return CHASED
    if after is None:
        return NOT_CHASED
    if after.on < before.on:
        return EARLIER
    if after.on > before.on:
        return LATER
    return CHANGED


def affected_customers(
    *,
    customers: QuerySet[Customer],
    policy: Policy,
    current: tuple[EnginePolicy, Simulation],
    draft: tuple[EnginePolicy, Simulation],
) -> list[AffectedCustomer]:
    """The customers of ``customers`` (scoped to the user) following ``policy`` whose next contact
    differs between the current policy and the draft, each simulated on the same day; ordered by
    kind of change, then by how much it moves, then by name."""
    from relance.ledger.selectors import STILL_OWED, invoice_list_with_open

    as_of = draft[1].as_of
    following = customers_following(customers=customers, policy=policy)
    invoices: dict[int, list[tuple[int, date]]] = {}
    for invoice_id, customer_id, due_date in (
        invoice_list_with_open(entity=policy.entity, as_of=as_of)
        .filter(customer__in=following.values("pk"), open_amount__gt=STILL_OWED)
        .values_list("pk", "customer_id", "due_date")
    ):
        invoices.setdefault(customer_id, []).append((invoice_id, due_date))
    reached: dict[int, set[str]] = {}
    for invoice_id, step_key in InvoiceStep.objects.filter(
        entity_id=policy.entity_id, policy_key=policy.key, invoice__customer__in=following.values("pk")
    ).values_list("invoice_id", "step_key"):
        reached.setdefault(invoice_id, set()).add(step_key)
    names: dict[int, tuple[str, str]] = {
        pk: (name, ref) for pk, name, ref in following.values_list("pk", "name", "external_ref")
    }
    result = []
    for customer_id in set(invoices) | set(draft[1].contacts) | set(current[1].contacts):
        if customer_id not in names:
            continue  # not visible to the user, or following another policy
        before, after = (
            _next_contact(
                customer_id=customer_id,
                policy=engine_policy,
                simulation=simulation,
                invoices=invoices.get(customer_id, []),
                reached=reached,
            )
            for engine_policy, simulation in (current, draft)
        )
        kind = _kind(before, after)
        if kind is not None:
            name, ref = names[customer_id]
            result.append(AffectedCustomer(customer_id, name, ref, kind, before, after))
    return sorted(
        result, key=lambda item: (KIND_ORDER.index(item.kind), -item.days, item.name, item.customer_id)
    )


def affected_counts(affected: list[AffectedCustomer]) -> list[tuple[str, str, int]]:
    """(kind, label, count) of each kind present, in the order of ``KIND_ORDER``."""
    counts: dict[str, int] = {}
    for item in affected:
        counts[item.kind] = counts.get(item.kind, 0) + 1
    return [(kind, KIND_LABELS[kind], counts[kind]) for kind in KIND_ORDER if kind in counts]

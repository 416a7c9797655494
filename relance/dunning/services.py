"""Writes of the collections app: policies, segmentation, customer attributes and the daily run.

Each service validates, owns its transaction and raises ``ValidationFailed``/``Conflict`` with
the messages below (tests assert them). A customer's case (promises, disputes, plans, holds,
contacts, hand-offs) is written by ``relance.cases.services``; the run settles promises and
places credit holds and hand-offs itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F, Max, Q

from relance.audit import case_events
from relance.cases.models import (
    HANDOFF_OPEN,
    CreditHold,
    CreditHoldStatus,
    ExternalCollection,
    Promise,
    PromiseStatus,
)
from relance.cases.selectors import promise_state_on
from relance.cases.services import plan_installments_settle, promise_closed_emit
from relance.core.actors import Actor
from relance.core.errors import Conflict, ValidationFailed
from relance.core.promises import BROKEN as PROMISE_BROKEN
from relance.core.promises import KEPT as PROMISE_KEPT
from relance.dunning.models import (
    ActionStatus,
    CustomerAttribute,
    DunningAction,
    DunningLock,
    DunningRun,
    InvoiceStep,
    Policy,
    PolicyVersion,
    SegmentationRules,
    SegmentChange,
    SegmentPolicy,
    Suppression,
    WorklistEntry,
)
from relance.dunning.selectors import customer_policy_key
from relance.engine.dunning.defaults import default_policies
from relance.engine.dunning.policy import CONTACT_ACTIONS, policy_from_dict, policy_to_dict
from relance.engine.dunning.policy import Policy as EnginePolicy
from relance.events.services import emit
from relance.ledger.models import Customer, Entity, Invoice
from relance.ledger.services import data_version_bump

if TYPE_CHECKING:
    # The decision step's modules (Ibis, pandas) load when a run or a segmentation needs them, not
    # when a command merely imports these services (start-up, issue 20).
    from relance.engine.dunning.contract import Decisions

POLICY_YAML_INVALID = "{source}: not valid YAML: {error}"
POLICY_YAML_SHAPE = "{source}: expected a policy (a mapping) or a list of policies, found {found}"
POLICY_IN_USE = "policy {key} is assigned to segment(s) {segments}: reassign them first"
POLICY_UNKNOWN = "no policy {key!r} in entity {entity} (known: {known})"
POLICY_CHANGED_SINCE = (
    "policy {key} changed since you started: version {current} is now the current one, "
    "not {expected}. Review the changes again."
)
POLICY_UNCHANGED = "policy {key}: nothing changed, so no new version was saved"
POLICY_VERSION_UNKNOWN = "policy {key} has no version {version}"
POLICY_ROLLBACK_AUDIT_ACTION = "policy_rollback"
POLICY_COMMENT_MAX = PolicyVersion._meta.get_field("comment").max_length or 500

RUN_IN_PROGRESS = "another dunning run of entity {entity} is in progress: try again when it has finished"
RUN_BEFORE_LATEST = (
    "entity {entity} was already run for {latest}: runs move forward, so {as_of} cannot be run now"
)
RUN_NO_POLICY = (
    "entity {entity} has no dunning policy: import one (relance policy import FILE, or --defaults) first"
)
RUN_CUSTOMERS_WITHOUT_POLICY = (
    "{count} customer(s) of entity {entity} follow no dunning policy (segment {segments}): "
    "make one the default with `relance policy assign {key} --default{entity_option}` "
    "(or give their segment one with --segment)"
)

#: The shipped policy a new entity follows by default (docs/policies.md).
SHIPPED_DEFAULT_POLICY = "standard"


# --------------------------------------------------------------------------- policies


def policy_validate(*, spec: Any) -> EnginePolicy:
    """The engine's policy for ``spec`` (the one validation), or ``ValidationFailed`` listing every problem."""
    return policy_from_dict(spec)


@transaction.atomic
def policy_import(
    *,
    entity: Entity,
    spec: Any,
    author: Any = None,
    comment: str = "",
    expected_version: int | None = None,
    restores: int | None = None,
) -> tuple[Policy, bool]:
    """Create or replace the entity's policy ``spec['key']``; the stored spec is the normalised dict form.

    A changed spec makes a new version (the previous specs stay in ``PolicyVersion``, with who
    saved it and why); importing the same spec again changes nothing. ``expected_version``: the
    version the editor started from; another version by then is a ``Conflict`` (a second editor
    saved in between and this save would silently undo their change).
    """
    engine_policy = policy_validate(spec=spec)
    normalised = policy_to_dict(engine_policy)
    policy = Policy.objects.select_for_update().filter(entity=entity, key=engine_policy.key).first()
    if expected_version is not None and (policy is None or policy.version != expected_version):
        raise Conflict(
            POLICY_CHANGED_SINCE.format(
                key=engine_policy.key, current=policy.version if policy else "none", expected=expected_version
            )
        )
    created = policy is None
    if policy is None:
        policy = Policy(entity=entity, key=engine_policy.key, version=1)
    elif policy.spec == normalised and policy.name == engine_policy.name:
        return policy, False
    elif policy.spec != normalised:
        policy.version += 1
    policy.name = engine_policy.name
    policy.spec = normalised
    policy.full_clean()
    policy.save()
    PolicyVersion.objects.get_or_create(
        policy=policy,
        version=policy.version,
        defaults={
            "spec": normalised,
            "created_by": author if getattr(author, "is_authenticated", False) else None,
            "comment": " ".join(comment.split())[:POLICY_COMMENT_MAX],
            "restores": restores,
        },
    )
    return policy, created


@transaction.atomic
def policy_rollback(
    *, policy: Policy, version: int, author: Any, comment: str = "", expected_version: int | None = None
) -> Policy:
    """Make ``version``'s spec current again as a **new** version (history is never rewritten),
    recorded with who and why and audited as ``policy_rollback``. Refuses a version that does not
    exist and one equal to the current spec (nothing would change)."""
    from relance.audit.services import audit_record

    earlier = PolicyVersion.objects.filter(policy=policy, version=version).first()
    if earlier is None:
        raise ValidationFailed(POLICY_VERSION_UNKNOWN.format(key=policy.key, version=version))
    before = policy.version
    saved, _ = policy_import(
        entity=policy.entity,
        spec=earlier.spec,
        author=author,
        comment=comment or f"Rolled back to version {version}",
        expected_version=before if expected_version is None else expected_version,
        restores=version,
    )
    if saved.version == before:
        raise ValidationFailed(POLICY_UNCHANGED.format(key=policy.key))
    audit_record(
        action=POLICY_ROLLBACK_AUDIT_ACTION,
        actor=author,
        obj=saved,
        before={"version": before},
        after={"version": saved.version, "restores": version, "comment": comment},
    )
    return saved


def policy_specs_from_yaml(*, text: str, source: str = "<text>") -> list[Any]:
    """The policy mappings of a YAML document: one mapping, a list, or ``{policies: [...]}``."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationFailed(POLICY_YAML_INVALID.format(source=source, error=exc)) from None
    if isinstance(data, dict) and set(data) == {"policies"}:
        data = data["policies"]
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list) and data:
        return data
    raise ValidationFailed(POLICY_YAML_SHAPE.format(source=source, found=type(data).__name__))


@transaction.atomic
def policy_import_yaml(*, entity: Entity, text: str, source: str = "<text>") -> list[tuple[Policy, bool]]:
    """Import every policy of a YAML document, all or none."""
    specs = policy_specs_from_yaml(text=text, source=source)
    results = []
    for position, spec in enumerate(specs):
        try:
            results.append(policy_import(entity=entity, spec=spec))
        except ValidationFailed as exc:
            where = f"{source}" if len(specs) == 1 else f"{source}[{position}]"
            raise ValidationFailed(f"{where}: {exc.message}") from None
    return results


@transaction.atomic
def segment_policy_assign(*, entity: Entity, policy_key: str, segment: str = "") -> SegmentPolicy:
    """Customers of ``segment`` (empty: every customer not mapped otherwise) follow ``policy_key``."""
    policy = Policy.objects.filter(entity=entity, key=policy_key).first()
    if policy is None:
        known = ", ".join(Policy.objects.filter(entity=entity).values_list("key", flat=True)) or "none"
        raise ValidationFailed(POLICY_UNKNOWN.format(key=policy_key, entity=entity.name, known=known))
    mapping, _ = SegmentPolicy.objects.update_or_create(
        entity=entity, segment=segment.strip(), defaults={"policy": policy}
    )
    return mapping


@dataclass(frozen=True)
class ShippedPoliciesInstalled:
    """What ``policy_install_shipped`` did: each policy and whether it was new, and the default it set."""

    policies: tuple[tuple[Policy, bool], ...]
    default_key: str | None


@transaction.atomic
def policy_install_shipped(*, entity: Entity) -> ShippedPoliciesInstalled:
    """Import the shipped policies (white glove, standard, high risk) and, when the entity has no
    default policy yet, make ``standard`` its default: a new entity collects out of the box. An
    existing default is left alone (installing again changes nothing)."""
    installed = tuple(
        policy_import(entity=entity, spec=policy_to_dict(policy)) for policy in default_policies().values()
    )
    default_key = None
    if not SegmentPolicy.objects.filter(entity=entity, segment="").exists():
        segment_policy_assign(entity=entity, policy_key=SHIPPED_DEFAULT_POLICY)
        default_key = SHIPPED_DEFAULT_POLICY
    return ShippedPoliciesInstalled(policies=installed, default_key=default_key)


@transaction.atomic
def segment_policy_remove(*, entity: Entity, segment: str = "") -> bool:
    deleted, _ = SegmentPolicy.objects.filter(entity=entity, segment=segment.strip()).delete()
    return bool(deleted)


@transaction.atomic
def policy_delete(*, entity: Entity, key: str) -> bool:
    policy = Policy.objects.filter(entity=entity, key=key).first()
    if policy is None:
        return False
    segments = list(policy.segments.values_list("segment", flat=True))
    if segments:
        shown = ", ".join(segment or "(default)" for segment in segments)
        raise Conflict(POLICY_IN_USE.format(key=key, segments=shown))
    policy.delete()
    return True


# --------------------------------------------------------------------------- promises the run settles


def promise_settle(*, entity: Entity, as_of: date, policies: Mapping[str, EnginePolicy]) -> int:
    """Write back the state of each open promise on ``as_of``, by the one promise rule
    (``relance.core.promises``, docs/dunning.md): ``kept`` when paid by its cut-off (its date
    plus the policy's grace, or ``as_of`` while it runs), ``broken`` once that end has passed
    unpaid. The engine reads ``broken`` (dunning resumes at the reached step, flagged) and
    ``promise list`` shows both. Returns how many were marked (kept or broken).
    """
    marked = 0
    promises = Promise.objects.filter(entity=entity, status=PromiseStatus.OPEN, created_on__lte=as_of)
    for promise in promises.select_related("customer", "entity").prefetch_related("invoices"):
        key = customer_policy_key(customer=promise.customer)
        grace = policies[key].cadence.promise_grace_days if key is not None and key in policies else 0
        state = promise_state_on(promise=promise, as_of=as_of, grace_days=grace)
        if state == PROMISE_KEPT:
            promise.status = PromiseStatus.KEPT
        elif state == PROMISE_BROKEN:
            promise.status = PromiseStatus.BROKEN
        else:
            continue
        promise.save(update_fields=["status", "updated_at"])
        case_events.promise_closed(promise, actor=Actor.system(f"run {as_of}"))
        promise_closed_emit(promise)
        marked += 1
    return marked


# --------------------------------------------------------------------------- the run


DecideFunction = Callable[..., "Decisions"]


@dataclass(frozen=True)
class RunOutcome:
    """What ``run_start`` did: the run row (None for a dry run), whether it is new, and the decisions."""

    entity: Entity
    as_of: date
    run: DunningRun | None
    created: bool
    dry_run: bool
    decisions: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)


def _lock_row_ensure(entity: Entity) -> None:
    """Create the entity's lock row in its own transaction (created inside the run's, a concurrent
    run would wait on the unique key instead of being refused)."""
    try:
        DunningLock.objects.get_or_create(entity=entity)
    except DatabaseError as exc:
        raise Conflict(RUN_IN_PROGRESS.format(entity=entity.name), code="run_in_progress") from exc


def _lock(entity: Entity, by: str) -> None:
    """Hold the entity's run lock until the transaction ends; refuse at once if another run has it."""
    try:
        if connection.vendor == "postgresql":
            DunningLock.objects.select_for_update(nowait=True).get(entity=entity)
        # On SQLite this write takes the database's write lock (held to the end of the transaction).
        DunningLock.objects.filter(entity=entity).update(locked_at=datetime.now(UTC), locked_by=by[:150])
    except DatabaseError as exc:
        raise Conflict(RUN_IN_PROGRESS.format(entity=entity.name), code="run_in_progress") from exc


def _chunks(values: Sequence[int], size: int = 5000) -> list[Sequence[int]]:
    return [values[start : start + size] for start in range(0, len(values), size)]


def _refs(model: Any, ids: set[int]) -> dict[int, str]:
    refs: dict[int, str] = {}
    for chunk in _chunks(sorted(ids)):
        refs.update(model.objects.filter(pk__in=chunk).values_list("pk", "external_ref"))
    return refs


def decisions_as_json(
    decisions: Sequence[Mapping[str, Any]], customer_refs: Mapping[int, str], invoice_refs: Mapping[int, str]
) -> list[dict[str, Any]]:
    """Engine decision rows as the JSON of ``relance run --json`` (refs instead of ids)."""
    result = []
    for row in decisions:
        result.append(
            {
                "customer_ref": customer_refs.get(row["customer_id"], str(row["customer_id"])),
                "kind": row["kind"],
                "action": row["action"],
                "step": row["step_key"],
                "offset_days": row["offset_days"],
                "channel": row["channel"] or None,
                "tone": row["tone"],
                "template": row["template_key"],
                "policy": row["policy_key"],
                "invoice_refs": [invoice_refs.get(i, str(i)) for i in row["invoice_ids"]],
                "amount_due": str(row["amount_due"]),
                "currency": row["currency"],
                "max_days_past_due": row["max_days_past_due"],
                "broken_promise": bool(row["broken_promise"]),
                "catch_up": bool(row["catch_up"]),
                "reasons": list(row["reasons"]),
            }
        )
    return result


RUN_TIME = time(6, 0)


def run_instant(entity: Entity, as_of: date) -> datetime:
    """When a run's messages are released: 06:00 on ``as_of`` in the entity's time zone (the
    morning run). The engine derives each customer's day of delivery from it."""
    try:
        zone = ZoneInfo(entity.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.combine(as_of, RUN_TIME, tzinfo=zone)


def run_start(
    *,
    entity: Entity,
    as_of: date,
    dry_run: bool = False,
    started_by: str = "",
    decide_fn: DecideFunction | None = None,
    segment: bool = True,
) -> RunOutcome:
    """Decide and apply the entity's dunning for ``as_of`` in one transaction.

    Runs of an entity never overlap (a lock row; the second refuses with ``Conflict``), never
    repeat (a run of an already-run date adds nothing and returns what that run decided) and
    move forward only. ``dry_run`` computes the same decisions and writes nothing (even the
    installments marked paid on the way are rolled back). ``segment``: re-apply the entity's
    segmentation rules first (when it has any), so the policies follow today's behaviour; the
    changes are recorded in ``SegmentChange`` with the run.
    """
    from relance.dunning import selectors
    from relance.dunning.binding import app_dunning_tables

    if decide_fn is None:
        from relance.engine.dunning.decide import decide

        decide_fn = decide

    started_at = datetime.now(UTC)
    _lock_row_ensure(entity)
    try:
        with transaction.atomic():
            _lock(entity, started_by)
            existing = DunningRun.objects.filter(entity=entity, as_of=as_of).first()
            if existing is not None:
                return RunOutcome(
                    entity=entity,
                    as_of=as_of,
                    run=existing,
                    created=False,
                    dry_run=dry_run,
                    decisions=selectors.run_decisions(run=existing),
                    counts=existing.counts,
                )
            latest = DunningRun.objects.filter(entity=entity).aggregate(latest=Max("as_of"))["latest"]
            if latest is not None and as_of < latest:
                raise Conflict(
                    RUN_BEFORE_LATEST.format(entity=entity.name, latest=latest, as_of=as_of),
                    code="run_before_latest",
                )
            policies = selectors.policy_map(entity=entity)
            if not policies:
                raise ValidationFailed(RUN_NO_POLICY.format(entity=entity.name), code="no_policy")
            _customers_follow_a_policy(entity, policies)
            plan_installments_settle(entity=entity, as_of=as_of)
            promise_settle(entity=entity, as_of=as_of, policies=policies)
            segment_changes = None
            if segment and _has_segmentation_rules(entity):
                segment_changes = segment_assign(entity=entity, as_of=as_of, changed_by="relance run")
            backend, tables = app_dunning_tables(entity=entity)
            result = decide_fn(
                tables, policies, as_of=as_of, backend=backend, run_at=run_instant(entity, as_of)
            )
            versions = selectors.policy_versions(entity=entity)
            outcome = _apply(entity, as_of, result, started_at, started_by, dry_run, versions)
            if segment_changes is not None:
                outcome.counts["segment_changes"] = len(segment_changes)
                if outcome.run is not None:
                    outcome.run.counts = outcome.counts
                    outcome.run.save(update_fields=["counts"])
                    SegmentChange.objects.filter(
                        entity=entity, on=as_of, run__isnull=True, changed_by="relance run"
                    ).update(run=outcome.run)
            if dry_run:
                transaction.set_rollback(True)
            return outcome
    except IntegrityError as exc:
        # Two runs of the same date on a database without row locks: the unique run row decides.
        if DunningRun.objects.filter(entity=entity, as_of=as_of).exists():
            raise Conflict(RUN_IN_PROGRESS.format(entity=entity.name), code="run_in_progress") from exc
        raise


def _customers_follow_a_policy(entity: Entity, policies: Mapping[str, EnginePolicy]) -> None:
    """Refuse a run in which invoiced customers would follow no policy: they would never be chased,
    and the run would only say "no_policy" in its suppressions. The message names the one fix."""
    from relance.dunning import selectors

    unfollowed = selectors.customers_without_policy(entity=entity)
    if not unfollowed.count:
        return
    key = SHIPPED_DEFAULT_POLICY if SHIPPED_DEFAULT_POLICY in policies else sorted(policies)[0]
    several = Entity.objects.exclude(pk=entity.pk).exists()
    raise ValidationFailed(
        RUN_CUSTOMERS_WITHOUT_POLICY.format(
            count=unfollowed.count,
            entity=entity.name,
            segments=", ".join(repr(segment) if segment else "(none)" for segment in unfollowed.segments),
            key=key,
            entity_option=f" --entity {entity.name}" if several else "",
        ),
        code="no_policy",
    )


def _suppressions_record(
    entity: Entity, run: DunningRun, suppressed: Sequence[Mapping[str, Any]]
) -> tuple[int, int]:
    """Write what the run held back, summarised: a suppression identical (customer, invoice,
    reason, detail) to one the previous run of the entity recorded or extended extends that row
    (``last_run`` = this run, ``count`` + 1) instead of adding a row. Returns (added, extended)."""
    previous = DunningRun.objects.filter(entity=entity, as_of__lt=run.as_of).order_by("-as_of").first()
    open_rows: dict[tuple[int, int | None, str, str], int] = {}
    if previous is not None:
        candidates = Suppression.objects.filter(Q(last_run=previous) | Q(run=previous, last_run__isnull=True))
        for pk, customer_id, invoice_id, reason, detail in candidates.values_list(
            "pk", "customer_id", "invoice_id", "reason", "detail"
        ).iterator(chunk_size=20000):
            open_rows[(customer_id, invoice_id, reason, detail)] = pk
    extended: list[int] = []
    added: list[Suppression] = []
    for row in suppressed:
        key = (row["customer_id"], row["invoice_id"], row["reason"], row["detail"] or "")
        found = open_rows.get(key)
        if found is not None:
            del open_rows[key]
            extended.append(found)
        else:
            added.append(
                Suppression(
                    run=run,
                    last_run=run,
                    customer_id=key[0],
                    invoice_id=key[1],
                    reason=key[2],
                    detail=key[3],
                )
            )
    for chunk in _chunks(extended, 5000):
        Suppression.objects.filter(pk__in=chunk).update(last_run=run, count=F("count") + 1)
    Suppression.objects.bulk_create(added, batch_size=5000)
    return len(added), len(extended)


def _has_segmentation_rules(entity: Entity) -> bool:
    stored = SegmentationRules.objects.filter(entity=entity).first()
    return stored is not None and bool(stored.rules or stored.default_segment)


def _apply(
    entity: Entity,
    as_of: date,
    result: Decisions,
    started_at: datetime,
    started_by: str,
    dry_run: bool,
    versions: Mapping[str, int] | None = None,
) -> RunOutcome:
    rows = result.decisions.to_pylist()
    steps = result.invoice_steps.to_pylist()
    suppressed = result.suppressed.to_pylist()
    worklist = result.worklist.to_pylist()
    invoice_ids = {i for row in rows for i in row["invoice_ids"]}
    customer_refs = _refs(Customer, {row["customer_id"] for row in rows})
    invoice_refs = _refs(Invoice, invoice_ids)
    by_reason: dict[str, int] = {}
    for row in suppressed:
        by_reason[row["reason"]] = by_reason.get(row["reason"], 0) + 1
    by_action: dict[str, int] = {}
    for row in rows:
        by_action[row["action"]] = by_action.get(row["action"], 0) + 1
    counts = {
        "decisions": len(rows),
        "actions": by_action,
        "contacts": sum(1 for row in rows if row["action"] in CONTACT_ACTIONS),
        "invoices_advanced": len(steps),
        "suppressed": by_reason,
        "worklist": len(worklist),
    }
    decisions = decisions_as_json(rows, customer_refs, invoice_refs)
    if dry_run:
        return RunOutcome(entity, as_of, None, False, True, decisions, counts)

    run = DunningRun.objects.create(
        entity=entity,
        as_of=as_of,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        counts=counts,
        started_by=started_by[:150],
    )
    actions = DunningAction.objects.bulk_create(
        [
            DunningAction(
                run=run,
                entity=entity,
                customer_id=row["customer_id"],
                on=as_of,
                kind=row["kind"],
                policy_key=row["policy_key"],
                policy_version=(versions or {}).get(row["policy_key"]),
                step_key=row["step_key"],
                step_index=row["step_index"],
                offset_days=row["offset_days"],
                action=row["action"],
                channel=row["channel"] or "",
                step_channels=row["channels"],
                is_contact=row["action"] in CONTACT_ACTIONS,
                tone=row["tone"] or "",
                template_key=row["template_key"] or "",
                currency=row["currency"],
                amount_due=row["amount_due"],
                invoice_count=row["invoice_count"],
                max_days_past_due=row["max_days_past_due"],
                broken_promise=bool(row["broken_promise"]),
                catch_up=bool(row["catch_up"]),
                reasons=row["reasons"],
                status=ActionStatus.QUEUED,
            )
            for row in rows
        ],
        batch_size=2000,
    )
    action_by_decision = {row["decision_id"]: action for row, action in zip(rows, actions, strict=True)}
    through = DunningAction.invoices.through
    through.objects.bulk_create(
        [
            through(dunningaction_id=action_by_decision[row["decision_id"]].pk, invoice_id=invoice_id)
            for row in rows
            for invoice_id in row["invoice_ids"]
        ],
        batch_size=5000,
    )
    _internal_records(entity, as_of, rows, action_by_decision)
    case_events.run_internal_records(
        run=run,
        holds=CreditHold.objects.filter(action__run=run),
        hand_offs=ExternalCollection.objects.filter(action__run=run),
    )
    policy_by_decision = {row["decision_id"]: row["policy_key"] for row in rows}
    InvoiceStep.objects.bulk_create(
        [
            InvoiceStep(
                invoice_id=row["invoice_id"],
                run=run,
                action=action_by_decision[row["decision_id"]],
                entity=entity,
                policy_key=policy_by_decision[row["decision_id"]],
                policy_version=(versions or {}).get(policy_by_decision[row["decision_id"]]),
                step_key=row["step_key"],
                step_index=row["step_index"],
                reached_on=row["reached_on"],
            )
            for row in steps
        ],
        batch_size=5000,
    )
    _suppressions_record(entity, run, suppressed)
    WorklistEntry.objects.bulk_create(
        [
            WorklistEntry(
                run=run,
                customer_id=row["customer_id"],
                currency=row["currency"],
                priority=row["priority"],
                overdue_amount=row["overdue_amount"],
                max_days_past_due=row["max_days_past_due"],
                risk=row["risk"] or "",
                broken_promises=row["broken_promises"],
                days_since_contact=row["days_since_contact"],
                factors=_factors_stored(row["factors"]),
            )
            for row in worklist
        ],
        batch_size=5000,
    )
    emit(
        "run.completed",
        {"run_id": run.pk, "as_of": as_of, "actions": len(rows), "status": run.status},
        entity=entity,
    )
    return RunOutcome(entity, as_of, run, True, False, decisions, counts)


def _factors_stored(factors: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The worklist factors as ``WorklistEntry.factors`` keeps them (JSON): money as text."""
    return {
        name: {key: str(value) if isinstance(value, Decimal) else value for key, value in factor.items()}
        for name, factor in factors.items()
    }


def _internal_records(
    entity: Entity, as_of: date, rows: Sequence[Mapping[str, Any]], action_by_decision: Mapping[int, Any]
) -> None:
    """What internal actions leave behind: a credit hold (no new orders; dunning goes on) and a
    hand-off to external collection. One active hold and one open hand-off per customer."""
    holds = [row for row in rows if row["action"] == "credit_hold"]
    hand_offs = [row for row in rows if row["action"] == "external_collection"]
    if holds:
        already = set(
            CreditHold.objects.filter(
                customer_id__in=[row["customer_id"] for row in holds], status=CreditHoldStatus.ACTIVE
            ).values_list("customer_id", flat=True)
        )
        CreditHold.objects.bulk_create(
            [
                CreditHold(
                    entity=entity,
                    customer_id=row["customer_id"],
                    action=action_by_decision[row["decision_id"]],
                    placed_on=as_of,
                    reason=f"{row['policy_key']}: {row['step_key']} at {row['max_days_past_due']} days past due, "
                    f"{row['amount_due']} {row['currency']} due",
                )
                for row in holds
                if row["customer_id"] not in already
            ]
        )
    if hand_offs:
        already = set(
            ExternalCollection.objects.filter(
                customer_id__in=[row["customer_id"] for row in hand_offs], status__in=HANDOFF_OPEN
            ).values_list("customer_id", flat=True)
        )
        for row in hand_offs:
            if row["customer_id"] in already:
                continue
            hand_off = ExternalCollection.objects.create(
                entity=entity,
                customer_id=row["customer_id"],
                action=action_by_decision[row["decision_id"]],
                handed_on=as_of,
                amount=row["amount_due"],
                currency=row["currency"],
                status_changed_on=as_of,
                status_changed_by="run",
            )
            hand_off.invoices.set(row["invoice_ids"])


# --------------------------------------------------------------------------- segmentation


@dataclass(frozen=True)
class SegmentProposal:
    customer_ref: str
    before: str
    after: str
    rule: int  # 1-based rule that matched; 0 = the default segment
    evidence: str


@transaction.atomic
def segmentation_rules_set(*, entity: Entity, rules: Any, default_segment: str = "") -> SegmentationRules:
    """Store the entity's ordered rules after the engine validated them (every problem listed)."""
    from relance.engine.dunning.behaviour import segment_rules_from_list

    segment_rules_from_list(rules)
    stored, _ = SegmentationRules.objects.update_or_create(
        entity=entity, defaults={"rules": rules, "default_segment": default_segment.strip()}
    )
    return stored


@transaction.atomic
def segment_assign(
    *,
    entity: Entity,
    as_of: date,
    dry_run: bool = False,
    run: DunningRun | None = None,
    changed_by: str = "relance segment apply",
) -> list[SegmentProposal]:
    """Give each customer the segment of the first rule it matches on ``as_of`` (behaviour included).

    Customers matching no rule get the default segment when there is one and keep theirs
    otherwise, so that segments set by hand survive rules that do not speak about them. Each
    change is kept in ``SegmentChange`` (from, to, the rule and its evidence; ``run`` when the
    daily run made it).
    """
    from relance.dunning import selectors

    rows = selectors.customer_segments(entity=entity, as_of=as_of)
    changes = [
        SegmentProposal(row["customer_ref"], row["segment"], row["proposed"], row["rule"], row["evidence"])
        for row in rows
        if row["proposed"] is not None and row["proposed"] != row["segment"]
    ]
    if changes and not dry_run:
        by_ref = {change.customer_ref: change for change in changes}
        customers = list(Customer.objects.filter(entity=entity, external_ref__in=list(by_ref)))
        for customer in customers:
            customer.segment = by_ref[customer.external_ref].after
        Customer.objects.bulk_update(customers, ["segment"], batch_size=2000)
        data_version_bump(entity_id=entity.pk, earliest=None)  # segments group every date; no signals
        SegmentChange.objects.bulk_create(
            [
                SegmentChange(
                    entity=entity,
                    customer=customer,
                    run=run,
                    on=as_of,
                    from_segment=by_ref[customer.external_ref].before,
                    to_segment=by_ref[customer.external_ref].after,
                    rule=by_ref[customer.external_ref].rule,
                    evidence=by_ref[customer.external_ref].evidence,
                    changed_by=changed_by[:150],
                )
                for customer in customers
            ],
            batch_size=2000,
        )
    return changes


# --------------------------------------------------------------------------- customer attributes


@transaction.atomic
def customer_attribute_set(*, customer: Customer, name: str, value: str) -> CustomerAttribute:
    """Set (or replace) the customer's attribute ``name``; conditions read it as ``custom.NAME``."""
    attribute = CustomerAttribute.objects.filter(customer=customer, name=name).first() or CustomerAttribute(
        entity_id=customer.entity_id, customer=customer, name=name
    )
    attribute.value = value
    attribute.full_clean()
    attribute.save()
    return attribute

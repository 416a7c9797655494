"""Credit reviews: the daily credit step that opens them, and the decision on one.

``review_run`` scores the day (``scores_compute``), builds every customer's credit state against
the previous stored scoring day, lets the engine find the triggers and propose a decision
(``relance.engine.credit.triggers``), and opens one ``CreditReview`` per customer with a trigger;
a customer's open review is updated instead (triggers merged, proposal recomputed). Running the
same day again changes nothing.

``review_decide`` accepts (optionally with an edited limit or terms) or rejects an open review.
A review whose basis changed since it was proposed (limit, terms, credit hold, class) is refused
with what changed. Accepting writes the limit and terms through the ledger
(``customer_credit_terms_set``), holds through the cases services, the ``CreditProfile``
(reviewed on, next review, prepayment or guarantee) and a ``CreditDecision(source=review)``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from relance.audit.context import audit_actor, audit_context, audit_suppressed
from relance.audit.services import audit_record
from relance.cases.services import credit_hold_place, credit_hold_release
from relance.core.actors import Actor
from relance.core.errors import ValidationFailed
from relance.credit.models import (
    BureauReport,
    CreditDecision,
    CreditProfile,
    CreditReview,
    CreditScore,
    DecisionKind,
    DecisionSource,
    ReviewStatus,
)
from relance.credit.selectors.reviews import Basis, basis_changes
from relance.credit.selectors.scores import latest_scoring_day
from relance.engine.credit.triggers import (
    BEHAVIOUR_STATE_SCHEMA,
    REVIEW_STATE_SCHEMA,
    THRESHOLDS,
    TRIGGER_CODES,
    Proposal,
    ReviewThresholds,
    Trigger,
    propose,
    review_triggers_expr,
    trigger_of_row,
)
from relance.ledger.models import Customer, Entity

REVIEW_NOT_OPEN = "review {id} of {customer} is already {status}: only an open review can be decided"
REVIEW_STALE = (
    "review {id} of {customer} is stale: {changes}. The next `relance credit review run` "
    "proposes again from the customer as it is now"
)
NOT_A_DECIDER = "{who} may not decide credit reviews ({perm}: credit managers and admins)"
LIMIT_NEGATIVE = "limit: expected an amount of 0 or more, found {limit}"
LIMIT_NEEDED = "limit: a {kind} decision needs a limit"
NOTE_MAX = 2000
MONEY_SCALE = Decimal("0.0001")  # the scale of amounts in the ledger
LIMIT_KINDS = (DecisionKind.RAISE_LIMIT, DecisionKind.LOWER_LIMIT, DecisionKind.SET_LIMIT, DecisionKind.KEEP)
FACTORS_READ = ("utilisation", "broken_promises", "days_beyond_terms", "relationship_months")


# --------------------------------------------------------------------------- the credit state


def _factor_values(reasons: Iterable[Mapping[str, Any]]) -> dict[str, float | None]:
    values: dict[str, float | None] = {}
    for reason in reasons:
        if reason.get("factor") in FACTORS_READ:
            value = reason.get("value")
            values[reason["factor"]] = None if value in (None, "") else float(value)
    return values


@dataclass(frozen=True)
class Exposure:
    """A customer's exposure as the engine measures it (``relance.engine.credit.exposure``)."""

    amount: Decimal  # the group's when the customer holds the limit, else its own part
    credit_limit: Decimal | None  # the limit it is measured against when it holds it, else None
    utilisation: float | None
    currency: str


def _exposures(entity: Entity, as_of: date) -> dict[int, Exposure]:
    """Each customer's exposure as of ``as_of``: open receivables and unbilled orders, converted
    and rolled up to the parent's limit (one home: ``exposure_expr``). A child measured against
    its parent's limit carries no limit here: the parent's review reads the group."""
    from relance.credit.binding import app_credit_tables
    from relance.credit.selectors.settings import credit_settings_for
    from relance.engine.credit.exposure import exposure_expr
    from relance.engine.days import unbound_tables_run_on

    include_open_orders = credit_settings_for(entity=entity).exposure_includes_open_orders
    backend, tables = app_credit_tables(entity=entity)
    with unbound_tables_run_on(backend):
        expr = exposure_expr(tables, as_of, include_open_orders=include_open_orders)
        rows = backend.to_pyarrow(expr).to_pylist()
    exposures = {}
    for row in rows:
        holder = row["limit_holder_id"] == row["customer_id"]
        amount = row["exposure"] if holder else row["own_exposure"]
        exposures[int(row["customer_id"])] = Exposure(
            amount=Decimal(amount or 0).quantize(MONEY_SCALE),
            credit_limit=Decimal(row["credit_limit"]) if holder and row["credit_limit"] else None,
            utilisation=row["utilisation"] if holder else None,
            currency=row["currency"] or "",
        )
    return exposures


@dataclass(frozen=True)
class BureauNews:
    """A customer's latest bureau report on the day, and the one known on the previous scoring day."""

    events: int
    score: float | None
    events_before: int | None
    score_before: float | None


def _bureau_events(entity: Entity, as_of: date, previous_day: date | None) -> dict[int, BureauNews]:
    """Per customer with a report: its latest report on ``as_of`` and its latest on the previous
    scoring day (without one: the report before), so a report is news once."""
    reports: dict[int, list[tuple[date, int, float | None]]] = defaultdict(list)
    rows = (
        BureauReport.objects.filter(entity=entity, reported_on__lte=as_of)
        .order_by("customer_id", "-reported_on", "-id")
        .values_list("customer_id", "reported_on", "derogatory_events", "bureau_score")
    )
    for customer_id, reported_on, count, score in rows:
        reports[customer_id].append((reported_on, count, score))
    news = {}
    for customer_id, found in reports.items():
        if previous_day is None:
            before = found[1] if len(found) > 1 else None
        else:
            before = next((report for report in found if report[0] <= previous_day), None)
        news[customer_id] = BureauNews(
            events=found[0][1],
            score=found[0][2],
            events_before=before[1] if before else None,
            score_before=before[2] if before else None,
        )
    return news


def _state_rows(entity: Entity, as_of: date, previous_day: date | None) -> list[dict[str, Any]]:
    """One row per customer scored on ``as_of``, in ``REVIEW_STATE_SCHEMA``."""
    from relance.cases.models import CreditHold, CreditHoldStatus

    today = {
        row["customer_id"]: row
        for row in CreditScore.objects.filter(entity=entity, as_of=as_of).values(
            "customer_id", "score", "risk_class", "reasons"
        )
    }
    before = (
        {
            row["customer_id"]: row
            for row in CreditScore.objects.filter(entity=entity, as_of=previous_day).values(
                "customer_id", "score", "risk_class", "reasons"
            )
        }
        if previous_day
        else {}
    )
    profiles = {
        row["customer_id"]: row
        for row in CreditProfile.objects.filter(entity=entity).values(
            "customer_id", "last_reviewed_on", "next_review_on"
        )
    }
    held = set(
        CreditHold.objects.filter(entity=entity, status=CreditHoldStatus.ACTIVE).values_list(
            "customer_id", flat=True
        )
    )
    exposures = _exposures(entity, as_of)
    bureau = _bureau_events(entity, as_of, previous_day)
    behaviour = _behaviour_changes(entity, as_of)
    behaviour_before = _behaviour_changes(entity, previous_day) if previous_day else {}
    customers = Customer.objects.filter(entity=entity, pk__in=list(today)).values_list(
        "pk", "external_ref", "currency", "credit_limit", "payment_terms_days"
    )
    rows = []
    for pk, ref, currency, limit, terms in customers:
        score, previous = today[pk], before.get(pk)
        now_values = _factor_values(score["reasons"])
        was_values = _factor_values(previous["reasons"]) if previous else {}
        exposure = exposures.get(pk) or Exposure(Decimal(0), None, None, currency)
        profile: Mapping[str, Any] = profiles.get(pk) or {}
        report = bureau.get(pk)
        rows.append(
            {
                "customer_id": pk,
                "currency": exposure.currency or currency,
                "credit_limit": exposure.credit_limit,
                "exposure": exposure.amount,
                "utilisation": exposure.utilisation,
                "own_limit": limit,
                "previous_utilisation": was_values.get("utilisation"),
                "score": score["score"],
                "risk_class": score["risk_class"],
                "previous_score": previous["score"] if previous else None,
                "previous_class": previous["risk_class"] if previous else None,
                "broken_promises": now_values.get("broken_promises"),
                "previous_broken_promises": was_values.get("broken_promises"),
                "days_beyond_terms": now_values.get("days_beyond_terms"),
                "relationship_months": now_values.get("relationship_months"),
                "derogatory_events": report.events if report else None,
                "previous_derogatory_events": report.events_before if report else None,
                "bureau_score": report.score if report else None,
                "previous_bureau_score": report.score_before if report else None,
                "terms_days": terms,
                "credit_hold": pk in held,
                "last_reviewed_on": profile.get("last_reviewed_on"),
                "next_review_on": profile.get("next_review_on"),
                **_behaviour_columns(behaviour.get(ref), behaviour_before.get(ref)),
            }
        )
    return rows


def _behaviour_changes(entity: Entity, as_of: date) -> dict[str, Any]:
    """Each customer's pay-behaviour verdict as of ``as_of`` (``relance.ml.behaviour``), by ref."""
    from relance.ledger.binding import app_ledger
    from relance.ml.behaviour import behaviour_changes

    ledger = app_ledger()
    return behaviour_changes(ledger.tables, as_of, backend=ledger.backend, entity_id=entity.pk)


def _behaviour_columns(now: Any, before: Any) -> dict[str, Any]:
    """The state's ``BEHAVIOUR_STATE_SCHEMA`` columns from today's and the previous day's verdicts."""
    return {
        "pay_behaviour_changed": bool(now and now.changed),
        "previous_pay_behaviour_changed": bool(before and before.changed),
        "recent_days_to_pay": now.recent_days_to_pay if now else None,
        "usual_days_to_pay": now.usual_days_to_pay if now else None,
        "usual_days_to_pay_sd": now.usual_days_to_pay_sd if now else None,
        "recent_paid": now.recent_paid if now else None,
        "usual_paid": now.usual_paid if now else None,
    }


def _triggered(
    rows: list[dict[str, Any]], as_of: date, thresholds: ReviewThresholds
) -> dict[int, list[Trigger]]:
    """The engine's triggers of the state rows, per customer, in ``TRIGGER_CODES`` order."""
    import ibis
    import pyarrow as pa

    from relance.engine.backends import quiet_duckdb

    schema = ibis.schema({**REVIEW_STATE_SCHEMA, **BEHAVIOUR_STATE_SCHEMA})
    state = ibis.memtable(pa.Table.from_pylist(rows, schema=schema.to_pyarrow()), schema=schema)
    backend = quiet_duckdb(ibis.duckdb.connect())
    try:
        found = backend.to_pyarrow(review_triggers_expr(state, as_of, thresholds)).to_pylist()
    finally:
        backend.disconnect()
    by_customer: dict[int, list[Trigger]] = defaultdict(list)
    for row in sorted(found, key=lambda row: (row["customer_id"], TRIGGER_CODES.index(row["code"]))):
        by_customer[row["customer_id"]].append(trigger_of_row(row, thresholds))
    return by_customer


def _basis(row: Mapping[str, Any], as_of: date) -> Basis:
    return Basis(
        credit_limit=row["own_limit"],
        currency=row["currency"],
        terms_days=row["terms_days"],
        exposure=row["exposure"],
        utilisation=None if row["utilisation"] is None else round(row["utilisation"], 1),
        score=row["score"],
        risk_class=row["risk_class"],
        credit_hold=row["credit_hold"],
        scored_on=as_of,
    )


# --------------------------------------------------------------------------- the daily step


@dataclass(frozen=True)
class ReviewRunOutcome:
    entity_id: int
    as_of: date
    previous_day: date | None
    scored: int
    opened: int
    updated: int
    unchanged: int
    by_trigger: dict[str, int] = field(default_factory=dict)  # reviews opened or updated, per trigger
    by_proposal: dict[str, int] = field(default_factory=dict)  # open reviews touched, per proposal
    scheduled: int = 0  # customers given their first next review day

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "previous_day": self.previous_day.isoformat() if self.previous_day else None,
            "scored": self.scored,
            "opened": self.opened,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "by_trigger": self.by_trigger,
            "by_proposal": self.by_proposal,
            "scheduled": self.scheduled,
        }


def _merged(old: list[dict[str, Any]], new: list[Trigger], as_of: date) -> list[dict[str, Any]]:
    """An open review's triggers with today's: one per code (today's wording and day win; an
    older one keeps the day it last fired, ``on``), in code order."""
    by_code = {item["code"]: item for item in old}
    by_code.update({trigger.code: {**trigger.to_dict(), "on": as_of.isoformat()} for trigger in new})
    return sorted(by_code.values(), key=lambda item: TRIGGER_CODES.index(item["code"]))


def _review_values(
    proposal: Proposal, basis: Basis, triggers: list[dict[str, Any]], currency: str
) -> dict[str, Any]:
    return {
        "triggers": triggers,
        "proposal": proposal.kind,
        "proposed_limit": proposal.limit,
        "proposed_terms_days": proposal.terms_days,
        "currency": currency,
        "reasons": list(proposal.reasons),
        "basis": basis.to_json(),
    }


def _schedule_first_reviews(
    entity: Entity, rows: list[dict[str, Any]], as_of: date, thresholds: ReviewThresholds
) -> int:
    """Give every scored customer without a next review day one, from its class (a profile is
    created where there is none). Bulk: the run records one audit event for all."""
    due = {row["customer_id"]: row["risk_class"] for row in rows if row["next_review_on"] is None}
    if not due:
        return 0
    existing = list(CreditProfile.objects.filter(entity=entity, customer_id__in=list(due)))
    for profile in existing:
        profile.next_review_on = thresholds.next_review_on(due[profile.customer_id], as_of)
    CreditProfile.objects.bulk_update(existing, ["next_review_on"], batch_size=2000)
    have = {profile.customer_id for profile in existing}
    CreditProfile.objects.bulk_create(
        [
            CreditProfile(
                entity=entity,
                customer_id=customer_id,
                next_review_on=thresholds.next_review_on(risk_class, as_of),
            )
            for customer_id, risk_class in due.items()
            if customer_id not in have
        ],
        batch_size=2000,
    )
    return len(due)


def review_run(
    *,
    entity: Entity,
    as_of: date,
    actor: Actor,
    thresholds: ReviewThresholds = THRESHOLDS,
    progress: Any = None,
) -> ReviewRunOutcome:
    """The daily credit step for ``entity`` as of ``as_of`` (see the module docstring).

    ``progress(step: str)`` is told each step's name (the CLI's progress display)."""
    from relance.credit.services.scoring import scores_compute

    say = progress or (lambda step: None)
    say("scoring")
    scoring = scores_compute(entity=entity, as_of=as_of)
    previous_day = latest_scoring_day(entity=entity, on_or_before=as_of - timedelta(days=1))
    say("reading the credit state")
    rows = _state_rows(entity, as_of, previous_day)
    say("finding the triggers")
    triggered = _triggered(rows, as_of, thresholds)
    state = {row["customer_id"]: row for row in rows}
    say("opening the reviews")
    opened = updated = unchanged = 0
    by_trigger: Counter[str] = Counter()
    by_proposal: Counter[str] = Counter()
    with transaction.atomic(), audit_suppressed():
        open_reviews = {
            review.customer_id: review
            for review in CreditReview.objects.select_for_update().filter(
                entity=entity, status=ReviewStatus.OPEN, customer_id__in=list(triggered)
            )
        }
        for customer_id, triggers in triggered.items():
            row = state[customer_id]
            review = open_reviews.get(customer_id)
            merged = _merged(review.triggers if review else [], triggers, as_of)
            proposal = propose(row, [item["code"] for item in merged], thresholds)
            values = _review_values(proposal, _basis(row, as_of), merged, row["currency"])
            by_trigger.update(trigger.code for trigger in triggers)
            by_proposal[proposal.kind] += 1
            if review is None:
                CreditReview.objects.create(entity=entity, customer_id=customer_id, opened_on=as_of, **values)
                opened += 1
                continue
            if all(_same(getattr(review, name), value) for name, value in values.items()):
                unchanged += 1
                continue
            for name, value in values.items():
                setattr(review, name, value)
            review.save(update_fields=[*values, "updated_at"])
            updated += 1
        scheduled = _schedule_first_reviews(entity, rows, as_of, thresholds)
    outcome = ReviewRunOutcome(
        entity_id=entity.pk,
        as_of=as_of,
        previous_day=previous_day,
        scored=scoring.scored,
        opened=opened,
        updated=updated,
        unchanged=unchanged,
        by_trigger=dict(sorted(by_trigger.items(), key=lambda item: TRIGGER_CODES.index(item[0]))),
        by_proposal=dict(sorted(by_proposal.items())),
        scheduled=scheduled,
    )
    audit_record(
        action="credit_review_run",
        actor=_user_of(actor),
        actor_label=actor.label,
        object_type="ledger.entity",
        object_id=entity.pk,
        object_repr=str(entity),
        entity=entity,
        after=outcome.to_json(),
    )
    return outcome


def _same(stored: Any, value: Any) -> bool:
    if isinstance(value, Decimal) or isinstance(stored, Decimal):
        return stored is not None and value is not None and Decimal(stored) == Decimal(value)
    return bool(stored == value)


# --------------------------------------------------------------------------- deciding


def _user_of(actor: Actor) -> Any:
    if actor.user_id is None:
        return None
    return get_user_model().objects.filter(pk=actor.user_id).first()


@contextmanager
def _audited_as(actor: Actor) -> Iterator[None]:
    """Record the model changes inside as done by ``actor`` when no request or command said who."""
    context = (
        nullcontext() if audit_context() is not None else audit_actor(label=actor.label, user=_user_of(actor))
    )
    with context:
        yield


def review_basis_now(*, customer: Customer) -> Basis:
    """The customer's basis as it is now: its limit, terms, hold and latest class (exposure and
    score as of the latest scoring)."""
    from relance.cases.selectors import customer_credit_hold
    from relance.credit.selectors.scores import score_latest

    latest = score_latest(customer=customer)
    return Basis(
        credit_limit=customer.credit_limit,
        currency=customer.currency,
        terms_days=customer.payment_terms_days,
        exposure=Decimal(0),
        utilisation=None,
        score=latest.score if latest else None,
        risk_class=latest.risk_class if latest else "",
        credit_hold=customer_credit_hold(customer=customer) is not None,
        scored_on=latest.as_of if latest else None,
    )


def review_staleness(*, review: CreditReview) -> list[str]:
    """What changed on the customer since the review was proposed, in words (empty: fresh)."""
    customer = Customer.objects.get(pk=review.customer_id)
    return basis_changes(review.basis, review_basis_now(customer=customer))


def _may_decide(actor: Actor, review: CreditReview) -> None:
    """A signed-in user (or a token's) decides only with ``credit.change_creditreview`` on the
    customer (credit managers, admins); the CLI and jobs are operators."""
    from relance.accounts.selectors import user_can
    from relance.credit.selectors.reviews import PERM_REVIEW_DECIDE

    if actor.user_id is None:
        return
    if not user_can(_user_of(actor), PERM_REVIEW_DECIDE, review.customer):
        raise ValidationFailed(NOT_A_DECIDER.format(who=actor.label, perm=PERM_REVIEW_DECIDE))


def _decided_kind(review: CreditReview, limit: Decimal | None) -> str:
    """The proposal, unless an edited limit makes it a raise or a lowering."""
    previous = review.customer.credit_limit
    if review.proposal not in LIMIT_KINDS or limit is None or limit == review.proposed_limit:
        return review.proposal
    if previous is None or previous == 0:
        return DecisionKind.SET_LIMIT
    if limit > previous:
        return DecisionKind.RAISE_LIMIT
    if limit < previous:
        return DecisionKind.LOWER_LIMIT
    return DecisionKind.KEEP


def review_decide(
    *,
    review: CreditReview,
    actor: Actor,
    accept: bool,
    limit: Decimal | None = None,
    terms_days: int | None = None,
    note: str = "",
    on: date | None = None,
    thresholds: ReviewThresholds = THRESHOLDS,
) -> CreditReview:
    """Accept (with ``limit``/``terms_days`` when edited) or reject an open review, on ``on``
    (default: today). Refuses a review that is not open or is stale, with why; every decision
    is audited (``credit_review_accept`` / ``credit_review_reject`` on the review)."""
    on = on or timezone.localdate()
    note = note.strip()[:NOTE_MAX]
    _may_decide(actor, review)
    if limit is not None and limit < 0:
        raise ValidationFailed(LIMIT_NEGATIVE.format(limit=limit))
    with transaction.atomic(), _audited_as(actor):
        review = CreditReview.objects.select_for_update().select_related("customer").get(pk=review.pk)
        customer = Customer.objects.select_for_update().get(pk=review.customer_id)
        review.customer = customer
        if review.status != ReviewStatus.OPEN:
            raise ValidationFailed(
                REVIEW_NOT_OPEN.format(id=review.pk, customer=customer.external_ref, status=review.status)
            )
        changes = basis_changes(review.basis, review_basis_now(customer=customer))
        if changes:
            raise ValidationFailed(
                REVIEW_STALE.format(id=review.pk, customer=customer.external_ref, changes="; ".join(changes))
            )
        before = {
            "credit_limit": customer.credit_limit,
            "terms_days": customer.payment_terms_days,
            "credit_hold": bool(review.basis.get("credit_hold")),
        }
        profile, _ = CreditProfile.objects.select_for_update().get_or_create(
            customer=customer, defaults={"entity_id": customer.entity_id}
        )
        risk_class = str(review.basis.get("risk_class") or "")
        profile.last_reviewed_on = on
        profile.next_review_on = thresholds.next_review_on(risk_class, on)
        decision = None
        if accept:
            decision = _accept(review, customer, profile, actor, limit, terms_days, note, on)
        profile.save()
        review.status = ReviewStatus.ACCEPTED if accept else ReviewStatus.REJECTED
        review.decided_at = timezone.now()
        review.decided_by_id = actor.user_id
        review.decision = decision
        review.note = note
        review.save(update_fields=["status", "decided_at", "decided_by", "decision", "note", "updated_at"])
        audit_record(
            action="credit_review_accept" if accept else "credit_review_reject",
            actor=_user_of(actor),
            actor_label=actor.label,
            obj=review,
            before=before,
            after={
                "proposal": review.proposal,
                "decision": decision.kind if decision else None,
                "credit_limit": customer.credit_limit,
                "terms_days": customer.payment_terms_days,
                "note": note,
            },
        )
    return review


def _accept(
    review: CreditReview,
    customer: Customer,
    profile: CreditProfile,
    actor: Actor,
    limit: Decimal | None,
    terms_days: int | None,
    note: str,
    on: date,
) -> CreditDecision:
    from relance.ledger.services import customer_credit_terms_set

    kind = _decided_kind(review, limit)
    previous_limit, previous_terms = customer.credit_limit, customer.payment_terms_days
    new_limit = limit if limit is not None else review.proposed_limit
    if kind in LIMIT_KINDS or limit is not None:
        if (
            kind in (DecisionKind.RAISE_LIMIT, DecisionKind.LOWER_LIMIT, DecisionKind.SET_LIMIT)
            and new_limit is None
        ):
            raise ValidationFailed(LIMIT_NEEDED.format(kind=kind))
    else:
        new_limit = previous_limit
    new_terms = terms_days if terms_days is not None else (review.proposed_terms_days or previous_terms)
    changed = customer_credit_terms_set(
        customer=customer, credit_limit=new_limit, payment_terms_days=new_terms
    )
    if "credit_limit" in changed:
        profile.limit_set_on = on
    reasons = list(review.reasons)
    if kind == DecisionKind.PLACE_HOLD:
        shown = "; ".join(item["text"] for item in review.triggers)
        credit_hold_place(
            customer=customer, on=on, reason=f"credit review {review.pk}: {shown}"[:200], actor=actor
        )
    elif kind == DecisionKind.LIFT_HOLD:
        credit_hold_release(customer=customer, on=on, by=actor.label, actor=actor)
    elif kind == DecisionKind.REQUIRE_PREPAYMENT:
        profile.requires_prepayment = True
    elif kind == DecisionKind.REQUIRE_GUARANTEE:
        profile.requires_guarantee = True
        profile.guarantee_note = (note or "; ".join(reasons))[:300]
    return CreditDecision.objects.create(
        entity_id=customer.entity_id,
        customer=customer,
        kind=kind,
        source=DecisionSource.REVIEW,
        decided_on=on,
        decided_by_id=actor.user_id,
        previous_limit=previous_limit,
        new_limit=customer.credit_limit,
        currency=customer.currency,
        previous_terms_days=previous_terms,
        new_terms_days=customer.payment_terms_days,
        limit_expires_on=profile.limit_expires_on,
        reasons=reasons,
        note=note,
    )

"""Credit reviews on the app database: the daily step opens, updates and schedules reviews; a
decision writes the limit, the profile, the hold and the decision row, or is refused when stale."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from relance.audit.models import AuditEvent
from relance.cases.models import CreditHold, CreditHoldStatus
from relance.core.actors import Actor
from relance.core.errors import ValidationFailed
from relance.credit.models import (
    BureauReport,
    CreditDecision,
    CreditProfile,
    CreditReview,
    CreditScore,
    DecisionSource,
    ReviewStatus,
)
from relance.credit.services.reviews import review_decide, review_run
from relance.engine.credit.triggers import THRESHOLDS
from relance.ledger.services import customer_credit_terms_set
from tests.credit.conftest import AS_OF

pytestmark = pytest.mark.django_db
ACTOR = Actor.cli("carla")
NEXT_DAY = AS_OF + timedelta(days=1)


def _run(entity, as_of=AS_OF):
    return review_run(entity=entity, as_of=as_of, actor=ACTOR)


def _breach(book, limit="250"):
    customer_credit_terms_set(customer=book.prompt, credit_limit=Decimal(limit), payment_terms_days=30)


def _codes(review):
    return [item["code"] for item in review.triggers]


def test_a_breach_opens_one_review_with_its_proposal_and_basis(entity, book) -> None:
    _breach(book)
    outcome = _run(entity)
    assert (outcome.scored, outcome.opened, outcome.updated) == (2, 1, 0)
    assert outcome.by_trigger == {"limit_breached": 1}
    assert outcome.by_proposal == {"raise_limit": 1}
    review = CreditReview.objects.get()
    assert review.customer == book.prompt and review.status == ReviewStatus.OPEN
    assert review.triggers[0]["text"] == "Exposure €300.00 is over the €250.00 limit (120 % used)."
    assert review.triggers[0]["facts"]["exposure"] == "300.0000"
    # a good payer (class B): +25 % at least, covering 300 with 10 % room → 330
    assert (review.proposal, review.proposed_limit, review.proposed_terms_days) == ("raise_limit", 330, 30)
    assert "raise it to €330.00 (from €250.00" in review.reasons[0]
    basis = review.basis
    assert (basis["credit_limit"], basis["exposure"], basis["risk_class"], basis["credit_hold"]) == (
        "250.0000",
        "300.0000",
        "B",
        False,
    )
    assert (
        basis["utilisation"] == 120.0
        and basis["score"] == CreditScore.objects.get(customer=book.prompt).score
    )
    audit = AuditEvent.objects.get(action="credit_review_run")
    assert audit.after["opened"] == 1 and audit.actor_label == "cli:carla"


def test_the_same_day_again_changes_nothing(entity, book) -> None:
    _breach(book)
    _run(entity)
    first = CreditReview.objects.get()
    outcome = _run(entity)
    assert (outcome.opened, outcome.updated, outcome.unchanged) == (0, 0, 1)
    again = CreditReview.objects.get()
    assert again.updated_at == first.updated_at and again.triggers == first.triggers


def test_an_open_review_is_updated_with_new_triggers_not_duplicated(entity, book) -> None:
    _breach(book)
    _run(entity)
    CreditProfile.objects.filter(customer=book.prompt).update(next_review_on=NEXT_DAY)
    outcome = _run(entity, NEXT_DAY)
    assert outcome.previous_day == AS_OF
    assert (outcome.opened, outcome.updated) == (0, 1)
    review = CreditReview.objects.get()
    assert _codes(review) == ["limit_breached", "scheduled"]
    assert review.opened_on == AS_OF and review.basis["scored_on"] == NEXT_DAY.isoformat()
    assert [item["on"] for item in review.triggers] == [NEXT_DAY.isoformat()] * 2


def test_the_first_run_schedules_every_customer_by_class(entity, book) -> None:
    outcome = _run(entity)
    assert outcome.scheduled == 2 and outcome.opened == 0
    profiles = {profile.customer_id: profile for profile in CreditProfile.objects.all()}
    assert profiles[book.new.pk].next_review_on == THRESHOLDS.next_review_on("C", AS_OF)
    assert (profiles[book.prompt.pk].next_review_on or AS_OF) > AS_OF
    CreditProfile.objects.filter(customer=book.new).update(next_review_on=NEXT_DAY)
    _run(entity, NEXT_DAY)
    review = CreditReview.objects.get(customer=book.new)
    assert _codes(review) == ["scheduled"] and review.proposal == "keep"
    assert review.triggers[0]["text"].startswith(
        "Scheduled review (class C), due on 2026-09-02; never reviewed"
    )


def test_a_class_drop_against_the_previous_scoring_day(entity, book) -> None:
    CreditScore.objects.create(
        entity=entity,
        customer=book.new,
        as_of=AS_OF - timedelta(days=3),
        scorecard_key="standard",
        scorecard_version=1,
        score=12,
        risk_class="A",
        reasons=[],
    )
    _run(entity)
    review = CreditReview.objects.get(customer=book.new)
    assert _codes(review) == ["class_dropped"]
    assert (
        review.triggers[0]["text"] == "The risk class dropped from A to C (score 12 → 31, higher is riskier)."
    )


def test_a_derogatory_event_over_the_limit_proposes_a_hold(entity, book) -> None:
    _breach(book)
    BureauReport.objects.create(
        entity=entity, customer=book.prompt, provider="creditsafe", reported_on=AS_OF, derogatory_events=1
    )
    _run(entity)
    review = CreditReview.objects.get()
    assert _codes(review) == ["limit_breached", "derogatory_event"]
    assert review.proposal == "place_hold"
    assert "With a new derogatory event, the exposure €300.00 is over the €250.00 limit" in review.reasons[0]


def test_accepting_writes_the_limit_the_profile_and_a_decision_all_audited(entity, book) -> None:
    _breach(book)
    _run(entity)
    review = review_decide(review=CreditReview.objects.get(), actor=ACTOR, accept=True, note="ok", on=AS_OF)
    book.prompt.refresh_from_db()
    assert review.status == ReviewStatus.ACCEPTED and book.prompt.credit_limit == 330
    decision = CreditDecision.objects.get()
    assert review.decision == decision
    assert (decision.kind, decision.source, decision.previous_limit, decision.new_limit) == (
        "raise_limit",
        DecisionSource.REVIEW,
        250,
        330,
    )
    assert decision.reasons == review.reasons and decision.note == "ok"
    profile = CreditProfile.objects.get(customer=book.prompt)
    assert profile.last_reviewed_on == AS_OF and profile.limit_set_on == AS_OF
    assert profile.next_review_on == THRESHOLDS.next_review_on("B", AS_OF)
    accepted = AuditEvent.objects.get(action="credit_review_accept")
    assert accepted.object_id == str(review.pk) and accepted.actor_label == "cli:carla"
    assert accepted.before["credit_limit"] == "250.0000" and accepted.after["credit_limit"] == "330.0000"
    changed = AuditEvent.objects.filter(
        action="update", object_type="ledger.customer", object_id=str(book.prompt.pk)
    )
    assert changed.get().after["credit_limit"] == "330.0000"


def test_accepting_with_an_edited_limit_or_terms(entity, book) -> None:
    _breach(book)
    _run(entity)
    review_decide(
        review=CreditReview.objects.get(),
        actor=ACTOR,
        accept=True,
        limit=Decimal("200"),
        terms_days=20,
        on=AS_OF,
    )
    book.prompt.refresh_from_db()
    assert (book.prompt.credit_limit, book.prompt.payment_terms_days) == (200, 20)
    decision = CreditDecision.objects.get()
    assert (decision.kind, decision.new_limit, decision.previous_terms_days, decision.new_terms_days) == (
        "lower_limit",
        200,
        30,
        20,
    )


def test_rejecting_changes_nothing_on_the_customer(entity, book) -> None:
    _breach(book)
    _run(entity)
    review = review_decide(
        review=CreditReview.objects.get(), actor=ACTOR, accept=False, note="Waiting for Q3 accounts", on=AS_OF
    )
    book.prompt.refresh_from_db()
    assert review.status == ReviewStatus.REJECTED and review.note == "Waiting for Q3 accounts"
    assert book.prompt.credit_limit == 250 and not CreditDecision.objects.exists()
    assert CreditProfile.objects.get(customer=book.prompt).last_reviewed_on == AS_OF
    assert AuditEvent.objects.filter(action="credit_review_reject", object_id=str(review.pk)).exists()
    # the breach goes on, but the rejection is not proposed again the next morning (cool-down)
    assert _run(entity, NEXT_DAY).opened == 0
    with pytest.raises(ValidationFailed, match="is already rejected"):
        review_decide(review=review, actor=ACTOR, accept=True, on=AS_OF)


def test_a_stale_review_is_refused_with_why(entity, book) -> None:
    _breach(book)
    _run(entity)
    customer_credit_terms_set(customer=book.prompt, credit_limit=Decimal("400"), payment_terms_days=45)
    review = CreditReview.objects.get()
    with pytest.raises(ValidationFailed) as refused:
        review_decide(review=review, actor=ACTOR, accept=True, on=AS_OF)
    assert refused.value.message == (
        f"review {review.pk} of P is stale: the limit is now €400.00 (was €250.00 when proposed); "
        "the payment terms are now 45 days (were 30 when proposed). The next `relance credit review run` "
        "proposes again from the customer as it is now"
    )
    review.refresh_from_db()
    assert review.status == ReviewStatus.OPEN and not CreditDecision.objects.exists()
    _run(entity)  # the run refreshes the basis: the review can be decided again
    review_decide(review=review, actor=ACTOR, accept=False, on=AS_OF)


def test_a_hold_placed_by_a_review_and_lifted_by_the_next_with_its_approver(entity, book) -> None:
    _breach(book)
    BureauReport.objects.create(
        entity=entity, customer=book.prompt, provider="creditsafe", reported_on=AS_OF, derogatory_events=1
    )
    _run(entity)
    placing = review_decide(review=CreditReview.objects.get(), actor=ACTOR, accept=True, on=AS_OF)
    hold = CreditHold.objects.get(customer=book.prompt, status=CreditHoldStatus.ACTIVE)
    assert hold.reason.startswith(f"credit review {placing.pk}: Exposure €300.00 is over the €250.00 limit")
    assert placing.decision.kind == "place_hold"
    from relance.credit.selectors.reviews import review_of_credit_hold

    assert review_of_credit_hold(hold=hold) == placing
    # paid down below the limit, its schedule comes: the next review proposes to lift the hold
    customer_credit_terms_set(customer=book.prompt, credit_limit=Decimal("1000"), payment_terms_days=30)
    CreditProfile.objects.filter(customer=book.prompt).update(next_review_on=NEXT_DAY)
    _run(entity, NEXT_DAY)
    lifting = CreditReview.objects.get(status=ReviewStatus.OPEN)
    assert lifting.proposal == "lift_hold" and lifting.basis["credit_hold"] is True
    review_decide(review=lifting, actor=Actor.cli("dora"), accept=True, on=NEXT_DAY)
    hold.refresh_from_db()
    assert (hold.status, hold.released_on, hold.released_by) == (
        CreditHoldStatus.RELEASED,
        NEXT_DAY,
        "cli:dora",
    )
    assert list(CreditDecision.objects.order_by("pk").values_list("kind", flat=True)) == [
        "place_hold",
        "lift_hold",
    ]


def test_a_group_is_reviewed_on_the_parents_limit(entity, book, make_customer, make_invoice) -> None:
    parent = make_customer("G", name="Group Holding", credit_limit=Decimal("500"))
    child = make_customer("G1", name="Group Subsidiary", parent=parent, credit_limit=Decimal("100"))
    make_invoice(child, "G1-1", "600", AS_OF - timedelta(days=10), AS_OF + timedelta(days=20))
    _run(entity)
    review = CreditReview.objects.get(customer=parent)
    assert _codes(review) == ["limit_breached"]
    assert review.triggers[0]["text"] == "Exposure €600.00 is over the €500.00 limit (120 % used)."
    assert not CreditReview.objects.filter(customer=child).exists()  # its own limit is not the one used


def test_a_lower_bureau_score_is_news_once(entity, book) -> None:
    for days, score in ((10, 60.0), (0, 40.0)):
        BureauReport.objects.create(
            entity=entity,
            customer=book.new,
            provider="creditsafe",
            reported_on=AS_OF - timedelta(days=days),
            bureau_score=score,
        )
    _run(entity)
    review = CreditReview.objects.get(customer=book.new)
    assert (
        review.triggers[0]["text"]
        == "The latest bureau report shows a bureau score of 40 (was 60; higher is safer)."
    )
    assert _run(entity, NEXT_DAY).by_trigger.get("derogatory_event") is None  # known since yesterday


def test_only_a_credit_manager_decides(entity, book) -> None:
    from relance.accounts.services import user_create

    _breach(book)
    _run(entity)
    review = CreditReview.objects.get()
    collector = user_create(email="col@acme.test", role="collector", entity_names=["acme"], password="x" * 20)
    with pytest.raises(ValidationFailed, match="may not decide credit reviews"):
        review_decide(review=review, actor=Actor.user(collector), accept=True, on=AS_OF)
    manager = user_create(
        email="cm@acme.test", role="credit_manager", entity_names=["acme"], password="x" * 20
    )
    assert (
        review_decide(review=review, actor=Actor.user(manager), accept=False, on=AS_OF).decided_by == manager
    )

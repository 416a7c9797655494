"""The credit review queue: thin views over ``relance.credit`` (selectors and services of reviews).

* ``/w/credit/reviews/`` — the entity's open reviews, the most exposure at stake first, each with
  its triggers in words, the score and its reasons, the proposal and its reasons. Everyone who
  may read reviews (``credit.view_creditreview``: credit managers, collectors, support, auditors;
  a sales owner: their accounts) sees it; only who may decide gets the form.
* ``/w/credit/reviews/<id>/decide/`` (POST) — accept (the limit and terms as proposed, or edited)
  or reject with a note: ``credit.change_creditreview`` (credit managers, admins) on the
  customer, else 403; a review the user may not see is a 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from relance.accounts.decorators import NOT_ALLOWED, role_permission_required
from relance.accounts.selectors import user_can
from relance.core.actors import Actor
from relance.core.errors import NotFound, ValidationFailed
from relance.credit.models import CreditReview, CreditScore
from relance.credit.selectors import reviews as review_selectors
from relance.credit.selectors.reviews import PERM_REVIEW_DECIDE, PERM_REVIEW_VIEW

REVIEW_CHANGED = (
    "{customer}: the proposal changed since the page was shown (the daily run updated the review); "
    "read it again before deciding"
)


class ReviewDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("accept", "Accept"), ("reject", "Reject")])
    limit = forms.DecimalField(required=False, min_value=Decimal(0), max_digits=18, decimal_places=4)
    terms_days = forms.IntegerField(required=False, min_value=0, max_value=365)
    note = forms.CharField(required=False, max_length=2000)
    seen = forms.CharField(required=False, max_length=64)


@dataclass(frozen=True)
class QueueItem:
    review: CreditReview
    score: CreditScore | None
    score_reasons: list[dict[str, Any]]  # the factors that add points, most first
    seen: str


def _seen(review: CreditReview) -> str:
    return review.updated_at.isoformat()


def _items(reviews: list[CreditReview]) -> list[QueueItem]:
    scores = review_selectors.latest_scores(customer_ids=[review.customer_id for review in reviews])
    items = []
    for review in reviews:
        score = scores.get(review.customer_id)
        reasons = [reason for reason in (score.reasons if score else []) if reason.get("points")]
        reasons.sort(key=lambda reason: -int(reason["points"]))
        items.append(QueueItem(review, score, reasons, _seen(review)))
    return items


@require_GET
@role_permission_required(PERM_REVIEW_VIEW)
def review_queue(request: HttpRequest) -> HttpResponse:
    from relance.workspace.views import _entity

    entity, entities = _entity(request)
    reviews = review_selectors.review_queue(user=request.user, entity=entity)
    return render(
        request,
        "workspace/credit_reviews.html",
        {
            "entity": entity,
            "entities": entities,
            "as_of": timezone.localdate(),
            "items": _items(reviews),
            "can_decide": user_can(request.user, PERM_REVIEW_DECIDE),
        },
    )


def _review(request: HttpRequest, review_id: int) -> CreditReview:
    try:
        return review_selectors.review_for_user(user=request.user, review_id=review_id)
    except NotFound:
        raise Http404(review_selectors.REVIEW_NOT_FOUND) from None


def _today(review: CreditReview) -> date:
    from relance.compliance.selectors import entity_today

    return entity_today(customer=review.customer, now=timezone.now())


@require_POST
@role_permission_required(PERM_REVIEW_VIEW)
def review_decide(request: HttpRequest, review_id: int) -> HttpResponse:
    review = _review(request, review_id)
    if not user_can(request.user, PERM_REVIEW_DECIDE, review.customer):
        raise PermissionDenied(NOT_ALLOWED.format(perm=PERM_REVIEW_DECIDE))
    back = redirect(f"{reverse('workspace:credit_reviews')}#review-{review.pk}")
    form = ReviewDecisionForm(request.POST)
    name = review.customer.name
    if not form.is_valid():
        problems = "; ".join(
            f"{field}: {' '.join(str(error) for error in errors)}" for field, errors in form.errors.items()
        )
        messages.error(request, f"{name}: nothing decided: {problems}.")
        return back
    data = form.cleaned_data
    if data["seen"] and data["seen"] != _seen(review):
        messages.error(request, REVIEW_CHANGED.format(customer=name) + ".")
        return back
    accept = data["decision"] == "accept"
    limit = data["limit"]
    terms = data["terms_days"]
    try:
        from relance.credit.services.reviews import review_decide as decide

        decided = decide(
            review=review,
            actor=Actor.user(request.user),
            accept=accept,
            limit=limit if accept and limit is not None and limit != review.proposed_limit else None,
            terms_days=terms
            if accept and terms is not None and terms != review.proposed_terms_days
            else None,
            note=data["note"],
            on=_today(review),
        )
    except ValidationFailed as exc:
        messages.error(request, f"{name}: nothing decided: {exc.message}.")
        return back
    if decided.decision is None:
        messages.success(request, f"{name}: review rejected; nothing changed on the account.")
    else:
        messages.success(request, f"{name}: review accepted ({decided.decision.get_kind_display().lower()}).")
    return redirect("workspace:credit_reviews")

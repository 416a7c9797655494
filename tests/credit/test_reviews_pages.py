"""The credit review queue in the workspace: who sees it, who decides, what a decision does; the
customer page's link, the why page of a hold a review placed, the worklist's Risk."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from relance.core.actors import Actor
from relance.credit.models import CreditDecision, CreditReview, ReviewStatus
from relance.credit.services.reviews import review_run
from relance.ledger.services import customer_credit_terms_set
from tests.workspace.conftest import PASSWORD, client_for, ws  # noqa: F401  (the fixtures)

QUEUE = "workspace:credit_reviews"


@pytest.fixture
def reviewed(ws):  # noqa: F811
    """``late`` at 90 % of its limit and ``second`` over it: two open reviews of acme."""
    customer_credit_terms_set(customer=ws.second, credit_limit=Decimal("1000"), payment_terms_days=30)
    review_run(entity=ws.acme, as_of=ws.today, actor=Actor.cli("test"))
    return ws


def _decide(client, review, **data):
    return client.post(reverse("workspace:credit_review_decide", args=[review.pk]), data)


def _user(scene, role, email):
    from relance.accounts.services import user_create

    return user_create(email=email, role=role, entity_names=["acme"], password=PASSWORD)


def test_a_credit_manager_sees_the_queue_by_exposure_and_decides(reviewed, client_for) -> None:  # noqa: F811
    scene = reviewed
    late, second = (CreditReview.objects.get(customer=customer) for customer in (scene.late, scene.second))
    assert [item["code"] for item in late.triggers] == ["high_utilisation"]
    assert [item["code"] for item in second.triggers] == ["limit_breached"]
    client = client_for(scene.manager)
    page = client.get(reverse(QUEUE))
    assert page.status_code == 200
    html = page.content.decode()
    assert html.index(f'id="review-{late.pk}"') < html.index(
        f'id="review-{second.pk}"'
    )  # 4,500 before 1,234.56
    assert (
        "of the €5,000.00 limit is used" in html and "Exposure €1,234.56 is over the €1,000.00 limit" in html
    )
    assert second.reasons[0].replace("'", "&#x27;") in html and "The score" in html
    assert html.count('name="decision" value="accept"') == 2 and 'id="read-only"' not in html
    response = _decide(client, second, decision="accept", limit="1500", terms_days="", note="Seen the CFO")
    assert response.status_code == 302
    second.refresh_from_db()
    scene.second.refresh_from_db()
    assert second.status == ReviewStatus.ACCEPTED and second.decided_by == scene.manager
    assert scene.second.credit_limit == 1500 and second.note == "Seen the CFO"
    decision = CreditDecision.objects.get()
    assert (decision.new_limit, decision.decided_by, decision.source) == (1500, scene.manager, "review")
    assert f'id="review-{second.pk}"' not in client.get(reverse(QUEUE)).content.decode()


def test_reject_with_a_note(reviewed, client_for) -> None:  # noqa: F811
    review = CreditReview.objects.get(customer=reviewed.late)
    response = _decide(client_for(reviewed.manager), review, decision="reject", note="Known seasonal peak")
    assert response.status_code == 302
    review.refresh_from_db()
    assert (review.status, review.note, review.decision) == (
        ReviewStatus.REJECTED,
        "Known seasonal peak",
        None,
    )


def test_a_stale_or_changed_review_is_refused_with_why(reviewed, client_for) -> None:  # noqa: F811
    scene = reviewed
    review = CreditReview.objects.get(customer=scene.second)
    client = client_for(scene.manager)
    response = _decide(client, review, decision="accept", seen="2020-01-01T00:00:00+00:00")
    assert "the proposal changed since the page was shown" in client.get(reverse(QUEUE)).content.decode()
    customer_credit_terms_set(customer=scene.second, credit_limit=Decimal("2000"), payment_terms_days=30)
    response = _decide(client, review, decision="accept")
    assert response.status_code == 302
    page = client.get(reverse(QUEUE)).content.decode()
    assert "is stale: the limit is now €2,000.00 (was €1,000.00 when proposed)" in page
    review.refresh_from_db()
    assert review.status == ReviewStatus.OPEN and not CreditDecision.objects.exists()
    assert "limit: Ensure this value is greater than or equal to 0" in client.get(
        _decide(client, review, decision="accept", limit="-5").url
    ).content.decode().replace("&quot;", '"')


@pytest.mark.parametrize("role", ["collector", "support", "auditor"])
def test_other_roles_read_the_queue_but_cannot_decide(reviewed, client_for, role) -> None:  # noqa: F811
    user = _user(reviewed, role, f"{role}@acme.test")
    client = client_for(user)
    html = client.get(reverse(QUEUE)).content.decode()
    assert 'id="read-only"' in html and 'name="decision"' not in html
    assert "Exposure €1,234.56 is over the €1,000.00 limit" in html
    review = CreditReview.objects.get(customer=reviewed.second)
    assert _decide(client, review, decision="accept").status_code == 403
    review.refresh_from_db()
    assert review.status == ReviewStatus.OPEN


def test_a_sales_owner_sees_their_accounts_only(reviewed, client_for) -> None:  # noqa: F811
    scene = reviewed
    sam = _user(scene, "sales", "sam@acme.test")
    scene.late.sales_owner = sam
    scene.late.save(update_fields=["sales_owner"])
    client = client_for(sam)
    html = client.get(reverse(QUEUE)).content.decode()
    own, other = (CreditReview.objects.get(customer=customer) for customer in (scene.late, scene.second))
    assert f'id="review-{own.pk}"' in html and f'id="review-{other.pk}"' not in html
    assert _decide(client, own, decision="accept").status_code == 403
    assert _decide(client, other, decision="accept").status_code == 404


def test_another_entitys_review_is_a_404(reviewed, client_for) -> None:  # noqa: F811
    scene = reviewed
    client = client_for(scene.globex_manager)
    review = CreditReview.objects.get(customer=scene.second)
    assert _decide(client, review, decision="reject").status_code == 404
    assert f'id="review-{review.pk}"' not in client.get(reverse(QUEUE)).content.decode()
    assert f'id="review-{review.pk}"' not in client.get(reverse(QUEUE) + "?entity=acme").content.decode()


def test_the_customer_page_links_to_its_open_review(reviewed, client_for) -> None:  # noqa: F811
    scene = reviewed
    review = CreditReview.objects.get(customer=scene.second)
    html = client_for(scene.ana).get(reverse("workspace:customer", args=[scene.second.pk])).content.decode()
    assert f'href="{reverse(QUEUE)}#review-{review.pk}"' in html and 'id="credit-review-link"' in html
    assert 'id="credit-review-link"' not in (
        client_for(scene.ana).get(reverse("workspace:customer", args=[scene.other.pk])).content.decode()
    )


def test_a_hold_placed_by_a_review_says_why_on_the_why_page(reviewed, client_for) -> None:  # noqa: F811
    scene = reviewed
    review = CreditReview.objects.get(customer=scene.second)
    CreditReview.objects.filter(pk=review.pk).update(proposal="place_hold")
    assert (
        _decide(client_for(scene.manager), review, decision="accept", note="Orders on hold").status_code
        == 302
    )
    support = _user(scene, "support", "sue@acme.test")
    response = client_for(support).get(reverse("workspace:customer_why", args=[scene.second.pk]))
    fact = next(
        s for s in response.context["why"].sections if s.facts and s.facts[0].kind == "credit_hold"
    ).facts[0]
    assert fact.title.startswith(f"Credit hold: credit review {review.pk}: Exposure €1,234.56 is over")
    assert fact.who == f"credit review {review.pk} of {scene.today}, accepted by cm@acme.test"
    assert fact.detail.endswith("Note: Orders on hold")


def test_the_worklist_shows_the_latest_risk_class(reviewed, client_for) -> None:  # noqa: F811
    from relance.credit.models import CreditScore

    scene = reviewed
    expected = CreditScore.objects.get(customer=scene.late).risk_class
    response = client_for(scene.manager).get(reverse("workspace:worklist"))
    rows = {row.customer_ref: row for row in response.context["rows"]}
    assert rows["C-LATE"].risk == expected

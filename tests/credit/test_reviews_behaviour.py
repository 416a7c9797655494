"""The credit review queue is the queue of behaviour-change alerts (issue 16, item 5): the daily
credit step opens a review with the trigger ``pay_behaviour_changed`` for a customer whose recent
days to pay break from its own history (``relance.ml.behaviour``), once, not every morning."""

from __future__ import annotations

from datetime import timedelta

import pytest

from relance.core.actors import Actor
from relance.credit.models import CreditReview
from relance.credit.services.reviews import review_decide, review_run
from relance.ledger.models import Allocation
from tests.credit.conftest import AS_OF

pytestmark = pytest.mark.django_db
ACTOR = Actor.cli("carla")


@pytest.fixture
def slower(entity, book, make_customer, make_invoice, make_payment):
    """30 days to pay for a year and a half (± 2), then 60 days on the last three invoices."""
    customer = make_customer("S", name="Slowing Down GmbH")
    history = [(120 + 60 * n, days) for n, days in enumerate([28, 30, 32, 29, 31, 30, 28, 32])]
    for n, (days_ago, days) in enumerate([*history, (10, 60), (40, 60), (70, 60)]):
        paid_on = AS_OF - timedelta(days=days_ago)
        issued = paid_on - timedelta(days=days)
        invoice = make_invoice(customer, f"S{n}", "100", issued, issued + timedelta(days=30))
        payment = make_payment(customer, f"SP{n}", "100", paid_on)
        Allocation.objects.create(entity=entity, invoice=invoice, payment=payment, date=paid_on, amount=100)
    return customer


def test_a_customer_paying_slower_than_usual_gets_a_review_once(entity, book, slower) -> None:
    outcome = review_run(entity=entity, as_of=AS_OF, actor=ACTOR)
    assert outcome.by_trigger.get("pay_behaviour_changed") == 1
    review = CreditReview.objects.get(customer=slower)
    trigger = next(item for item in review.triggers if item["code"] == "pay_behaviour_changed")
    assert trigger["text"] == (
        "Pay behaviour changed: 60 days to pay lately (3 invoice(s) paid lately), against 30 ± 2 days "
        "before (8 invoices)."
    )
    assert trigger["facts"]["recent_days_to_pay"] == 60.0 and trigger["facts"]["usual_paid"] == 8
    assert not CreditReview.objects.filter(customer=book.prompt, triggers__icontains="pay_behaviour").exists()

    review_decide(review=review, actor=ACTOR, accept=False, note="Seen: a slow quarter", on=AS_OF)
    following = review_run(entity=entity, as_of=AS_OF + timedelta(days=1), actor=ACTOR)
    assert "pay_behaviour_changed" not in following.by_trigger  # still slow, but not news
    assert following.opened == 0

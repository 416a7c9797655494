"""The daily scoring on the app database: the engine's golden scores, stored with their reasons."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from relance.credit.models import CreditScore, Scorecard, ScorecardVersion
from relance.credit.selectors.scores import score_latest
from relance.credit.services.scoring import scores_compute
from relance.ledger.models import Allocation

AS_OF = date(2026, 9, 1)
pytestmark = pytest.mark.django_db


@pytest.fixture
def customers(entity, make_customer, make_invoice, make_payment):
    prompt = make_customer("P", credit_limit=Decimal("1000"))
    new = make_customer("N")
    for month in range(6):  # as tests/engine/credit/test_factors.py: six invoices paid on the day
        due = date(2026, 1, 5) + timedelta(days=30 * month)
        invoice = make_invoice(prompt, f"I{month}", "100", due - timedelta(days=30), due)
        payment = make_payment(prompt, f"PAY{month}", "100", due)
        Allocation.objects.create(entity=entity, invoice=invoice, payment=payment, date=due, amount=100)
    make_invoice(prompt, "OPEN", "300", date(2026, 8, 15), date(2026, 9, 14))
    return prompt, new


def test_the_scores_are_the_engines_and_carry_their_reasons(entity, customers) -> None:
    prompt, new = customers
    outcome = scores_compute(entity=entity, as_of=AS_OF)
    assert (outcome.scored, outcome.classes) == (2, {"A": 1, "C": 1})
    stored = {score.customer_id: score for score in CreditScore.objects.filter(as_of=AS_OF)}
    assert (stored[prompt.pk].score, stored[prompt.pk].risk_class) == (9, "A")
    assert (stored[new.pk].score, stored[new.pk].risk_class) == (31, "C")
    reasons = {reason["factor"]: reason for reason in stored[prompt.pk].reasons}
    assert reasons["utilisation"]["value"] == "30.0"  # 300 open of a 1,000 limit
    assert sum(reason["points"] for reason in stored[prompt.pk].reasons) == 9
    assert all(reason["text"] for reason in stored[new.pk].reasons)
    assert stored[prompt.pk].scorecard_key == "standard"


def test_a_fresh_entity_gets_the_shipped_scorecard_once(entity, customers) -> None:
    scores_compute(entity=entity, as_of=AS_OF)
    scores_compute(entity=entity, as_of=AS_OF + timedelta(days=1))
    assert Scorecard.objects.filter(entity=entity, is_default=True).count() == 1
    assert ScorecardVersion.objects.filter(scorecard__entity=entity).count() == 1


def test_scoring_a_day_again_replaces_it_and_narrowing_keeps_the_others(entity, customers) -> None:
    prompt, new = customers
    scores_compute(entity=entity, as_of=AS_OF)
    scores_compute(entity=entity, as_of=AS_OF)
    assert CreditScore.objects.filter(as_of=AS_OF).count() == 2
    prompt.credit_limit = Decimal("300")
    prompt.save()
    outcome = scores_compute(entity=entity, as_of=AS_OF, customer_ids=[prompt.pk])
    assert outcome.scored == 1
    assert CreditScore.objects.filter(as_of=AS_OF).count() == 2
    latest = score_latest(customer=prompt)
    assert latest is not None
    assert {r["factor"]: r["value"] for r in latest.reasons}["utilisation"] == "100.0"


def test_another_entitys_customers_are_not_scored(entity, customers, make_customer) -> None:
    from relance.ledger.services import entity_create_or_update

    other, _ = entity_create_or_update(name="other", currency="EUR", language="en", legal_name="Other")
    make_customer("X", entity=other)
    outcome = scores_compute(entity=entity, as_of=AS_OF)
    assert outcome.scored == 2
    assert not CreditScore.objects.filter(entity=other).exists()

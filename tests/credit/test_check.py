"""The order release check: approve, or hold with every reason that applies."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from relance.cases.models import CreditHold
from relance.credit.models import CreditProfile, CreditScore, CreditSettings
from relance.credit.selectors.check import credit_check, customers_for_check
from relance.credit.selectors.exposure import customer_for_exposure
from relance.ledger.models import ExchangeRate, Order, OrderStatus

ON = date(2026, 9, 1)
pytestmark = pytest.mark.django_db


def check(customer, amount: str, currency: str | None = None, on: date = ON):
    fresh = customers_for_check(entity_id=customer.entity_id, on=on).get(pk=customer.pk)
    plain = customer_for_exposure(entity_id=customer.entity_id, external_ref=customer.external_ref)
    assert plain is not None
    result = credit_check(customer=fresh, amount=Decimal(amount), on=on, currency=currency)
    # Read without the check's annotations, the customer gets the same answer (more queries).
    assert credit_check(customer=plain, amount=Decimal(amount), on=on, currency=currency) == result
    return result


def codes(result) -> list[str]:
    return [reason.code for reason in result.reasons]


@pytest.fixture
def good(make_customer, make_invoice):
    """Limit 1,000, 400 open and not yet due."""
    customer = make_customer("GOOD", credit_limit=Decimal("1000"))
    make_invoice(customer, "I1", "400", ON - timedelta(days=10), ON + timedelta(days=20))
    return customer


def test_a_good_customer_within_its_limit_is_approved(good) -> None:
    CreditScore.objects.create(
        entity=good.entity,
        customer=good,
        as_of=ON - timedelta(days=1),
        scorecard_key="standard",
        scorecard_version=1,
        score=9,
        risk_class="A",
    )
    result = check(good, "600")
    assert (result.decision, result.reasons, result.risk_class) == ("approve", (), "A")
    assert (result.exposure.exposure, result.exposure.available) == (Decimal("400"), Decimal("600"))


def test_over_the_limit_holds_with_the_figures(good) -> None:
    Order.objects.create(
        entity=good.entity,
        customer=good,
        external_ref="O1",
        order_date=ON,
        currency="EUR",
        amount=Decimal("100"),
        status=OrderStatus.DELIVERED,
    )
    result = check(good, "500.01")
    assert (result.decision, codes(result)) == ("hold", ["over_limit"])
    assert (
        "exposure 500.00 EUR + this order 500.01 EUR is over the limit 1,000.00 EUR" in result.reasons[0].text
    )


def test_overdue_beyond_the_entitys_days_holds(entity, good, make_invoice) -> None:
    make_invoice(good, "LATE", "10", ON - timedelta(days=70), ON - timedelta(days=31))
    assert codes(check(good, "1")) == ["overdue"]
    assert "31 days past due" in check(good, "1").reasons[0].text
    CreditSettings.objects.create(entity=entity, check_max_days_past_due=31)
    assert check(good, "1").decision == "approve"


def test_a_credit_hold_in_force_holds_with_its_why(entity, good) -> None:
    CreditHold.objects.create(
        entity=entity, customer=good, placed_on=date(2026, 8, 3), reason="cheque bounced twice"
    )
    result = check(good, "1")
    assert codes(result) == ["credit_hold"]
    assert result.reasons[0].text == "a credit hold is in force since 2026-08-03: cheque bounced twice"
    CreditHold.objects.update(status="released", released_on=ON)
    assert check(good, "1").decision == "approve"


def test_an_expired_limit_holds(entity, good) -> None:
    CreditProfile.objects.create(entity=entity, customer=good, limit_expires_on=ON - timedelta(days=1))
    result = check(good, "1")
    assert codes(result) == ["limit_expired"]
    assert result.reasons[0].text == "the credit limit expired on 2026-08-31"
    CreditProfile.objects.update(limit_expires_on=ON)  # valid through its last day
    assert check(good, "1").decision == "approve"


def test_no_limit_holds(make_customer) -> None:
    for ref, limit in (("NONE", None), ("ZERO", Decimal("0"))):
        result = check(make_customer(ref, credit_limit=limit), "1")
        assert (result.decision, codes(result)) == ("hold", ["no_limit"])
        assert result.exposure.available is None


def test_prepayment_required_holds(entity, good) -> None:
    CreditProfile.objects.create(entity=entity, customer=good, requires_prepayment=True)
    assert codes(check(good, "1")) == ["prepayment_required"]


def test_an_order_in_another_currency_is_converted_or_held_for_a_missing_rate(entity, good) -> None:
    ExchangeRate.objects.create(
        entity=entity, rate_date=ON, base_currency="EUR", quote_currency="USD", rate=Decimal("1.25")
    )
    result = check(good, "750", currency="usd")  # 600 EUR: exactly the room left
    assert (result.decision, result.amount_converted, result.amount_currency) == (
        "approve",
        Decimal("600.00"),
        "USD",
    )
    assert codes(check(good, "751", currency="USD")) == ["over_limit"]
    missing = check(good, "1", currency="JPY")
    assert codes(missing) == ["missing_rate"]
    assert "JPY→EUR" in missing.reasons[0].text


def test_a_part_of_the_exposure_without_a_rate_holds(good, make_invoice) -> None:
    make_invoice(good, "I-CHF", "10", ON - timedelta(days=1), ON + timedelta(days=30), currency="CHF")
    result = check(good, "1")
    assert codes(result) == ["missing_rate"]
    assert result.reasons[0].text.startswith("the exposure is not complete: no exchange rate CHF→EUR")


def test_children_share_the_parents_limit_and_its_hold(entity, make_customer, make_invoice) -> None:
    parent = make_customer("PARENT", credit_limit=Decimal("1000"))
    child = make_customer("CHILD", parent=parent)
    sibling = make_customer("SIBLING", parent=parent)
    make_invoice(sibling, "IS", "900", ON - timedelta(days=5), ON + timedelta(days=25))

    result = check(child, "200")
    assert codes(result) == ["over_limit"]
    assert result.reasons[0].text.endswith("(shared with the group of PARENT)")
    assert check(child, "100").decision == "approve"

    CreditHold.objects.create(entity=entity, customer=parent, placed_on=ON, reason="group review")
    held = check(child, "1")
    assert codes(held) == ["credit_hold"]
    assert "on PARENT, whose limit it shares" in held.reasons[0].text


def test_every_reason_at_once_in_a_stable_order(entity, make_customer, make_invoice) -> None:
    customer = make_customer("BAD", credit_limit=Decimal("100"))
    make_invoice(customer, "OLD", "500", ON - timedelta(days=200), ON - timedelta(days=120))
    make_invoice(customer, "CHF", "5", ON - timedelta(days=1), ON, currency="CHF")
    CreditProfile.objects.create(
        entity=entity, customer=customer, limit_expires_on=ON - timedelta(days=30), requires_prepayment=True
    )
    CreditHold.objects.create(entity=entity, customer=customer, placed_on=ON, reason="fraud check")
    assert codes(check(customer, "1")) == [
        "credit_hold",
        "prepayment_required",
        "limit_expired",
        "over_limit",
        "overdue",
        "missing_rate",
    ]
    assert all(reason.text for reason in check(customer, "1").reasons)


def test_the_check_of_a_customer_without_holds_costs_two_queries(good) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        customer = customers_for_check(entity_id=good.entity_id, on=ON).get(external_ref="GOOD")
        assert credit_check(customer=customer, amount=Decimal("1"), on=ON).decision == "approve"
    assert len(queries) == 2  # the customer (with holds in force and class), receivables and orders

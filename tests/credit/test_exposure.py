"""A customer's exposure in the app: open receivables by the ledger's rule, open and unbilled
orders, the shared limit of a parent and its children, the rates rule and a missing rate."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from relance.credit.models import CreditProfile, CreditSettings
from relance.credit.selectors.exposure import customer_exposure, customer_for_exposure
from relance.ledger.models import Allocation, ExchangeRate, Order, OrderStatus

AS_OF = date(2026, 9, 1)
pytestmark = pytest.mark.django_db


@pytest.fixture
def order(entity):
    def make(
        customer, ref: str, amount: str, status: str = OrderStatus.OPEN, on: date = date(2026, 8, 20), **kw
    ):
        return Order.objects.create(
            entity=customer.entity,
            customer=customer,
            external_ref=ref,
            order_date=on,
            currency=kw.pop("currency", customer.currency),
            amount=Decimal(amount),
            status=status,
        )

    return make


def rate(entity, on: date, base: str, quote: str, value: str) -> None:
    ExchangeRate.objects.create(
        entity=entity, rate_date=on, base_currency=base, quote_currency=quote, rate=Decimal(value)
    )


def exposure_of(customer, as_of: date = AS_OF):
    fresh = customer_for_exposure(entity_id=customer.entity_id, external_ref=customer.external_ref)
    assert fresh is not None
    return customer_exposure(customer=fresh, as_of=as_of)


def test_exposure_is_open_receivables_and_open_and_unbilled_orders(
    entity, make_customer, make_invoice, make_payment, order
) -> None:
    customer = make_customer("C", credit_limit=Decimal("1000"))
    invoice = make_invoice(customer, "I1", "400", date(2026, 7, 1), date(2026, 7, 31))
    make_invoice(customer, "PAID", "90", date(2026, 6, 1), date(2026, 7, 1))
    payment = make_payment(customer, "P1", "190", date(2026, 8, 1))
    Allocation.objects.create(
        entity=entity, invoice=invoice, payment=payment, date=date(2026, 8, 1), amount=100
    )
    Allocation.objects.create(
        entity=entity,
        invoice=customer.invoices.get(external_ref="PAID"),
        payment=payment,
        date=date(2026, 8, 1),
        amount=90,
    )
    order(customer, "O-OPEN", "50")
    order(customer, "O-DELIVERED", "70", OrderStatus.DELIVERED)
    order(customer, "O-INVOICED", "1000", OrderStatus.INVOICED)
    order(customer, "O-CANCELLED", "1000", OrderStatus.CANCELLED)
    order(customer, "O-LATER", "1000", on=date(2026, 9, 2))

    exposure = exposure_of(customer)

    assert (exposure.open_receivables, exposure.open_orders) == (Decimal("300"), Decimal("120"))
    assert (exposure.exposure, exposure.available, exposure.utilisation) == (
        Decimal("420"),
        Decimal("580"),
        Decimal("42.00"),
    )
    assert exposure.own_exposure == Decimal("420")
    assert (exposure.limit_holder_ref, exposure.shared, exposure.missing_rate) == ("C", False, False)
    assert exposure.oldest_open_due == date(2026, 7, 31)
    assert exposure.days_past_due(AS_OF) == 32
    # Before the payment was allocated, the invoice was open in full.
    assert exposure_of(customer, date(2026, 7, 31)).open_receivables == Decimal("490")


def test_an_entity_may_leave_pending_deliveries_out(entity, make_customer, order) -> None:
    customer = make_customer("C", credit_limit=Decimal("1000"))
    order(customer, "O-OPEN", "50")
    order(customer, "O-DELIVERED", "70", OrderStatus.DELIVERED)
    CreditSettings.objects.create(entity=entity, exposure_includes_open_orders=False)
    assert exposure_of(customer).open_orders == Decimal("70")


def test_a_parent_and_its_children_share_the_parents_limit(
    entity, make_customer, make_invoice, order
) -> None:
    parent = make_customer("PARENT", credit_limit=Decimal("1000"))
    child_a = make_customer("CHILD-A", parent=parent, credit_limit=Decimal("5000"))  # the parent's wins
    child_b = make_customer("CHILD-B", parent=parent)
    loner = make_customer("LONER", credit_limit=Decimal("100"))
    make_invoice(parent, "IP", "300", date(2026, 8, 1), date(2026, 8, 31))
    make_invoice(child_a, "IA", "200", date(2026, 8, 1), date(2026, 8, 31))
    order(child_b, "OB", "100", OrderStatus.DELIVERED)
    make_invoice(loner, "IL", "999", date(2026, 8, 1), date(2026, 8, 31))
    CreditProfile.objects.create(entity=entity, customer=parent, limit_expires_on=date(2026, 12, 31))

    for customer, own in ((parent, "300"), (child_a, "200"), (child_b, "100")):
        exposure = exposure_of(customer)
        assert exposure.limit_holder_ref == "PARENT"
        assert exposure.shared is (customer != parent)
        assert (exposure.limit, exposure.exposure, exposure.own_exposure) == (
            Decimal("1000"),
            Decimal("600"),
            Decimal(own),
        )
        assert exposure.limit_expires_on == date(2026, 12, 31)
        assert set(exposure.group_ids) == {parent.pk, child_a.pk, child_b.pk}
    assert exposure_of(loner).exposure == Decimal("999")


def test_a_child_of_a_parent_without_a_limit_stands_alone(entity, make_customer, make_invoice) -> None:
    parent = make_customer("PARENT")
    child = make_customer("CHILD", parent=parent, credit_limit=Decimal("500"))
    make_invoice(parent, "IP", "300", date(2026, 8, 1))
    make_invoice(child, "IC", "100", date(2026, 8, 1))
    assert (exposure_of(child).limit_holder_ref, exposure_of(child).exposure) == ("CHILD", Decimal("100"))
    parent_view = exposure_of(parent)
    assert (parent_view.limit, parent_view.exposure, parent_view.utilisation) == (None, Decimal("300"), None)


def test_a_limit_of_zero_is_no_limit(entity, make_customer, make_invoice) -> None:
    customer = make_customer("C", credit_limit=Decimal("0"))
    make_invoice(customer, "I", "10", date(2026, 8, 1))
    exposure = exposure_of(customer)
    assert (exposure.limit, exposure.available, exposure.utilisation) == (None, None, None)


def test_other_currencies_are_converted_by_the_rates_rule(entity, make_customer, make_invoice, order) -> None:
    customer = make_customer("C", credit_limit=Decimal("1000"))  # EUR
    make_invoice(customer, "I-USD", "110", date(2026, 8, 1), currency="USD")
    order(customer, "O-GBP", "80", currency="GBP")
    rate(entity, date(2026, 8, 1), "EUR", "USD", "1.1")  # only the inverse pair is stored
    rate(entity, date(2026, 9, 2), "EUR", "USD", "2")  # after the day: not used
    rate(entity, date(2026, 7, 1), "GBP", "EUR", "1.2")
    rate(entity, date(2026, 8, 15), "GBP", "EUR", "1.25")  # the latest on or before the day

    exposure = exposure_of(customer)

    assert (exposure.open_receivables, exposure.open_orders) == (Decimal("100.00"), Decimal("100.00"))
    assert exposure.utilisation == Decimal("20.00")
    parts = {part.currency: part for part in exposure.parts}
    assert (parts["USD"].open_receivables, parts["USD"].converted) == (Decimal("110"), Decimal("100.00"))
    assert parts["GBP"].rate == Decimal("1.25")
    assert not exposure.missing_rate


def test_a_missing_rate_is_named_and_never_guessed(entity, make_customer, make_invoice) -> None:
    customer = make_customer("C", credit_limit=Decimal("1000"))
    make_invoice(customer, "I-EUR", "100", date(2026, 8, 1))
    make_invoice(customer, "I-CHF", "500", date(2026, 8, 1), currency="CHF")
    rate(entity, date(2026, 9, 5), "CHF", "EUR", "1.05")  # only after the day

    exposure = exposure_of(customer)

    assert exposure.exposure == Decimal("100")  # what could be converted: a lower bound
    assert exposure.missing_rate
    assert "CHF→EUR" in exposure.missing_rates[0] and "2026-09-01" in exposure.missing_rates[0]
    chf = next(part for part in exposure.parts if part.currency == "CHF")
    assert (chf.open_receivables, chf.rate, chf.converted) == (Decimal("500"), None, None)


def test_the_exposure_of_a_customer_costs_a_few_queries(entity, make_customer, make_invoice, order) -> None:
    parent = make_customer("PARENT", credit_limit=Decimal("1000"))
    child = make_customer("CHILD", parent=parent)
    for number in range(30):
        make_invoice(child, f"I{number}", "10", date(2026, 8, 1), currency="USD" if number % 2 else "EUR")
        order(child, f"O{number}", "5")
    rate(entity, date(2026, 8, 1), "USD", "EUR", "0.9")
    with CaptureQueriesContext(connection) as queries:
        customer = customer_for_exposure(entity_id=entity.pk, external_ref="CHILD")
        assert customer is not None
        customer_exposure(customer=customer, as_of=AS_OF)
    # the customer (parent, profiles, settings), the group, receivables and orders, rates
    assert len(queries) == 4


def test_a_customer_with_its_own_limit_and_no_children_costs_two_queries(
    entity, make_customer, make_invoice
) -> None:
    customer = make_customer("C", credit_limit=Decimal("1000"))
    make_invoice(customer, "I", "10", date(2026, 8, 1))
    with CaptureQueriesContext(connection) as queries:
        found = customer_for_exposure(entity_id=entity.pk, external_ref="C")
        assert found is not None
        assert customer_exposure(customer=found, as_of=AS_OF).exposure == Decimal("10")
    assert len(queries) == 2  # the customer (parent, profiles, settings, has children), the ledger

"""Orders and exchange rates in the ledger: their data-version scopes and the rate table selector."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from relance.core.rates import MissingRate
from relance.ledger.models import ExchangeRate, Order
from relance.ledger.selectors import data_versions, rate_table

pytestmark = pytest.mark.django_db


def test_orders_and_rates_bump_their_own_scopes_and_leave_the_ledger_alone(entity, make_customer):
    customer = make_customer("C1")
    before = data_versions(entity_id=entity.pk)
    Order.objects.create(
        entity=entity,
        customer=customer,
        external_ref="SO-1",
        order_date=date(2026, 3, 1),
        currency="EUR",
        amount=Decimal("10.00"),
    )
    ExchangeRate.objects.create(
        entity=entity,
        rate_date=date(2026, 3, 1),
        base_currency="EUR",
        quote_currency="USD",
        rate=Decimal("1.1"),
    )
    after = data_versions(entity_id=entity.pk)
    assert after["orders"] == before["orders"] + 1
    assert after["rates"] == before["rates"] + 1
    assert after["ledger"] == before["ledger"]


def test_a_rate_is_unique_per_day_and_pair_and_joins_two_currencies(entity):
    ExchangeRate.objects.create(
        entity=entity,
        rate_date=date(2026, 3, 1),
        base_currency="EUR",
        quote_currency="USD",
        rate=Decimal("1.1"),
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        ExchangeRate.objects.create(
            entity=entity,
            rate_date=date(2026, 3, 1),
            base_currency="EUR",
            quote_currency="USD",
            rate=Decimal("1"),
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        ExchangeRate.objects.create(
            entity=entity,
            rate_date=date(2026, 3, 1),
            base_currency="EUR",
            quote_currency="EUR",
            rate=Decimal("1"),
        )


def test_rate_table_reads_the_rates_on_or_before_the_date_in_one_query(entity, django_assert_num_queries):
    from relance.ledger.services import entity_create_or_update

    other, _ = entity_create_or_update(name="other-entity")
    for day, rate in ((date(2026, 1, 1), "1.10"), (date(2026, 2, 1), "1.20"), (date(2026, 3, 1), "1.30")):
        ExchangeRate.objects.create(
            entity=entity, rate_date=day, base_currency="EUR", quote_currency="USD", rate=Decimal(rate)
        )
    ExchangeRate.objects.create(
        entity=other, rate_date=date(2026, 1, 1), base_currency="GBP", quote_currency="USD", rate=Decimal("2")
    )
    with django_assert_num_queries(1):
        table = rate_table(entity=entity, on=date(2026, 2, 15))
    assert table.convert(Decimal("100.00"), "EUR", "USD", date(2026, 2, 15)) == Decimal("120.00")
    assert table.convert(Decimal("120.00"), "USD", "EUR", date(2026, 2, 15)) == Decimal("100.00")
    with pytest.raises(MissingRate):  # another entity's rates are not this one's
        table.convert(Decimal("1.00"), "GBP", "USD", date(2026, 2, 15))

"""Fixed SQL (``relance.common.fixed_sql``): compiled once with sentinels, run with the real values,
it reads what the queryset reads; a queryset whose SQL depends on its values is refused."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from relance.common import fixed_sql
from relance.common.fixed_sql import SENTINEL_DAY, SENTINEL_ID, SENTINEL_TEXT, FixedQuery, sentinel_ids
from relance.credit.selectors.check import customer_for_check, customers_for_check
from relance.credit.selectors.exposure import _ledger_parts, rates_for
from relance.ledger.models import Customer, ExchangeRate, Invoice

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 9, 1)


def test_the_check_reads_the_same_customer_as_the_queryset(entity, make_customer) -> None:
    parent = make_customer("P", credit_limit=Decimal("1000"))
    child = make_customer("CH")
    child.parent = parent
    child.save()
    for ref in ("P", "CH"):
        fixed = customer_for_check(entity_id=entity.pk, external_ref=ref, on=AS_OF)
        orm = customers_for_check(entity_id=entity.pk, on=AS_OF).get(external_ref=ref)
        assert fixed is not None
        assert (fixed.pk, fixed.parent_id, fixed.has_children, fixed.held, fixed.latest_risk_class) == (  # type: ignore[attr-defined]
            orm.pk,
            orm.parent_id,
            orm.has_children,  # type: ignore[attr-defined]
            orm.held,  # type: ignore[attr-defined]
            orm.latest_risk_class,  # type: ignore[attr-defined]
        )
        assert fixed.entity.pk == entity.pk
    assert customer_for_check(entity_id=entity.pk, external_ref="NOPE", on=AS_OF) is None
    assert customer_for_check(entity_id=entity.pk + 1, external_ref="P", on=AS_OF) is None


def test_the_ledger_parts_agree_with_and_without_fixing(
    entity, make_customer, make_invoice, monkeypatch
) -> None:
    first, second = make_customer("A"), make_customer("B")
    make_invoice(first, "I1", "100", date(2026, 8, 1), date(2026, 9, 1))
    make_invoice(second, "I2", "250", date(2026, 8, 5), date(2026, 9, 5))
    make_invoice(second, "LATER", "999", date(2026, 9, 20), date(2026, 10, 20))
    ids = [first.pk, second.pk]
    fixed = _ledger_parts(entity.pk, ids, AS_OF, ("delivered", "open"))
    monkeypatch.setattr(fixed_sql, "ENABLED", False)
    assert _ledger_parts(entity.pk, ids, AS_OF, ("delivered", "open")) == fixed
    assert sorted(row[2] for row in fixed[0]) == [Decimal("100"), Decimal("250")]


def test_a_queryset_whose_sql_depends_on_its_values_is_refused(entity) -> None:
    def derived(*, entity_id: int, as_of: date):  # the day after: not a parameter of the call
        return Invoice.objects.filter(
            entity_id=entity_id, issue_date__lte=as_of, due_date__lte=as_of + timedelta(days=1)
        )

    with pytest.raises(ValueError, match="depends on its values"):
        FixedQuery(derived, entity_id=SENTINEL_ID, as_of=SENTINEL_DAY).sql(entity_id=1, as_of=AS_OF)

    def lookup(*, ids: list[int], ref: str):
        return Customer.objects.filter(pk__in=ids, external_ref=ref)

    query = FixedQuery(lookup, ids=sentinel_ids(2), ref=SENTINEL_TEXT)
    assert query.objects(ids=[1, 2], ref="X") == []


def test_two_values_may_not_share_a_sentinel(entity) -> None:
    def family(*, holder_id: int, entity_id: int):
        return Customer.objects.filter(pk=holder_id, entity_id=entity_id)

    with pytest.raises(ValueError, match="share the sentinel"):
        FixedQuery(family, holder_id=SENTINEL_ID, entity_id=SENTINEL_ID).sql(holder_id=1, entity_id=2)


def test_the_latest_rates_agree_with_and_without_fixing(entity, monkeypatch) -> None:
    """Each pair's latest rate on or before the day, both ways round, over years of daily rates:
    the fixed query (one probe per pair on PostgreSQL) reads what the ORM's reads."""
    rates = [
        ExchangeRate(
            entity=entity,
            rate_date=date(2024, 1, 1) + timedelta(days=offset),
            base_currency=base,
            quote_currency=quote,
            rate=start + Decimal(offset) / 100000,
        )
        for offset in range(0, 3 * 365, 3)
        for base, quote, start in (("USD", "EUR", Decimal("0.9")), ("EUR", "GBP", Decimal("0.85")))
    ]
    ExchangeRate.objects.bulk_create(rates)
    for on in (date(2023, 12, 31), date(2024, 1, 1), date(2025, 6, 2), date(2030, 1, 1)):
        for currencies in (["USD"], ["USD", "GBP"], ["USD", "GBP", "CHF"]):
            fixed = rates_for(entity_id=entity.pk, currencies=currencies, to_currency="EUR", on=on)
            monkeypatch.setattr(fixed_sql, "ENABLED", False)
            compiled = rates_for(entity_id=entity.pk, currencies=currencies, to_currency="EUR", on=on)
            monkeypatch.setattr(fixed_sql, "ENABLED", True)
            assert fixed == compiled
    table = rates_for(entity_id=entity.pk, currencies=["USD", "GBP"], to_currency="EUR", on=date(2025, 6, 2))
    # 2025-06-02 is day 518 of the series, not a multiple of three: the rate of day 516 holds.
    assert table.convert(Decimal("1000000"), "USD", "EUR", date(2025, 6, 2)) == Decimal("905160.00")


@pytest.mark.django_db(transaction=True)
def test_fixed_sql_runs_as_a_prepared_statement_on_postgresql(entity, make_customer) -> None:
    """The database plans a fixed query once per connection (from its fifth run), and not at all
    when prepared statements are turned off (``RELANCE_PREPARED_STATEMENTS=false``)."""
    if connection.vendor != "postgresql":
        pytest.skip("SKIPPED: prepared statements are PostgreSQL's (run with DATABASE_URL=postgres://…)")
    make_customer("PREP")

    def prepared() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%ledger_customer%"]
            )
            return cursor.fetchone()[0]

    options = connection.settings_dict["OPTIONS"]
    assert options.get("prepare_threshold") == 5
    connection.close()
    for _ in range(6):
        assert customer_for_check(entity_id=entity.pk, external_ref="PREP", on=AS_OF) is not None
    assert prepared() == 1
    monkeypatch_options = dict(options)
    monkeypatch_options["prepare_threshold"] = None
    connection.settings_dict["OPTIONS"] = monkeypatch_options
    try:
        connection.close()
        for _ in range(6):
            assert customer_for_check(entity_id=entity.pk, external_ref="PREP", on=AS_OF) is not None
        assert prepared() == 0
    finally:
        connection.settings_dict["OPTIONS"] = options
        connection.close()

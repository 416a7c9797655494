"""Fixed SQL (``relance.common.fixed_sql``): compiled once with sentinels, run with the real values,
it reads what the queryset reads; a queryset whose SQL depends on its values is refused."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from relance.common import fixed_sql
from relance.common.fixed_sql import SENTINEL_DAY, SENTINEL_ID, SENTINEL_TEXT, FixedQuery, sentinel_ids
from relance.credit.selectors.check import customer_for_check, customers_for_check
from relance.credit.selectors.exposure import _ledger_parts
from relance.ledger.models import Customer, Invoice

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

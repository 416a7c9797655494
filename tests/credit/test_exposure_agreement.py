"""Exposure has two computations: the engine's ``exposure_expr`` (Ibis, every customer at once: the
scoring's utilisation and the reviews) and the app's ``credit.selectors.exposure`` (a few SQL
queries, one customer: the order check, the API and the 360). Both apply one rule — open
receivables by the ledger's open amount + open and unbilled orders, converted by the rates rule,
measured against the parent's limit when it has one — so on every customer of a varied ledger
(parents and children, several currencies, orders in each status, a currency without a rate)
they must agree, or the ERP is refused an order the review calls fine.

The engine converts each (customer, currency) sum at float precision to four places; the app
rounds each to the currency's minor units (``relance.core.rates``): they may differ by half a
cent per converted sum, never more.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest

from relance.credit.selectors.exposure import customer_exposure, customers_for_exposure
from relance.demo.loader import ledger_load
from relance.ledger.models import Customer, ExchangeRate, Order, OrderStatus
from relance.synthetic.generator import GeneratorConfig, generate_ledger

exposure_module = pytest.importorskip(
    "relance.engine.credit.exposure", reason="the engine's exposure (branch credit-engine) is not merged yet"
)

END = date(2026, 11, 23)
VARIED = GeneratorConfig(seed=24, customers=60, months=12, end=END)  # subsidiaries, part payments
CENT = Decimal("0.01")
pytestmark = pytest.mark.django_db


def _credit_facts(entity) -> None:
    """Limits (some none, some zero), parents that share theirs, orders in every status and
    currency, rates for USD and GBP (direct and inverse, over time) and none for CHF."""
    rng = random.Random(15)
    customers = list(Customer.objects.filter(entity=entity).order_by("pk"))
    for number, customer in enumerate(customers):
        customer.credit_limit = [None, Decimal("0"), Decimal("2000"), Decimal("50000"), Decimal("250000")][
            number % 5
        ]
        if number % 9 == 4 and number > 0 and customers[number - 1].parent_id is None:
            customer.parent = customers[number - 1]  # a child of a customer that may or may not have a limit
    Customer.objects.bulk_update(customers, ["credit_limit", "parent"])
    statuses = list(OrderStatus.values)
    orders = []
    for number, customer in enumerate(customers):
        for order_number in range(rng.randint(0, 4)):
            orders.append(
                Order(
                    entity=entity,
                    customer=customer,
                    external_ref=f"O-{number}-{order_number}",
                    order_date=END - timedelta(days=rng.randint(-5, 90)),  # a few after the day
                    currency=rng.choice([customer.currency, customer.currency, "USD", "GBP", "CHF"]),
                    amount=Decimal(rng.randint(100, 900_000)) / 100,
                    status=statuses[order_number % len(statuses)] if number % 2 else rng.choice(statuses),
                )
            )
    Order.objects.bulk_create(orders)
    for offset in range(0, 120, 7):
        day = END - timedelta(days=offset)
        ExchangeRate.objects.create(
            entity=entity,
            rate_date=day,
            base_currency="EUR",
            quote_currency="USD",
            rate=Decimal("1.0812") + offset / Decimal(10_000),
        )
        ExchangeRate.objects.create(
            entity=entity,
            rate_date=day,
            base_currency="GBP",
            quote_currency="EUR",
            rate=Decimal("1.1734") - offset / Decimal(10_000),
        )
    ExchangeRate.objects.create(
        entity=entity,
        rate_date=END + timedelta(days=1),
        base_currency="EUR",
        quote_currency="USD",
        rate=Decimal("9"),
    )


def _engine_exposures(entity, as_of: date) -> dict[int, dict]:
    """The engine's exposure over the app's own binding (orders and rates included)."""
    from relance.credit.binding import app_credit_tables
    from relance.engine.days import unbound_tables_run_on

    backend, tables = app_credit_tables(entity=entity)
    with unbound_tables_run_on(backend):
        expression = exposure_module.exposure_expr(tables, as_of)
        return {int(row["customer_id"]): row for row in backend.to_pyarrow(expression).to_pylist()}


def _money(value) -> Decimal:
    return Decimal(0) if value is None else Decimal(str(value)).quantize(Decimal("0.0001"))


def test_the_apps_exposure_equals_the_engines_for_every_customer(entity) -> None:
    ledger_load(ledger=generate_ledger(VARIED), entity=entity)
    _credit_facts(entity)
    engine = _engine_exposures(entity, END)
    customers = list(customers_for_exposure(entity_id=entity.pk).order_by("pk"))
    assert len(engine) == len(customers) == 60
    kinds = {"shared": 0, "foreign": 0, "missing": 0}
    for customer in customers:
        app = customer_exposure(customer=customer, as_of=END)
        theirs = engine[customer.pk]
        where = f"customer {customer.external_ref}"
        assert app.limit_holder_id == theirs["limit_holder_id"], where
        assert app.currency == theirs["currency"], where
        assert app.limit == (None if theirs["credit_limit"] is None else _money(theirs["credit_limit"])), (
            where
        )
        assert app.missing_rate == bool(theirs["missing_rate"]), where
        converted = sum(1 for part in app.parts if part.currency != app.currency) * 2
        tolerance = CENT / 2 * converted + Decimal("0.0001")
        for name, mine in (
            ("open_receivables", app.open_receivables),
            ("open_orders", app.open_orders),
            ("exposure", app.exposure),
            ("own_exposure", app.own_exposure),
        ):
            assert abs(mine - _money(theirs[name])) <= tolerance, (where, name, mine, theirs[name])
        if app.utilisation is None:
            assert theirs["utilisation"] is None, where
        else:
            assert abs(float(app.utilisation) - theirs["utilisation"]) < 0.01, where
        kinds["shared"] += app.shared
        kinds["foreign"] += any(part.currency != app.currency and part.rate for part in app.parts)
        kinds["missing"] += app.missing_rate
    assert all(kinds.values()), kinds  # the ledger exercised each case

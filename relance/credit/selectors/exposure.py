"""A customer's credit exposure as of a day, read from the app database in a few indexed queries.

**Exposure** = open receivables (the ledger's one open-amount rule:
``relance.ledger.selectors.customer_invoices_with_open``, summed per currency here in SQL) +
orders not yet invoiced (``delivered``, and ``open`` unless the entity's
``CreditSettings.exposure_includes_open_orders`` says no), dated on or before the day, each part
converted into the limit holder's currency by the rates rule (``relance.core.rates``).

**Shared limit**: the limit holder is the customer's parent when the parent has a limit, else
the customer itself; the exposure is the whole group's (the holder's own and each child's that
shares it). A limit of zero or less reads as no limit. A part whose currency has no rate counts
nothing and is named in ``missing_rates`` (the exposure is then a lower bound): never a guess.

The engine computes the same per customer for the whole ledger
(``relance.engine.credit.exposure.exposure_expr``); ``tests/credit/test_exposure_agreement.py``
holds the two together. This module is on the ERP's order path (``GET /api/v1/credit/check``):
no Ibis, and two queries for most customers (the customer with its parent, profiles and
settings; its receivables and orders in one statement), plus the group's members when it shares
a limit and the rates when a part is in another currency.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery, Sum

from relance.common.fixed_sql import (
    SENTINEL_DAY,
    SENTINEL_ID,
    SENTINEL_TEXT,
    FixedQuery,
    fixed_cursor,
    sentinel_ids,
)
from relance.core.rates import MissingRate, Rate, RateTable
from relance.credit.models import CreditProfile, CreditSettings
from relance.credit.selectors.settings import credit_settings_of
from relance.ledger.models import Customer, ExchangeRate, Order, OrderStatus
from relance.ledger.selectors import STILL_OWED, customer_invoices_with_open
from relance.ledger.sql_values import stored_day, stored_money, stored_rate

ZERO = Decimal(0)
HUNDRED = Decimal(100)
UTILISATION_PLACES = Decimal("0.01")


@dataclass(frozen=True)
class ExposurePart:
    """What the group owes and has ordered in one currency, and that in the limit's currency.

    ``rate`` and the converted amounts are None when no rate converts this currency."""

    currency: str
    open_receivables: Decimal
    open_orders: Decimal
    rate: Decimal | None
    converted_receivables: Decimal | None
    converted_orders: Decimal | None

    @property
    def converted(self) -> Decimal | None:
        if self.converted_receivables is None or self.converted_orders is None:
            return None
        return self.converted_receivables + self.converted_orders


@dataclass(frozen=True)
class Exposure:
    """A customer's exposure against the limit it falls under, in that limit's currency."""

    customer_id: int
    customer_ref: str
    as_of: date
    limit_holder_id: int
    limit_holder_ref: str
    shared: bool  # the limit is the parent's, shared with its other children
    group_ids: tuple[int, ...]
    currency: str
    limit: Decimal | None  # None: no limit (none set, or zero)
    limit_expires_on: date | None
    open_receivables: Decimal
    open_orders: Decimal
    own_exposure: Decimal  # this customer's part of the group's
    parts: tuple[ExposurePart, ...]
    missing_rates: tuple[str, ...]  # one sentence per currency that could not be converted
    oldest_open_due: date | None  # the group's oldest open invoice's due date

    @property
    def exposure(self) -> Decimal:
        return self.open_receivables + self.open_orders

    @property
    def available(self) -> Decimal | None:
        return None if self.limit is None else self.limit - self.exposure

    @property
    def utilisation(self) -> Decimal | None:
        """Exposure over the limit, in percent (two places); None without a limit."""
        if self.limit is None:
            return None
        return (self.exposure * HUNDRED / self.limit).quantize(UTILISATION_PLACES)

    @property
    def missing_rate(self) -> bool:
        return bool(self.missing_rates)

    def limit_expired(self, on: date) -> bool:
        return self.limit is not None and self.limit_expires_on is not None and self.limit_expires_on < on

    def days_past_due(self, on: date) -> int:
        """Days past due of the group's oldest open invoice on ``on`` (0: nothing overdue)."""
        if self.oldest_open_due is None:
            return 0
        return max((on - self.oldest_open_due).days, 0)


def customers_for_exposure(*, entity_id: int) -> QuerySet[Customer]:
    """The entity's customers with what their exposure reads beside the ledger, joined in the same
    query: the parent, both credit profiles, the entity's credit settings, and whether the
    customer has child accounts (``has_children``: without, a customer with its own limit is a
    group of one, and the group needs no query)."""
    return (
        Customer.objects.select_related(
            "entity__credit_settings", "credit_profile", "parent", "parent__credit_profile"
        )
        .annotate(has_children=Exists(Customer.objects.filter(parent_id=OuterRef("pk"))))
        .filter(entity_id=entity_id)
    )


def customer_for_exposure(*, entity_id: int, external_ref: str) -> Customer | None:
    return customers_for_exposure(entity_id=entity_id).filter(external_ref=external_ref).first()


def _limit(customer: Customer | None) -> Decimal | None:
    if customer is None or customer.credit_limit is None or customer.credit_limit <= 0:
        return None
    return customer.credit_limit


def credit_profile_of(customer: Customer) -> CreditProfile | None:
    try:
        return customer.credit_profile
    except CreditProfile.DoesNotExist:
        return None


def limit_holder(customer: Customer) -> Customer:
    """The customer whose limit ``customer`` falls under: its parent when the parent has a limit."""
    parent = customer.parent if customer.parent_id else None
    return parent if parent is not None and _limit(parent) is not None else customer


def _group_q(holder: Customer, prefix: str = "") -> Q:
    """The customers that share ``holder``'s limit (the holder alone when it has none)."""
    own = Q(**{f"{prefix}id": holder.pk})
    return own | Q(**{f"{prefix}parent_id": holder.pk}) if _limit(holder) is not None else own


def order_statuses(settings: CreditSettings) -> tuple[str, ...]:
    """The order statuses exposure counts: unbilled, and pending deliveries unless left out."""
    if settings.exposure_includes_open_orders:
        return (OrderStatus.DELIVERED, OrderStatus.OPEN)
    return (OrderStatus.DELIVERED,)


LEDGER_PARTS_SQL = (
    "SELECT 0, customer_id, currency, SUM(open_amount), MIN(due_date) FROM ({invoices}) open_items"
    " GROUP BY customer_id, currency"
    " UNION ALL SELECT 1, customer_id, currency, total, NULL FROM ({orders}) ordered"
)
Receivable = tuple[int, str, Decimal, "date | None"]  # customer id, currency, open, oldest open due
Ordered = tuple[int, str, Decimal]  # customer id, currency, ordered not invoiced


def _open_invoices(*, entity_id: int, customer_ids: list[int], as_of: date) -> QuerySet[Any]:
    return (
        customer_invoices_with_open(entity_id=entity_id, customer_ids=customer_ids, as_of=as_of)
        .filter(open_amount__gt=STILL_OWED)
        .order_by()
        .values_list("customer_id", "currency", "due_date", "open_amount")
    )


def _counted_orders(
    *, entity_id: int, customer_ids: list[int], as_of: date, statuses: tuple[str, ...]
) -> QuerySet[Any]:
    return (
        Order.objects.filter(
            entity_id=entity_id,
            customer_id__in=customer_ids,
            status__in=list(statuses),
            order_date__lte=as_of,
        )
        .order_by()
        .values_list("customer_id", "currency")
        .annotate(total=Sum("amount"))
    )


#: The two statements compiled once per group size (and order statuses): the check's hot path.
_FIXED_PARTS: dict[tuple[int, tuple[str, ...]], tuple[FixedQuery, FixedQuery]] = {}


def _fixed_parts(size: int, statuses: tuple[str, ...]) -> tuple[FixedQuery, FixedQuery]:
    found = _FIXED_PARTS.get((size, statuses))
    if found is None:
        sentinels = {"entity_id": SENTINEL_ID, "customer_ids": sentinel_ids(size), "as_of": SENTINEL_DAY}
        found = (
            FixedQuery(_open_invoices, **sentinels),
            FixedQuery(functools.partial(_counted_orders, statuses=statuses), **sentinels),
        )
        _FIXED_PARTS[(size, statuses)] = found
    return found


def _ledger_parts(
    entity_id: int, customer_ids: list[int], as_of: date, statuses: Iterable[str]
) -> tuple[list[Receivable], list[Ordered]]:
    """Per customer and currency, the open receivables (with the oldest open due date) and the
    orders counted, in one round trip: the ledger's open-amount rule
    (``customer_invoices_with_open``) read as a sub-select and summed by an outer GROUP BY, then
    UNION ALL the orders' sums. Both are the ORM's SQL, compiled once (``FixedQuery``)."""
    ids = sorted(set(customer_ids))
    fixed_invoices, fixed_orders = _fixed_parts(len(ids), tuple(statuses))
    values: dict[str, Any] = {"entity_id": entity_id, "customer_ids": ids, "as_of": as_of}
    invoices_sql, invoices_params = fixed_invoices.sql(**values)
    orders_sql, orders_params = fixed_orders.sql(**values)
    # The inner queries' columns keep their names in the derived tables; both are Django's SQL.
    sql = LEDGER_PARTS_SQL.format(invoices=invoices_sql, orders=orders_sql)
    receivables: list[Receivable] = []
    ordered: list[Ordered] = []
    with fixed_cursor() as cursor:
        cursor.execute(sql, (*invoices_params, *orders_params))
        for kind, customer_id, currency, total, due in cursor.fetchall():
            if kind == 0:
                receivables.append((customer_id, currency, stored_money(total), stored_day(due)))
            else:
                ordered.append((customer_id, currency, stored_money(total)))
    return receivables, ordered


def _latest_rates(*, entity_id: int, foreign: list[str], to_currency: str, on: date) -> QuerySet[Any]:
    columns = ("rate_date", "base_currency", "quote_currency", "rate")
    pairs = [(one, to_currency) for one in foreign] + [(to_currency, one) for one in foreign]
    if connection.vendor == "postgresql":
        # Each pair's latest row by itself (an index probe on the pair and its newest day), the
        # pairs UNION ALL: the cost does not grow with the years of rates kept.
        latest = [
            ExchangeRate.objects.filter(
                entity_id=entity_id, base_currency=base, quote_currency=quote, rate_date__lte=on
            )
            .order_by("-rate_date")
            .values_list(*columns)[:1]
            for base, quote in pairs
        ]
        return latest[0].union(*latest[1:], all=True)
    # SQLite refuses LIMIT inside a compound statement: the latest day of each pair as a sub-select.
    pairs_q = Q(base_currency__in=foreign, quote_currency=to_currency) | Q(
        base_currency=to_currency, quote_currency__in=foreign
    )
    latest_day = (
        ExchangeRate.objects.filter(
            entity_id=entity_id,
            base_currency=OuterRef("base_currency"),
            quote_currency=OuterRef("quote_currency"),
            rate_date__lte=on,
        )
        .order_by("-rate_date")
        .values("rate_date")[:1]
    )
    return (
        ExchangeRate.objects.filter(pairs_q, entity_id=entity_id, rate_date__lte=on)
        .filter(rate_date=Subquery(latest_day))
        .values_list(*columns)
    )


#: The customers sharing a limit holder's limit (the holder has one: ``_group_q``), by id.
_FIXED_GROUP = FixedQuery(
    lambda holder_id, entity_id: (
        Customer.objects.filter(Q(id=holder_id) | Q(parent_id=holder_id), entity_id=entity_id)
        .order_by("pk")
        .values_list("pk")
    ),
    holder_id=sentinel_ids(1)[0],
    entity_id=SENTINEL_ID,
)

#: The rates query compiled once per number of foreign currencies (the check's hot path).
_FIXED_RATES: dict[int, FixedQuery] = {}


def rates_for(*, entity_id: int, currencies: Iterable[str], to_currency: str, on: date) -> RateTable:
    """A ``RateTable`` holding, for each currency ↔ ``to_currency`` pair (both ways), the latest
    rate on or before ``on``: all the rates rule needs, in one query."""
    foreign = sorted(set(currencies) - {to_currency})
    if not foreign:
        return RateTable.of(())
    fixed = _FIXED_RATES.get(len(foreign))
    if fixed is None:
        fixed = _FIXED_RATES.setdefault(
            len(foreign),
            FixedQuery(
                _latest_rates,
                entity_id=SENTINEL_ID,
                foreign=[f"{SENTINEL_TEXT}{number}" for number in range(len(foreign))],
                to_currency=f"{SENTINEL_TEXT}to",
                on=SENTINEL_DAY,
            ),
        )
    rows = fixed.rows(entity_id=entity_id, foreign=foreign, to_currency=to_currency, on=on)
    return RateTable.of(
        Rate(stored_day(day) or on, base, quote, stored_rate(rate)) for day, base, quote, rate in rows
    )


def customer_exposure(
    *, customer: Customer, as_of: date, currency: str | None = None, alone: bool = False
) -> Exposure:
    """``customer``'s exposure on ``as_of`` against the limit it falls under (its parent's when the
    parent has one). Read the customer with ``customer_for_exposure`` to save three queries.

    ``alone``: the customer by itself (its own receivables and orders), not the group sharing a
    limit — what a credit insurer covers (one buyer). ``currency``: measured in it rather than the
    limit holder's (the insured currency)."""
    holder = customer if alone else limit_holder(customer)
    limit = _limit(holder)
    currency = currency or holder.currency
    settings = credit_settings_of(customer)
    alone = alone or (
        holder.pk == customer.pk and (limit is None or getattr(customer, "has_children", True) is False)
    )
    if alone:
        group_ids = [customer.pk]
    else:
        group_ids = [pk for (pk,) in _FIXED_GROUP.rows(holder_id=holder.pk, entity_id=customer.entity_id)]
    receivables, orders = _ledger_parts(customer.entity_id, group_ids, as_of, order_statuses(settings))
    currencies = {row[1] for row in receivables} | {row[1] for row in orders}
    table = (
        rates_for(entity_id=customer.entity_id, currencies=currencies, to_currency=currency, on=as_of)
        if currencies - {currency}
        else RateTable.of(())
    )
    return exposure_of(
        customer=customer,
        holder=holder,
        as_of=as_of,
        group_ids=group_ids,
        receivables=receivables,
        orders=orders,
        rates=table,
        currency=currency,
    )


def exposure_of(
    *,
    customer: Customer,
    holder: Customer,
    as_of: date,
    group_ids: list[int],
    receivables: list[Receivable],
    orders: list[Ordered],
    rates: RateTable,
    currency: str | None = None,
) -> Exposure:
    """The exposure from the rows read (pure: no query), in ``currency`` (default the holder's).
    Each (customer, currency) sum is converted on its own, as the engine converts it."""
    currency = currency or holder.currency
    by_currency: dict[str, list[Decimal]] = {}
    converted: dict[str, list[Decimal | None]] = {}
    missing: dict[str, str] = {}
    own = ZERO
    oldest: date | None = None

    def convert(amount: Decimal, from_currency: str) -> Decimal | None:
        try:
            return rates.convert(amount, from_currency, currency, as_of)
        except MissingRate as exc:
            missing[from_currency] = exc.message
            return None

    def add(customer_id: int, part_currency: str, amount: Decimal, index: int) -> None:
        nonlocal own
        by_currency.setdefault(part_currency, [ZERO, ZERO])[index] += amount
        value = convert(amount, part_currency)
        slot = converted.setdefault(part_currency, [ZERO, ZERO])
        previous = slot[index]
        slot[index] = None if value is None or previous is None else previous + value
        if value is not None and customer_id == customer.pk:
            own += value

    for customer_id, part_currency, amount, due in receivables:
        add(customer_id, part_currency, amount, 0)
        if due is not None and (oldest is None or due < oldest):
            oldest = due
    for customer_id, part_currency, amount in orders:
        add(customer_id, part_currency, amount, 1)
    parts = []
    for part_currency in sorted(by_currency):
        receivable, ordered = by_currency[part_currency]
        conv_receivable, conv_ordered = converted[part_currency]
        rate = None
        if part_currency not in missing:
            rate = rates.rate(part_currency, currency, as_of)
        parts.append(ExposurePart(part_currency, receivable, ordered, rate, conv_receivable, conv_ordered))
    limit = _limit(holder)
    profile = credit_profile_of(holder)
    return Exposure(
        customer_id=customer.pk,
        customer_ref=customer.external_ref,
        as_of=as_of,
        limit_holder_id=holder.pk,
        limit_holder_ref=holder.external_ref,
        shared=holder.pk != customer.pk,
        group_ids=tuple(group_ids),
        currency=currency,
        limit=limit,
        limit_expires_on=profile.limit_expires_on if profile is not None else None,
        open_receivables=sum((p.converted_receivables or ZERO for p in parts), ZERO),
        open_orders=sum((p.converted_orders or ZERO for p in parts), ZERO),
        own_exposure=own,
        parts=tuple(parts),
        missing_rates=tuple(missing[c] for c in sorted(missing)),
        oldest_open_due=oldest,
    )

"""Credit exposure per customer as of a date: what it owes and has ordered, against its limit.

**Exposure** = open receivables (the open amount of each invoice, as the behaviour metrics count
it: ``relance.engine.dunning.behaviour.invoice_frame``, the one home of "open") + orders not yet
invoiced (status ``delivered``, and ``open`` unless the entity leaves pending deliveries out),
each converted into the currency of the customer's limit.

**Parent rollup**: a child whose parent has a credit limit is measured against the parent's limit
with the group's total exposure (the parent's own and every such child's). One level: the limit
holder is the parent when it has a limit, else the customer itself.

**Currency**: the limit holder's (``customer_profile.currency``); when unknown, the first of the
group's open items' currencies in alphabetical order. Rates follow the one rule of
``relance.core.rates``, here in SQL: the latest rate on or before ``as_of``; the inverse of a
stored pair only when the pair itself has none; 1 for the same currency; otherwise the rate is
**missing**: that item counts nothing, and every row of its group says ``missing_rate`` (the
exposure shown is then what could be converted: a lower bound). Never a guess.

A limit of zero or less reads as no limit (as the behaviour metrics read it): no utilisation, no
available amount.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from relance.engine.days import backend_of
from relance.engine.dunning.behaviour import invoice_frame
from relance.engine.dunning.contract import DunningTables
from relance.engine.schema import MONEY_SCALE, money_units

ORDER_STATUSES_UNBILLED = ("delivered",)  # delivered, not invoiced
ORDER_STATUSES_PENDING = ("open",)  # ordered, not yet delivered

EXPOSURE_COLUMNS = (
    "customer_id",
    "limit_holder_id",
    "currency",
    "credit_limit",
    "open_receivables",
    "open_orders",
    "exposure",
    "own_exposure",
    "available",
    "utilisation",
    "missing_rate",
)


def flat(expr: ir.Table) -> ir.Table:
    """``expr`` as it is, or on SQLite its rows as an in-memory table: SQLite's parser overflows
    on the nested sub-selects of the credit queries (as on the behaviour query), so they are read
    in steps there. The other backends get one query."""
    backend = backend_of(expr)
    if backend is not None and backend.name == "sqlite":
        return ibis.memtable(backend.to_pyarrow(expr))
    return expr


def latest_rates(rates: ir.Table, pairs: ir.Table, as_of: date) -> ir.Table:
    """``pairs`` (``from_currency``, ``to_currency``) with ``rate`` (float64: 1 from = rate to) by
    the rate rule as of ``as_of``; null when missing."""
    known = rates.filter(rates.rate_date <= as_of)
    last = known.group_by(_l_base="base_currency", _l_quote="quote_currency").aggregate(
        _l_date=known.rate_date.max()
    )
    latest = known.join(
        last,
        (known.base_currency == last._l_base)
        & (known.quote_currency == last._l_quote)
        & (known.rate_date == last._l_date),
    ).select(_r_base="base_currency", _r_quote="quote_currency", _r_rate=known.rate.cast("float64"))
    # one row per pair even if a date holds it twice (a unique constraint in the app)
    latest = latest.group_by("_r_base", "_r_quote").aggregate(_r_rate=latest._r_rate.max())
    inverse = latest.select(_i_base="_r_base", _i_quote="_r_quote", _i_rate="_r_rate")
    joined = pairs.left_join(
        latest, (pairs.from_currency == latest._r_base) & (pairs.to_currency == latest._r_quote)
    )
    joined = joined.left_join(
        inverse, (joined.from_currency == inverse._i_quote) & (joined.to_currency == inverse._i_base)
    )
    rate = ibis.cases(
        (joined.from_currency == joined.to_currency, 1.0),
        (joined._r_rate.notnull(), joined._r_rate),
        (joined._i_rate.notnull() & (joined._i_rate != 0), 1.0 / joined._i_rate),
        else_=ibis.null("float64"),
    )
    return joined.select("from_currency", "to_currency", rate=rate.cast("float64"))


def open_receivables(tables: DunningTables, as_of: date) -> ir.Table:
    """customer_id, currency, receivable_units: the open amounts of ``invoice_frame`` summed."""
    frame = invoice_frame(tables, as_of)
    open_items = frame.filter(frame.open_units > 0)
    return open_items.group_by("customer_id", "currency").aggregate(
        receivable_units=open_items.open_units.sum().cast("int64")
    )


def _items(tables: DunningTables, as_of: date, receivables: ir.Table, include_open_orders: bool) -> ir.Table:
    """Per (customer, currency): open receivable units and unbilled order units."""
    receivables = receivables.select(
        "customer_id",
        "currency",
        receivable_units=receivables.receivable_units.cast("int64"),
        order_units=ibis.literal(0, type="int64"),
    )
    if tables.orders is None:
        return receivables
    statuses = ORDER_STATUSES_UNBILLED + (ORDER_STATUSES_PENDING if include_open_orders else ())
    orders = tables.orders.filter(tables.orders.status.isin(statuses), tables.orders.order_date <= as_of)
    ordered = orders.group_by("customer_id", "currency").aggregate(
        order_units=money_units(orders.amount).sum().cast("int64")
    )
    ordered = ordered.select(
        "customer_id", "currency", receivable_units=ibis.literal(0, type="int64"), order_units="order_units"
    )
    return ibis.union(receivables, ordered.select(*receivables.columns))


def limit_holders(tables: DunningTables) -> ir.Table:
    """customer_id, limit_holder_id (the parent when it has a limit), own_limit_units (null: none)."""
    profile = tables.customer_profile
    limits = profile.filter(profile.credit_limit > 0).select(
        _p_customer="customer_id", _p_units=money_units(profile.credit_limit)
    )
    parents = limits.select(_q_customer="_p_customer", _q_units="_p_units")
    customers = tables.customers.select("customer_id", "parent_id")
    joined = customers.left_join(limits, customers.customer_id == limits._p_customer)
    joined = joined.left_join(parents, joined.parent_id == parents._q_customer)
    holder = ibis.ifelse(joined._q_units.notnull(), joined.parent_id, joined.customer_id)
    return joined.select("customer_id", limit_holder_id=holder.cast("int64"))


def exposure_expr(
    tables: DunningTables,
    as_of: date,
    *,
    include_open_orders: bool = True,
    receivables: ir.Table | None = None,
) -> ir.Table:
    """One row per customer (``EXPOSURE_COLUMNS``): the limit holder, its currency and limit, the
    group's open receivables, open orders and exposure, this customer's own part, what is left
    (``available``), ``utilisation`` in percent (null without a limit) and ``missing_rate``.

    ``receivables``: customer_id, currency, receivable_units (``open_receivables``; the credit
    factors hand it the ``open_units`` of ``behaviour_by_currency``: one pass over the ledger for
    both).
    """
    if receivables is None:
        receivables = open_receivables(tables, as_of)
    holders = limit_holders(tables)
    items = _items(tables, as_of, receivables, include_open_orders)
    items = items.join(holders, items.customer_id == holders.customer_id).select(
        "customer_id", "limit_holder_id", "currency", "receivable_units", "order_units"
    )
    items = flat(items)
    profile = tables.customer_profile
    holder_profile = profile.select(
        _h_customer="customer_id",
        _h_currency=ibis.ifelse(profile.currency == "", ibis.null("string"), profile.currency),
        _h_limit_units=ibis.ifelse(
            profile.credit_limit > 0, money_units(profile.credit_limit), ibis.null("int64")
        ),
    )
    first = items.group_by(_g_holder="limit_holder_id").aggregate(_g_currency=items.currency.min())
    with_profile = first.left_join(holder_profile, first._g_holder == holder_profile._h_customer)
    currencies = with_profile.select(
        _t_holder=with_profile._g_holder,
        _t_currency=ibis.coalesce(with_profile._h_currency, with_profile._g_currency),
    )
    items = items.join(currencies, items.limit_holder_id == currencies._t_holder).drop("_t_holder")
    pairs = items.select(from_currency=items.currency, to_currency=items._t_currency).distinct()
    rates = latest_rates(tables.exchange_rates, pairs, as_of) if tables.exchange_rates is not None else None
    if rates is None:
        rate = ibis.ifelse(items.currency == items._t_currency, 1.0, ibis.null("float64"))
        converted = items.mutate(_rate=rate)
    else:
        named = rates.select(_x_from="from_currency", _x_to="to_currency", _rate="rate")
        converted = items.left_join(
            named, (items.currency == named._x_from) & (items._t_currency == named._x_to)
        ).drop("_x_from", "_x_to")

    def convert(units: ir.IntegerValue) -> ir.IntegerValue:
        return (units.cast("float64") * converted._rate).round().cast("int64")

    converted = flat(
        converted.select(
            "customer_id",
            "limit_holder_id",
            receivable_units=convert(converted.receivable_units),
            order_units=convert(converted.order_units),
            missing=ibis.ifelse(converted._rate.isnull(), 1, 0),
        )
    )
    own = converted.group_by(_o_customer="customer_id").aggregate(
        _o_units=(converted.receivable_units.fill_null(0) + converted.order_units.fill_null(0))
        .sum()
        .cast("int64")
    )
    group = converted.group_by(_s_holder="limit_holder_id").aggregate(
        _s_receivables=converted.receivable_units.sum().cast("int64"),
        _s_orders=converted.order_units.sum().cast("int64"),
        _s_missing=converted.missing.max(),
    )
    base = holders.view()  # the tables below are built from it: a second reference in the query
    result = base.left_join(own, base.customer_id == own._o_customer)
    result = result.left_join(group, result.limit_holder_id == group._s_holder)
    result = result.left_join(currencies, result.limit_holder_id == currencies._t_holder)
    holder_limit = holder_profile.view()
    result = result.left_join(holder_limit, result.limit_holder_id == holder_limit._h_customer)
    receivables = result._s_receivables.fill_null(0)
    orders = result._s_orders.fill_null(0)
    exposure = receivables + orders
    limit = result._h_limit_units
    return result.select(
        "customer_id",
        "limit_holder_id",
        currency=ibis.coalesce(result._t_currency, result._h_currency),
        credit_limit=money(limit),
        open_receivables=money(receivables),
        open_orders=money(orders),
        exposure=money(exposure),
        own_exposure=money(result._o_units.fill_null(0)),
        available=money(limit - exposure),
        utilisation=ibis.ifelse(
            limit.notnull(),
            exposure.cast("float64") * 100.0 / limit.cast("float64"),
            ibis.null("float64"),
        ),
        missing_rate=result._s_missing.fill_null(0) > 0,
    )


def money(units: ir.IntegerValue) -> ir.DecimalValue:
    """Integer money units as ``decimal(18, 4)``."""
    return (units.cast("float64") / MONEY_SCALE).cast("decimal(18, 4)")

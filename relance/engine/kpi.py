"""The KPI engine: Ibis expressions over ``LedgerTables`` (any backend), then ``formulas``.

As of a date A and for a period [S, A]:

* an invoice is open at day D by ``amount − allocations dated ≤ D``; invoices issued after D
  and void invoices never count (allocations to void invoices are ignored everywhere);
* a credit note is an open credit at D by ``amount − its allocations dated ≤ D`` (a negative
  item of AR); a payment is unapplied cash at D by ``amount − its allocations dated ≤ D``;
* total AR = open invoices − open credits − unapplied cash. Aging buckets, "current" AR and
  the paid-invoice measures look at invoices only: an invoice counts as paid in the period when
  it became fully settled in it and cash took part; its payment date is its last cash
  allocation's (an invoice settled by credit notes alone is not a payment);
* credit sales of a period = invoices issued in it − credit notes dated in it.

Three queries: one per-invoice frame (invoices left-joined with their allocation sums,
grouped once per invoice) aggregated once; one small aggregate of credit notes and payments;
one of monthly credit sales for countback DSO. Money is summed as exact int64
``money_units()`` and turned back into ``Decimal`` exactly. KPIs are per currency: amounts in
different currencies are never added.

Open credits and unapplied cash are computed as ``documents − their allocations`` summed per
group, with each allocation attributed to the *invoice's* customer; so when one account of a
parent/child family pays another's invoice, the group split moves between the two accounts
while the totals stay exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from relance.core.calendar import Period, add_months, month_start
from relance.core.errors import ValidationFailed
from relance.core.formatting import rounded_amount
from relance.engine import formulas
from relance.engine.days import backend_name, day_number
from relance.engine.formulas import DEFAULT_AGING, GROUP_BY_CHOICES, AgingBuckets, MonthSales, PaymentStats
from relance.engine.schema import MONEY_SCALE, LedgerTables, money_units

ERROR_GROUP_BY = "group_by must be one of customer, segment, collector (or none), not {found!r}"
ERROR_PERIOD_START = "the period starts ({start}) after the as-of date ({as_of})"
ERROR_COUNTBACK_MONTHS = "countback_months must be at least 1, not {found}"

TWO_PLACES = Decimal("0.01")
_MONEY_EXPONENT = -len(str(MONEY_SCALE)) + 1  # MONEY_SCALE = 10**4 → -4


@dataclass(frozen=True)
class KpiParams:
    """What to measure: as of ``as_of`` over ``[period_start, as_of]``.

    ``period_start`` defaults to the start of the 3 calendar months ending with the month of
    ``as_of``. ``currency`` None gives one report per currency present. ``countback_months``
    bounds how far back countback DSO may walk (reaching it is flagged as exhausted history).
    ``segment`` / ``collector`` (the collector's username, ``''`` for none) keep only the
    documents of those customers: the report equals that group's report under ``group_by``.
    """

    as_of: date
    period_start: date | None = None
    entity_id: int | None = None
    currency: str | None = None
    group_by: str | None = None
    aging: AgingBuckets = DEFAULT_AGING
    countback_months: int = 24
    segment: str | None = None
    collector: str | None = None

    def __post_init__(self) -> None:
        if self.group_by is not None and self.group_by not in GROUP_BY_CHOICES:
            raise ValidationFailed(ERROR_GROUP_BY.format(found=self.group_by))
        if self.period_start is not None and self.period_start > self.as_of:
            raise ValidationFailed(ERROR_PERIOD_START.format(start=self.period_start, as_of=self.as_of))
        if self.countback_months < 1:
            raise ValidationFailed(ERROR_COUNTBACK_MONTHS.format(found=self.countback_months))

    @property
    def period(self) -> Period:
        if self.period_start is None:
            return Period.trailing_months(self.as_of, 3)
        return Period(self.period_start, self.as_of)


def _money(units: int) -> Decimal:
    return Decimal(int(units)).scaleb(_MONEY_EXPONENT)


def _days(value: Decimal | None) -> float | None:
    return None if value is None else float(value.quantize(TWO_PLACES, rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class KpiReport:
    """Every KPI of one currency (and one group, when grouped) as of a date. See docs/kpis.md."""

    as_of: date
    period_start: date
    period_end: date
    currency: str
    group: str | None
    days_in_period: int
    months_in_period: int
    # AR as of the as-of date, and at the end of the day before the period
    ar_total: Decimal
    ar_gross_invoices: Decimal
    open_credits: Decimal
    unapplied_cash: Decimal
    ar_current: Decimal
    ar_past_due: Decimal
    aging: tuple[tuple[str, Decimal], ...]
    open_invoices: int
    ar_begin: Decimal
    # the period's activity
    invoiced_in_period: Decimal
    credited_in_period: Decimal
    credit_sales: Decimal
    invoices_paid_in_period: int
    amount_paid_in_period: Decimal
    # KPIs (None when the denominator is zero)
    dso: Decimal | None
    dso_countback: Decimal | None
    dso_countback_stopped: str
    bpdso: Decimal | None
    add: Decimal | None
    cei: Decimal | None
    dbt: Decimal | None
    average_days_to_pay: Decimal | None
    weighted_average_days_to_pay: Decimal | None
    weighted_average_days_late: Decimal | None
    average_days_late: Decimal | None
    turnover: Decimal | None
    turnover_annualised: Decimal | None
    percent_current: Decimal | None
    percent_past_due: Decimal | None
    monthly_sales: tuple[tuple[date, Decimal], ...] = field(default=(), repr=False)

    def money(self, amount: Decimal) -> str:
        """The JSON form of an amount of this report (``relance.core.formatting.rounded_amount``)."""
        return rounded_amount(amount, self.currency)

    @property
    def aging_amounts(self) -> dict[str, Decimal]:
        return dict(self.aging)

    @property
    def dso_average_ar(self) -> Decimal | None:
        return formulas.dso_average_ar(self.ar_begin, self.ar_total, self.credit_sales, self.days_in_period)

    def to_json(self) -> dict[str, Any]:
        """Money as decimal strings in the currency's minor units; days as numbers (2 decimals)."""
        ratio = _days
        return {
            "as_of": self.as_of.isoformat(),
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "currency": self.currency,
            "group": self.group,
            "days_in_period": self.days_in_period,
            "months_in_period": self.months_in_period,
            "ar_total": self.money(self.ar_total),
            "ar_gross_invoices": self.money(self.ar_gross_invoices),
            "open_credits": self.money(self.open_credits),
            "unapplied_cash": self.money(self.unapplied_cash),
            "ar_current": self.money(self.ar_current),
            "ar_past_due": self.money(self.ar_past_due),
            "aging": {label: self.money(amount) for label, amount in self.aging},
            "open_invoices": self.open_invoices,
            "ar_begin": self.money(self.ar_begin),
            "invoiced_in_period": self.money(self.invoiced_in_period),
            "credited_in_period": self.money(self.credited_in_period),
            "credit_sales": self.money(self.credit_sales),
            "invoices_paid_in_period": self.invoices_paid_in_period,
            "amount_paid_in_period": self.money(self.amount_paid_in_period),
            "dso": ratio(self.dso),
            "dso_average_ar": ratio(self.dso_average_ar),
            "dso_countback": ratio(self.dso_countback),
            "dso_countback_stopped": self.dso_countback_stopped,
            "bpdso": ratio(self.bpdso),
            "add": ratio(self.add),
            "cei": ratio(self.cei),
            "dbt": ratio(self.dbt),
            "average_days_to_pay": ratio(self.average_days_to_pay),
            "weighted_average_days_to_pay": ratio(self.weighted_average_days_to_pay),
            "weighted_average_days_late": ratio(self.weighted_average_days_late),
            "average_days_late": ratio(self.average_days_late),
            "turnover": None if self.turnover is None else float(self.turnover.quantize(Decimal("0.001"))),
            "turnover_annualised": ratio(self.turnover_annualised),
            "percent_current": ratio(self.percent_current),
            "percent_past_due": ratio(self.percent_past_due),
        }


# --- expressions ------------------------------------------------------------------------------


def _group_key(table: ir.Table, customers: ir.Table, group_by: str | None) -> ir.Table:
    """``table`` with a ``group_key`` column (customer ref, segment or collector) when grouping."""
    if group_by is None:
        return table
    column = {"customer": "external_ref", "segment": "segment", "collector": "collector"}[group_by]
    lookup = customers.select(
        _customer_id=customers.customer_id,
        _entity_id=customers.entity_id,
        group_key=customers[column].cast("string").fill_null(""),
    )
    joined = table.left_join(
        lookup, (table.customer_id == lookup._customer_id) & (table.entity_id == lookup._entity_id)
    )
    return joined.mutate(group_key=joined.group_key.fill_null("")).drop("_customer_id", "_entity_id")


def _only_customers(table: ir.Table, customers: ir.Table, params: KpiParams) -> ir.Table:
    """``table`` restricted to the customers of ``params.segment`` / ``params.collector``.

    The same columns ``_group_key`` groups on, so a filtered report is exactly that group's."""
    if params.segment is None and params.collector is None:
        return table
    chosen = customers
    if params.segment is not None:
        chosen = chosen.filter(chosen.segment.cast("string").fill_null("") == params.segment)
    if params.collector is not None:
        chosen = chosen.filter(chosen.collector.cast("string").fill_null("") == params.collector)
    return table.filter(table.customer_id.isin(chosen.customer_id))


def _keys(params: KpiParams) -> list[str]:
    return ["currency"] if params.group_by is None else ["currency", "group_key"]


def _scoped(table: ir.Table, params: KpiParams, *, currency: bool = True) -> ir.Table:
    if params.entity_id is not None:
        table = table.filter(table.entity_id == params.entity_id)
    if currency and params.currency is not None:
        table = table.filter(table.currency == params.currency)
    return table


def invoice_frame(tables: LedgerTables, params: KpiParams, dialect: str | None = None) -> ir.Table:
    """One row per non-void invoice issued by A, with its allocation sums at A and at S − 1."""
    as_of, day_before = params.as_of, params.period.day_before
    allocations = _scoped(tables.allocations, params, currency=False)
    allocations = allocations.filter(allocations.date <= as_of)
    units = money_units(allocations.amount)
    is_cash = allocations.payment_id.notnull()
    before = allocations.date <= day_before
    invoice_key = allocations.invoice_id
    if dialect == "sqlite":
        # Grouping on the bare column makes SQLite walk the (invoice, date) index and fetch each
        # row at random; on an expression it scans the table and sorts, about twice as fast. A
        # CAST (rendered CAST(CAST(… AS INTEGER) AS INTEGER)) keeps INTEGER affinity, which the
        # automatic index of the join below needs (``+ 0`` loses it: a quadratic nested loop).
        invoice_key = invoice_key.cast("int32").cast("int64")
    per_invoice = allocations.group_by(_invoice_id=invoice_key).aggregate(
        # int64, not the backends' wider sum types: narrower hash tables for the join below
        allocated_at_end=units.sum().cast("int64"),
        allocated_at_begin=ibis.ifelse(before, units, 0).sum().cast("int64"),
        cash_at_end=ibis.ifelse(is_cash, units, 0).sum().cast("int64"),
        # Payment timing looks at cash only: a credit note settles, it does not pay.
        last_cash_date=ibis.ifelse(is_cash, allocations.date, ibis.null(allocations.date.type())).max(),
    )
    invoices = _scoped(tables.invoices, params)
    invoices = invoices.filter(not_void(invoices, as_of), invoices.issue_date <= as_of)
    invoices = _only_customers(invoices, tables.customers, params)
    invoices = _group_key(invoices, tables.customers, params.group_by)
    joined = invoices.left_join(per_invoice, invoices.invoice_id == per_invoice._invoice_id)
    return joined.select(
        *_keys(params),
        "issue_date",
        "due_date",
        "last_cash_date",
        amount_units=money_units(joined.amount),
        allocated_at_end=joined.allocated_at_end.fill_null(0),
        allocated_at_begin=joined.allocated_at_begin.fill_null(0),
        cash_at_end=joined.cash_at_end.fill_null(0),
    )


def not_void(invoices: ir.Table, as_of: date) -> ir.BooleanValue:
    """Not void as of ``as_of``: open, or voided later (tables without ``voided_on``: void is void)."""
    is_open = invoices.status != "void"
    if "voided_on" not in invoices.columns:
        return is_open
    return is_open | (invoices.voided_on.notnull() & (invoices.voided_on > as_of))


def _month(column: ir.DateValue, dialect: str | None) -> ir.Value:
    """The calendar month of a date: a date (first day) or, on SQLite, the text ``YYYY-MM``."""
    if dialect == "sqlite":  # dates are ISO text there: a substring beats date arithmetic
        return column.cast("string").substr(0, 7)
    return column.truncate("M")


def invoice_aggregates(
    tables: LedgerTables, params: KpiParams, backend: BaseBackend | None = None, *, by_month: bool = False
) -> ir.Table:
    """Everything the invoices contribute, per currency (and group), in one aggregation.

    With ``by_month`` the rows are also split by issue month (``month``) and carry
    ``invoiced``, the month's invoiced amount: Python adds the months up, and countback DSO
    needs no second scan of the invoices. ``backend`` (or the tables' own) only picks the
    fastest functions for its SQL dialect.
    """
    period = params.period
    dialect = backend.name if backend is not None else backend_name(tables.invoices)
    frame = invoice_frame(tables, params, dialect)
    if by_month:
        frame = frame.mutate(month=_month(frame.issue_date, dialect))
    amount = frame.amount_units
    open_at_end = amount - frame.allocated_at_end
    existed_before = frame.issue_date <= period.day_before
    open_at_begin = ibis.ifelse(existed_before, amount - frame.allocated_at_begin, 0)
    # Settled during the period, and by cash at least in part (credit notes alone are no payment);
    # the payment date is the last cash allocation's.
    paid = (frame.allocated_at_end >= amount) & (frame.allocated_at_begin < amount) & (frame.cash_at_end > 0)
    paid_day = day_number(frame.last_cash_date, dialect)
    days_to_pay = paid_day - day_number(frame.issue_date, dialect)
    days_late = paid_day - day_number(frame.due_date, dialect)

    def when_paid(value: ir.IntegerValue) -> ir.IntegerScalar:
        return ibis.ifelse(paid, value, 0).sum()

    metrics: dict[str, ir.Scalar] = {
        "invoices_open": open_at_end.sum(),
        "invoices_open_count": ibis.ifelse(open_at_end > 0, 1, 0).sum(),
        "invoices_open_begin": open_at_begin.sum(),
        "invoiced_in_period": ibis.ifelse(frame.issue_date >= period.start, amount, 0).sum(),
        "credit_allocated": (frame.allocated_at_end - frame.cash_at_end).sum(),
        "cash_allocated": frame.cash_at_end.sum(),
        # AR at S − 1 is reported whole, not split into open credits and unapplied cash: in
        # their sum the cash share of the allocations cancels, so no per-invoice cash sum at
        # S − 1 (one state fewer in the per-invoice aggregate, issue 20).
        "allocated_begin": frame.allocated_at_begin.sum(),
        "paid_count": when_paid(ibis.literal(1)),
        "paid_amount": when_paid(amount),
        "paid_days_to_pay": when_paid(days_to_pay),
        "paid_days_late": when_paid(days_late),
        "paid_weighted_days_to_pay": when_paid(amount * days_to_pay),
        "paid_weighted_days_late": when_paid(amount * days_late),
        "paid_weighted_days_beyond": when_paid(amount * ibis.greatest(days_late, 0)),
    }
    for index, bucket in enumerate(params.aging.buckets):
        # days past due = A − due ∈ [low, high]  ⇔  due ∈ [A − high, A − low]: plain date
        # comparisons, fast on every backend.
        condition = ibis.literal(True)
        if bucket.high is not None:
            condition &= frame.due_date >= params.as_of - timedelta(days=bucket.high)
        if bucket.low is not None:
            condition &= frame.due_date <= params.as_of - timedelta(days=bucket.low)
        metrics[f"bucket_{index}"] = ibis.ifelse(condition, open_at_end, 0).sum()
    if by_month:
        metrics["invoiced"] = amount.sum()
        return frame.group_by([*_keys(params), "month"]).aggregate(**metrics)
    return frame.group_by(_keys(params)).aggregate(**metrics)


def balance_aggregates(
    tables: LedgerTables, params: KpiParams, backend: BaseBackend | None = None, *, by_month: bool = False
) -> ir.Table:
    """Credit notes and payments dated by A: totals at A, at S − 1, and within the period.

    With ``by_month`` the rows are split by the document's month (for countback DSO).
    """
    period = params.period
    dialect = backend.name if backend is not None else backend_name(tables.payments)
    parts = []
    for kind, table in (("credit", tables.credit_notes), ("cash", tables.payments)):
        table = _scoped(table, params)
        table = table.filter(table.date <= params.as_of)
        table = _only_customers(table, tables.customers, params)
        table = _group_key(table, tables.customers, params.group_by)
        columns = {"kind": ibis.literal(kind), "units": money_units(table.amount)}
        if by_month:
            columns["month"] = _month(table.date, dialect)
        parts.append(table.select(*_keys(params), "date", **columns))
    documents = parts[0].union(parts[1])
    keys = ["kind", *_keys(params), *(["month"] if by_month else [])]
    return documents.group_by(keys).aggregate(
        at_end=documents.units.sum(),
        at_begin=ibis.ifelse(documents.date <= period.day_before, documents.units, 0).sum(),
        in_period=ibis.ifelse(documents.date >= period.start, documents.units, 0).sum(),
    )


def monthly_sales(tables: LedgerTables, params: KpiParams) -> ir.Table:
    """Credit sales (invoices − credit notes) per calendar month up to A, for countback DSO."""
    first = month_start(add_months(params.as_of, -(params.countback_months - 1)))
    invoices = _scoped(tables.invoices, params)
    invoices = invoices.filter(
        not_void(invoices, params.as_of), invoices.issue_date <= params.as_of, invoices.issue_date >= first
    )
    invoices = _only_customers(invoices, tables.customers, params)
    invoices = _group_key(invoices, tables.customers, params.group_by)
    credits = _scoped(tables.credit_notes, params)
    credits = credits.filter(credits.date <= params.as_of, credits.date >= first)
    credits = _only_customers(credits, tables.customers, params)
    credits = _group_key(credits, tables.customers, params.group_by)
    both = invoices.select(
        *_keys(params), month=invoices.issue_date.truncate("M"), units=money_units(invoices.amount)
    ).union(
        credits.select(*_keys(params), month=credits.date.truncate("M"), units=-money_units(credits.amount))
    )
    return both.group_by([*_keys(params), "month"]).aggregate(units=both.units.sum())


def _month_start(value: Any) -> date:
    """A month key from any backend (a date, a timestamp or SQLite's ``YYYY-MM``) as its first day."""
    if isinstance(value, str):
        return date(int(value[:4]), int(value[5:7]), 1)
    if hasattr(value, "date"):
        value = value.date()
    first: date = value.replace(day=1)
    return first


# --- execution --------------------------------------------------------------------------------

Key = tuple[str, str | None]


def _rows(expr: ir.Table, backend: BaseBackend | None) -> list[dict[str, Any]]:
    backend = backend if backend is not None else expr.get_backend()
    if backend.name == "duckdb":
        # Ibis's to_pyarrow converts through its pandas module: importing pandas is ~0.4 s CPU,
        # a tenth of `relance kpi` on Parquet. DuckDB's Arrow result cast to the expression's
        # schema is the same table (its sums come back as 128-bit decimals).
        arrow = backend._to_duckdb_relation(expr).to_arrow_table().cast(expr.schema().to_pyarrow())
    else:
        arrow = backend.to_pyarrow(expr)
    rows: list[dict[str, Any]] = arrow.to_pylist()
    return rows


def _key(row: Mapping[str, Any], params: KpiParams) -> Key:
    return (row["currency"], None if params.group_by is None else row["group_key"])


def _countback_months(as_of: date, by_month: Mapping[date, int], lookback: int) -> list[MonthSales]:
    """Months from the as-of month back to the oldest month with sales (the latest partial)."""
    if not by_month:
        return []
    oldest = max(min(by_month), month_start(add_months(as_of, -(lookback - 1))))
    months = []
    start = month_start(as_of)
    end = as_of
    while start >= oldest:
        months.append(MonthSales(_money(by_month.get(start, 0)), (end - start).days + 1))
        end = start - timedelta(days=1)
        start = month_start(end)
    return months


def _report(
    key: Key,
    params: KpiParams,
    invoices: Mapping[str, int],
    balances: Mapping[str, Mapping[str, int]],
    months: Mapping[date, int],
) -> KpiReport:
    period = params.period

    def inv(name: str) -> int:
        return int(invoices.get(name) or 0)

    def bal(kind: str, name: str) -> int:
        return int(balances.get(kind, {}).get(name) or 0)

    gross = _money(inv("invoices_open"))
    open_credits = _money(bal("credit", "at_end") - inv("credit_allocated"))
    unapplied = _money(bal("cash", "at_end") - inv("cash_allocated"))
    ar_total = gross - open_credits - unapplied
    begin = (
        _money(inv("invoices_open_begin"))
        - _money(bal("credit", "at_begin"))
        - _money(bal("cash", "at_begin"))
        + _money(inv("allocated_begin"))  # what credits and cash had settled by S − 1
    )
    aging = tuple(
        (bucket.label, _money(inv(f"bucket_{index}"))) for index, bucket in enumerate(params.aging.buckets)
    )
    current_label = params.aging.current.label
    ar_current = dict(aging)[current_label]
    invoiced = _money(inv("invoiced_in_period"))
    credited = _money(bal("credit", "in_period"))
    sales = invoiced - credited
    stats = PaymentStats(
        count=inv("paid_count"),
        amount=_money(inv("paid_amount")),
        days_to_pay=inv("paid_days_to_pay"),
        days_late=inv("paid_days_late"),
        weighted_days_to_pay=_money(inv("paid_weighted_days_to_pay")),
        weighted_days_late=_money(inv("paid_weighted_days_late")),
        weighted_days_beyond_terms=_money(inv("paid_weighted_days_beyond")),
    )
    dso = formulas.dso_standard(ar_total, sales, period.days)
    bpdso = formulas.best_possible_dso(ar_current, sales, period.days)
    countback = formulas.dso_countback(
        ar_total, _countback_months(params.as_of, months, params.countback_months)
    )
    turnover = formulas.receivables_turnover(sales, begin, ar_total)
    return KpiReport(
        as_of=params.as_of,
        period_start=period.start,
        period_end=period.end,
        currency=key[0],
        group=key[1],
        days_in_period=period.days,
        months_in_period=period.months,
        ar_total=ar_total,
        ar_gross_invoices=gross,
        open_credits=open_credits,
        unapplied_cash=unapplied,
        ar_current=ar_current,
        ar_past_due=gross - ar_current,
        aging=aging,
        open_invoices=inv("invoices_open_count"),
        ar_begin=begin,
        invoiced_in_period=invoiced,
        credited_in_period=credited,
        credit_sales=sales,
        invoices_paid_in_period=stats.count,
        amount_paid_in_period=stats.amount,
        dso=dso,
        dso_countback=countback.days,
        dso_countback_stopped=countback.stopped,
        bpdso=bpdso,
        add=formulas.average_days_delinquent(dso, bpdso),
        cei=formulas.collection_effectiveness_index(begin, sales, period.months, ar_total, ar_current),
        dbt=formulas.days_beyond_terms(stats),
        average_days_to_pay=formulas.average_days_to_pay(stats),
        weighted_average_days_to_pay=formulas.weighted_average_days_to_pay(stats),
        weighted_average_days_late=formulas.weighted_average_days_late(stats),
        average_days_late=formulas.average_days_late(stats),
        turnover=turnover,
        turnover_annualised=formulas.receivables_turnover_annualised(turnover, period.months),
        percent_current=formulas.percent_of(ar_current, gross),
        percent_past_due=formulas.percent_of(gross - ar_current, gross),
        monthly_sales=tuple(sorted((month, _money(units)) for month, units in months.items())),
    )


def compute_kpis(
    tables: LedgerTables, params: KpiParams, *, backend: BaseBackend | None = None
) -> list[KpiReport]:
    """Every KPI per currency (and per group when ``params.group_by``), sorted by currency, group.

    ``tables`` are bound to a backend, or unbound and run on ``backend`` (the app-database
    binding does this).

    With ``params.currency`` set, that currency always gets a report (all zeros and nulls when
    the ledger holds nothing in it); otherwise one report per currency found.
    """
    # Monthly sales ride along in the two main queries (split by month, added up here), except
    # by customer, where customers × months rows would outweigh one more small query.
    by_month = params.group_by != "customer"
    invoice_rows: dict[Key, dict[str, int]] = {}
    month_rows: dict[Key, dict[date, int]] = {}
    for row in _rows(invoice_aggregates(tables, params, backend, by_month=by_month), backend):
        key = _key(row, params)
        totals = invoice_rows.setdefault(key, {})
        for name, value in row.items():
            if isinstance(value, int):
                totals[name] = totals.get(name, 0) + value
        if by_month:
            months = month_rows.setdefault(key, {})
            month = _month_start(row["month"])
            months[month] = months.get(month, 0) + int(row["invoiced"] or 0)
    balance_rows: dict[Key, dict[str, dict[str, int]]] = {}
    for row in _rows(balance_aggregates(tables, params, backend, by_month=by_month), backend):
        key = _key(row, params)
        totals = balance_rows.setdefault(key, {}).setdefault(row["kind"], {})
        for name in ("at_end", "at_begin", "in_period"):
            totals[name] = totals.get(name, 0) + int(row[name] or 0)
        if by_month and row["kind"] == "credit":
            months = month_rows.setdefault(key, {})
            month = _month_start(row["month"])
            months[month] = months.get(month, 0) - int(row["at_end"] or 0)
    if not by_month:
        for row in _rows(monthly_sales(tables, params), backend):
            month_rows.setdefault(_key(row, params), {})[_month_start(row["month"])] = int(row["units"])
    keys: set[Key] = set(invoice_rows) | set(balance_rows) | set(month_rows)
    if params.currency is not None and params.group_by is None:
        keys.add((params.currency, None))
    return [
        _report(key, params, invoice_rows.get(key, {}), balance_rows.get(key, {}), month_rows.get(key, {}))
        for key in sorted(keys, key=lambda key: (key[0], key[1] or ""))
    ]


def period_for(as_of: date, period_start: date | None = None) -> Period:
    """The period a report covers: ``[period_start, as_of]`` or the trailing 3 calendar months."""
    return KpiParams(as_of=as_of, period_start=period_start).period


__all__: Sequence[str] = (
    "GROUP_BY_CHOICES",
    "KpiParams",
    "KpiReport",
    "compute_kpis",
    "invoice_frame",
    "period_for",
)

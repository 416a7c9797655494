"""KPI arithmetic, one function per KPI, exactly as defined in commercial-and-kpis.md §4.

Pure Python on ``Decimal``: the engine computes the inputs (sums over the ledger) on a backend
and applies these functions, so every backend and every caller shares one definition. A ratio
whose denominator is zero (or not meaningful, see each function) is ``None``, never an error:
a KPI that cannot be computed is shown as null, not as a crash or a fake zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from relance.core.errors import ValidationFailed

#: How KPIs may be grouped (``relance kpi --by``); here, not in ``kpi``, so that a command can offer
#: the choices without loading Ibis.
GROUP_BY_CHOICES = ("customer", "segment", "collector")

ZERO = Decimal(0)
HUNDRED = Decimal(100)
DAYS_PER_YEAR = Decimal(365)
MONTHS_PER_YEAR = Decimal(12)

ERROR_BUCKETS_EMPTY = "aging buckets: at least one bucket is needed"
ERROR_BUCKETS_FIRST_OPEN = (
    "aging buckets: the first bucket must have no lower bound (it catches every early day)"
)
ERROR_BUCKETS_LAST_OPEN = (
    "aging buckets: the last bucket must have no upper bound (it catches every late day)"
)
ERROR_BUCKETS_GAP = (
    "aging buckets: {label!r} must start at {expected} (the day after the previous bucket ends)"
)
ERROR_BUCKETS_ORDER = "aging buckets: {label!r} ends ({high}) before it starts ({low})"
ERROR_BUCKETS_LABEL = "aging buckets: labels must be unique and non-empty"


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    if denominator == 0:
        return None
    return Decimal(numerator) / Decimal(denominator)


# --- DSO family -------------------------------------------------------------------------------


def dso_standard(ending_ar: Decimal, credit_sales: Decimal, days_in_period: int) -> Decimal | None:
    """§4.1 ``ending total AR ÷ credit sales × days``. None when there were no positive sales."""
    if credit_sales <= 0:
        return None
    return Decimal(ending_ar) / Decimal(credit_sales) * days_in_period


def dso_average_ar(
    beginning_ar: Decimal, ending_ar: Decimal, credit_sales: Decimal, days_in_period: int
) -> Decimal | None:
    """§4.1 variant on *average* AR: ``(begin + end) / 2 ÷ credit sales × days``.

    Equals ``days ÷ turnover`` (§4.8's cross-check); shown beside the standard DSO because
    sources disagree on which one "DSO" means.
    """
    return dso_standard((Decimal(beginning_ar) + Decimal(ending_ar)) / 2, credit_sales, days_in_period)


def aging_from_bounds(text: str) -> AgingBuckets:
    """Buckets from inclusive upper bounds written ``0,30,60,90`` → current, 1-30, 31-60, 61-90, 91+."""
    try:
        bounds = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise ValidationFailed(
            f"aging buckets: expected upper bounds such as 0,30,60,90, found {text!r}"
        ) from None
    if not bounds:
        raise ValidationFailed("aging buckets: expected upper bounds such as 0,30,60,90, found nothing")
    labels = [f"≤{bounds[0]}" if bounds[0] != 0 else "current"]
    labels += [f"{low + 1}-{high}" for low, high in zip(bounds, bounds[1:], strict=False)]
    labels.append(f"{bounds[-1] + 1}+")
    return AgingBuckets.from_upper_bounds(tuple(labels), tuple(bounds))


def best_possible_dso(current_ar: Decimal, credit_sales: Decimal, days_in_period: int) -> Decimal | None:
    """§4.3 ``current (not yet due) AR ÷ credit sales × days``."""
    return dso_standard(current_ar, credit_sales, days_in_period)


def average_days_delinquent(dso: Decimal | None, bpdso: Decimal | None) -> Decimal | None:
    """§4.4 portfolio ADD = DSO − BPDSO (not the invoice-level "days overdue")."""
    if dso is None or bpdso is None:
        return None
    return dso - bpdso


@dataclass(frozen=True)
class MonthSales:
    """Credit sales of one calendar month (or the part of it up to the as-of date) and its days."""

    sales: Decimal
    days: int


COUNTBACK_COMPLETE = "complete"
COUNTBACK_HISTORY_EXHAUSTED = "history_exhausted"
COUNTBACK_NON_POSITIVE_SALES = "non_positive_sales"


@dataclass(frozen=True)
class Countback:
    """Countback DSO and why the walk stopped (only ``complete`` is a full measurement)."""

    days: Decimal
    stopped: str  # COUNTBACK_COMPLETE, COUNTBACK_HISTORY_EXHAUSTED or COUNTBACK_NON_POSITIVE_SALES

    @property
    def history_exhausted(self) -> bool:
        return self.stopped == COUNTBACK_HISTORY_EXHAUSTED


def dso_countback(ending_ar: Decimal, months_latest_first: Iterable[MonthSales]) -> Countback:
    """§4.2 countback (exhaustion) DSO.

    Walk back from the latest month: while the remaining AR is at least the month's sales, add
    all its days and subtract its sales; at the first month whose sales exceed the remainder add
    ``remainder ÷ sales × days`` and stop. A month with sales ≤ 0 stops the walk (as Oracle HFM
    does) — except the latest month when it has no sales yet (an as-of date early in a month):
    its elapsed days count and the walk goes on, so the 1st of a month does not read 0 days.
    Running out of months before the AR is used up returns the days so far, flagged.
    """
    remaining = Decimal(ending_ar)
    days = ZERO
    if remaining <= 0:
        return Countback(ZERO, COUNTBACK_COMPLETE)
    for index, month in enumerate(months_latest_first):
        if index == 0 and month.sales == 0:
            days += month.days
            continue
        if month.sales <= 0:
            return Countback(days, COUNTBACK_NON_POSITIVE_SALES)
        if remaining >= month.sales:
            days += month.days
            remaining -= month.sales
            if remaining == 0:
                return Countback(days, COUNTBACK_COMPLETE)
        else:
            return Countback(days + remaining / month.sales * month.days, COUNTBACK_COMPLETE)
    return Countback(days, COUNTBACK_HISTORY_EXHAUSTED)


def collection_effectiveness_index(
    beginning_ar: Decimal,
    credit_sales: Decimal,
    months: int,
    ending_ar: Decimal,
    ending_current_ar: Decimal,
) -> Decimal | None:
    """§4.5 CEI in %, N = calendar months in the period (never days: N = days gives nonsense).

    ``[begin AR + sales/N − end AR] ÷ [begin AR + sales/N − end current AR] × 100``
    """
    if months <= 0:
        return None
    base = Decimal(beginning_ar) + Decimal(credit_sales) / months
    ratio = _ratio(base - ending_ar, base - ending_current_ar)
    return None if ratio is None else ratio * HUNDRED


def receivables_turnover(credit_sales: Decimal, beginning_ar: Decimal, ending_ar: Decimal) -> Decimal | None:
    """§4.8 ``credit sales ÷ average AR`` with average AR = (opening + closing) / 2."""
    return _ratio(Decimal(credit_sales), (Decimal(beginning_ar) + Decimal(ending_ar)) / 2)


def receivables_turnover_annualised(turnover: Decimal | None, months: int) -> Decimal | None:
    """Turnover scaled to a year by calendar months (a quarter × 4), as in the §4.8 example."""
    if turnover is None or months <= 0:
        return None
    return turnover * MONTHS_PER_YEAR / months


def turnover_days(annualised_turnover: Decimal | None) -> Decimal | None:
    """365 ÷ annualised turnover: the average-AR DSO cross-check of §4.8."""
    if annualised_turnover is None or annualised_turnover == 0:
        return None
    return DAYS_PER_YEAR / annualised_turnover


def percent_of(part: Decimal, total: Decimal) -> Decimal | None:
    """``part ÷ total × 100`` (e.g. % current, % 91+ of AR)."""
    ratio = _ratio(Decimal(part), Decimal(total))
    return None if ratio is None else ratio * HUNDRED


# --- Paid-invoice measures --------------------------------------------------------------------


@dataclass(frozen=True)
class PaidInvoice:
    """An invoice fully paid in the period; ``paid`` is the date of the allocation that closed it."""

    amount: Decimal
    issued: date
    due: date
    paid: date


@dataclass(frozen=True)
class PaymentStats:
    """Sums over invoices fully paid in a period: all the paid-invoice KPIs derive from these.

    The engine computes them as SQL aggregates; ``from_invoices`` is the same thing in Python.
    Weighted sums are ``Σ amount × days``.
    """

    count: int = 0
    amount: Decimal = ZERO
    days_to_pay: int = 0  # Σ (paid − issued)
    days_late: int = 0  # Σ (paid − due), negatives allowed
    weighted_days_to_pay: Decimal = ZERO  # Σ amount × (paid − issued)
    weighted_days_late: Decimal = ZERO  # Σ amount × (paid − due)
    weighted_days_beyond_terms: Decimal = ZERO  # Σ amount × max(0, paid − due)

    @classmethod
    def from_invoices(cls, invoices: Iterable[PaidInvoice]) -> PaymentStats:
        count, amount, to_pay, late = 0, ZERO, 0, 0
        w_to_pay, w_late, w_beyond = ZERO, ZERO, ZERO
        for invoice in invoices:
            days_to_pay = (invoice.paid - invoice.issued).days
            days_late = (invoice.paid - invoice.due).days
            count += 1
            amount += invoice.amount
            to_pay += days_to_pay
            late += days_late
            w_to_pay += invoice.amount * days_to_pay
            w_late += invoice.amount * days_late
            w_beyond += invoice.amount * max(0, days_late)
        return cls(count, amount, to_pay, late, w_to_pay, w_late, w_beyond)


def days_beyond_terms(stats: PaymentStats) -> Decimal | None:
    """§4.6 DBT: amount-weighted ``max(0, paid − due)``; paying early counts as 0, not negative."""
    return _ratio(stats.weighted_days_beyond_terms, stats.amount)


def average_days_to_pay(stats: PaymentStats) -> Decimal | None:
    """§4.7 simple ADP: mean of (paid − invoice date)."""
    return _ratio(Decimal(stats.days_to_pay), Decimal(stats.count))


def weighted_average_days_to_pay(stats: PaymentStats) -> Decimal | None:
    """§4.7 WAP (Oracle): ``Σ amount × (paid − invoice date) ÷ Σ amount``."""
    return _ratio(stats.weighted_days_to_pay, stats.amount)


def weighted_average_days_late(stats: PaymentStats) -> Decimal | None:
    """§4.7 WADL (Oracle): ``Σ amount × (paid − due) ÷ Σ amount``, early payment negative."""
    return _ratio(stats.weighted_days_late, stats.amount)


def average_days_late(stats: PaymentStats) -> Decimal | None:
    """§4.7 Kolleno "average days to pay" after due: simple mean of (paid − due), negatives allowed."""
    return _ratio(Decimal(stats.days_late), Decimal(stats.count))


# --- Aging ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgingBucket:
    """Days past due from ``low`` to ``high``, both inclusive; None is unbounded on that side."""

    label: str
    low: int | None
    high: int | None

    def contains(self, days_past_due: int) -> bool:
        return (self.low is None or days_past_due >= self.low) and (
            self.high is None or days_past_due <= self.high
        )


@dataclass(frozen=True)
class AgingBuckets:
    """Contiguous, non-overlapping inclusive ranges of days past due covering every integer.

    Aged on the due date (DPD = as-of − due date), so "current" means not yet due (§4.9).
    """

    buckets: tuple[AgingBucket, ...]

    def __post_init__(self) -> None:
        if not self.buckets:
            raise ValidationFailed(ERROR_BUCKETS_EMPTY)
        labels = [bucket.label for bucket in self.buckets]
        if len(set(labels)) != len(labels) or not all(labels):
            raise ValidationFailed(ERROR_BUCKETS_LABEL)
        if self.buckets[0].low is not None:
            raise ValidationFailed(ERROR_BUCKETS_FIRST_OPEN)
        if self.buckets[-1].high is not None:
            raise ValidationFailed(ERROR_BUCKETS_LAST_OPEN)
        previous_high: int | None = None
        for index, bucket in enumerate(self.buckets):
            if index > 0:
                expected = None if previous_high is None else previous_high + 1
                if bucket.low is None or bucket.low != expected:
                    raise ValidationFailed(ERROR_BUCKETS_GAP.format(label=bucket.label, expected=expected))
            if bucket.low is not None and bucket.high is not None and bucket.high < bucket.low:
                raise ValidationFailed(
                    ERROR_BUCKETS_ORDER.format(label=bucket.label, low=bucket.low, high=bucket.high)
                )
            if index < len(self.buckets) - 1 and bucket.high is None:
                raise ValidationFailed(ERROR_BUCKETS_LAST_OPEN)
            previous_high = bucket.high

    @classmethod
    def from_upper_bounds(cls, labels: Sequence[str], upper_bounds: Sequence[int]) -> AgingBuckets:
        """Buckets from their inclusive upper bounds: (current, 1-30, …) with (0, 30, …)."""
        if len(labels) != len(upper_bounds) + 1:
            raise ValidationFailed("aging buckets: one more label than upper bounds is needed")
        lows: list[int | None] = [None, *(bound + 1 for bound in upper_bounds)]
        highs: list[int | None] = [*upper_bounds, None]
        return cls(
            tuple(AgingBucket(label, low, high) for label, low, high in zip(labels, lows, highs, strict=True))
        )

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(bucket.label for bucket in self.buckets)

    @property
    def current(self) -> AgingBucket:
        """The bucket holding day 0 (due today = not yet past due)."""
        return self.bucket_for(0)

    def bucket_for(self, days_past_due: int) -> AgingBucket:
        for bucket in self.buckets:
            if bucket.contains(days_past_due):
                return bucket
        raise AssertionError("validated buckets cover every integer")  # pragma: no cover


DEFAULT_AGING = AgingBuckets.from_upper_bounds(("current", "1-30", "31-60", "61-90", "91+"), (0, 30, 60, 90))

"""The cash forecast from the predictions stored for a date (``relance forecast``, the API).

The pure ``relance.ml.forecast`` sums the stored pay-date distributions; this reads the rows as
columns (no object per invoice), the entity's exchange rates as of the date, and the customer or
segment of each invoice when the forecast is asked by group.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from relance.ledger.models import Entity
from relance.ledger.selectors import rate_table
from relance.ml.forecast import DEFAULT_WEEKS, ForecastReport, PayDateArrays, Scenario, forecast
from relance.predict.models import InvoicePrediction, PredictionRun

GROUPS = ("customer", "segment")
NO_PREDICTIONS = "no predictions stored as of {as_of}: run `relance predict --as-of {as_of}` first"
SOURCE_STORED = "stored predictions of {as_of} ({model}, run {run})"
SOURCE_COMPUTED = "no predictions were stored as of {as_of}: computed ({model}) and stored them now"


@dataclass(frozen=True)
class StoredForecast:
    report: ForecastReport
    source: str  # which predictions: stored, or computed now


def stored_run(*, entity: Entity, as_of: date) -> PredictionRun | None:
    """The entity's newest run of ``as_of``."""
    return PredictionRun.objects.filter(entity=entity, as_of=as_of).order_by("-id").first()


def stored_pay_dates(*, run: PredictionRun, by: str | None = None) -> tuple[PayDateArrays, list[str] | None]:
    """The run's rows as forecast columns, and each invoice's customer ref or segment (``by``)."""
    fields = [
        "invoice__external_ref",
        "invoice__customer__external_ref",
        "currency",
        "open_amount",
        "pay_date_p10",
        "expected_pay_date",
        "pay_date_p90",
    ]
    if by == "segment":
        fields.append("invoice__customer__segment")
    rows = list(InvoicePrediction.objects.filter(run=run).order_by("invoice_id").values_list(*fields))
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in fields]
    arrays = PayDateArrays.of_columns(
        invoice_refs=columns[0],
        customer_refs=columns[1],
        currencies=columns[2],
        open_amounts=columns[3],
        p10=columns[4],
        median=columns[5],
        p90=columns[6],
    )
    if by == "customer":
        return arrays, list(columns[1])
    if by == "segment":
        return arrays, [segment or "(no segment)" for segment in columns[7]]
    return arrays, None


def forecast_from_stored(
    *,
    entity: Entity,
    as_of: date,
    weeks: int = DEFAULT_WEEKS,
    by: str | None = None,
    scenario: Scenario | None = None,
    seed: int = 0,
    compute: Callable[[], PredictionRun] | None = None,
) -> StoredForecast:
    """The forecast of the predictions stored as of ``as_of``; when none are and ``compute`` is
    given, it is called to predict and store them first (and the source says so). Without
    ``compute``, no stored run is a ``NotFound``."""
    from relance.core.errors import NotFound

    run = stored_run(entity=entity, as_of=as_of)
    if run is None and compute is None:
        raise NotFound(NO_PREDICTIONS.format(as_of=as_of.isoformat()), code="not_found")
    if run is None:
        assert compute is not None
        run = compute()
        source = SOURCE_COMPUTED.format(as_of=as_of.isoformat(), model=run.model)
    else:
        source = SOURCE_STORED.format(as_of=as_of.isoformat(), model=run.model, run=run.pk)
    arrays, labels = stored_pay_dates(run=run, by=by)
    report = forecast(
        arrays,
        as_of,
        currency=entity.currency,
        rates=rate_table(entity=entity, on=as_of),
        weeks=weeks,
        group_labels=labels,
        scenario=scenario,
        seed=seed,
    )
    return StoredForecast(report=report, source=source)


@dataclass(frozen=True)
class WeekOnChart:
    """One week of the dashboard's forecast: expected with its p10–p90 band, and what came in
    for the weeks already over on the dashboard's date (None for the others)."""

    start: date
    expected: Decimal
    low: Decimal
    high: Decimal
    came_in: Decimal | None


@dataclass(frozen=True)
class DashboardForecast:
    run: PredictionRun
    currency: str
    weeks: tuple[WeekOnChart, ...]
    source: str


def dashboard_forecast(
    *, entity: Entity, as_of: date, currency: str, weeks: int = DEFAULT_WEEKS
) -> DashboardForecast | None:
    """The forecast of the entity's newest predictions made on or before ``as_of``, of the
    invoices in ``currency`` (never converted: the dashboard adds no currencies up), with what came in during the
    weeks that are over by ``as_of``: cash allocated to the run's invoices in each week, so a
    forecast made weeks ago is shown against what happened. None when nothing was ever predicted.

    The forecast itself is cached per run and currency (a run's rows never change)."""
    from django.core.cache import cache
    from django.db.models import Sum

    from relance.ledger.models import Allocation

    run = PredictionRun.objects.filter(entity=entity, as_of__lte=as_of).order_by("-as_of", "-id").first()
    if run is None:
        return None
    key = f"relance:forecast:{run.pk}:{currency}:{weeks}"
    buckets = cache.get(key)
    if buckets is None:
        report = forecast_from_stored(entity=entity, as_of=run.as_of, weeks=weeks).report
        chosen = next((one for one in report.by_currency if one.currency == currency), None)
        buckets = [] if chosen is None else [(b.start, b.expected, b.low, b.high) for b in chosen.weeks]
        cache.set(key, buckets, 24 * 3600)
    over = [start for start, *_ in buckets if start + timedelta(days=6) <= as_of]
    came_in: dict[date, Decimal] = dict.fromkeys(over, Decimal(0))
    if over:  # one query: the cash allocated to the run's invoices per day of the weeks that are over
        for on, amount in (
            Allocation.objects.filter(
                invoice_id__in=InvoicePrediction.objects.filter(run=run).values("invoice_id"),
                invoice__currency=currency,
                date__range=(over[0], over[-1] + timedelta(days=6)),
            )
            .values("date")
            .annotate(total=Sum("amount"))
            .values_list("date", "total")
        ):
            week = next(start for start in reversed(over) if start <= on)
            came_in[week] += Decimal(amount)
    shown = tuple(
        WeekOnChart(start, expected, low, high, came_in.get(start)) for start, expected, low, high in buckets
    )
    return DashboardForecast(
        run=run,
        currency=currency,
        weeks=shown,
        source=SOURCE_STORED.format(as_of=run.as_of.isoformat(), model=run.model, run=run.pk),
    )

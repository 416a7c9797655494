"""The cash forecast from the predictions stored for a date (``relance forecast``, the API).

The pure ``relance.ml.forecast`` sums the stored pay-date distributions; this reads the rows as
columns (no object per invoice), the entity's exchange rates as of the date, and the customer or
segment of each invoice when the forecast is asked by group.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

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

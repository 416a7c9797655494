"""``GET /forecast``: the cash forecast from the stored predictions of a date (issue 16).

Read from the runs ``relance predict`` stored, never predicted on the request: a date with no
stored run is a 404 saying which command makes one. Scoped to the caller's entity.
(No ``from __future__ import annotations`` here: Ninja reads the hints.)
"""

from datetime import date
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from relance.api import selectors
from relance.api.params import ERRORS, EntityName
from relance.core.errors import NotFound
from relance.predict.forecasting import GROUPS, forecast_from_stored
from relance.predict.selectors import latest_run

router = Router(tags=["predictions"])

NEVER_PREDICTED = "no predictions stored yet: run `relance predict --as-of DATE`"

AsOf = Query(None, description="the stored predictions' date (default: the latest run)")
Weeks = Query(13, ge=1, le=104)
By = Query(None, description="also per customer or segment", pattern="^(customer|segment)$")


class WeekOut(Schema):
    week_start: date = Field(description="a Monday: the first on or after as_of + 1, then every 7 days")
    end: date
    expected: str = Field(description="expected collections, exact decimal text")
    low: str = Field(description="p10 of the week's collections")
    high: str = Field(description="p90 of the week's collections")


class SpanOut(Schema):
    start: date
    end: date | None
    expected: str
    low: str
    high: str


class DayOut(Schema):
    date: date
    expected: str
    low: str
    high: str


class CurrencyForecastOut(Schema):
    currency: str
    group: str | None = None
    invoices: int
    open_amount: str
    weeks: list[WeekOut]
    before_first_week: SpanOut | None
    after_horizon: SpanOut
    days: list[DayOut]


class ForecastOut(CurrencyForecastOut):
    as_of: date
    source: str = Field(description="which stored predictions the forecast sums")
    method: str = Field(description="how the p10-p90 band was computed")
    seed: int
    by_currency: list[CurrencyForecastOut] = Field(description="per currency, as invoiced")
    groups: list[CurrencyForecastOut] = Field(default_factory=list, description="per customer or segment")
    notes: list[str] = Field(description="e.g. a currency left out for want of a rate")
    left_out: dict[str, str] = Field(description="currency → open amount not converted (no rate)")


@router.get("/forecast", response={200: ForecastOut, **ERRORS})
def forecast_get(
    request: HttpRequest,
    entity: str | None = EntityName,
    as_of: date | None = AsOf,
    weeks: int = Weeks,
    by: str | None = By,
) -> dict[str, Any]:
    """Expected collections per week (and per day for two weeks) with a p10–p90 band, in the
    entity's currency, from the stored predictions of ``as_of``."""
    scope = selectors.entity_for_user(user=request.auth, name=entity)  # type: ignore[attr-defined]
    if as_of is None:
        run = latest_run(entity=scope)
        if run is None:
            raise NotFound(NEVER_PREDICTED, code="not_found")
        as_of = run.as_of
    assert by is None or by in GROUPS
    result = forecast_from_stored(entity=scope, as_of=as_of, weeks=weeks, by=by)
    return {**result.report.to_json(), "source": result.source}

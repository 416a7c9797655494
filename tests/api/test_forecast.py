"""``GET /api/v1/forecast``: the stored predictions' forecast, scoped to the caller's entity."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from tests.predict.test_forecast_and_backtest import AS_OF
from tests.predict.test_forecast_and_backtest import ledger as ledger

pytestmark = pytest.mark.django_db


def _run(*args: str) -> None:
    call_command(*args, stdout=io.StringIO(), stderr=io.StringIO())


def test_api_forecast_reads_stored_runs_of_the_callers_entity(ledger, api, other_entity):
    response = api.get("/forecast")
    assert response.status_code == 404
    _run("predict", "--as-of", AS_OF.isoformat(), "--entity", "acme")
    response = api.get("/forecast", {"weeks": 2})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["as_of"] == "2026-06-10" and body["currency"] == "EUR"
    assert [week["week_start"] for week in body["weeks"]] == ["2026-06-15", "2026-06-22"]
    assert api.get("/forecast", {"as_of": "2026-06-01"}).status_code == 404
    assert api.get("/forecast", {"entity": other_entity.name}).status_code in (403, 404)

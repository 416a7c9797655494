"""``relance forecast``, ``relance predict backtest`` and ``GET /api/v1/forecast`` on a small ledger."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from relance.ledger.services import allocation_create
from relance.predict.models import PredictionRun

pytestmark = pytest.mark.django_db

AS_OF = date(2026, 6, 10)  # a Wednesday: the first week starts on Monday 15 June


@pytest.fixture
def ledger(entity, make_customer, make_invoice, make_payment):
    """Two customers, two invoices a month since January: PROMPT pays on the due date, SLOW 20
    days after it; what is issued in May and June is still open on 10 June."""
    for ref, late in (("PROMPT", 0), ("SLOW", 20)):
        customer = make_customer(ref)
        for month in range(1, 7):
            for day in (1, 15):
                issued = date(2026, month, day)
                invoice = make_invoice(
                    customer, f"{ref}-{month}-{day}", "1000.00", issued, issued + timedelta(30)
                )
                paid_on = invoice.due_date + timedelta(late)
                if paid_on <= date(2026, 8, 31) and (month < 5 or paid_on > AS_OF):
                    payment = make_payment(customer, f"P-{invoice.external_ref}", "1000.00", paid_on)
                    allocation_create(payment=payment, invoice=invoice, amount=Decimal("1000.00"), on=paid_on)
    return entity


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _partition(payload: dict) -> Decimal:
    parts = [*payload["weeks"], payload["after_horizon"]]
    if payload["before_first_week"]:
        parts.append(payload["before_first_week"])
    return sum((Decimal(part["expected"]) for part in parts), Decimal(0))


def test_forecast_reads_the_stored_predictions(ledger):
    _run("predict", "--as-of", AS_OF.isoformat(), "--json")
    payload = json.loads(_run("forecast", "--as-of", AS_OF.isoformat(), "--json"))
    assert payload["source"].startswith("stored predictions of 2026-06-10")
    assert payload["currency"] == "EUR"
    assert [week["week_start"] for week in payload["weeks"][:2]] == ["2026-06-15", "2026-06-22"]
    assert len(payload["weeks"]) == 13
    assert _partition(payload) == Decimal(payload["open_amount"])
    for week in payload["weeks"]:
        assert Decimal(week["low"]) <= Decimal(week["expected"]) <= Decimal(week["high"])
    assert PredictionRun.objects.count() == 1


def test_forecast_computes_and_stores_when_nothing_is_stored_and_says_so(ledger):
    payload = json.loads(_run("forecast", "--as-of", AS_OF.isoformat(), "--weeks", "4", "--json"))
    assert payload["source"].startswith("no predictions were stored as of 2026-06-10: computed")
    assert len(payload["weeks"]) == 4
    assert PredictionRun.objects.filter(as_of=AS_OF).count() == 1
    text = _run("forecast", "--as-of", AS_OF.isoformat())
    assert "stored predictions of 2026-06-10" in text and "2026-06-15" in text


def test_forecast_scenarios_and_groups(ledger):
    _run("predict", "--as-of", AS_OF.isoformat())
    base = json.loads(_run("forecast", "--as-of", AS_OF.isoformat(), "--json", "--by", "customer"))
    assert [group["group"] for group in base["groups"]] == ["PROMPT", "SLOW"]
    written = json.loads(
        _run(
            "forecast",
            "--as-of",
            AS_OF.isoformat(),
            "--json",
            "--write-off",
            "SLOW-6-1",
            "--later",
            "PROMPT=30",
        )
    )
    assert Decimal(written["open_amount"]) == Decimal(base["open_amount"]) - Decimal("1000.00")
    assert written["scenario"] == {
        "later_days": {"PROMPT": 30},
        "written_off": ["SLOW-6-1"],
        "written_off_amount": {"EUR": "1000.00"},
    }
    with pytest.raises(CommandError, match="CUSTOMER=DAYS"):
        _run("forecast", "--as-of", AS_OF.isoformat(), "--later", "PROMPT")


def test_backtest_reports_the_model_and_the_baseline_side_by_side(ledger):
    payload = json.loads(_run("predict", "backtest", "--from", "2026-05-10", "--to", "2026-06-10", "--json"))
    assert [cutoff["as_of"] for cutoff in payload["cutoffs"]] == ["2026-05-10", "2026-06-09"]
    for side in ("model", "baseline"):
        summary = payload["summary"][side]
        assert {"accuracy", "late_f1", "pay_date_mae_days", "p10_p90_coverage", "horizon_wape"} <= set(
            summary
        )
    text = _run("predict", "backtest", "--from", "2026-06-10", "--to", "2026-06-10")
    assert "model" in text and "baseline" in text and "pay-date MAE" in text
    with pytest.raises(CommandError, match="1 or more"):
        _run("predict", "backtest", "--from", "2026-06-10", "--to", "2026-06-10", "--every", "0")

"""``relance predict`` on the app database: the JSON contract, the stored run, the API's read."""

from __future__ import annotations

import io
import json
from datetime import date

import pytest
from django.core.management import CommandError, call_command

from relance.ml.pipeline import PredictSettings
from relance.predict.binding import CREDIT_SCORE_TABLE
from relance.predict.models import InvoicePrediction, PredictionRun
from relance.predict.selectors import latest_predictions, prediction_for_invoice
from relance.predict.services import predictions_compute
from tests.predict.conftest import AS_OF

SETTINGS = PredictSettings(n_estimators=20, min_settled=5, snapshots=4, snapshot_every_days=30)


def _predict(*args: str) -> str:
    out = io.StringIO()
    call_command("predict", *args, stdout=out)
    return out.getvalue()


def test_the_credit_scores_are_read_from_the_credit_apps_table() -> None:
    from relance.credit.models import CreditScore

    assert CreditScore._meta.db_table == CREDIT_SCORE_TABLE


def test_json_lists_every_open_invoice_with_the_contract_keys(habits_ledger) -> None:
    rows = json.loads(_predict("--as-of", AS_OF.isoformat(), "--json"))
    assert {row["invoice_ref"] for row in rows} == {"INV-16", "INV-17", "INV-18"}
    for row in rows:
        assert {
            "invoice_ref",
            "customer_ref",
            "p_late",
            "expected_pay_date",
            "pay_date_p10",
            "pay_date_p90",
            "drivers",
        } <= set(row)
        assert 0 <= row["p_late"] <= 1
        assert date.fromisoformat(row["pay_date_p10"]) > AS_OF
        assert row["pay_date_p10"] <= row["expected_pay_date"] <= row["pay_date_p90"]
    run = PredictionRun.objects.get()
    assert run.as_of == AS_OF and run.note
    assert InvoicePrediction.objects.filter(run=run).count() == len(rows)


def test_a_rerun_of_the_same_date_replaces_the_run(habits_ledger, entity) -> None:
    predictions_compute(entity=entity, as_of=AS_OF, settings=SETTINGS)
    run, result = predictions_compute(entity=entity, as_of=AS_OF, settings=SETTINGS)
    assert PredictionRun.objects.get() == run
    assert latest_predictions(entity=entity).count() == len(result.predictions) > 0
    invoice = latest_predictions(entity=entity).first().invoice
    assert prediction_for_invoice(entity=entity, invoice=invoice).run == run


def test_a_date_before_the_first_invoice_is_a_clear_error(habits_ledger) -> None:
    with pytest.raises(CommandError, match="before the first invoice"):
        _predict("--as-of", "2024-01-01")


def test_the_stored_rows_read_back_as_predicted(habits_ledger, entity) -> None:
    """The run is written as rows (COPY on PostgreSQL): every field reads back as computed."""
    run, result = predictions_compute(entity=entity, as_of=AS_OF, settings=SETTINGS)
    stored = {row.invoice_id: row for row in latest_predictions(entity=entity)}
    assert set(stored) == {p.invoice_id for p in result.predictions}
    for p in result.predictions:
        row = stored[p.invoice_id]
        assert (row.run, row.as_of, row.currency, row.open_amount) == (run, AS_OF, p.currency, p.open_amount)
        assert row.p_late == pytest.approx(p.p_late, abs=1e-12)
        assert (row.expected_pay_date, row.pay_date_p10, row.pay_date_p90) == (
            p.expected_pay_date,
            p.pay_date_p10,
            p.pay_date_p90,
        )
        assert row.drivers == [driver.to_json() for driver in p.drivers] and row.drivers

"""GET /api/v1/invoices/{ref}/prediction: the stored prediction, scoped to the caller's entities."""

from __future__ import annotations

from datetime import date

import pytest

from relance.ml.pipeline import PredictSettings
from relance.predict.models import InvoicePrediction
from relance.predict.services import predictions_compute
from tests.predict.conftest import AS_OF, habits_ledger  # noqa: F401 - the fixture

SETTINGS = PredictSettings(n_estimators=20, min_settled=5, snapshots=4, snapshot_every_days=30)
pytestmark = pytest.mark.usefixtures("habits_ledger")


def test_the_api_reads_the_stored_prediction_and_hides_other_entities(
    entity, api, other_entity, make_customer, make_invoice
) -> None:
    run, result = predictions_compute(entity=entity, as_of=AS_OF, settings=SETTINGS)
    prediction = result.predictions[0]
    got = api.get(f"/invoices/{prediction.invoice_ref}/prediction")
    assert got.status_code == 200, got.content
    body = got.json()
    assert body["invoice_ref"] == prediction.invoice_ref
    assert body["expected_pay_date"] == prediction.expected_pay_date.isoformat()
    assert body["model"] == run.model and body["note"] == run.note
    # another entity's invoice (same ref): 404, as if it did not exist
    theirs = make_invoice(make_customer("X", entity=other_entity), "GLX-1", "10", date(2026, 1, 1))
    assert api.get(f"/invoices/{theirs.external_ref}/prediction").status_code == 404
    assert api.get(f"/invoices/{theirs.external_ref}/prediction", {"entity": "globex"}).status_code == 404
    # an invoice with no prediction yet
    paid = InvoicePrediction.objects.values_list("invoice_id", flat=True)
    unpredicted = entity.invoices.exclude(id__in=list(paid)).first()
    assert api.get(f"/invoices/{unpredicted.external_ref}/prediction").status_code == 404

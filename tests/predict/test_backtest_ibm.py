"""The backtest on real data: the IBM Accounts-Receivable sample, imported through the product's
own commands (docs/mappings/ibm-ar.yaml), never copied into the repository. The numbers of the
full run are in docs/benchmarks.md; this checks that it runs and scores both sides sanely."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command

from relance.cases.models import Dispute
from relance.ml.pipeline import PredictSettings
from relance.predict.backtests import predictions_backtest

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

MAPPING = Path(__file__).resolve().parents[2] / "docs" / "mappings" / "ibm-ar.yaml"
FILE_NAME = "WA_Fn-UseC_-Accounts-Receivable.csv"


@pytest.fixture
def ibm(entity, shared_datasets: Path):
    path = shared_datasets / "data" / FILE_NAME
    if not path.is_file():
        pytest.skip(f"SKIPPED: {path} is missing from the shared datasets")
    for kind in ("customers", "invoices", "payments", "disputes"):
        call_command(
            "import", kind, str(path), "--mapping", str(MAPPING), stdout=io.StringIO(), stderr=io.StringIO()
        )
    # the Disputed = Yes rows, opened on the invoice date and resolved on the settled date
    assert Dispute.objects.filter(entity=entity, status="resolved").count() == 561
    return entity


def test_ibm_backtest_scores_the_model_and_the_baseline(ibm):
    settings = PredictSettings(n_estimators=60, snapshots=6, snapshot_every_days=30)
    report = predictions_backtest(
        entity=ibm, cutoffs=[date(2013, 9, 1), date(2013, 11, 1)], settings=settings
    )
    assert report.observed_until == date(2014, 1, 9)  # the last settlement of the file
    assert {cutoff.model_used for cutoff in report.cutoffs} == {"survival"}
    for side in ("model", "baseline"):
        summary = report.summary[side]
        assert summary.scores.late_known > 100
        assert summary.scores.paid == summary.scores.late_known  # every invoice of the file was settled
        assert 0.6 < (summary.scores.accuracy or 0) <= 1
        assert summary.scores.pay_date_mae_days is not None and summary.scores.pay_date_mae_days < 15
        assert summary.horizon_wape[4] is not None

"""The backtest on a tiny ledger checked by hand (relance.ml.backtest)."""

from __future__ import annotations

from datetime import date

import ibis
import pytest

from relance.engine.dunning.tables import create_dunning_tables
from relance.ml.backtest import backtest, cutoff_dates
from relance.ml.pipeline import PredictSettings
from tests.engine.dunning.rows import DunningRows

AS_OF = date(2026, 3, 4)  # a Wednesday: week 1 is 9–15 March
FAST = PredictSettings(n_estimators=20, min_settled=50, snapshots=3, snapshot_every_days=30)


def _tiny():
    """No settled history before the cutoff: both sides are the baseline with no history, which
    expects every invoice on its due date and calls each late with p 0.5 (relance.ml.baseline).

    X 1,000 due 31 March, paid 10 March (on time, 21 days before the expected day)
    Y   500 due 1 April, paid 5 April (late, 4 days after)
    Z   200 due 2 April, never paid: late by 5 April, the ledger's last fact
    """
    rows = DunningRows()
    customer = rows.dunned_customer("C1")
    x = rows.invoice(1000, date(2026, 3, 1), date(2026, 3, 31), customer=customer)
    y = rows.invoice(500, date(2026, 3, 2), date(2026, 4, 1), customer=customer)
    rows.invoice(200, date(2026, 3, 3), date(2026, 4, 2), customer=customer)
    rows.pay(x, 1000, date(2026, 3, 10), customer=customer)
    rows.pay(y, 500, date(2026, 4, 5), customer=customer)
    return rows


def test_cutoff_dates():
    assert cutoff_dates(date(2026, 1, 1), date(2026, 3, 1), 30) == [date(2026, 1, 1), date(2026, 1, 31)]
    with pytest.raises(ValueError, match="1 or more"):
        cutoff_dates(date(2026, 1, 1), date(2026, 3, 1), 0)


def test_backtest_on_a_hand_checked_ledger():
    con = ibis.duckdb.connect()
    tables = create_dunning_tables(con, _tiny().rows())
    report = backtest(tables, [AS_OF], backend=con, settings=FAST, weeks=6)
    assert report.observed_until == date(2026, 4, 5)
    [cutoff] = report.cutoffs
    assert (cutoff.open_invoices, cutoff.model_used) == (3, "baseline")
    for side in ("model", "baseline"):
        scores = report.summary[side].scores
        assert (scores.late_known, scores.late_actual, scores.paid) == (3, 2, 2)
        assert scores.accuracy == pytest.approx(2 / 3)  # all called late; X was not
        assert scores.late_f1 == pytest.approx(2 * 2 / (2 * 2 + 1))  # TP Y, Z; FP X
        assert scores.pay_date_mae_days == pytest.approx((21 + 4) / 2)
    weeks = cutoff.weeks["baseline"]
    actual = {week["week_start"]: week["actual"] for week in weeks}
    # X's 1,000 in the week of 9 March, Y's 500 in the week of 30 March, nothing else; the weeks
    # after 5 April are not over by the last fact and Z is unpaid: they are not judged.
    assert actual == {"2026-03-09": 1000.0, "2026-03-16": 0.0, "2026-03-23": 0.0, "2026-03-30": 500.0}
    expected = {week["week_start"]: week["expected"] for week in weeks}
    summary = report.summary["baseline"]
    first_week_error = abs(expected["2026-03-09"] - 1000.0)
    assert summary.week_wape[1] == pytest.approx(first_week_error / 1000.0, abs=1e-6)
    total_error = sum(abs(expected[day] - actual[day]) for day in actual)
    assert summary.horizon_wape[4] == pytest.approx(total_error / 1500.0, abs=1e-6)
    assert report.to_json()["summary"]["model"]["accuracy"] == 0.6667

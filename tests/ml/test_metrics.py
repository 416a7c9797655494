"""Golden tests of relance.ml.metrics on a tiny example checked by hand."""

from __future__ import annotations

import math
from typing import Any

import pytest

from relance.ml.metrics import (
    interval_coverage,
    late_accuracy,
    late_f1,
    mae_days,
    prediction_scores,
    wape,
)

NAN = math.nan

# Five invoices judged on day 100 (days are plain integers here):
#   A due 50, paid 48 — called on time (0.2), expected 47, p10–p90 45–52: right, 1 day off, inside
#   B due 50, paid 60 — called late (0.7), expected 55, 52–58: right (TP), 5 days off, outside
#   C due 50, paid 49 — called late (0.6), expected 52, 48–56: wrong (FP), 3 days off, inside
#   D due 90, unpaid on day 100 — late, called on time (0.3): wrong (FN); no pay date to judge
#   E due 120, unpaid on day 100 — lateness not known yet: left out of every score
EXAMPLE: dict[str, Any] = {
    "p_late": [0.2, 0.7, 0.6, 0.3, 0.9],
    "expected_day": [47, 55, 52, 95, 130],
    "p10_day": [45, 52, 48, 91, 121],
    "p90_day": [52, 58, 56, 99, 140],
    "due_day": [50, 50, 50, 90, 120],
    "paid_day": [48, 60, 49, NAN, NAN],
    "observed_until": 100,
}


def test_prediction_scores_golden():
    scores = prediction_scores(**EXAMPLE)
    assert scores.invoices == 5
    assert scores.late_known == 4  # A, B, C, D
    assert scores.late_actual == 2  # B, D
    assert scores.accuracy == pytest.approx(2 / 4)  # A and B right
    assert scores.late_f1 == pytest.approx(2 * 1 / (2 * 1 + 1 + 1))  # TP B, FP C, FN D
    assert scores.paid == 3
    assert scores.pay_date_mae_days == pytest.approx((1 + 5 + 3) / 3)
    assert scores.p10_p90_coverage == pytest.approx(2 / 3)
    assert scores.to_json()["p10_p90_coverage"] == 0.6667


def test_threshold_is_at_or_above():
    scores = prediction_scores(**{**EXAMPLE, "p_late": [0.2, 0.5, 0.49, 0.3, 0.9]})
    assert scores.accuracy == pytest.approx(3 / 4)  # A, B (0.5 = late), C (0.49 = on time)


def test_each_metric_alone():
    assert late_accuracy([True, False, True], [True, True, True]) == pytest.approx(2 / 3)
    assert late_f1([True, False, True], [True, True, False]) == pytest.approx(2 / (2 + 2))
    assert mae_days([10, 20], [13, 19]) == pytest.approx(2.0)
    assert interval_coverage([1, 5], [3, 9], [3, 10]) == pytest.approx(0.5)  # ends included
    assert wape([10, 20, 30], [12, 15, 33]) == pytest.approx(10 / 60)


def test_nothing_to_judge_is_none_not_a_crash():
    assert late_accuracy([], []) is None
    assert late_f1([False, False], [False, False]) is None
    assert mae_days([], []) is None
    assert interval_coverage([], [], []) is None
    assert wape([5.0], [0.0]) is None
    empty = prediction_scores(
        p_late=[], expected_day=[], p10_day=[], p90_day=[], due_day=[], paid_day=[], observed_until=1
    )
    assert (empty.invoices, empty.accuracy, empty.pay_date_mae_days) == (0, None, None)

"""How good a prediction or a forecast was, once what happened is known: the one home of the
scores the backtest, the training hold-out and the docs quote.

- **accuracy**: the share of invoices whose "late" (paid after the due date, or still unpaid after
  it) was called right, calling late when ``p_late ≥ 0.5``; judged only where lateness is known.
- **late-class F1**: the harmonic mean of precision and recall of the "late" call.
- **pay-date MAE**: the mean absolute difference, in days, between the expected (median) pay date
  and the day the invoice was paid; over the paid invoices only.
- **p10–p90 coverage**: the share of paid invoices paid on a day between p10 and p90, both days
  included (an honest 80 % interval covers about 0.80).
- **WAPE**: Σ |forecast − actual| / Σ actual over the buckets (weeks) and cutoffs given; 0 is
  perfect, 1 means errors as large as what came in.

Inputs are numpy arrays (days as integers: day numbers or days from a date); results are plain
floats, None when there is nothing to judge. Pure: numpy only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

LATE_THRESHOLD = 0.5  # p_late at or above: called late

Array = npt.ArrayLike


def late_accuracy(predicted_late: Array, actual_late: Array) -> float | None:
    """Share of the late/on-time calls that were right (None for no invoice)."""
    guess = np.asarray(predicted_late, dtype=bool)
    actual = np.asarray(actual_late, dtype=bool)
    if guess.size == 0:
        return None
    return float((guess == actual).mean())


def late_f1(predicted_late: Array, actual_late: Array) -> float | None:
    """F1 of the "late" class: 2·TP / (2·TP + FP + FN); None when nothing was late nor called
    late (the class is absent: there is nothing to score)."""
    guess = np.asarray(predicted_late, dtype=bool)
    actual = np.asarray(actual_late, dtype=bool)
    true_positive = int((guess & actual).sum())
    wrong = int((guess != actual).sum())
    if 2 * true_positive + wrong == 0:
        return None
    return 2 * true_positive / (2 * true_positive + wrong)


def mae_days(predicted_days: Array, actual_days: Array) -> float | None:
    """Mean absolute error in days (None for no invoice)."""
    predicted = np.asarray(predicted_days, dtype="float64")
    actual = np.asarray(actual_days, dtype="float64")
    if predicted.size == 0:
        return None
    return float(np.abs(predicted - actual).mean())


def interval_coverage(low_days: Array, high_days: Array, actual_days: Array) -> float | None:
    """Share of ``actual`` within [low, high], both ends included (None for no invoice)."""
    low = np.asarray(low_days, dtype="float64")
    high = np.asarray(high_days, dtype="float64")
    actual = np.asarray(actual_days, dtype="float64")
    if actual.size == 0:
        return None
    return float(((actual >= low) & (actual <= high)).mean())


def wape(forecast: Array, actual: Array) -> float | None:
    """Σ |forecast − actual| / Σ actual (None when nothing came in)."""
    predicted = np.asarray(forecast, dtype="float64")
    came_in = np.asarray(actual, dtype="float64")
    total = float(came_in.sum())
    if total <= 0:
        return None
    return float(np.abs(predicted - came_in).sum() / total)


@dataclass(frozen=True)
class PredictionScores:
    """The invoice-level scores of one set of predictions against what happened."""

    invoices: int
    late_known: int  # invoices whose lateness is known (paid, or unpaid after the due date)
    late_actual: int
    accuracy: float | None
    late_f1: float | None
    paid: int  # invoices paid by the end of the observation
    pay_date_mae_days: float | None
    p10_p90_coverage: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            key: (round(value, 4) if isinstance(value, float) else value)
            for key, value in asdict(self).items()
        }


def prediction_scores(
    *,
    p_late: Array,
    expected_day: Array,
    p10_day: Array,
    p90_day: Array,
    due_day: Array,
    paid_day: Array,
    observed_until: int,
    threshold: float = LATE_THRESHOLD,
) -> PredictionScores:
    """Score predictions against outcomes observed up to day ``observed_until`` (all days are
    integers on one scale, e.g. ``date.toordinal()``).

    ``paid_day``: the day the invoice was paid in full, NaN when not paid by ``observed_until``.
    Late is known when it was paid (late: after ``due_day``) or still unpaid after its due day.
    """
    paid_on = np.asarray(paid_day, dtype="float64")
    due = np.asarray(due_day, dtype="float64")
    paid = ~np.isnan(paid_on)
    unpaid_late = ~paid & (due < observed_until)
    known = paid | unpaid_late
    actual_late = np.where(paid, paid_on > due, True)[known]
    guess = np.asarray(p_late, dtype="float64")[known] >= threshold
    return PredictionScores(
        invoices=int(paid.size),
        late_known=int(known.sum()),
        late_actual=int(actual_late.sum()),
        accuracy=late_accuracy(guess, actual_late),
        late_f1=late_f1(guess, actual_late),
        paid=int(paid.sum()),
        pay_date_mae_days=mae_days(np.asarray(expected_day, dtype="float64")[paid], paid_on[paid]),
        p10_p90_coverage=interval_coverage(
            np.asarray(p10_day, dtype="float64")[paid],
            np.asarray(p90_day, dtype="float64")[paid],
            paid_on[paid],
        ),
    )

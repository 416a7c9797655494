"""The customer-history baseline: what a collector would guess from the customer's past alone.

* **late** if most of the customer's settled invoices were paid late (an invoice already past
  due is late whatever the history: it can only be paid after its due date);
* **pay date** = issue date + the customer's mean days to pay, and never before the day after
  the as-of date (the invoice is still open at its end);
* p10/p90: the same ± 1.28 standard deviations of the customer's days late (a normal band).

A customer with no settled history takes the entity's mean days to pay and share late; an entity
with none at all takes the due date and p_late 0.5. Every model is compared against it, and it is
the fallback when the history is too short to train (``relance.ml.pipeline``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from relance.ml.features import already_late

Z90 = 1.2815515655446004  # the standard normal's 90th percentile


class CustomerHistoryBaseline(BaseEstimator):  # type: ignore[misc]  # scikit-learn ships no types
    """scikit-learn estimator over ``features.finish`` frames.

    ``fit`` learns the entity-wide fallbacks (mean days to pay, share late, days-late spread)
    from the rows' customer histories; ``predict`` gives the median days from issue to payment,
    ``predict_frame`` the three pay-date offsets and ``p_late``.
    """

    def __init__(self, min_history: int = 1) -> None:
        self.min_history = min_history

    def fit(self, X: pd.DataFrame, y: Any = None) -> CustomerHistoryBaseline:
        paid = X["cust_paid"].to_numpy(dtype="float64")
        known = paid >= self.min_history
        weights = paid[known]
        if weights.sum() > 0:
            self.days_to_pay_ = float(np.average(X["base_days_to_pay"].to_numpy()[known], weights=weights))
            self.share_late_ = float(np.average(X["base_share_late"].to_numpy()[known], weights=weights))
            spread = X["cust_late_sd"].to_numpy()[known]
            spread = spread[~np.isnan(spread)]
            self.late_sd_ = float(np.median(spread)) if spread.size else 7.0
            self.has_history_ = True
        else:
            self.days_to_pay_ = float("nan")
            self.share_late_ = 0.5
            self.late_sd_ = 7.0
            self.has_history_ = False
        return self

    def predict_frame(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per row: ``days_p50``, ``days_p10``, ``days_p90`` (days from the row's date ``at`` to
        payment, at least 1) and ``p_late``."""
        paid = X["cust_paid"].to_numpy(dtype="float64")
        own = paid >= self.min_history
        age = X["age_days"].to_numpy(dtype="float64")
        terms = X["terms_days"].to_numpy(dtype="float64")
        days_to_pay = np.where(own, X["base_days_to_pay"].to_numpy(dtype="float64"), self.days_to_pay_)
        days_to_pay = np.where(np.isnan(days_to_pay), terms, days_to_pay)  # no history anywhere: terms
        share_late = np.where(own, X["base_share_late"].to_numpy(dtype="float64"), self.share_late_)
        spread = np.where(own, X["cust_late_sd"].to_numpy(dtype="float64"), self.late_sd_)
        spread = np.where(np.isnan(spread), self.late_sd_, spread)
        median = np.maximum(days_to_pay - age, 1.0)
        low = np.maximum(days_to_pay - Z90 * spread - age, 1.0)
        high = np.maximum(days_to_pay + Z90 * spread - age, median)
        p_late = np.where(share_late > 0.5, 1.0, 0.0) if self.has_history_ else np.full(len(X), 0.5)
        p_late = np.where(already_late(X), 1.0, p_late)
        return pd.DataFrame(
            {"days_p10": np.minimum(low, median), "days_p50": median, "days_p90": high, "p_late": p_late}
        )

    def predict(self, X: pd.DataFrame) -> np.ndarray[Any, Any]:
        """The median days from the row's date to payment."""
        return np.asarray(self.predict_frame(X)["days_p50"].to_numpy())

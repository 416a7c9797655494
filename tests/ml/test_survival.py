"""``SurvivalAFT.contributions`` (TreeSHAP per tree path pattern) against XGBoost's own
``pred_contribs`` over every row: the same float32 numbers, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from relance.ml.survival import SurvivalAFT


def _rows(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    random = np.random.default_rng(seed)
    X = random.normal(size=(count, 6))
    X[:, 1] = np.round(X[:, 1] * 5)  # whole numbers: many rows sit exactly on a threshold
    X[:, 2] = random.integers(0, 2, size=count)  # a flag
    X[random.random(X.shape) < 0.1] = np.nan  # missing values take each split's default side
    days = np.exp(
        2 + 0.4 * np.nan_to_num(X[:, 0]) + 0.1 * np.nan_to_num(X[:, 1]) + 0.3 * np.nan_to_num(X[:, 2])
    )
    days = days * np.exp(random.normal(size=count) * 0.2)
    bounds = np.c_[days, days]
    bounds[random.random(count) < 0.3, 1] = np.inf  # censored
    return X, bounds


@pytest.mark.parametrize("depth", [2, 4, 6, 7])
def test_contributions_by_path_pattern_equal_pred_contribs(depth: int) -> None:
    X, bounds = _rows(3_000, seed=depth)
    model = SurvivalAFT(n_estimators=15, max_depth=depth, random_state=1).fit(X, bounds)
    later, _ = _rows(2_000, seed=100 + depth)
    later[:50] = X[:50]  # rows seen in training too
    fast = model.contributions(later)
    assert fast.shape == (2_000, 6)
    np.testing.assert_array_equal(fast, model.contributions_direct(later))
    assert np.abs(fast).sum() > 0


def test_contributions_of_no_rows() -> None:
    X, bounds = _rows(500, seed=1)
    model = SurvivalAFT(n_estimators=3, random_state=1).fit(X, bounds)
    assert model.contributions(X[:0]).shape == (0, 6)

"""Time to payment as an accelerated-failure-time model: XGBoost's ``survival:aft`` (ADR 0024).

``log T = f(x) + σ·Z``, ``Z`` standard normal: ``f`` is a boosted tree ensemble, ``T`` the days
from the row's date to payment. An invoice paid by the as-of date gives its exact ``T``; one
still open is **right-censored**: all we know is ``T > days observed`` (lower bound = the days
open since the row's date, upper = +∞), and the AFT likelihood counts it so. Dropping open
invoices (or counting them as paid today) would bias every customer who pays late towards
"early".

XGBoost takes σ as a fixed hyper-parameter; it is re-estimated after the trees are grown, on a
held-out fifth of the rows: by default so that the p10–p90 band holds 80 % of the held-out rows
whose place against it is known (``band_coverage``); with ``band_coverage=None`` by censored maximum
likelihood, which fitted the band too wide on the IBM history (0.89 coverage, docs/benchmarks.md).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import log_ndtr, ndtr, ndtri
from sklearn.base import BaseEstimator

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def _xgboost() -> Any:
    try:
        import xgboost
    except ImportError as exc:  # the [predict] extra
        raise RuntimeError(
            "the survival model needs XGBoost: pip install 'relance[predict]' (make setup installs it)"
        ) from exc
    return xgboost


def censored_normal_scale(residual_low: FloatArray, residual_high: FloatArray) -> float:
    """The σ that maximises the likelihood of log-time residuals ``log T − f(x)``, each known to
    lie in [``residual_low``, ``residual_high``] (equal when observed, high = +∞ when censored)."""
    observed = np.isclose(residual_low, residual_high)
    exact, low = residual_low[observed], residual_low[~observed & np.isinf(residual_high)]
    best, best_scale = -np.inf, 1.0
    for scale in np.geomspace(0.05, 5.0, 160):
        loglik = float(np.sum(-0.5 * (exact / scale) ** 2 - np.log(scale)))
        loglik += float(np.sum(log_ndtr(-low / scale)))
        if loglik > best:
            best, best_scale = loglik, float(scale)
    return best_scale


def band_coverage_scale(margin: FloatArray, lower: FloatArray, upper: FloatArray, coverage: float) -> float:
    """The σ whose central ``coverage`` band holds that share of the rows whose place against it is
    known: a paid row (``lower == upper``), inside or out; an open one (``upper`` ∞) only once its
    ``lower`` bound is past the band's top (it is then out, whatever comes). The band is read as
    the predictions give it: whole days, ``round(exp(margin ± z·σ))`` and at least 1, both ends
    included — the rounding alone widens a band of a few days noticeably."""
    observed = np.isclose(lower, upper)
    censored = ~observed & np.isinf(upper)
    z = float(ndtri(0.5 + coverage / 2))
    best_gap, best_scale = np.inf, 1.0
    for scale in np.geomspace(0.02, 5.0, 200):
        low = np.maximum(np.round(np.exp(margin - z * scale)), 1.0)
        high = np.maximum(np.round(np.exp(margin + z * scale)), 1.0)
        inside = int(np.sum(observed & (lower >= low) & (lower <= high)))
        known = int(observed.sum()) + int(np.sum(censored & (lower > high)))
        if known == 0:
            continue
        gap = abs(inside / known - coverage)
        if gap < best_gap:
            best_gap, best_scale = gap, float(scale)
    return best_scale


class SurvivalAFT(BaseEstimator):  # type: ignore[misc]  # scikit-learn ships no types
    """scikit-learn estimator: ``fit(X, y)`` with ``y`` an (n, 2) array of [lower, upper] days
    (upper ``inf`` when censored); ``predict(X)`` the median days; ``predict_quantiles``,
    ``survival`` (P(T > t)) and ``contributions`` (per feature, in log-days) beside it."""

    def __init__(
        self,
        n_estimators: int = 100,
        max_depth: int = 4,
        learning_rate: float = 0.1,
        min_child_weight: float = 5.0,
        subsample: float = 0.8,
        colsample_bytree: float = 0.9,
        distribution: str = "normal",
        distribution_scale: float = 0.3,
        holdout_share: float = 0.2,
        band_coverage: float | None = 0.8,
        random_state: int = 0,
        n_jobs: int = 2,
        monotone: tuple[int, ...] | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.distribution = distribution
        self.distribution_scale = distribution_scale
        self.holdout_share = holdout_share
        self.band_coverage = band_coverage
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.monotone = monotone

    def _matrix(self, X: Any, bounds: FloatArray | None = None) -> Any:
        xgb = _xgboost()
        data = np.asarray(X, dtype="float32")
        matrix = xgb.DMatrix(data, feature_names=getattr(self, "feature_names_", None), nthread=self.n_jobs)
        if bounds is not None:
            matrix.set_float_info("label_lower_bound", bounds[:, 0])
            matrix.set_float_info("label_upper_bound", bounds[:, 1])
        return matrix

    def fit(self, X: Any, y: Any, feature_names: Sequence[str] | None = None) -> SurvivalAFT:
        xgb = _xgboost()
        bounds = np.asarray(y, dtype="float64")
        if bounds.ndim != 2 or bounds.shape[1] != 2:
            raise ValueError("y: expected an (n, 2) array of [lower, upper] days")
        if np.any(bounds[:, 0] <= 0):
            raise ValueError("y: the lower bounds must be positive days")
        columns = getattr(X, "columns", None)
        self.feature_names_ = list(feature_names or (list(columns) if columns is not None else []))
        if not self.feature_names_:
            self.feature_names_ = [f"f{i}" for i in range(np.asarray(X).shape[1])]
        self.n_features_in_ = len(self.feature_names_)
        data = np.asarray(X, dtype="float64")
        random = np.random.default_rng(self.random_state)
        held = random.random(len(data)) < self.holdout_share if len(data) >= 50 else np.zeros(len(data), bool)
        # Start the trees from the typical time (a geometric mean of the lower bounds), not from 1 day.
        start = float(np.exp(np.mean(np.log(bounds[~held, 0])))) if (~held).any() else 1.0
        params = {
            "objective": "survival:aft",
            "base_score": start,
            "eval_metric": "aft-nloglik",
            "aft_loss_distribution": self.distribution,
            "aft_loss_distribution_scale": self.distribution_scale,
            "tree_method": "hist",
            "max_depth": self.max_depth,
            "learning_rate": self.learning_rate,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "seed": self.random_state,
            "nthread": self.n_jobs,
            "verbosity": 0,
        }
        if self.monotone is not None:  # per feature: 1 more means later, -1 sooner, 0 free
            if len(self.monotone) != len(self.feature_names_):
                raise ValueError("monotone: one constraint per feature expected")
            params["monotone_constraints"] = "(" + ",".join(str(int(c)) for c in self.monotone) + ")"
        train = self._matrix(data[~held], bounds[~held])
        self.booster_ = xgb.train(params, train, num_boost_round=self.n_estimators)
        check = held if held.any() else ~held
        margin = self.predict_margin(data[check])
        with np.errstate(divide="ignore"):
            low = np.log(bounds[check, 0]) - margin
            high = np.log(bounds[check, 1]) - margin
        if self.band_coverage is None:
            self.scale_ = censored_normal_scale(low, high)
        else:
            self.scale_ = band_coverage_scale(margin, bounds[check, 0], bounds[check, 1], self.band_coverage)
        self.trained_rows_ = len(data)
        return self

    def predict_margin(self, X: Any) -> FloatArray:
        """``f(x)``: the mean (and median) of log T."""
        return np.asarray(self.booster_.predict(self._matrix(X), output_margin=True), dtype="float64")

    def predict(self, X: Any) -> FloatArray:
        """The median days to payment."""
        return np.exp(self.predict_margin(X))

    def predict_quantiles(
        self, X: Any, quantiles: Sequence[float] = (0.1, 0.5, 0.9), *, margin: FloatArray | None = None
    ) -> FloatArray:
        """(n, len(quantiles)) days to payment (``margin``: ``predict_margin(X)`` when already known)."""
        margin = self.predict_margin(X) if margin is None else margin
        z = np.asarray(ndtri(np.asarray(quantiles, dtype="float64")), dtype="float64")
        days: FloatArray = np.exp(margin[:, None] + self.scale_ * z[None, :])
        return days

    def survival(self, X: Any, days: Any, *, margin: FloatArray | None = None) -> FloatArray:
        """P(T > days) per row (``days`` per row; ≤ 0 gives 1)."""
        margin = self.predict_margin(X) if margin is None else margin
        days = np.asarray(days, dtype="float64")
        with np.errstate(divide="ignore"):
            z = (np.log(np.maximum(days, 1e-9)) - margin) / self.scale_
        return np.where(days <= 0, 1.0, ndtr(-z))

    def contributions(self, X: Any) -> FloatArray:
        """(n, features) each feature's share of ``f(x)`` (log-days): XGBoost's ``pred_contribs``
        (TreeSHAP), the bias column dropped — the same numbers to the last bit as
        ``contributions_direct``, computed tree by tree on one row per **path pattern**.

        A tree's TreeSHAP values of a row depend on the row only through the side it takes at
        each of the tree's splits (≤ 15 at depth 4), so rows with the same sides share them: each
        tree's values are computed by XGBoost for one row of each pattern met (thousands, not a
        million) and spread to the rest, then summed tree after tree in float32 as XGBoost sums
        them. At a million rows this is a few seconds of CPU against a minute for the direct call
        (docs/benchmarks.md)."""
        xgb = _xgboost()
        data = np.asarray(X, dtype="float32")
        if len(data) == 0:
            return np.zeros(data.shape, dtype="float64")
        trees = self._trees()
        if any(tree.bits > 64 for tree in trees):  # deeper than 6: a pattern does not fit a word
            return self.contributions_direct(data)
        columns = np.ascontiguousarray(data.T)  # a feature's values side by side: fast to compare
        missing = np.isnan(columns)
        total = np.zeros(columns.shape, dtype="float32")  # (features, n), summed tree after tree
        for index, tree in enumerate(trees):
            pattern = _path_patterns(tree, columns, missing)
            _, one_row, where = _distinct(pattern, tree.bits)
            one_tree = self.booster_[index : index + 1]
            # A few thousand rows: one thread (two spin more CPU than they save).
            one_tree.set_param({"nthread": 1})
            matrix = xgb.DMatrix(data[one_row], feature_names=self.feature_names_, nthread=1)
            shares = one_tree.predict(matrix, pred_contribs=True)
            for feature in tree.features:
                total[feature] += shares[:, feature][where]
        return np.asarray(total.T, dtype="float64")

    def contributions_direct(self, X: Any) -> FloatArray:
        """``contributions`` by one ``pred_contribs`` call over every row (the simple approach:
        TreeSHAP for every row and tree; the tests and benchmarks/bench_predict.py hold the fast
        one to it)."""
        contribs = self.booster_.predict(self._matrix(X), pred_contribs=True)
        return np.asarray(contribs, dtype="float64")[:, :-1]

    def _trees(self) -> list[_Tree]:
        model = json.loads(self.booster_.save_raw(raw_format="json"))
        trees = []
        for tree in model["learner"]["gradient_booster"]["model"]["trees"]:
            left = np.asarray(tree["left_children"], dtype="int64")
            nodes = np.flatnonzero(left != -1)  # the splits (a leaf has no children)
            if any(int(kind) != 0 for kind in np.asarray(tree["split_type"])[nodes]):
                raise ValueError("categorical splits are not supported by contributions()")
            split_on = np.asarray(tree["split_indices"], dtype="int64")[nodes]
            trees.append(
                _Tree(
                    split_on=split_on,
                    below=np.asarray(tree["split_conditions"], dtype="float32")[nodes],
                    missing_left=np.asarray(tree["default_left"], dtype=bool)[nodes],
                    features=np.unique(split_on),
                    bits=len(nodes),
                )
            )
        return trees


@dataclass(frozen=True)
class _Tree:
    """A tree's splits as ``contributions`` reads them: feature, threshold (a row goes left when
    its value is below it), the side a missing value takes."""

    split_on: np.ndarray[Any, Any]
    below: np.ndarray[Any, Any]
    missing_left: np.ndarray[Any, Any]
    features: np.ndarray[Any, Any]
    bits: int


def _path_patterns(
    tree: _Tree, columns: np.ndarray[Any, Any], missing: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]:
    """Per row, one bit per split of ``tree``: 1 when the row goes left there (XGBoost's rule:
    ``value < threshold``, a missing value the split's default side). ``columns``: (features, n)."""
    kind = np.uint16 if tree.bits <= 16 else np.uint32 if tree.bits <= 32 else np.uint64
    pattern = np.zeros(columns.shape[1], dtype=kind)
    for bit in range(tree.bits):
        feature = tree.split_on[bit]
        left = columns[feature] < tree.below[bit]
        if tree.missing_left[bit]:
            left |= missing[feature]
        pattern |= left.astype(kind) << kind(bit)
    return pattern


def _distinct(pattern: np.ndarray[Any, Any], bits: int) -> tuple[Any, Any, Any]:
    """The distinct patterns, one row of each (any: they take the same sides), and each row's
    pattern number."""
    if bits <= 20:  # a table of every possible pattern: no sort
        first_row = np.full(1 << bits, -1, dtype="int64")
        first_row[pattern] = np.arange(len(pattern))
        kinds = np.flatnonzero(first_row >= 0)
        number = np.zeros(1 << bits, dtype="int64")
        number[kinds] = np.arange(len(kinds))
        return kinds, first_row[kinds], number[pattern]
    kinds, first, where = np.unique(pattern, return_index=True, return_inverse=True)
    return kinds, first, where

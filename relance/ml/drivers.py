"""A prediction's drivers in words: each feature's contribution (XGBoost's ``pred_contribs``, in
log-days) turned into days of the median pay date, and the feature's value into a sentence a
collector reads ("usually pays 12 days late (+9 days)").

A contribution ``c`` moves the median ``m`` by ``m − m·e^(−c)`` days: how much later (or earlier)
the median is than it would be without that feature's part.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from relance.engine.schema import MONEY_SCALE
from relance.ml.predictions import Driver

TOP_DRIVERS = 3
MIN_DRIVER_DAYS = 0.5  # a feature moving the date by less than half a day is not a reason


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _pct(value: float) -> str:
    return f"{100 * value:.0f}%"


def _days_late(value: float) -> str:
    if math.isnan(value):
        return "no payment history"
    if value > 0.5:
        return f"usually pays {_n(value)} days late"
    if value < -0.5:
        return f"usually pays {_n(-value)} days early"
    return "usually pays on time"


def _due(value: float) -> str:
    if value < 0:
        return f"{_n(-value)} days past due"
    return "due today" if value == 0 else f"due in {_n(value)} days"


def _trend(value: float) -> str:
    if value > 0.5:
        return f"paying {_n(value)} days later than three months before"
    if value < -0.5:
        return f"paying {_n(-value)} days sooner than three months before"
    return "a steady payer"


def _money(log_value: float) -> str:
    return _n(float(np.expm1(log_value)))


def _flag(yes: str, no: str) -> Callable[[float], str]:
    return lambda value: yes if value >= 0.5 else no


def _optional(none: str, template: str) -> Callable[[float], str]:
    return lambda value: none if value < 0 or math.isnan(value) else template.format(_n(value))


SENTENCES: dict[str, Callable[[float], str]] = {
    "age_days": lambda v: f"open for {_n(v)} days",
    "days_to_due": _due,
    "terms_days": lambda v: f"{_n(v)}-day terms",
    "log_amount": lambda v: f"an invoice of {_money(v)}",
    "open_share": lambda v: f"{_pct(v)} of it still open",
    "amount_vs_usual": lambda v: f"{v:.1f}× the customer's usual invoice",
    "due_day_of_month": lambda v: f"due on day {_n(v)} of the month",
    "due_quarter_end": _flag("due at a quarter end", "not due at a quarter end"),
    "cust_paid": lambda v: f"{_n(v)} invoices settled this year" if v else "no invoice settled this year",
    "cust_days_to_pay": lambda v: (
        "no payment history" if math.isnan(v) else f"usually pays {_n(v)} days after issue"
    ),
    "cust_days_left": lambda v: (
        "no payment history"
        if math.isnan(v)
        else (f"its usual pay day is in {_n(v)} days" if v >= 0 else f"{_n(-v)} days past its usual pay day")
    ),
    "cust_days_late": _days_late,
    "cust_share_late": lambda v: (
        "no payment history" if math.isnan(v) else f"{_pct(v)} of its invoices paid late"
    ),
    "cust_late_sd": lambda v: (
        "too little history for its regularity"
        if math.isnan(v)
        else f"pays within ±{_n(v)} days of its habit"
    ),
    "cust_trend": _trend,
    "cust_open_count": lambda v: f"{_n(v)} invoices open",
    "cust_log_open": lambda v: f"owes {_money(v)} in all",
    "cust_overdue_share": lambda v: f"{_pct(v)} of its balance past due",
    "disputed": _flag("under dispute", "not disputed"),
    "cust_disputes": lambda v: f"{_n(v)} disputes this year" if v else "no dispute this year",
    "cust_dispute_share": lambda v: (
        f"disputes {_pct(v)} of its invoices" if v else "disputes none of its invoices"
    ),
    "promised": _flag("promised to pay", "no promise to pay"),
    "cust_promises": lambda v: f"{_n(v)} promises to pay this year" if v else "no promise this year",
    "cust_promises_broken": lambda v: f"{_n(v)} broken promises this year" if v else "no broken promise",
    "contacts_90d": lambda v: f"contacted {_n(v)} times in 90 days" if v else "not contacted in 90 days",
    "days_since_contact": _optional("never contacted", "last contacted {} days ago"),
    "credit_score": _optional("no credit score", "credit score {}"),
}


def sentence(feature: str, value: float) -> str:
    """The feature's value in words (the name itself for a feature with no sentence)."""
    words = SENTENCES.get(feature)
    return words(float(value)) if words else f"{feature} = {value:g}"


def contribution_days(median_days: Any, contributions: Any) -> np.ndarray[Any, Any]:
    """(n, features) days each feature moves the median: ``m − m·e^(−c)``."""
    median = np.asarray(median_days, dtype="float64")[:, None]
    moved: np.ndarray[Any, Any] = median - median * np.exp(-np.asarray(contributions, dtype="float64"))
    return moved


def drivers_of_row(
    names: tuple[str, ...] | list[str], values: Any, days: Any, top: int = TOP_DRIVERS
) -> tuple[Driver, ...]:
    """The ``top`` features that move this row's median most (by at least ``MIN_DRIVER_DAYS``),
    largest first."""
    (drivers,) = drivers_of_rows(names, np.asarray(values)[None, :], np.asarray(days)[None, :], top)
    return drivers


def drivers_of_rows(
    names: tuple[str, ...] | list[str], values: Any, days: Any, top: int = TOP_DRIVERS
) -> list[tuple[Driver, ...]]:
    """``drivers_of_row`` of every row, the ranking and the wording done for all rows at once (a
    million rows: one sort, and each distinct sentence worded once)."""
    days = np.asarray(days, dtype="float64")
    values = np.asarray(values, dtype="float64")
    if days.size == 0:
        return [() for _ in range(len(days))]
    top = min(top, days.shape[1])
    order = np.argsort(-np.abs(days), axis=1, kind="stable")[:, :top]
    picked = np.take_along_axis(days, order, axis=1)
    # Largest first: a row's drivers stop at its first feature moving the date by too little.
    kept = np.cumprod(np.abs(picked) >= MIN_DRIVER_DAYS, axis=1).sum(axis=1)
    shown = np.arange(top)[None, :] < kept[:, None]
    features, moved = order[shown], picked[shown]  # every row's drivers, row after row
    texts = _texts(names, features, np.take_along_axis(values, order, axis=1)[shown], moved)
    flat = [
        Driver(feature=names[index], contribution_days=days_moved, text=text)
        for index, days_moved, text in zip(features.tolist(), moved.tolist(), texts, strict=True)
    ]
    out: list[tuple[Driver, ...]] = []
    start = 0
    for count in kept.tolist():
        out.append(tuple(flat[start : start + count]))
        start += count
    return out


def _texts(names: tuple[str, ...] | list[str], features: Any, values: Any, moved: Any) -> list[str]:
    """``f"{sentence(name, value)} ({moved:+.0f} days)"`` of each driver, each distinct (feature,
    value) and each distinct whole number of days worded once (a million rows repeat most of
    them: whole days open, counts, a customer's figures on each of its invoices)."""
    texts = np.empty(len(features), dtype=object)
    for index in np.unique(features).tolist():
        rows = np.flatnonzero(features == index)
        distinct, where = _distinct_floats(values[rows])
        worded = np.array([sentence(names[index], value) for value in distinct.tolist()], dtype=object)
        texts[rows] = worded[where]
    distinct, where = _distinct_floats(np.rint(moved))  # the format's own half-to-even rounding
    suffixes = np.array([f" ({value:+.0f} days)" for value in distinct.tolist()], dtype=object)
    return list(texts + suffixes[where])


def _distinct_floats(values: Any) -> tuple[Any, Any]:
    """The distinct values by their bits (0.0 and -0.0 are worded apart) and each one's number."""
    bits, where = np.unique(np.ascontiguousarray(values, dtype="float64").view("int64"), return_inverse=True)
    return bits.view("float64"), where.reshape(-1)


def amount_text(units: int) -> str:
    """An amount of money units as the drivers write it."""
    return _n(units / MONEY_SCALE)

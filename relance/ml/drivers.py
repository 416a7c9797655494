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
    """``drivers_of_row`` of every row, the ranking done for all rows at once (a million rows: one
    sort, then three sentences each)."""
    days = np.asarray(days, dtype="float64")
    values = np.asarray(values, dtype="float64")
    if days.size == 0:
        return [() for _ in range(len(days))]
    top = min(top, days.shape[1])
    order = np.argsort(-np.abs(days), axis=1, kind="stable")[:, :top]
    picked = np.take_along_axis(days, order, axis=1)
    shown = np.take_along_axis(values, order, axis=1)
    out: list[tuple[Driver, ...]] = []
    for columns, moved_row, value_row in zip(order.tolist(), picked.tolist(), shown.tolist(), strict=True):
        drivers = []
        for index, moved, value in zip(columns, moved_row, value_row, strict=True):
            if abs(moved) < MIN_DRIVER_DAYS:
                break
            name = names[index]
            drivers.append(
                Driver(
                    feature=name, contribution_days=moved, text=f"{sentence(name, value)} ({moved:+.0f} days)"
                )
            )
        out.append(tuple(drivers))
    return out


def amount_text(units: int) -> str:
    """An amount of money units as the drivers write it."""
    return _n(units / MONEY_SCALE)

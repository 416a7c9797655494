"""What a prediction run produces: one ``InvoicePrediction`` per invoice open at the end of the
as-of date, and a ``PredictionRunSummary`` saying which model made them and why.

Value objects only (frozen, no Django): the ``relance predict`` command prints them, the
``predict`` app stores them, the forecast sums their pay-date distributions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

MODEL_SURVIVAL = "survival"
MODEL_BASELINE = "baseline"
MODELS = (MODEL_SURVIVAL, MODEL_BASELINE)
ModelName = Literal["survival", "baseline"]


@dataclass(frozen=True)
class Driver:
    """One feature's share of a prediction: how many days it moves the expected pay date
    (positive: later), and the sentence a collector reads ("usually pays 12 days late")."""

    feature: str
    contribution_days: float
    text: str

    def to_json(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "contribution_days": round(self.contribution_days, 1),
            "text": self.text,
        }


@dataclass(frozen=True)
class InvoicePrediction:
    """When an open invoice will be paid, as known at the end of ``as_of``.

    The pay dates are the p10, median and p90 of the predicted distribution, never before
    ``as_of + 1`` (it is still open at the end of ``as_of``); ``p_late`` is the probability that it
    is paid after its due date.
    """

    invoice_id: int
    invoice_ref: str
    customer_ref: str
    currency: str
    open_amount: Decimal
    as_of: date
    p_late: float
    expected_pay_date: date
    pay_date_p10: date
    pay_date_p90: date
    drivers: tuple[Driver, ...]
    model: str  # "survival" | "baseline"

    def to_json(self) -> dict[str, Any]:
        """The ``relance predict --json`` object (issue 16's contract), plus currency, open amount
        and model."""
        return {
            "invoice_ref": self.invoice_ref,
            "customer_ref": self.customer_ref,
            "currency": self.currency,
            "open_amount": str(self.open_amount),
            "p_late": round(self.p_late, 4),
            "expected_pay_date": self.expected_pay_date.isoformat(),
            "pay_date_p10": self.pay_date_p10.isoformat(),
            "pay_date_p90": self.pay_date_p90.isoformat(),
            "drivers": [driver.to_json() for driver in self.drivers],
            "model": self.model,
        }


@dataclass(frozen=True)
class PredictionRunSummary:
    """Which model a run used, on how many settled invoices it was trained, and the note that
    says why (the baseline's fallback is always said, never silent)."""

    as_of: date
    model: str  # "survival" | "baseline"
    trained_rows: int
    note: str

"""``GET /invoices/{ref}/prediction``: the invoice's stored pay-date prediction (issue 16).

Read from the stored runs (``relance predict``), never computed on the request. An invoice of an
entity the caller may not see is a 404 like one that does not exist.
(No ``from __future__ import annotations`` here: Ninja reads the hints.)
"""

from datetime import date
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from relance.api import selectors
from relance.api.params import ERRORS, EntityName
from relance.core.errors import NotFound
from relance.ledger.models import Invoice
from relance.predict.selectors import prediction_for_invoice

router = Router(tags=["predictions"])

NO_PREDICTION = "invoice {ref!r} has no prediction yet: run `relance predict --as-of DATE`"


class DriverOut(Schema):
    feature: str
    contribution_days: float = Field(description="days it moves the expected pay date (positive: later)")
    text: str


class InvoicePredictionOut(Schema):
    invoice_ref: str
    customer_ref: str
    as_of: date = Field(description="known at the end of this day")
    model: str = Field(description="survival (XGBoost AFT) or baseline (customer history)")
    currency: str
    open_amount: str = Field(description="open amount at as_of, exact decimal text")
    p_late: float = Field(description="probability of a payment after the due date, 0..1")
    expected_pay_date: date = Field(description="median predicted pay date")
    pay_date_p10: date
    pay_date_p90: date
    drivers: list[DriverOut]
    note: str = Field(description="how the run was made (and why the baseline, when it was)")


@router.get("/invoices/{path:ref}/prediction", response={200: InvoicePredictionOut, **ERRORS})
def invoice_prediction_get(request: HttpRequest, ref: str, entity: str | None = EntityName) -> dict[str, Any]:
    """The invoice's newest stored prediction: late risk, pay-date median and p10–p90, drivers."""
    scope = selectors.entity_for_user(user=request.auth, name=entity)  # type: ignore[attr-defined]
    invoice = selectors.by_ref(Invoice.objects.filter(entity=scope), entity=scope, kind="invoice", ref=ref)
    prediction = prediction_for_invoice(entity=scope, invoice=invoice)
    if prediction is None:
        raise NotFound(NO_PREDICTION.format(ref=invoice.external_ref), code="not_found")
    return {
        "invoice_ref": invoice.external_ref,
        "customer_ref": invoice.customer.external_ref,
        "as_of": prediction.as_of,
        "model": prediction.run.model,
        "currency": prediction.currency,
        "open_amount": str(prediction.open_amount),
        "p_late": prediction.p_late,
        "expected_pay_date": prediction.expected_pay_date,
        "pay_date_p10": prediction.pay_date_p10,
        "pay_date_p90": prediction.pay_date_p90,
        "drivers": prediction.drivers,
        "note": prediction.run.note,
    }

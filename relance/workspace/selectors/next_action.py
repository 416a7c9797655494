"""Next best action on the worklist (issue 16, item 4): the stored predictions move the priority.

The worklist reads the predictions ``relance predict`` stored (the entity's latest prediction run,
``relance.predict.selectors.latest_run``); it never computes one. Per customer, over its predicted
open invoices:

* **expected late amount** = Σ p_late × open amount: points on the amount factor's scale,
  10 × log10(amount) (``expected_late``);
* **predicted slip** = the most days any of them is expected to be paid after its due date
  (expected pay date − due date): points on the lateness factor's scale, 30 × min(days, 180) / 180
  (``predicted_slip``).

The row's priority is the run's (the engine's factors) plus these two, so its points still add up.
A customer is **likely to pay without a chase** when each of its predicted invoices is either
likely paid on time (``p_late`` below ``ON_TIME_P_LATE``: not yet due) or already expected in
(its p90 pay date within ``SOON_DAYS`` of the prediction: 9 chances in 10 it is paid by then —
a past-due invoice has ``p_late`` 1, so "on time" alone would never mark an overdue customer). It
is marked so a collector can skip it, and its predicted factors get no points (it does not rise
above the customers the run ranks ahead of it). The model's figures assume the usual course of
dunning, not a counterfactual without any contact. Without a stored prediction (no run, or none
for the customer) the row is as before: the run's priority alone.

The points are computed once, in SQL (``annotate_predictions``): the ordering and the row read
the same numbers. ``reasons_in_words`` says each row's why for the page's rows (one query).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import (
    BooleanField,
    Case,
    DateField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    Max,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Greatest, Least, Ln

from relance.ledger.models import Entity

ON_TIME_P_LATE = 0.3  # an invoice below this is likely paid on time
SOON_DAYS = 7  # an invoice whose p90 pay date is within this many days of the prediction is "in"
LATE_P_LATE = 0.5  # an invoice at or above this counts as "likely late" in the row's words
AMOUNT_POINTS_PER_DECADE = 10.0  # the engine's amount factor: 10 × log10(amount)
SLIP_POINTS, SLIP_CAP_DAYS = 30.0, 180  # the engine's lateness factor: 30 × min(days, 180) / 180
PREDICTION_VALUES = (
    "expected_late",
    "predicted_slip",
    "predicted_on_time",
    "expected_late_points",
    "slip_points",
)


class DaysBetween(Func):
    """``later − earlier`` in whole days, for two date columns (SQLite and PostgreSQL)."""

    output_field = FloatField()
    arity = 2

    def as_sql(self, compiler: Any, connection: Any, *args: Any, **extra: Any) -> Any:  # type: ignore[override]
        later, earlier = (compiler.compile(expression) for expression in self.get_source_expressions())
        if connection.vendor == "sqlite":
            sql = f"(julianday({later[0]}) - julianday({earlier[0]}))"
        else:
            sql = f"(({later[0]}) - ({earlier[0]}))"
        return sql, (*later[1], *earlier[1])


def prediction_run_id(*, entity: Entity) -> int | None:
    from relance.predict.selectors import latest_run

    run = latest_run(entity=entity)
    return run.pk if run is not None else None


def annotate_predictions(entries: QuerySet[Any], *, run_id: int) -> QuerySet[Any]:
    """``entries`` (rows with ``customer_id`` and ``priority``) with the customer's prediction
    figures and ``action_priority`` (the run's priority plus the predicted points)."""
    from relance.predict.models import InvoicePrediction

    predicted = (
        InvoicePrediction.objects.filter(run_id=run_id, invoice__customer_id=OuterRef("customer_id"))
        .order_by()
        .values("run_id")
    )

    def per_customer(aggregate: Any) -> Subquery:
        return Subquery(predicted.annotate(value=aggregate).values("value")[:1], output_field=FloatField())

    expected = per_customer(Sum(F("p_late") * Cast("open_amount", FloatField()), output_field=FloatField()))
    slip = per_customer(Max(DaysBetween("expected_pay_date", "invoice__due_date")))
    needs_chase = InvoicePrediction.objects.filter(
        run_id=run_id,
        invoice__customer_id=OuterRef("customer_id"),
        p_late__gte=ON_TIME_P_LATE,
        pay_date_p90__gt=ExpressionWrapper(F("as_of") + timedelta(days=SOON_DAYS), output_field=DateField()),
    )
    entries = entries.annotate(
        expected_late=expected,
        predicted_slip=slip,
        predicted_on_time=Case(
            When(expected_late__isnull=True, then=Value(None)),
            default=~Exists(needs_chase),
            output_field=BooleanField(),
        ),
    )
    decade = AMOUNT_POINTS_PER_DECADE / math.log(10)
    entries = entries.annotate(
        expected_late_points=Case(
            When(expected_late__isnull=True, then=Value(None)),
            When(predicted_on_time=True, then=Value(0.0)),
            default=Value(decade) * Ln(Greatest(F("expected_late"), Value(1.0))),
            output_field=FloatField(),
        ),
        slip_points=Case(
            When(predicted_slip__isnull=True, then=Value(None)),
            When(predicted_on_time=True, then=Value(0.0)),
            default=Value(SLIP_POINTS / SLIP_CAP_DAYS)
            * Least(Greatest(F("predicted_slip"), Value(0.0)), Value(float(SLIP_CAP_DAYS))),
            output_field=FloatField(),
        ),
    )
    return entries.annotate(
        action_priority=Case(
            When(expected_late__isnull=True, then=F("priority")),
            default=F("priority") + F("expected_late_points") + F("slip_points"),
            output_field=FloatField(),
        )
    )


def prediction_factors(row: dict[str, Any]) -> tuple[float, dict[str, Any], bool] | None:
    """(the action priority, the two predicted factors as ``{value, points}``, likely to pay without
    a chase) of an annotated row, or None when the customer has no stored prediction."""
    if row.get("expected_late") is None:
        return None
    expected = Decimal(str(row["expected_late"])).quantize(Decimal("0.01"))
    factors = {
        "expected_late": {"value": expected, "points": round(row["expected_late_points"] or 0.0, 2)},
        "predicted_slip": {
            "value": int(round(row["predicted_slip"] or 0)),
            "points": round(row["slip_points"] or 0.0, 2),
        },
    }
    return float(row["action_priority"]), factors, bool(row.get("predicted_on_time"))


@dataclass(frozen=True)
class PredictedWhy:
    """A worklist row's prediction in words."""

    text: str  # "likely 12 days late on €9,400.00; usually pays after a call"
    on_time: bool  # likely to pay without a chase (``annotate_predictions``): can be skipped


def _driver_words(drivers: Iterable[Any]) -> str:
    """The driver that says most: a contact driver that brings the pay date forward ("pays sooner
    when contacted (contacted 3 times in 90 days (−5 days))"), else the one that pushes it back the
    most."""
    rows = [driver for driver in drivers if isinstance(driver, dict) and driver.get("text")]
    contact = [
        d for d in rows if any(word in str(d.get("feature", "")) for word in ("contact", "call", "remind"))
    ]
    helpful = [d for d in contact if float(d.get("contribution_days") or 0) < 0]
    if helpful:
        best = min(helpful, key=lambda d: float(d.get("contribution_days") or 0))
        return f"pays sooner when contacted ({best['text']})"
    pushing = [d for d in rows if float(d.get("contribution_days") or 0) > 0]
    if pushing:
        return str(max(pushing, key=lambda d: float(d.get("contribution_days") or 0))["text"])
    return ""


def reasons_in_words(
    *, run_id: int | None, customer_ids: Sequence[int], today: date, on_time: Collection[int] = ()
) -> dict[int, PredictedWhy]:
    """The why of each customer's row (``customer_ids``: the page's; ``on_time``: those the query
    found likely to pay without a chase), from the stored predictions: one query."""
    from relance.core.formatting import format_money
    from relance.predict.models import InvoicePrediction

    if run_id is None or not customer_ids:
        return {}
    rows = InvoicePrediction.objects.filter(
        run_id=run_id, invoice__customer_id__in=list(customer_ids)
    ).values_list(
        "invoice__customer_id",
        "p_late",
        "open_amount",
        "currency",
        "expected_pay_date",
        "invoice__due_date",
        "drivers",
    )
    by_customer: dict[int, list[tuple[Any, ...]]] = {}
    for row in rows:
        by_customer.setdefault(row[0], []).append(row[1:])
    result = {}
    for customer_id, invoices in by_customer.items():
        skip = customer_id in on_time
        late = [item for item in invoices if item[0] >= LATE_P_LATE]
        if not late:
            text = "likely to pay on time without a chase"
        else:
            slip = max((pay - due).days for _, _, _, pay, due, _ in late)
            amount = sum((Decimal(open_amount) for _, open_amount, *_ in late), Decimal(0))
            currency = late[0][2]
            text = (
                f"likely {slip} days late on {format_money(amount, currency, 'en')}"
                if slip > 0
                else f"likely late on {format_money(amount, currency, 'en')}"
            )
            if skip:
                expected = max(pay for _, _, _, pay, _, _ in invoices)
                text += f", but expected in by {expected.isoformat()} without a chase"
            worst = max(late, key=lambda item: item[0] * float(item[1]))
            driver = _driver_words(worst[5] or [])
            if driver:
                text += f"; {driver[0].lower()}{driver[1:]}"
        result[customer_id] = PredictedWhy(text=text, on_time=skip)
    return result


@dataclass(frozen=True)
class InvoicePredictionView:
    """One open invoice's stored prediction as the customer 360 shows it."""

    invoice_ref: str
    currency: str
    open_amount: Decimal
    due_date: date
    p_late: float
    expected_pay_date: date
    pay_date_p10: date
    pay_date_p90: date
    drivers: tuple[str, ...]  # in words, most days first

    @property
    def p_late_percent(self) -> int:
        return round(self.p_late * 100)

    @property
    def slip_days(self) -> int:
        return (self.expected_pay_date - self.due_date).days


@dataclass(frozen=True)
class CustomerPredictions:
    as_of: date
    model: str
    note: str
    invoices: tuple[InvoicePredictionView, ...]


PANEL_LIMIT = 50


def customer_predictions(
    *, customer: Any, open_invoice_ids: Iterable[int], limit: int = PANEL_LIMIT
) -> CustomerPredictions | None:
    """The stored predictions (the entity's latest run) of the customer's invoices still open, the
    most expected late amount first; None when the entity was never predicted. Two queries."""
    from relance.predict.models import InvoicePrediction
    from relance.predict.selectors import latest_run

    run = latest_run(entity=customer.entity)
    if run is None:
        return None
    still_open = set(open_invoice_ids)
    rows = (
        InvoicePrediction.objects.filter(run=run, invoice__customer=customer)
        .order_by()
        .values_list(
            "invoice_id",
            "invoice__external_ref",
            "currency",
            "open_amount",
            "invoice__due_date",
            "p_late",
            "expected_pay_date",
            "pay_date_p10",
            "pay_date_p90",
            "drivers",
        )
    )
    views = [
        InvoicePredictionView(
            invoice_ref=ref,
            currency=currency,
            open_amount=Decimal(open_amount),
            due_date=due,
            p_late=float(p_late),
            expected_pay_date=expected,
            pay_date_p10=p10,
            pay_date_p90=p90,
            drivers=tuple(
                str(driver["text"])
                for driver in sorted(
                    (d for d in drivers or [] if isinstance(d, dict) and d.get("text")),
                    key=lambda d: -abs(float(d.get("contribution_days") or 0)),
                )
            ),
        )
        for invoice_id, ref, currency, open_amount, due, p_late, expected, p10, p90, drivers in rows
        if invoice_id in still_open
    ]
    views.sort(key=lambda view: (-view.p_late * float(view.open_amount), view.invoice_ref))
    return CustomerPredictions(
        as_of=run.as_of, model=run.get_model_display(), note=run.note, invoices=tuple(views[:limit])
    )

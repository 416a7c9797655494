"""Why a customer's credit is reviewed today, and what the review proposes.

The daily credit step compares each customer's **credit state** today (limit, exposure, score,
class, broken promises, bureau events, schedule; one row per customer, ``REVIEW_STATE_SCHEMA``)
with the previous scoring day's, and opens a review for every customer with a **trigger**:

* ``limit_breached``: the exposure is over the limit;
* ``high_utilisation``: the exposure uses ``high_utilisation`` % of the limit or more (not over);
* ``class_dropped``: the risk class is worse than on the previous scoring day;
* ``derogatory_event``: the latest bureau report has more derogatory events, or a lower bureau
  score, than the one known on the previous scoring day;
* ``broken_promises``: a promise was broken since the previous scoring day and the year counts
  ``broken_promises_min`` or more;
* ``good_behaviour``: paid within terms for the year, a customer for ``good_months`` months or
  more, class A or B and utilisation between ``good_utilisation`` % and the limit: room to grow;
* ``scheduled``: the next review day (per class: ``review_days``) has come;
* ``pay_behaviour_changed``: the customer's recent days to pay broke from its own history
  (``relance.ml.behaviour``: the verdict arrives in the optional ``BEHAVIOUR_STATE_SCHEMA``
  columns), when it starts (it did not hold on the previous scoring day) or once cooled down.

A **state** trigger (breached, high utilisation, good behaviour) fires when the state starts
(it did not hold on the previous scoring day) or, while it lasts, once the last review is
``cooldown_days`` old: a rejected proposal is not proposed again the next morning.

``review_triggers_expr`` is one Ibis expression (one row per customer and trigger code);
``trigger_of_row`` says it in a sentence with its facts; ``propose`` is the decision proposed
from the state and the triggers, with its reasons. Pure: no Django, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import ibis
import ibis.expr.types as ir

from relance.core.formatting import format_money
from relance.engine.credit.scorecard import RISK_CLASSES

TRIGGER_CODES = (
    "limit_breached",
    "high_utilisation",
    "class_dropped",
    "derogatory_event",
    "broken_promises",
    "good_behaviour",
    "scheduled",
    "pay_behaviour_changed",
)

# One row per customer: what the triggers and the proposal read.
REVIEW_STATE_SCHEMA = {
    "customer_id": "int64",
    "currency": "string",
    "credit_limit": "decimal(18, 4)",  # null: no limit
    "exposure": "decimal(18, 4)",
    "utilisation": "float64",  # percent of the limit; null without a limit
    "previous_utilisation": "float64",
    "score": "int64",
    "risk_class": "string",
    "previous_score": "int64",  # null: not scored on the previous scoring day
    "previous_class": "string",
    "broken_promises": "float64",  # last 12 months
    "previous_broken_promises": "float64",
    "days_beyond_terms": "float64",  # null: nothing paid yet
    "relationship_months": "float64",
    "derogatory_events": "int64",  # the latest bureau report's; null: no report
    "previous_derogatory_events": "int64",  # the report's known on the previous scoring day
    "bureau_score": "float64",  # the latest report's, 0–100, higher is safer
    "previous_bureau_score": "float64",
    "terms_days": "int64",
    "credit_hold": "boolean",
    "last_reviewed_on": "date",
    "next_review_on": "date",
}


# Optional columns of the state (a state without them fires no ``pay_behaviour_changed``): the
# behaviour-change verdict (``relance.ml.behaviour``) today and on the previous scoring day.
BEHAVIOUR_STATE_SCHEMA = {
    "pay_behaviour_changed": "boolean",
    "previous_pay_behaviour_changed": "boolean",
    "recent_days_to_pay": "float64",
    "usual_days_to_pay": "float64",
    "usual_days_to_pay_sd": "float64",
    "recent_paid": "int64",
    "usual_paid": "int64",
}


@dataclass(frozen=True)
class ReviewThresholds:
    """The numbers the triggers and proposals use (an entity may change them one day)."""

    high_utilisation: float = 90.0  # percent
    good_utilisation: float = 70.0
    good_months: int = 6
    good_max_days_beyond_terms: float = 0.0
    good_classes: tuple[str, ...] = ("A", "B")
    lower_classes: tuple[str, ...] = ("D", "E")
    hold_classes: tuple[str, ...] = ("E",)
    broken_promises_min: int = 2
    cooldown_days: int = 30
    # days to the next scheduled review, per class
    review_days: tuple[tuple[str, int], ...] = (("A", 365), ("B", 180), ("C", 90), ("D", 60), ("E", 30))
    raise_percent: int = 25
    lower_percent: int = 25
    headroom_percent: int = 10  # a raise covers the exposure with this much room
    short_terms_days: int = 15
    round_digits: int = 2  # a proposed limit is rounded to this many significant digits

    def days_to_next_review(self, risk_class: str) -> int:
        return dict(self.review_days).get(risk_class, min(days for _, days in self.review_days))

    def next_review_on(self, risk_class: str, on: date) -> date:
        return on + timedelta(days=self.days_to_next_review(risk_class))


THRESHOLDS = ReviewThresholds()


def _class_rank(column: ir.StringValue) -> ir.IntegerValue:
    return column.cases(*((letter, rank) for rank, letter in enumerate(RISK_CLASSES)), else_=None)


def review_triggers_expr(state: ir.Table, as_of: date, thresholds: ReviewThresholds = THRESHOLDS) -> ir.Table:
    """One row per customer and trigger code: the state's columns and ``code``."""
    t = thresholds
    limit = state.credit_limit.notnull() & (state.credit_limit > 0)
    breached = limit & (state.exposure > state.credit_limit)
    was_breached = state.previous_utilisation.notnull() & (state.previous_utilisation > 100.0)
    high = limit & ~breached & (state.utilisation >= t.high_utilisation)
    was_high = state.previous_utilisation.notnull() & (state.previous_utilisation >= t.high_utilisation)
    good = (
        limit
        & ~breached
        & (state.utilisation >= t.good_utilisation)
        & state.days_beyond_terms.notnull()
        & (state.days_beyond_terms <= t.good_max_days_beyond_terms)
        & (state.relationship_months >= t.good_months)
        & state.risk_class.isin(list(t.good_classes))
    )
    was_good = state.previous_utilisation.notnull() & (state.previous_utilisation >= t.good_utilisation)
    cooled = state.last_reviewed_on.isnull() | (
        state.last_reviewed_on <= ibis.literal(as_of - timedelta(days=t.cooldown_days))
    )
    conditions = {
        "limit_breached": breached & (~was_breached | cooled),
        "high_utilisation": high & (~was_high | cooled),
        "class_dropped": state.previous_class.notnull()
        & (_class_rank(state.risk_class) > _class_rank(state.previous_class)),
        "derogatory_event": (
            state.derogatory_events.notnull()
            & (state.derogatory_events > state.previous_derogatory_events.fill_null(0))
        )
        | (state.bureau_score < state.previous_bureau_score),
        "broken_promises": state.broken_promises.notnull()
        & (state.broken_promises >= t.broken_promises_min)
        & (state.broken_promises > state.previous_broken_promises.fill_null(0)),
        "good_behaviour": good & (~was_good | cooled),
        "scheduled": state.next_review_on.notnull() & (state.next_review_on <= ibis.literal(as_of)),
    }
    if "pay_behaviour_changed" in state.columns:
        started = ~state.previous_pay_behaviour_changed.fill_null(False)
        conditions["pay_behaviour_changed"] = state.pay_behaviour_changed.fill_null(False) & (
            started | cooled
        )
    parts = [
        state.filter(condition.fill_null(False)).mutate(code=ibis.literal(code))
        for code, condition in conditions.items()
    ]
    return ibis.union(*parts)


# --------------------------------------------------------------------------- in words


@dataclass(frozen=True)
class Trigger:
    code: str
    text: str
    facts: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "text": self.text, "facts": self.facts}


def _money(amount: Any, currency: str) -> str:
    return format_money(Decimal(str(amount)), currency, "en")


def _percent(value: Any) -> str:
    return f"{float(value):.0f} %"


def _fact(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _facts(row: Mapping[str, Any], *names: str) -> dict[str, Any]:
    return {name: _fact(row.get(name)) for name in names}


def trigger_of_row(row: Mapping[str, Any], thresholds: ReviewThresholds = THRESHOLDS) -> Trigger:
    """A row of ``review_triggers_expr`` in words, with the facts it rests on."""
    code, currency = row["code"], row["currency"]
    if code == "limit_breached":
        text = (
            f"Exposure {_money(row['exposure'], currency)} is over the "
            f"{_money(row['credit_limit'], currency)} limit ({_percent(row['utilisation'])} used)."
        )
        return Trigger(code, text, _facts(row, "credit_limit", "exposure", "utilisation", "currency"))
    if code == "high_utilisation":
        text = (
            f"{_percent(row['utilisation'])} of the {_money(row['credit_limit'], currency)} limit is used "
            f"(review from {thresholds.high_utilisation:.0f} %)."
        )
        return Trigger(code, text, _facts(row, "credit_limit", "exposure", "utilisation", "currency"))
    if code == "class_dropped":
        text = (
            f"The risk class dropped from {row['previous_class']} to {row['risk_class']} "
            f"(score {row['previous_score']} → {row['score']}, higher is riskier)."
        )
        return Trigger(code, text, _facts(row, "previous_class", "risk_class", "previous_score", "score"))
    if code == "derogatory_event":
        parts = []
        before = row.get("previous_derogatory_events") or 0
        if (row.get("derogatory_events") or 0) > before:
            parts.append(f"{row['derogatory_events']} derogatory event(s) (was {before})")
        score, was = row.get("bureau_score"), row.get("previous_bureau_score")
        if score is not None and was is not None and score < was:
            parts.append(f"a bureau score of {score:.0f} (was {was:.0f}; higher is safer)")
        text = f"The latest bureau report shows {' and '.join(parts)}."
        names = ("derogatory_events", "previous_derogatory_events", "bureau_score", "previous_bureau_score")
        return Trigger(code, text, _facts(row, *names))
    if code == "broken_promises":
        text = f"A promise to pay was broken: {row['broken_promises']:.0f} broken in the last 12 months."
        return Trigger(code, text, _facts(row, "broken_promises", "previous_broken_promises"))
    if code == "good_behaviour":
        text = (
            f"Paid within terms over the last 12 months, a customer for {row['relationship_months']:.0f} "
            f"months, class {row['risk_class']}, and {_percent(row['utilisation'])} of the limit used: "
            "room to grow."
        )
        return Trigger(
            code,
            text,
            _facts(row, "days_beyond_terms", "relationship_months", "utilisation", "risk_class"),
        )
    if code == "scheduled":
        last = row.get("last_reviewed_on")
        text = f"Scheduled review (class {row['risk_class']}), due on {_fact(row['next_review_on'])}" + (
            f"; last reviewed on {_fact(last)}." if last else "; never reviewed."
        )
        return Trigger(code, text, _facts(row, "next_review_on", "last_reviewed_on", "risk_class"))
    if code == "pay_behaviour_changed":

        def days(name: str) -> str:
            value = row.get(name)
            return "?" if value is None else f"{float(value):.0f}"

        text = (
            f"Pay behaviour changed: {days('recent_days_to_pay')} days to pay lately "
            f"({row.get('recent_paid') or 0} invoice(s) paid lately), against "
            f"{days('usual_days_to_pay')} ± {days('usual_days_to_pay_sd')} days before "
            f"({row.get('usual_paid') or 0} invoices)."
        )
        behaviour_names: tuple[str, ...] = (
            "recent_days_to_pay",
            "usual_days_to_pay",
            "usual_days_to_pay_sd",
            "recent_paid",
            "usual_paid",
        )
        return Trigger(code, text, _facts(row, *behaviour_names))
    raise ValueError(f"unknown trigger code {code!r}")


# --------------------------------------------------------------------------- proposals


@dataclass(frozen=True)
class Proposal:
    """The decision a review proposes: a ``DecisionKind`` value, the limit and terms after it."""

    kind: str
    limit: Decimal | None
    terms_days: int | None
    reasons: tuple[str, ...]


def _round(amount: Decimal, digits: int, rounding: str) -> Decimal:
    """``amount`` to ``digits`` significant digits (whole units at least): 18,750 → 19,000 up."""
    if amount <= 0:
        return Decimal(0)
    step = Decimal(10) ** max(0, math.floor(math.log10(amount)) - (digits - 1))
    return (amount / step).quantize(Decimal("1"), rounding=rounding) * step


def propose(
    row: Mapping[str, Any], codes: Collection[str], thresholds: ReviewThresholds = THRESHOLDS
) -> Proposal:
    """The proposal for a customer in state ``row`` reviewed for ``codes``, first rule that applies:

    1. on hold, now within the limit, class not in ``hold_classes``, no new bureau event: lift it;
    2. over the limit with a bureau event or a class in ``hold_classes``, not on hold: place a hold;
    3. same, already on hold: require prepayment;
    4. class in ``lower_classes`` after a drop, a broken promise, a bureau event or a breach: lower
       the limit by ``lower_percent`` (rounded down), or require prepayment without a limit;
    5. over the limit, high utilisation or good behaviour, class in ``good_classes``: raise the
       limit by ``raise_percent``, at least to cover the exposure with ``headroom_percent``
       (rounded up);
    6. class C over the limit: require a guarantee; class C with broken promises: shorten the
       terms to ``short_terms_days``;
    7. otherwise keep the limit and terms as they are.
    """
    t = thresholds
    codes = set(codes)
    currency = row["currency"]
    limit = row.get("credit_limit")
    limit = Decimal(str(limit)) if limit is not None and Decimal(str(limit)) > 0 else None
    exposure = Decimal(str(row.get("exposure") or 0))
    terms = row.get("terms_days")
    risk_class = row["risk_class"]
    on_hold = bool(row.get("credit_hold"))
    breached = limit is not None and exposure > limit
    event = "derogatory_event" in codes
    why = f"class {risk_class}, score {row['score']}"

    if on_hold and not breached and risk_class not in t.hold_classes and not event:
        reasons = (f"The customer is within its limit again and {why}: the credit hold can be lifted.",)
        return Proposal("lift_hold", limit, terms, reasons)
    if breached and (event or risk_class in t.hold_classes):
        cause = "a new derogatory event" if event else why
        over = f"the exposure {_money(exposure, currency)} is over the {_money(limit, currency)} limit"
        if not on_hold:
            return Proposal("place_hold", limit, terms, (f"With {cause}, {over}: hold new orders.",))
        return Proposal(
            "require_prepayment",
            limit,
            terms,
            (f"With {cause}, {over} and a credit hold already in force: require prepayment.",),
        )
    worse = codes & {
        "class_dropped",
        "broken_promises",
        "derogatory_event",
        "limit_breached",
        "pay_behaviour_changed",
    }
    if risk_class in t.lower_classes and worse:
        if limit is None:
            return Proposal(
                "require_prepayment", None, terms, (f"With {why} and no credit limit: require prepayment.",)
            )
        lowered = max(_round(limit * (100 - t.lower_percent) / 100, t.round_digits, ROUND_FLOOR), Decimal(0))
        reasons = (
            f"With {why}, lower the limit by {t.lower_percent} % to {_money(lowered, currency)} "
            f"(from {_money(limit, currency)}).",
        )
        return Proposal("lower_limit", lowered, terms, reasons)
    room = codes & {"limit_breached", "high_utilisation", "good_behaviour"}
    if limit is not None and room and risk_class in t.good_classes:
        raised = max(limit * (100 + t.raise_percent) / 100, exposure * (100 + t.headroom_percent) / 100)
        raised = _round(raised, t.round_digits, ROUND_CEILING)
        reasons = (
            f"A good payer ({why}), using {_percent(exposure * 100 / limit)} of its limit: raise it to "
            f"{_money(raised, currency)} (from {_money(limit, currency)}; at least +{t.raise_percent} %, "
            f"and the exposure with {t.headroom_percent} % room).",
        )
        return Proposal("raise_limit", raised, terms, reasons)
    if risk_class == "C" and breached and limit is not None:
        reasons = (
            f"With {why}, the exposure {_money(exposure, currency)} is over the {_money(limit, currency)} "
            "limit: orders beyond it need a guarantee.",
        )
        return Proposal("require_guarantee", limit, terms, reasons)
    if risk_class == "C" and "broken_promises" in codes and terms is not None and terms > t.short_terms_days:
        reasons = (
            f"With {why} and broken promises, shorten the payment terms to {t.short_terms_days} days "
            f"(from {terms}).",
        )
        return Proposal("change_terms", limit, t.short_terms_days, reasons)
    shown = _money(limit, currency) if limit is not None else "no limit"
    return Proposal("keep", limit, terms, (f"With {why}, keep the limit ({shown}) and terms as they are.",))

"""Credit review triggers and the decision each review proposes (issue 15, reviews).

``review_triggers_expr`` reads the day's scores (``credit_scores_expr``: factors, the exposure
facts, score and class), the previous scores, the bureau reports, the promises and the last
reviews, and gives one row per (customer, trigger) with the facts that fired it, as one Ibis
expression (so the daily run does it where the ledger is). The triggers, in order:

* ``limit_breached``: utilisation above 100 %;
* ``high_utilisation``: utilisation from 90 % (and not breached);
* ``class_dropped``: the risk class is worse than the previous score's;
* ``derogatory_event``: a bureau report dated since the previous scoring day with more
  derogatory events than the report before it, or a lower bureau score (a first report: any
  derogatory event);
* ``broken_promises``: a promise broken since the previous scoring day (a promise is broken the
  day after its date plus the policy's grace, ``relance.core.promises``; the day it could first
  be written broken is the one counted, so it fires once);
* ``good_behaviour``: within terms (days beyond terms ≤ 0, at most 10 % paid late, over the
  scoring's 12 months) for a customer of at least 6 months, at 70 % utilisation or more: a
  candidate for a higher limit;
* ``scheduled``: the class's review interval (A 365 days, B 180, C 90, D 60, E 30) has passed
  since the last review, or there was none — for customers with a limit or an exposure.

"Since the previous scoring day": the customer's latest previous score before the date, else the
day before the date. The thresholds are data (``ReviewRules``), not code.

``triggers_of_rows`` adds a sentence of why to each fetched row; ``propose`` turns a customer's
triggers into one proposed decision with its reasons (pure Python: a few rows per customer).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import ibis
import ibis.expr.types as ir

from relance.engine.credit.exposure import flat
from relance.engine.credit.scorecard import RISK_CLASSES
from relance.engine.days import backend_name, day_number
from relance.engine.dunning.contract import DunningTables

TRIGGER_CODES = (
    "limit_breached",
    "high_utilisation",
    "class_dropped",
    "derogatory_event",
    "broken_promises",
    "good_behaviour",
    "scheduled",
)
RISK_TRIGGERS = ("class_dropped", "derogatory_event", "broken_promises")
DECISIONS = (
    "raise_limit",
    "lower_limit",
    "change_terms",
    "require_prepayment",
    "place_hold",
    "lift_hold",
    "keep",
)


@dataclass(frozen=True)
class ReviewRules:
    """The triggers' thresholds and the proposals' sizes: data, shipped with these defaults."""

    limit_breached_above: float = 100.0  # utilisation, percent: strictly above
    high_utilisation_from: float = 90.0  # percent, inclusive
    good_behaviour_months: int = 6  # a customer for at least this long
    good_behaviour_max_days_beyond_terms: float = 0.0
    good_behaviour_max_late_share: float = 10.0  # percent
    good_behaviour_min_utilisation: float = 70.0  # percent
    review_every_days: tuple[tuple[str, int], ...] = (("A", 365), ("B", 180), ("C", 90), ("D", 60), ("E", 30))
    promise_grace_days: int = 3  # the dunning policy's default (``Cadence.promise_grace_days``)
    raise_factor: Decimal = Decimal("1.5")  # good behaviour: up to the limit × this …
    lower_factor: Decimal = Decimal("0.75")  # a risk trigger in class D: down to the limit × this
    shorter_terms_days: int = 15  # a risk trigger in class C: terms shortened by this much
    # a proposed limit is rounded to a step by its size: (below this amount, step) …, then the last
    limit_steps: tuple[tuple[int, int], ...] = ((10_000, 500), (100_000, 1_000), (1_000_000, 5_000))
    largest_step: int = 10_000

    def review_days(self, risk_class: str) -> int:
        return dict(self.review_every_days)[risk_class]


DEFAULT_RULES = ReviewRules()

# The facts each trigger row carries (beside customer_id and trigger), whatever fired it.
TRIGGER_FACTS = (
    "currency",
    "credit_limit",
    "exposure",
    "available",
    "utilisation",
    "missing_rate",
    "score",
    "risk_class",
    "previous_score",
    "previous_class",
    "since",
    "days_beyond_terms",
    "late_share",
    "relationship_months",
    "bureau_score",
    "derogatory_events",
    "recommended_limit",
    "report_on",
    "report_score",
    "report_events",
    "before_score",
    "before_events",
    "promises_broken_since",
    "last_reviewed_on",
    "days_since_review",
    "review_every_days",
    "on_hold",
    "payment_terms_days",
)


def _previous(previous_scores: ir.Table | None, as_of: date) -> ir.Table | None:
    """Each customer's latest score before ``as_of`` (one score a customer a day):
    _v_customer, previous_on, previous_score, previous_class."""
    if previous_scores is None:
        return None
    before = previous_scores.filter(previous_scores.scored_on < as_of)
    last = before.group_by(_l_customer="customer_id").aggregate(_l_on=before.scored_on.max())
    latest = before.join(last, (before.customer_id == last._l_customer) & (before.scored_on == last._l_on))
    return latest.select(
        _v_customer=latest.customer_id,
        previous_on=latest.scored_on,
        previous_score=latest.score.cast("int64"),
        previous_class=latest.risk_class,
    )


def _since(table: ir.Table, previous: ir.Table | None, day_before: ir.Value) -> ir.Table:
    """``table`` (customer_id, …) with ``_w_since``: its customer's previous scoring day, else the
    day before the date."""
    if previous is None:
        return table.mutate(_w_since=day_before)
    windows = previous.select(_ws_customer="_v_customer", _ws_on="previous_on")
    joined = table.left_join(windows, table.customer_id == windows._ws_customer)
    return joined.mutate(_w_since=ibis.coalesce(joined._ws_on, day_before)).drop("_ws_customer", "_ws_on")


def _bureau_news(reports: ir.Table, previous: ir.Table | None, day_before: ir.Value, as_of: date) -> ir.Table:
    """Per customer, the latest report dated in (since, as_of] that is worse than the one before it."""
    known = reports.filter(reports.reported_on <= as_of)
    window = ibis.window(group_by=known.customer_id, order_by=known.reported_on)
    ordered = known.mutate(
        before_score=known.bureau_score.lag().over(window),
        before_events=known.derogatory_events.lag().over(window),
    )
    ordered = _since(ordered, previous, day_before)
    worse = (ordered.derogatory_events > ordered.before_events.fill_null(0)) | (
        ordered.bureau_score < ordered.before_score
    )
    news = ordered.filter(ordered.reported_on > ordered._w_since, worse)
    last = news.group_by(_n_customer="customer_id").aggregate(_n_on=news.reported_on.max())
    picked = news.join(last, (news.customer_id == last._n_customer) & (news.reported_on == last._n_on))
    return picked.group_by(_k_customer="customer_id").aggregate(
        report_on=picked.reported_on.max(),
        report_score=picked.bureau_score.min(),
        report_events=picked.derogatory_events.max(),
        before_score=picked.before_score.max(),
        before_events=picked.before_events.max(),
    )


def review_triggers_expr(
    tables: DunningTables,
    scores_today: ir.Table,
    previous_scores: ir.Table | None,
    as_of: date,
    rules: ReviewRules = DEFAULT_RULES,
    *,
    last_reviews: ir.Table | None = None,
) -> ir.Table:
    """One row per (customer, trigger): ``customer_id``, ``trigger`` (``TRIGGER_CODES``) and the
    ``TRIGGER_FACTS``.

    ``scores_today``: ``credit_scores_expr``'s table for ``as_of``. ``previous_scores``:
    customer_id, scored_on, score, risk_class (earlier days; None: none). ``last_reviews``:
    customer_id, last_reviewed_on (None: never reviewed).
    """
    dialect = backend_name(tables.customers)
    as_of_day = day_number(ibis.literal(as_of), dialect)
    scores_today = flat(scores_today)
    day_before = ibis.literal(as_of - timedelta(days=1))
    previous = _previous(previous_scores, as_of)
    if previous is not None:
        previous = flat(previous)
        base = scores_today.left_join(previous, scores_today.customer_id == previous._v_customer)
        base = base.mutate(_w_since=ibis.coalesce(base.previous_on, day_before))
    else:
        base = scores_today.mutate(
            previous_on=ibis.null("date"),
            previous_score=ibis.null("int64"),
            previous_class=ibis.null("string"),
            _w_since=day_before,
        )
    if tables.bureau_reports is not None:
        news = _bureau_news(tables.bureau_reports, previous, day_before, as_of)
        base = base.left_join(news, base.customer_id == news._k_customer)
    else:
        base = base.mutate(
            report_on=ibis.null("date"),
            report_score=ibis.null("float64"),
            report_events=ibis.null("int64"),
            before_score=ibis.null("float64"),
            before_events=ibis.null("int64"),
        )
    promises = tables.promises.filter(tables.promises.status == "broken")
    broken_on_day = day_number(promises.promised_date, dialect) + (rules.promise_grace_days + 1)
    promises = _since(promises.mutate(_broken_day=broken_on_day), previous, day_before)
    promises = promises.filter(
        promises._broken_day > day_number(promises._w_since, dialect), promises._broken_day <= as_of_day
    )
    broken = promises.group_by(_b_customer="customer_id").aggregate(promises_broken_since=promises.count())
    base = base.left_join(broken, base.customer_id == broken._b_customer)
    holds = tables.holds.filter(
        tables.holds.kind == "hold",
        tables.holds.starts_on <= as_of,
        tables.holds.ends_on.isnull() | (tables.holds.ends_on >= as_of),
    )
    held = holds.group_by(_h_customer="customer_id").aggregate(_h_count=holds.count())
    base = base.left_join(held, base.customer_id == held._h_customer)
    if last_reviews is not None:
        reviews = last_reviews.group_by(_r_customer="customer_id").aggregate(
            last_reviewed_on=last_reviews.last_reviewed_on.max()
        )
        base = base.left_join(reviews, base.customer_id == reviews._r_customer)
    else:
        base = base.mutate(last_reviewed_on=ibis.null("date"))
    every = ibis.cases(
        *[(base.risk_class == letter, days) for letter, days in rules.review_every_days], else_=0
    )
    base = base.select(
        "customer_id",
        *[name for name in TRIGGER_FACTS if name in ("currency", "credit_limit", "exposure", "available")],
        "utilisation",
        "missing_rate",
        score=base.score.cast("int64"),
        risk_class="risk_class",
        previous_score="previous_score",
        previous_class="previous_class",
        since="_w_since",
        days_beyond_terms="days_beyond_terms",
        late_share="late_share",
        relationship_months="relationship_months",
        bureau_score="bureau_score",
        derogatory_events="derogatory_events",
        recommended_limit="recommended_limit",
        report_on="report_on",
        report_score=base.report_score.cast("float64"),
        report_events=base.report_events.cast("int64"),
        before_score=base.before_score.cast("float64"),
        before_events=base.before_events.cast("int64"),
        promises_broken_since=base.promises_broken_since.fill_null(0).cast("int64"),
        last_reviewed_on="last_reviewed_on",
        days_since_review=(as_of_day - day_number(base.last_reviewed_on, dialect)).cast("int64"),
        review_every_days=every.cast("int64"),
        on_hold=base._h_count.fill_null(0) > 0,
        payment_terms_days="payment_terms_days",
    )
    base = flat(base)
    utilisation = base.utilisation
    conditions = {
        "limit_breached": utilisation > rules.limit_breached_above,
        "high_utilisation": (utilisation >= rules.high_utilisation_from)
        & (utilisation <= rules.limit_breached_above),
        "class_dropped": base.previous_class.notnull() & (base.risk_class > base.previous_class),
        "derogatory_event": base.report_on.notnull(),
        "broken_promises": base.promises_broken_since > 0,
        "good_behaviour": (base.days_beyond_terms <= rules.good_behaviour_max_days_beyond_terms)
        & (base.late_share <= rules.good_behaviour_max_late_share)
        & (base.relationship_months >= rules.good_behaviour_months)
        & (utilisation >= rules.good_behaviour_min_utilisation),
        "scheduled": (base.credit_limit.notnull() | (base.exposure > 0))
        & (base.last_reviewed_on.isnull() | (base.days_since_review >= base.review_every_days)),
    }
    parts = [
        base.filter(condition.fill_null(False)).select(
            "customer_id", ibis.literal(code, type="string").name("trigger"), *TRIGGER_FACTS
        )
        for code, condition in conditions.items()
    ]
    return ibis.union(*parts)


# --------------------------------------------------------------------------- words and proposals


@dataclass(frozen=True)
class Trigger:
    customer_id: int
    code: str
    reason: str
    facts: Mapping[str, Any]


def _percent(value: Any) -> str:
    return f"{float(value):.0f} %"


def _money(value: Any, currency: Any) -> str:
    amount = Decimal(str(value)).quantize(Decimal(1))
    return f"{amount:,} {currency or ''}".strip()


def trigger_reason(code: str, facts: Mapping[str, Any]) -> str:
    """The sentence saying why ``code`` fired, from its facts."""
    limit = facts.get("credit_limit")
    currency = facts.get("currency")
    if code == "limit_breached":
        return (
            f"over its credit limit: {_money(facts['exposure'], currency)} of exposure against a limit of "
            f"{_money(limit, currency)} ({_percent(facts['utilisation'])} used)"
        )
    if code == "high_utilisation":
        return (
            f"near its credit limit: {_percent(facts['utilisation'])} used "
            f"({_money(facts['available'], currency)} left)"
        )
    if code == "class_dropped":
        return (
            f"risk class dropped from {facts['previous_class']} to {facts['risk_class']} "
            f"(score {facts['previous_score']} → {facts['score']})"
        )
    if code == "derogatory_event":
        parts = []
        if facts.get("report_events") is not None and (facts.get("report_events") or 0) > (
            facts.get("before_events") or 0
        ):
            parts.append(
                f"{facts['report_events']} derogatory events (was {facts.get('before_events') or 0})"
            )
        if facts.get("before_score") is not None and facts["report_score"] < facts["before_score"]:
            parts.append(f"bureau score {facts['report_score']:.0f} (was {facts['before_score']:.0f})")
        return f"a bureau report of {facts['report_on']}: " + ", ".join(parts)
    if code == "broken_promises":
        count = facts["promises_broken_since"]
        return f"{'a promise' if count == 1 else f'{count} promises'} broken since {facts['since']}"
    if code == "good_behaviour":
        return (
            f"pays within terms ({facts['late_share']:.0f} % late) for {facts['relationship_months']:.0f} "
            f"months and uses {_percent(facts['utilisation'])} of its limit: room to grow"
        )
    if code == "scheduled":
        if facts.get("last_reviewed_on") is None:
            return f"never reviewed (class {facts['risk_class']})"
        return (
            f"last reviewed on {facts['last_reviewed_on']}: class {facts['risk_class']} is reviewed every "
            f"{facts['review_every_days']} days"
        )
    raise ValueError(f"unknown trigger {code!r}")


def triggers_of_rows(rows: Iterable[Mapping[str, Any]]) -> list[Trigger]:
    """Rows of ``review_triggers_expr`` (dicts) as ``Trigger``s with their sentence, in the
    customer's and ``TRIGGER_CODES``' order."""
    order = {code: position for position, code in enumerate(TRIGGER_CODES)}
    ordered = sorted(rows, key=lambda row: (row["customer_id"], order[row["trigger"]]))
    return [
        Trigger(
            customer_id=int(row["customer_id"]),
            code=str(row["trigger"]),
            reason=trigger_reason(str(row["trigger"]), row),
            facts=row,  # the row itself: the TRIGGER_FACTS and the trigger
        )
        for row in ordered
    ]


@dataclass(frozen=True)
class Proposal:
    """What a review proposes for one customer, and why (its triggers' sentences first)."""

    customer_id: int
    decision: str  # DECISIONS
    triggers: tuple[str, ...]
    reasons: tuple[str, ...]
    current_limit: Decimal | None = None
    new_limit: Decimal | None = None
    new_terms_days: int | None = None
    currency: str | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)


def round_limit(amount: Decimal, rules: ReviewRules = DEFAULT_RULES, *, up: bool = False) -> Decimal:
    """``amount`` rounded down (``up``: up) to the step of its size: 500 below 10,000, 1,000 below
    100,000, 5,000 below a million, 10,000 above (``ReviewRules.limit_steps``)."""
    step = next((step for below, step in rules.limit_steps if amount < below), rules.largest_step)
    rounding = ROUND_CEILING if up else ROUND_FLOOR
    return (amount / step).quantize(Decimal(1), rounding=rounding) * step


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _proposal(customer_id: int, triggers: Sequence[Trigger], rules: ReviewRules) -> Proposal:
    facts = dict(triggers[0].facts)
    codes = tuple(trigger.code for trigger in triggers)
    reasons = [trigger.reason for trigger in triggers]
    limit = _decimal(facts.get("credit_limit"))
    exposure = _decimal(facts.get("exposure")) or Decimal(0)
    recommended = _decimal(facts.get("recommended_limit"))
    risk_class = str(facts.get("risk_class") or "C")
    grade = RISK_CLASSES.index(risk_class) if risk_class in RISK_CLASSES else 2
    risky = any(code in RISK_TRIGGERS for code in codes)
    terms = facts.get("payment_terms_days")

    def make(decision: str, why: str, **values: Any) -> Proposal:
        return Proposal(
            customer_id=customer_id,
            decision=decision,
            triggers=codes,
            reasons=(*reasons, why),
            current_limit=limit,
            currency=facts.get("currency"),
            facts=facts,
            **values,
        )

    if grade == 4 and (risky or "limit_breached" in codes):
        if "limit_breached" in codes:
            return make("place_hold", "class E and over its limit: hold new orders until it pays down")
        return make("require_prepayment", "class E: new orders paid in advance")
    if "limit_breached" in codes and grade >= 3:
        return make(
            "place_hold", f"class {risk_class} and over its limit: hold new orders until it pays down"
        )
    if risky and grade == 3 and limit is not None:
        lowered = max(round_limit(limit * rules.lower_factor, rules), round_limit(exposure, rules, up=True))
        if lowered < limit:
            return make(
                "lower_limit",
                f"class {risk_class} with a warning sign: the limit down to what it uses, at most "
                f"{rules.lower_factor * 100:.0f} % of today's",
                new_limit=lowered,
            )
    if risky and grade >= 2 and terms:
        shorter = max(int(terms) - rules.shorter_terms_days, 0)
        return make(
            "change_terms",
            f"class {risk_class} with a warning sign: terms from {terms} to {shorter} days",
            new_terms_days=shorter,
        )
    grow = "good_behaviour" in codes or (
        grade <= 1 and ("limit_breached" in codes or "high_utilisation" in codes)
    )
    if grow and limit is not None and not risky:
        target = limit * rules.raise_factor
        if "limit_breached" in codes:
            target = max(target, exposure * Decimal("1.1"))
        capped = recommended is not None and recommended < target
        if capped:
            target = recommended  # type: ignore[assignment]
        raised = round_limit(target, rules)
        if raised > limit:
            cap = " (the bureau's recommended limit)" if capped else ""
            return make(
                "raise_limit",
                f"pays well and uses its limit: up to {_money(raised, facts.get('currency'))}{cap}",
                new_limit=raised,
            )
    if "limit_breached" in codes:
        return make(
            "place_hold", "over its limit with no room to raise it: hold new orders until it pays down"
        )
    if facts.get("on_hold") and not risky and grade <= 2:
        return make("lift_hold", f"class {risk_class}, within its limit and no warning sign: the hold can go")
    return make("keep", "nothing calls for a change: the limit and terms stay")


def propose(triggers: Iterable[Trigger], rules: ReviewRules = DEFAULT_RULES) -> list[Proposal]:
    """One ``Proposal`` per customer with triggers, by customer id. First match wins:

    1. class E: over its limit → place a hold; another warning sign → require prepayment;
    2. over its limit in class D → place a hold;
    3. a warning sign (class dropped, derogatory event, broken promise) in class D → lower the
       limit to the larger of 75 % of it and the exposure (rounded), when that is lower;
    4. a warning sign in class C or D → shorten the terms by 15 days;
    5. good behaviour, or class A/B near or over its limit, with no warning sign → raise the limit
       to the limit × 1.5 (over it: at least the exposure + 10 %), at most the bureau's
       recommended limit when known, rounded down to a step;
    6. still over its limit → place a hold;
    7. a credit hold in force, class A–C, no warning sign → lift it;
    8. otherwise keep the limit and terms (a scheduled review with nothing to change).
    """
    by_customer: dict[int, list[Trigger]] = defaultdict(list)
    for trigger in triggers:
        by_customer[trigger.customer_id].append(trigger)
    return [_proposal(customer, by_customer[customer], rules) for customer in sorted(by_customer)]

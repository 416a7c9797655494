"""Credit scorecards as data: a transparent risk score a credit manager can read and change.

A scorecard lists **factors** (a customer's days beyond terms, share of invoices paid late,
bureau score…). Each factor's value falls in one of its **bands**; a band gives **points** and a
**reason** in words. The score is the sum of the points, kept within 0–100 (higher = riskier);
the **risk class** A–E follows from the score by the scorecard's class bounds. A factor whose
value is unknown (no payment history yet, no bureau report) gets its ``missing`` points.

Nothing is learnt: every point comes from the spec, so every score can be explained factor by
factor (``Score.reasons``) and re-computed by hand. Whether the ranking works is measured on the
entity's own history (``relance credit backtest``), not assumed.

``scorecard_from_dict`` validates a spec (YAML) and lists every problem as ``path: expected …,
found …``; ``score_table`` adds the bands, points, score and class to a table of factor values
as one Ibis expression, so the daily scoring runs where the ledger is (SQLite, DuckDB,
PostgreSQL, Spark).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir

from relance.core.errors import ValidationFailed
from relance.engine.specs import (
    Problems,
    check_choice,
    check_known_keys,
    decimal_of,
    integer_at,
    number_out,
    text_at,
)

RISK_CLASSES = ("A", "B", "C", "D", "E")  # A: least risky
SCORE_MIN, SCORE_MAX = 0, 100
POINTS_LIMIT = 100  # a factor's band gives between -100 and 100 points
MISSING_BAND = -1  # the band of an unknown value


@dataclass(frozen=True)
class FactorKind:
    """A factor the scoring knows how to compute, and how its value reads in a reason."""

    key: str
    label: str
    unit: str  # days, percent, count, months, points


# The factors a scorecard may use. The behavioural ones come from the ledger and the case
# records; the bureau ones from the latest bureau report.
FACTOR_KINDS = {
    kind.key: kind
    for kind in (
        FactorKind("days_beyond_terms", "average days beyond terms, last 12 months", "days"),
        FactorKind("days_beyond_terms_trend", "days beyond terms, last 3 months less last 12", "days"),
        FactorKind("late_share", "share of invoices paid late, last 12 months", "percent"),
        FactorKind("broken_promises", "broken promises, last 12 months", "count"),
        FactorKind("disputes", "disputes opened, last 12 months", "count"),
        FactorKind("utilisation", "credit limit used", "percent"),
        FactorKind("relationship_months", "age of the relationship", "months"),
        FactorKind("returned_payments", "returned or unpaid payments, last 12 months", "count"),
        FactorKind("bureau_score", "bureau score (0–100, higher is safer)", "points"),
        FactorKind("derogatory_events", "derogatory events in the bureau report", "count"),
        FactorKind("bureau_limit_ratio", "our limit against the bureau's recommended limit", "percent"),
    )
}


@dataclass(frozen=True)
class Band:
    """Values up to ``upto`` (inclusive; ``None``: every value above the previous band)."""

    upto: Decimal | None
    points: int
    reason: str  # may say ``{value}``

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {} if self.upto is None else {"upto": number_out(self.upto)}
        return {**out, "points": self.points, "reason": self.reason}


@dataclass(frozen=True)
class Factor:
    key: str
    bands: tuple[Band, ...]
    missing: Band  # an unknown value

    @property
    def kind(self) -> FactorKind:
        return FACTOR_KINDS[self.key]

    def band(self, index: int) -> Band:
        return self.missing if index == MISSING_BAND else self.bands[index]

    def to_dict(self) -> dict[str, Any]:
        missing = {"points": self.missing.points, "reason": self.missing.reason}
        return {"key": self.key, "bands": [band.to_dict() for band in self.bands], "missing": missing}


@dataclass(frozen=True)
class Scorecard:
    key: str
    name: str
    factors: tuple[Factor, ...]
    class_bounds: tuple[int, ...]  # the highest score of A, B, C and D; above the last: E
    description: str = ""

    def risk_class(self, score: int) -> str:
        for letter, bound in zip(RISK_CLASSES, self.class_bounds, strict=False):
            if score <= bound:
                return letter
        return RISK_CLASSES[-1]

    def factor(self, key: str) -> Factor:
        for factor in self.factors:
            if factor.key == key:
                return factor
        raise KeyError(key)


@dataclass(frozen=True)
class Reason:
    """One factor's part of a score: its points and why, in words."""

    factor: str
    points: int
    text: str
    value: Decimal | None


@dataclass(frozen=True)
class Score:
    score: int
    risk_class: str
    reasons: tuple[Reason, ...]  # the factors in the scorecard's order


# --------------------------------------------------------------------------- reading a spec

SCORECARD_KEYS = {"key", "name", "description", "classes", "factors"}
FACTOR_KEYS = {"key", "bands", "missing"}
BAND_KEYS = {"upto", "points", "reason"}
ERROR_SCORECARD = "scorecard {key}: {problems}"


def _band(data: Any, path: str, problems: Problems, *, bounded: bool) -> Band:
    if not isinstance(data, Mapping):
        problems.add(path, "a mapping with points and reason", data)
        return Band(None, 0, "")
    check_known_keys(data, BAND_KEYS if bounded else {"points", "reason"}, path, problems)
    points = integer_at(data, "points", path, problems)
    if not -POINTS_LIMIT <= points <= POINTS_LIMIT:
        problems.add(f"{path}.points", f"between {-POINTS_LIMIT} and {POINTS_LIMIT}", points)
    reason = text_at(data, "reason", path, problems)
    if not reason.strip():
        problems.add(f"{path}.reason", "a sentence saying why", reason)
    upto = decimal_of(data["upto"], f"{path}.upto", problems) if "upto" in data else None
    return Band(upto, points, reason.strip())


def _factor(data: Any, path: str, problems: Problems) -> Factor:
    if not isinstance(data, Mapping):
        problems.add(path, "a mapping with key, bands and missing", data)
        return Factor("", (), Band(None, 0, ""))
    check_known_keys(data, FACTOR_KEYS, path, problems)
    key = text_at(data, "key", path, problems)
    check_choice(key, tuple(FACTOR_KINDS), f"{path}.key", problems)
    raw_bands = data.get("bands")
    if not isinstance(raw_bands, list) or not raw_bands:
        problems.add(f"{path}.bands", "a non-empty list of bands", raw_bands)
        raw_bands = []
    bands = tuple(
        _band(item, f"{path}.bands[{position}]", problems, bounded=True)
        for position, item in enumerate(raw_bands)
    )
    for position, band in enumerate(bands):
        last = position == len(bands) - 1
        if last and band.upto is not None:
            problems.add(
                f"{path}.bands[{position}].upto", "no bound on the last band (every value above)", band.upto
            )
        if not last and band.upto is None:
            problems.add(f"{path}.bands[{position}].upto", "a bound (only the last band has none)", "nothing")
        previous = bands[position - 1].upto if position else None
        if band.upto is not None and previous is not None and band.upto <= previous:
            problems.add(
                f"{path}.bands[{position}].upto",
                f"more than the previous band's ({number_out(previous)})",
                band.upto,
            )
    missing = _band(data.get("missing"), f"{path}.missing", problems, bounded=False)
    return Factor(key, bands, missing)


def _class_bounds(data: Any, problems: Problems) -> tuple[int, ...]:
    letters = RISK_CLASSES[:-1]
    if not isinstance(data, Mapping) or set(data) != set(letters):
        problems.add(
            "scorecard.classes", f"the highest score of each of {', '.join(letters)} (above D: E)", data
        )
        return (20, 40, 60, 80)
    bounds = tuple(integer_at(data, letter, "scorecard.classes", problems) for letter in letters)
    if list(bounds) != sorted(set(bounds)) or bounds[0] < SCORE_MIN or bounds[-1] >= SCORE_MAX:
        problems.add(
            "scorecard.classes", f"increasing bounds from {SCORE_MIN} to below {SCORE_MAX}", dict(data)
        )
    return bounds


def scorecard_from_dict(data: Any) -> Scorecard:
    """A validated ``Scorecard`` from its dict form (what YAML gives); every problem is listed."""
    problems = Problems()
    if not isinstance(data, Mapping):
        raise ValidationFailed(
            ERROR_SCORECARD.format(key="?", problems=f"expected a mapping, found {data!r}")
        )
    check_known_keys(data, SCORECARD_KEYS, "scorecard", problems)
    key = text_at(data, "key", "scorecard", problems)
    raw_factors = data.get("factors")
    if not isinstance(raw_factors, list) or not raw_factors:
        problems.add("scorecard.factors", "a non-empty list of factors", raw_factors)
        raw_factors = []
    factors = tuple(
        _factor(item, f"factors[{position}]", problems) for position, item in enumerate(raw_factors)
    )
    seen: set[str] = set()
    for position, factor in enumerate(factors):
        if factor.key in seen:
            problems.add(f"factors[{position}].key", "a factor not already in the scorecard", factor.key)
        seen.add(factor.key)
    bounds = _class_bounds(data.get("classes"), problems)
    name = text_at(data, "name", "scorecard", problems, default=key)
    description = text_at(data, "description", "scorecard", problems, default="")
    if problems:
        raise ValidationFailed(ERROR_SCORECARD.format(key=key or "?", problems=problems))
    return Scorecard(key=key, name=name, factors=factors, class_bounds=bounds, description=description)


def scorecard_to_dict(card: Scorecard) -> dict[str, Any]:
    out: dict[str, Any] = {"key": card.key, "name": card.name}
    if card.description:
        out["description"] = card.description
    out["classes"] = dict(zip(RISK_CLASSES, card.class_bounds, strict=False))
    out["factors"] = [factor.to_dict() for factor in card.factors]
    return out


# --------------------------------------------------------------------------- scoring (one rule, in SQL)


def band_column(factor: Factor) -> str:
    return f"{factor.key}_band"


def points_column(factor: Factor) -> str:
    return f"{factor.key}_points"


def _band_index(factor: Factor, value: ir.NumericValue) -> ir.IntegerValue:
    cases = [(value.isnull(), MISSING_BAND)]
    cases += [
        (value <= float(band.upto), index) for index, band in enumerate(factor.bands) if band.upto is not None
    ]
    return ibis.cases(*cases, else_=len(factor.bands) - 1).cast("int8")


def _points(factor: Factor, band: ir.IntegerValue) -> ir.IntegerValue:
    cases = [(band == MISSING_BAND, factor.missing.points)]
    cases += [(band == index, item.points) for index, item in enumerate(factor.bands)]
    return ibis.cases(*cases, else_=0).cast("int32")


def score_table(card: Scorecard, factors: ir.Table) -> ir.Table:
    """``factors`` (one row per customer, a numeric column per factor of the scorecard, NULL when
    unknown) with, per factor, ``<key>_band`` (its band's index, -1 when missing) and
    ``<key>_points``, then ``score`` (0–100) and ``risk_class`` (A–E).

    Band bounds are compared as doubles: factor values are days, shares and counts, not money.
    """
    missing = [factor.key for factor in card.factors if factor.key not in factors.columns]
    if missing:
        raise ValidationFailed(f"scorecard {card.key}: the factor table has no column {', '.join(missing)}")
    bands = {
        band_column(factor): _band_index(factor, factors[factor.key].cast("float64"))
        for factor in card.factors
    }
    with_bands = factors.mutate(**bands)
    points = {
        points_column(factor): _points(factor, with_bands[band_column(factor)]) for factor in card.factors
    }
    with_points = with_bands.mutate(**points)
    total = sum(
        (with_points[points_column(factor)] for factor in card.factors[1:]),
        with_points[points_column(card.factors[0])],
    )
    score = ibis.greatest(ibis.least(total, SCORE_MAX), SCORE_MIN).cast("int32")
    scored = with_points.mutate(score=score)
    risk = ibis.cases(
        *[
            (scored.score <= bound, letter)
            for letter, bound in zip(RISK_CLASSES, card.class_bounds, strict=False)
        ],
        else_=RISK_CLASSES[-1],
    )
    return scored.mutate(risk_class=risk)


# --------------------------------------------------------------------------- reasons in words


def _value_text(kind: FactorKind, value: Decimal) -> str:
    shown = (
        value.quantize(Decimal(1))
        if kind.unit in ("days", "count", "months")
        else value.quantize(Decimal("0.1"))
    )
    text = format(shown.normalize() if shown == shown.to_integral_value() else shown, "f")
    return f"{text} %" if kind.unit == "percent" else text


def reason_text(factor: Factor, band_index: int, value: Decimal | None) -> str:
    """The band's reason with its ``{value}`` filled in (days and counts whole, shares to 0.1)."""
    template = factor.band(band_index).reason
    if value is None or "{value}" not in template:
        return template
    return template.replace("{value}", _value_text(factor.kind, value))


def score_of_row(card: Scorecard, row: Mapping[str, Any]) -> Score:
    """A row of ``score_table`` (a dict: the factor values, bands, points, score and class) as a
    ``Score`` with a reason per factor, in the scorecard's order."""
    reasons = []
    for factor in card.factors:
        raw = row.get(factor.key)
        value = None if raw is None else Decimal(str(raw))
        band = int(row[band_column(factor)])
        reasons.append(
            Reason(factor.key, int(row[points_column(factor)]), reason_text(factor, band, value), value)
        )
    return Score(int(row["score"]), str(row["risk_class"]), tuple(reasons))


def scores(
    card: Scorecard, factors: ir.Table, *, order_by: Sequence[str] = (), backend: Any = None
) -> list[Score]:
    """Every row of ``factors`` scored and explained (for a few customers: a page, a command), run
    on ``backend`` (default: the one ``factors`` is bound to)."""
    table = score_table(card, factors)
    if order_by:
        table = table.order_by(*order_by)
    arrow = backend.to_pyarrow(table) if backend is not None else table.to_pyarrow()
    return [score_of_row(card, row) for row in arrow.to_pylist()]

"""The cash forecast: what the open invoices are expected to bring in, week by week, with a band.

Only each invoice's p10, median and p90 pay dates are used, so the forecast works the same on the
survival model's predictions and on the baseline's. Through those three quantiles of the days
from the as-of date to payment goes a **two-piece log-normal** (one spread below the median, one
above: it passes exactly through all three), and a pay day is that continuous time rounded to a
whole day, never before day 1 — the rounding the predictions themselves use, so the fitted
distribution gives back the very dates it was fitted to.

- **expected** per bucket (a day, a week, the days before the first Monday, after the horizon) is
  exact: Σ open amount × P(paid in the bucket). The buckets of one forecast cover every day from
  as-of + 1 on, so their expected amounts add up to the open total to the cent (the cumulative
  sums are rounded, then differenced).
- **low / high** (p10 / p90 of the bucket's total) assume invoices pay independently of each
  other. Up to ``SIMULATION_BUDGET`` draws they are simulated (numpy, one seed: same seed, same
  band); above it — a large ledger, where the total is a sum of very many small independent parts
  — the normal approximation with a skew correction (Cornish–Fisher) is used instead: it is what
  the simulation converges to, in a fraction of the time. The band is widened to contain the
  expected amount when a bucket's distribution is so lopsided that its p10 lies above its mean.

Weeks start on the Monday on or after as-of + 1, then every 7 days; days are as-of + 1 … + 14.
Amounts are converted to the entity's currency with ``relance.core.rates`` (the rate on or before
the as-of date); a currency with no rate is left out of the converted forecast with a note, never
guessed. Scenarios: some customers pay N days later, some invoices are written off.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

from relance.core.money import minor_units
from relance.core.rates import MissingRate, RateTable
from relance.ml.predictions import InvoicePrediction

Z90 = 1.2815515655446004  # Φ⁻¹(0.9)
DEFAULT_WEEKS = 13
DAILY_DAYS = 14
DEFAULT_SIMULATIONS = 1_000
SIMULATION_BUDGET = 20_000_000  # invoices × simulations (and groups × simulations × buckets)
CHUNK = 100_000  # invoices per block of the exact sums (bounds memory)
DRAWS_PER_BLOCK = 2_000_000  # simulated pay days per block
METHOD_SIMULATION = "simulation"
METHOD_ANALYTIC = "normal approximation (Cornish-Fisher)"

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


# ----------------------------------------------------------------------------- the distribution


def _spreads(q10: FloatArray, q50: FloatArray, q90: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The log-scale spreads below and above the median (0: no spread on that side)."""
    low = np.log(np.maximum(q50, 1e-9) / np.maximum(q10, 1e-9)) / Z90
    high = np.log(np.maximum(q90, 1e-9) / np.maximum(q50, 1e-9)) / Z90
    return np.maximum(low, 0.0), np.maximum(high, 0.0)


def paid_by(q10: FloatArray, q50: FloatArray, q90: FloatArray, day: float) -> FloatArray:
    """P(paid on or before day ``day`` from the as-of date), per invoice (days ≥ 1 are whole).

    Day k is the continuous time rounded (day 1 takes everything up to 1.5): P = F(k + 0.5)."""
    if day < 1:
        return np.zeros_like(q50)
    if math.isinf(day):
        return np.ones_like(q50)
    spread_low, spread_high = _spreads(q10, q50, q90)
    log_ratio = math.log(day + 0.5) - np.log(np.maximum(q50, 1e-9))
    spread = np.where(log_ratio < 0, spread_low, spread_high)
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = np.where(
            spread > 0, log_ratio / np.where(spread > 0, spread, 1.0), np.sign(log_ratio) * np.inf
        )
    scaled = np.where((spread == 0) & (log_ratio == 0), np.inf, scaled)  # a point mass at the median
    return np.asarray(ndtr(scaled), dtype="float64")


def draw_pay_days(
    q10: FloatArray, q50: FloatArray, q90: FloatArray, rng: np.random.Generator, simulations: int, cap: int
) -> IntArray:
    """``simulations`` × n pay days (days from the as-of date, 1 … ``cap``) drawn from the fit."""
    spread_low, spread_high = _spreads(q10, q50, q90)
    z = rng.standard_normal((simulations, q50.size))
    spread = np.where(z < 0, spread_low, spread_high)
    days = np.rint(q50 * np.exp(np.minimum(z * spread, 30.0)))
    return np.clip(days, 1, cap).astype(np.int64)


# ----------------------------------------------------------------------------- buckets


@dataclass(frozen=True)
class Span:
    """Days ``first`` … ``last`` after the as-of date (both included; ``last`` None: no end)."""

    kind: str  # "before_first_week" | "week" | "day" | "after"
    first: int
    last: int | None


def spans(as_of: date, weeks: int = DEFAULT_WEEKS, daily_days: int = DAILY_DAYS) -> list[Span]:
    """The forecast's buckets: the days before the first Monday (none when as-of + 1 is one), the
    weeks, the rest ("after"), and — overlapping them — the first ``daily_days`` days."""
    first_day = as_of + timedelta(days=1)
    monday = first_day + timedelta(days=(7 - first_day.weekday()) % 7)
    start = (monday - as_of).days  # 1 … 7
    out = []
    if start > 1:
        out.append(Span("before_first_week", 1, start - 1))
    out.extend(Span("week", start + 7 * week, start + 7 * week + 6) for week in range(weeks))
    out.append(Span("after", start + 7 * weeks, None))
    out.extend(Span("day", day, day) for day in range(1, daily_days + 1))
    return out


@dataclass(frozen=True)
class Bucket:
    start: date
    end: date | None  # included; None: no end (after the horizon)
    expected: Decimal
    low: Decimal
    high: Decimal

    def to_json(self, start_key: str = "week_start") -> dict[str, Any]:
        out: dict[str, Any] = {start_key: self.start.isoformat()}
        if start_key != "date":
            out["end"] = None if self.end is None else self.end.isoformat()
        out.update(expected=str(self.expected), low=str(self.low), high=str(self.high))
        return out


@dataclass(frozen=True)
class Forecast:
    """One currency's (or one group's) expected collections from the invoices open at ``as_of``."""

    as_of: date
    currency: str
    group: str | None
    invoices: int
    open_amount: Decimal
    before_first_week: Bucket | None
    weeks: tuple[Bucket, ...]
    after: Bucket
    days: tuple[Bucket, ...]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"currency": self.currency}
        if self.group is not None:
            out["group"] = self.group
        out.update(
            invoices=self.invoices,
            open_amount=str(self.open_amount),
            weeks=[bucket.to_json() for bucket in self.weeks],
            before_first_week=None
            if self.before_first_week is None
            else self.before_first_week.to_json("start"),
            after_horizon=self.after.to_json("start"),
            days=[bucket.to_json("date") for bucket in self.days],
        )
        return out


def _to_units(values: FloatArray, scale: int) -> list[int]:
    return [int(v) for v in np.rint(values * scale)]


def bucket_totals(
    amounts: FloatArray,
    q10: FloatArray,
    q50: FloatArray,
    q90: FloatArray,
    groups: IntArray,
    n_groups: int,
    bucket_spans: Sequence[Span],
    *,
    seed: int = 0,
    simulations: int = DEFAULT_SIMULATIONS,
    method: str | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray, str]:
    """Per group and span: expected, p10 and p90 of the amount collected (arrays n_groups × spans)
    and the method the band came from. ``amounts`` in any unit; ``q*`` days from the as-of date."""
    cuts = sorted(
        {0} | {s.first - 1 for s in bucket_spans} | {s.last for s in bucket_spans if s.last is not None}
    )
    n_fine = len(cuts)  # fine bucket j: days cuts[j] + 1 … cuts[j + 1] (the last: to the end)
    n = amounts.size
    if method is None:
        budget_ok = (
            n * simulations <= SIMULATION_BUDGET and n_groups * simulations * n_fine <= SIMULATION_BUDGET
        )
        method = METHOD_SIMULATION if budget_ok else METHOD_ANALYTIC
    # which fine buckets each span adds up
    members = np.zeros((len(bucket_spans), n_fine))
    for index, span in enumerate(bucket_spans):
        last = math.inf if span.last is None else span.last
        for j in range(n_fine):
            upper = cuts[j + 1] if j + 1 < n_fine else math.inf
            members[index, j] = float(cuts[j] >= span.first - 1 and upper <= last)
    # The pay days are whole days: invoices sharing (p10, median, p90) share their distribution,
    # so it is computed once per distinct triple and the amounts are summed per (group, triple).
    width = int(max(q90.max(initial=0.0), 1.0)) + 1
    packed = (q10.astype(np.int64) * width + q50.astype(np.int64)) * width + q90.astype(np.int64)
    packed_distinct, which = np.unique(packed, return_inverse=True)
    distinct = np.stack(
        [packed_distinct // (width * width), packed_distinct // width % width, packed_distinct % width],
        axis=1,
    ).astype("float64")
    which = which.reshape(-1)
    cdf = np.stack(
        [paid_by(distinct[:, 0], distinct[:, 1], distinct[:, 2], c) for c in [*cuts[1:], math.inf]], axis=1
    )
    fine = np.diff(np.concatenate([np.zeros((len(distinct), 1)), cdf], axis=1), axis=1)
    p = np.clip(fine @ members.T, 0.0, 1.0)  # distinct triples × spans
    key = groups * len(distinct) + which
    size = n_groups * len(distinct)

    def per_group(weights: FloatArray) -> FloatArray:
        summed: FloatArray = np.bincount(key, weights=weights, minlength=size).astype("float64")
        return summed.reshape(n_groups, len(distinct))

    mean = per_group(amounts) @ p
    if method == METHOD_ANALYTIC:
        variance = per_group(amounts**2) @ (p * (1 - p))
        third = per_group(amounts**3) @ (p * (1 - p) * (1 - 2 * p))
        sigma = np.sqrt(np.maximum(variance, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            skew = np.where(sigma > 0, third / np.where(sigma > 0, sigma, 1.0) ** 3, 0.0)
        low = mean + sigma * (-Z90 + (Z90**2 - 1) * skew / 6)
        high = mean + sigma * (Z90 + (Z90**2 - 1) * skew / 6)
    else:
        rng = np.random.default_rng(seed)
        totals = np.zeros(n_groups * simulations * n_fine)
        lut_cap = cuts[-1] + 1
        lut = np.searchsorted(np.asarray(cuts), np.arange(lut_cap + 1), side="left") - 1
        sim_index = np.arange(simulations)[:, None]
        block = max(1, DRAWS_PER_BLOCK // simulations)
        for lo in range(0, n, block):
            part = slice(lo, lo + block)
            days = draw_pay_days(q10[part], q50[part], q90[part], rng, simulations, lut_cap)
            flat = (groups[part][None, :] * simulations + sim_index) * n_fine + lut[days]
            weights = np.broadcast_to(amounts[part][None, :], days.shape)
            totals += np.bincount(flat.ravel(), weights=weights.ravel(), minlength=totals.size)
        per_span = totals.reshape(n_groups, simulations, n_fine) @ members.T
        low = np.quantile(per_span, 0.1, axis=1)
        high = np.quantile(per_span, 0.9, axis=1)
    total = np.bincount(groups, weights=amounts, minlength=n_groups)[:, None]
    low = np.clip(np.minimum(low, mean), 0.0, total)
    high = np.clip(np.maximum(high, mean), 0.0, total)
    return mean, low, high, method


# ----------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class Scenario:
    """What if: ``later_days`` customer_ref → N (their invoices pay N days later), and the invoices
    ``written_off`` (refs) never pay."""

    later_days: Mapping[str, int] = field(default_factory=dict)
    written_off: frozenset[str] = frozenset()

    def is_empty(self) -> bool:
        return not self.later_days and not self.written_off

    def to_json(self) -> dict[str, Any]:
        return {"later_days": dict(sorted(self.later_days.items())), "written_off": sorted(self.written_off)}


@dataclass(frozen=True)
class ForecastReport:
    as_of: date
    currency: str  # the entity's: ``total`` and ``groups`` are converted to it
    total: Forecast
    by_currency: tuple[Forecast, ...]
    groups: tuple[Forecast, ...]
    method: str
    seed: int
    notes: tuple[str, ...]
    left_out: Mapping[str, Decimal]  # currency → open amount not converted (no rate)
    scenario: Scenario
    written_off: Mapping[str, Decimal]  # currency → open amount the scenario writes off

    def to_json(self) -> dict[str, Any]:
        """``{"currency", "weeks": [{"week_start", "expected", "low", "high", …}], …}`` (issue 16)."""
        out = self.total.to_json()
        out.update(
            as_of=self.as_of.isoformat(),
            method=self.method,
            seed=self.seed,
            by_currency=[forecast.to_json() for forecast in self.by_currency],
            notes=list(self.notes),
            left_out={currency: str(amount) for currency, amount in sorted(self.left_out.items())},
        )
        if self.groups:
            out["groups"] = [forecast.to_json() for forecast in self.groups]
        if not self.scenario.is_empty():
            out["scenario"] = {
                **self.scenario.to_json(),
                "written_off_amount": {c: str(a) for c, a in sorted(self.written_off.items())},
            }
        return out


@dataclass(frozen=True)
class PayDateArrays:
    """The forecast's input as columns: stored predictions load into these without one object per
    invoice. Amounts as float64 (the sums are rounded to minor units at the end), dates as
    ``datetime64[D]``, references and currencies as object arrays."""

    invoice_refs: npt.NDArray[np.object_]
    customer_refs: npt.NDArray[np.object_]
    currencies: npt.NDArray[np.object_]
    open_amounts: FloatArray
    p10: npt.NDArray[np.datetime64]
    median: npt.NDArray[np.datetime64]
    p90: npt.NDArray[np.datetime64]

    @classmethod
    def of_columns(
        cls,
        *,
        invoice_refs: Sequence[str],
        customer_refs: Sequence[str],
        currencies: Sequence[str],
        open_amounts: Sequence[Decimal | float] | FloatArray,
        p10: Sequence[date] | npt.NDArray[np.datetime64],
        median: Sequence[date] | npt.NDArray[np.datetime64],
        p90: Sequence[date] | npt.NDArray[np.datetime64],
    ) -> PayDateArrays:
        def days(values: Sequence[date] | npt.NDArray[np.datetime64]) -> npt.NDArray[np.datetime64]:
            return np.array(values, dtype="datetime64[D]").reshape(-1)

        def text(values: Sequence[str]) -> npt.NDArray[np.object_]:
            out = np.empty(len(values), dtype=object)
            out[:] = list(values)
            return out

        return cls(
            invoice_refs=text(invoice_refs),
            customer_refs=text(customer_refs),
            currencies=text(currencies),
            open_amounts=np.array(open_amounts, dtype="float64").reshape(-1),
            p10=days(p10),
            median=days(median),
            p90=days(p90),
        )

    @classmethod
    def of(cls, predictions: Iterable[InvoicePrediction]) -> PayDateArrays:
        rows = list(predictions)
        return cls.of_columns(
            invoice_refs=[p.invoice_ref for p in rows],
            customer_refs=[p.customer_ref for p in rows],
            currencies=[p.currency for p in rows],
            open_amounts=[p.open_amount for p in rows],
            p10=[p.pay_date_p10 for p in rows],
            median=[p.expected_pay_date for p in rows],
            p90=[p.pay_date_p90 for p in rows],
        )

    def __len__(self) -> int:
        return int(self.open_amounts.size)


def _days_from(as_of: date, days: npt.NDArray[np.datetime64]) -> FloatArray:
    return (days - np.datetime64(as_of, "D")).astype("int64").astype("float64")


def forecast(
    predictions: Iterable[InvoicePrediction] | PayDateArrays,
    as_of: date,
    *,
    currency: str,
    rates: RateTable | None = None,
    weeks: int = DEFAULT_WEEKS,
    group_labels: Sequence[str] | npt.NDArray[np.object_] | None = None,
    scenario: Scenario | None = None,
    seed: int = 0,
    simulations: int = DEFAULT_SIMULATIONS,
    method: str | None = None,
) -> ForecastReport:
    """The forecast of the invoices predicted as of ``as_of``: per currency as invoiced, and in
    ``currency`` (the entity's) converted with ``rates`` as of ``as_of``; ``group_labels[i]`` names
    the group (customer, segment…) of the i-th invoice for a forecast per group (converted)."""
    if weeks < 1:
        raise ValueError(f"weeks must be 1 or more, got {weeks}")
    columns = predictions if isinstance(predictions, PayDateArrays) else PayDateArrays.of(predictions)
    scenario = scenario or Scenario()
    rates = rates or RateTable.of(())
    n = len(columns)
    amounts = columns.open_amounts
    q10, q50, q90 = (_days_from(as_of, days) for days in (columns.p10, columns.median, columns.p90))
    q10, q50, q90 = np.maximum(q10, 1.0), np.maximum(q50, 1.0), np.maximum(q90, 1.0)
    q10, q90 = np.minimum(q10, q50), np.maximum(q90, q50)
    currencies = columns.currencies
    notes: list[str] = []
    written_off: dict[str, Decimal] = {}
    if scenario.later_days:
        customers = columns.customer_refs
        shift = np.zeros(n)
        for customer, days in scenario.later_days.items():
            shift[customers == customer] = days
        q10, q50, q90 = q10 + shift, q50 + shift, q90 + shift
        unknown = set(scenario.later_days) - set(customers.tolist())
        if unknown:
            notes.append(f"no open invoice for the customers {', '.join(sorted(unknown))}: nothing to shift")
    keep = np.ones(n, dtype=bool)
    if scenario.written_off:
        refs = columns.invoice_refs
        keep = ~np.isin(refs, list(scenario.written_off))
        for code in sorted(set(currencies[~keep].tolist())):
            lost = amounts[~keep & (currencies == code)].sum()
            written_off[code] = _money(float(lost), code)
        unknown = set(scenario.written_off) - set(refs.tolist())
        if unknown:
            notes.append(f"not among the open invoices, nothing written off: {', '.join(sorted(unknown))}")
    bucket_spans = spans(as_of, weeks)
    method_used = method

    def one(
        mask: npt.NDArray[np.bool_], values: FloatArray, code: str, labels: npt.NDArray[np.str_] | None
    ) -> list[Forecast]:
        nonlocal method_used
        names: list[str | None]
        if labels is None:
            group_index = np.zeros(int(mask.sum()), dtype=np.int64)
            names = [None]
        else:
            distinct, inverse = np.unique(labels[mask], return_inverse=True)
            group_index = inverse.reshape(-1).astype(np.int64)
            names = [str(name) for name in distinct]
        mean, low, high, used = bucket_totals(
            values[mask], q10[mask], q50[mask], q90[mask], group_index, len(names), bucket_spans,
            seed=seed, simulations=simulations, method=method,
        )  # fmt: skip
        method_used = used
        return [
            _forecast(
                as_of, code, name, values[mask][group_index == g], mean[g], low[g], high[g], bucket_spans
            )
            for g, name in enumerate(names)
        ]

    by_currency: list[Forecast] = []
    converted = np.zeros(n)
    convertible = keep.copy()
    left_out: dict[str, Decimal] = {}
    for code in sorted(set(currencies.tolist())):
        mask = keep & (currencies == code)
        if mask.any():
            by_currency.extend(one(mask, amounts, code, None))
        try:
            rate = float(rates.rate(code, currency, as_of))
        except MissingRate as exc:
            convertible &= currencies != code
            left_out[code] = _money(float(amounts[mask].sum()), code)
            notes.append(f"{exc.message}: {left_out[code]} {code} open left out of the {currency} forecast")
            continue
        converted = np.where(currencies == code, amounts * rate, converted)
    if not keep.any():
        convertible = keep
    same = [f for f in by_currency if f.currency == currency]
    if len(by_currency) == 1 and same and not left_out:
        total = same[0]  # one currency, the entity's: nothing to convert
    else:
        total = one(convertible, converted, currency, None)[0]
    groups: list[Forecast] = []
    if group_labels is not None and convertible.any():
        groups = one(convertible, converted, currency, np.asarray(group_labels).astype(str))
    return ForecastReport(
        as_of=as_of,
        currency=currency,
        total=total,
        by_currency=tuple(by_currency),
        groups=tuple(groups),
        method=method_used or METHOD_SIMULATION,
        seed=seed,
        notes=tuple(notes),
        left_out=left_out,
        scenario=scenario,
        written_off=written_off,
    )


def _money(amount: float, currency: str) -> Decimal:
    quantum = Decimal(1).scaleb(-minor_units(currency))
    return Decimal(str(round(amount, minor_units(currency)))).quantize(quantum)


def _forecast(
    as_of: date,
    currency: str,
    group: str | None,
    amounts: FloatArray,
    mean: FloatArray,
    low: FloatArray,
    high: FloatArray,
    bucket_spans: Sequence[Span],
) -> Forecast:
    """Round to the currency's minor units: the partition's expected amounts from rounded
    cumulative sums, so that they add up to the open total exactly."""
    scale = 10 ** minor_units(currency)
    total_units = int(np.rint(amounts * scale).sum())
    quantum = Decimal(1).scaleb(-minor_units(currency))

    def money(units: int) -> Decimal:
        return (Decimal(units) * quantum).quantize(quantum)

    partition = [i for i, s in enumerate(bucket_spans) if s.kind != "day"]
    cumulative = np.cumsum(mean[partition])
    cumulative_units = _to_units(cumulative, scale)
    cumulative_units[-1] = total_units
    expected_units = dict(zip(partition, np.diff([0, *cumulative_units]).tolist(), strict=True))
    for i, s in enumerate(bucket_spans):
        if s.kind == "day":
            expected_units[i] = int(np.rint(mean[i] * scale))

    def bucket(i: int) -> Bucket:
        span = bucket_spans[i]
        units = int(expected_units[i])
        return Bucket(
            start=as_of + timedelta(days=span.first),
            end=None if span.last is None else as_of + timedelta(days=span.last),
            expected=money(units),
            low=money(min(int(np.floor(low[i] * scale)), units)),
            high=money(max(int(np.ceil(high[i] * scale)), units)),
        )

    kinds = [s.kind for s in bucket_spans]
    return Forecast(
        as_of=as_of,
        currency=currency,
        group=group,
        invoices=int(amounts.size),
        open_amount=money(total_units),
        before_first_week=bucket(kinds.index("before_first_week")) if "before_first_week" in kinds else None,
        weeks=tuple(bucket(i) for i, k in enumerate(kinds) if k == "week"),
        after=bucket(kinds.index("after")),
        days=tuple(bucket(i) for i, k in enumerate(kinds) if k == "day"),
    )

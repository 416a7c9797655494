"""Statutory late-payment interest and fixed compensation (docs/reference §5.1–5.3). Pure: no Django.

A jurisdiction is a ``LateChargeRule`` (frozen parameters) plus reference-rate tables kept as data
(``relance/charges/rates/*.yaml``, with effective dates and sources) so a rate change is a data edit,
not a code change. ``late_charge`` is simple interest on the amount paid late: reference rate (fixed
per semester as the rule says) + margin, times days late over the day-count basis, summed per rate
period and rounded once to the currency's minor unit; plus the fixed compensation per invoice.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path

from relance.core.errors import ValidationFailed
from relance.core.money import quantum

RATES_DIR = Path(__file__).resolve().parents[1] / "charges" / "rates"

RATE_FIXINGS = ("semester_of_due_date", "split_by_semester", "fixed_at_start")
DAY_COUNTS = ("actual/365", "actual/360", "actual/actual")

NO_RATE_ON = "no {table} rate known on {day} (the table starts on {first})"
UNKNOWN_TABLE = "unknown reference-rate table {table!r} (known: {known})"
UNKNOWN_JURISDICTION = "unknown late-charge jurisdiction {code!r} (known: {known})"
RATE_BELOW_FLOOR = (
    "contractual rate {rate} % is below the {jurisdiction} minimum of {floor} % "
    "({multiple} × the legal rate of {legal} % for the semester starting {semester})"
)
MARGIN_BELOW_MINIMUM = "margin {margin} pp is below the {jurisdiction} minimum of {minimum} pp"
NEGATIVE_RATE = "a late-payment rate cannot be negative, found {rate} %"

HUNDRED = Decimal(100)
ZERO = Decimal(0)


# --- reference rates -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateTable:
    """A reference rate over time: ``entries`` are (first day it applies, rate in percent), in order."""

    name: str
    entries: tuple[tuple[date, Decimal], ...]
    title: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        days = [day for day, _ in self.entries]
        if not days or days != sorted(days) or len(set(days)) != len(days):
            raise ValueError(f"rate table {self.name}: entries must be non-empty and in date order")

    def rate_on(self, day: date) -> Decimal:
        """The rate in force on ``day`` (the last entry starting on or before it)."""
        found: Decimal | None = None
        for start, rate in self.entries:
            if start > day:
                break
            found = rate
        if found is None:
            raise ValidationFailed(
                NO_RATE_ON.format(table=self.name, day=day.isoformat(), first=self.entries[0][0].isoformat())
            )
        return found


@dataclass(frozen=True)
class ReferenceRates:
    """The rate tables a rule may name (``ecb_mro``, ``boe_base``, ``fr_legal``)."""

    tables: Mapping[str, RateTable]

    def table(self, name: str) -> RateTable:
        try:
            return self.tables[name]
        except KeyError:
            known = ", ".join(sorted(self.tables)) or "none"
            raise ValidationFailed(UNKNOWN_TABLE.format(table=name, known=known)) from None

    def rate_on(self, name: str, day: date) -> Decimal:
        return self.table(name).rate_on(day)


def rate_table_from_mapping(data: Mapping[str, object]) -> RateTable:
    rows = data.get("rates") or []
    assert isinstance(rows, list)
    entries = tuple(
        (
            row["from"] if isinstance(row["from"], date) else date.fromisoformat(str(row["from"])),
            Decimal(str(row["rate"])),
        )
        for row in rows
    )
    return RateTable(
        name=str(data["name"]),
        entries=entries,
        title=str(data.get("title", "")),
        source=str(data.get("source", "")),
    )


def load_reference_rates(directory: Path | str | None = None) -> ReferenceRates:
    """Every ``*.yaml`` rate table in ``directory`` (default: the shipped tables), by name."""
    if directory is None:
        return _shipped_rates()
    import yaml  # on first use: the models import this module at every start (issue 20)

    tables = {}
    for path in sorted(Path(directory).glob("*.yaml")):
        table = rate_table_from_mapping(yaml.safe_load(path.read_text(encoding="utf-8")))
        tables[table.name] = table
    return ReferenceRates(tables=tables)


@lru_cache(maxsize=1)
def _shipped_rates() -> ReferenceRates:
    return load_reference_rates(RATES_DIR)


# --- rules ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Compensation:
    """Fixed compensation per late invoice, in ``currency``: ``fixed``, or the first band whose
    (exclusive) upper bound exceeds the debt, else ``fixed`` (UK: <1000 → 40, <10000 → 70, else 100)."""

    currency: str
    fixed: Decimal = ZERO
    bands: tuple[tuple[Decimal, Decimal], ...] = ()

    def amount_for(self, debt: Decimal) -> Decimal:
        for upper, amount in self.bands:
            if debt < upper:
                return amount
        return self.fixed


@dataclass(frozen=True)
class LateChargeRule:
    """One jurisdiction's statutory late-payment terms, as parameters (a versioned rule pack)."""

    jurisdiction: str
    reference: str
    """Name of the reference-rate table (``ecb_mro``, ``boe_base``)."""
    margin_pp: Decimal
    compensation: Compensation
    rate_fixing: str = "semester_of_due_date"
    """``semester_of_due_date``: one rate, that of the semester containing the due date;
    ``fixed_at_start``: one rate, that of the semester in which interest starts (the day after the due
    date); ``split_by_semester``: each semester of lateness at its own rate."""
    fixing_day_offset: int = 0
    """When a semester's rate is read, relative to its first day: 0 → 1 Jan / 1 Jul (EU, France);
    -1 → 31 Dec / 30 Jun, the day "immediately before" (UK, SI 2002/1675)."""
    day_count: str = "actual/365"
    reference_rounding_pp: Decimal | None = None
    """Round the reference rate *up* to a multiple of this many points (Finland: 0.5)."""
    minimum_margin_pp: Decimal | None = None
    """A contractual margin below this is refused (EU directive: at least 8 pp)."""
    floor_reference: str | None = None
    floor_multiple: Decimal | None = None
    """A contractual rate below ``floor_multiple`` × ``floor_reference`` is refused (France: 3 × legal)."""
    version: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        if self.rate_fixing not in RATE_FIXINGS:
            raise ValueError(f"rate_fixing must be one of {RATE_FIXINGS}, found {self.rate_fixing!r}")
        if self.day_count not in DAY_COUNTS:
            raise ValueError(f"day_count must be one of {DAY_COUNTS}, found {self.day_count!r}")
        if (self.floor_reference is None) != (self.floor_multiple is None):
            raise ValueError("floor_reference and floor_multiple go together")


EUR_40 = Compensation(currency="EUR", fixed=Decimal(40))

RULE_PACKS: dict[str, LateChargeRule] = {
    "EU": LateChargeRule(
        jurisdiction="EU",
        reference="ecb_mro",
        margin_pp=Decimal(8),
        minimum_margin_pp=Decimal(8),
        compensation=EUR_40,
        rate_fixing="semester_of_due_date",
        version="2011/7/EU",
        source="Directive 2011/7/EU Art 2(6), 3(2), 6",
    ),
    "FR": LateChargeRule(
        jurisdiction="FR",
        reference="ecb_mro",
        margin_pp=Decimal(10),
        compensation=EUR_40,
        rate_fixing="semester_of_due_date",
        floor_reference="fr_legal",
        floor_multiple=Decimal(3),
        version="L441-10/D441-5 (2013)",
        source="Code de commerce L441-10, D441-5",
    ),
    "UK": LateChargeRule(
        jurisdiction="UK",
        reference="boe_base",
        margin_pp=Decimal(8),
        compensation=Compensation(
            currency="GBP",
            fixed=Decimal(100),
            bands=((Decimal(1000), Decimal(40)), (Decimal(10000), Decimal(70))),
        ),
        rate_fixing="fixed_at_start",
        fixing_day_offset=-1,
        version="1998 Act, SI 2002/1675, SI 2013/395",
        source="Late Payment of Commercial Debts (Interest) Act 1998",
    ),
    "FI": LateChargeRule(
        jurisdiction="FI",
        reference="ecb_mro",
        margin_pp=Decimal(8),
        minimum_margin_pp=Decimal(8),
        compensation=EUR_40,
        rate_fixing="semester_of_due_date",
        reference_rounding_pp=Decimal("0.5"),
        version="Korkolaki 633/1982 §4, §12",
        source="Interest Act (Finland): reference rate rounded up to 0.5 pp",
    ),
}


def rule_pack(code: str) -> LateChargeRule:
    try:
        return RULE_PACKS[code.upper()]
    except KeyError:
        raise ValidationFailed(UNKNOWN_JURISDICTION.format(code=code, known=", ".join(RULE_PACKS))) from None


# --- computation ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InterestPeriod:
    """Days ``start``..``end`` (inclusive) charged at ``rate`` percent a year."""

    start: date
    end: date
    rate: Decimal

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class LateCharge:
    """What a late invoice (or part of it) costs the debtor, as of a date."""

    amount: Decimal
    currency: str
    interest: Decimal
    compensation: Decimal
    compensation_currency: str
    rate: Decimal
    """Annual rate in percent (of the first period when split by semester)."""
    days_late: int
    jurisdiction: str
    periods: tuple[InterestPeriod, ...] = field(default=())

    @property
    def is_late(self) -> bool:
        return self.days_late > 0


def semester_start(day: date) -> date:
    return date(day.year, 1 if day.month <= 6 else 7, 1)


def next_semester_start(day: date) -> date:
    return date(day.year, 7, 1) if day.month <= 6 else date(day.year + 1, 1, 1)


def reference_rate(*, rule: LateChargeRule, reference_rates: ReferenceRates, semester_of: date) -> Decimal:
    """The rule's reference rate for the semester containing ``semester_of`` (rounded as the rule says)."""
    observed = semester_start(semester_of) + timedelta(days=rule.fixing_day_offset)
    rate = reference_rates.rate_on(rule.reference, observed)
    if rule.reference_rounding_pp:
        step = rule.reference_rounding_pp
        rate = (rate / step).to_integral_value(rounding=ROUND_CEILING) * step
    return rate


def statutory_rate(
    *,
    rule: LateChargeRule,
    reference_rates: ReferenceRates,
    semester_of: date,
    margin_pp: Decimal | None = None,
) -> Decimal:
    """Reference rate of that semester + the margin (the rule's, or a contractual one)."""
    margin = rule.margin_pp if margin_pp is None else margin_pp
    return reference_rate(rule=rule, reference_rates=reference_rates, semester_of=semester_of) + margin


def minimum_contractual_rate(
    *, rule: LateChargeRule, reference_rates: ReferenceRates, on: date
) -> Decimal | None:
    """The lowest contractual rate the rule accepts in the semester of ``on`` (None: no floor)."""
    if rule.floor_reference is None or rule.floor_multiple is None:
        return None
    legal = reference_rates.rate_on(rule.floor_reference, semester_start(on))
    return legal * rule.floor_multiple


def check_contractual_terms(
    *,
    rule: LateChargeRule,
    reference_rates: ReferenceRates,
    on: date,
    contractual_rate: Decimal | None = None,
    margin_pp: Decimal | None = None,
) -> None:
    """Raise ``ValidationFailed`` when agreed terms undercut the jurisdiction's minimum."""
    if contractual_rate is not None:
        if contractual_rate < 0:
            raise ValidationFailed(NEGATIVE_RATE.format(rate=contractual_rate))
        floor = minimum_contractual_rate(rule=rule, reference_rates=reference_rates, on=on)
        if floor is not None and contractual_rate < floor:
            assert rule.floor_reference is not None
            raise ValidationFailed(
                RATE_BELOW_FLOOR.format(
                    rate=contractual_rate,
                    jurisdiction=rule.jurisdiction,
                    floor=floor.normalize(),
                    multiple=rule.floor_multiple,
                    legal=reference_rates.rate_on(rule.floor_reference, semester_start(on)),
                    semester=semester_start(on).isoformat(),
                ),
                code="rate_below_floor",
            )
    if margin_pp is not None and rule.minimum_margin_pp is not None and margin_pp < rule.minimum_margin_pp:
        raise ValidationFailed(
            MARGIN_BELOW_MINIMUM.format(
                margin=margin_pp, jurisdiction=rule.jurisdiction, minimum=rule.minimum_margin_pp
            ),
            code="margin_below_minimum",
        )


def _periods(
    *,
    rule: LateChargeRule,
    reference_rates: ReferenceRates,
    first_day: date,
    last_day: date,
    due_date: date,
    contractual_rate: Decimal | None,
    margin_pp: Decimal | None,
) -> tuple[InterestPeriod, ...]:
    def rate_for(semester_of: date) -> Decimal:
        if contractual_rate is not None:
            return contractual_rate
        return statutory_rate(
            rule=rule, reference_rates=reference_rates, semester_of=semester_of, margin_pp=margin_pp
        )

    if rule.rate_fixing != "split_by_semester" or contractual_rate is not None:
        anchor = due_date if rule.rate_fixing == "semester_of_due_date" else first_day
        return (InterestPeriod(first_day, last_day, rate_for(anchor)),)
    periods = []
    start = first_day
    while start <= last_day:
        end = min(next_semester_start(start) - timedelta(days=1), last_day)
        periods.append(InterestPeriod(start, end, rate_for(start)))
        start = end + timedelta(days=1)
    return tuple(periods)


def _year_fraction(period: InterestPeriod, day_count: str) -> Decimal:
    if day_count == "actual/365":
        return Decimal(period.days) / 365
    if day_count == "actual/360":
        return Decimal(period.days) / 360
    fraction = ZERO  # actual/actual: each calendar year's days over that year's length
    start = period.start
    while start <= period.end:
        year_end = min(date(start.year, 12, 31), period.end)
        days_in_year = 366 if calendar.isleap(start.year) else 365
        fraction += Decimal((year_end - start).days + 1) / days_in_year
        start = year_end + timedelta(days=1)
    return fraction


def late_charge(
    *,
    amount: Decimal,
    currency: str,
    due_date: date,
    paid_or_as_of: date,
    rule: LateChargeRule,
    reference_rates: ReferenceRates | None = None,
    contractual_rate: Decimal | None = None,
    margin_pp: Decimal | None = None,
    include_compensation: bool = True,
) -> LateCharge:
    """Interest on ``amount`` from the day after ``due_date`` to ``paid_or_as_of`` (inclusive), and the
    fixed compensation. Nothing is due when paid on or before the due date.

    ``contractual_rate`` (percent a year) replaces reference + margin; ``margin_pp`` replaces the
    rule's margin. Interest is summed exactly per rate period and rounded once (half up) to the
    currency's minor unit, so a split never loses or invents a cent.
    """
    rates = reference_rates or _shipped_rates()
    days_late = max((paid_or_as_of - due_date).days, 0)
    zero = ZERO.quantize(quantum(currency))
    if days_late == 0 or amount <= 0:
        return LateCharge(
            amount=amount,
            currency=currency,
            interest=zero,
            compensation=ZERO,
            compensation_currency=rule.compensation.currency,
            rate=ZERO,
            days_late=days_late,
            jurisdiction=rule.jurisdiction,
        )
    periods = _periods(
        rule=rule,
        reference_rates=rates,
        first_day=due_date + timedelta(days=1),
        last_day=paid_or_as_of,
        due_date=due_date,
        contractual_rate=contractual_rate,
        margin_pp=margin_pp,
    )
    exact = sum(
        (
            amount * max(period.rate, ZERO) / HUNDRED * _year_fraction(period, rule.day_count)
            for period in periods
        ),
        ZERO,
    )
    compensation = rule.compensation.amount_for(amount) if include_compensation else ZERO
    return LateCharge(
        amount=amount,
        currency=currency,
        interest=exact.quantize(quantum(currency), rounding=ROUND_HALF_UP),
        compensation=compensation,
        compensation_currency=rule.compensation.currency,
        rate=periods[0].rate,
        days_late=days_late,
        jurisdiction=rule.jurisdiction,
        periods=periods,
    )

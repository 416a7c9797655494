"""Parameters and result of the synthetic ledger generator, and its Arrow schemas.

The schemas repeat ``relance/engine/schema.py`` in pyarrow terms (the tests check they stay
equal) so that this package needs only numpy and pyarrow.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

import numpy as np
import pyarrow as pa

MONEY = pa.decimal128(18, 4)
MONEY_SCALE = 10_000
CENTS_TO_UNITS = MONEY_SCALE // 100  # every generated currency has two minor units

INVOICES = pa.schema(
    [
        ("invoice_id", pa.int64()),
        ("entity_id", pa.int64()),
        ("customer_id", pa.int64()),
        ("currency", pa.string()),
        ("issue_date", pa.date32()),
        ("due_date", pa.date32()),
        ("amount", MONEY),
        ("status", pa.string()),
        ("voided_on", pa.date32()),  # generated void invoices are void from the start
    ]
)
CREDIT_NOTES = pa.schema(
    [
        ("credit_note_id", pa.int64()),
        ("entity_id", pa.int64()),
        ("customer_id", pa.int64()),
        ("currency", pa.string()),
        ("date", pa.date32()),
        ("amount", MONEY),
    ]
)
PAYMENTS = pa.schema(
    [
        ("payment_id", pa.int64()),
        ("entity_id", pa.int64()),
        ("customer_id", pa.int64()),
        ("currency", pa.string()),
        ("date", pa.date32()),
        ("amount", MONEY),
    ]
)
ALLOCATIONS = pa.schema(
    [
        ("invoice_id", pa.int64()),
        ("entity_id", pa.int64()),
        ("payment_id", pa.int64()),
        ("credit_note_id", pa.int64()),
        ("date", pa.date32()),
        ("amount", MONEY),
    ]
)
ENGINE_CUSTOMERS = pa.schema(
    [
        ("customer_id", pa.int64()),
        ("entity_id", pa.int64()),
        ("external_ref", pa.string()),
        ("name", pa.string()),
        ("parent_id", pa.int64()),
        ("segment", pa.string()),
        ("collector", pa.string()),
        ("payment_terms_days", pa.int64()),
    ]
)
# The engine's customer columns first, then what the app database and the CSV import need.
CUSTOMER_EXTRAS = pa.schema(
    [
        ("currency", pa.string()),
        ("language", pa.string()),
        ("country", pa.string()),
        ("credit_limit", MONEY),
        ("email", pa.string()),
        ("phone", pa.string()),
        ("behaviour", pa.string()),
    ]
)
CUSTOMERS = pa.schema(list(ENGINE_CUSTOMERS) + list(CUSTOMER_EXTRAS))

SCHEMAS: dict[str, pa.Schema] = {
    "invoices": INVOICES,
    "credit_notes": CREDIT_NOTES,
    "payments": PAYMENTS,
    "allocations": ALLOCATIONS,
    "customers": CUSTOMERS,
}
TABLE_NAMES = tuple(SCHEMAS)


def money_array(cents: np.ndarray) -> pa.Array:
    """Exact ``decimal(18, 4)`` from integer cents, built straight from the 128-bit buffer."""
    units = np.ascontiguousarray(cents, dtype=np.int64) * CENTS_TO_UNITS
    raw = np.empty((units.size, 2), dtype="<i8")
    raw[:, 0] = units
    raw[:, 1] = units >> 63  # sign extension of the high word
    return pa.Array.from_buffers(MONEY, units.size, [None, pa.py_buffer(raw)])


def money_cents(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Integer cents of a ``decimal(18, 4)`` column holding whole cents (nulls read as garbage).

    Reads the low 64-bit words of the decimals: exact, since 18 digits fit in 63 bits.
    """
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if array.type != MONEY:
        array = array.cast(MONEY)
    if len(array) == 0:
        return np.zeros(0, dtype=np.int64)
    words = np.frombuffer(array.buffers()[1], dtype="<i8")
    low = words[2 * array.offset : 2 * (array.offset + len(array)) : 2]
    return low // CENTS_TO_UNITS


class Behaviour(StrEnum):
    """How a customer pays; drives the payment timing of its invoices."""

    PROMPT = "prompt"  # around or before the due date
    FORGETFUL = "forgetful"  # a few days late, soon after a first reminder
    CHRONIC_LATE = "chronic_late"  # 30–90 days late
    DISPUTER = "disputer"  # many invoices partly credited after a dispute, paid late
    SLIDING = "sliding_insolvency"  # on time at first, then later and later, finally stops paying


BEHAVIOURS: tuple[Behaviour, ...] = tuple(Behaviour)

DEFAULT_CURRENCY_SHARES: tuple[tuple[str, float], ...] = (("EUR", 0.65), ("USD", 0.22), ("GBP", 0.13))
DEFAULT_LANGUAGE_SHARES: tuple[tuple[str, float], ...] = (
    ("en", 0.30),
    ("fr", 0.25),
    ("de", 0.15),
    ("es", 0.10),
    ("it", 0.10),
    ("zh-hans", 0.10),
)
DEFAULT_BEHAVIOUR_SHARES: tuple[tuple[Behaviour, float], ...] = (
    (Behaviour.PROMPT, 0.38),
    (Behaviour.FORGETFUL, 0.27),
    (Behaviour.CHRONIC_LATE, 0.17),
    (Behaviour.DISPUTER, 0.11),
    (Behaviour.SLIDING, 0.07),
)
INVOICES_PER_CUSTOMER_MONTH = 2.5  # 500 customers over 2 years ≈ 30,000 invoices
DEFAULT_CUSTOMERS = 500
CHUNK_INVOICES = 500_000  # generation (and writing) works in customer chunks of about this many invoices

INVALID_SHARES = "{what} shares must be positive and name each {what} once, got {shares!r}"
INVALID_SIZE = "{what} must be at least {minimum}, got {value}"


def months_before(day: date, months: int) -> date:
    """The same day ``months`` earlier (clamped to the month's last day)."""
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything the generator needs; the same config (seed included) gives the same ledger.

    ``invoices`` is the exact number of invoices generated; when omitted it follows from the
    customers and the history length (and the other way round). ``end`` is the as-of date:
    nothing is issued, paid or allocated after it. ``start`` defaults to ``years`` (or
    ``months``) before ``end``.
    """

    seed: int = 42
    customers: int | None = None
    invoices: int | None = None
    end: date = field(default_factory=date.today)
    years: int = 2
    months: int | None = None
    start: date | None = None
    currencies: tuple[tuple[str, float], ...] = DEFAULT_CURRENCY_SHARES
    languages: tuple[tuple[str, float], ...] = DEFAULT_LANGUAGE_SHARES
    behaviours: tuple[tuple[Behaviour, float], ...] = DEFAULT_BEHAVIOUR_SHARES
    entity_id: int = 1
    chunk_invoices: int = CHUNK_INVOICES

    def __post_init__(self) -> None:
        months = self.months if self.months is not None else 12 * self.years
        if months < 1:
            raise ValueError(INVALID_SIZE.format(what="history length in months", minimum=1, value=months))
        object.__setattr__(self, "months", months)
        if self.start is None:
            object.__setattr__(self, "start", months_before(self.end, months))
        elif self.start >= self.end:
            raise ValueError(f"start {self.start} must be before end {self.end}")
        customers, invoices = self.customers, self.invoices
        if customers is None:
            customers = (
                DEFAULT_CUSTOMERS
                if invoices is None
                else max(1, round(invoices / (months * INVOICES_PER_CUSTOMER_MONTH)))
            )
        if invoices is None:
            invoices = max(1, round(customers * months * INVOICES_PER_CUSTOMER_MONTH))
        for what, value, minimum in (("customers", customers, 1), ("invoices", invoices, 0)):
            if value < minimum:
                raise ValueError(INVALID_SIZE.format(what=what, minimum=minimum, value=value))
        if self.chunk_invoices < 1:
            raise ValueError(INVALID_SIZE.format(what="chunk_invoices", minimum=1, value=self.chunk_invoices))
        object.__setattr__(self, "customers", customers)
        object.__setattr__(self, "invoices", invoices)
        for what, shares in (
            ("currency", self.currencies),
            ("language", self.languages),
            ("behaviour", self.behaviours),
        ):
            names = [name for name, _ in shares]
            if not shares or len(set(names)) != len(names) or any(share <= 0 for _, share in shares):
                raise ValueError(INVALID_SHARES.format(what=what, shares=shares))
        object.__setattr__(self, "behaviours", tuple((Behaviour(b), s) for b, s in self.behaviours))

    @property
    def start_date(self) -> date:
        assert self.start is not None
        return self.start

    @property
    def customer_count(self) -> int:
        assert self.customers is not None
        return self.customers

    @property
    def invoice_count(self) -> int:
        assert self.invoices is not None
        return self.invoices


@dataclass(frozen=True)
class GeneratedLedger:
    """The generated ledger as Arrow tables in the engine's schemas (customers with extra columns)."""

    invoices: pa.Table
    credit_notes: pa.Table
    payments: pa.Table
    allocations: pa.Table
    customers: pa.Table

    def tables(self) -> dict[str, pa.Table]:
        return {name: getattr(self, name) for name in TABLE_NAMES}

    @property
    def row_counts(self) -> dict[str, int]:
        return {name: table.num_rows for name, table in self.tables().items()}

    @classmethod
    def concat(cls, parts: Iterable[GeneratedLedger]) -> GeneratedLedger:
        parts = list(parts)
        return cls(
            **{
                name: pa.concat_tables([getattr(part, name) for part in parts]).combine_chunks()
                if parts
                else SCHEMAS[name].empty_table()
                for name in TABLE_NAMES
            }
        )

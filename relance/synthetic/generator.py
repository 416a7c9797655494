"""A realistic synthetic receivables ledger from a seed, fully vectorised with numpy.

Customers get a payment *behaviour* (prompt, forgetful, chronic late, disputer, sliding into
insolvency) that drives when their invoices are paid; invoice volume follows the seasons and the
week; some invoices are paid in two instalments, some payments settle several invoices (customers
with weekly payment runs), some cash stays unapplied, some invoices are partly or fully credited.
Nothing exists after ``config.end``: recent invoices are therefore open, as in a real ledger.

The work is done per *chunk* of customers (about ``chunk_invoices`` invoices each), each chunk
with its own random stream derived from the seed, so 10M invoices stream to Parquet in bounded
memory and ``generate_ledger`` is exactly the concatenation of ``iter_ledger_chunks``. Python only
loops over chunks, behaviours, languages and countries — never over customers or rows.

Amounts are integer cents, stored as exact ``decimal(18, 4)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from relance.synthetic.model import (
    ALLOCATIONS,
    BEHAVIOURS,
    CREDIT_NOTES,
    CUSTOMERS,
    INVOICES,
    MONEY,
    PAYMENTS,
    Behaviour,
    GeneratedLedger,
    GeneratorConfig,
    money_array,
)
from relance.synthetic.names import company_names, phone_numbers
from relance.synthetic.writers import write_csv, write_parquet

__all__ = [
    "Behaviour",
    "GeneratedLedger",
    "GeneratorConfig",
    "generate_ledger",
    "iter_ledger_chunks",
    "write_csv",
    "write_parquet",
]

EPOCH = date(1970, 1, 1)  # a Thursday: weekday(day) = (day + 3) % 7, Monday = 0
MONTH_FACTORS = np.array([0.92, 0.96, 1.10, 1.00, 1.00, 1.05, 0.90, 0.62, 1.08, 1.10, 1.06, 1.18])
WEEKDAY_FACTORS = np.array([1.00, 1.05, 1.05, 1.00, 1.12, 0.05, 0.02])
PAYMENT_TERMS = np.array([30, 45, 60, 0, 14])
PAYMENT_TERMS_SHARES = np.array([0.48, 0.17, 0.15, 0.05, 0.15])
BASE_INVOICE_CENTS = {"EUR": 120_000, "USD": 135_000, "GBP": 105_000}
DEFAULT_BASE_INVOICE_CENTS = 120_000
# Country per (language, currency); unlisted pairs fall back to the currency's home country.
COUNTRY_BY_LANGUAGE_CURRENCY = {
    ("en", "EUR"): "IE",
    ("en", "USD"): "US",
    ("en", "GBP"): "GB",
    ("fr", "EUR"): "FR",
    ("fr", "USD"): "CA",
    ("fr", "GBP"): "FR",
    ("de", "EUR"): "DE",
    ("de", "USD"): "DE",
    ("de", "GBP"): "CH",
    ("es", "EUR"): "ES",
    ("es", "USD"): "MX",
    ("es", "GBP"): "ES",
    ("it", "EUR"): "IT",
    ("it", "USD"): "IT",
    ("it", "GBP"): "IT",
    ("zh-hans", "EUR"): "CN",
    ("zh-hans", "USD"): "CN",
    ("zh-hans", "GBP"): "CN",
}
COUNTRY_BY_CURRENCY = {"EUR": "FR", "USD": "US", "GBP": "GB"}

# Segments the way a credit team would label accounts: by size, and "high risk" for known
# chronic late payers. Sliding-into-insolvency customers are deliberately *not* flagged: spotting
# them is the product's job. The true behaviour is kept in the ``behaviour`` column only.
SEGMENT_KEY_ACCOUNT = "key account"
SEGMENT_STANDARD = "standard"
SEGMENT_SMALL = "small business"
SEGMENT_HIGH_RISK = "high risk"

# Per behaviour (in BEHAVIOURS order): share of invoices never paid, paid in two instalments.
NEVER_PAID = {
    Behaviour.PROMPT: 0.002,
    Behaviour.FORGETFUL: 0.006,
    Behaviour.CHRONIC_LATE: 0.02,
    Behaviour.DISPUTER: 0.02,
    Behaviour.SLIDING: 0.0,
}
INSTALMENTS = {
    Behaviour.PROMPT: 0.03,
    Behaviour.FORGETFUL: 0.05,
    Behaviour.CHRONIC_LATE: 0.14,
    Behaviour.DISPUTER: 0.08,
    Behaviour.SLIDING: 0.2,
}
CREDIT_NOTE_SHARE = {Behaviour.DISPUTER: 0.30}
CREDIT_NOTE_SHARE_DEFAULT = 0.015
VOID_SHARE = 0.004
OVERPAYMENT_SHARE = 0.025
ON_ACCOUNT_SHARE = 0.003  # payments with no invoice reference, per invoice
LATE_CASH_APPLICATION_SHARE = 0.15  # payments allocated 1–7 days after they arrive
SUBSIDIARY_SHARE = 0.04  # customers that belong to a key account's group (parent_id)
BATCH_PAYER_SHARE = 0.35  # customers that pay in weekly runs (one payment, several invoices)


def _day(value: date) -> int:
    return (value - EPOCH).days


def _weekday(days: np.ndarray) -> np.ndarray:
    return (days + 3) % 7


def _next_business_day(days: np.ndarray) -> np.ndarray:
    weekday = _weekday(days)
    return days + np.where(weekday == 5, 2, np.where(weekday == 6, 1, 0))


def _next_friday(days: np.ndarray) -> np.ndarray:
    return days + (4 - _weekday(days)) % 7


def date_array(days: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(days, dtype="int64").astype("datetime64[D]"), pa.date32())


def int_array(values: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(values, dtype=np.int64), pa.int64(), mask=null)


def _shares(pairs: tuple[tuple[object, float], ...]) -> np.ndarray:
    weights = np.array([share for _, share in pairs], dtype=float)
    return weights / weights.sum()


@dataclass(frozen=True)
class _Calendar:
    start_day: int
    end_day: int
    cdf: np.ndarray  # cumulative seasonal weight of each day of the history
    cdf_before: np.ndarray  # weight of the days before each day

    @classmethod
    def of(cls, config: GeneratorConfig) -> _Calendar:
        start_day, end_day = _day(config.start_date), _day(config.end)
        days = np.arange(start_day, end_day + 1)
        months = days.astype("datetime64[D]").astype("datetime64[M]").astype(int) % 12
        weights = MONTH_FACTORS[months] * WEEKDAY_FACTORS[_weekday(days)]
        cdf = np.cumsum(weights)
        return cls(start_day, end_day, cdf, cdf - weights)

    @property
    def length(self) -> int:
        return self.end_day - self.start_day + 1


@dataclass(frozen=True)
class _Customers:
    """Per-customer parameters (numpy, indexed from 0) and the customers table."""

    behaviour: np.ndarray  # index into BEHAVIOURS
    currency: np.ndarray  # index into config.currencies
    terms: np.ndarray
    invoice_counts: np.ndarray
    mean_cents: np.ndarray
    active_from: np.ndarray  # day offset from the start of the history
    batch_payer: np.ndarray
    slide_onset: np.ndarray  # day offset when a sliding customer starts paying later
    slide_rate: np.ndarray  # extra days late per day after the onset
    slide_stop: np.ndarray  # days after the onset when it stops paying altogether
    table: pa.Table


def _customers(config: GeneratorConfig, cal: _Calendar) -> _Customers:
    rng = np.random.default_rng([config.seed, 0])
    count = config.customer_count
    ids = np.arange(1, count + 1, dtype=np.int64)
    behaviour_codes = np.array([BEHAVIOURS.index(b) for b, _ in config.behaviours])
    behaviour = behaviour_codes[rng.choice(len(behaviour_codes), count, p=_shares(config.behaviours))]
    currency = rng.choice(len(config.currencies), count, p=_shares(config.currencies))
    language = rng.choice(len(config.languages), count, p=_shares(config.languages))
    terms = PAYMENT_TERMS[rng.choice(PAYMENT_TERMS.size, count, p=PAYMENT_TERMS_SHARES)]
    size = rng.lognormal(0.0, 1.0, count)
    late_joiner = rng.random(count) < 0.25
    last_join = max(0, cal.length - 60)
    active_from = np.where(late_joiner, rng.integers(0, last_join + 1, count), 0)
    active_share = cal.cdf[-1] - cal.cdf_before[active_from]
    weights = size * active_share
    invoice_counts = rng.multinomial(config.invoice_count, weights / weights.sum())
    base = np.array(
        [BASE_INVOICE_CENTS.get(code, DEFAULT_BASE_INVOICE_CENTS) for code, _ in config.currencies]
    )
    mean_cents = base[currency] * np.sqrt(size) * rng.lognormal(0.0, 0.4, count)
    size_rank = (np.argsort(np.argsort(size, kind="stable"), kind="stable") + 0.5) / count
    batch_payer = rng.random(count) < np.where(size_rank >= 0.9, 0.7, BATCH_PAYER_SHARE)
    remaining = cal.length - active_from
    slide_onset = active_from + (remaining * rng.uniform(0.35, 0.8, count)).astype(np.int64)
    slide_rate = rng.uniform(0.5, 1.2, count)
    slide_stop = rng.integers(60, 151, count)

    behaviour_names = np.array([str(b) for b in BEHAVIOURS])[behaviour]
    segment = np.where(size_rank >= 0.9, SEGMENT_KEY_ACCOUNT, SEGMENT_STANDARD).astype(object)
    segment[(size_rank < 0.9) & (size_rank < 0.3)] = SEGMENT_SMALL
    segment[(size_rank < 0.9) & (behaviour_names == Behaviour.CHRONIC_LATE)] = SEGMENT_HIGH_RISK

    currency_codes = np.array([code for code, _ in config.currencies])
    language_codes = tuple(code for code, _ in config.languages)
    country_of = np.empty((len(language_codes), currency_codes.size), dtype=object)
    for li, lang in enumerate(language_codes):
        for ci, cur in enumerate(currency_codes):
            country_of[li, ci] = COUNTRY_BY_LANGUAGE_CURRENCY.get(
                (lang, cur), COUNTRY_BY_CURRENCY.get(cur, "")
            )
    country = country_of[language, currency]
    names, emails = company_names(rng, language, language_codes)
    phones = phone_numbers(rng, country)

    months_active = np.maximum(remaining, 30) / 30.4
    monthly_cents = invoice_counts / months_active * mean_cents
    exposure = monthly_cents * (terms + 30) / 30 * np.where(segment == SEGMENT_HIGH_RISK, 0.8, 1.5)
    credit_limit = np.maximum(1, np.ceil(exposure / 100_000)).astype(np.int64) * 100_000  # whole thousands
    no_limit = rng.random(count) < 0.1

    parent = _parents(rng, size_rank >= 0.9, currency)
    table = pa.Table.from_arrays(
        [
            pa.array(ids),
            pa.array(np.full(count, config.entity_id, dtype=np.int64)),
            pc.binary_join_element_wise("C-", pc.utf8_lpad(pc.cast(pa.array(ids), pa.string()), 5, "0"), ""),
            names,
            int_array(np.maximum(parent, 0) + 1, parent < 0),
            pa.array(segment, pa.string()),
            pa.nulls(count, pa.string()),
            pa.array(terms.astype(np.int64)),
            pa.array(currency_codes[currency].astype(object), pa.string()),
            pa.array(np.array(language_codes, dtype=object)[language], pa.string()),
            pa.array(country, pa.string()),
            pc.if_else(pa.array(no_limit), pa.scalar(None, MONEY), money_array(credit_limit)),
            emails,
            phones,
            pa.array(behaviour_names.astype(object), pa.string()),
        ],
        schema=CUSTOMERS,
    )
    return _Customers(
        behaviour=behaviour,
        currency=currency,
        terms=terms,
        invoice_counts=invoice_counts,
        mean_cents=mean_cents,
        active_from=active_from,
        batch_payer=batch_payer,
        slide_onset=slide_onset,
        slide_rate=slide_rate,
        slide_stop=slide_stop,
        table=table,
    )


def _parents(rng: np.random.Generator, key_account: np.ndarray, currency: np.ndarray) -> np.ndarray:
    """A few smaller customers are subsidiaries of a key account in the same currency (-1: none)."""
    parent = np.full(key_account.size, -1, dtype=np.int64)
    child = ~key_account & (rng.random(key_account.size) < SUBSIDIARY_SHARE)
    for code in np.unique(currency):
        heads = np.flatnonzero(key_account & (currency == code))
        rows = np.flatnonzero(child & (currency == code))
        if heads.size and rows.size:
            parent[rows] = heads[rng.integers(0, heads.size, rows.size)]
    return parent


def _chunk_bounds(invoice_counts: np.ndarray, chunk_invoices: int) -> list[tuple[int, int]]:
    """Consecutive customer ranges holding about ``chunk_invoices`` invoices each."""
    cumulative = np.concatenate([[0], np.cumsum(invoice_counts)])
    targets = np.arange(chunk_invoices, cumulative[-1], chunk_invoices)
    cuts = np.unique(np.searchsorted(cumulative, targets, side="left"))
    edges = [0, *[int(c) for c in cuts if 0 < c < invoice_counts.size], invoice_counts.size]
    return [(lo, hi) for lo, hi in zip(edges, edges[1:], strict=False) if hi > lo]


def _behaviour_code(behaviour: Behaviour) -> int:
    return BEHAVIOURS.index(behaviour)


def _days_late(
    rng: np.random.Generator,
    cal: _Calendar,
    customers: _Customers,
    owner: np.ndarray,
    issue: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Days between due date and payment for each invoice, and whether it is never paid."""
    n = owner.size
    behaviour = customers.behaviour[owner]
    late = np.zeros(n)
    never = np.zeros(n, dtype=bool)
    for code, kind in enumerate(BEHAVIOURS):
        rows = np.flatnonzero(behaviour == code)
        k = rows.size
        if k == 0:
            continue
        if kind is Behaviour.PROMPT:
            late[rows] = rng.normal(-2.0, 3.0, k)
        elif kind is Behaviour.FORGETFUL:
            late[rows] = 3.0 + rng.gamma(2.0, 3.0, k)
        elif kind is Behaviour.CHRONIC_LATE:
            late[rows] = 30.0 + 60.0 * rng.beta(2.0, 2.5, k)
        elif kind is Behaviour.DISPUTER:
            late[rows] = 8.0 + rng.gamma(2.0, 9.0, k)
        else:  # sliding into insolvency
            who = owner[rows]
            since_onset = issue[rows] - cal.start_day - customers.slide_onset[who]
            drift = np.maximum(since_onset, 0) * customers.slide_rate[who]
            late[rows] = drift + rng.normal(1.0, 3.0, k)
            never[rows] = since_onset > customers.slide_stop[who]
        never[rows] |= rng.random(k) < NEVER_PAID[kind]
    return late, never


def _chunk(
    config: GeneratorConfig,
    cal: _Calendar,
    customers: _Customers,
    bounds: tuple[int, int],
    chunk_no: int,
    first_ids: tuple[int, int, int],
) -> GeneratedLedger:
    lo, hi = bounds
    first_invoice_id, first_credit_note_id, first_payment_id = first_ids
    rng = np.random.default_rng([config.seed, 1, chunk_no])
    entity_id = config.entity_id
    currency_names = pa.array([code for code, _ in config.currencies], pa.string())

    # Invoices: issue dates drawn from the seasonal calendar, from the customer's first active day.
    owner = np.repeat(np.arange(lo, hi), customers.invoice_counts[lo:hi])
    n = owner.size
    floor = cal.cdf_before[customers.active_from[owner]]
    position = np.searchsorted(cal.cdf, floor + rng.random(n) * (cal.cdf[-1] - floor), side="right")
    issue = cal.start_day + np.minimum(position, cal.length - 1)
    order = np.lexsort((owner, issue))  # chronological ids, like an ERP's invoice numbering
    owner, issue = owner[order], issue[order]
    invoice_ids = first_invoice_id + np.arange(n, dtype=np.int64)

    amount = np.rint(customers.mean_cents[owner] * rng.lognormal(0.0, 0.55, n)).astype(np.int64)
    round_figure = rng.random(n) < 0.15
    amount = np.where(round_figure, np.rint(amount / 10_000) * 10_000, amount).astype(np.int64)
    amount = np.maximum(amount, 500)
    due = issue + customers.terms[owner]
    void = rng.random(n) < VOID_SHARE
    behaviour = customers.behaviour[owner]
    disputer = behaviour == _behaviour_code(Behaviour.DISPUTER)

    late, never = _days_late(rng, cal, customers, owner, issue)
    pay_day = np.maximum(due + np.rint(late).astype(np.int64), issue)

    # Credit notes: disputers get many partial ones; others a few, sometimes for the full amount.
    has_credit = ~void & (rng.random(n) < np.where(disputer, CREDIT_NOTE_SHARE[Behaviour.DISPUTER], 0.015))
    full_credit = has_credit & ~disputer & (rng.random(n) < 0.25)
    credit_share = rng.uniform(0.05, 0.5, n)
    credit = np.where(full_credit, amount, np.clip(np.rint(amount * credit_share), 100, amount)).astype(
        np.int64
    )
    credit_day = _next_business_day(issue + rng.integers(5, 46, n))
    applied = has_credit & (rng.random(n) < np.where(disputer, 0.95, 0.8))
    payable = amount - np.where(applied, credit, 0)
    pay_day = np.where(applied, np.maximum(pay_day, credit_day + rng.integers(2, 16, n)), pay_day)

    # Cash pieces: one per paid invoice, or two instalments.
    paid = ~void & (payable > 0)
    instalment_share = np.array([INSTALMENTS[b] for b in BEHAVIOURS])[behaviour]
    split = paid & (payable >= 2_000) & (pay_day - issue >= 4) & (rng.random(n) < instalment_share)
    first_cents = np.clip(np.rint(payable * rng.uniform(0.3, 0.7, n)), 1, payable - 1).astype(np.int64)
    first_day = issue + np.floor((pay_day - issue) * rng.uniform(0.3, 0.8, n)).astype(np.int64)
    first_day = np.minimum(first_day, pay_day - 1)
    single = np.flatnonzero(paid & ~split & ~never)
    first = np.flatnonzero(split)
    second = np.flatnonzero(split & ~never)
    piece_invoice = np.concatenate([single, first, second])
    piece_day = _next_business_day(np.concatenate([pay_day[single], first_day[first], pay_day[second]]))
    piece_cents = np.concatenate([payable[single], first_cents[first], (payable - first_cents)[second]])
    batchable = np.concatenate(
        [np.ones(single.size, bool), np.zeros(first.size, bool), np.ones(second.size, bool)]
    )
    piece_owner = owner[piece_invoice]
    batched = batchable & customers.batch_payer[piece_owner]
    piece_day = np.where(batched, _next_friday(piece_day), piece_day)
    keep = piece_day <= cal.end_day
    piece_invoice, piece_day, piece_cents = piece_invoice[keep], piece_day[keep], piece_cents[keep]
    piece_owner, batched = piece_owner[keep], batched[keep]

    # Payments: a batch payer's pieces of one day form one payment; other pieces are payments alone.
    # At most one batchable piece per invoice, so (payment, invoice) stays unique.
    token = np.where(batched, 0, np.arange(1, piece_day.size + 1))
    order = np.lexsort((token, piece_day, piece_owner))
    piece_invoice, piece_day, piece_cents = piece_invoice[order], piece_day[order], piece_cents[order]
    piece_owner, token = piece_owner[order], token[order]
    starts_mask = np.ones(piece_day.size, dtype=bool)
    starts_mask[1:] = (np.diff(piece_owner) != 0) | (np.diff(piece_day) != 0) | (np.diff(token) != 0)
    starts = np.flatnonzero(starts_mask)
    piece_payment = np.cumsum(starts_mask) - 1
    applied_cents = np.add.reduceat(piece_cents, starts) if starts.size else np.zeros(0, np.int64)
    payment_owner = piece_owner[starts]
    payment_day = piece_day[starts]
    overpaid = rng.random(starts.size) < OVERPAYMENT_SHARE
    extra_cents = np.maximum(100, np.rint(applied_cents * rng.uniform(0.005, 0.1, starts.size)))
    extra = np.where(overpaid, extra_cents, 0).astype(np.int64)

    # Payments on account: round sums with no invoice reference, left unapplied.
    on_account = rng.integers(0, max(n, 1), rng.binomial(n, ON_ACCOUNT_SHARE)) if n else np.zeros(0, np.int64)
    on_account_day = _next_business_day(issue[on_account] + rng.integers(0, 90, on_account.size))
    on_account = on_account[on_account_day <= cal.end_day]
    on_account_day = on_account_day[on_account_day <= cal.end_day]
    payment_owner = np.concatenate([payment_owner, owner[on_account]])
    payment_day = np.concatenate([payment_day, on_account_day])
    payment_cents = np.concatenate([applied_cents + extra, rng.integers(1, 41, on_account.size) * 25_000])
    allocation_lag = np.where(
        rng.random(starts.size) < LATE_CASH_APPLICATION_SHARE, rng.integers(1, 8, starts.size), 0
    )

    payment_order = np.lexsort((payment_owner, payment_day))
    payment_rank = np.empty(payment_order.size, dtype=np.int64)
    payment_rank[payment_order] = np.arange(payment_order.size)
    payment_ids = first_payment_id + payment_rank

    # Credit notes that exist by the end date, numbered by date.
    credit_rows = np.flatnonzero(has_credit & (credit_day <= cal.end_day))
    credit_rows = credit_rows[np.lexsort((owner[credit_rows], credit_day[credit_rows]))]
    credit_ids = first_credit_note_id + np.arange(credit_rows.size, dtype=np.int64)
    credit_applied = applied[credit_rows]

    # Allocations: cash (dated when applied, possibly after the payment) and applied credit notes.
    cash_day = piece_day + allocation_lag[piece_payment]
    cash_kept = cash_day <= cal.end_day
    allocation_invoice = np.concatenate([piece_invoice[cash_kept], credit_rows[credit_applied]])
    allocation_day = np.concatenate([cash_day[cash_kept], credit_day[credit_rows[credit_applied]]])
    allocation_cents = np.concatenate([piece_cents[cash_kept], credit[credit_rows[credit_applied]]])
    cash_count = int(cash_kept.sum())
    allocation_payment = np.concatenate(
        [payment_ids[piece_payment[cash_kept]], np.zeros(int(credit_applied.sum()), np.int64)]
    )
    allocation_credit = np.concatenate([np.zeros(cash_count, np.int64), credit_ids[credit_applied]])
    is_cash = np.arange(allocation_invoice.size) < cash_count
    allocation_order = np.lexsort((invoice_ids[allocation_invoice], allocation_day))

    def entity_column(size: int) -> pa.Array:
        return pa.array(np.full(size, entity_id, dtype=np.int64))

    def currency_column(owners: np.ndarray) -> pa.Array:
        return currency_names.take(pa.array(customers.currency[owners]))

    customer_ids = np.arange(1, customers.behaviour.size + 1, dtype=np.int64)
    invoices = pa.Table.from_arrays(
        [
            pa.array(invoice_ids),
            entity_column(n),
            pa.array(customer_ids[owner]),
            currency_column(owner),
            date_array(issue),
            date_array(due),
            money_array(amount),
            pc.if_else(pa.array(void), "void", "open"),
            pa.nulls(n, pa.date32()),
        ],
        schema=INVOICES,
    )
    credit_notes = pa.Table.from_arrays(
        [
            pa.array(credit_ids),
            entity_column(credit_rows.size),
            pa.array(customer_ids[owner[credit_rows]]),
            currency_column(owner[credit_rows]),
            date_array(credit_day[credit_rows]),
            money_array(credit[credit_rows]),
        ],
        schema=CREDIT_NOTES,
    )
    payments = pa.Table.from_arrays(
        [
            pa.array(payment_ids[payment_order]),
            entity_column(payment_order.size),
            pa.array(customer_ids[payment_owner[payment_order]]),
            currency_column(payment_owner[payment_order]),
            date_array(payment_day[payment_order]),
            money_array(payment_cents[payment_order]),
        ],
        schema=PAYMENTS,
    )
    o = allocation_order
    allocations = pa.Table.from_arrays(
        [
            pa.array(invoice_ids[allocation_invoice[o]]),
            entity_column(o.size),
            int_array(allocation_payment[o], ~is_cash[o]),
            int_array(allocation_credit[o], is_cash[o]),
            date_array(allocation_day[o]),
            money_array(allocation_cents[o]),
        ],
        schema=ALLOCATIONS,
    )
    return GeneratedLedger(
        invoices=invoices,
        credit_notes=credit_notes,
        payments=payments,
        allocations=allocations,
        customers=customers.table.slice(lo, hi - lo),
    )


def iter_ledger_chunks(config: GeneratorConfig) -> Iterator[GeneratedLedger]:
    """The ledger in consecutive parts (by customer), for streaming large outputs to disk.

    Ids are global and consecutive across parts; concatenating the parts gives
    ``generate_ledger(config)``.
    """
    cal = _Calendar.of(config)
    customers = _customers(config, cal)
    invoice_offsets = np.concatenate([[0], np.cumsum(customers.invoice_counts)])
    next_credit_note_id = next_payment_id = 1
    for chunk_no, bounds in enumerate(_chunk_bounds(customers.invoice_counts, config.chunk_invoices)):
        first_ids = (int(invoice_offsets[bounds[0]]) + 1, next_credit_note_id, next_payment_id)
        part = _chunk(config, cal, customers, bounds, chunk_no, first_ids)
        next_credit_note_id += part.credit_notes.num_rows
        next_payment_id += part.payments.num_rows
        yield part


def generate_ledger(config: GeneratorConfig) -> GeneratedLedger:
    """The whole ledger in memory (for tests, the demo and anything up to a few million invoices)."""
    return GeneratedLedger.concat(iter_ledger_chunks(config))

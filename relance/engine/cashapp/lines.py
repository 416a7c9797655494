"""The value objects cash application passes between the statement parsers, the matcher and the
app: frozen, money as Decimal, dates as dates, ids as the ledger's int ids.

One home: the parsers yield ``BankLineData``, the app hands the matcher ``OpenItem`` and
``KnownPayer`` and ``KnownPattern`` rows, the matcher returns one ``MatchResult`` per line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

MatchStatus = Literal["applied", "suggested", "unmatched"]
APPLIED: MatchStatus = "applied"
SUGGESTED: MatchStatus = "suggested"
UNMATCHED: MatchStatus = "unmatched"


@dataclass(frozen=True, slots=True)
class BankLineData:
    """One statement entry as a parser yields it. ``amount`` is positive for a credit.

    ``bank_ref``: the entry's AcctSvcrRef, else its NtryRef, else a stable hash of its content
    (the line's identity for idempotent imports). ``remittance_structured`` is the creditor
    reference as given (RF…, QR reference, or a national one), unnormalised."""

    bank_ref: str
    account_iban: str
    account_currency: str
    booking_date: date
    value_date: date | None
    amount: Decimal
    currency: str
    counterparty_name: str = ""
    counterparty_iban: str = ""
    counterparty_bic: str = ""
    remittance_unstructured: str = ""
    remittance_structured: str = ""
    end_to_end_id: str = ""
    bank_transaction_code: str = ""
    entry_ref: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_credit(self) -> bool:
        return self.amount > 0


@dataclass(frozen=True, slots=True)
class OpenItem:
    """An invoice with an amount still open, as the matcher sees it.

    ``references``: the invoice's other references a customer may quote (order, assignment,
    billing numbers; the RF and QR references Relance printed for it); ``po_number`` the customer's
    purchase order. ``parent_id``/``parent_name``: the customer's parent (a group pays for its
    subsidiaries)."""

    invoice_id: int
    invoice_ref: str
    customer_id: int
    customer_ref: str
    customer_name: str
    parent_id: int | None
    currency: str
    open_amount: Decimal
    due_date: date | None
    issue_date: date | None
    references: tuple[str, ...] = ()
    po_number: str = ""
    parent_name: str = ""


@dataclass(frozen=True, slots=True)
class KnownPayer:
    """A payer account learned from earlier applied payments: this IBAN paid this customer."""

    account_iban: str
    customer_id: int


@dataclass(frozen=True, slots=True)
class KnownPattern:
    """A reference pattern learned from a person's decision: remittance text with a token of this
    shape (``references.reference_patterns``, e.g. ``ACME-PAY-9999-9999``) came from this
    customer. A pattern known for several customers is no evidence."""

    pattern: str
    customer_id: int


@dataclass(frozen=True, slots=True)
class Allocation:
    """``amount`` of a bank line applied to one invoice."""

    invoice_id: int
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Candidate:
    """One way to apply a line: its allocations (each at most the item's open amount, together at
    most the line's amount), the customer, a confidence in 0–1 and the reasons, in words, for
    every point of it. ``residual`` = line amount − allocated (> 0: overpaid/unapplied; the short
    side is in ``shortfall``: open amount of the allocated items left unpaid)."""

    allocations: tuple[Allocation, ...]
    customer_id: int | None
    confidence: float
    reasons: tuple[str, ...]
    residual: Decimal = Decimal("0")
    shortfall: Decimal = Decimal("0")

    @property
    def allocated(self) -> Decimal:
        return sum((a.amount for a in self.allocations), Decimal("0"))

    @property
    def invoice_ids(self) -> tuple[int, ...]:
        return tuple(a.invoice_id for a in self.allocations)


@dataclass(frozen=True, slots=True)
class MatchResult:
    """The matcher's verdict on one line: candidates ranked best first; ``chosen`` is the
    candidate applied automatically (status ``applied``), else None."""

    bank_ref: str
    status: MatchStatus
    candidates: tuple[Candidate, ...] = ()
    chosen: Candidate | None = None

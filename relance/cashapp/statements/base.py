"""What every statement parser returns, and the rules they share (bank_ref, errors, amounts).

Pure: no Django, no model (import-linter contract ``statements-pure``). A parser reads a whole file
and returns its statements, or raises ``ErrorList`` with every problem it found, each naming the
file, the line and the entry (``FILE:LINE: statement S, entry N: field: expected …, found …``):
the import writes nothing then.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from relance.core.errors import ErrorList, FieldError
from relance.core.money import parse_amount
from relance.engine.cashapp.lines import BankLineData

FORMATS = ("camt053", "camt054", "mt940", "csv")
MAX_ERRORS = 1000
#: How far a parser has read: called with the bytes (or rows) read so far.
Progress = Callable[[int], None]


@dataclass(frozen=True)
class StatementData:
    """One statement of one account (a camt ``Stmt``/``Ntfctn``, an MT940 ``:20:`` block, the rows
    of a CSV file for one account and currency). ``positions[i]`` says where ``lines[i]`` came from
    (``FILE:LINE: statement S, entry N``), for the errors the import finds later."""

    statement_id: str
    account_iban: str
    account_currency: str
    format: str
    lines: tuple[BankLineData, ...]
    positions: tuple[str, ...]
    position: str  # where the statement starts: FILE:LINE: statement S
    sequence: str = ""
    period_start: date | None = None
    period_end: date | None = None
    opening_balance: Decimal | None = None
    closing_balance: Decimal | None = None
    skipped: int = 0  # entries not booked (pending, information only): not imported


@dataclass
class Problems:
    """The errors of one file, collected so that all of them are reported at once."""

    source: str
    errors: list[FieldError] = field(default_factory=list)
    count: int = 0

    def add(self, line: int | None, where: str, name: str, expected: str, found: Any = "") -> None:
        self.count += 1
        if len(self.errors) < MAX_ERRORS:
            label = f"{where}: {name}" if where else name
            found_text = "" if found is None else str(found)
            self.errors.append(FieldError(label, expected, found_text, line, self.source))

    def raise_if_any(self) -> None:
        if self.errors:
            raise ErrorList(self.errors, code="statement_invalid")


def file_error(source: str, message: str, line: int | None = None) -> ErrorList:
    """A problem with the file as a whole (not readable, unknown format, wrong namespace)."""
    return ErrorList([FieldError("file", message, "", line, source)], code="statement_invalid")


def amount_of(text: str | None) -> Decimal | None:
    """A statement amount (always unsigned, '.' decimal point), or None when it is not one."""
    if text is None:
        return None
    try:
        value = parse_amount(text.strip())
    except Exception:
        return None
    return value if value >= 0 else None


def content_ref(*parts: object) -> str:
    """The stable bank_ref of an entry the bank gave no reference: a hash of what identifies it."""
    digest = hashlib.sha256("\x1f".join("" if part is None else str(part) for part in parts).encode())
    return "h:" + digest.hexdigest()[:32]


def unique_refs(lines: Iterable[BankLineData]) -> list[BankLineData]:
    """Number the repeats of a ``bank_ref`` within one statement (``REF``, ``REF#2``, …): two equal
    entries the same day without a reference are two payments, and stay two on every import."""
    from dataclasses import replace

    seen: dict[str, int] = {}
    out = []
    for line in lines:
        count = seen.get(line.bank_ref, 0) + 1
        seen[line.bank_ref] = count
        out.append(line if count == 1 else replace(line, bank_ref=f"{line.bank_ref}#{count}"))
    return out


def compact_account(value: str) -> str:
    """An account id as stored and compared: upper case, no spaces (IBANs are written in groups)."""
    return "".join(value.split()).upper()

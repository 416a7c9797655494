"""Bank statements exported as CSV or XLSX, read with the ledger imports' own reader and mapping
files (``relance.ingest.sources``, ``relance.ingest.mappings``; docs/import.md "Mapping files").

The canonical columns are in ``COLUMNS``; a mapping renames a bank's headers to them and says
how its dates and amounts are written. The amount is one signed column (``amount``, positive for
money in) or two unsigned ones (``credit`` and ``debit``). Rows of several accounts or
currencies make one statement each. Every bad cell is reported (``FILE:LINE: field: expected …,
found …``) and nothing is returned.

This module is not in the ``statements-pure`` contract: the mapping machinery checks mapping files
with ``relance.ingest.parsing``, which loads Django's e-mail validator. It touches no model.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path

from relance.cashapp.statements.base import (
    Problems,
    Progress,
    StatementData,
    compact_account,
    content_ref,
    file_error,
    unique_refs,
)
from relance.core.errors import ValidationFailed
from relance.core.money import parse_amount
from relance.engine.cashapp.lines import BankLineData
from relance.ingest.mappings import MappingFile, mapping_bind, mapping_load
from relance.ingest.parsing import Column
from relance.ingest.sources import EXTRA_CELLS, open_table

KIND = "bank_lines"
COLUMNS = (
    Column("account", "IBAN or account number", True, "NL77ABNA0574908765", "the entity's account"),
    Column(
        "currency", "ISO 4217", True, "EUR", "the line's currency (a mapping constant for one-currency files)"
    ),
    Column("booking_date", "date", True, "2026-12-04", "the day the bank booked it"),
    Column("amount", "signed amount", False, "1405.31", "positive = money in; or credit and debit"),
    Column("credit", "amount ≥0", False, "1405.31", "money in (with debit, instead of amount)"),
    Column("debit", "amount ≥0", False, "754.25", "money out (with credit, instead of amount)"),
    Column("value_date", "date", False, "2026-12-04", "the value date"),
    Column("bank_ref", "text ≤140", False, "0724710333343453", "the bank's reference (else a content hash)"),
    Column("counterparty_name", "text ≤200", False, "Dupont SARL", "who paid (or was paid)"),
    Column("counterparty_iban", "IBAN", False, "FR7630006000011234567890189", "their account"),
    Column("counterparty_bic", "BIC", False, "AGRIFRPP", "their bank"),
    Column("remittance", "text", False, "INV-2026-0001 INV-2026-0002", "the free-text remittance"),
    Column("reference", "text ≤140", False, "RF18539007547034", "a structured creditor reference"),
    Column("end_to_end_id", "text ≤140", False, "E2E-7781", "the payer's end-to-end id"),
    Column("transaction_code", "text ≤64", False, "PMNT-RCDT-ESCT", "the bank's transaction code"),
    Column("statement_id", "text ≤128", False, "2026-12-04", "groups rows into statements"),
)
NEEDS_AMOUNT = "an amount column, or credit and debit columns (map them in the mapping file)"
EXPECTED_DATE_ISO = "a date YYYY-MM-DD"
EXPECTED_DATE_FORMAT = "a date in the format {date_format}"
EXPECTED_AMOUNT = "an amount with '{decimal}' as decimal separator"
EXPECTED_ONE_AMOUNT = "a credit or a debit, not both"
EXPECTED_CURRENCY = "a 3-letter currency code such as EUR"
EXPECTED_REQUIRED = "a value (required)"
EXTRA = "no more cells than the header has columns"


def load_mapping(path: Path | str) -> MappingFile:
    return mapping_load(path, kind=KIND, canonical_columns=COLUMNS)


def parse_tabular(
    path: Path, *, source: str = "", mapping: MappingFile | None = None, progress: Progress | None = None
) -> list[StatementData]:
    """The statements of a CSV or XLSX export: one per account, currency and ``statement_id``."""
    path = Path(path)
    source = source or str(path)
    mapping = mapping or MappingFile()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    try:
        table = open_table(
            path,
            encoding=mapping.encoding,
            delimiter=mapping.delimiter,
            sheet=mapping.sheet,
            expected_columns=", ".join(column.name for column in COLUMNS if column.required),
        )
    except ValidationFailed as exc:
        raise file_error(source, exc.message) from None
    try:
        bound = mapping_bind(
            mapping, kind=KIND, header=table.header, source=source, canonical_columns=COLUMNS
        )
    except ValidationFailed as exc:
        table.close()
        raise file_error(source, exc.message, 1) from None
    provided = {name for name, _ in bound.getters}
    if "amount" not in provided and not {"credit", "debit"} & provided:
        table.close()
        raise file_error(source, NEEDS_AMOUNT, 1)
    options = mapping.parse_options
    problems = Problems(source)
    groups: dict[tuple[str, str, str], list[tuple[BankLineData, int]]] = {}
    rows = 0
    try:
        for row in table.rows:
            cells = bound.apply(row.cells)
            if cells is None:
                continue
            rows += 1
            line = row.line
            if EXTRA_CELLS in row.cells:
                problems.add(line, "", "row", EXTRA, f"{row.cells[EXTRA_CELLS]} cells")
                continue
            cell = partial(_cell, cells)

            before = problems.count
            account = compact_account(cell("account"))
            if not account:
                problems.add(line, "", "account", EXPECTED_REQUIRED)
            currency = cell("currency").upper()
            if not (len(currency) == 3 and currency.isalpha()):
                problems.add(line, "", "currency", EXPECTED_CURRENCY, currency)
            booking = _date(cell("booking_date"), options.date_format)
            if booking is None:
                problems.add(
                    line, "", "booking_date", _date_expected(options.date_format), cell("booking_date")
                )
            value_text = cell("value_date")
            value = _date(value_text, options.date_format) if value_text else None
            if value_text and value is None:
                problems.add(line, "", "value_date", _date_expected(options.date_format), value_text)
            amount = _amount_of(cell, options, problems, line)
            if problems.count > before or amount is None or booking is None:
                continue
            remittance = cell("remittance")
            name = cell("counterparty_name")
            iban = compact_account(cell("counterparty_iban"))
            end_to_end = cell("end_to_end_id")
            structured = cell("reference")
            ref = cell("bank_ref") or content_ref(
                account, currency, booking, value, amount, iban, name, end_to_end, structured, remittance
            )
            data = BankLineData(
                bank_ref=ref,
                account_iban=account,
                account_currency=currency,
                booking_date=booking,
                value_date=value,
                amount=amount,
                currency=currency,
                counterparty_name=name,
                counterparty_iban=iban,
                counterparty_bic=cell("counterparty_bic"),
                remittance_unstructured=remittance,
                remittance_structured=structured,
                end_to_end_id=end_to_end,
                bank_transaction_code=cell("transaction_code"),
                raw={"format": "csv", "line": line},
            )
            key = (account, currency, cell("statement_id"))
            groups.setdefault(key, []).append((data, line))
            if progress is not None:
                progress(table.bytes_read)
    except ValidationFailed as exc:
        raise file_error(source, exc.message) from None
    finally:
        table.close()
    problems.raise_if_any()
    if not rows:
        raise file_error(source, "at least one data row after the header")
    statements = []
    for (account, currency, statement_id), members in groups.items():
        lines = [data for data, _ in members]
        dates = [data.booking_date for data in lines]
        identifier = statement_id or f"csv-{digest}"
        statements.append(
            StatementData(
                statement_id=identifier,
                account_iban=account,
                account_currency=currency,
                format="csv",
                lines=tuple(unique_refs(lines)),
                positions=tuple(f"{source}:{line}: row" for _, line in members),
                position=f"{source}:{members[0][1]}: statement {identifier}",
                period_start=min(dates),
                period_end=max(dates),
            )
        )
    return statements


def _cell(cells: Mapping[str, str | None], name: str) -> str:
    value = cells.get(name)
    return " ".join(value.split()) if value else ""


def _date_expected(date_format: str | None) -> str:
    return EXPECTED_DATE_FORMAT.format(date_format=date_format) if date_format else EXPECTED_DATE_ISO


def _date(text: str, date_format: str | None) -> date | None:
    if not text:
        return None
    try:
        if date_format:
            return datetime.strptime(text, date_format).date()
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _number(text: str, options: object) -> Decimal | None:
    """A signed amount as the mapping writes it (``1.234,56-`` and ``(12.00)`` included)."""
    decimal = getattr(options, "decimal_separator", ".")
    thousands = getattr(options, "thousands_separator", "")
    value = text.replace(" ", "").replace("\u00a0", "")
    negative = False
    if value.startswith("(") and value.endswith(")"):
        value, negative = value[1:-1], True
    if value.endswith("-"):
        value, negative = value[:-1], True
    if value.startswith(("-", "+")):
        negative = negative or value[0] == "-"
        value = value[1:]
    grouped = rf"[0-9]{{1,3}}(?:{re.escape(thousands)}[0-9]{{3}})+" if thousands else None
    plain = r"[0-9]+"
    whole = rf"(?:{grouped}|{plain})" if grouped else plain
    if not re.fullmatch(rf"{whole}(?:{re.escape(decimal)}[0-9]+)?", value):
        return None  # "1,405.31" with a "," decimal separator is refused, not read as 1.40531
    if thousands:
        value = value.replace(thousands, "")
    value = value.replace(decimal, ".")
    try:
        amount = parse_amount(value)
    except ValidationFailed:
        return None
    return -amount if negative else amount


def _amount_of(cell: Callable[[str], str], options: object, problems: Problems, line: int) -> Decimal | None:
    decimal = getattr(options, "decimal_separator", ".")
    expected = EXPECTED_AMOUNT.format(decimal=decimal)
    text = cell("amount")
    if text:
        amount = _number(text, options)
        if amount is None:
            problems.add(line, "", "amount", expected, text)
        return amount
    credit_text, debit_text = cell("credit"), cell("debit")
    credit = _number(credit_text, options) if credit_text else None
    debit = _number(debit_text, options) if debit_text else None
    if credit_text and credit is None:
        problems.add(line, "", "credit", expected, credit_text)
    if debit_text and debit is None:
        problems.add(line, "", "debit", expected, debit_text)
    if credit is None and debit is None:
        if not credit_text and not debit_text:
            problems.add(line, "", "amount", EXPECTED_REQUIRED)
        return None
    if credit and debit:
        problems.add(line, "", "credit", EXPECTED_ONE_AMOUNT, f"{credit_text} / {debit_text}")
        return None
    if credit:
        return abs(credit)
    return -abs(debit or Decimal("0"))

"""SWIFT MT940 statements, read with the ``mt-940`` library (PyPI, BSD-3, maintained; ADR 0023).

The library is lenient: a malformed ``:61:`` amount such as ``C5X0,00`` is read as 5.00 and the
rest taken for a reference. So every ``:61:`` and balance line is first checked here against the
SWIFT layout, and any line that does not fit is an error naming the file, the line and the entry;
only a file that passes is handed to the library.

``:86:`` is read three ways: the German structured subfields (``?20``–``?29`` purpose with the
SEPA keywords ``EREF+``/``SVWZ+``…, ``?30`` BIC, ``?31`` IBAN, ``?32``/``?33`` name: the
library's ``Options(applicant_iban=True)``), the Dutch and SWIFT slash tags of ABN AMRO, ING and
Rabobank (``/TRTP/…/IBAN/…/BIC/…/NAME/…/REMI/…/EREF/…``, ``/CNTP/``, ``/CDTRREF/``), and
otherwise as free text.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from relance.cashapp.statements.base import (
    Problems,
    Progress,
    StatementData,
    compact_account,
    content_ref,
    file_error,
    unique_refs,
)
from relance.engine.cashapp.lines import BankLineData

TAG = re.compile(r"^:(\d{2}[A-Z]?):")
STATEMENT_LINE = re.compile(
    r"^(?P<value>\d{6})(?P<entry>\d{4})?(?P<mark>RC|RD|EC|ED|C|D)(?P<funds>[A-Z])?"
    r"(?P<amount>\d{1,15},\d{0,4})(?P<type>[NSF][A-Z0-9]{3})(?P<rest>.*)$"
)
BALANCE = re.compile(r"^(?P<mark>[CD])(?P<date>\d{6})(?P<currency>[A-Z]{3})(?P<amount>\d{1,15},\d{0,4})$")
NOT_MT940 = "an MT940 statement (lines :20:, :25:, :60F:, :61:, :86:, :62F:)"
EXPECTED_61 = (
    "a statement line YYMMDD[MMDD]C|D|RC|RD[funds code]AMOUNT(digits, comma decimals)TYPE(N…/S…/F…)"
    "REFERENCE[//BANK REFERENCE]"
)
EXPECTED_BALANCE = "a balance C|D YYMMDD CCY AMOUNT such as C070903EUR766656,49"
EXPECTED_DATE = "a valid date YYMMDD"
EXPECTED_ACCOUNT = "the account identification (:25:)"
NONREF = "NONREF"

SLASH_KEYS = (
    "TRTP",
    "IBAN",
    "BIC",
    "NAME",
    "REMI",
    "EREF",
    "CSID",
    "MARF",
    "CNTP",
    "RTRN",
    "PREF",
    "KREF",
    "ISDT",
    "ORDP",
    "BENM",
    "ULTC",
    "ULTD",
    "PURP",
    "CDTRREFTP",
    "CDTRREF",
    "USTD",
    "STRD",
    "ADDR",
    "SVCL",
)
SLASH_TAG = re.compile(r"/(" + "|".join(SLASH_KEYS) + r")/")


def _yymmdd(text: str) -> date | None:
    try:
        year = int(text[:2])
        return date(2000 + year if year < 80 else 1900 + year, int(text[2:4]), int(text[4:6]))
    except ValueError:
        return None


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def looks_like_mt940(head: str) -> bool:
    return ":20:" in head and (":25:" in head or ":60F:" in head or ":61:" in head)


def parse_mt940(path: Path, *, source: str = "", progress: Progress | None = None) -> list[StatementData]:
    """Every statement (``:20:`` block) of an MT940 file, or ``ErrorList`` naming each bad line."""
    import mt940

    path = Path(path)
    source = source or str(path)
    raw = path.read_bytes()
    text = _decode(raw).replace("\r\n", "\n").replace("\r", "\n")
    if not looks_like_mt940(text[:4096]):
        raise file_error(source, NOT_MT940, 1)
    problems = Problems(source)
    blocks = _check(text, problems)
    problems.raise_if_any()
    try:
        parsed = mt940.parse_statements(text, options=mt940.Options.all())
    except Exception as exc:  # the library raises ValueError, KeyError… for what slipped past
        raise file_error(source, f"{NOT_MT940}, found a part the parser refused ({exc})") from None
    parsed = [statement for statement in parsed if statement.data.get("transaction_reference")]
    if len(parsed) != len(blocks):
        raise file_error(source, f"{len(blocks)} statement(s) read as {len(parsed)}: {NOT_MT940}")
    statements = []
    for statement, block in zip(parsed, blocks, strict=True):
        statements.append(_statement(statement, block, source, problems))
        if progress is not None:
            progress(len(raw))
    problems.raise_if_any()
    return statements


class _Block:
    """Where one ``:20:`` block's lines are: for positions in errors and in the stored lines."""

    def __init__(self, line: int, reference: str) -> None:
        self.line = line
        self.reference = reference
        self.entries: list[int] = []  # the line of each :61:


def _check(text: str, problems: Problems) -> list[_Block]:
    """Check the layout of every ``:20:``, ``:25:``, ``:60F:``/``:62F:`` and ``:61:`` line."""
    blocks: list[_Block] = []
    for number, line in enumerate(text.split("\n"), start=1):
        found = TAG.match(line)
        if found is None:
            continue
        tag = found.group(1)
        value = line[found.end() :].strip()
        if tag == "20":
            blocks.append(_Block(number, value))
            continue
        where = f"statement {blocks[-1].reference}" if blocks else "before the first :20:"
        if tag == "25" and not value:
            problems.add(number, where, ":25:", EXPECTED_ACCOUNT, value)
        elif tag in ("60F", "60M", "62F", "62M", "64", "65"):
            balance = BALANCE.match(value)
            if balance is None:
                problems.add(number, where, f":{tag}:", EXPECTED_BALANCE, value)
            elif _yymmdd(balance.group("date")) is None:
                problems.add(number, where, f":{tag}:", EXPECTED_DATE, balance.group("date"))
        elif tag == "61":
            if not blocks:
                problems.add(number, where, ":61:", NOT_MT940, value)
                continue
            blocks[-1].entries.append(number)
            entry_where = f"{where}, entry {len(blocks[-1].entries)}"
            statement_line = STATEMENT_LINE.match(value)
            if statement_line is None:
                problems.add(number, entry_where, ":61:", EXPECTED_61, value)
                continue
            value_date = _yymmdd(statement_line.group("value"))
            if value_date is None:
                problems.add(
                    number, entry_where, ":61: value date", EXPECTED_DATE, statement_line.group("value")
                )
            entry = statement_line.group("entry")
            if entry and value_date is not None:
                try:
                    date(value_date.year, int(entry[:2]), int(entry[2:]))
                except ValueError:
                    problems.add(number, entry_where, ":61: entry date", "a valid date MMDD", entry)
    if not blocks:
        problems.add(1, "", "file", NOT_MT940)
    return blocks


def _statement(statement: Any, block: _Block, source: str, problems: Problems) -> StatementData:
    data = statement.data
    reference = data.get("transaction_reference") or block.reference
    where = f"statement {reference}"
    account = compact_account(str(data.get("account_identification") or ""))
    if not account:
        problems.add(block.line, where, ":25:", EXPECTED_ACCOUNT)
    opening = data.get("final_opening_balance") or data.get("intermediate_opening_balance")
    closing = data.get("final_closing_balance") or data.get("intermediate_closing_balance")
    currency = ""
    for balance in (opening, closing):
        if balance is not None and not currency:
            currency = str(balance.amount.currency)
    lines: list[BankLineData] = []
    positions: list[str] = []
    transactions = list(statement)
    for index, transaction in enumerate(transactions, start=1):
        line_number = block.entries[index - 1] if index - 1 < len(block.entries) else block.line
        positions.append(f"{source}:{line_number}: {where}, entry {index}")
        lines.append(_line(transaction.data, account, currency, index, line_number))
    statement_number = str(data.get("statement_number") or "")
    sequence = "/".join(part for part in (statement_number, str(data.get("sequence_number") or "")) if part)
    dates = [line.booking_date for line in lines]
    return StatementData(
        statement_id=reference if not statement_number else f"{reference}/{statement_number}",
        account_iban=account,
        account_currency=currency or (lines[0].currency if lines else ""),
        format="mt940",
        lines=tuple(unique_refs(lines)),
        positions=tuple(positions),
        position=f"{source}:{block.line}: {where}",
        sequence=sequence,
        period_start=(opening.date if opening is not None else None) or (min(dates) if dates else None),
        period_end=(closing.date if closing is not None else None) or (max(dates) if dates else None),
        opening_balance=_signed(opening),
        closing_balance=_signed(closing),
    )


def _signed(balance: Any) -> Decimal | None:
    if balance is None:
        return None
    return Decimal(str(balance.amount.amount))


def _day(value: Any) -> date | None:
    if value is None:
        return None
    return date(value.year, value.month, value.day)


def _line(
    data: dict[str, Any], account: str, account_currency: str, index: int, line_number: int
) -> BankLineData:
    amount = Decimal(str(data["amount"].amount))
    currency = str(data.get("currency") or data["amount"].currency or account_currency)
    status = str(data.get("status") or "")
    value_date = _day(data.get("date"))
    booking = _day(data.get("entry_date")) or _day(data.get("guessed_entry_date")) or value_date
    assert booking is not None
    details = data.get("transaction_details") or ""
    name = _clean(data.get("applicant_name"))
    iban = compact_account(_clean(data.get("applicant_iban") or data.get("gvc_applicant_iban")))
    bic = _clean(data.get("applicant_bin") or data.get("gvc_applicant_bin"))
    purpose = _clean(data.get("purpose"))
    end_to_end = _clean(data.get("end_to_end_reference"))
    structured = ""
    raw: dict[str, Any] = {"format": "mt940", "entry": index, "line": line_number}
    if details and "?" not in details[:6]:
        tags = slash_tags(details)
        if tags:
            name = name or tags.get("NAME", "")
            iban = iban or compact_account(tags.get("IBAN", ""))
            bic = bic or tags.get("BIC", "")
            if "CNTP" in tags and not iban:
                parts = tags["CNTP"].split("/")
                iban = compact_account(parts[0]) if parts else ""
                bic = bic or (parts[1] if len(parts) > 1 else "")
                name = name or (parts[2] if len(parts) > 2 else "")
            end_to_end = end_to_end or tags.get("EREF", "")
            structured = tags.get("CDTRREF", "")
            remittance = tags.get("REMI", "")
            for prefix in ("USTD//", "USTD/", "STRD/"):
                remittance = remittance.removeprefix(prefix)
            purpose = purpose or _clean(remittance.replace("\n", " "))
            raw["tags"] = tags
        else:
            purpose = purpose or _clean(details.replace("\n", " "))
    if end_to_end.upper() == "NOTPROVIDED":
        end_to_end = ""
    customer_reference = _clean(data.get("customer_reference"))
    entry_ref = "" if customer_reference.upper() == NONREF else customer_reference
    for key in ("posting_text", "transaction_code", "prima_nota", "additional_purpose", "return_debit_notes"):
        value = _clean(data.get(key))
        if value:
            raw[key] = value
    if status.startswith("R"):
        raw["reversal"] = True
    code = _clean(data.get("id"))
    bank_reference = _clean(data.get("bank_reference"))
    ref = bank_reference or content_ref(
        account, currency, booking, value_date, amount, code, iban, name, end_to_end, entry_ref, purpose
    )
    return BankLineData(
        bank_ref=ref,
        account_iban=account,
        account_currency=account_currency or currency,
        booking_date=booking,
        value_date=value_date,
        amount=amount,
        currency=currency,
        counterparty_name=name,
        counterparty_iban=iban,
        counterparty_bic=bic,
        remittance_unstructured=purpose,
        remittance_structured=structured,
        end_to_end_id=end_to_end,
        bank_transaction_code=code,
        entry_ref=entry_ref,
        raw=raw,
    )


def slash_tags(details: str) -> dict[str, str]:
    """The ``/KEY/value`` tags of a Dutch or SWIFT-style ``:86:`` (empty when it has none)."""
    flat = details.replace("\n", "")
    parts = SLASH_TAG.split(flat)
    if len(parts) < 3:
        return {}
    tags: dict[str, str] = {}
    for key, value in zip(parts[1::2], parts[2::2], strict=True):
        value = value.strip().strip("/").strip()
        if value and key not in tags:
            tags[key] = " ".join(value.split())
    return tags


def _clean(value: Any) -> str:
    return " ".join(str(value).split()) if value else ""

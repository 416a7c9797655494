"""Remittance advice (issue 17, item 5): a customer's list of the invoices a payment pays.

Pure (no Django): ``remittance_parse`` reads a remittance e-mail's text or a CSV export into
``RemittanceItem`` rows (a reference as written and an amount); ``remittance_resolve`` finds each
reference among the invoice refs it is given, by the matcher's reference key
(``relance.engine.cashapp.references.reference_key``: prefix, separators and leading zeros
dropped, OCR look-alikes folded — one home for "the same reference"). The app splits the bank line
with the result (``relance.cashapp.remittance_split``).

Tolerant where a person writes freely, strict where a mistake would move money:

- amounts with ``.`` or ``,`` decimals and thousands separators (``1.234,56``, ``1,234.56``,
  ``1 234,56``, ``1'234.56``, ``1234``); a single separator followed by three digits is a
  thousands separator (``1,234`` is 1234); a currency code or symbol around it is ignored;
- a CSV is a table whose header names a reference column (``invoice``, ``invoice_ref``,
  ``reference``, ``ref``, ``document``, ``number``, ``facture``, ``rechnung``…) and an amount
  column (``amount``, ``paid``, ``payment``, ``montant``, ``betrag``, ``importe``…); ``,``, ``;``
  or tab separated;
- in an e-mail, an item is a line with a reference (letters and digits with at least one digit)
  and an amount; other lines (greetings, a total, a signature) are left out.

Every problem is a ``FieldError`` naming the file, the line and the field; all are reported at
once (``ErrorList``), as statement files are.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from relance.core.errors import ErrorList, FieldError
from relance.engine.cashapp.references import reference_key

REF_HEADERS = (
    "invoice_ref",
    "invoice",
    "invoice_number",
    "invoice_no",
    "reference",
    "ref",
    "document",
    "document_number",
    "doc",
    "number",
    "facture",
    "numero_facture",
    "rechnung",
    "rechnungsnummer",
    "factura",
    "fattura",
)
AMOUNT_HEADERS = (
    "amount",
    "paid",
    "amount_paid",
    "payment",
    "payment_amount",
    "net",
    "montant",
    "betrag",
    "importe",
    "importo",
)
TOTAL_WORDS = re.compile(r"\b(total|sum|summe|gesamt|totaal|totale)\b", re.IGNORECASE)

_AMOUNT = re.compile(r"[-−]?\(?[0-9]+(?:[ .,'’\u00a0\u202f][0-9]+)*\)?-?")
_REF = re.compile(r"[A-Za-z]{0,10}[-_/#.]?[0-9][0-9A-Za-z\-_/.]*")
_CURRENCY = re.compile(r"[A-Z]{3}|[€$£¥₣]|CHF|Fr\.", re.IGNORECASE)
_GROUP_SEPARATORS = " '’\u00a0\u202f"

EXPECTED_AMOUNT = "an amount such as 1234.56, 1.234,56 or 1,234.56"
EXPECTED_POSITIVE = "a positive amount (a remittance lists what is paid)"
EXPECTED_REF = "an invoice reference"
EXPECTED_ITEMS = "at least one line with an invoice reference and an amount"
EXPECTED_HEADER = "a header with a reference column ({refs}) and an amount column ({amounts})"
EXPECTED_INVOICE = "an open invoice in the line's currency"
EXPECTED_ONE = "one invoice (the reference is ambiguous)"


@dataclass(frozen=True, slots=True)
class RemittanceItem:
    """One row of an advice: the reference as written, the amount paid for it, where it was read."""

    ref: str
    amount: Decimal
    line: int


@dataclass(frozen=True, slots=True)
class Remittance:
    source: str
    format: str  # "csv" or "text"
    items: tuple[RemittanceItem, ...]

    @property
    def total(self) -> Decimal:
        return sum((item.amount for item in self.items), Decimal("0"))


def amount_guess(text: str) -> Decimal | None:
    """An amount as a person writes it, the decimal separator guessed; None when it is not one.

    ``1.234,56`` and ``1,234.56`` (both separators: the last is the decimal one); ``1234,56`` and
    ``1234.5`` (one separator, not followed by three digits: decimal); ``1,234`` and ``1.234.567``
    (followed by groups of three: thousands); spaces and apostrophes group thousands; ``(12.00)``,
    ``-12.00`` and ``12.00-`` are negative."""
    value = _CURRENCY.sub("", text).strip()
    negative = False
    if value.startswith("(") and value.endswith(")"):
        negative, value = True, value[1:-1].strip()
    if value[:1] in "-−":
        negative, value = True, value[1:].strip()
    elif value.endswith("-"):
        negative, value = True, value[:-1].strip()
    for separator in _GROUP_SEPARATORS:
        if separator in value:
            if not re.fullmatch(rf"[0-9]{{1,3}}(?:{re.escape(separator)}[0-9]{{3}})+(?:[.,][0-9]+)?", value):
                return None
            value = value.replace(separator, "")
    if not re.fullmatch(r"[0-9][0-9.,]*", value) or value[-1] in ".,":
        return None
    dots, commas = value.count("."), value.count(",")
    if dots and commas:
        decimal = "." if value.rfind(".") > value.rfind(",") else ","
        thousands = "," if decimal == "." else "."
        whole, _, fraction = value.rpartition(decimal)
        if value.count(decimal) > 1 or not re.fullmatch(
            rf"[0-9]{{1,3}}(?:{re.escape(thousands)}[0-9]{{3}})*", whole
        ):
            return None
        digits = whole.replace(thousands, "") + "." + fraction
    elif dots + commas == 0:
        digits = value
    else:
        separator = "." if dots else ","
        parts = value.split(separator)
        if len(parts) > 2 or len(parts[-1]) == 3:
            if not re.fullmatch(rf"[0-9]{{1,3}}(?:{re.escape(separator)}[0-9]{{3}})+", value):
                return None
            digits = value.replace(separator, "")
        else:
            digits = parts[0] + "." + parts[1]
    try:
        amount = Decimal(digits)
    except InvalidOperation:  # pragma: no cover - the patterns above only let digits through
        return None
    if amount.adjusted() >= 14:
        return None
    return -amount if negative else amount


def _header_key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")


def _sniff_csv(text: str) -> tuple[str, list[str]] | None:
    """The delimiter and header of a CSV advice, or None when the text is not one."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    for delimiter in ("\t", ";", ","):
        if delimiter not in first:
            continue
        header = [_header_key(cell) for cell in next(csv.reader([first], delimiter=delimiter))]
        if any(cell in REF_HEADERS for cell in header) and any(cell in AMOUNT_HEADERS for cell in header):
            return delimiter, header
    return None


def _column(header: Sequence[str], names: Sequence[str]) -> int:
    for name in names:
        if name in header:
            return header.index(name)
    return -1


def remittance_parse(text: str, *, source: str = "remittance") -> Remittance:
    """Read an advice: a CSV when its first line is a header with a reference and an amount
    column, otherwise the text of an e-mail. ``ErrorList`` with every problem, or the items."""
    text = text.lstrip("\ufeff")
    sniffed = _sniff_csv(text)
    if sniffed is not None:
        return _parse_csv(text, sniffed[0], sniffed[1], source)
    return _parse_text(text, source)


def _parse_csv(text: str, delimiter: str, header: list[str], source: str) -> Remittance:
    ref_at = _column(header, REF_HEADERS)
    amount_at = _column(header, AMOUNT_HEADERS)
    errors: list[FieldError] = []
    items: list[RemittanceItem] = []
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    seen_header = False
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if not seen_header:
            seen_header = True
            continue
        ref = row[ref_at].strip() if ref_at < len(row) else ""
        raw = row[amount_at].strip() if amount_at < len(row) else ""
        if not ref and TOTAL_WORDS.search(" ".join(row)):
            continue  # a total row
        if not ref or not any(ch.isdigit() for ch in ref):
            errors.append(FieldError(header[ref_at], EXPECTED_REF, ref, line, source))
            continue
        amount = amount_guess(raw)
        if amount is None:
            errors.append(FieldError(header[amount_at], EXPECTED_AMOUNT, raw, line, source))
        elif amount <= 0:
            errors.append(FieldError(header[amount_at], EXPECTED_POSITIVE, raw, line, source))
        else:
            items.append(RemittanceItem(ref, amount, line))
    return _done(source, "csv", items, errors)


def _parse_text(text: str, source: str) -> Remittance:
    errors: list[FieldError] = []
    items: list[RemittanceItem] = []
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith(">") or TOTAL_WORDS.search(line):
            continue
        amounts = [m for m in _AMOUNT.finditer(line) if amount_guess(m.group()) is not None]
        # The amount is the last number of the line written with a decimal part or after the ref.
        refs = [m for m in _REF.finditer(line) if _is_ref(m.group())]
        if not refs:
            continue
        ref_match = refs[0]
        after = [m for m in amounts if m.start() >= ref_match.end()]
        if not after:
            continue  # a reference without an amount: prose ("invoice 123 was paid last week")
        amount_match = after[-1]
        amount = amount_guess(amount_match.group())
        assert amount is not None
        if amount <= 0:
            errors.append(FieldError("amount", EXPECTED_POSITIVE, amount_match.group(), number, source))
            continue
        items.append(RemittanceItem(ref_match.group().strip(".-_/#"), amount, number))
    return _done(source, "text", items, errors)


def _is_ref(token: str) -> bool:
    """A reference is letters and digits with at least one digit and at least 3 characters; a
    plain number counts when it has no separators (an amount has them) or is long (≥ 5 digits)."""
    body = token.strip(".-_/#")
    if len(re.sub(r"[^0-9A-Za-z]", "", body)) < 3 or not any(ch.isdigit() for ch in body):
        return False
    if any(ch.isalpha() for ch in body):
        return True
    return not re.search(r"[.,]", body) or len(re.sub(r"[^0-9]", "", body)) >= 8


def _done(source: str, format: str, items: list[RemittanceItem], errors: list[FieldError]) -> Remittance:
    if not errors and not items:
        errors.append(FieldError("file", EXPECTED_ITEMS, "", None, source))
    if errors:
        raise ErrorList(errors, code="remittance_invalid")
    return Remittance(source, format, tuple(items))


@dataclass(frozen=True, slots=True)
class ResolvedItem:
    item: RemittanceItem
    invoice_ref: str


def remittance_resolve(remittance: Remittance, invoice_refs: Iterable[str]) -> list[ResolvedItem]:
    """Each item's invoice among ``invoice_refs`` (the customer's open invoices, say): the ref as
    written, else the one invoice with the same reference key. ``ErrorList`` naming every item
    that finds none or several."""
    refs = list(invoice_refs)
    exact = {ref.upper(): ref for ref in refs}
    by_key: dict[str, list[str]] = {}
    for ref in refs:
        by_key.setdefault(reference_key(ref), []).append(ref)
    resolved: list[ResolvedItem] = []
    errors: list[FieldError] = []
    field = "invoice reference"
    for item in remittance.items:
        found = exact.get(item.ref.upper())
        if found is None:
            candidates = by_key.get(reference_key(item.ref), []) if reference_key(item.ref) else []
            if len(candidates) == 1:
                found = candidates[0]
            elif candidates:
                errors.append(
                    FieldError(
                        field,
                        EXPECTED_ONE,
                        f"{item.ref} ({', '.join(candidates)})",
                        item.line,
                        remittance.source,
                    )
                )
                continue
        if found is None:
            errors.append(FieldError(field, EXPECTED_INVOICE, item.ref, item.line, remittance.source))
            continue
        resolved.append(ResolvedItem(item, found))
    if errors:
        raise ErrorList(errors, code="remittance_invalid")
    return resolved

"""ISO 20022 camt.053 (statements) and camt.054 (debit/credit notifications), versions .001.02 to
.001.08, streamed with lxml (ADR 0023): memory stays flat at 100,000 entries.

The versions differ in a few places, all read here: a party's name is ``Dbtr/Nm`` up to .07 and
``Dbtr/Pty/Nm`` from .08; a transaction's amount is ``AmtDtls/TxAmt/Amt`` in .02 and ``Amt`` from
.03; a bank's BIC is ``BIC`` in .02 and ``BICFI`` from .03; charges are ``Chrgs/Amt`` in .02 and
``Chrgs/Rcrd/Amt`` from .03; the status is ``Sts`` up to .07 and ``Sts/Cd`` from .08.

A batch entry (``NtryDtls`` with several ``TxDtls`` whose amounts add up to the entry's) becomes
one line per transaction; otherwise an entry is one line. Entries not booked (``PDNG``, ``INFO``)
are counted and left out.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from lxml import etree

from relance.cashapp.statements.base import (
    Problems,
    Progress,
    StatementData,
    amount_of,
    compact_account,
    content_ref,
    file_error,
    unique_refs,
)
from relance.engine.cashapp.lines import BankLineData

NAMESPACE = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:camt\.(05[2-9])\.001\.(\d{2})$")
SUPPORTED = {"053": "camt053", "054": "camt054"}
VERSIONS = range(2, 9)
CONTAINER = {"camt053": "Stmt", "camt054": "Ntfctn"}
BOOKED = {"BOOK", ""}
NOT_PROVIDED = "NOTPROVIDED"

NOT_XML = "well-formed XML"
NOT_CAMT = (
    "an ISO 20022 camt.053 or camt.054 document (namespace "
    "urn:iso:std:iso:20022:tech:xsd:camt.053.001.NN or camt.054.001.NN, NN from 02 to 08)"
)
WRONG_KIND = "a {expected} document (--format {expected})"
EXPECTED_AMOUNT = "an amount such as 1405.31 with a currency (Ccy)"
EXPECTED_SIGN = "CRDT or DBIT"
EXPECTED_DATE = "a booking date (BookgDt/Dt or DtTm) YYYY-MM-DD"
EXPECTED_ACCOUNT = "the account's IBAN or Othr/Id"
EXPECTED_ID = "the statement's Id"
EXPECTED_CURRENCY = "a 3-letter currency code"


def camt_kind(namespace: str) -> tuple[str, int] | None:
    """``("camt053", 2)`` for a supported namespace, else None."""
    found = NAMESPACE.match(namespace)
    if found is None:
        return None
    kind = SUPPORTED.get(found.group(1))
    version = int(found.group(2))
    if kind is None or version not in VERSIONS:
        return None
    return kind, version


def root_namespace(path: Path, source: str) -> str:
    """The namespace of the document's root element (read from the first element only)."""
    try:
        for _event, element in etree.iterparse(
            str(path), events=("start",), resolve_entities=False, no_network=True
        ):
            return etree.QName(element).namespace or ""
    except etree.XMLSyntaxError as exc:
        raise file_error(source, f"{NOT_XML}, found {exc.msg}", exc.lineno) from None
    raise file_error(source, NOT_XML)


def parse_camt(
    path: Path, *, source: str = "", expect: str | None = None, progress: Progress | None = None
) -> list[StatementData]:
    """Every statement of a camt.053 or camt.054 file (``expect``: the format the caller was told)."""
    path = Path(path)
    source = source or str(path)
    namespace = root_namespace(path, source)
    kind_version = camt_kind(namespace)
    if kind_version is None:
        raise file_error(source, f"{NOT_CAMT}, found namespace {namespace or 'none'!r}", 1)
    kind, version = kind_version
    if expect is not None and expect != kind:
        raise file_error(source, f"{WRONG_KIND.format(expected=expect)}, found namespace {namespace!r}", 1)
    reader = _Reader(namespace, f"{kind[:4]}.{kind[4:]}.001.{version:02d}", source)
    container_tag = f"{{{namespace}}}{CONTAINER[kind]}"
    entry_tag = f"{{{namespace}}}Ntry"
    problems = Problems(source)
    statements: list[StatementData] = []
    pending: list[tuple[list[BankLineData], int, int]] = []  # per entry: lines, entry number, line
    skipped = 0
    with path.open("rb") as stream:
        try:
            for _event, element in etree.iterparse(
                stream,
                events=("end",),
                tag=(entry_tag, container_tag),
                resolve_entities=False,
                no_network=True,
                remove_comments=True,
            ):
                if element.tag == entry_tag:
                    number = len(pending) + skipped + 1
                    lines = reader.entry(element, number, problems)
                    reader.done()
                    if lines is None:
                        skipped += 1
                    else:
                        pending.append((lines, number, element.sourceline or 0))
                    _release(element, entry_tag)
                    if progress is not None:
                        progress(stream.tell())
                    continue
                statements.append(reader.statement(element, pending, skipped, problems, kind))
                pending, skipped = [], 0
                element.clear(keep_tail=True)
        except etree.XMLSyntaxError as exc:
            raise file_error(source, f"{NOT_XML}, found {exc.msg}", exc.lineno) from None
    problems.raise_if_any()
    if not statements:
        raise file_error(source, f"at least one {CONTAINER[kind]} (statement) in the document", None)
    return statements


def _release(element: Any, entry_tag: str) -> None:
    """Free an entry once read, and the (cleared) entry before it: the tree stays small."""
    element.clear(keep_tail=True)
    previous = element.getprevious()
    if previous is not None and previous.tag == entry_tag:
        parent = previous.getparent()
        if parent is not None:
            parent.remove(previous)


class _Reader:
    """Reads the elements of one camt namespace; every path is written once, namespace-free."""

    def __init__(self, namespace: str, version_label: str, source: str) -> None:
        self.ns = {"c": namespace}
        self.prefix = f"{{{namespace}}}"
        self.indexed = {f"{self.prefix}Ntry", f"{self.prefix}TxDtls"}
        self.version = version_label
        self.source = source
        self._indexes: dict[Any, dict[str, list[Any]]] = {}
        self._statement: tuple[Any, str, str, str] | None = None

    # -- small readers ---------------------------------------------------------------------------
    def _path(self, path: str) -> str:
        return "/".join(f"c:{part}" for part in path.split("/"))

    def _index(self, element: Any) -> dict[str, list[Any]] | None:
        """An entry's (or transaction's) elements by their namespace-free path, built in one walk:
        an entry is read with some forty lookups, and lxml's ``find`` costs ~30 µs each."""
        if element.tag not in self.indexed:
            return None
        index = self._indexes.get(element)
        if index is None:
            index = {}
            self._walk(element, "", index)
            self._indexes[element] = index
        return index

    def _walk(self, element: Any, path: str, index: dict[str, list[Any]]) -> None:
        prefix, cut = self.prefix, len(self.prefix)
        for child in element:
            tag = child.tag
            if not isinstance(tag, str):
                continue  # a processing instruction
            name = tag[cut:] if tag.startswith(prefix) else etree.QName(tag).localname
            child_path = f"{path}/{name}" if path else name
            index.setdefault(child_path, []).append(child)
            if not len(child):
                continue
            if name == "TxDtls":  # its own index, walked once: the entry needs only the element
                own: dict[str, list[Any]] = {}
                self._walk(child, "", own)
                self._indexes[child] = own
            else:
                self._walk(child, child_path, index)

    def _found(self, element: Any, path: str) -> list[Any]:
        index = self._index(element)
        if index is not None:
            return index.get(path, [])
        return list(element.findall(self._path(path), self.ns))

    def text(self, element: Any, *paths: str) -> str:
        """The stripped text of the first of ``paths`` that is there and not empty."""
        for path in paths:
            for found in self._found(element, path):
                if found.text and found.text.strip():
                    return " ".join(found.text.split())
        return ""

    def all_text(self, element: Any, path: str) -> list[str]:
        return [
            " ".join(found.text.split())
            for found in self._found(element, path)
            if found.text and found.text.strip()
        ]

    def find(self, element: Any, path: str) -> Any:
        found = self._found(element, path)
        return found[0] if found else None

    def statement_of(self, ntry: Any) -> tuple[str, str, str]:
        """Id, account and account currency of the statement an entry is in (read once per statement)."""
        parent = ntry.getparent()
        if self._statement is None or self._statement[0] is not parent:
            if parent is None:
                return "", "", ""
            self._statement = (
                parent,
                self.text(parent, "Id"),
                compact_account(self.text(parent, "Acct/Id/IBAN", "Acct/Id/Othr/Id")),
                self.text(parent, "Acct/Ccy"),
            )
        return self._statement[1], self._statement[2], self._statement[3]

    def done(self) -> None:
        """Forget the indexes of the entry just read (its elements are about to be freed)."""
        self._indexes.clear()

    def day(self, element: Any, path: str) -> date | None | str:
        """The date at ``path`` (``Dt`` or the day of ``DtTm``); the text when it is not a date."""
        text = self.text(element, f"{path}/Dt", f"{path}/DtTm")
        if not text:
            return None
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            return text

    def party(self, element: Any, role: str) -> tuple[str, str, str]:
        """Name, account and BIC of the debtor or creditor (``role``) of a transaction."""
        name = self.text(
            element,
            f"RltdPties/{role}/Nm",
            f"RltdPties/{role}/Pty/Nm",
            f"RltdPties/Ultmt{role}/Nm",
            f"RltdPties/Ultmt{role}/Pty/Nm",
        )
        account = self.text(element, f"RltdPties/{role}Acct/Id/IBAN", f"RltdPties/{role}Acct/Id/Othr/Id")
        bic = self.text(element, f"RltdAgts/{role}Agt/FinInstnId/BIC", f"RltdAgts/{role}Agt/FinInstnId/BICFI")
        return name, compact_account(account), bic

    def charges(self, element: Any) -> Decimal | None:
        total = self.text(element, "Chrgs/TtlChrgsAndTaxAmt")
        if total:
            return amount_of(total)
        amounts = [amount_of(text) for text in self.all_text(element, "Chrgs/Rcrd/Amt")]
        amounts += [amount_of(text) for text in self.all_text(element, "Chrgs/Amt")]
        found = [amount for amount in amounts if amount is not None]
        return sum(found, Decimal("0")) if found else None

    def transaction_code(self, element: Any) -> str:
        domain = self.text(element, "BkTxCd/Domn/Cd")
        family = self.text(element, "BkTxCd/Domn/Fmly/Cd")
        sub = self.text(element, "BkTxCd/Domn/Fmly/SubFmlyCd")
        if domain:
            return "-".join(part for part in (domain, family, sub) if part)
        return self.text(element, "BkTxCd/Prtry/Cd")

    def signed_amount(self, element: Any, path: str, sign_path: str, default_sign: str) -> tuple:
        amount_element = self.find(element, path)
        if amount_element is None:
            return None, "", default_sign
        amount = amount_of(amount_element.text)
        currency = (amount_element.get("Ccy") or "").strip()
        sign = self.text(element, sign_path) or default_sign
        return amount, currency, sign

    # -- an entry --------------------------------------------------------------------------------
    def entry(self, ntry: Any, number: int, problems: Problems) -> list[BankLineData] | None:
        """The lines of one ``Ntry``; None when it is not booked. Problems are added, not raised."""
        status = self.text(ntry, "Sts/Cd", "Sts").upper()
        if status not in BOOKED:
            return None
        statement_id, account, statement_currency = self.statement_of(ntry)
        where = f"statement {statement_id}, entry {number}" if statement_id else f"entry {number}"
        line = ntry.sourceline
        before = problems.count
        amount_element = self.find(ntry, "Amt")
        amount = amount_of(amount_element.text if amount_element is not None else None)
        currency = (amount_element.get("Ccy") or "").strip() if amount_element is not None else ""
        if amount is None:
            found = amount_element.text if amount_element is not None else ""
            problems.add(line, where, "Amt", EXPECTED_AMOUNT, found)
        elif not (len(currency) == 3 and currency.isalpha()):
            problems.add(line, where, "Amt/@Ccy", EXPECTED_CURRENCY, currency)
        sign = self.text(ntry, "CdtDbtInd")
        if sign not in ("CRDT", "DBIT"):
            problems.add(line, where, "CdtDbtInd", EXPECTED_SIGN, sign)
        booking = self.day(ntry, "BookgDt")
        value = self.day(ntry, "ValDt")
        if isinstance(booking, str) or (booking is None and not isinstance(value, date)):
            problems.add(line, where, "BookgDt", EXPECTED_DATE, booking or "")
        if isinstance(value, str):
            problems.add(line, where, "ValDt", "a value date YYYY-MM-DD", value)
            value = None
        if problems.count > before:
            return []
        assert amount is not None
        booking_day: date = booking if isinstance(booking, date) else value  # type: ignore[assignment]
        account_currency = statement_currency or currency
        entry_ref = self.text(ntry, "NtryRef")
        servicer_ref = self.text(ntry, "AcctSvcrRef")
        entry_fields: dict[str, Any] = {
            "account": account,
            "account_currency": account_currency,
            "booking": booking_day,
            "value": value,
            "reversal": self.text(ntry, "RvslInd").lower() in ("true", "1"),
            "code": self.transaction_code(ntry),
            "entry_ref": entry_ref,
            "additional": self.text(ntry, "AddtlNtryInf"),
            "charges": self.charges(ntry),
        }
        transactions = self._found(ntry, "NtryDtls/TxDtls")
        signed_entry = amount if sign == "CRDT" else -amount
        parts = [self._transaction_amount(tx, sign, currency) for tx in transactions]
        split = (
            len(transactions) > 1
            and all(part is not None for part in parts)
            and sum((part[0] for part in parts if part is not None), Decimal("0")) == signed_entry
        )
        batch = {
            key: value
            for key, value in (
                ("msg_id", self.text(ntry, "NtryDtls/Btch/MsgId")),
                ("payment_information_id", self.text(ntry, "NtryDtls/Btch/PmtInfId")),
                ("transactions", self.text(ntry, "NtryDtls/Btch/NbOfTxs")),
            )
            if value
        }
        base_raw = {"format": self.version, "entry": number, "line": line}
        if batch:
            base_raw["batch"] = batch
        if not split:
            return [
                self._line(
                    entry_fields,
                    transactions,
                    signed_entry,
                    currency,
                    sign,
                    ref=servicer_ref
                    or entry_ref
                    or (self.text(transactions[0], "Refs/AcctSvcrRef") if len(transactions) == 1 else ""),
                    raw=base_raw,
                )
            ]
        lines = []
        batch_ref = servicer_ref or entry_ref
        for index, (tx, part) in enumerate(zip(transactions, parts, strict=True), start=1):
            assert part is not None
            tx_amount, tx_currency = part
            own = self.text(tx, "Refs/AcctSvcrRef")
            ref = own or (f"{batch_ref}/{index}" if batch_ref else "")
            raw = base_raw | {"transaction": index, "line": tx.sourceline}
            lines.append(
                self._line(
                    entry_fields,
                    [tx],
                    tx_amount,
                    tx_currency,
                    "CRDT" if tx_amount > 0 else "DBIT",
                    ref=ref,
                    raw=raw,
                    index=index,
                )
            )
        return lines

    def _transaction_amount(self, tx: Any, entry_sign: str, entry_currency: str) -> tuple | None:
        """The signed amount of one ``TxDtls`` and its currency, or None when it gives none."""
        for path in ("Amt", "AmtDtls/TxAmt/Amt"):
            found = self.find(tx, path)
            if found is not None:
                amount = amount_of(found.text)
                if amount is None:
                    return None
                sign = self.text(tx, "CdtDbtInd") or entry_sign
                return (amount if sign == "CRDT" else -amount), (found.get("Ccy") or entry_currency)
        return None

    def _line(
        self,
        entry: dict[str, Any],
        transactions: list[Any],
        amount: Decimal,
        currency: str,
        sign: str,
        *,
        ref: str,
        raw: dict[str, Any],
        index: int = 0,
    ) -> BankLineData:
        """One line from an entry and the transactions it stands for (one, or all when not split)."""
        role, other = ("Dbtr", "Cdtr") if sign == "CRDT" else ("Cdtr", "Dbtr")
        name = iban = bic = ""
        unstructured: list[str] = []
        structured = ""
        end_to_end = ""
        info: dict[str, Any] = {}
        code = entry["code"]
        charges = entry["charges"]
        for tx in transactions:
            if not name:
                name, iban, bic = self.party(tx, role)
                if not name and not iban:
                    name, iban, bic = self.party(tx, other)
            unstructured += self.all_text(tx, "RmtInf/Ustrd")
            structured = structured or self.text(tx, "RmtInf/Strd/CdtrRefInf/Ref")
            e2e = self.text(tx, "Refs/EndToEndId")
            if e2e and e2e.upper() != NOT_PROVIDED and not end_to_end:
                end_to_end = e2e
            code = self.transaction_code(tx) if index and self.transaction_code(tx) else code
            if index:
                charges = self.charges(tx) if self.charges(tx) is not None else None
            for key, path in (
                ("instruction_id", "Refs/InstrId"),
                ("transaction_id", "Refs/TxId"),
                ("mandate_id", "Refs/MndtId"),
                ("servicer_ref", "Refs/AcctSvcrRef"),
                ("additional_info", "AddtlTxInf"),
                ("return_reason", "RtrInf/Rsn/Cd"),
                ("creditor_reference_type", "RmtInf/Strd/CdtrRefInf/Tp/CdOrPrtry/Cd"),
                ("creditor_reference_type", "RmtInf/Strd/CdtrRefInf/Tp/CdOrPrtry/Prtry"),
                ("ultimate_debtor", "RltdPties/UltmtDbtr/Nm"),
            ):
                value = self.text(tx, path)
                if value and key not in info:
                    info[key] = value
            documents = self.all_text(tx, "RmtInf/Strd/RfrdDocInf/Nb")
            if documents:
                info.setdefault("referred_documents", []).extend(documents)
            more = self.all_text(tx, "RmtInf/Strd/AddtlRmtInf")
            if more:
                info.setdefault("additional_remittance", []).extend(more)
        if not unstructured:
            unstructured = [text for text in (info.get("additional_info"), entry["additional"]) if text]
        raw = dict(raw)
        raw.update(info)
        if entry["additional"]:
            raw["additional_entry_info"] = entry["additional"]
        if entry["reversal"]:
            raw["reversal"] = True
        if charges is not None:
            raw["charges"] = str(charges)
        remittance = " ".join(unstructured)
        if not ref:
            ref = content_ref(
                entry["account"],
                currency,
                entry["booking"],
                entry["value"],
                amount,
                code,
                iban,
                name,
                end_to_end,
                info.get("instruction_id"),
                structured,
                remittance,
                index,
            )
        return BankLineData(
            bank_ref=ref,
            account_iban=entry["account"],
            account_currency=entry["account_currency"],
            booking_date=entry["booking"],
            value_date=entry["value"],
            amount=amount,
            currency=currency,
            counterparty_name=name,
            counterparty_iban=iban,
            counterparty_bic=bic,
            remittance_unstructured=remittance,
            remittance_structured=structured,
            end_to_end_id=end_to_end,
            bank_transaction_code=code,
            entry_ref=entry["entry_ref"],
            raw=raw,
        )

    # -- a statement -----------------------------------------------------------------------------
    def statement(
        self,
        element: Any,
        pending: list[tuple[list[BankLineData], int, int]],
        skipped: int,
        problems: Problems,
        kind: str,
    ) -> StatementData:
        statement_id = self.text(element, "Id")
        line = element.sourceline
        where = f"statement {statement_id}" if statement_id else "statement"
        if not statement_id:
            problems.add(line, where, "Id", EXPECTED_ID)
        account = compact_account(self.text(element, "Acct/Id/IBAN", "Acct/Id/Othr/Id"))
        if not account:
            problems.add(line, where, "Acct/Id", EXPECTED_ACCOUNT)
        opening = closing = None
        balance_currency = ""
        for balance in element.findall(self._path("Bal"), self.ns):
            code = self.text(balance, "Tp/CdOrPrtry/Cd", "Tp/CdOrPrtry/Prtry")
            found = self.find(balance, "Amt")
            value = amount_of(found.text if found is not None else None)
            if value is None:
                problems.add(
                    balance.sourceline,
                    where,
                    "Bal/Amt",
                    EXPECTED_AMOUNT,
                    found.text if found is not None else "",
                )
                continue
            balance_currency = balance_currency or (found.get("Ccy") or "")
            if self.text(balance, "CdtDbtInd") == "DBIT":
                value = -value
            if code in ("OPBD", "PRCD") and opening is None:
                opening = value
            elif code == "CLBD":
                closing = value
        lines: list[BankLineData] = []
        positions: list[str] = []
        for entry_lines, number, entry_line in pending:
            for bank_line in entry_lines:
                lines.append(bank_line)
                position_line = bank_line.raw.get("line", entry_line)
                transaction = bank_line.raw.get("transaction")
                label = f"{where}, entry {number}" + (f" transaction {transaction}" if transaction else "")
                positions.append(f"{self.source}:{position_line}: {label}")
        currency = self.text(element, "Acct/Ccy") or balance_currency or (lines[0].currency if lines else "")
        if lines and currency:
            lines = [
                line_data
                if line_data.account_currency == currency
                else _with_account_currency(line_data, currency)
                for line_data in lines
            ]
        start = self.text(element, "FrToDt/FrDtTm")[:10]
        end = self.text(element, "FrToDt/ToDtTm")[:10]
        dates = [line_data.booking_date for line_data in lines]
        return StatementData(
            statement_id=statement_id,
            account_iban=account,
            account_currency=currency,
            format=kind,
            lines=tuple(unique_refs(lines)),
            positions=tuple(positions),
            position=f"{self.source}:{line}: {where}",
            sequence=self.text(element, "LglSeqNb", "ElctrncSeqNb"),
            period_start=_iso(start) or (min(dates) if dates else None),
            period_end=_iso(end) or (max(dates) if dates else None),
            opening_balance=opening,
            closing_balance=closing,
            skipped=skipped,
        )


def _with_account_currency(line: BankLineData, currency: str) -> BankLineData:
    from dataclasses import replace

    return replace(line, account_currency=currency)


def _iso(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None

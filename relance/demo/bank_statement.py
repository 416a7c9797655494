"""The demo's statement of the day: a camt.053 of the demo's bank account, booked today, paying
some of the demo ledger's open invoices the way customers really pay, imported and matched.

``statement_of_the_day`` picks open invoices (seeded) and writes one ISO 20022
``camt.053.001.02`` document with lxml: the element order of the standard's schema, a group
header, opening and closing balances that add up, and entries of every kind the exception queue
has to handle:

- **sure matches**: the invoice ref and its exact open amount, the payer's own name (one of them
  with the invoice's RF creditor reference in the structured remittance instead);
- **1:N**: one transfer paying two invoices of a customer, both refs quoted;
- **a partial payment**: a ref quoted, part of its open amount paid;
- **an OCR slip**: the ref with an O typed for a 0;
- **a payer known only by its IBAN**: no reference, another name on the account, the exact open
  amount of one of the customer's invoices (the account learned from an earlier payment);
- **an unknown payer**: neither the name, the account nor the amount leads anywhere;
- **debits**: the bank's fees and a supplier paid (stored, never matched).

The statement is imported (``bank_statement_import``) and matched (``lines_match``): sure lines
are applied, the rest waits in the exception queue as suggested or unmatched.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from lxml import etree
from stdnum import iban as iban_rules

from relance.core.payment_refs import invoice_rf_reference
from relance.engine.cashapp.lines import OpenItem

CAMT_053 = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"
CENT = Decimal("0.01")
OPENING_BALANCE = Decimal("48210.55")
BANK_NAME = "Demo Bank"
BANK_FEES = Decimal("38.50")
UNKNOWN_PAYER = ("Nguyen Trading Ltd", "Advance payment as agreed by phone")
SUPPLIER = ("Fournitures Durand SARL", "Office supplies, order of last week", Decimal("1284.90"))
IBAN_ONLY_NAME = "Shared Service Centre AP"


@dataclass(frozen=True)
class DemoEntry:
    """One entry of the statement: what a bank writes, and why the demo put it there."""

    kind: str  # sure, one_to_many, partial, ocr_slip, iban_only, unknown, debit
    amount: Decimal  # positive; ``credit`` says the direction
    name: str
    iban: str
    remittance: str = ""
    creditor_ref: str = ""
    credit: bool = True
    code: tuple[str, str, str] = ("PMNT", "RCDT", "ESCT")
    invoices: tuple[str, ...] = ()  # the invoice refs the payer meant


@dataclass
class DemoStatement:
    """The entries, and the payer accounts the demo says were learned before today."""

    entries: list[DemoEntry] = field(default_factory=list)
    known_payers: list[tuple[str, int]] = field(default_factory=list)  # (IBAN, customer id)


def _iban(rng: random.Random, country: str = "DE") -> str:
    """A well-formed IBAN (valid check digits) of a made-up account."""
    bban = "".join(rng.choice("0123456789") for _ in range(18))
    check = iban_rules.calc_check_digits(f"{country}00{bban}")
    return f"{country}{check}{bban}"


def _ocr_slip(ref: str) -> str | None:
    """The ref with its last 0 typed as an O ("INV-001230" → "INV-00123O"), None without a 0."""
    position = ref.rfind("0")
    return None if position < 0 else f"{ref[:position]}O{ref[position + 1 :]}"


def entries_choose(items: list[OpenItem], *, currency: str, today: date, seed: int) -> DemoStatement:
    """Pick the day's payments among the open ``items`` (seeded): each case its own customer, an
    invoice whose open amount no other invoice of its customer has (so the demo's answers are
    the ones the text above promises)."""
    rng = random.Random(seed)
    by_customer: dict[int, list[OpenItem]] = defaultdict(list)
    for item in items:
        if item.currency == currency and (item.issue_date is None or item.issue_date <= today):
            by_customer[item.customer_id].append(item)
    open_amounts = {item.open_amount for item in items}
    customers = sorted(by_customer)
    rng.shuffle(customers)

    def distinct(customer_id: int) -> list[OpenItem]:
        mine = by_customer[customer_id]
        counts: dict[Decimal, int] = defaultdict(int)
        for item in mine:
            counts[item.open_amount] += 1
        return [item for item in mine if counts[item.open_amount] == 1 and item.open_amount >= 10]

    statement = DemoStatement()
    ibans: dict[int, str] = {}

    def payer_iban(customer_id: int) -> str:
        return ibans.setdefault(customer_id, _iban(rng, rng.choice(["DE", "FR", "NL", "BE", "ES"])))

    wanted = ["sure", "sure", "sure_rf", "one_to_many", "partial", "ocr_slip", "iban_only"]
    for customer_id in customers:
        if not wanted:
            break
        mine = distinct(customer_id)
        kind = wanted[0]
        if kind == "one_to_many" and len(mine) < 2 or not mine:
            continue
        first = mine[0]
        name = first.customer_name.upper()  # banks write names in capitals
        if kind in {"sure", "sure_rf"}:
            text = rng.choice(["Payment {ref}", "Facture {ref}", "Invoice {ref} thank you", "{ref}"])
            statement.entries.append(
                DemoEntry(
                    "sure",
                    first.open_amount,
                    name,
                    payer_iban(customer_id),
                    remittance="" if kind == "sure_rf" else text.format(ref=first.invoice_ref),
                    creditor_ref=invoice_rf_reference(first.invoice_ref) if kind == "sure_rf" else "",
                    invoices=(first.invoice_ref,),
                )
            )
        elif kind == "one_to_many":
            pair = mine[:2]
            statement.entries.append(
                DemoEntry(
                    "one_to_many",
                    sum((item.open_amount for item in pair), Decimal("0")),
                    name,
                    payer_iban(customer_id),
                    remittance=f"Invoices {pair[0].invoice_ref} and {pair[1].invoice_ref}",
                    invoices=tuple(item.invoice_ref for item in pair),
                )
            )
        elif kind == "partial":
            if first.open_amount < 100:
                continue
            part = (first.open_amount * Decimal("0.4")).quantize(Decimal("1"))
            statement.entries.append(
                DemoEntry(
                    "partial",
                    part,
                    name,
                    payer_iban(customer_id),
                    remittance=f"First instalment {first.invoice_ref}",
                    invoices=(first.invoice_ref,),
                )
            )
        elif kind == "ocr_slip":
            slipped = _ocr_slip(first.invoice_ref)
            if slipped is None:
                continue
            statement.entries.append(
                DemoEntry(
                    "ocr_slip",
                    first.open_amount,
                    name,
                    payer_iban(customer_id),
                    remittance=f"INVOICE {slipped}",
                    invoices=(first.invoice_ref,),
                )
            )
        elif kind == "iban_only":
            account = payer_iban(customer_id)
            statement.known_payers.append((account, customer_id))
            statement.entries.append(
                DemoEntry(
                    "iban_only",
                    first.open_amount,
                    IBAN_ONLY_NAME,
                    account,
                    remittance="MONTHLY SETTLEMENT",
                    invoices=(first.invoice_ref,),
                )
            )
        wanted.pop(0)
    unknown_amount = Decimal("1234.56")
    while unknown_amount in open_amounts:
        unknown_amount += CENT
    statement.entries.append(
        DemoEntry("unknown", unknown_amount, UNKNOWN_PAYER[0], _iban(rng, "GB"), remittance=UNKNOWN_PAYER[1])
    )
    statement.entries.append(
        DemoEntry(
            "debit",
            BANK_FEES,
            BANK_NAME,
            "",
            remittance="Account fees",
            credit=False,
            code=("ACMT", "MDOP", "CHRG"),
        )
    )
    statement.entries.append(
        DemoEntry(
            "debit",
            SUPPLIER[2],
            SUPPLIER[0],
            _iban(rng, "FR"),
            remittance=SUPPLIER[1],
            credit=False,
            code=("PMNT", "ICDT", "ESCT"),
        )
    )
    return statement


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{CAMT_053}}}{tag}", attributes)
    if text is not None:
        element.text = text
    return element


def _path(parent: etree._Element, tags: str, text: str | None = None) -> etree._Element:
    """Nested elements ``A/B/C``, the last one with ``text``."""
    element = parent
    for tag in tags.split("/"):
        element = _sub(element, tag)
    if text is not None:
        element.text = text
    return element


def _amount(parent: etree._Element, amount: Decimal, currency: str) -> None:
    _sub(parent, "Amt", f"{amount:.2f}", Ccy=currency)


def _balance(statement: etree._Element, code: str, amount: Decimal, currency: str, on: date) -> None:
    balance = _sub(statement, "Bal")
    _path(balance, "Tp/CdOrPrtry/Cd", code)
    _amount(balance, abs(amount), currency)
    _sub(balance, "CdtDbtInd", "CRDT" if amount >= 0 else "DBIT")
    _path(balance, "Dt/Dt", on.isoformat())


def camt053(
    statement: DemoStatement, *, account_iban: str, account_bic: str, currency: str, today: date, owner: str
) -> bytes:
    """The statement as a camt.053.001.02 document (elements in the schema's order)."""
    day = today.strftime("%Y%m%d")
    root = etree.Element(f"{{{CAMT_053}}}Document", nsmap={None: CAMT_053})
    message = _sub(root, "BkToCstmrStmt")
    header = _sub(message, "GrpHdr")
    _sub(header, "MsgId", f"DEMO-{day}")
    created = datetime.combine(today, time(6, 30)).isoformat()
    _sub(header, "CreDtTm", created)
    stmt = _sub(message, "Stmt")
    _sub(stmt, "Id", f"DEMO-{day}-1")
    _sub(stmt, "ElctrncSeqNb", str(today.toordinal() % 100000))
    _sub(stmt, "CreDtTm", created)
    period = _sub(stmt, "FrToDt")
    _sub(period, "FrDtTm", datetime.combine(today, time(0, 0)).isoformat())
    _sub(period, "ToDtTm", datetime.combine(today, time(23, 59, 59)).isoformat())
    account = _sub(stmt, "Acct")
    _path(account, "Id/IBAN", account_iban)
    _sub(account, "Ccy", currency)
    _path(account, "Ownr/Nm", owner)
    _path(account, "Svcr/FinInstnId/BIC", account_bic)
    net = sum((e.amount if e.credit else -e.amount for e in statement.entries), Decimal("0"))
    _balance(stmt, "OPBD", OPENING_BALANCE, currency, today)
    _balance(stmt, "CLBD", OPENING_BALANCE + net, currency, today)
    for number, entry in enumerate(statement.entries, start=1):
        _entry(stmt, entry, number, currency, today)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _entry(stmt: etree._Element, entry: DemoEntry, number: int, currency: str, today: date) -> None:
    day = today.strftime("%Y%m%d")
    ntry = _sub(stmt, "Ntry")
    _sub(ntry, "NtryRef", str(number))
    _amount(ntry, entry.amount, currency)
    _sub(ntry, "CdtDbtInd", "CRDT" if entry.credit else "DBIT")
    _sub(ntry, "Sts", "BOOK")
    _path(ntry, "BookgDt/Dt", today.isoformat())
    _path(ntry, "ValDt/Dt", today.isoformat())
    _sub(ntry, "AcctSvcrRef", f"DEMO{day}{number:04d}")
    code = _path(ntry, "BkTxCd/Domn")
    _sub(code, "Cd", entry.code[0])
    family = _sub(code, "Fmly")
    _sub(family, "Cd", entry.code[1])
    _sub(family, "SubFmlyCd", entry.code[2])
    details = _path(ntry, "NtryDtls/TxDtls")
    _path(details, "Refs/EndToEndId", f"E2E-{day}-{number}" if entry.credit else "NOTPROVIDED")
    amounts = _path(details, "AmtDtls/TxAmt")
    _amount(amounts, entry.amount, currency)
    role = "Dbtr" if entry.credit else "Cdtr"
    parties = _sub(details, "RltdPties")
    _path(parties, f"{role}/Nm", entry.name)
    if entry.iban:
        _path(parties, f"{role}Acct/Id/IBAN", entry.iban)
    if entry.remittance or entry.creditor_ref:
        remittance = _sub(details, "RmtInf")
        if entry.remittance:
            _sub(remittance, "Ustrd", entry.remittance)
        if entry.creditor_ref:
            reference = _path(remittance, "Strd/CdtrRefInf")
            _path(reference, "Tp/CdOrPrtry/Cd", "SCOR")
            _sub(reference, "Ref", entry.creditor_ref)


@dataclass(frozen=True)
class DayOutcome:
    """What the statement of the day did: where it was written, lines imported, lines matched."""

    path: Path
    lines_added: int
    debits: int
    applied: int
    suggested: int
    unmatched: int

    def __str__(self) -> str:
        credits = self.lines_added - self.debits
        return (
            f"{self.lines_added} lines ({credits} credits, {self.debits} debits) imported from {self.path.name}; "
            f"matched: {self.applied} applied, {self.suggested} suggested, {self.unmatched} unmatched"
        )


def statement_of_the_day(*, entity: Any, today: date, seed: int, directory: Path) -> DayOutcome:
    """Write the demo's camt.053 for ``today`` into ``directory``, import it for ``entity``'s
    account (linked here when it is not) and match it, as ``relance bank import`` and
    ``relance match`` would."""
    from relance.cashapp import selectors
    from relance.cashapp.matching import lines_match
    from relance.cashapp.models import BankAccount, KnownPayerAccount
    from relance.cashapp.services import account_id_normalise, bank_account_add, bank_statement_import
    from relance.core.actors import Actor

    account_id = account_id_normalise(entity.iban)
    if not BankAccount.objects.filter(
        entity=entity, account_id=account_id, currency=entity.currency
    ).exists():
        bank_account_add(entity=entity, account=account_id, currency=entity.currency, name="Main account")
    statement = entries_choose(
        selectors.open_items(entity=entity), currency=entity.currency, today=today, seed=seed
    )
    for account, customer_id in statement.known_payers:
        KnownPayerAccount.objects.get_or_create(
            entity=entity,
            account_iban=selectors.payer_account_key(account),
            customer_id=customer_id,
            defaults={"learned_by": "relance demo (an earlier payment)"},
        )
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"statement-{today.isoformat()}.xml"
    path.write_bytes(
        camt053(
            statement,
            account_iban=account_id,
            account_bic=entity.bic or "AGRIFRPP",
            currency=entity.currency,
            today=today,
            owner=entity.legal_name or entity.name,
        )
    )
    imported = bank_statement_import(entity=entity, path=path)
    outcome = lines_match(entity=entity, actor=Actor.system("relance demo"))
    counts = outcome.as_dict()
    return DayOutcome(
        path=path,
        lines_added=imported.lines_added,
        debits=sum(1 for entry in statement.entries if not entry.credit),
        applied=counts["applied"],
        suggested=counts["suggested"],
        unmatched=counts["unmatched"],
    )

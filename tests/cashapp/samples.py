"""Small camt documents written for the tests: every version's element names (ADR 0023)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class Entry:
    amount: str
    sign: str = "CRDT"
    booked: str = "2026-12-04"
    servicer_ref: str = ""
    entry_ref: str = ""
    name: str = "Dupont SARL"
    iban: str = "FR7630006000011234567890189"
    bic: str = "AGRIFRPP"
    unstructured: str = ""
    creditor_ref: str = ""
    end_to_end: str = ""
    status: str = "BOOK"
    reversal: bool = False
    charges: str = ""
    transactions: tuple[tuple[str, str], ...] = ()  # batch: (amount, end_to_end) each
    currency: str = "EUR"


@dataclass(frozen=True)
class Statement:
    statement_id: str = "STMT-1"
    iban: str = "NL77ABNA0574908765"
    currency: str = "EUR"
    opening: str = "1000.00"
    closing: str = "2000.00"
    entries: tuple[Entry, ...] = field(default_factory=tuple)


def _party(version: int, tag: str, entry: Entry, role: str) -> str:
    name = f"<Nm>{entry.name}</Nm>"
    party = f"<{role}><Pty>{name}</Pty></{role}>" if version >= 8 else f"<{role}>{name}</{role}>"
    bic_tag = "BICFI" if version >= 3 else "BIC"
    return (
        f"<RltdPties>{party}<{role}Acct><Id><IBAN>{entry.iban}</IBAN></Id></{role}Acct></RltdPties>"
        f"<RltdAgts><{role}Agt><FinInstnId><{bic_tag}>{entry.bic}</{bic_tag}></FinInstnId></{role}Agt></RltdAgts>"
    )


def _transaction(version: int, entry: Entry, amount: str, end_to_end: str) -> str:
    role = "Dbtr" if entry.sign == "CRDT" else "Cdtr"
    amount_xml = (
        f'<Amt Ccy="{entry.currency}">{amount}</Amt><CdtDbtInd>{entry.sign}</CdtDbtInd>'
        if version >= 3
        else f'<AmtDtls><TxAmt><Amt Ccy="{entry.currency}">{amount}</Amt></TxAmt></AmtDtls>'
    )
    refs = f"<Refs><EndToEndId>{end_to_end}</EndToEndId></Refs>" if end_to_end else ""
    remittance = ""
    if entry.unstructured or entry.creditor_ref:
        remittance = "<RmtInf>"
        if entry.unstructured:
            remittance += f"<Ustrd>{entry.unstructured}</Ustrd>"
        if entry.creditor_ref:
            remittance += (
                "<Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp>"
                f"<Ref>{entry.creditor_ref}</Ref></CdtrRefInf></Strd>"
            )
        remittance += "</RmtInf>"
    return f"<TxDtls>{refs}{amount_xml}{_party(version, role, entry, role)}{remittance}</TxDtls>"


def _entry(version: int, entry: Entry) -> str:
    status = f"<Sts><Cd>{entry.status}</Cd></Sts>" if version >= 8 else f"<Sts>{entry.status}</Sts>"
    transactions = entry.transactions or ((entry.amount, entry.end_to_end),)
    details = "".join(_transaction(version, entry, amount, e2e) for amount, e2e in transactions)
    batch = f"<Btch><NbOfTxs>{len(transactions)}</NbOfTxs></Btch>" if len(transactions) > 1 else ""
    charges = ""
    if entry.charges:
        charges = (
            f'<Chrgs><Rcrd><Amt Ccy="{entry.currency}">{entry.charges}</Amt></Rcrd></Chrgs>'
            if version >= 3
            else f'<Chrgs><Amt Ccy="{entry.currency}">{entry.charges}</Amt></Chrgs>'
        )
    return (
        "\n<Ntry>"
        + (f"<NtryRef>{entry.entry_ref}</NtryRef>" if entry.entry_ref else "")
        + f'<Amt Ccy="{entry.currency}">{entry.amount}</Amt><CdtDbtInd>{entry.sign}</CdtDbtInd>'
        + ("<RvslInd>true</RvslInd>" if entry.reversal else "")
        + status
        + f"<BookgDt><Dt>{entry.booked}</Dt></BookgDt><ValDt><Dt>{entry.booked}</Dt></ValDt>"
        + (f"<AcctSvcrRef>{entry.servicer_ref}</AcctSvcrRef>" if entry.servicer_ref else "")
        + "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>"
        + charges
        + f"<NtryDtls>{batch}{details}</NtryDtls></Ntry>"
    )


def _balance(code: str, amount: str, currency: str) -> str:
    sign = "DBIT" if Decimal(amount) < 0 else "CRDT"
    return (
        f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
        f'<Amt Ccy="{currency}">{abs(Decimal(amount))}</Amt><CdtDbtInd>{sign}</CdtDbtInd>'
        "<Dt><Dt>2026-12-04</Dt></Dt></Bal>"
    )


def camt(version: int, *statements: Statement, kind: str = "053", namespace: str | None = None) -> bytes:
    """A camt.053 (or .054 with ``kind``) document of ``version`` (2 to 8)."""
    namespace = namespace or f"urn:iso:std:iso:20022:tech:xsd:camt.{kind}.001.{version:02d}"
    root, container = ("BkToCstmrStmt", "Stmt") if kind == "053" else ("BkToCstmrDbtCdtNtfctn", "Ntfctn")
    body = ""
    for statement in statements:
        balances = ""
        if kind == "053":
            balances = _balance("OPBD", statement.opening, statement.currency) + _balance(
                "CLBD", statement.closing, statement.currency
            )
        body += (
            f"<{container}><Id>{statement.statement_id}</Id><LglSeqNb>7</LglSeqNb>"
            "<FrToDt><FrDtTm>2026-12-04T00:00:00</FrDtTm><ToDtTm>2026-12-04T23:59:59</ToDtTm></FrToDt>"
            f"<Acct><Id><IBAN>{statement.iban}</IBAN></Id><Ccy>{statement.currency}</Ccy></Acct>"
            + balances
            + "".join(_entry(version, entry) for entry in statement.entries)
            + f"</{container}>"
        )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{namespace}">\n<{root}>'
        "<GrpHdr><MsgId>MSG-1</MsgId><CreDtTm>2026-12-04T20:00:00</CreDtTm></GrpHdr>"
        f"\n{body}\n</{root}></Document>\n"
    ).encode()

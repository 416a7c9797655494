"""Cash application reads: the entity's bank accounts and bank lines, and a line as the CLI and
the API show it (one shape: ``line_as_dict``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from relance.cashapp.models import BankAccount, BankLine, LineStatus
from relance.core.errors import NotFound, ValidationFailed
from relance.core.money import quantum
from relance.engine.cashapp.lines import BankLineData
from relance.ledger.models import Entity

STATUSES = tuple(LineStatus.values)
UNKNOWN_STATUS = "unknown status {status!r}: expected one of " + ", ".join(STATUSES)
LINE_NOT_FOUND = "no bank line {ref!r} in entity {entity}"


def bank_account_list(*, entity: Entity) -> QuerySet[BankAccount]:
    return BankAccount.objects.filter(entity=entity).order_by("account_id", "currency")


def bank_line_list(*, entity: Entity, status: str | None = None) -> QuerySet[BankLine]:
    """The entity's lines, oldest booking first; only those of ``status`` when given."""
    lines = BankLine.objects.filter(entity=entity).select_related("account", "statement")
    if status:
        if status not in STATUSES:
            raise ValidationFailed(UNKNOWN_STATUS.format(status=status), code="status_invalid")
        lines = lines.filter(status=status)
    return lines.order_by("booking_date", "id")


def unmatched_credit_lines(*, entity: Entity) -> QuerySet[BankLine]:
    """What matching works on: the entity's credits not applied yet, reversals left out (a
    reversed booking is the bank taking money back, never a customer's payment)."""
    return bank_line_list(entity=entity).filter(
        direction="credit", is_reversal=False, status__in=(LineStatus.UNMATCHED, LineStatus.SUGGESTED)
    )


def bank_line_data(line: BankLine) -> BankLineData:
    """A stored line as the matcher takes it (``relance.engine.cashapp.lines.BankLineData``)."""
    return BankLineData(
        bank_ref=line.bank_ref,
        account_iban=line.account.account_id,
        account_currency=line.account.currency,
        booking_date=line.booking_date,
        value_date=line.value_date,
        amount=line.amount,
        currency=line.currency,
        counterparty_name=line.counterparty_name,
        counterparty_iban=line.counterparty_iban,
        counterparty_bic=line.counterparty_bic,
        remittance_unstructured=line.remittance_unstructured,
        remittance_structured=line.remittance_structured,
        end_to_end_id=line.end_to_end_id,
        bank_transaction_code=line.bank_transaction_code,
        entry_ref=line.entry_ref,
        raw=line.raw,
    )


def bank_line_get(*, entity: Entity, line_id: int) -> BankLine:
    """One line of ``entity``; another entity's line is reported exactly like a missing one."""
    line = bank_line_list(entity=entity).filter(pk=line_id).first()
    if line is None:
        raise NotFound(LINE_NOT_FOUND.format(ref=line_id, entity=entity.name), code="bank_line_not_found")
    return line


def money_text(amount: Decimal, currency: str) -> str:
    """An amount in its currency's minor units (``1405.31``, not the stored ``1405.3100``), or all
    its digits when it has more (a bank may book sub-cent amounts)."""
    try:
        exact = amount.quantize(quantum(currency))
    except Exception:  # an unknown currency code: keep what was stored
        return str(amount)
    return str(exact) if exact == amount else str(amount.normalize())


def line_as_dict(line: BankLine) -> dict[str, Any]:
    """A line as ``relance bank lines --json`` and ``GET /api/v1/bank/lines`` give it: money as
    decimal strings, dates ISO. ``allocations`` are the applied amounts once matching applies the
    line (``[{invoice_ref, amount}]``); ``suggestions`` the ranked candidates it stored."""
    return {
        "id": line.pk,
        "bank_ref": line.bank_ref,
        "amount": money_text(line.amount, line.currency),
        "currency": line.currency,
        "date": line.booking_date.isoformat(),
        "value_date": line.value_date.isoformat() if line.value_date else None,
        "direction": line.direction,
        "status": line.status,
        "allocations": [],  # the application rows come with matching (issue 17 item 2)
        "suggestions": line.suggestions,
        "confidence": line.confidence,
        "reasons": line.reasons,
        "account": line.account.account_id,
        "statement_id": line.statement.statement_id,
        "counterparty_name": line.counterparty_name,
        "counterparty_iban": line.counterparty_iban,
        "counterparty_bic": line.counterparty_bic,
        "remittance_unstructured": line.remittance_unstructured,
        "remittance_structured": line.remittance_structured,
        "end_to_end_id": line.end_to_end_id,
        "bank_transaction_code": line.bank_transaction_code,
        "is_reversal": line.is_reversal,
        "charges": None if line.charges is None else money_text(line.charges, line.currency),
    }

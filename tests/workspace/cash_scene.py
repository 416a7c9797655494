"""Bank lines for the exception queue's tests: one of each status the queue shows, as matching
leaves them (suggestions and reasons stored the way ``relance.cashapp.matching`` stores them),
and one line of another entity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

SCORE_REASONS = (
    "the amount equals the open amount of INV-S1",
    "the payer's name is the customer's (Second Buyer SARL)",
)


@dataclass
class CashScene:
    account: Any
    suggested: Any  # 1234.56 EUR from Second Buyer, two candidates
    unmatched: Any  # 150.00 EUR, nobody
    applied: Any  # 900.00 EUR applied to INV-O1 (Other Account SA)
    usd: Any  # 55.00 USD on a second account, unmatched, 40 days old
    globex_line: Any  # globex's: never seen from acme


def _statement(entity, account, statement_id):
    from relance.cashapp.models import BankStatement

    return BankStatement.objects.create(
        entity=entity,
        account=account,
        statement_id=statement_id,
        format="camt053",
        sha256="0" * 64,
        imported_at=timezone.now(),
    )


def bank_line(statement, ref, amount, *, days_ago=1, **fields):
    from relance.cashapp.models import BankLine

    return BankLine.objects.create(
        entity=statement.entity,
        statement=statement,
        account=statement.account,
        bank_ref=ref,
        booking_date=timezone.localdate() - timedelta(days=days_ago),
        amount=Decimal(amount),
        currency=statement.account.currency,
        direction="credit",
        **fields,
    )


def suggestion(customer_ref, allocations, confidence, reasons=SCORE_REASONS):
    return {
        "allocations": [{"invoice_ref": ref, "amount": amount} for ref, amount in allocations],
        "customer_ref": customer_ref,
        "confidence": confidence,
        "reasons": list(reasons),
        "residual": "0.00",
        "shortfall": "0.00",
    }


def build_cash_lines(ws) -> CashScene:
    from relance.cashapp.models import BankAccount, BankLineApplication
    from relance.ledger.models import Payment
    from relance.ledger.services import allocation_create

    account, _ = BankAccount.objects.get_or_create(  # the permission matrix links it too
        entity=ws.acme, account_id="NL77ABNA0574908765", currency="EUR", defaults={"name": "ABN main"}
    )
    usd_account = BankAccount.objects.create(entity=ws.acme, account_id="US-0001", currency="USD")
    statement = _statement(ws.acme, account, "S-1")
    suggested = bank_line(
        statement,
        "A-1",
        "1234.56",
        days_ago=3,
        counterparty_name="SECOND BUYER",
        counterparty_iban="FR7630006000011234567890189",
        remittance_unstructured="Payment invoice S1 thank you",
        status="suggested",
        confidence=0.8731,
        reasons=list(SCORE_REASONS),
        suggestions=[
            suggestion("C-SECOND", [("INV-S1", "1234.56")], 0.8731),
            suggestion(
                "C-LATE", [("INV-L2", "300.00")], 0.0412, ("the payer's name shares the word 'buyer'",)
            ),
        ],
    )
    unmatched = bank_line(
        statement,
        "A-2",
        "150.00",
        days_ago=10,
        counterparty_name="Unknown Trading Ltd",
        remittance_unstructured="order 7781",
        status="unmatched",
        reasons=["no open invoice matches the reference, the amount or the payer"],
    )
    applied = bank_line(
        statement,
        "A-3",
        "900.00",
        days_ago=2,
        counterparty_name="Other Account SA",
        remittance_unstructured="INV-O1",
        status="applied",
        confidence=0.99,
        reasons=["the invoice reference INV-O1 is in the remittance text"],
    )
    invoice = ws.other.invoices.get(external_ref="INV-O1")
    payment = Payment.objects.create(
        entity=ws.acme,
        customer=ws.other,
        external_ref=f"BANK-{applied.pk}",
        date=applied.booking_date,
        currency="EUR",
        amount=Decimal("900.00"),
        method="bank transfer",
    )
    allocation_create(invoice=invoice, payment=payment, amount=Decimal("900.00"), on=applied.booking_date)
    BankLineApplication.objects.create(
        entity=ws.acme,
        line=applied,
        payment=payment,
        customer=ws.other,
        confidence=0.99,
        reasons=applied.reasons,
        applied_at=timezone.now(),
        applied_by="cli:match",
        applied_by_kind="cli",
    )
    usd = bank_line(
        _statement(ws.acme, usd_account, "S-USD"),
        "U-1",
        "55.00",
        days_ago=40,
        counterparty_name="Dollar Payer Inc",
        status="unmatched",
        reasons=["no open invoice matches the reference, the amount or the payer"],
    )
    # A debit and a reversal: never in the queue.
    from relance.cashapp.models import BankLine

    BankLine.objects.create(
        entity=ws.acme,
        statement=statement,
        account=account,
        bank_ref="D-1",
        booking_date=timezone.localdate(),
        amount=Decimal("-20.00"),
        currency="EUR",
        direction="debit",
        status="debit",
        counterparty_name="Bank fees debit",
    )
    bank_line(statement, "R-1", "20.00", is_reversal=True, counterparty_name="Reversed booking")
    globex_account, _ = BankAccount.objects.get_or_create(
        entity=ws.globex, account_id="US-0001", currency="USD"
    )
    globex_line = bank_line(
        _statement(ws.globex, globex_account, "G-1"),
        "G-LINE",
        "777.00",
        counterparty_name="Globex Buyer LLC",
        remittance_unstructured="INV-G1",
        status="suggested",
        confidence=0.7,
        suggestions=[suggestion("G-1", [("INV-G1", "777.00")], 0.7)],
    )
    return CashScene(account, suggested, unmatched, applied, usd, globex_line)

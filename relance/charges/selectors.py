"""Reads of the charges app: what late invoices cost a customer as of a date (final notices, CLI)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from relance.charges.models import EntityLateCharges
from relance.core.late_charges import LateCharge, LateChargeRule, late_charge, load_reference_rates, rule_pack
from relance.ledger.models import Customer, Entity, Invoice, InvoiceStatus
from relance.ledger.selectors import STILL_OWED


@dataclass(frozen=True)
class InvoiceLateCharge:
    """One invoice's charges: interest on each part paid late (to its payment day) and on what is
    still open (to ``as_of``), plus one fixed compensation."""

    invoice_id: int
    invoice_ref: str
    due_date: date
    currency: str
    days_late: int
    rate: Decimal
    interest: Decimal
    compensation: Decimal
    compensation_currency: str
    parts: tuple[LateCharge, ...]


@dataclass(frozen=True)
class CurrencyCharges:
    currency: str
    interest: Decimal
    compensation: Decimal

    @property
    def total(self) -> Decimal:
        return self.interest + self.compensation


class LateChargesSummary(list[InvoiceLateCharge]):
    """The per-invoice charges — a list, as templates iterate over it — with the totals per
    currency, the jurisdiction and the date as attributes."""

    def __init__(
        self,
        lines: Sequence[InvoiceLateCharge],
        *,
        jurisdiction: str,
        as_of: date,
        totals: dict[str, CurrencyCharges],
        contractual_rate: Decimal | None = None,
    ) -> None:
        super().__init__(lines)
        self.jurisdiction = jurisdiction
        self.as_of = as_of
        self.totals = totals
        self.contractual_rate = contractual_rate

    @property
    def lines(self) -> tuple[InvoiceLateCharge, ...]:
        return tuple(self)


def late_charge_settings(*, entity: Entity) -> EntityLateCharges | None:
    return EntityLateCharges.objects.filter(entity=entity).first()


def invoice_late_charge(
    *,
    invoice: Invoice,
    as_of: date,
    rule: LateChargeRule,
    contractual_rate: Decimal | None = None,
    margin_pp: Decimal | None = None,
    include_compensation: bool = True,
) -> InvoiceLateCharge | None:
    """The invoice's charges as of ``as_of``, or None when nothing of it was ever late."""
    if invoice.status == InvoiceStatus.VOID and (invoice.voided_on is None or invoice.voided_on <= as_of):
        return None
    rates = load_reference_rates()
    allocations = [row for row in invoice.allocations.all() if row.date <= as_of]
    pieces = [(row.amount, row.date) for row in allocations if row.date > invoice.due_date]
    open_amount = invoice.amount - sum((row.amount for row in allocations), Decimal(0))
    if open_amount > STILL_OWED:
        pieces.append((open_amount, as_of))
    parts = tuple(
        late_charge(
            amount=amount,
            currency=invoice.currency,
            due_date=invoice.due_date,
            paid_or_as_of=paid,
            rule=rule,
            reference_rates=rates,
            contractual_rate=contractual_rate,
            margin_pp=margin_pp,
            include_compensation=False,
        )
        for amount, paid in pieces
    )
    late = [part for part in parts if part.is_late]
    if not late:
        return None
    compensation = rule.compensation.amount_for(invoice.amount) if include_compensation else Decimal(0)
    return InvoiceLateCharge(
        invoice_id=invoice.pk,
        invoice_ref=invoice.external_ref,
        due_date=invoice.due_date,
        currency=invoice.currency,
        days_late=max(part.days_late for part in late),
        rate=late[0].rate,
        interest=sum((part.interest for part in late), Decimal(0)),
        compensation=compensation,
        compensation_currency=rule.compensation.currency,
        parts=tuple(late),
    )


def late_charges_for(
    *, customer: Customer, invoices: Sequence[Invoice] | None, as_of: date
) -> LateChargesSummary | None:
    """The late charges of ``invoices`` (default: all the customer's invoices) as of ``as_of``, or None
    when the entity has not enabled late charges."""
    settings = late_charge_settings(entity=customer.entity)
    if settings is None or not settings.enabled:
        return None
    rule = rule_pack(settings.jurisdiction)
    if invoices is None:
        invoices = list(Invoice.objects.filter(customer=customer, issue_date__lte=as_of))
    lines = []
    for invoice in sorted(invoices, key=lambda item: (item.due_date, item.external_ref)):
        line = invoice_late_charge(
            invoice=invoice,
            as_of=as_of,
            rule=rule,
            contractual_rate=settings.contractual_rate,
            margin_pp=settings.margin_pp,
            include_compensation=settings.include_compensation,
        )
        if line is not None:
            lines.append(line)
    interest: dict[str, Decimal] = {}
    compensation: dict[str, Decimal] = {}
    for line in lines:
        interest[line.currency] = interest.get(line.currency, Decimal(0)) + line.interest
        compensation[line.compensation_currency] = (
            compensation.get(line.compensation_currency, Decimal(0)) + line.compensation
        )
    totals = {
        currency: CurrencyCharges(
            currency=currency,
            interest=interest.get(currency, Decimal(0)),
            compensation=compensation.get(currency, Decimal(0)),
        )
        for currency in sorted(set(interest) | set(compensation))
    }
    return LateChargesSummary(
        lines,
        jurisdiction=rule.jurisdiction,
        as_of=as_of,
        totals=totals,
        contractual_rate=settings.contractual_rate,
    )

"""Short and over payments (issue 17, item 3): what becomes of what a bank line leaves.

The matcher reports facts (``Candidate.residual``: paid beyond the allocations; ``shortfall``:
left open on the allocated invoices). This module is the policy, per entity
(``CashAppSettings``), applied in the same transaction as the line's payment by
``relance.cashapp.matching._line_apply``:

- **overpaid**: the payment is the line's whole amount, so what is not allocated stays the
  customer's **unapplied credit** (the ledger's rule: payment amount − allocations). Nothing to
  write here; the 360, the portal and every message read it through the one owed-amount rule
  (``relance.dunning.selectors.owed_summary``).
- **short, up to the write-off tolerance**: written off with a reason, the ledger's own way of
  taking an amount off an invoice: a ``CreditNote`` allocated to it, written by the import layer
  (``upsert_records("credit_notes", …)``), one per invoice left short (ref ``<payment ref>-WO<n>``).
  The reason says "payment difference", not "write-off": it is not bad debt (the credit KPIs'
  ``is_write_off`` would count it).
- **short, above it**: per setting, a **deduction** — a dispute with reason ``short_payment`` for
  each invoice's residual, opened by the cases app's one dispute service (``dispute_open``), the
  customer told with the usual ``dispute_received`` message — or **left open**. A residual above
  ``deduction_max_percent`` of the invoices' open amount is a **partial payment** (N:1): left open
  whatever the setting, the rest is expected in a later payment.

``residual_decide`` is the pure rule; ``residuals_settle`` reads the ledger after the payment and
writes what the rule decided.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from relance.cashapp.models import CashAppSettings, ShortPaymentAction
from relance.core.actors import Actor
from relance.core.rates import MissingRate
from relance.ledger.sql_values import stored_money

if TYPE_CHECKING:
    from relance.cases.models import Dispute
    from relance.cashapp.models import BankLine
    from relance.ledger.models import Payment

NONE = "none"
WRITE_OFF = "write_off"
DEDUCTION = "deduction"
LEAVE_OPEN = "leave_open"
PARTIAL = "partial"
ACTIONS = (NONE, WRITE_OFF, DEDUCTION, LEAVE_OPEN, PARTIAL)

SHORT_PAYMENT_REASON = "short_payment"
WRITE_OFF_REF = "{payment_ref}-WO{n}"
WRITE_OFF_NOTE = "payment difference of bank line {bank_ref}, under the tolerance of {tolerance} {currency}"

WRITTEN_OFF = "{amount} {currency} short of the invoices' open amounts is written off (under the tolerance of {tolerance} {currency})"
DEDUCTED = "{amount} {currency} short of the invoices' open amounts is a deduction: a short-payment dispute on {refs}"
ALREADY_DISPUTED = "{amount} {currency} of the short payment is already under dispute on {refs}"
SHORT = "{amount} {currency} stays open on the invoices (a short payment)"
PARTIAL_PAYMENT = "{amount} {currency} stays open on the invoices (a partial payment: more than {percent} % of their open amount)"
NO_RATE = "no write-off: {problem}"


@dataclass(frozen=True)
class WriteOff:
    """A write-off credit note a short payment made: ``<payment ref>-WO<n>`` on one invoice."""

    credit_note_ref: str
    invoice_ref: str
    amount: Decimal
    currency: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {
            "credit_note_ref": self.credit_note_ref,
            "invoice_ref": self.invoice_ref,
            "amount": _money(self.amount, self.currency),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class ResidualOutcome:
    """What was done with a line's residual: the action, the reasons said on the line, the amounts
    written off and disputed (both in the line's currency)."""

    action: str = NONE
    reasons: tuple[str, ...] = ()
    written_off: Decimal = Decimal("0")
    disputed: Decimal = Decimal("0")
    disputes: tuple[int, ...] = field(default=(), compare=False)
    credit_notes: tuple[str, ...] = field(default=(), compare=False)
    write_offs: tuple[WriteOff, ...] = field(default=(), compare=False)

    def records(self) -> dict[str, list[Any]]:
        """What was written, for the application row (``residual_records``), ``residuals_reverse``
        and the applied-cash export (``write_offs``: each credit note with its invoice and amount,
        kept after an unapply so the ERP can post the reversal)."""
        found: dict[str, list[Any]] = {}
        if self.credit_notes:
            found["credit_notes"] = list(self.credit_notes)
        if self.write_offs:
            found["write_offs"] = [write_off.as_dict() for write_off in self.write_offs]
        if self.disputes:
            found["disputes"] = list(self.disputes)
        return found


def residual_decide(
    *,
    shortfall: Decimal,
    open_before: Decimal,
    tolerance: Decimal | None,
    action: str,
    deduction_max_percent: Decimal,
) -> str:
    """The rule: ``none`` when nothing is short; ``write_off`` up to ``tolerance`` (None: no
    write-off, e.g. no exchange rate); above it ``partial`` when the residual is more than
    ``deduction_max_percent`` % of ``open_before`` (the allocated invoices' open amount before the
    payment), else the entity's ``action`` (``deduction`` or ``leave_open``)."""
    if shortfall <= 0:
        return NONE
    if tolerance is not None and shortfall <= tolerance:
        return WRITE_OFF
    if open_before > 0 and shortfall * 100 > open_before * deduction_max_percent:
        return PARTIAL
    return DEDUCTION if action == ShortPaymentAction.DEDUCTION else LEAVE_OPEN


def tolerance_in(settings: CashAppSettings, *, currency: str, on: date) -> Decimal:
    """The write-off tolerance (entity currency) in ``currency``, by the entity's rates on ``on``
    (``relance.core.rates``: the one conversion rule); ``MissingRate`` when none converts it."""
    entity = settings.entity
    if currency == entity.currency:
        return settings.write_off_tolerance
    from relance.ledger.selectors import rate_table

    table = rate_table(entity=entity, on=on)
    return table.convert(stored_money(settings.write_off_tolerance), entity.currency, currency, on)


def residuals_settle(
    *, line: BankLine, payment: Payment, settings: CashAppSettings, actor: Actor, confirm: bool = True
) -> ResidualOutcome:
    """Settle what ``payment`` (the line's, just written) leaves short on the invoices it is
    allocated to, per ``settings``; inside the caller's transaction. The overpaid side needs no
    write: it is the payment's unapplied part. (``residuals_settle_many`` of one line.)"""
    return residuals_settle_many([(line, payment)], settings=settings, actor=actor, confirm=confirm)[line.pk]


def residuals_settle_many(
    applied: list[tuple[BankLine, Payment]], *, settings: CashAppSettings, actor: Actor, confirm: bool = True
) -> dict[int, ResidualOutcome]:
    """``residuals_settle`` for a batch of lines (by line id), their allocations and the invoices'
    open amounts read in two queries. The lines must not share an invoice: each line's shortfall
    is read from the ledger after the whole batch's payments (the caller keeps such lines apart)."""
    from relance.ledger.models import Allocation
    from relance.ledger.selectors import STILL_OWED, invoice_list_with_open

    outcomes = {line.pk: ResidualOutcome() for line, _payment in applied}
    if not applied:
        return outcomes
    allocated: dict[int, dict[int, Decimal]] = {}
    for payment_id, invoice_id, amount in Allocation.objects.filter(
        payment_id__in=[payment.pk for _line, payment in applied]
    ).values_list("payment_id", "invoice_id", "amount"):
        allocated.setdefault(payment_id, {})[invoice_id] = amount
    invoice_ids = {invoice_id for by_invoice in allocated.values() for invoice_id in by_invoice}
    if not invoice_ids:
        return outcomes
    entity = applied[0][0].entity
    # Only the invoices still owed come back as models: most lines pay theirs in full.
    short_rows = {
        row.pk: row
        for row in invoice_list_with_open(entity=entity)
        .filter(pk__in=list(invoice_ids), open_amount__gt=STILL_OWED)
        .select_related("customer")
    }
    for line, payment in applied:
        mine = allocated.get(payment.pk, {})
        rows = sorted(
            (short_rows[invoice_id] for invoice_id in mine if invoice_id in short_rows),
            key=lambda row: (row.due_date, row.pk),
        )
        if rows:
            short = [(row, stored_money(row.open_amount)) for row in rows]
            outcomes[line.pk] = _settle(
                line, payment, short, sum(mine.values(), Decimal("0")), settings, actor=actor, confirm=confirm
            )
    return outcomes


def _settle(
    line: BankLine,
    payment: Payment,
    short: list[tuple[Any, Decimal]],
    allocated: Decimal,
    settings: CashAppSettings,
    *,
    actor: Actor,
    confirm: bool,
) -> ResidualOutcome:
    """The rule's decision for one line whose invoices are left ``short``, and what it writes."""
    shortfall = sum((amount for _, amount in short), Decimal("0"))
    if shortfall <= 0:
        return ResidualOutcome()
    open_before = shortfall + allocated
    currency = line.currency
    notes: list[str] = []
    try:
        tolerance: Decimal | None = tolerance_in(settings, currency=currency, on=line.booking_date)
    except MissingRate as missing:
        tolerance = None
        notes.append(NO_RATE.format(problem=missing.message))
    action = residual_decide(
        shortfall=shortfall,
        open_before=open_before,
        tolerance=tolerance,
        action=settings.short_payment_action,
        deduction_max_percent=settings.deduction_max_percent,
    )
    text = _money(shortfall, currency)
    if action == WRITE_OFF:
        assert tolerance is not None
        written = _write_off(line, payment.external_ref, short, tolerance)
        reason = WRITTEN_OFF.format(amount=text, currency=currency, tolerance=_money(tolerance, currency))
        return ResidualOutcome(
            WRITE_OFF,
            (*notes, reason),
            written_off=shortfall,
            credit_notes=tuple(write_off.credit_note_ref for write_off in written),
            write_offs=written,
        )
    if action == DEDUCTION:
        return _deduct(line, short, actor=actor, confirm=confirm, notes=notes)
    if action == PARTIAL:
        reason = PARTIAL_PAYMENT.format(
            amount=text, currency=currency, percent=f"{settings.deduction_max_percent.normalize():f}"
        )
        return ResidualOutcome(PARTIAL, (*notes, reason))
    return ResidualOutcome(LEAVE_OPEN, (*notes, SHORT.format(amount=text, currency=currency)))


def _money(amount: Decimal, currency: str) -> str:
    from relance.cashapp.selectors import money_text

    return money_text(amount, currency)


def _write_off(
    line: BankLine, payment_ref: str, short: list[tuple[Any, Decimal]], tolerance: Decimal
) -> tuple[WriteOff, ...]:
    from relance.ingest.records import CreditNoteRecord, upsert_records

    reason = WRITE_OFF_NOTE.format(
        bank_ref=line.bank_ref, tolerance=_money(tolerance, line.currency), currency=line.currency
    )[:200]
    records = [
        CreditNoteRecord(
            credit_note_ref=WRITE_OFF_REF.format(payment_ref=payment_ref, n=n),
            customer_ref=invoice.customer.external_ref,
            date=line.booking_date,
            currency=line.currency,
            amount=amount,
            invoice_ref=invoice.external_ref,
            reason=reason,
            source=f"bank line {line.bank_ref}",
        )
        for n, (invoice, amount) in enumerate(short, start=1)
    ]
    upsert_records("credit_notes", records, entity=line.entity)
    return tuple(
        WriteOff(record.credit_note_ref, record.invoice_ref or "", record.amount, line.currency, reason)
        for record in records
    )


def _deduct(
    line: BankLine, short: list[tuple[Any, Decimal]], *, actor: Actor, confirm: bool, notes: list[str]
) -> ResidualOutcome:
    """One short-payment dispute per invoice left short, for what is not already under an open
    dispute (a customer who disputed before paying short is not asked twice)."""
    from django.db.models import Sum

    from relance.cases.models import Dispute, DisputeStatus
    from relance.cases.services import dispute_open
    from relance.portal.services import dispute_case_open

    currency = line.currency
    opened: list[Dispute] = []
    covered = Decimal("0")
    covered_refs: list[str] = []
    for invoice, amount in short:
        already = Dispute.objects.filter(invoice=invoice, status=DisputeStatus.OPEN).aggregate(
            total=Sum("amount")
        )["total"] or Decimal("0")
        wanted = amount - min(amount, stored_money(already))
        if amount - wanted > 0:
            covered += amount - wanted
            covered_refs.append(invoice.external_ref)
        if wanted <= 0:
            continue
        dispute = dispute_open(
            invoice=invoice,
            reason_code=SHORT_PAYMENT_REASON,
            on=line.booking_date,
            amount=wanted,
            note=f"bank line {line.bank_ref}: {_money(wanted, currency)} {currency} short (a deduction)",
            actor=actor,
        )
        dispute_case_open(dispute=dispute)  # an owner and an answer deadline, as a portal dispute
        opened.append(dispute)
    reasons = list(notes)
    disputed = sum((dispute.amount for dispute in opened), Decimal("0"))
    if opened:
        refs = ", ".join(dispute.invoice.external_ref for dispute in opened)
        reasons.append(DEDUCTED.format(amount=_money(disputed, currency), currency=currency, refs=refs))
        if confirm:
            for dispute in opened:
                transaction.on_commit(lambda dispute=dispute: _tell(dispute))  # type: ignore[misc]
    if covered > 0:
        reasons.append(
            ALREADY_DISPUTED.format(
                amount=_money(covered, currency), currency=currency, refs=", ".join(covered_refs)
            )
        )
    return ResidualOutcome(
        DEDUCTION, tuple(reasons), disputed=disputed, disputes=tuple(dispute.pk for dispute in opened)
    )


def _tell(dispute: Dispute) -> None:
    """The customer is told as for any dispute received (``dispute_received``), once per dispute."""
    from relance.portal import notify

    invoice = dispute.invoice
    recipient, contact = notify.recipient_for(customer=dispute.customer, contact=None)
    amount = _money(dispute.amount, invoice.currency)
    notify.message_send(
        customer=dispute.customer,
        outgoing=notify.Outgoing(
            notify.DISPUTE_RECEIVED,
            f"Your payment for invoice {invoice.external_ref} was {amount} {invoice.currency} short",
            f"We have received your payment for invoice {invoice.external_ref}; it was {amount} "
            f"{invoice.currency} short of the amount due. We have recorded the difference as a "
            "deduction and will not send reminders for it while we look into it: please tell us "
            "the reason (a reply to this message or the portal).",
        ),
        idempotency_key=f"dispute:{dispute.pk}",
        recipient=recipient,
        contact=contact,
        as_of=dispute.opened_on,
        invoices=[invoice],
    )


UNAPPLIED_NOTE = "the bank line's application was reversed ({reason})"


def residuals_reverse(*, application: Any, reason: str, actor: Actor) -> None:
    """Take back what a short payment wrote when its line is unapplied (inside the caller's
    transaction): the write-off credit notes leave the ledger row by row (the ledger's signals
    bump the data version, as for the payment), the deduction disputes still open are resolved
    ``withdrawn`` with the reason (the case timeline keeps them)."""
    from relance.cases.models import Dispute, DisputeResolution, DisputeStatus
    from relance.cases.services import dispute_resolve
    from relance.ledger.models import Allocation, CreditNote

    records = application.residual_records or {}
    refs = records.get("credit_notes") or []
    for note in CreditNote.objects.filter(entity_id=application.entity_id, external_ref__in=refs):
        for allocation in Allocation.objects.filter(credit_note=note):
            allocation.delete()
        note.delete()
    ids = records.get("disputes") or []
    for dispute in Dispute.objects.filter(pk__in=ids, status=DisputeStatus.OPEN):
        dispute_resolve(
            dispute=dispute,
            resolution=DisputeResolution.WITHDRAWN,
            on=max(dispute.opened_on, timezone.localdate()),
            note=UNAPPLIED_NOTE.format(reason=reason),
            actor=actor,
        )

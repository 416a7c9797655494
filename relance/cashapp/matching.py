"""Matching, the app's side: ``lines_match`` scores the entity's unapplied credit lines against its
open invoices (``relance.engine.cashapp``) and applies, suggests or leaves each line.

**Applied** lines become a ledger ``Payment`` with its ``Allocation`` rows written by the ledger
import's own layer (``relance.ingest.records.upsert_records("payments", …)``: the same rules as
a file import — never over-allocate an invoice or a payment, same currency, same customer group —
and the same data-version bump, so caches, the daily run, promises and dunning see the payment).
The payment is the line's whole amount; what is not allocated (an overpayment) stays unapplied
cash of the customer. The payer's account is learned (``KnownPayerAccount``) and the customer is
thanked through the outbox (``relance.portal.notify.payment_thank_you``, after the commit).
**Suggested** lines keep their ranked candidates with confidence and reasons; **unmatched** lines
their reasons.

Crash-safe: each line is decided in its own transaction, the line's status flipped in the same
transaction as its payment, and a line is applied only while it is still unmatched or suggested
(locked, and at most one ``BankLineApplication`` in force per line, a database constraint). A run
that dies half-way leaves the lines before it applied and the rest untouched; the next run starts
from what is committed and never applies a line twice.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from relance.cashapp import selectors
from relance.cashapp.models import (
    BankLine,
    BankLineApplication,
    CashAppSettings,
    KnownPayerAccount,
    LineStatus,
)
from relance.cashapp.residuals import residuals_settle
from relance.core.actors import Actor
from relance.core.errors import ErrorList, RelanceError
from relance.engine.cashapp.lines import APPLIED, SUGGESTED, Candidate, MatchResult, OpenItem
from relance.engine.cashapp.matcher import Matcher, MatchPolicy
from relance.ingest.records import AllocationRecord, PaymentRecord, upsert_records
from relance.ledger.models import Customer, Entity, Payment

logger = logging.getLogger(__name__)

PAYMENT_REF = "BANK-{line_id}"
PAYMENT_METHOD = "bank transfer"
NO_CANDIDATE = "no open invoice matches the reference, the amount or the payer"
BELOW_SUGGEST = "the best candidate ({confidence:.2f}) is below the suggestion threshold ({threshold:.2f})"
LEDGER_REFUSED = "not applied: the ledger refused the payment ({problem})"
OVERPAID = (
    "{amount} {currency} more than the invoices' open amounts is kept as unapplied cash of the customer"
)


@dataclass
class MatchOutcome:
    """What a run of ``lines_match`` did: counts by status of the lines it looked at."""

    entity: str
    lines: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    already_applied: int = 0  # applied meanwhile by another run: left as they are
    refused: int = 0  # the ledger refused the payment: the line is suggested with the reason
    payments: list[str] = field(default_factory=list)  # the refs of the payments created

    def as_dict(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "lines": self.lines,
            "applied": self.statuses[APPLIED],
            "suggested": self.statuses[SUGGESTED],
            "unmatched": self.statuses["unmatched"],
            "already_applied": self.already_applied,
            "refused": self.refused,
        }


def lines_match(
    *, entity: Entity, actor: Actor, policy: MatchPolicy | None = None, confirm: bool = True
) -> MatchOutcome:
    """Match every unapplied credit line of ``entity``, oldest booking first, each line in its own
    transaction. ``confirm``: thank each paying customer through the outbox."""
    settings = selectors.cashapp_settings_for(entity=entity)
    policy = policy or selectors.match_policy_for(entity=entity, settings=settings)
    matcher = Matcher(selectors.open_items(entity=entity), selectors.known_payers(entity=entity), policy)
    items = {item.invoice_id: item for item in matcher.items}
    suggest = matcher.policy.thresholds.suggest
    outcome = MatchOutcome(entity=entity.name)
    for line in selectors.unmatched_credit_lines(entity=entity).iterator(chunk_size=500):
        outcome.lines += 1
        result = matcher.match(selectors.bank_line_data(line))
        status = result.status
        if result.chosen is not None:
            try:
                payment_ref = _line_apply(
                    line, result.chosen, items, actor=actor, confirm=confirm, settings=settings
                )
            except (ErrorList, RelanceError) as problem:
                outcome.refused += 1
                status = SUGGESTED
                _line_record(line, result, items, suggest, refused=_problem_text(problem))
            else:
                if payment_ref is None:
                    outcome.already_applied += 1
                    continue
                matcher.apply(result.chosen)
                if line.counterparty_iban and result.chosen.customer_id is not None:
                    matcher.learn(line.counterparty_iban, result.chosen.customer_id)
                outcome.payments.append(payment_ref)
        else:
            _line_record(line, result, items, suggest)
        outcome.statuses[status] += 1
    if outcome.lines:
        _audited(entity, outcome, actor)
    return outcome


def _problem_text(problem: Exception) -> str:
    if isinstance(problem, ErrorList):
        return "; ".join(str(error) for error in problem.errors)
    return str(getattr(problem, "message", problem))


def _line_apply(
    line: BankLine,
    chosen: Candidate,
    items: dict[int, OpenItem],
    *,
    actor: Actor,
    confirm: bool,
    settings: CashAppSettings | None = None,
) -> str | None:
    """Apply ``line`` as ``chosen`` in one transaction; the payment's ref, or None when the line
    was applied meanwhile (it is left as it is)."""
    assert chosen.allocations
    first = items[chosen.allocations[0].invoice_id]
    customer_ref = first.customer_ref
    if chosen.customer_id is not None and chosen.customer_id != first.customer_id:
        # A group's payment: the payer is the candidate's customer, the invoices its group's.
        customer_ref = Customer.objects.values_list("external_ref", flat=True).get(pk=chosen.customer_id)
    payment_ref = PAYMENT_REF.format(line_id=line.pk)
    record = PaymentRecord(
        payment_ref=payment_ref,
        customer_ref=customer_ref,
        date=line.booking_date,
        currency=line.currency,
        amount=line.amount,
        allocations=tuple(
            AllocationRecord(items[allocation.invoice_id].invoice_ref, allocation.amount)
            for allocation in chosen.allocations
        ),
        method=PAYMENT_METHOD,
        source=f"bank line {line.bank_ref}",
    )
    with transaction.atomic():
        locked = (
            BankLine.objects.select_for_update()
            .filter(pk=line.pk, status__in=(LineStatus.UNMATCHED, LineStatus.SUGGESTED))
            .first()
        )
        if (
            locked is None
            or BankLineApplication.objects.filter(line=line, unapplied_at__isnull=True).exists()
        ):
            return None
        upsert_records("payments", [record], entity=line.entity)
        payment = Payment.objects.get(entity_id=line.entity_id, external_ref=payment_ref)
        reasons = list(chosen.reasons)
        if chosen.residual > 0:
            reasons.append(OVERPAID.format(amount=chosen.residual, currency=line.currency))
        settled = residuals_settle(  # short payments: write-off, deduction or left open
            line=locked,
            payment=payment,
            settings=settings or selectors.cashapp_settings_for(entity=line.entity),
            actor=actor,
            confirm=confirm,
        )
        reasons.extend(settled.reasons)
        BankLineApplication.objects.create(
            entity_id=line.entity_id,
            line=locked,
            payment=payment,
            customer_id=payment.customer_id,
            confidence=round(chosen.confidence, 4),
            reasons=reasons,
            residual=chosen.residual,
            shortfall=chosen.shortfall,
            residual_action=settled.action,
            applied_at=timezone.now(),
            applied_by=actor.label,
            applied_by_kind=actor.kind.value,
            applied_by_user_id=actor.user_id,
        )
        if line.counterparty_iban:
            KnownPayerAccount.objects.get_or_create(
                entity_id=line.entity_id,
                account_iban=selectors.payer_account_key(line.counterparty_iban),
                customer_id=payment.customer_id,
                defaults={"learned_from": locked, "learned_by": actor.label},
            )
        locked.status = LineStatus.APPLIED
        locked.confidence = round(chosen.confidence, 4)
        locked.reasons = reasons
        locked.suggestions = []
        locked.save(update_fields=["status", "confidence", "reasons", "suggestions", "updated_at"])
        if confirm:
            transaction.on_commit(lambda: _thank(payment, chosen))
    return payment_ref


def _thank(payment: Payment, chosen: Candidate) -> None:
    from relance.ledger.models import Invoice
    from relance.portal.notify import payment_thank_you

    invoices = list(Invoice.objects.filter(pk__in=[a.invoice_id for a in chosen.allocations]))
    payment_thank_you(
        customer=payment.customer,
        amount=payment.amount,
        currency=payment.currency,
        on=payment.date,
        invoices=invoices,
        idempotency_key=f"bank:{payment.external_ref}",
    )


def _candidate_dict(candidate: Candidate, items: dict[int, OpenItem], currency: str) -> dict[str, Any]:
    customer = items[candidate.allocations[0].invoice_id] if candidate.allocations else None
    return {
        "allocations": [
            {
                "invoice_ref": items[a.invoice_id].invoice_ref,
                "amount": selectors.money_text(a.amount, currency),
            }
            for a in candidate.allocations
        ],
        "customer_ref": customer.customer_ref if customer else None,
        "confidence": round(candidate.confidence, 4),
        "reasons": list(candidate.reasons),
        "residual": selectors.money_text(candidate.residual, currency),
        "shortfall": selectors.money_text(candidate.shortfall, currency),
    }


def _line_record(
    line: BankLine,
    result: MatchResult,
    items: dict[int, OpenItem],
    thresholds_suggest: float,
    *,
    refused: str = "",
) -> None:
    """Store a line suggested (its ranked candidates, best first) or unmatched (the reasons), in
    one statement that leaves a line applied meanwhile as it is."""
    candidates = list(result.candidates)
    if refused or result.status == SUGGESTED:
        status = LineStatus.SUGGESTED
        suggestions = [_candidate_dict(c, items, line.currency) for c in candidates]
        best = candidates[0]
        confidence: float | None = best.confidence
        reasons = [*best.reasons, LEDGER_REFUSED.format(problem=refused)] if refused else list(best.reasons)
    else:
        status = LineStatus.UNMATCHED
        suggestions = []
        if candidates:
            best = candidates[0]
            confidence = best.confidence
            below = BELOW_SUGGEST.format(confidence=best.confidence, threshold=thresholds_suggest)
            reasons = [below, *best.reasons]
        else:
            confidence = None
            reasons = [NO_CANDIDATE]
    BankLine.objects.filter(pk=line.pk, status__in=(LineStatus.UNMATCHED, LineStatus.SUGGESTED)).update(
        status=status,
        confidence=None if confidence is None else round(confidence, 4),
        reasons=reasons,
        suggestions=suggestions,
        updated_at=timezone.now(),
    )


def _audited(entity: Entity, outcome: MatchOutcome, actor: Actor) -> None:
    from relance.audit.services import audit_record

    audit_record(
        action="match",
        actor_label=actor.label,
        entity=entity,
        object_type="cashapp.bankline",
        object_repr=f"{outcome.lines} line(s)",
        after=outcome.as_dict(),
    )

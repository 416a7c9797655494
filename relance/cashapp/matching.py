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
from decimal import Decimal
from itertools import islice
from typing import Any

from django.db import transaction
from django.utils import timezone

from relance.cashapp import selectors
from relance.cashapp.models import BankLine, BankLineApplication, KnownPayerAccount, LineStatus
from relance.cashapp.residuals import residuals_settle
from relance.core.actors import Actor
from relance.core.errors import ErrorList, RelanceError
from relance.engine.cashapp.lines import APPLIED, SUGGESTED, Candidate, MatchResult, OpenItem
from relance.engine.cashapp.matcher import Matcher, MatchPolicy
from relance.events.services import emit
from relance.ingest.records import AllocationRecord, PaymentRecord, upsert_records
from relance.ledger.models import Customer, Entity, Payment

logger = logging.getLogger(__name__)

PAYMENT_REF = "BANK-{line_id}"
BATCH_LINES = 500
"""Lines a transaction at most: 500 commits instead of 100,000 for a large statement."""
PAYMENT_METHOD = "bank transfer"
NO_CANDIDATE = "no open invoice matches the reference, the amount or the payer"
BELOW_SUGGEST = "the best candidate ({confidence:.2f}) is below the suggestion threshold ({threshold:.2f})"
LEDGER_REFUSED = "not applied: the ledger refused the payment ({problem})"
OVERPAID = (
    "{amount} {currency} more than the invoices' open amounts is kept as unapplied cash of the customer"
)
UNAPPLIED_BEFORE = "not applied automatically: a person unapplied this line before, so a person applies it"


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
    *,
    entity: Entity,
    actor: Actor,
    policy: MatchPolicy | None = None,
    confirm: bool = True,
    batch_size: int = BATCH_LINES,
) -> MatchOutcome:
    """Match every unapplied credit line of ``entity``, oldest booking first, each line in its own
    savepoint, up to ``batch_size`` lines a transaction (1: a transaction a line). ``confirm``:
    thank each paying customer through the outbox (after the commit)."""
    matcher = Matcher(
        selectors.open_items(entity=entity),
        selectors.known_payers(entity=entity),
        policy or selectors.match_policy_for(entity=entity),
        known_patterns=selectors.known_patterns(entity=entity),
    )
    items = {item.invoice_id: item for item in matcher.items}
    suggest = matcher.policy.thresholds.suggest
    outcome = MatchOutcome(entity=entity.name)
    # The ids first, the lines a batch at a time: no read cursor stays open while lines are
    # written (SQLite refuses to drop the import's work tables under one: "table is locked").
    waiting = selectors.unmatched_credit_lines(entity=entity)
    ids = iter(list(waiting.values_list("pk", flat=True)))
    size = 1
    while chunk := list(islice(ids, size)):
        found = waiting.in_bulk(chunk)
        batch = [found[pk] for pk in chunk if pk in found]
        # One transaction a batch, each line in its own savepoint (``line_apply``'s atomic): a
        # refused line rolls back alone; a crash rolls the batch back whole, and the next run
        # redoes it — no line is applied twice. Batches grow 1, 2, 4… to ``batch_size``: a
        # statement of the day commits its first lines as it goes, a large run writes 500 at once.
        with transaction.atomic():
            for line in batch:
                outcome.lines += 1
                result = matcher.match(selectors.bank_line_data(line))
                status = result.status
                if result.chosen is not None and line.applications.exists():
                    # A person unapplied this line before: only a person applies it again.
                    status = SUGGESTED
                    _line_record(line, result, items, suggest, note=UNAPPLIED_BEFORE)
                elif result.chosen is not None:
                    try:
                        payment_ref = _line_apply(line, result.chosen, items, actor=actor, confirm=confirm)
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
        size = min(size * 2, batch_size)
    if outcome.lines:
        _audited(entity, outcome, actor)
    return outcome


def _problem_text(problem: Exception) -> str:
    if isinstance(problem, ErrorList):
        return "; ".join(str(error) for error in problem.errors)
    return str(getattr(problem, "message", problem))


@dataclass(frozen=True)
class LineApplication:
    """What a line is applied as, whoever decided it: the matcher's candidate (``lines_match``) or
    a person (``relance.cashapp.decisions``: accept, split, assign). ``allocations`` by invoice
    ref; the payment is the line's whole amount, so what they leave is unapplied cash of the
    customer (``customer_ref``, the payer)."""

    customer_ref: str
    allocations: tuple[AllocationRecord, ...]
    confidence: float | None
    reasons: tuple[str, ...]
    residual: Decimal = Decimal(0)
    shortfall: Decimal = Decimal(0)
    how: str = "match"  # match, accept, split, assign: who decided, in one word


def payment_ref(line_id: int, earlier: int) -> str:
    """The payment's ref of a line's application: ``BANK-<line id>``, then ``BANK-<line id>-2``…
    once earlier applications were unapplied (each application its own payment for the ERP)."""
    ref = PAYMENT_REF.format(line_id=line_id)
    return f"{ref}-{earlier + 1}" if earlier else ref


def line_apply(line: BankLine, application: LineApplication, *, actor: Actor, confirm: bool) -> str | None:
    """Apply ``line`` as ``application`` in one transaction: the one home of applying a line.

    The payment and allocations go through the ledger import's layer (``upsert_records``); the
    application row, the payer's account learned and the line's status flip commit with them.
    Returns the payment's ref, or None when the line was applied meanwhile (left as it is)."""
    with transaction.atomic():
        locked = (
            BankLine.objects.select_for_update()
            .filter(pk=line.pk, status__in=(LineStatus.UNMATCHED, LineStatus.SUGGESTED))
            .first()
        )
        if locked is None:
            return None
        earlier = list(
            BankLineApplication.objects.filter(line=line).values_list("customer_id", "unapplied_at")
        )
        if any(unapplied_at is None for _customer, unapplied_at in earlier):
            return None
        ref = payment_ref(line.pk, len(earlier))
        record = PaymentRecord(
            payment_ref=ref,
            customer_ref=application.customer_ref,
            date=line.booking_date,
            currency=line.currency,
            amount=line.amount,
            allocations=application.allocations,
            method=PAYMENT_METHOD,
            source=f"bank line {line.bank_ref}",
        )
        upsert_records("payments", [record], entity=line.entity)
        payment = Payment.objects.get(entity_id=line.entity_id, external_ref=ref)
        reasons = list(application.reasons)
        if application.residual > 0:
            reasons.append(OVERPAID.format(amount=application.residual, currency=line.currency))
        settled = residuals_settle(  # a short payment: written off, a deduction or left open
            line=locked,
            payment=payment,
            settings=selectors.cashapp_settings_for(entity=line.entity),
            actor=actor,
            confirm=confirm,
        )
        reasons.extend(settled.reasons)
        confidence = None if application.confidence is None else round(application.confidence, 4)
        BankLineApplication.objects.create(
            entity_id=line.entity_id,
            line=locked,
            payment=payment,
            payment_ref=ref,
            customer_id=payment.customer_id,
            allocations=[
                {"invoice_ref": a.invoice_ref, "amount": selectors.money_text(a.amount, line.currency)}
                for a in application.allocations
            ],
            how=application.how,
            confidence=confidence,
            reasons=reasons,
            residual=application.residual,
            shortfall=application.shortfall,
            residual_action=settled.action,
            residual_records=settled.records(),
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
        locked.confidence = confidence
        locked.reasons = reasons
        locked.suggestions = []
        locked.save(update_fields=["status", "confidence", "reasons", "suggestions", "updated_at"])
        emit(
            "bank_line.applied",
            {
                "line_id": locked.pk,
                "amount": line.amount,
                "currency": line.currency,
                "booked_on": line.booking_date,
                "payment": ref,
                "invoices": [a.invoice_ref for a in application.allocations],
            },
            entity=line.entity_id,
            customer=payment.customer,
        )
        # Thanked once per customer and line: an application redone for the same payer is not news.
        if confirm and payment.customer_id not in {customer for customer, _at in earlier}:
            refs = [a.invoice_ref for a in application.allocations]
            transaction.on_commit(lambda: _thank(payment, refs))
    return ref


def _line_apply(
    line: BankLine, chosen: Candidate, items: dict[int, OpenItem], *, actor: Actor, confirm: bool
) -> str | None:
    """Apply ``line`` as the matcher's ``chosen`` candidate (``line_apply``)."""
    return line_apply(line, _application(chosen, items), actor=actor, confirm=confirm)


def _application(chosen: Candidate, items: dict[int, OpenItem]) -> LineApplication:
    assert chosen.allocations
    first = items[chosen.allocations[0].invoice_id]
    customer_ref = first.customer_ref
    if chosen.customer_id is not None and chosen.customer_id != first.customer_id:
        # A group's payment: the payer is the candidate's customer, the invoices its group's.
        customer_ref = Customer.objects.values_list("external_ref", flat=True).get(pk=chosen.customer_id)
    return LineApplication(
        customer_ref=customer_ref,
        allocations=tuple(
            AllocationRecord(items[allocation.invoice_id].invoice_ref, allocation.amount)
            for allocation in chosen.allocations
        ),
        confidence=chosen.confidence,
        reasons=chosen.reasons,
        residual=chosen.residual,
        shortfall=chosen.shortfall,
    )


def _thank(payment: Payment, invoice_refs: list[str]) -> None:
    from relance.ledger.models import Invoice
    from relance.portal.notify import payment_thank_you

    invoices = list(Invoice.objects.filter(entity_id=payment.entity_id, external_ref__in=invoice_refs))
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
    note: str = "",
) -> None:
    """Store a line suggested (its ranked candidates, best first) or unmatched (the reasons), in
    one statement that leaves a line applied meanwhile as it is."""
    candidates = list(result.candidates)
    if refused or note or result.status == SUGGESTED:
        status = LineStatus.SUGGESTED
        suggestions = [_candidate_dict(c, items, line.currency) for c in candidates]
        best = candidates[0]
        confidence: float | None = best.confidence
        reasons = list(best.reasons)
        if refused:
            reasons.append(LEDGER_REFUSED.format(problem=refused))
        if note:
            reasons.append(note)
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

"""A person's decisions on bank lines (issue 17, item 4): accept a suggestion, split a line across
invoices, say which customer paid, unapply an application.

Every application goes through ``matching.line_apply``, the one home of applying a line (the
ledger import's ``upsert_records`` writes the payment and allocations, with its checks and the
data-version bump; one application in force per line, the line locked). Each decision is one
transaction with its audit event (the actor, the line, what was decided), and is **learned**: the
payer's account (``KnownPayerAccount``) and the reference patterns of the remittance text
(``KnownReferencePattern``) now point to the customer, so the next line from that payer, or
quoting a reference of that shape, finds the customer by itself.

An error (a suggestion that does not exist, an invoice of another entity or closed, more than
the line) is a ``ValidationFailed`` naming what is wrong, and nothing is written.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from relance.cashapp import matching, selectors
from relance.cashapp.models import (
    BankLine,
    BankLineApplication,
    KnownPayerAccount,
    KnownReferencePattern,
    LineDirection,
    LineStatus,
)
from relance.cashapp.residuals import residuals_reverse
from relance.core.actors import Actor
from relance.core.errors import Conflict, ErrorList, NotFound, ValidationFailed
from relance.engine.cashapp.lines import SUGGESTED, UNMATCHED, Candidate
from relance.engine.cashapp.matcher import Matcher
from relance.engine.cashapp.references import reference_pattern, reference_patterns
from relance.ingest.records import AllocationRecord
from relance.ledger.models import Allocation, Customer, Entity, Invoice
from relance.ledger.selectors import STILL_OWED, invoice_list_with_open

ALREADY_APPLIED = "bank line {ref} is already applied: unapply it first"
NOT_APPLIED = "bank line {ref} is not applied: there is nothing to unapply"
NOT_A_CREDIT = "bank line {ref} is a {what}: only a customer's credit is applied to invoices"
NO_SUGGESTION = "bank line {ref} has no suggestion {index} (it has {count})"
INVOICE_UNKNOWN = "invoice {ref} is not an invoice of entity {entity}"
INVOICE_CLOSED = "invoice {ref} is closed: nothing is open on it"
INVOICE_LESS_OPEN = "invoice {ref} has {open} {currency} open, less than the {amount} given"
INVOICE_CURRENCY = "invoice {ref} is in {currency}, the line in {line_currency}"
INVOICE_TWICE = "invoice {ref} is given twice"
AMOUNT_NOT_POSITIVE = "the amount for invoice {ref} must be more than 0, found {amount}"
SPLIT_EMPTY = "a split needs at least one invoice and amount"
SPLIT_OVER = "the amounts add up to {total} {currency}, more than the line's {amount}"
CUSTOMER_UNKNOWN = "customer {ref} is not a customer of entity {entity}"
REASON_NEEDED = "say why the line is unapplied (a reason)"
LEDGER_REFUSED = "the ledger refused the payment: {problem}"

ACCEPTED = "accepted by {actor}"
SPLIT_BY = "split by {actor}"
ASSIGNED = "{actor} said {customer} paid"
ASSIGNED_CREDIT = "no open invoice of {customer} fits: the amount is kept as unapplied cash of the customer"
ASSIGNED_SUGGESTED = "assigned to {customer} by {actor}: choose the invoices (the suggestions are theirs)"
UNAPPLIED = "unapplied by {actor}: {reason}"


def line_accept(*, entity: Entity, line: BankLine, suggestion_index: int = 0, actor: Actor) -> BankLine:
    """Apply a suggested line as its ranked candidate ``suggestion_index`` (0: the best)."""
    line = _credit_line(entity, line)
    suggestions = line.suggestions or []
    if not 0 <= suggestion_index < len(suggestions):
        raise ValidationFailed(
            NO_SUGGESTION.format(ref=line.bank_ref, index=suggestion_index, count=len(suggestions)),
            code="suggestion_unknown",
        )
    chosen = suggestions[suggestion_index]
    application = matching.LineApplication(
        customer_ref=chosen["customer_ref"],
        allocations=tuple(
            AllocationRecord(share["invoice_ref"], Decimal(share["amount"]))
            for share in chosen["allocations"]
        ),
        confidence=chosen.get("confidence"),
        reasons=(*chosen.get("reasons", ()), ACCEPTED.format(actor=actor.label)),
        residual=Decimal(chosen.get("residual") or 0),
        shortfall=Decimal(chosen.get("shortfall") or 0),
        how="accept",
    )
    return _apply(entity, line, application, actor=actor, action="bank_line_accept")


def line_split(
    *,
    entity: Entity,
    line: BankLine,
    allocations: list[tuple[str, Decimal]],
    actor: Actor,
    note: str = "",
) -> BankLine:
    """Apply the line across invoices by ref and amount; what the amounts leave of the line is
    unapplied cash of the customer (the first invoice's). Checked before anything is written:
    every invoice the entity's, open, in the line's currency, owed at least its amount, the
    amounts together at most the line's."""
    line = _credit_line(entity, line)
    if not allocations:
        raise ValidationFailed(SPLIT_EMPTY, code="split_empty")
    problems: list[str] = []
    shares: list[AllocationRecord] = []
    seen: set[str] = set()
    for ref, raw_amount in allocations:
        try:
            amount = Decimal(str(raw_amount))
        except InvalidOperation:
            amount = Decimal(0)
        if ref in seen:
            problems.append(INVOICE_TWICE.format(ref=ref))
        seen.add(ref)
        if not amount.is_finite() or amount <= 0:
            problems.append(AMOUNT_NOT_POSITIVE.format(ref=ref, amount=raw_amount))
        shares.append(AllocationRecord(ref, amount))
    refs = [share.invoice_ref for share in shares]
    invoices = {
        invoice.external_ref: invoice
        for invoice in Invoice.objects.filter(entity=entity, external_ref__in=refs).select_related("customer")
    }
    open_amounts = dict(
        invoice_list_with_open(entity=entity)
        .filter(external_ref__in=refs)
        .values_list("external_ref", "open_amount")
    )
    shortfall = Decimal(0)
    for share in shares:
        invoice = invoices.get(share.invoice_ref)
        if invoice is None:
            problems.append(INVOICE_UNKNOWN.format(ref=share.invoice_ref, entity=entity.name))
            continue
        open_amount = Decimal(open_amounts.get(share.invoice_ref) or 0)
        if open_amount <= STILL_OWED:
            problems.append(INVOICE_CLOSED.format(ref=share.invoice_ref))
        elif invoice.currency != line.currency:
            problems.append(
                INVOICE_CURRENCY.format(
                    ref=share.invoice_ref, currency=invoice.currency, line_currency=line.currency
                )
            )
        elif share.amount > open_amount:
            problems.append(
                INVOICE_LESS_OPEN.format(
                    ref=share.invoice_ref,
                    open=selectors.money_text(open_amount, line.currency),
                    currency=line.currency,
                    amount=share.amount,
                )
            )
        elif share.amount > 0:
            shortfall += open_amount - share.amount
    total = sum((share.amount for share in shares if share.amount > 0), Decimal(0))
    if total > line.amount:
        problems.append(
            SPLIT_OVER.format(
                total=total, currency=line.currency, amount=selectors.money_text(line.amount, line.currency)
            )
        )
    if problems:
        raise ValidationFailed("; ".join(problems), code="split_invalid")
    reasons = [SPLIT_BY.format(actor=actor.label)]
    if note:
        reasons.append(note)
    application = matching.LineApplication(
        customer_ref=invoices[shares[0].invoice_ref].customer.external_ref,
        allocations=tuple(shares),
        confidence=None,
        reasons=tuple(reasons),
        residual=line.amount - total,
        shortfall=shortfall,
        how="split",
    )
    return _apply(entity, line, application, actor=actor, action="bank_line_split")


def line_assign(*, entity: Entity, line: BankLine, customer: Customer | str, actor: Actor) -> BankLine:
    """A person says who paid: the line is matched again within that customer's (and its
    subsidiaries') open items, the payer's account counting as the customer's.

    - the matcher is sure (its ``auto_apply`` threshold and margin), or its best candidate pays
      the customer's invoices exactly and leads any other by the margin (who paid is no longer
      the question): the line is applied;
    - some of the customer's invoices fit, not surely: the line is **suggested** with only the
      customer's candidates, and stays with the person (matching runs leave it: one click to
      accept the right one);
    - none fits: the line is applied to the customer with no invoice, the whole amount kept as
      **unapplied cash** of the customer (on the 360; a collector allocates it later)."""
    line = _credit_line(entity, line)
    payer = _customer(entity, customer)
    said = ASSIGNED.format(actor=actor.label, customer=payer.name)
    matcher = Matcher(
        selectors.open_items(entity=entity, customer_id=payer.pk),
        selectors.known_payers(entity=entity),
        known_patterns=selectors.known_patterns(entity=entity),
    )
    if line.counterparty_iban:
        matcher.learn(line.counterparty_iban, payer.pk)
    items = {item.invoice_id: item for item in matcher.items}
    result = matcher.match(selectors.bank_line_data(line))
    chosen = result.chosen or _sure_within(result.candidates, margin=matcher.policy.thresholds.margin)
    if chosen is not None:
        found = matching._application(chosen, items)
        application = matching.LineApplication(
            customer_ref=found.customer_ref,
            allocations=found.allocations,
            confidence=found.confidence,
            reasons=(said, *found.reasons),
            residual=found.residual,
            shortfall=found.shortfall,
            how="assign",
        )
        return _apply(entity, line, application, actor=actor, action="bank_line_assign")
    if result.status == SUGGESTED:
        with transaction.atomic():
            locked = _locked_unapplied(line)
            matching._line_record(
                locked,
                result,
                items,
                matcher.policy.thresholds.suggest,
                note=ASSIGNED_SUGGESTED.format(customer=payer.name, actor=actor.label),
            )
            BankLine.objects.filter(pk=locked.pk).update(assigned_customer=payer)
            _learn(locked, payer.pk, actor=actor, invoice_refs=())
            _audited(entity, locked, actor, "bank_line_assign", {"customer_ref": payer.external_ref})
        line.refresh_from_db()
        return line
    application = matching.LineApplication(
        customer_ref=payer.external_ref,
        allocations=(),
        confidence=None,
        reasons=(said, ASSIGNED_CREDIT.format(customer=payer.name)),
        residual=line.amount,
        how="assign",
    )
    return _apply(entity, line, application, actor=actor, action="bank_line_assign")


def _sure_within(candidates: tuple[Candidate, ...], *, margin: float) -> Candidate | None:
    """Within the customer a person named, who paid is known: the best candidate is sure when it
    pays its invoices exactly (nothing over, nothing short) and leads any other by the margin
    (two invoices of the same amount stay a choice for the person)."""
    if not candidates:
        return None
    best = candidates[0]
    exact = best.residual == 0 and best.shortfall == 0 and bool(best.allocations)
    alone = len(candidates) == 1 or best.confidence - candidates[1].confidence >= margin
    return best if exact and alone else None


def line_unapply(*, entity: Entity, line: BankLine, reason: str, actor: Actor) -> BankLine:
    """Reverse the line's application in force: its payment and allocations leave the ledger (row
    by row, so the ledger's signals bump the data version from the payment's date and the engine
    and caches see it), the application row stays as history (``unapplied_at``, by whom, why; a
    new application can be in force afterwards), what this line taught is forgotten, and the line
    is matched again: **suggested** or **unmatched**, never applied automatically again (a person
    applies it)."""
    if not reason.strip():
        raise ValidationFailed(REASON_NEEDED, code="reason_required")
    line = _own(entity, line)
    with transaction.atomic():
        locked = BankLine.objects.select_for_update().get(pk=line.pk)
        application = (
            BankLineApplication.objects.select_for_update()
            .filter(line=locked, unapplied_at__isnull=True)
            .first()
        )
        if application is None or locked.status != LineStatus.APPLIED:
            raise Conflict(NOT_APPLIED.format(ref=line.bank_ref))
        payment = application.payment
        residuals_reverse(application=application, reason=reason.strip(), actor=actor)
        if payment is not None:
            for allocation in Allocation.objects.filter(payment=payment):
                allocation.delete()
            payment.delete()
        application.payment = None
        application.unapplied_at = timezone.now()
        application.unapplied_by = actor.label
        application.unapplied_reason = reason.strip()
        application.save(
            update_fields=["payment", "unapplied_at", "unapplied_by", "unapplied_reason", "updated_at"]
        )
        KnownPayerAccount.objects.filter(learned_from=locked, customer_id=application.customer_id).delete()
        KnownReferencePattern.objects.filter(
            learned_from=locked, customer_id=application.customer_id
        ).delete()
        locked.status = LineStatus.UNMATCHED
        locked.confidence = None
        locked.reasons = [UNAPPLIED.format(actor=actor.label, reason=reason.strip())]
        locked.suggestions = []
        locked.assigned_customer = None
        locked.save(
            update_fields=[
                "status",
                "confidence",
                "reasons",
                "suggestions",
                "assigned_customer",
                "updated_at",
            ]
        )
        _audited(
            entity,
            locked,
            actor,
            "bank_line_unapply",
            {
                "reason": reason.strip(),
                "payment_ref": application.payment_ref,
                "allocations": application.allocations,
            },
        )
        _rematch(entity, locked, note=UNAPPLIED.format(actor=actor.label, reason=reason.strip()))
    line.refresh_from_db()
    return line


# --- helpers ------------------------------------------------------------------------------------


def _own(entity: Entity, line: BankLine) -> BankLine:
    if line.entity_id != entity.pk:
        raise NotFound(
            selectors.LINE_NOT_FOUND.format(ref=line.pk, entity=entity.name), code="bank_line_not_found"
        )
    return line


def _credit_line(entity: Entity, line: BankLine) -> BankLine:
    """The line, fresh, when a person may apply it: the entity's, a credit, not applied."""
    line = _own(entity, line)
    line.refresh_from_db()
    if line.direction != LineDirection.CREDIT or line.is_reversal:
        what = "reversal" if line.is_reversal else "debit"
        raise ValidationFailed(NOT_A_CREDIT.format(ref=line.bank_ref, what=what), code="bank_line_not_credit")
    if line.status == LineStatus.APPLIED:
        raise Conflict(ALREADY_APPLIED.format(ref=line.bank_ref))
    return line


def _locked_unapplied(line: BankLine) -> BankLine:
    locked = (
        BankLine.objects.select_for_update()
        .filter(pk=line.pk, status__in=(LineStatus.UNMATCHED, LineStatus.SUGGESTED))
        .first()
    )
    if locked is None:
        raise Conflict(ALREADY_APPLIED.format(ref=line.bank_ref))
    return locked


def _customer(entity: Entity, customer: Customer | str) -> Customer:
    if isinstance(customer, Customer):
        if customer.entity_id != entity.pk:
            raise ValidationFailed(
                CUSTOMER_UNKNOWN.format(ref=customer.external_ref, entity=entity.name),
                code="customer_unknown",
            )
        return customer
    found = Customer.objects.filter(entity=entity, external_ref=customer).first()
    if found is None:
        raise ValidationFailed(
            CUSTOMER_UNKNOWN.format(ref=customer, entity=entity.name), code="customer_unknown"
        )
    return found


def _apply(
    entity: Entity, line: BankLine, application: matching.LineApplication, *, actor: Actor, action: str
) -> BankLine:
    """Apply, learn and audit in one transaction; a refusal of the ledger writes nothing."""
    with transaction.atomic():
        try:
            ref = matching.line_apply(line, application, actor=actor, confirm=True, by_person=True)
        except ErrorList as problem:
            raise ValidationFailed(
                LEDGER_REFUSED.format(problem=matching._problem_text(problem)), code="ledger_refused"
            ) from problem
        if ref is None:
            raise Conflict(ALREADY_APPLIED.format(ref=line.bank_ref))
        applied = BankLineApplication.objects.get(line=line, unapplied_at__isnull=True)
        BankLine.objects.filter(pk=line.pk).update(assigned_customer=None)
        _learn(
            line,
            applied.customer_id,
            actor=actor,
            invoice_refs=[a.invoice_ref for a in application.allocations],
        )
        _audited(
            entity,
            line,
            actor,
            action,
            {
                "payment_ref": ref,
                "customer_id": applied.customer_id,
                "allocations": applied.allocations,
            },
        )
    line.refresh_from_db()
    return line


def _learn(
    line: BankLine, customer_id: int, *, actor: Actor, invoice_refs: list[str] | tuple[str, ...]
) -> None:
    """What a person's decision teaches: the payer's account and the remittance's reference
    patterns point to the customer. The shapes of the invoices' own refs are not learned (every
    customer quotes those)."""
    if line.counterparty_iban:
        KnownPayerAccount.objects.get_or_create(
            entity_id=line.entity_id,
            account_iban=selectors.payer_account_key(line.counterparty_iban),
            customer_id=customer_id,
            defaults={"learned_from": line, "learned_by": actor.label},
        )
    ours = {reference_pattern(ref) for ref in invoice_refs}
    for pattern in sorted(
        reference_patterns(line.remittance_unstructured, line.remittance_structured) - ours
    ):
        KnownReferencePattern.objects.get_or_create(
            entity_id=line.entity_id,
            pattern=pattern,
            customer_id=customer_id,
            defaults={"learned_from": line, "learned_by": actor.label},
        )


def _rematch(entity: Entity, line: BankLine, *, note: str) -> None:
    """Match an unapplied line again to offer suggestions; never applied (a person does that)."""
    matcher = Matcher(
        selectors.open_items(entity=entity),
        selectors.known_payers(entity=entity),
        known_patterns=selectors.known_patterns(entity=entity),
    )
    items = {item.invoice_id: item for item in matcher.items}
    result = matcher.match(selectors.bank_line_data(line))
    if result.status != UNMATCHED:
        matching._line_record(line, result, items, matcher.policy.thresholds.suggest, note=note)


def _audited(entity: Entity, line: BankLine, actor: Actor, action: str, after: dict[str, object]) -> None:
    from relance.audit.services import audit_record

    audit_record(
        action=action,
        actor_label=actor.label,
        entity=entity,
        object_type="cashapp.bankline",
        object_id=line.pk,
        object_repr=f"{line.bank_ref} {selectors.money_text(line.amount, line.currency)} {line.currency}",
        after={"bank_ref": line.bank_ref, **after},
    )

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

import json
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from itertools import islice
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from relance.cashapp import selectors
from relance.cashapp.models import BankLine, BankLineApplication, KnownPayerAccount, LineStatus
from relance.cashapp.residuals import residuals_settle_many
from relance.core.actors import Actor
from relance.core.errors import ErrorList, RelanceError
from relance.engine.cashapp.lines import APPLIED, SUGGESTED, BankLineData, Candidate, MatchResult, OpenItem
from relance.engine.cashapp.matcher import Matcher, MatchPolicy
from relance.events.services import Emission, customer_ref, emit_many, wanted
from relance.ingest.records import AllocationRecord, PaymentRecord, upsert_records
from relance.ingest.services.bulk import insert_rows, update_rows
from relance.ledger.models import Customer, Entity, Payment

logger = logging.getLogger(__name__)

PAYMENT_REF = "BANK-{line_id}"
BATCH_LINES = 2000
"""Lines a transaction at most: 50 commits instead of 100,000 for a large statement (each batch
also pays the import layer's fixed costs: 2,000 a batch took 10 % less CPU than 500)."""
BULK_ROWS = 500  # rows an INSERT/UPDATE statement at most (SQLite's variable limit)
PAYMENT_METHOD = "bank transfer"
LINE_APPLIED = "bank_line.applied"  # the event of an applied line
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
    bulk: bool = True,
) -> MatchOutcome:
    """Match every unapplied credit line of ``entity``, oldest booking first, up to
    ``batch_size`` lines a transaction (1: a transaction a line). ``confirm``: thank each paying
    customer through the outbox (after the commit).

    ``bulk`` (the default): a batch's lines are matched first, then the lines to apply written
    together (``lines_apply``); if the ledger refuses any of them, that write is rolled back and
    the batch is done line by line (``bulk=False``: each line matched and applied in its own
    savepoint, a refused line rolled back alone and reported)."""
    policy = policy or selectors.match_policy_for(entity=entity)
    outcome = MatchOutcome(entity=entity.name)
    # The ids first, the lines a batch at a time: no read cursor stays open while lines are
    # written (SQLite refuses to drop the import's work tables under one: "table is locked").
    ids = list(selectors.unmatched_credit_lines(entity=entity).values_list("pk", flat=True))
    if ids:
        matcher = Matcher(
            selectors.open_items(entity=entity),
            selectors.known_payers(entity=entity),
            policy,
            known_patterns=selectors.known_patterns(entity=entity),
        )
        run = _Run(matcher, {item.invoice_id: item for item in matcher.items}, outcome, policy)
        for batch in lines_batches(entity, ids, batch_size):
            # One transaction a batch: a crash rolls the batch back whole, and the next run
            # redoes it — no line is applied twice.
            with transaction.atomic():
                if not (bulk and len(batch) > 1 and run.batch_apply(batch, actor=actor, confirm=confirm)):
                    for line in batch:
                        run.line_match(line, actor=actor, confirm=confirm)
    if outcome.lines:
        _audited(entity, outcome, actor)
    return outcome


def id_batches(ids: list[int], batch_size: int) -> Iterator[list[int]]:
    """``ids`` cut in batches of 1, 2, 4… up to ``batch_size``: a statement of the day commits
    its first lines as it goes, a large run writes ``batch_size`` at once."""
    remaining = iter(ids)
    size = 1
    while chunk := list(islice(remaining, size)):
        yield chunk
        size = min(size * 2, batch_size)


def lines_batches(entity: Entity, ids: list[int], batch_size: int) -> Iterator[list[BankLine]]:
    """The lines of ``ids`` still waiting, read a batch at a time (``id_batches``)."""
    waiting = selectors.unmatched_credit_lines(entity=entity)
    for chunk in id_batches(ids, batch_size):
        found = waiting.in_bulk(chunk)
        batch = [found[pk] for pk in chunk if pk in found]
        for line in batch:
            line.entity = entity  # the lines are the entity's: no query to fetch it again
        yield batch


@dataclass(frozen=True)
class Decision:
    """What matching decided for one line: its ``result``; ``learned``: the payer's account was
    new to the matcher (taken back with the candidate if the write does not happen)."""

    line_id: int
    result: MatchResult
    learned: bool = False


def applied_before(line_ids: Iterable[int]) -> set[int]:
    """The lines that had an application (a person unapplied it): only a person applies them."""
    return set(
        BankLineApplication.objects.filter(line_id__in=list(line_ids))
        .values_list("line_id", flat=True)
        .distinct()
    )


@dataclass
class _Run:
    """One ``lines_match`` run: the matcher (remaining open amounts, payers learned), the open
    items by id and what was done so far."""

    matcher: Matcher
    items: dict[int, OpenItem]
    outcome: MatchOutcome
    policy: MatchPolicy

    def line_match(self, line: BankLine, *, actor: Actor, confirm: bool) -> None:
        """The per-line path: match ``line``, apply it in its own savepoint (a refused line rolls
        back alone and is suggested with the ledger's reason)."""
        self.outcome.lines += 1
        result = self.matcher.match(selectors.bank_line_data(line))
        if result.chosen is not None and line.applications.exists():
            self._unapplied_before(line, result)
            return
        status = result.status
        if result.chosen is not None:
            try:
                ref = line_apply(line, _application(result.chosen, self.items), actor=actor, confirm=confirm)
            except (ErrorList, RelanceError) as problem:
                self.outcome.refused += 1
                status = SUGGESTED
                _line_record(line, result, self.items, self._suggest, refused=_problem_text(problem))
            else:
                if ref is None:
                    self.outcome.already_applied += 1
                    return
                self.matcher.apply(result.chosen)
                if line.counterparty_iban and result.chosen.customer_id is not None:
                    self.matcher.learn(line.counterparty_iban, result.chosen.customer_id)
                self.outcome.payments.append(ref)
        else:
            _line_record(line, result, self.items, self._suggest)
        self.outcome.statuses[status] += 1

    def decide(self, lines: Iterable[tuple[int, BankLineData]], before: set[int]) -> list[Decision]:
        """Match each line in order, its chosen candidate applied in the matcher ahead of the
        write (so the next line sees what is left) — unless a person unapplied the line before."""
        decisions: list[Decision] = []
        for line_id, data in lines:
            result = self.matcher.match(data)
            chosen = result.chosen
            learned = False
            if chosen is not None and line_id not in before:
                self.matcher.apply(chosen)
                learned = bool(
                    data.counterparty_iban
                    and chosen.customer_id is not None
                    and self.matcher.learn(data.counterparty_iban, chosen.customer_id)
                )
            decisions.append(Decision(line_id, result, learned))
        return decisions

    def batch_apply(self, batch: list[BankLine], *, actor: Actor, confirm: bool) -> bool:
        """The bulk path, inside the batch's transaction: ``decide`` every line of ``batch``,
        then ``write`` them. False, with the matcher and the database as before, when the ledger
        refuses the write: the caller then does the batch line by line."""
        before = applied_before(line.pk for line in batch)
        decisions = self.decide([(line.pk, selectors.bank_line_data(line)) for line in batch], before)
        lines = {line.pk: line for line in batch}
        try:
            self.write(batch, decisions, before, actor=actor, confirm=confirm)
        except _Refused:
            for decision in reversed(decisions):
                if decision.result.chosen is not None and decision.line_id not in before:
                    self._take_back(lines[decision.line_id], decision)
            return False
        return True

    def write(
        self,
        batch: list[BankLine],
        decisions: list[Decision],
        before: set[int],
        *,
        actor: Actor,
        confirm: bool,
    ) -> None:
        """Write a batch as ``decide`` left it: the lines to apply with one ``lines_apply``, the
        lines sharing an invoice with an earlier one after them one by one, the others recorded
        suggested or unmatched. ``_Refused`` (nothing written) when the ledger refuses the bulk
        write; a line matching applied ahead but the write did not (refused alone, or applied
        meanwhile by another run) is taken back from the matcher."""
        lines = {line.pk: line for line in batch}
        bulk: list[tuple[BankLine, LineApplication]] = []
        alone: list[Decision] = []  # shares an invoice with an earlier line
        invoices: set[int] = set()
        for decision in decisions:
            chosen = decision.result.chosen
            if chosen is None or decision.line_id in before:
                continue
            mine = {allocation.invoice_id for allocation in chosen.allocations}
            if mine & invoices:
                alone.append(decision)
            else:
                bulk.append((lines[decision.line_id], _application(chosen, self.items)))
            invoices |= mine
        try:
            refs = lines_apply(bulk, actor=actor, confirm=confirm)
        except (ErrorList, RelanceError) as problem:
            raise _Refused from problem
        later = {decision.line_id for decision in alone}
        records: list[_LineRecord] = []  # the lines suggested or unmatched, written together
        for decision in decisions:
            line, result = lines[decision.line_id], decision.result
            self.outcome.lines += 1
            if result.chosen is None:
                records.append(_LineRecord(line, result))
                self.outcome.statuses[result.status] += 1
            elif line.pk in before:
                records.append(_LineRecord(line, result, note=UNAPPLIED_BEFORE))
                self.outcome.statuses[SUGGESTED] += 1
            elif line.pk not in later:
                ref = refs[line.pk]
                if ref is None:  # applied meanwhile by another run
                    self._take_back(line, decision)
                    self.outcome.already_applied += 1
                else:
                    self.outcome.payments.append(ref)
                    self.outcome.statuses[APPLIED] += 1
        for decision in alone:  # after the lines they share an invoice with, one by one
            line, result = lines[decision.line_id], decision.result
            assert result.chosen is not None
            try:
                ref = line_apply(line, _application(result.chosen, self.items), actor=actor, confirm=confirm)
            except (ErrorList, RelanceError) as problem:
                self._take_back(line, decision)
                self.outcome.refused += 1
                self.outcome.statuses[SUGGESTED] += 1
                records.append(_LineRecord(line, result, refused=_problem_text(problem)))
                continue
            if ref is None:
                self._take_back(line, decision)
                self.outcome.already_applied += 1
            else:
                self.outcome.payments.append(ref)
                self.outcome.statuses[APPLIED] += 1
        _lines_record(records, self.items, self._suggest)

    @property
    def _suggest(self) -> float:
        return self.policy.thresholds.suggest

    def _take_back(self, line: BankLine, decision: Decision) -> None:
        chosen = decision.result.chosen
        assert chosen is not None
        self.matcher.unapply(chosen)
        if decision.learned:
            assert chosen.customer_id is not None
            self.matcher.forget(line.counterparty_iban, chosen.customer_id)

    def _unapplied_before(self, line: BankLine, result: MatchResult) -> None:
        """A person unapplied this line before: only a person applies it again."""
        _line_record(line, result, self.items, self._suggest, note=UNAPPLIED_BEFORE)
        self.outcome.statuses[SUGGESTED] += 1


class _Refused(Exception):
    """The ledger refused a batch's bulk write (nothing of it was written)."""


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


def line_apply(
    line: BankLine, application: LineApplication, *, actor: Actor, confirm: bool, by_person: bool = False
) -> str | None:
    """Apply ``line`` as ``application`` in one transaction (a savepoint inside the caller's):
    ``lines_apply`` of one line. Returns the payment's ref, or None when the line was applied
    meanwhile (left as it is); ``ErrorList`` when the ledger refuses the payment (nothing written)."""
    return lines_apply([(line, application)], actor=actor, confirm=confirm, by_person=by_person)[line.pk]


def lines_apply(
    batch: list[tuple[BankLine, LineApplication]], *, actor: Actor, confirm: bool, by_person: bool = False
) -> dict[int, str | None]:
    """Apply each line of ``batch`` as its application, all in one transaction: the one home of
    applying lines, for one line (``line_apply``: a person's decision, the per-line path) as for a
    batch of the matcher's (``lines_match``'s bulk path). Returns each line's payment ref by line
    id, None for a line applied meanwhile (left as it is).

    The lines are re-read locked and applied only while unmatched or suggested with no application
    in force — and, unless ``by_person`` (a person's decision), not assigned to a customer by a
    person meanwhile. The payments and allocations go through the ledger import's layer in one call
    (``upsert_records``: the same checks as a file import, bulk inserts, one data-version bump);
    if it refuses any payment it raises ``ErrorList`` and nothing of the batch is written. Then, in
    bulk: what a short payment leaves (``residuals_settle_many``), the application rows, the payer
    accounts learned and the lines' status flips; each customer is thanked after the commit (once
    per customer and line). The lines must be one entity's and must not share an invoice (a short
    payment's residual is read from the ledger after the batch)."""
    refs: dict[int, str | None] = {line.pk: None for line, _application in batch}
    if not batch:
        return refs
    entity = batch[0][0].entity
    ids = list(refs)
    with transaction.atomic():
        # Locked, only the status is read again: what a line says (amount, date, payer) never
        # changes once imported, so the caller's rows are written as they are.
        still = BankLine.objects.select_for_update().filter(
            pk__in=ids, status__in=(LineStatus.UNMATCHED, LineStatus.SUGGESTED)
        )
        if not by_person:  # a line a person assigned meanwhile waits for that person
            still = still.filter(assigned_customer__isnull=True)
        waiting = set(still.values_list("pk", flat=True))
        earlier: dict[int, list[tuple[int, Any]]] = {}
        for line_id, customer_id, unapplied_at in BankLineApplication.objects.filter(
            line_id__in=list(waiting)
        ).values_list("line_id", "customer_id", "unapplied_at"):
            earlier.setdefault(line_id, []).append((customer_id, unapplied_at))
        todo: list[tuple[BankLine, LineApplication, str]] = []
        for row, application in batch:
            before = earlier.get(row.pk, [])
            if row.pk not in waiting or any(unapplied_at is None for _customer, unapplied_at in before):
                continue
            assert row.entity_id == entity.pk, "one entity's lines a batch"
            todo.append((row, application, payment_ref(row.pk, len(before))))
        if not todo:
            return refs
        records = [
            PaymentRecord(
                payment_ref=ref,
                customer_ref=application.customer_ref,
                date=row.booking_date,
                currency=row.currency,
                amount=row.amount,
                allocations=application.allocations,
                method=PAYMENT_METHOD,
                source=f"bank line {row.bank_ref}",
            )
            for row, application, ref in todo
        ]
        upsert_records("payments", records, entity=entity)
        announced = wanted(entity.pk, LINE_APPLIED)
        payments_read = Payment.objects.filter(
            entity_id=entity.pk, external_ref__in=[ref for _row, _application, ref in todo]
        )
        if announced or confirm:  # the event and the thank-you name the customer
            payments_read = payments_read.select_related("customer")
        else:  # what the application rows and the short-payment check read
            payments_read = payments_read.only("id", "external_ref", "customer_id")
        payments = {payment.external_ref: payment for payment in payments_read}
        settled = residuals_settle_many(  # a short payment: written off, a deduction or left open
            [(row, payments[ref]) for row, _application, ref in todo],
            settings=selectors.cashapp_settings_for(entity=entity),
            actor=actor,
            confirm=confirm,
        )
        now = timezone.now()
        stamp = connection.ops.adapt_datetimefield_value(now)
        rows: list[tuple[Any, ...]] = []
        learned: dict[tuple[str, int], BankLine] = {}
        emissions: list[Emission] = []
        for row, application, ref in todo:
            payment = payments[ref]
            outcome = settled[row.pk]
            reasons = list(application.reasons)
            if application.residual > 0:
                reasons.append(OVERPAID.format(amount=application.residual, currency=row.currency))
            reasons.extend(outcome.reasons)
            confidence = None if application.confidence is None else round(application.confidence, 4)
            allocations = [
                {"invoice_ref": a.invoice_ref, "amount": selectors.money_text(a.amount, row.currency)}
                for a in application.allocations
            ]
            rows.append(
                (
                    row.pk,
                    payment.pk,
                    ref,
                    payment.customer_id,
                    json.dumps(allocations),
                    application.how,
                    confidence,
                    json.dumps(reasons),
                    application.residual,
                    application.shortfall,
                    outcome.action,
                    json.dumps(outcome.records()),
                    actor.user_id,
                )
            )
            if row.counterparty_iban:
                key = (selectors.payer_account_key(row.counterparty_iban), payment.customer_id)
                learned.setdefault(key, row)
            row.status = LineStatus.APPLIED
            row.confidence = confidence
            row.reasons = reasons
            row.suggestions = []
            row.updated_at = now
            refs[row.pk] = ref
            if announced:
                emissions.append(
                    Emission(
                        LINE_APPLIED,
                        {
                            "line_id": row.pk,
                            "amount": row.amount,
                            "currency": row.currency,
                            "booked_on": row.booking_date,
                            "payment": ref,
                            "invoices": [a.invoice_ref for a in application.allocations],
                        },
                        customer_id=payment.customer_id,
                        customer=customer_ref(payment.customer),
                    )
                )
            # Thanked once per customer and line: an application redone for the same payer is not news.
            if confirm and payment.customer_id not in {customer for customer, _at in earlier.get(row.pk, [])}:
                invoice_refs = [a.invoice_ref for a in application.allocations]
                transaction.on_commit(partial(_thank, payment, invoice_refs))
        # Rows of values, not model instances through ``bulk_create``: building and compiling an
        # instance a line cost more than matching it (docs/benchmarks.md, "100,000 lines × 1M").
        insert_rows(
            BankLineApplication,
            [
                *("line_id", "payment_id", "payment_ref", "customer_id", "allocations", "how"),
                *("confidence", "reasons", "residual", "shortfall", "residual_action", "residual_records"),
                "applied_by_user_id",
            ],
            rows,
            constants={
                "entity_id": entity.pk,
                "applied_at": stamp,
                "applied_by": actor.label,
                "applied_by_kind": actor.kind.value,
                "unapplied_by": "",
                "unapplied_reason": "",
                "created_at": stamp,
                "updated_at": stamp,
            },
        )
        emit_many(emissions, entity=entity, at=now)
        _payers_learn(entity, learned, actor)
        _lines_state_write([row for row, _application, _ref in todo])
    return refs


def _payers_learn(entity: Entity, learned: dict[tuple[str, int], BankLine], actor: Actor) -> None:
    """The payers' accounts the applied lines teach (``KnownPayerAccount``), those not known yet."""
    if not learned:
        return
    known = set(
        KnownPayerAccount.objects.filter(
            entity_id=entity.pk, account_iban__in={account for account, _customer in learned}
        ).values_list("account_iban", "customer_id")
    )
    KnownPayerAccount.objects.bulk_create(
        [
            KnownPayerAccount(
                entity_id=entity.pk,
                account_iban=account,
                customer_id=customer_id,
                learned_from=line,
                learned_by=actor.label,
            )
            for (account, customer_id), line in learned.items()
            if (account, customer_id) not in known
        ],
        batch_size=BULK_ROWS,
        ignore_conflicts=True,  # another run learned it meanwhile
    )


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


@dataclass(frozen=True)
class _LineRecord:
    """A line to store suggested or unmatched, as the matcher left it (``_lines_record``)."""

    line: BankLine
    result: MatchResult
    refused: str = ""
    note: str = ""


def _line_record(
    line: BankLine,
    result: MatchResult,
    items: dict[int, OpenItem],
    thresholds_suggest: float,
    *,
    refused: str = "",
    note: str = "",
) -> None:
    """Store one line suggested or unmatched (``_lines_record`` of one line)."""
    _lines_record([_LineRecord(line, result, refused, note)], items, thresholds_suggest)


def _line_fields(
    record: _LineRecord, items: dict[int, OpenItem], thresholds_suggest: float
) -> dict[str, Any]:
    """A line's status, confidence, reasons and suggestions: suggested (its ranked candidates,
    best first) or unmatched (the reasons)."""
    line, result, refused, note = record.line, record.result, record.refused, record.note
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
    return {
        "status": status,
        "confidence": None if confidence is None else round(confidence, 4),
        "reasons": reasons,
        "suggestions": suggestions,
    }


def _lines_record(records: list[_LineRecord], items: dict[int, OpenItem], thresholds_suggest: float) -> None:
    """Store lines suggested or unmatched, leaving a line applied meanwhile as it is: one
    filtered UPDATE for one line; for a batch, the lines still unmatched or suggested locked in
    one query and written with one ``bulk_update`` a 500 (a batch's own statement a line cost
    more than matching it)."""
    if not records:
        return
    now = timezone.now()
    waiting = (LineStatus.UNMATCHED, LineStatus.SUGGESTED)
    if len(records) == 1:
        record = records[0]
        BankLine.objects.filter(pk=record.line.pk, status__in=waiting).update(
            **_line_fields(record, items, thresholds_suggest), updated_at=now
        )
        return
    still = set(
        BankLine.objects.select_for_update()
        .filter(pk__in=[record.line.pk for record in records], status__in=waiting)
        .values_list("pk", flat=True)
    )
    _lines_state_write(
        [
            BankLine(pk=record.line.pk, updated_at=now, **_line_fields(record, items, thresholds_suggest))
            for record in records
            if record.line.pk in still
        ]
    )


LINE_STATE = ("status", "confidence", "reasons", "suggestions", "updated_at")


def _lines_state_write(rows: list[BankLine]) -> None:
    """Write the lines' status, confidence, reasons, suggestions and time as they are on ``rows``:
    one UPDATE by id, executed for every row (``executemany``; PostgreSQL pipelines it). Django's
    ``bulk_update`` builds a CASE of every row per column, and building it cost more CPU than
    matching the lines (docs/benchmarks.md, "Applying 100,000 lines"). The values are adapted as
    the model's fields would (JSON by the backend's adapter, the instant once per batch), without
    the field machinery a value: that was a second per 20,000 lines."""
    if not rows:
        return
    ops = connection.ops
    instants: dict[Any, Any] = {}

    def instant(at: Any) -> Any:
        if at not in instants:
            instants[at] = ops.adapt_datetimefield_value(at)
        return instants[at]

    update_rows(
        BankLine,
        list(LINE_STATE),
        [
            (
                str(row.status),
                row.confidence,
                ops.adapt_json_value(row.reasons, None),
                ops.adapt_json_value(row.suggestions, None),
                instant(row.updated_at),
                row.pk,
            )
            for row in rows
        ],
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

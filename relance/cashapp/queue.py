"""The exception queue's reads: the entity's credit lines a person works (unmatched and suggested;
applied ones behind the status filter, to unapply), filtered, counted per status, and each line
with its top candidates in words.

The writes are ``relance.cashapp.decisions`` (accept, split, assign, unapply); the page is the
workspace's (``relance/workspace/cash_queue.py``). Only credits are here: a debit is never matched,
a reversal is the bank taking money back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet

from relance.cashapp.models import BankAccount, BankLine, BankLineApplication, LineStatus
from relance.ledger.models import Allocation, Customer, Entity

#: The statuses the queue shows, in the order of its counts; "open" is the first two together.
QUEUE_STATUSES = (LineStatus.UNMATCHED.value, LineStatus.SUGGESTED.value, LineStatus.APPLIED.value)
OPEN = "open"
OPEN_STATUSES = (LineStatus.UNMATCHED.value, LineStatus.SUGGESTED.value)
#: Candidates shown per line (the matcher keeps up to ``MatchPolicy.max_candidates``).
TOP_CANDIDATES = 3
#: Customers listed when a name typed to assign a line matches several.
CUSTOMER_MATCHES = 5


@dataclass(frozen=True)
class QueueFilters:
    """What the queue is narrowed to. Amounts in the line's currency; age in days since booking."""

    status: str = OPEN  # "open" (unmatched and suggested), or one of QUEUE_STATUSES
    currency: str = ""
    account_id: int | None = None  # a BankAccount's id
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    min_age: int | None = None
    max_age: int | None = None

    def without_status(self) -> QueueFilters:
        return QueueFilters(
            currency=self.currency,
            account_id=self.account_id,
            min_amount=self.min_amount,
            max_amount=self.max_amount,
            min_age=self.min_age,
            max_age=self.max_age,
        )


@dataclass(frozen=True)
class CandidateView:
    """One ranked candidate of a suggested line, as stored by matching, for people."""

    index: int  # its place in the line's ``suggestions`` (what accepting it names)
    customer: Customer | None
    customer_ref: str
    allocations: tuple[tuple[str, Decimal], ...]  # (invoice ref, amount)
    confidence: float
    reasons: tuple[str, ...]
    residual: Decimal
    shortfall: Decimal


@dataclass(frozen=True)
class QueueLine:
    line: BankLine
    age: int  # days since booking
    candidates: tuple[CandidateView, ...]
    application: BankLineApplication | None  # the application in force of an applied line
    allocations: tuple[tuple[str, Decimal], ...] = field(default=())  # what an applied line paid


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return Decimal(0)


def _credits(*, entity: Entity) -> QuerySet[BankLine]:
    return BankLine.objects.filter(
        entity=entity, direction="credit", is_reversal=False, status__in=QUEUE_STATUSES
    )


def _filtered(lines: QuerySet[BankLine], filters: QueueFilters, today: date) -> QuerySet[BankLine]:
    if filters.currency:
        lines = lines.filter(currency=filters.currency)
    if filters.account_id is not None:
        lines = lines.filter(account_id=filters.account_id)
    if filters.min_amount is not None:
        lines = lines.filter(amount__gte=filters.min_amount)
    if filters.max_amount is not None:
        lines = lines.filter(amount__lte=filters.max_amount)
    if filters.min_age is not None:
        lines = lines.filter(booking_date__lte=today - timedelta(days=filters.min_age))
    if filters.max_age is not None:
        lines = lines.filter(booking_date__gte=today - timedelta(days=filters.max_age))
    return lines


def queue_lines(*, entity: Entity, filters: QueueFilters, today: date) -> QuerySet[BankLine]:
    """The entity's credit lines in the queue under ``filters``, oldest booking first (the longer
    cash waits unapplied, the more it matters), each with its account and application in force."""
    lines = _filtered(_credits(entity=entity), filters, today)
    lines = lines.filter(status__in=OPEN_STATUSES if filters.status == OPEN else (filters.status,))
    applications = BankLineApplication.objects.filter(unapplied_at__isnull=True).select_related(
        "customer", "payment"
    )
    return (
        lines.select_related("account", "assigned_customer")
        .prefetch_related(Prefetch("applications", queryset=applications, to_attr="applications_in_force"))
        .order_by("booking_date", "id")
    )


def queue_counts(*, entity: Entity, filters: QueueFilters, today: date) -> dict[str, int]:
    """Lines per status under the filters other than the status (one query); ``open`` is the
    unmatched and suggested together."""
    rows = (
        _filtered(_credits(entity=entity), filters.without_status(), today)
        .values("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = dict.fromkeys(QUEUE_STATUSES, 0)
    counts.update({row["status"]: row["n"] for row in rows})
    counts[OPEN] = counts[LineStatus.UNMATCHED] + counts[LineStatus.SUGGESTED]
    return counts


def queue_choices(*, entity: Entity) -> dict[str, list[Any]]:
    """The filter's choices: the currencies of the entity's credit lines and its bank accounts."""
    currencies = sorted(set(_credits(entity=entity).values_list("currency", flat=True).order_by()))
    accounts = list(BankAccount.objects.filter(entity=entity).order_by("account_id", "currency"))
    return {"currencies": currencies, "accounts": accounts}


def queue_page_lines(lines: Iterable[BankLine], *, entity: Entity, today: date) -> list[QueueLine]:
    """The lines of one page with their top candidates and, when applied, what they paid: the
    candidates' customers in one query, the applied lines' allocations in one more."""
    lines = list(lines)
    refs = {
        str(suggestion.get("customer_ref"))
        for line in lines
        for suggestion in (line.suggestions or [])[:TOP_CANDIDATES]
        if suggestion.get("customer_ref")
    }
    customers = {c.external_ref: c for c in Customer.objects.filter(entity=entity, external_ref__in=refs)}
    applications = {line.pk: (getattr(line, "applications_in_force", None) or [None])[0] for line in lines}
    payment_ids = [app.payment_id for app in applications.values() if app is not None]
    paid: dict[int, list[tuple[str, Decimal]]] = {}
    for payment_id, ref, amount in (
        Allocation.objects.filter(payment_id__in=payment_ids)
        .order_by("id")
        .values_list("payment_id", "invoice__external_ref", "amount")
    ):
        paid.setdefault(payment_id, []).append((ref, amount))
    result = []
    for line in lines:
        candidates = tuple(
            CandidateView(
                index=index,
                customer=customers.get(str(suggestion.get("customer_ref") or "")),
                customer_ref=str(suggestion.get("customer_ref") or ""),
                allocations=tuple(
                    (str(a.get("invoice_ref", "")), _decimal(a.get("amount")))
                    for a in suggestion.get("allocations") or []
                ),
                confidence=float(suggestion.get("confidence") or 0),
                reasons=tuple(str(reason) for reason in suggestion.get("reasons") or []),
                residual=_decimal(suggestion.get("residual")),
                shortfall=_decimal(suggestion.get("shortfall")),
            )
            for index, suggestion in enumerate((line.suggestions or [])[:TOP_CANDIDATES])
        )
        application = applications[line.pk]
        result.append(
            QueueLine(
                line=line,
                age=(today - line.booking_date).days,
                candidates=candidates,
                application=application,
                allocations=tuple(paid.get(application.payment_id, [])) if application else (),
            )
        )
    return result


def queue_line_get(*, entity_ids: Iterable[int], line_id: int) -> BankLine | None:
    """A credit line of the queue in one of ``entity_ids`` (the entities the user sees); None for
    a line of another entity, a debit or no line at all: the caller answers them alike (404)."""
    return _credits_of(entity_ids).select_related("entity", "account").filter(pk=line_id).first()


def _credits_of(entity_ids: Iterable[int]) -> QuerySet[BankLine]:
    return BankLine.objects.filter(
        entity_id__in=list(entity_ids), direction="credit", is_reversal=False, status__in=QUEUE_STATUSES
    )


def customer_matches(customers: QuerySet[Customer], text: str) -> list[Customer]:
    """The customers a person means by ``text`` (a reference, or part of a name, accents and case
    aside), among ``customers`` (already scoped to what the user sees): the one whose reference it
    is, else up to ``CUSTOMER_MATCHES`` whose name or reference contains it."""
    from relance.core.text import fold

    text = text.strip()
    if not text:
        return []
    exact = list(customers.filter(external_ref__iexact=text)[:1])
    if exact:
        return exact
    folded = fold(text)
    return list(
        customers.filter(Q(search_text__contains=folded) | Q(external_ref__icontains=text)).order_by(
            "name", "id"
        )[:CUSTOMER_MATCHES]
    )

"""The data-quality report of an entity, its fix list, and the monitoring check after an import.

Reads: ``customer_scores`` (every customer's score in a few grouped queries), ``quality_report``
(the entity's score and problem counts), ``fix_list`` (the customers with problems, the most
money at stake first). Write: ``quality_check`` (validate what is new, score, remember the
problems and say which are new since the last check: the monitoring step).
"""

from __future__ import annotations

import contextlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from relance.core.rates import MissingRate
from relance.ledger.models import Allocation, Contact, Customer, Entity, Invoice, InvoiceStatus
from relance.quality.contacts_services import CONTACT_ORDER, contacts_check_rows
from relance.quality.models import QualityCheck, QualityProblem
from relance.quality.score import (
    MONITORED,
    PROBLEM_LABELS,
    ContactFacts,
    CustomerFacts,
    CustomerScore,
    customer_score,
)

ZERO = Decimal("0")


def _facts(
    entity: Entity,
    customer_ids: Iterable[int] | None = None,
    contacts_by_customer: dict[int, list[ContactFacts]] | None = None,
) -> list[CustomerFacts]:
    """Each customer's facts for the score; ``contacts_by_customer``: the contacts the check has
    just read and checked (``contacts_check_rows``), not read again."""
    customers = Customer.objects.filter(entity=entity)
    contacts = Contact.objects.filter(customer__entity=entity)
    if customer_ids is not None:
        ids = list(customer_ids)
        customers, contacts = customers.filter(pk__in=ids), contacts.filter(customer_id__in=ids)
    by_customer = contacts_by_customer
    if by_customer is None:
        by_customer = defaultdict(list)
        for row in (
            contacts.order_by(*CONTACT_ORDER)
            .values_list(
                "customer_id",
                "email",
                "phone",
                "postal_address",
                "email_status",
                "phone_status",
                "address_status",
                "email_reason",
                "phone_reason",
                "address_reason",
                "confirmed_on",
            )
            .iterator(chunk_size=5000)
        ):
            by_customer[row[0]].append(ContactFacts(*row[1:]))
    return [
        CustomerFacts(pk, country or entity.country, tax_id, registration_id, tuple(by_customer.get(pk, ())))
        for pk, country, tax_id, registration_id in customers.values_list(
            "id", "country", "tax_id", "registration_id"
        ).iterator(chunk_size=5000)
    ]


def open_amounts(
    entity: Entity, as_of: date, customer_ids: Iterable[int] | None = None
) -> dict[int, Decimal]:
    """Each customer's open amount in the entity's currency as of ``as_of`` (other currencies at
    the entity's rates when it has them, else as they are): what is at stake if reminders cannot
    reach them. Two grouped queries, not one subquery per invoice."""
    invoices = Invoice.objects.filter(entity=entity, status=InvoiceStatus.OPEN, issue_date__lte=as_of)
    allocations = Allocation.objects.filter(
        invoice__entity=entity,
        invoice__status=InvoiceStatus.OPEN,
        invoice__issue_date__lte=as_of,
        date__lte=as_of,
    )
    if customer_ids is not None:
        ids = list(customer_ids)
        invoices, allocations = (
            invoices.filter(customer_id__in=ids),
            allocations.filter(invoice__customer_id__in=ids),
        )
    owed: dict[tuple[int, str], Decimal] = defaultdict(lambda: ZERO)
    for customer_id, currency, total in invoices.values_list("customer_id", "currency").annotate(
        t=Sum("amount")
    ):
        owed[(customer_id, currency)] += total or ZERO
    for customer_id, currency, total in allocations.values_list(
        "invoice__customer_id", "invoice__currency"
    ).annotate(t=Sum("amount")):
        owed[(customer_id, currency)] -= total or ZERO
    from relance.ledger.selectors import rate_table

    rates = rate_table(entity=entity, on=as_of)
    result: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for (customer_id, currency), amount in owed.items():
        if amount <= 0:
            continue
        if currency != entity.currency:
            # no rate: ranked by the amount as it is (the fix list's order, not an accounting figure)
            with contextlib.suppress(MissingRate):
                amount = rates.convert(amount, currency, entity.currency, as_of)
        result[customer_id] += amount
    return dict(result)


def customer_scores(
    *, entity: Entity, today: date, customer_ids: Iterable[int] | None = None
) -> dict[int, CustomerScore]:
    return {facts.customer_id: customer_score(facts, today) for facts in _facts(entity, customer_ids)}


def customer_quality(*, customer: Customer, today: date) -> CustomerScore:
    """One customer's score and problems (the 360's card)."""
    return customer_scores(entity=customer.entity, today=today, customer_ids=[customer.pk])[customer.pk]


@dataclass(frozen=True)
class QualityReport:
    entity: str
    as_of: date
    customers: int
    score: int
    completeness: float
    validity: float
    freshness: float
    blocking_customers: int
    blocking_open_amount: Decimal
    currency: str
    problems: dict[str, int]
    contact_statuses: dict[str, dict[str, int]]
    last_check: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "as_of": self.as_of.isoformat(),
            "customers": self.customers,
            "score": self.score,
            "completeness": round(self.completeness, 3),
            "validity": round(self.validity, 3),
            "freshness": round(self.freshness, 3),
            "blocking_customers": self.blocking_customers,
            "blocking_open_amount": {
                "exact_amount": str(self.blocking_open_amount),
                "currency": self.currency,
            },
            "problems": [
                {"code": code, "label": PROBLEM_LABELS.get(code, code), "customers": count}
                for code, count in sorted(self.problems.items(), key=lambda item: (-item[1], item[0]))
            ],
            "contact_statuses": self.contact_statuses,
            "last_check": self.last_check,
        }


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def quality_report(
    *, entity: Entity, today: date, scores: dict[int, CustomerScore] | None = None
) -> QualityReport:
    scores = customer_scores(entity=entity, today=today) if scores is None else scores
    problems: Counter[str] = Counter()
    for item in scores.values():
        problems.update({problem.code for problem in item.problems})
    blocking = [pk for pk, item in scores.items() if item.blocking]
    amounts = open_amounts(entity, today, blocking) if blocking else {}
    statuses: dict[str, dict[str, int]] = {}
    contacts = Contact.objects.filter(customer__entity=entity)
    for part, value_field, status_field in (
        ("email", "email", "email_status"),
        ("phone", "phone", "phone_status"),
        ("address", "postal_address", "address_status"),
    ):
        rows = contacts.exclude(**{value_field: ""}).values_list(status_field).annotate(n=Count("id"))
        statuses[part] = {status: int(n) for status, n in rows}
    last = QualityCheck.objects.filter(entity=entity).first()
    return QualityReport(
        entity=entity.name,
        as_of=today,
        customers=len(scores),
        score=round(_mean([item.score for item in scores.values()])),
        completeness=_mean([item.completeness for item in scores.values()]),
        validity=_mean([item.validity for item in scores.values()]),
        freshness=_mean([item.freshness for item in scores.values()]),
        blocking_customers=len(blocking),
        blocking_open_amount=sum(amounts.values(), ZERO),
        currency=entity.currency,
        problems=dict(problems),
        contact_statuses=statuses,
        last_check=(
            {
                "at": last.at.isoformat(),
                "trigger": last.trigger,
                "new_problems": last.new_problems,
                "resolved": last.resolved,
            }
            if last
            else None
        ),
    )


@dataclass(frozen=True)
class FixListRow:
    customer_id: int
    external_ref: str
    name: str
    open_amount: Decimal
    score: CustomerScore


def fix_list(
    *,
    entity: Entity,
    today: date,
    limit: int | None = 200,
    problem: str = "",
    scores: dict[int, CustomerScore] | None = None,
) -> list[FixListRow]:
    """The customers with a problem (``problem``: only that one), the most open amount at stake
    first; among equals, the lowest score first. ``scores``: a check's, when it has just run."""
    scores = customer_scores(entity=entity, today=today) if scores is None else scores
    wanted = {
        pk: item
        for pk, item in scores.items()
        if any(p.code in MONITORED and (not problem or p.code == problem) for p in item.problems)
    }
    amounts = open_amounts(entity, today, wanted)
    order = sorted(wanted, key=lambda pk: (-amounts.get(pk, ZERO), wanted[pk].score, pk))
    if limit is not None:
        order = order[:limit]
    names = {
        pk: (ref, name)
        for pk, ref, name in Customer.objects.filter(pk__in=order).values_list("id", "external_ref", "name")
    }
    return [FixListRow(pk, names[pk][0], names[pk][1], amounts.get(pk, ZERO), wanted[pk]) for pk in order]


# ---------------------------------------------------------------------------------------- monitoring


@dataclass(frozen=True)
class CheckOutcome:
    check: QualityCheck
    new: list[tuple[str, str, str]] = field(default_factory=list)  # (customer ref, code, detail)
    #: Every customer's score as the check computed it: the report and the fix list that follow
    #: reuse it (``quality_report(scores=…)``) instead of scoring again.
    scores: dict[int, CustomerScore] = field(default_factory=dict, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.check.at.isoformat(),
            "trigger": self.check.trigger,
            "customers": self.check.customers,
            "score": self.check.score,
            "problems": self.check.problems,
            "new_problems": self.check.new_problems,
            "resolved": self.check.resolved,
            "contacts_checked": self.check.contacts_checked,
            "new": [
                {"customer_ref": ref, "code": code, "detail": detail} for ref, code, detail in self.new[:100]
            ],
        }

    def summary(self) -> str:
        check = self.check
        return (
            f"Data quality: score {check.score}/100, {check.problems} problems "
            f"({check.new_problems} new, {check.resolved} resolved)."
        )


def quality_check(
    *,
    entity: Entity,
    trigger: str,
    today: date | None = None,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> CheckOutcome:
    """The monitoring step: check the contacts not checked yet, score every customer, and keep
    the monitored problems, telling which are new since the last check and which were resolved."""
    at = now or timezone.now()
    today = today or timezone.localdate(at)
    validated, contacts = contacts_check_rows(entity=entity, progress=progress)
    scores = {facts.customer_id: customer_score(facts, today) for facts in _facts(entity, None, contacts)}
    found: dict[tuple[int, str], str] = {}
    for pk, item in scores.items():
        for problem in item.problems:
            if problem.code in MONITORED:
                found.setdefault((pk, problem.code), problem.detail)
    with transaction.atomic():
        known = set(QualityProblem.objects.filter(entity=entity).values_list("customer_id", "code"))
        new_keys = [key for key in found if key not in known]
        gone = known - set(found)
        if gone:
            for start in range(0, len(gone), 500):
                chunk = list(gone)[start : start + 500]
                condition = Q()
                for customer_id, code in chunk:
                    condition |= Q(customer_id=customer_id, code=code)
                QualityProblem.objects.filter(condition, entity=entity).delete()
        QualityProblem.objects.bulk_create(
            [
                QualityProblem(
                    entity=entity, customer_id=pk, code=code, detail=found[(pk, code)][:300], first_seen=at
                )
                for pk, code in new_keys
            ],
            batch_size=2000,
        )
        check = QualityCheck.objects.create(
            entity=entity,
            at=at,
            trigger=trigger[:40],
            customers=len(scores),
            score=round(_mean([item.score for item in scores.values()])),
            problems=len(found),
            new_problems=len(new_keys),
            resolved=len(gone),
            contacts_checked=validated.checked,
        )
    refs = dict(
        Customer.objects.filter(pk__in={pk for pk, _ in new_keys[:100]}).values_list("id", "external_ref")
    )
    new = [(refs.get(pk, str(pk)), code, found[(pk, code)]) for pk, code in new_keys]
    return CheckOutcome(check=check, new=new, scores=scores)

"""Reads of the ledger. Open amounts are derived here from dated allocations, as of any date."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import DecimalField, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from relance.core.errors import NotFound
from relance.core.text import fold
from relance.ledger.models import (
    Allocation,
    CreditNote,
    Customer,
    CustomerAlias,
    Entity,
    ExchangeRate,
    Invoice,
    InvoiceDocument,
    InvoiceStatus,
    Payment,
    VersionScope,
)

if TYPE_CHECKING:
    from relance.core.rates import RateTable

ZERO = Value(Decimal(0), output_field=DecimalField(max_digits=18, decimal_places=4))
# Amounts carry at most 4 decimals, so anything open owes at least 0.0001. SQLite computes
# ``amount − allocated`` in floating point (1e-14 residues): compare against half a unit, not 0.
STILL_OWED = Decimal("0.00005")
MONEY = DecimalField(max_digits=18, decimal_places=4)


def allocated_total(field: str, as_of: date | None = None) -> Coalesce:
    """Σ allocations of the outer row (``field`` = "invoice", "payment" or "credit_note") dated ≤ ``as_of``."""
    allocations = Allocation.objects.filter(**{field: OuterRef("pk")})
    if as_of is not None:
        allocations = allocations.filter(date__lte=as_of)
    total = allocations.values(field).annotate(total=Sum("amount")).values("total")
    return Coalesce(Subquery(total, output_field=DecimalField(max_digits=18, decimal_places=4)), ZERO)


def entity_list() -> QuerySet[Entity]:
    return Entity.objects.all()


def entity_resolve(*, name: str | None = None) -> Entity:
    """The entity called ``name``, or the only entity when no name is given."""
    if name:
        try:
            return Entity.objects.get(name=name)
        except Entity.DoesNotExist:
            known = ", ".join(Entity.objects.values_list("name", flat=True)) or "none"
            raise NotFound(f"no entity named {name!r} (known: {known})") from None
    entities = list(Entity.objects.all()[:2])
    if not entities:
        raise NotFound("no creditor entity yet: run `relance init --entity NAME` first")
    if len(entities) > 1:
        raise NotFound("several entities exist: say which one with --entity NAME")
    return entities[0]


def not_void_q(as_of: date | None, prefix: str = "") -> Q:
    """Not void as of ``as_of``: open, or voided after that day (so a past date reads the same)."""
    open_now = Q(**{f"{prefix}status": InvoiceStatus.OPEN})
    if as_of is None:
        return open_now
    return open_now | Q(**{f"{prefix}voided_on__gt": as_of})


def invoice_list_with_open(*, entity: Entity, as_of: date | None = None) -> QuerySet[Any]:
    """Invoices issued by ``as_of`` (all when None), annotated with ``allocated`` and ``open_amount``."""
    invoices = Invoice.objects.filter(not_void_q(as_of), entity=entity)
    if as_of is not None:
        invoices = invoices.filter(issue_date__lte=as_of)
    return invoices.annotate(
        allocated=allocated_total("invoice", as_of),
        open_amount=F("amount") - F("allocated"),
    )


def customer_invoices_with_open(
    *, entity_id: int, customer_ids: Iterable[int], as_of: date | None
) -> QuerySet[Any]:
    """The customers' rows of ``invoice_list_with_open``, with the same ``allocated`` and
    ``open_amount``, the allocations summed by one grouped join instead of a subquery per invoice.

    For a customer with thousands of open invoices, filtered on ``open_amount``, that is a few
    milliseconds on PostgreSQL instead of a hundred or more (the subquery runs for the SELECT and
    again for the WHERE): the portal's overview and items (benchmarks/bench_portal.py) and
    ``owed_summary``. ``open_amount`` is an aggregate here: filter on it, do not aggregate it again.
    """
    invoices = Invoice.objects.filter(
        not_void_q(as_of), entity_id=entity_id, customer_id__in=list(customer_ids)
    )
    allocations = Q()
    if as_of is not None:
        invoices = invoices.filter(issue_date__lte=as_of)
        allocations = Q(allocations__date__lte=as_of)
    return invoices.annotate(
        allocated=Coalesce(Sum("allocations__amount", filter=allocations), ZERO, output_field=MONEY),
        open_amount=F("amount") - F("allocated"),
    )


def invoice_open_amount(*, invoice: Invoice, as_of: date | None = None) -> Decimal:
    allocations = invoice.allocations.all()
    if as_of is not None:
        allocations = allocations.filter(date__lte=as_of)
    allocated = allocations.aggregate(total=Sum("amount"))["total"] or Decimal(0)
    return invoice.amount - allocated


def payment_unallocated(*, payment: Payment, as_of: date | None = None) -> Decimal:
    allocations = payment.allocations.all()
    if as_of is not None:
        allocations = allocations.filter(date__lte=as_of)
    return payment.amount - (allocations.aggregate(total=Sum("amount"))["total"] or Decimal(0))


def credit_note_unallocated(*, credit_note: CreditNote, as_of: date | None = None) -> Decimal:
    allocations = credit_note.allocations.all()
    if as_of is not None:
        allocations = allocations.filter(date__lte=as_of)
    return credit_note.amount - (allocations.aggregate(total=Sum("amount"))["total"] or Decimal(0))


@dataclass(frozen=True)
class LedgerTotals:
    """Per-currency totals of the ledger as of a date (see CONTEXT.md: open item)."""

    currency: str
    invoiced: Decimal
    credited: Decimal
    cash_received: Decimal
    cash_allocated: Decimal
    open_invoices: Decimal
    open_credits: Decimal

    @property
    def unapplied_cash(self) -> Decimal:
        return self.cash_received - self.cash_allocated

    @property
    def open_items(self) -> Decimal:
        """Open invoices less open credit notes: equals invoiced − credited − allocated cash."""
        return self.open_invoices - self.open_credits


def ledger_totals(*, entity: Entity, as_of: date | None = None) -> dict[str, LedgerTotals]:
    def by_currency(queryset: QuerySet, field: str = "amount") -> dict[str, Decimal]:
        rows = queryset.values("currency").annotate(total=Sum(field))
        return {row["currency"]: row["total"] or Decimal(0) for row in rows}

    def dated(queryset: QuerySet, field: str) -> QuerySet:
        return queryset if as_of is None else queryset.filter(**{f"{field}__lte": as_of})

    invoices = dated(Invoice.objects.filter(not_void_q(as_of), entity=entity), "issue_date")
    credit_notes = dated(CreditNote.objects.filter(entity=entity), "date")
    payments = dated(Payment.objects.filter(entity=entity), "date")
    allocations = dated(Allocation.objects.filter(not_void_q(as_of, "invoice__"), entity=entity), "date")

    invoiced = by_currency(invoices)
    credited = by_currency(credit_notes)
    received = by_currency(payments)
    cash_allocated = {
        row["invoice__currency"]: row["total"]
        for row in allocations.filter(payment__isnull=False)
        .values("invoice__currency")
        .annotate(total=Sum("amount"))
    }
    credit_allocated = {
        row["invoice__currency"]: row["total"]
        for row in allocations.filter(credit_note__isnull=False)
        .values("invoice__currency")
        .annotate(total=Sum("amount"))
    }
    zero = Decimal(0)
    result = {}
    for currency in sorted(set(invoiced) | set(credited) | set(received)):
        allocated_cash = cash_allocated.get(currency, zero)
        allocated_credit = credit_allocated.get(currency, zero)
        result[currency] = LedgerTotals(
            currency=currency,
            invoiced=invoiced.get(currency, zero),
            credited=credited.get(currency, zero),
            cash_received=received.get(currency, zero),
            cash_allocated=allocated_cash,
            open_invoices=invoiced.get(currency, zero) - allocated_cash - allocated_credit,
            open_credits=credited.get(currency, zero) - allocated_credit,
        )
    return result


def currencies_in_use(*, entity: Entity, as_of: date) -> set[str]:
    """The currencies of the entity's invoices issued by ``as_of``."""
    return set(
        Invoice.objects.filter(entity=entity, issue_date__lte=as_of)
        .values_list("currency", flat=True)
        .order_by()  # the model's default ordering would join DISTINCT (one row per invoice)
        .distinct()
    )


def customer_group_roots(*, customer_ids: set[int]) -> dict[int, int]:
    """Each customer's group account: its parent, or itself. Groups have one level, so a payment
    may settle any invoice whose customer has the same root."""
    parents = dict(Customer.objects.filter(pk__in=customer_ids).values_list("pk", "parent_id"))
    return {customer_id: parents.get(customer_id) or customer_id for customer_id in customer_ids}


def customer_get(*, entity: Entity, external_ref: str) -> Customer:
    """The customer ``external_ref`` names: its own ref, or an alias (a merged customer's ref)."""
    try:
        return Customer.objects.get(entity=entity, external_ref=external_ref)
    except Customer.DoesNotExist:
        aliased = customer_aliases(entity_id=entity.pk, refs=[external_ref])
        if external_ref in aliased:
            return Customer.objects.get(pk=aliased[external_ref])
        raise NotFound(f"no customer {external_ref!r} in entity {entity.name}") from None


def customer_aliases(*, entity_id: int, refs: Iterable[str] | None = None) -> dict[str, int]:
    """Alias ref → the id of the customer it names (``CustomerAlias``: the refs of merged
    customers), for ``refs`` or for the whole entity. The one place a ref is resolved beyond
    ``Customer.external_ref``: imports and the API's upserts call it (through
    ``customer_ids_by_ref``) so rows sent under a merged ref land on the survivor."""
    rows = CustomerAlias.objects.filter(entity_id=entity_id)
    if refs is None:
        return dict(rows.values_list("external_ref", "customer_id"))
    found: dict[str, int] = {}
    wanted = sorted(set(refs))
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found.update(rows.filter(external_ref__in=chunk).values_list("external_ref", "customer_id"))
    return found


def customer_ids_by_ref(*, entity_id: int, refs: Iterable[str]) -> dict[str, int]:
    """Ref → customer id for the ``refs`` that name a customer, by its own ref or an alias."""
    wanted = sorted(set(refs))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found.update(
            Customer.objects.filter(entity_id=entity_id, external_ref__in=chunk).values_list(
                "external_ref", "id"
            )
        )
    missing = [ref for ref in wanted if ref not in found]
    if missing:
        found.update(customer_aliases(entity_id=entity_id, refs=missing))
    return found


def customer_list_with_balances(
    *,
    entity: Entity,
    as_of: date,
    search: str = "",
    segment: str = "",
    only_open: bool = False,
    currency: str | None = None,
) -> QuerySet[Any]:
    """Customers annotated with ``open_balance`` and ``overdue_balance`` as of ``as_of``.

    Balances count the invoices in the customer's own currency only, or in ``currency`` when
    given (the dashboard's drill-down): amounts in different currencies are never added
    (invoices in other currencies show on the customer page).
    """
    from django.db.models import Case, When

    invoices = invoice_list_with_open(entity=entity, as_of=as_of).filter(
        customer=OuterRef("pk"), currency=currency if currency else OuterRef("currency")
    )
    open_sum = invoices.values("customer").annotate(total=Sum("open_amount")).values("total")
    overdue_sum = (
        invoices.filter(due_date__lt=as_of)
        .values("customer")
        .annotate(total=Sum(Case(When(open_amount__gt=STILL_OWED, then=F("open_amount")), default=ZERO)))
        .values("total")
    )
    money = DecimalField(max_digits=18, decimal_places=4)
    customers = Customer.objects.filter(entity=entity).annotate(
        open_balance=Coalesce(Subquery(open_sum, output_field=money), ZERO),
        overdue_balance=Coalesce(Subquery(overdue_sum, output_field=money), ZERO),
    )
    if search:
        customers = customers.filter(search_text__contains=fold(search))  # no accents, no case
    if segment:
        customers = customers.filter(segment=segment)
    if only_open:
        customers = customers.filter(open_balance__gt=STILL_OWED)
    return customers


def customer_open_items(*, customer: Customer, as_of: date) -> list[Any]:
    """The customer's invoices still open on ``as_of``, oldest due first, with ``days_past_due``."""
    invoices = (
        invoice_list_with_open(entity=customer.entity, as_of=as_of)
        .filter(customer=customer, open_amount__gt=STILL_OWED)
        .order_by("due_date", "external_ref")
    )
    items = list(invoices)
    for invoice in items:
        invoice.days_past_due = (as_of - invoice.due_date).days  # type: ignore[attr-defined]
    return items


def data_versions(*, entity_id: int) -> dict[str, int]:
    """The entity's change counters by scope (``VersionScope``: ``ledger``, ``cases``, ``documents``,
    ``orders``, ``rates``; 0 when never changed).

    One indexed query. Read it *before* the data a cache entry is built from: a change committed
    in between then lands under a newer number, never under the old one."""
    versions = dict.fromkeys(VersionScope.values, 0)
    with connection.cursor() as cursor:  # plain SQL: this runs on every cached page view
        cursor.execute("SELECT scope, version FROM ledger_dataversion WHERE entity_id = %s", [entity_id])
        versions.update(cursor.fetchall())
    return versions


# --------------------------------------------------------------------------- invoice documents


def invoice_document_current(*, invoice: Invoice) -> InvoiceDocument | None:
    """The invoice's PDF: its newest version, or None when the ERP has sent none."""
    return InvoiceDocument.objects.filter(invoice_id=invoice.pk).order_by("-id").first()


def invoice_ids_with_document(*, invoice_ids: Iterable[int]) -> set[int]:
    """Which of ``invoice_ids`` have a PDF (one query, for a page of invoices)."""
    ids = list(invoice_ids)
    if not ids:
        return set()
    return set(InvoiceDocument.objects.filter(invoice_id__in=ids).values_list("invoice_id", flat=True))


# --------------------------------------------------------------------------- exchange rates


def rate_table(*, entity: Entity, on: date) -> RateTable:
    """The entity's rates that can convert on ``on`` (those dated on or before it), in one query.

    Every earlier rate of a pair is read, not only the latest: the table stays small (one row a
    day per pair at most) and ``RateTable`` picks the latest itself."""
    from relance.core.rates import Rate, RateTable

    rows = ExchangeRate.objects.filter(entity=entity, rate_date__lte=on).values_list(
        "rate_date", "base_currency", "quote_currency", "rate"
    )
    return RateTable.of(Rate(day, base, quote, rate) for day, base, quote, rate in rows)


def exchange_rate_list(*, entity: Entity) -> QuerySet[ExchangeRate]:
    """The entity's rates, oldest first, by pair."""
    return ExchangeRate.objects.filter(entity=entity).order_by("rate_date", "base_currency", "quote_currency")

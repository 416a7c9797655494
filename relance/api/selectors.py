"""Reads of the API app. Every ledger query the API makes starts from ``entities_for_user``."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from django.db.models import DecimalField, Exists, F, OuterRef, Prefetch, Q, QuerySet, Value
from django.utils import timezone

from relance.api.models import ApiToken
from relance.api.services import token_hash, token_split
from relance.common.fixed_sql import SENTINEL_TEXT, FixedQuery
from relance.core.errors import NotFound, ValidationFailed
from relance.core.identifiers import has_unsafe_text
from relance.core.text import fold
from relance.ledger.models import (
    Allocation,
    Contact,
    CreditNote,
    Customer,
    Entity,
    Invoice,
    InvoiceStatus,
    Order,
    Payment,
)
from relance.ledger.selectors import STILL_OWED, allocated_total

ENTITY_NOT_VISIBLE = "no entity named {name!r} that you can see"
NO_ENTITY_VISIBLE = "you cannot see any entity yet: ask an administrator for access"
ENTITY_AMBIGUOUS = "you can see several entities ({names}): choose one with ?entity=NAME"
NOT_FOUND = "no {kind} {ref!r} in entity {entity}"

MONEY_FIELD = DecimalField(max_digits=18, decimal_places=4)
ZERO = Value(Decimal(0), output_field=MONEY_FIELD)


def entities_for_user(user: Any) -> QuerySet[Entity]:
    """The entities ``user`` may see: all for an active superuser or admin, else those granted by
    EntityAccess, and none without a role (``relance.accounts.selectors.entities_for_user``)."""
    from relance.accounts.selectors import entities_for_user as role_aware

    return role_aware(user)


def entity_for_user(*, user: Any, name: str | None) -> Entity:
    """The entity called ``name`` among those the user sees, or the only one when no name is given.

    An entity the user may not see is reported exactly like one that does not exist.
    """
    from relance.accounts.selectors import entity_named_for_user

    if name:
        entity = None if has_unsafe_text(name) else entity_named_for_user(user, name)
        if entity is None:
            raise NotFound(ENTITY_NOT_VISIBLE.format(name=name), code="entity_not_found")
        return entity
    visible = entities_for_user(user)
    first = list(visible.order_by("name")[:2])
    if not first:
        raise NotFound(NO_ENTITY_VISIBLE, code="entity_not_found")
    if len(first) > 1:
        names = ", ".join(visible.order_by("name").values_list("name", flat=True)[:10])
        raise ValidationFailed(ENTITY_AMBIGUOUS.format(names=names), code="entity_required")
    return first[0]


# Compiled once per process: every API request reads it (``relance.common.fixed_sql``).
_TOKEN_BY_PREFIX = FixedQuery(
    lambda prefix: ApiToken.objects.select_related("user").filter(prefix=prefix).order_by("pk")[:1],
    prefix=SENTINEL_TEXT,
)


def api_token_authenticate(*, token: str, now: datetime | None = None) -> ApiToken | None:
    """The live token matching ``token`` (not revoked, not expired, its user active), else None."""
    parts = token_split(token)
    if parts is None:
        return None
    matches = _TOKEN_BY_PREFIX.objects(prefix=parts[0])
    found = cast("ApiToken", matches[0]) if matches else None
    if found is None or not hmac.compare_digest(found.secret_hash, token_hash(token.strip())):
        return None
    now = now or timezone.now()
    if found.revoked_at is not None or (found.expires_at is not None and found.expires_at <= now):
        return None
    if not found.user.is_active:
        return None
    return found


def api_token_list(*, user: Any | None = None) -> QuerySet[ApiToken]:
    tokens = ApiToken.objects.select_related("user").order_by("-created_at", "-id")
    return tokens.filter(user=user) if user is not None else tokens


# -- ledger reads --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DateRange:
    """Inclusive bounds; None means open-ended."""

    start: date | None = None
    end: date | None = None

    def apply(self, queryset: QuerySet, field: str) -> QuerySet:
        if self.start is not None:
            queryset = queryset.filter(**{f"{field}__gte": self.start})
        if self.end is not None:
            queryset = queryset.filter(**{f"{field}__lte": self.end})
        return queryset


def _since(queryset: QuerySet, updated_since: datetime | None) -> QuerySet:
    return queryset if updated_since is None else queryset.filter(updated_at__gte=updated_since)


def customer_list(
    *,
    entity: Entity,
    segment: str | None = None,
    currency: str | None = None,
    search: str | None = None,
    updated_since: datetime | None = None,
) -> QuerySet[Customer]:
    customers = Customer.objects.filter(entity=entity).select_related("parent")
    if segment is not None:
        customers = customers.filter(segment=segment)
    if currency:
        customers = customers.filter(currency=currency.upper())
    if search:
        customers = customers.filter(search_text__contains=fold(search))  # no accents, no case
    return _since(customers, updated_since)


def contact_list(
    *, entity: Entity, customer_ref: str | None = None, updated_since: datetime | None = None
) -> QuerySet[Contact]:
    contacts = Contact.objects.filter(customer__entity=entity).select_related("customer")
    if customer_ref:
        contacts = contacts.filter(customer__external_ref=customer_ref)
    return _since(contacts, updated_since)


def invoice_list(
    *,
    entity: Entity,
    today: date,
    customer_ref: str | None = None,
    status: str | None = None,
    currency: str | None = None,
    is_open: bool | None = None,
    due: DateRange = DateRange(),
    issued: DateRange = DateRange(),
    updated_since: datetime | None = None,
) -> QuerySet[Invoice]:
    """Invoices with ``allocated`` and ``open_amount`` as of ``today`` (a void invoice owes nothing)."""
    invoices = (
        Invoice.objects.filter(entity=entity)
        .select_related("customer")
        .annotate(allocated=allocated_total("invoice", today))
        .annotate(open_amount=F("amount") - F("allocated"))
    )
    if customer_ref:
        invoices = invoices.filter(customer__external_ref=customer_ref)
    if status:
        invoices = invoices.filter(status=status)
    if currency:
        invoices = invoices.filter(currency=currency.upper())
    if is_open is True:
        invoices = invoices.filter(open_amount__gt=STILL_OWED).exclude(status=InvoiceStatus.VOID)
    elif is_open is False:
        invoices = invoices.filter(Q(open_amount__lte=STILL_OWED) | Q(status=InvoiceStatus.VOID))
    invoices = due.apply(invoices, "due_date")
    invoices = issued.apply(invoices, "issue_date")
    return _since(invoices, updated_since)


def _with_allocations(queryset: QuerySet) -> QuerySet:
    return queryset.select_related("customer").prefetch_related(
        Prefetch("allocations", queryset=Allocation.objects.select_related("invoice").order_by("date", "id"))
    )


def credit_note_list(
    *,
    entity: Entity,
    customer_ref: str | None = None,
    dated: DateRange = DateRange(),
    updated_since: datetime | None = None,
) -> QuerySet[CreditNote]:
    credit_notes = _with_allocations(CreditNote.objects.filter(entity=entity))
    if customer_ref:
        credit_notes = credit_notes.filter(customer__external_ref=customer_ref)
    return _since(dated.apply(credit_notes, "date"), updated_since)


def payment_list(
    *,
    entity: Entity,
    customer_ref: str | None = None,
    dated: DateRange = DateRange(),
    updated_since: datetime | None = None,
) -> QuerySet[Payment]:
    payments = _with_allocations(Payment.objects.filter(entity=entity))
    if customer_ref:
        payments = payments.filter(customer__external_ref=customer_ref)
    return _since(dated.apply(payments, "date"), updated_since)


def order_list(
    *,
    entity: Entity,
    customer_ref: str | None = None,
    status: str | None = None,
    dated: DateRange = DateRange(),
    updated_since: datetime | None = None,
) -> QuerySet[Order]:
    orders = Order.objects.filter(entity=entity).select_related("customer")
    if customer_ref:
        orders = orders.filter(customer__external_ref=customer_ref)
    if status:
        orders = orders.filter(status=status)
    return _since(dated.apply(orders, "order_date"), updated_since)


def allocation_list(
    *,
    entity: Entity,
    invoice_ref: str | None = None,
    payment_ref: str | None = None,
    credit_note_ref: str | None = None,
    dated: DateRange = DateRange(),
    updated_since: datetime | None = None,
) -> QuerySet[Allocation]:
    allocations = Allocation.objects.filter(entity=entity).select_related("invoice", "payment", "credit_note")
    if invoice_ref:
        allocations = allocations.filter(invoice__external_ref=invoice_ref)
    if payment_ref:
        allocations = allocations.filter(payment__external_ref=payment_ref)
    if credit_note_ref:
        allocations = allocations.filter(credit_note__external_ref=credit_note_ref)
    return _since(dated.apply(allocations, "date"), updated_since)


def by_ref(queryset: QuerySet, *, entity: Entity, kind: str, ref: str):  # type: ignore[no-untyped-def]
    """The one row of ``queryset`` with ``external_ref`` = ref, or NotFound naming the kind."""
    # No stored ref holds a control character (imports refuse them): such a ref names nothing,
    # and PostgreSQL would refuse a NUL in the query.
    found = None if has_unsafe_text(ref) else queryset.filter(external_ref=ref).first()
    if found is None:
        raise NotFound(NOT_FOUND.format(kind=kind, ref=ref, entity=entity.name))
    return found


# -- the case and its activity (issue 18): every list narrowed by ``customer_scope``, the pages' rule


def _scoped(user: Any, queryset: QuerySet, *, customer_ref: str | None) -> QuerySet:
    from relance.accounts.selectors import customer_scope

    queryset = customer_scope(user, queryset, customer_field="customer")
    if customer_ref:
        queryset = queryset.filter(customer__external_ref=customer_ref)
    return queryset


def scoped_rows(
    queryset: QuerySet,
    *,
    user: Any,
    customer_ref: str | None = None,
    updated_since: datetime | None = None,
    since_field: str = "updated_at",
    related: tuple[str, ...] = ("customer",),
    prefetch: tuple[str, ...] = (),
    **equal: Any,
) -> QuerySet:
    """The one shape of the paged lists: ``queryset`` (already the entity's) narrowed to the
    customers ``user`` sees (``customer_scope``, the pages' rule), to ``customer_ref``, to each
    ``equal`` filter given (None or empty: not filtered) and to rows changed since ``updated_since``
    (``since_field`` for rows that are never changed, such as events: their instant)."""
    rows = _scoped(user, queryset, customer_ref=customer_ref)
    given = {name: value for name, value in equal.items() if value is not None and value != ""}
    if given:
        rows = rows.filter(**given)
    if related:
        rows = rows.select_related(*related)
    if prefetch:
        rows = rows.prefetch_related(*prefetch)
    return rows if updated_since is None else rows.filter(**{f"{since_field}__gte": updated_since})


def promise_list(
    *,
    user: Any,
    entity: Entity,
    customer_ref: str | None = None,
    status: str | None = None,
    updated_since: datetime | None = None,
) -> QuerySet:
    from relance.cases.models import Promise

    return scoped_rows(
        Promise.objects.filter(entity=entity),
        user=user,
        customer_ref=customer_ref,
        updated_since=updated_since,
        prefetch=("invoices",),
        status=status,
    )


def dispute_list(
    *,
    user: Any,
    entity: Entity,
    customer_ref: str | None = None,
    invoice_ref: str | None = None,
    status: str | None = None,
    updated_since: datetime | None = None,
) -> QuerySet:
    from relance.cases.models import Dispute

    return scoped_rows(
        Dispute.objects.filter(entity=entity),
        user=user,
        customer_ref=customer_ref,
        updated_since=updated_since,
        related=("customer", "invoice"),
        invoice__external_ref=invoice_ref,
        status=status,
    )


def plan_list(
    *,
    user: Any,
    entity: Entity,
    customer_ref: str | None = None,
    status: str | None = None,
    updated_since: datetime | None = None,
) -> QuerySet:
    from relance.cases.models import Installment, PaymentPlan

    plans = scoped_rows(
        PaymentPlan.objects.filter(entity=entity),
        user=user,
        customer_ref=customer_ref,
        prefetch=("invoices", "installments"),
        status=status,
    )
    if updated_since is None:
        return plans
    # An installment marked paid changes the plan a client syncs, not the plan's own row.
    changed_installment = Installment.objects.filter(plan=OuterRef("pk"), updated_at__gte=updated_since)
    return plans.filter(Q(updated_at__gte=updated_since) | Exists(changed_installment))


def credit_hold_list(
    *,
    user: Any,
    entity: Entity,
    customer_ref: str | None = None,
    status: str | None = None,
    updated_since: datetime | None = None,
) -> QuerySet:
    from relance.cases.models import CreditHold

    return scoped_rows(
        CreditHold.objects.filter(entity=entity),
        user=user,
        customer_ref=customer_ref,
        updated_since=updated_since,
        status=status,
    )


def contact_log_list(
    *,
    user: Any,
    entity: Entity,
    customer_ref: str | None = None,
    channel: str | None = None,
    updated_since: datetime | None = None,
) -> QuerySet:
    from relance.cases.models import ContactLog

    return scoped_rows(
        ContactLog.objects.filter(entity=entity),
        user=user,
        customer_ref=customer_ref,
        updated_since=updated_since,
        related=("customer", "created_by"),
        channel=channel,
    )


def message_list(
    *,
    user: Any,
    entity: Entity,
    customer_ref: str | None = None,
    status: str | None = None,
    channel: str | None = None,
    run_id: int | None = None,
    updated_since: datetime | None = None,
) -> QuerySet:
    from relance.delivery.models import OutboundMessage

    return scoped_rows(
        OutboundMessage.objects.filter(entity=entity),
        user=user,
        customer_ref=customer_ref,
        updated_since=updated_since,
        related=("customer", "entity"),
        status=status,
        channel=channel,
        run_id=run_id,
    )


def call_task_list(
    *,
    user: Any,
    entity: Entity,
    customer_ref: str | None = None,
    status: str | None = None,
    assigned_to_me: bool = False,
    updated_since: datetime | None = None,
) -> QuerySet:
    """Call tasks (the calls a step or a collector asked for) of the customers ``user`` sees."""
    from relance.delivery.models import CallTask

    return scoped_rows(
        CallTask.objects.filter(entity=entity),
        user=user,
        customer_ref=customer_ref,
        updated_since=updated_since,
        related=("customer", "assigned_to"),
        status=status,
        assigned_to=user if assigned_to_me else None,
    )


def run_list(*, entity: Entity, updated_since: datetime | None = None) -> QuerySet:
    """Runs belong to the entity, not to a customer: whoever sees the entity sees its runs."""
    from relance.dunning.models import DunningRun

    return _since(DunningRun.objects.filter(entity=entity), updated_since)


def action_list(
    *,
    user: Any,
    entity: Entity,
    run_id: int | None = None,
    customer_ref: str | None = None,
    status: str | None = None,
    updated_since: datetime | None = None,
) -> QuerySet:
    from relance.dunning.models import DunningAction

    return scoped_rows(
        DunningAction.objects.filter(entity=entity),
        user=user,
        customer_ref=customer_ref,
        updated_since=updated_since,
        prefetch=("invoices",),
        run_id=run_id,
        status=status,
    )


def by_id(queryset: QuerySet, *, entity: Entity, kind: str, row_id: int) -> Any:
    """The one row of ``queryset`` with this id, or NotFound: one of another entity or of a customer
    the user may not see is not in ``queryset``, so it is reported like one that does not exist."""
    found = queryset.filter(pk=row_id).first()
    if found is None:
        raise NotFound(NOT_FOUND.format(kind=kind, ref=row_id, entity=entity.name))
    return found

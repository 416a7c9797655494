"""Reads of the portal. Every query starts from ``portal_scope`` (the link's customer and its
children), so that another customer's rows are not found at all (the views answer 404)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from django.db.models import Q, QuerySet
from django.http import Http404

from relance.accounts.selectors import customer_scope
from relance.cases.models import Dispute, DisputeStatus, PaymentPlan, PlanStatus, Promise, PromiseStatus
from relance.common.fixed_sql import FixedQuery, fixed_cursor, sentinel_ids
from relance.core.clock import SystemClock, zone
from relance.ledger.models import Customer, Entity, Invoice, InvoiceDocument, Payment
from relance.ledger.selectors import (
    STILL_OWED,
    customer_invoices_with_open,
    invoice_ids_with_document,
    not_void_q,
)
from relance.ledger.sql_values import stored_day, stored_money
from relance.portal.models import DisputeAttachment, DisputeCase, PlanRequest, PortalLink, PortalSettings

if TYPE_CHECKING:
    from relance.dunning.selectors import OwedLine, OwedOverview

CLOCK = SystemClock()
PAGE_SIZE = 50


def portal_today(*, entity: Entity) -> date:
    """Business "today" of the portal: the creditor's calendar day."""
    return CLOCK.today(zone(entity.timezone or None))


def portal_settings_for(*, entity: Entity) -> PortalSettings:
    """The entity's portal limits (an unsaved row with the defaults when none is stored)."""
    found = PortalSettings.objects.filter(entity=entity).first()
    return found if found is not None else PortalSettings(entity=entity)


def _children(customer_id: int) -> QuerySet[Any]:
    return Customer.objects.filter(parent_id=customer_id).order_by().values_list("pk")


#: Every portal page reads it: compiled once per process (``relance.common.fixed_sql``).
_FIXED_CHILDREN = FixedQuery(_children, customer_id=sentinel_ids(1)[0])


def portal_scope(*, link: PortalLink) -> list[int]:
    """Ids of the customers a link shows: its customer and that customer's child accounts
    (read once per request: kept on the link object)."""
    cached = getattr(link, "_portal_scope", None)
    if cached is None:
        cached = [link.customer_id, *(row[0] for row in _FIXED_CHILDREN.rows(customer_id=link.customer_id))]
        link._portal_scope = cached  # type: ignore[attr-defined]
    return list(cached)


def portal_accounts(*, link: PortalLink) -> list[Customer]:
    return list(Customer.objects.filter(pk__in=portal_scope(link=link)).order_by("external_ref"))


def _invoices(*, link: PortalLink, as_of: date | None) -> QuerySet[Any]:
    """The scope's invoices with ``open_amount`` as of ``as_of`` (one grouped join:
    ``relance.ledger.selectors.customer_invoices_with_open``)."""
    return customer_invoices_with_open(
        entity_id=link.customer.entity_id, customer_ids=portal_scope(link=link), as_of=as_of
    )


@dataclass(frozen=True)
class Balance:
    """The figures of one currency on the overview (``relance.dunning.selectors.owed_summary``:
    the same figures as every message and the statement PDF)."""

    currency: str
    balance: Decimal
    """What is to pay now: owed minus the cash received but not yet matched (never below 0)."""
    overdue: Decimal
    open_count: int
    overdue_count: int
    next_due: date | None
    next_due_amount: Decimal
    credit_limit: Decimal | None
    owed: Decimal = Decimal(0)
    """Open minus what is under dispute."""
    disputed: Decimal = Decimal(0)
    unapplied: Decimal = Decimal(0)

    @property
    def available_credit(self) -> Decimal | None:
        if self.credit_limit is None:
            return None
        return self.credit_limit - self.owed - self.disputed  # exposure counts disputed items too


def portal_owed(*, link: PortalLink, as_of: date) -> OwedOverview:
    """The scope's owed figures per currency and its oldest overdue invoices: the one owed-amount
    rule (``relance.dunning.selectors``) over the link's account and its child accounts, summed
    by the database (``owed_overview``). The overview reads its figures and its overdue list from
    this one read."""
    from relance.dunning.selectors import owed_overview

    return owed_overview(customer=link.customer, as_of=as_of, scope=portal_scope(link=link))


def portal_overview(*, link: PortalLink, as_of: date, summary: OwedOverview | None = None) -> list[Balance]:
    """Per currency: to pay now, overdue, under review, not yet matched, next due and available
    credit (from ``summary``, read by ``portal_owed`` when not given)."""
    customer = link.customer
    if summary is None:
        summary = portal_owed(link=link, as_of=as_of)
    result = []
    for figures in summary.figures:
        total = figures.total
        if not total.count and not total.unapplied:
            continue  # a currency with unapplied credit only is shown too: the customer paid too much
        result.append(
            Balance(
                currency=total.currency,
                balance=_money(total.payable),
                overdue=_money(total.overdue_owed),
                open_count=total.count,
                overdue_count=figures.overdue_count,
                next_due=figures.next_due,
                next_due_amount=_money(figures.next_due_owed),
                credit_limit=customer.credit_limit if total.currency == customer.currency else None,
                owed=_money(total.owed),
                disputed=_money(total.disputed),
                unapplied=_money(total.unapplied),
            )
        )
    return result


def portal_overdue(*, summary: OwedOverview) -> tuple[OwedLine, ...]:
    """The oldest overdue open invoices of ``summary``, due first (then by ref): the first ones of
    ``portal_items(state="overdue")``, without reading the invoices again."""
    return summary.overdue


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class ItemFilters:
    state: str = "open"  # open, overdue, paid, all
    search: str = ""
    account: int | None = None
    due_from: date | None = None
    due_to: date | None = None


def portal_items(*, link: PortalLink, as_of: date, filters: ItemFilters) -> QuerySet[Any]:
    """The invoices of the scope with ``open_amount``, filtered; oldest due first."""
    invoices = _invoices(link=link, as_of=as_of).select_related("customer")
    if filters.state == "open":
        invoices = invoices.filter(open_amount__gt=STILL_OWED)
    elif filters.state == "overdue":
        invoices = invoices.filter(open_amount__gt=STILL_OWED, due_date__lt=as_of)
    elif filters.state == "paid":
        invoices = invoices.filter(open_amount__lte=STILL_OWED)
    if filters.search:
        invoices = invoices.filter(
            Q(external_ref__icontains=filters.search) | Q(po_number__icontains=filters.search)
        )
    if filters.account:
        invoices = invoices.filter(customer_id=filters.account)
    if filters.due_from:
        invoices = invoices.filter(due_date__gte=filters.due_from)
    if filters.due_to:
        invoices = invoices.filter(due_date__lte=filters.due_to)
    return invoices.order_by("due_date", "external_ref")


def portal_open_invoices(*, link: PortalLink, as_of: date, ids: list[int] | None = None) -> list[Any]:
    """Open invoices of the scope (only ``ids`` when given; ids outside the scope are ignored)."""
    invoices = _invoices(link=link, as_of=as_of).filter(open_amount__gt=STILL_OWED).select_related("customer")
    if ids is not None:
        invoices = invoices.filter(pk__in=ids)
    items = list(invoices.order_by("due_date", "external_ref"))
    for item in items:
        item.open_amount = Decimal(item.open_amount).quantize(Decimal("0.0001"))
        item.days_past_due = (as_of - item.due_date).days
    return items


def portal_invoice(*, link: PortalLink, invoice_id: int, as_of: date) -> Any:
    """One invoice of the scope with its open amount, or 404 (another customer's id included)."""
    invoice = _invoices(link=link, as_of=None).filter(pk=invoice_id).select_related("customer").first()  # type: ignore[arg-type]
    if invoice is None:
        raise Http404("no such invoice")
    open_row = _invoices(link=link, as_of=as_of).filter(pk=invoice_id).first()
    invoice.open_amount = Decimal(open_row.open_amount if open_row else invoice.amount).quantize(
        Decimal("0.0001")
    )
    invoice.days_past_due = (as_of - invoice.due_date).days
    return invoice


def portal_invoice_document(*, link: PortalLink, invoice_id: int) -> InvoiceDocument | None:
    """The current PDF of one invoice of the scope (None: no PDF, or not the link's invoice)."""
    return (
        InvoiceDocument.objects.filter(
            not_void_q(None, prefix="invoice__"),
            invoice_id=invoice_id,
            invoice__entity_id=link.customer.entity_id,
            invoice__customer_id__in=portal_scope(link=link),
        )
        .select_related("invoice__customer")
        .order_by("-id")
        .first()
    )


def portal_invoice_ids_with_document(*, invoices: Iterable[Any]) -> set[int]:
    """Which invoices of a page (already scoped) have a PDF: one query for the page."""
    return invoice_ids_with_document(invoice_ids=[invoice.pk for invoice in invoices])


def invoice_payments(*, invoice: Invoice) -> list[Any]:
    return list(invoice.allocations.select_related("payment", "credit_note").order_by("date", "id"))


def portal_disputes(*, link: PortalLink) -> QuerySet[Dispute]:
    return (
        Dispute.objects.filter(customer_id__in=portal_scope(link=link))
        .select_related("invoice", "portal_case")
        .order_by("-opened_on", "-id")
    )


def portal_dispute(*, link: PortalLink, dispute_id: int) -> Dispute:
    found = portal_disputes(link=link).filter(pk=dispute_id).first()
    if found is None:
        raise Http404("no such case")
    return found


def portal_attachment(*, link: PortalLink, dispute_id: int, attachment_id: int) -> DisputeAttachment:
    found = DisputeAttachment.objects.filter(
        pk=attachment_id,
        case__dispute_id=dispute_id,
        case__dispute__customer_id__in=portal_scope(link=link),
    ).first()
    if found is None:
        raise Http404("no such attachment")
    return found


def portal_promises(*, link: PortalLink) -> QuerySet[Promise]:
    return Promise.objects.filter(customer_id__in=portal_scope(link=link)).order_by("-created_on", "-id")


def portal_plans(*, link: PortalLink) -> QuerySet[PaymentPlan]:
    return (
        PaymentPlan.objects.filter(customer_id__in=portal_scope(link=link))
        .prefetch_related("installments")
        .order_by("-starts_on", "-id")
    )


def portal_active_plan(*, link: PortalLink) -> PaymentPlan | None:
    return portal_plans(link=link).filter(status=PlanStatus.ACTIVE).first()


# --------------------------------------------------------------------------- the overview's lists


@dataclass(frozen=True)
class PlanInstallment:
    due_date: date
    amount: Decimal
    paid_on: date | None


@dataclass(frozen=True)
class ActivePlan:
    """The scope's active plan as the overview shows it (``portal_active_plan``'s plan)."""

    currency: str
    installments: tuple[PlanInstallment, ...]


@dataclass(frozen=True)
class OpenPromise:
    amount: Decimal
    currency: str
    promised_date: date


@dataclass(frozen=True)
class OpenDispute:
    pk: int
    amount: Decimal
    currency: str
    """The invoice's."""
    invoice_ref: str


@dataclass(frozen=True)
class OverviewLists:
    active_plan: ActivePlan | None
    open_promises: tuple[OpenPromise, ...]
    open_disputes: tuple[OpenDispute, ...]


OVERVIEW_LIST_LENGTH = 5


def _active_plan_rows(*, customer_ids: list[int]) -> QuerySet[Any]:
    # ``portal_active_plan``'s plan with its installments (LEFT JOIN: a plan without any shows too)
    first = PaymentPlan.objects.filter(customer_id__in=customer_ids, status=PlanStatus.ACTIVE).order_by(
        "-starts_on", "-id"
    )
    return (
        PaymentPlan.objects.filter(pk__in=first.values("pk")[:1])
        .order_by()
        .values_list(
            "currency",
            "installments__sequence",
            "installments__due_date",
            "installments__amount",
            "installments__paid_on",
        )
    )


def _open_promise_rows(*, customer_ids: list[int]) -> QuerySet[Any]:
    return (
        Promise.objects.filter(customer_id__in=customer_ids, status=PromiseStatus.OPEN)
        .order_by("-created_on", "-id")
        .values_list("id", "created_on", "amount", "currency", "promised_date")[:OVERVIEW_LIST_LENGTH]
    )


def _open_dispute_rows(*, customer_ids: list[int]) -> QuerySet[Any]:
    return (
        Dispute.objects.filter(customer_id__in=customer_ids, status=DisputeStatus.OPEN)
        .order_by("-opened_on", "-id")
        .values_list("id", "opened_on", "amount", "invoice__currency", "invoice__external_ref")[
            :OVERVIEW_LIST_LENGTH
        ]
    )


# The three lists in one statement: the fixed queries' rows, the first column saying which list,
# the next two each list's order (installments by sequence, promises and disputes newest first).
_OVERVIEW_LISTS_SQL = (
    'SELECT 0 AS kind, NULL AS sort_day, -"installments__sequence" AS sort_id, "installments__due_date" AS day,'
    ' "installments__amount" AS amount, "installments__paid_on" AS paid_on, currency, CAST(NULL AS BIGINT) AS dispute_id,'
    " NULL AS invoice_ref FROM ({plan}) plan_rows"
    " UNION ALL SELECT 1, created_on, id, promised_date, amount, NULL, currency, NULL, NULL FROM ({promises}) promises"
    ' UNION ALL SELECT 2, opened_on, id, NULL, amount, NULL, "invoice__currency", id, "invoice__external_ref"'
    " FROM ({disputes}) disputes"
    " ORDER BY 1, 2 DESC, 3 DESC"
)

_FIXED_LISTS: dict[int, tuple[FixedQuery, FixedQuery, FixedQuery]] = {}


def _fixed_lists(size: int) -> tuple[FixedQuery, FixedQuery, FixedQuery]:
    found = _FIXED_LISTS.get(size)
    if found is None:
        ids = sentinel_ids(size)
        found = _FIXED_LISTS.setdefault(
            size,
            (
                FixedQuery(_active_plan_rows, customer_ids=ids),
                FixedQuery(_open_promise_rows, customer_ids=ids),
                FixedQuery(_open_dispute_rows, customer_ids=ids),
            ),
        )
    return found


def portal_overview_lists(*, link: PortalLink) -> OverviewLists:
    """The overview's active plan (``portal_active_plan``) with its installments, and the newest
    open promises and disputes (``portal_promises`` / ``portal_disputes``, five of each): one
    statement of fixed SQL instead of four queries compiled on every page."""
    scope = sorted(set(portal_scope(link=link)))
    parts = _fixed_lists(len(scope))
    sqls, params = [], []
    for fixed in parts:
        sql, found = fixed.sql(customer_ids=scope)
        sqls.append(sql)
        params.extend(found)
    with fixed_cursor() as cursor:
        cursor.execute(_OVERVIEW_LISTS_SQL.format(plan=sqls[0], promises=sqls[1], disputes=sqls[2]), params)
        rows = cursor.fetchall()
    plan_currency: str | None = None
    installments: list[PlanInstallment] = []
    promises: list[OpenPromise] = []
    disputes: list[OpenDispute] = []
    for kind, _day, _id, day, amount, paid_on, currency, dispute_id, invoice_ref in rows:
        if kind == 0:
            plan_currency = currency
            if day is not None:
                installments.append(
                    PlanInstallment(cast(date, stored_day(day)), stored_money(amount), stored_day(paid_on))
                )
        elif kind == 1:
            promises.append(OpenPromise(stored_money(amount), currency, cast(date, stored_day(day))))
        else:
            disputes.append(OpenDispute(dispute_id, stored_money(amount), currency, invoice_ref))
    return OverviewLists(
        active_plan=ActivePlan(plan_currency, tuple(installments)) if plan_currency is not None else None,
        open_promises=tuple(promises),
        open_disputes=tuple(disputes),
    )


def portal_plan_requests(*, link: PortalLink) -> QuerySet[PlanRequest]:
    return PlanRequest.objects.filter(customer_id__in=portal_scope(link=link))


def portal_payments(*, link: PortalLink, limit: int = 50) -> list[Payment]:
    return list(
        Payment.objects.filter(customer_id__in=portal_scope(link=link)).order_by("-date", "-id")[:limit]
    )


def portal_messages(*, link: PortalLink, limit: int = 100) -> list[Any]:
    """Messages sent to the scope's customers, newest first.

    Only what went out to the customer (``relance.delivery.selectors.customer_messages_sent``)."""
    from relance.delivery.selectors import customer_messages_sent

    return customer_messages_sent(customer_ids=portal_scope(link=link), limit=limit)


def case_sla(*, case: DisputeCase | None, dispute: Dispute, as_of: date) -> dict[str, Any]:
    """The SLA shown to the customer: due date, days left (negative: late) and whether it is met."""
    if case is None:
        return {}
    return _sla(due_on=case.sla_due_on, dispute=dispute, as_of=as_of)


def _sla(*, due_on: date, dispute: Dispute, as_of: date) -> dict[str, Any]:
    if dispute.status == DisputeStatus.RESOLVED and dispute.resolved_on is not None:
        return {"due_on": due_on, "days_left": None, "met": dispute.resolved_on <= due_on}
    return {"due_on": due_on, "days_left": (due_on - as_of).days, "met": None}


# --------------------------------------------------------------------------- dispute SLA (one rule)


def dispute_sla_days(*, entity: Entity) -> int:
    """Days the creditor takes to answer a dispute: the entity's portal setting, the number the
    portal tells the customer ("we will answer by …") and the one the back-office queue counts."""
    return portal_settings_for(entity=entity).dispute_sla_days


def dispute_sla_due_on(*, dispute: Dispute, sla_days: int) -> date:
    """The answer date: the one the customer was told (the portal case's), or, for a dispute
    recorded in the back office, its opening date + ``sla_days`` (``dispute_sla_days``)."""
    case = getattr(dispute, "portal_case", None)
    if case is not None:
        return case.sla_due_on
    return sla_due(opened_on=dispute.opened_on, days=sla_days)


def dispute_sla(*, dispute: Dispute, sla_days: int, as_of: date) -> dict[str, Any]:
    """``due_on``, ``days_left`` (negative: late; None once resolved) and ``met`` (once resolved)."""
    return _sla(due_on=dispute_sla_due_on(dispute=dispute, sla_days=sla_days), dispute=dispute, as_of=as_of)


def disputes_past_sla(*, disputes: QuerySet[Dispute], entity: Entity, as_of: date) -> QuerySet[Dispute]:
    """The open disputes whose answer date (``dispute_sla_due_on``) is before ``as_of``, in SQL."""
    days = dispute_sla_days(entity=entity)
    return disputes.filter(status=DisputeStatus.OPEN).filter(
        Q(portal_case__sla_due_on__lt=as_of)
        | Q(portal_case__isnull=True, opened_on__lt=as_of - timedelta(days=days))
    )


# --------------------------------------------------------------------------- back office
# Scoped by ``relance.accounts.selectors.customer_scope``: a sales owner sees their own accounts only.


def backoffice_promises(*, user: Any, status: str = "open") -> QuerySet[Promise]:
    promises = customer_scope(user, Promise.objects.all(), customer_field="customer").select_related(
        "customer"
    )
    if status:
        promises = promises.filter(status=status)
    return promises.order_by("promised_date", "id")


def backoffice_plans(*, user: Any, status: str = "active") -> QuerySet[PaymentPlan]:
    plans = (
        customer_scope(user, PaymentPlan.objects.all(), customer_field="customer")
        .select_related("customer")
        .prefetch_related("installments")
    )
    if status:
        plans = plans.filter(status=status)
    return plans.order_by("starts_on", "id")


def backoffice_plan_requests(*, user: Any, status: str = "pending") -> QuerySet[PlanRequest]:
    requests = customer_scope(user, PlanRequest.objects.all(), customer_field="customer").select_related(
        "customer"
    )
    if status:
        requests = requests.filter(status=status)
    return requests.order_by("created_at", "id")


def group_by_customer(invoices: list[Any]) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = defaultdict(list)
    for invoice in invoices:
        grouped[invoice.customer_id].append(invoice)
    return dict(grouped)


def sla_due(*, opened_on: date, days: int) -> date:
    return opened_on + timedelta(days=days)


# Portal actions of the customer's that the history shows (not visits, codes or refusals).
HISTORY_PORTAL_KINDS = frozenset(
    {
        "portal_preferences_changed",
        "portal_email_changed",
        "portal_phone_changed",
        "portal_email_change_undone",
        "portal_payment_started",
        "portal_payment_received",
    }
)


def portal_history(*, link: PortalLink, limit: int = 100) -> list[Any]:
    """The customer's own case history, newest first: the scope's promises, disputes, plans and
    payments (whoever recorded them) and the messages sent to them, from the case timeline.

    Never another customer's events (``portal_scope``), never what is internal (notes, contact
    logs, calls, holds, credit holds, hand-offs): ``CUSTOMER_VISIBLE_KINDS`` only."""
    from relance.audit.models import CUSTOMER_VISIBLE_KINDS, CaseEvent, CaseEventKind
    from relance.delivery.selectors import customer_messages_listed

    scope = portal_scope(link=link)
    kinds = sorted({str(kind) for kind in CUSTOMER_VISIBLE_KINDS} | HISTORY_PORTAL_KINDS)
    sent = CaseEventKind.MESSAGE_SENT.value
    # a message only if the Messages page lists it (no internal notice, no one-time code)
    listed = customer_messages_listed(customer_ids=scope).values("pk")
    events = CaseEvent.objects.filter(customer_id__in=scope).filter(
        Q(kind__in=[kind for kind in kinds if kind != sent])
        | Q(kind=sent, subject_type="message", subject_id__in=listed)
    )
    return list(events.order_by("-at", "-id")[:limit])


def plan_request_decided_last(*, customer: Customer) -> PlanRequest | None:
    """The customer's newest decided plan request, with its plan: what a ``plan_request_decided``
    message speaks of (comms asks through ``relance.comms.facts``, registered in ``PortalConfig.ready``)."""
    return (
        PlanRequest.objects.filter(customer=customer, decided_at__isnull=False)
        .select_related("plan")
        .order_by("-decided_at", "-id")
        .first()
    )

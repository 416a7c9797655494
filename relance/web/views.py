"""Back-office pages. Thin: parse the request, call selectors, render."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from relance.accounts import roles
from relance.accounts.selectors import customer_scope, entities_for_user, user_role
from relance.core.calendar import parse_iso_date
from relance.core.errors import NotFound, ValidationFailed
from relance.core.text import fold
from relance.ledger import selectors as ledger
from relance.ledger.models import Entity
from relance.web import charts

PAGE_SIZE = 50


def _entity_and_date(request: HttpRequest) -> tuple[Entity, QuerySet[Entity], date]:
    entities = entities_for_user(request.user)
    name = request.GET.get("entity") or request.session.get("entity")
    entity = entities.filter(name=name).first() if name else None
    if entity is None:
        entity = entities.first()
    if entity is None:
        raise Http404("You have no access to any entity yet. Ask an administrator.")
    request.session["entity"] = entity.name
    try:
        as_of = parse_iso_date(request.GET["as_of"]) if request.GET.get("as_of") else timezone.localdate()
    except ValidationFailed:
        as_of = timezone.localdate()
    return entity, entities, as_of


def _aging_bars(aging: dict[str, str], currency: str) -> list[charts.Bar]:
    from relance.core.money import Money

    return [
        charts.Bar(label=bucket, value=Decimal(amount), caption=Money(Decimal(amount), currency).format())
        for bucket, amount in aging.items()
    ]


def _filter_value(request: HttpRequest, name: str, choices: list[str]) -> str | None:
    """A filter from the query string: None (all), a listed value, or ``-`` for "none"."""
    value = request.GET.get(name)
    if value == "-":
        return ""
    return value if value in choices else None


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The credit manager's dashboard: KPIs from snapshots (``relance.reports.selectors.kpi_dashboard``).

    Numbers come from the KPI engine (the same ``kpi_report`` as ``relance kpi`` and the API),
    stored per ledger version; on a large ledger the page never runs the engine itself."""
    from relance.core.money import Money
    from relance.reports import selectors as reports

    if user_role(request.user) in roles.OWN_CUSTOMERS_ROLES and not request.user.is_superuser:
        # Not the entity's totals: their own accounts and the escalations coming.
        return redirect("workspace:my_accounts")
    entity, entities, as_of = _entity_and_date(request)
    live = reports.ledger_is_small(entity=entity)
    currencies = reports.dashboard_currencies(entity=entity, as_of=as_of, live=live)
    currency = request.GET.get("currency", "").upper()
    if currency not in currencies:
        currency = entity.currency
    choices = reports.dashboard_filter_choices(entity=entity)
    segment = _filter_value(request, "segment", choices["segments"])
    collector = _filter_value(request, "collector", choices["collectors"])
    result = reports.kpi_dashboard(
        entity=entity, as_of=as_of, currency=currency, segment=segment, collector=collector, live=live
    )
    kpis = result.head.report
    aging_svg = charts.bar_chart(
        _aging_bars(kpis.get("aging", {}), currency), title=f"Aging of open invoices on {as_of}"
    )
    labels = [point.as_of.strftime("%b %y") for point in result.points]
    trend = [point.report for point in result.points]
    trend_svg = charts.line_chart(
        labels,
        [
            charts.Series("DSO", [row.get("dso") for row in trend], "#1f4e79"),
            charts.Series("Countback DSO", [row.get("dso_countback") for row in trend], "#7b1fa2"),
            charts.Series("Best possible DSO", [row.get("bpdso") for row in trend], "#2e7d32"),
        ],
        title="DSO over the last 12 months",
        unit=" days",
    )
    cei_svg = charts.line_chart(
        labels,
        [charts.Series("CEI %", [row.get("cei") for row in trend], "#e07a1f")],
        title="Collection effectiveness index over the last 12 months",
        unit=" %",
    )
    flows = result.head.dashboard
    collected_svg = ""
    if "collected" in flows:
        collected_svg = charts.bar_chart(
            [
                charts.Bar(
                    label=label,
                    value=Decimal(flows[name]),
                    caption=Money(Decimal(flows[name]), currency).format(),
                )
                for label, name in (("Collected", "collected"), ("Fell due", "fell_due"))
            ],
            title=f"Cash collected vs. amount that fell due, {flows['month_start']} to {as_of}",
            colours=["#2e7d32", "#1f4e79"],
        )
    history = [point.dashboard for point in result.points]
    flows_svg = charts.line_chart(
        labels,
        [
            charts.Series("Collected", [_number(row.get("collected")) for row in history], "#2e7d32"),
            charts.Series("Fell due", [_number(row.get("fell_due")) for row in history], "#1f4e79"),
        ],
        title="Collected vs. fell due per month (month to date for the last point)",
    )
    stale = result.stale
    return render(
        request,
        "web/dashboard.html",
        {
            "entity": entity,
            "entities": entities,
            "as_of": as_of,
            "kpis": kpis,
            "currency": currency,
            "aging_svg": aging_svg,
            "trend_svg": trend_svg,
            "cei_svg": cei_svg,
            "collected_svg": collected_svg,
            "flows_svg": flows_svg,
            "flows": flows,
            "top_overdue": flows.get("top_overdue"),
            "cases": reports.dashboard_case_counts(
                entity=entity, as_of=as_of, segment=segment, collector=collector
            ),
            "segments": choices["segments"],
            "collectors": choices["collectors"],
            "segment": segment,
            "collector": collector,
            "stale": stale,
            "stale_since": min(
                (point.snapshot.computed_at for point in stale if point.snapshot), default=None
            ),
            "missing": result.missing,
            "head_stale": result.head.stale,
            "other_currencies": [code for code in currencies if code != currency],
            "outbox_attention": _outbox_attention(request, entity),
        },
    )


def _outbox_attention(request: HttpRequest, entity: Entity) -> dict[str, int] | None:
    """Uncertain and failed messages of the entity (None for roles that cannot see the outbox)."""
    from relance.accounts.selectors import user_can
    from relance.delivery.alerts import attention_counts

    if not user_can(request.user, "delivery.view_outboundmessage"):
        return None
    counts = attention_counts(entity=entity)
    uncertain, failed = counts.get("uncertain", 0), counts.get("failed", 0)
    return {"uncertain": uncertain, "failed": failed, "total": uncertain + failed}


def _number(value: str | None) -> float | None:
    return None if value is None else float(value)


@login_required
def customer_list(request: HttpRequest) -> HttpResponse:
    entity, entities, as_of = _entity_and_date(request)
    search = request.GET.get("q", "").strip()
    segment = request.GET.get("segment", "")
    order = request.GET.get("order", "-overdue_balance")
    if order.lstrip("-") not in {"overdue_balance", "open_balance", "name", "external_ref"}:
        order = "-overdue_balance"
    customers = customer_scope(
        request.user,
        ledger.customer_list_with_balances(entity=entity, as_of=as_of, search=search, segment=segment),
    ).order_by(order, "pk")
    page = Paginator(customers, PAGE_SIZE).get_page(request.GET.get("page"))
    segments = (
        entity.customers.exclude(segment="").values_list("segment", flat=True).distinct().order_by("segment")
    )
    return render(
        request,
        "web/customer_list.html",
        {
            "entity": entity,
            "entities": entities,
            "as_of": as_of,
            "page": page,
            "q": search,
            "segment": segment,
            "segments": segments,
            "order": order,
        },
    )


@login_required
def customer_detail(request: HttpRequest, customer_id: int) -> HttpResponse:
    """The old address of a customer: the customer 360 is the one customer page.

    Scoped like the 360: a customer the user may not see is a 404 here too, not a redirect."""
    from relance.workspace.selectors import customer_for_user

    try:
        customer_for_user(user=request.user, customer_id=customer_id)
    except NotFound:
        raise Http404("customer not found") from None
    return redirect("workspace:customer", customer_id)


@login_required
def invoice_list(request: HttpRequest) -> HttpResponse:
    entity, entities, as_of = _entity_and_date(request)
    state = request.GET.get("state", "open")
    search = request.GET.get("q", "").strip()
    invoices = customer_scope(
        request.user,
        ledger.invoice_list_with_open(entity=entity, as_of=as_of).select_related("customer"),
        customer_field="customer",
    )
    if state == "open":
        invoices = invoices.filter(open_amount__gt=ledger.STILL_OWED)
    elif state == "overdue":
        invoices = invoices.filter(open_amount__gt=ledger.STILL_OWED, due_date__lt=as_of)
    elif state == "paid":
        invoices = invoices.filter(open_amount__lte=ledger.STILL_OWED)
    if search:
        from django.db.models import Q

        invoices = invoices.filter(
            Q(external_ref__icontains=search)
            | Q(customer__search_text__contains=fold(search))
            | Q(po_number__icontains=search)
        )
    page = Paginator(invoices.order_by("due_date", "pk"), PAGE_SIZE).get_page(request.GET.get("page"))
    for invoice in page:
        invoice.days_past_due = (as_of - invoice.due_date).days  # type: ignore[attr-defined]
    return render(
        request,
        "web/invoice_list.html",
        {"entity": entity, "entities": entities, "as_of": as_of, "page": page, "state": state, "q": search},
    )

"""Back-office pages. Thin: parse the request, call selectors, render."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from relance.accounts import roles
from relance.accounts.selectors import customer_for_user, entities_for_user, user_role
from relance.core.calendar import parse_iso_date
from relance.core.errors import NotFound, ValidationFailed
from relance.ledger.models import Entity
from relance.web import charts
from relance.web import selectors as web_selectors
from relance.web.credit_kpis import credit_section

PAGE_SIZE = 50


def entity_and_date(request: HttpRequest) -> tuple[Entity, QuerySet[Entity], date]:
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


def _aging_bars(aging: dict[str, str], currency: str, links: dict[str, str]) -> list[charts.Bar]:
    from relance.core.money import Money

    return [
        charts.Bar(
            label=bucket,
            value=Decimal(amount),
            caption=Money(Decimal(amount), currency).format(),
            href=links.get(bucket, ""),
        )
        for bucket, amount in aging.items()
    ]


def _drill_links(
    *, as_of: date, currency: str, segment: str | None, collector: str | None, kpis: dict[str, Any]
) -> dict[str, Any]:
    """Where each dashboard figure opens the rows behind it, with the engine's filters, so the
    list's total is the figure (docs/workspace.md, "Drill-down")."""
    from urllib.parse import urlencode

    from django.urls import reverse

    from relance.reports.selectors import configured_aging

    scope: dict[str, str] = {"as_of": as_of.isoformat(), "currency": currency}
    if segment is not None:
        scope["segment"] = segment or "-"
    if collector is not None:
        scope["collector"] = collector or "-"

    def invoices(**params: str) -> str:
        return f"{reverse('web:invoice_list')}?{urlencode({**scope, **params})}"

    start = kpis.get("period_start") or as_of.isoformat()
    current = configured_aging().current.label
    links: dict[str, Any] = {
        "ar_total": invoices(state="open", kpi="ar_total"),
        "ar_current": invoices(state="open", bucket=current),
        "ar_past_due": invoices(state="overdue"),
        "overdue_customers": f"{reverse('web:customer_list')}?{urlencode({**scope, 'overdue': '1'})}",
        "credit_sales": invoices(state="all", issued_from=start, kpi="credit_sales"),
        "dbt": invoices(state="paid", paid_from=start),
        "buckets": {label: invoices(state="open", bucket=label) for label in kpis.get("aging", {})},
    }
    queue: dict[str, str] = {name: scope[name] for name in ("segment", "collector") if name in scope}
    links["promises_due"] = (
        f"{reverse('workspace:promises')}?{urlencode({**queue, 'due': as_of.isoformat()})}"
    )
    links["disputes_past_sla"] = (
        f"{reverse('workspace:disputes')}?{urlencode({**queue, 'sla': 'past', 'as_of': as_of.isoformat()})}"
    )
    return links


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
    from relance.quality.models import QualityCheck
    from relance.reports import selectors as reports

    if user_role(request.user) in roles.OWN_CUSTOMERS_ROLES and not request.user.is_superuser:
        # Not the entity's totals: their own accounts and the escalations coming.
        return redirect("workspace:my_accounts")
    entity, entities, as_of = entity_and_date(request)
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
    drill = _drill_links(as_of=as_of, currency=currency, segment=segment, collector=collector, kpis=kpis)
    aging_svg = charts.bar_chart(
        _aging_bars(kpis.get("aging", {}), currency, drill["buckets"]),
        title=f"Aging of open invoices on {as_of}",
        label_header="Days past due",
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
    dbt_svg = _dbt_trend_svg(
        entity=entity, result=result, labels=labels, segment=segment, collector=collector
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
        figure=lambda value: Money(Decimal(str(value)), currency).format(),
    )
    stale = result.stale
    forecast, forecast_svg = _forecast_chart(entity=entity, as_of=as_of, currency=currency)
    return render(
        request,
        "web/dashboard.html",
        {
            "entity": entity,
            "entities": entities,
            "as_of": as_of,
            "kpis": kpis,
            "drill": drill,
            "currency": currency,
            "aging_svg": aging_svg,
            "trend_svg": trend_svg,
            "cei_svg": cei_svg,
            "dbt_svg": dbt_svg,
            "collected_svg": collected_svg,
            "flows_svg": flows_svg,
            "forecast": forecast,
            "forecast_svg": forecast_svg,
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
            "credit": credit_section(entity=entity, as_of=as_of, currency=currency, live=live),
            # the last check's figures (relance.quality.report.quality_check): no scoring here
            "quality": QualityCheck.objects.filter(entity=entity).first(),
        },
    )


def _forecast_chart(*, entity: Entity, as_of: date, currency: str) -> tuple[Any, str]:
    """The cash forecast of the newest stored predictions (``relance predict``) with its p10–p90
    band, and what came in for the weeks already over (``relance.predict.forecasting``)."""
    from relance.core.money import Money
    from relance.predict.forecasting import dashboard_forecast

    forecast = dashboard_forecast(entity=entity, as_of=as_of, currency=currency)
    if forecast is None or not forecast.weeks:
        return forecast, ""
    points = [
        charts.BandPoint(
            label=week.start.strftime("%d %b"),
            expected=float(week.expected),
            low=float(week.low),
            high=float(week.high),
            actual=None if week.came_in is None else float(week.came_in),
        )
        for week in forecast.weeks
    ]
    svg = charts.band_chart(
        points,
        title=f"Expected collections per week from {forecast.run.as_of}, with the p10–p90 band",
        figure=lambda value: Money(Decimal(str(round(value, 2))), currency).format(),
        label_header="Week of",
    )
    return forecast, svg


def _dbt_trend_svg(
    *, entity: Entity, result: Any, labels: list[str], segment: str | None, collector: str | None
) -> str:
    """Days beyond terms at the 12 points (the snapshots' own DBT: the KPI engine's formula) with
    the disputes opened and open beside it (``relance.reports.dbt_trend``)."""
    from relance.reports.dbt_trend import dbt_points, dispute_indicators

    dates = [point.as_of for point in result.points]
    points = dbt_points(
        dates,
        [point.report for point in result.points],
        dispute_indicators(entity=entity, dates=dates, segment=segment, collector=collector),
    )
    return charts.dbt_trend_chart(
        labels,
        [point.dbt for point in points],
        [point.disputes_opened for point in points],
        [point.disputes_open for point in points],
        title="Days beyond terms and disputes over the last 12 months",
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


def _group_param(request: HttpRequest, name: str) -> str | None:
    """A segment or collector filter of a list: None (all), ``-``: none (``""``), or a value."""
    value = request.GET.get(name, "").strip()
    if not value:
        return None
    return "" if value == "-" else value


def _currency_param(request: HttpRequest) -> str:
    code = request.GET.get("currency", "").strip().upper()
    return code if len(code) == 3 and code.isalpha() else ""


def _date_param(request: HttpRequest, name: str) -> date | None:
    try:
        return parse_iso_date(request.GET[name]) if request.GET.get(name) else None
    except ValidationFailed:
        return None


def filter_chip(request: HttpRequest, text: str, *names: str) -> dict[str, str]:
    """A filter shown as a chip; its link is this list without that filter (and page 1)."""
    query = request.GET.copy()
    for name in (*names, "page"):
        query.pop(name, None)
    return {"text": text, "remove": f"?{query.urlencode()}" if query else "?"}


def _kept(request: HttpRequest, names: tuple[str, ...]) -> list[tuple[str, str]]:
    """The drill-down filters a list's form keeps as hidden fields when it is submitted again."""
    return [(name, request.GET[name]) for name in names if request.GET.get(name)]


def _group_chips(request: HttpRequest, segment: str | None, collector: str | None) -> list[dict[str, str]]:
    chips = []
    if segment is not None:
        chips.append(filter_chip(request, f"Segment: {segment or '(none)'}", "segment"))
    if collector is not None:
        chips.append(filter_chip(request, f"Collector: {collector or '(none)'}", "collector"))
    return chips


def customer_filters(request: HttpRequest, as_of: date) -> web_selectors.CustomerFilters:
    return web_selectors.CustomerFilters(
        as_of=as_of,
        search=request.GET.get("q", "").strip(),
        segment=_group_param(request, "segment"),
        collector=_group_param(request, "collector"),
        currency=_currency_param(request),
        overdue=request.GET.get("overdue") == "1",
        order=request.GET.get("order", "-overdue_balance"),
    )


@login_required
def customer_list(request: HttpRequest) -> HttpResponse:
    entity, entities, as_of = entity_and_date(request)
    filters = customer_filters(request, as_of)
    customers = web_selectors.customer_list_filtered(user=request.user, entity=entity, filters=filters)
    page = Paginator(customers, PAGE_SIZE).get_page(request.GET.get("page"))
    segments = (
        entity.customers.exclude(segment="").values_list("segment", flat=True).distinct().order_by("segment")
    )
    chips = []
    if filters.overdue:
        chips.append(filter_chip(request, "Overdue only", "overdue"))
    if filters.currency:
        chips.append(filter_chip(request, f"Balances in {filters.currency}", "currency"))
    chips += _group_chips(request, None, filters.collector)
    return render(
        request,
        "web/customer_list.html",
        {
            "entity": entity,
            "entities": entities,
            "as_of": as_of,
            "page": page,
            "q": filters.search,
            "segment": request.GET.get("segment", ""),
            "segments": segments,
            "order": filters.order,
            "filters": filters,
            "chips": chips,
            "kept": _kept(request, ("currency", "collector", "overdue")),
            "totals": web_selectors.customer_totals(customers, currency=filters.currency),
        },
    )


@login_required
def customer_detail(request: HttpRequest, customer_id: int) -> HttpResponse:
    """The old address of a customer: the customer 360 is the one customer page.

    Scoped like the 360: a customer the user may not see is a 404 here too, not a redirect."""
    try:
        customer_for_user(user=request.user, customer_id=customer_id)
    except NotFound:
        raise Http404("customer not found") from None
    return redirect("workspace:customer", customer_id)


def invoice_filters(request: HttpRequest, as_of: date) -> web_selectors.InvoiceFilters:
    return web_selectors.InvoiceFilters(
        as_of=as_of,
        state=request.GET.get("state", "open"),
        search=request.GET.get("q", "").strip(),
        currency=_currency_param(request),
        bucket=request.GET.get("bucket", "").strip(),
        segment=_group_param(request, "segment"),
        collector=_group_param(request, "collector"),
        issued_from=_date_param(request, "issued_from"),
        paid_from=_date_param(request, "paid_from"),
    )


@login_required
def invoice_list(request: HttpRequest) -> HttpResponse:
    """Invoices as of a date; the dashboard's figures open it filtered (docs/workspace.md, "Drill-down")."""
    entity, entities, as_of = entity_and_date(request)
    filters = invoice_filters(request, as_of)
    invoices = web_selectors.invoice_list_filtered(user=request.user, entity=entity, filters=filters)
    page = Paginator(invoices, PAGE_SIZE).get_page(request.GET.get("page"))
    for invoice in page:
        invoice.days_past_due = (as_of - invoice.due_date).days  # type: ignore[attr-defined]
    chips = []
    if filters.currency:
        chips.append(filter_chip(request, f"Currency: {filters.currency}", "currency"))
    if filters.bucket and web_selectors.aging_bucket(filters.bucket) is not None:
        chips.append(filter_chip(request, f"Aging: {filters.bucket} days past due", "bucket"))
    chips += _group_chips(request, filters.segment, filters.collector)
    if filters.issued_from:
        chips.append(filter_chip(request, f"Issued {filters.issued_from} → {as_of}", "issued_from"))
    if filters.paid_from:
        chips.append(filter_chip(request, f"Paid {filters.paid_from} → {as_of}", "paid_from"))
    totals = web_selectors.invoice_totals(invoices)
    context: dict[str, Any] = {
        "entity": entity,
        "entities": entities,
        "as_of": as_of,
        "page": page,
        "state": filters.state,
        "q": filters.search,
        "chips": chips,
        "kept": _kept(
            request, ("currency", "bucket", "segment", "collector", "issued_from", "paid_from", "kpi")
        ),
        "totals": totals,
    }
    drilled = request.GET.get("kpi", "")
    if filters.currency and drilled == "ar_total":
        context["bridge"] = web_selectors.ar_bridge(
            user=request.user,
            entity=entity,
            as_of=as_of,
            currency=filters.currency,
            segment=filters.segment,
            collector=filters.collector,
        )
    if filters.currency and filters.issued_from and drilled == "credit_sales":
        credited = web_selectors.credited_in_period(
            user=request.user,
            entity=entity,
            start=filters.issued_from,
            as_of=as_of,
            currency=filters.currency,
            segment=filters.segment,
            collector=filters.collector,
        )
        invoiced = sum((total.amount for total in totals), Decimal(0))
        context["sales"] = {
            "currency": filters.currency,
            "invoiced": invoiced,
            "credited": credited,
            "credit_sales": invoiced - credited,
        }
    return render(request, "web/invoice_list.html", context)

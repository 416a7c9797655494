"""Workspace pages. Thin: parse the request, check the role, call selectors and services, render."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from relance.accounts.decorators import NOT_ALLOWED, role_permission_required
from relance.accounts.selectors import (
    CUSTOMER_NOT_FOUND,
    customer_for_user,
    customer_scope,
    customers_visible,
    entities_for_user,
    entity_list_for_user,
    user_can,
    user_is_read_only,
)
from relance.cases.models import Dispute, DisputeReason, DisputeStatus
from relance.common.converters import row_id_or_none
from relance.core.actors import Actor
from relance.core.calendar import parse_iso_date
from relance.core.errors import NotFound, ValidationFailed
from relance.core.text import sentence
from relance.dunning.contacts import last_contact_dates
from relance.dunning.selectors import OwedSummary, customer_policy_key, owed_summary
from relance.ledger.models import Customer, Entity
from relance.portal.selectors import dispute_sla_days
from relance.workspace import charts, forms, rendering, selectors, services

PERM_OUTCOME = "cases.add_contactlog"
PERM_PROMISE = "cases.add_promise"
PERM_DISPUTE = "cases.add_dispute"
PERM_SNOOZE = "dunning.change_worklistentry"
PERM_ASSIGN = "ledger.change_customer"
PERM_STATEMENT = "dunning.change_worklistentry"
PERM_DISPUTE_ASSIGN = "cases.change_dispute"
PERM_POLICY_VIEW = "dunning.view_policy"
PERM_POLICY_EDIT = "dunning.change_policy"


def _require(request: HttpRequest, perm: str, obj: Any = None) -> None:
    if not user_can(request.user, perm, obj):
        raise PermissionDenied(NOT_ALLOWED.format(perm=perm))


def _entity(request: HttpRequest) -> tuple[Entity, list[Entity]]:
    """The entity chosen in the top bar (shared with the other pages through the session)."""
    entities = entity_list_for_user(request.user)  # one query, reused by every check in the request
    name = request.GET.get("entity") or request.session.get("entity")
    entity = next((e for e in entities if e.name == name), None) if name else None
    if entity is None:
        entity = entities[0] if entities else None
    if entity is None:
        raise Http404("You have no access to any entity yet. Ask an administrator.")
    _remember_entity(request, entity)
    return entity, entities


def _remember_entity(request: HttpRequest, entity: Entity) -> None:
    """Keep the entity in the session; write the session only when it changes (not every page)."""
    if request.session.get("entity") != entity.name:
        request.session["entity"] = entity.name


def _today() -> date:
    return timezone.localdate()


def _customer(request: HttpRequest, customer_id: int) -> Customer:
    try:
        return customer_for_user(user=request.user, customer_id=customer_id)
    except NotFound:
        raise Http404(CUSTOMER_NOT_FOUND) from None


def _date_or_none(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return parse_iso_date(value)
    except ValidationFailed:
        return None


def _base(
    request: HttpRequest, entity: Entity, entities: QuerySet[Entity] | list[Entity], **extra: Any
) -> dict[str, Any]:
    return {"entity": entity, "entities": entities, "as_of": _today(), **extra}


# --------------------------------------------------------------------------- worklist


def _not_due(customer: Any, today: Any, summary: OwedSummary) -> str:
    """Why a dunning message would be cancelled at send time today ('' when one would go): the
    send-time rule, so the next steps never promise what the worker would not send."""
    from relance.dunning.selectors import customer_still_due

    still = customer_still_due(customer=customer, on=today, summary=summary)
    return "" if still.due else still.reason


def _worklist_filters(request: HttpRequest, is_collector: bool) -> selectors.WorklistFilters:
    return selectors.worklist_filters_from(request.GET, is_collector=is_collector)


@login_required
@require_GET
def worklist(request: HttpRequest) -> HttpResponse:
    """Every row of the latest run's worklist, a page at a time, filtered and sorted by column."""
    return _worklist_page(request)


def _worklist_page(
    request: HttpRequest,
    *,
    status: int = 200,
    bulk_errors: Mapping[str, Any] | None = None,
    view_error: str = "",
) -> HttpResponse:
    """The worklist; after a refused bulk action or saved view (400) with the rows still
    selected, what was typed and each error by its field."""
    from django.core.paginator import Paginator

    entity, entities = _entity(request)
    is_collector = selectors.user_is_collector(request.user)
    filters = _worklist_filters(request, is_collector)
    prediction_run = selectors.prediction_run_id(entity=entity)
    run, entries = selectors.worklist_entries(
        user=request.user, entity=entity, today=_today(), filters=filters, prediction_run=prediction_run
    )
    page = Paginator(entries, selectors.WORKLIST_PAGE).get_page(request.GET.get("page"))
    rows = [selectors.worklist_row(row) for row in page.object_list]
    today = _today()
    predicted = selectors.reasons_in_words(
        run_id=prediction_run,
        customer_ids=[row.customer_id for row in rows],
        today=today,
        on_time={row.customer_id for row in rows if row.predicted_on_time},
    )
    last_contacts = last_contact_dates(customer_ids=[row.customer_id for row in rows])
    contacted_today = {customer_id for customer_id, day in last_contacts.items() if day >= today}
    return render(
        request,
        "workspace/worklist.html",
        _base(
            request,
            entity,
            entities,
            run=run,
            rows=rows,
            page=page,
            rows_html=rendering.worklist_rows_html(
                rows, contacted_today=contacted_today, selected=_selected_ids(request), predicted=predicted
            ),
            bulk_errors=bulk_errors or {},
            until_typed=request.POST.get("until") if request.method == "POST" else None,
            call_backs=selectors.call_backs_due(user=request.user, today=today, entity=entity),
            is_collector=is_collector,
            collectors=selectors.collectors_of(entity=entity),
            filters=filters,
            filtered=any(
                request.GET.get(name)
                for name in ("collector", "segment", "currency", "min_overdue", "min_days")
            ),
            choices=selectors.worklist_choices(run=run, entity=entity),
            saved_views=_saved_view_links(request, entity),
            can_save_views=not user_is_read_only(request.user),
            view_query=urlencode(selectors.worklist_view_params(request.GET)),
            view_error=view_error,
            view_name_typed=request.POST.get("name", "") if view_error else "",
            sort=filters.sort,
            columns=WORKLIST_COLUMNS,
            can_assign=user_can(request.user, PERM_ASSIGN),
            can_snooze=user_can(request.user, PERM_SNOOZE),
            snooze_default=_today() + timedelta(days=7),
        ),
        status=status,
    )


def _selected_ids(request: HttpRequest) -> set[int]:
    if request.method != "POST":
        return set()
    return {found for value in request.POST.getlist("customer") if (found := row_id_or_none(value))}


def _saved_view_links(request: HttpRequest, entity: Entity) -> list[dict[str, Any]]:
    """The user's saved worklist views as links; the one whose filters are the page's is current."""
    current = selectors.worklist_view_params(request.GET)
    return [
        {"view": view, "query": urlencode(view.params), "current": view.params == current}
        for view in selectors.saved_views_of(user=request.user, entity=entity)
    ]


@require_POST
@login_required
def worklist_view_save(request: HttpRequest) -> HttpResponse:
    """Save the worklist's filters and sort (this URL's query string, checked again) under a name."""
    entity, _ = _entity(request)
    params = selectors.worklist_view_params(request.GET)
    try:
        view = services.saved_view_save(
            user=request.user, entity=entity, name=request.POST.get("name", ""), params=params
        )
    except ValidationFailed as exc:
        return _worklist_page(request, status=400, view_error=sentence(str(exc)))
    messages.success(request, f"View “{view.name}” saved.")
    return redirect(_worklist_url(params))


@require_POST
@login_required
def worklist_view_delete(request: HttpRequest, view_id: int) -> HttpResponse:
    """Delete one of the user's own saved views (another user's is a 404)."""
    try:
        view = selectors.saved_view_for_user(user=request.user, view_id=view_id)
    except NotFound:
        raise Http404(selectors.SAVED_VIEW_NOT_FOUND) from None
    name = view.name
    services.saved_view_delete(view=view)
    messages.success(request, f"View “{name}” deleted.")
    return redirect("workspace:worklist")


def _worklist_url(params: Mapping[str, str]) -> str:
    url = reverse("workspace:worklist")
    return f"{url}?{urlencode(params)}" if params else url


# the sortable columns of the worklist: (sort key, header, numeric)
WORKLIST_COLUMNS = [
    ("priority", "Priority", True),
    ("customer", "Customer", False),
    ("collector", "Collector", False),
    ("overdue", "Overdue", True),
    ("days", "Days past due", True),
    ("contact", "Since contact", True),
    ("broken", "Broken promises", True),
    ("risk", "Risk", False),
]


@require_POST
@role_permission_required(PERM_SNOOZE)
def worklist_snooze(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = _customer(request, customer_id)
    _require(request, PERM_SNOOZE, customer)
    form = forms.SnoozeForm(request.POST, today=_today())
    if not form.is_valid():
        return _worklist_page(request, status=400, bulk_errors=form.errors)
    until = form.cleaned_data["until"] or _today() + timedelta(days=1)
    services.worklist_snooze(user=request.user, customer=customer, until=until, today=_today())
    messages.success(request, f"{customer.name} snoozed until {until}.")
    return redirect("workspace:worklist")


@require_POST
@login_required
def worklist_bulk(request: HttpRequest) -> HttpResponse:
    entity, _ = _entity(request)
    ids = [
        found for value in request.POST.getlist("customer") if (found := row_id_or_none(value)) is not None
    ]
    customers = list(customers_visible(request.user, entity=entity).filter(pk__in=ids))
    action = request.POST.get("action", "")
    if not customers:
        return _worklist_page(
            request, status=400, bulk_errors={"customer": ["Select at least one customer."]}
        )
    if action == "assign":
        _require(request, PERM_ASSIGN)
        collector_id = row_id_or_none(request.POST.get("collector"))
        collector = (
            selectors.collectors_of(entity=entity).filter(pk=collector_id).first() if collector_id else None
        )
        if collector_id and collector is None:
            raise Http404("collector not found")
        changed = 0
        for customer in customers:
            _require(request, PERM_ASSIGN, customer)
            changed += services.customer_collector_assign(
                customer=customer, collector=collector, by=request.user
            )
        who = collector.get_username() if collector else "nobody"
        messages.success(request, f"{changed} customer(s) assigned to {who}.")
    elif action == "statement":
        _require(request, PERM_STATEMENT)
        if request.POST.get("confirmed") != "1":
            return _statement_confirm(request, entity, customers)
        report = services.statement_email_queue(customers=customers, as_of=_today(), by=request.user)
        messages.success(
            request,
            f"Statements queued: {len(report.queued)}; already queued today: {len(report.already_queued)}.",
        )
        for line in report.skipped:
            messages.warning(request, line)
    elif action == "snooze":
        _require(request, PERM_SNOOZE)
        form = forms.SnoozeForm(request.POST, today=_today())
        if not form.is_valid():
            return _worklist_page(request, status=400, bulk_errors=form.errors)
        until = form.cleaned_data["until"] or _today() + timedelta(days=1)
        for customer in customers:
            services.worklist_snooze(user=request.user, customer=customer, until=until, today=_today())
        messages.success(request, f"{len(customers)} customer(s) snoozed until {until}.")
    else:
        return _worklist_page(
            request, status=400, bulk_errors={"action": ["Choose what to do with the selected customers."]}
        )
    return redirect("workspace:worklist")


def _statement_confirm(request: HttpRequest, entity: Entity, customers: list[Customer]) -> HttpResponse:
    """Before sending statements: how many customers, who cannot receive one, and one rendered
    sample; the button posts the same selection again, confirmed."""
    from relance.comms.rendering import TemplateError
    from relance.delivery.services import recipient_for

    reachable = [c for c in customers if recipient_for(c, "email")[1]]
    error = ""
    try:
        sample = services.statement_sample(customers=reachable, as_of=_today())
    except (TemplateError, LookupError) as exc:
        sample, error = None, str(exc)
    return render(
        request,
        "workspace/statement_confirm.html",
        {
            "entity": entity,
            "customers": customers,
            "reachable": len(reachable),
            "unreachable": [c for c in customers if c not in reachable],
            "sample_customer": sample[0] if sample else None,
            "sample": sample[1] if sample else None,
            "error": error,
            "as_of": _today(),
        },
    )


# --------------------------------------------------------------------------- customer 360


def _page_number(request: HttpRequest) -> int:
    number = row_id_or_none(request.GET.get("page")) or 1
    return max(number, 1)


@login_required
@require_GET
def customer_360(request: HttpRequest, customer_id: int) -> HttpResponse:
    return customer_page(request, _customer(request, customer_id))


def customer_page(
    request: HttpRequest, customer: Customer, *, status: int = 200, **forms_shown: Any
) -> HttpResponse:
    """The customer 360; after a refused form (``status=400``) with that form bound
    (``outcome_form``, ``note_form``, ``reassign_form``, ``hold_form``): the values typed and
    each error by its field."""
    from relance.cases.selectors import customer_credit_hold, hold_list_in_force
    from relance.quality.report import customer_quality

    entities = entity_list_for_user(request.user)
    _remember_entity(request, customer.entity)
    today = _today()
    owed = owed_summary(customer=customer, as_of=today)  # read once: unapplied credit, the send-time answer
    open_items = selectors.open_items_page(customer=customer, as_of=today)
    items_html, items_options = rendering.open_items_html(open_items.items)
    every_open_item = (
        open_items.items if open_items.complete else selectors.open_item_keys(customer=customer, as_of=today)
    )
    open_total, overdue_total = open_items.open_total, open_items.overdue_total
    utilisation = (open_total / customer.credit_limit * 100) if customer.credit_limit else None
    paid = selectors.payment_behaviour(customer=customer, as_of=today)
    policy_key = customer_policy_key(customer=customer)
    policy = selectors.customer_policy(customer=customer, policy_key=policy_key)
    present = selectors.customer_records_present(customer=customer)  # kinds the page need not ask for
    timeline = selectors.customer_timeline(
        customer=customer, before=row_id_or_none(request.GET.get("before"))
    )
    can = {
        "outcome": user_can(request.user, PERM_OUTCOME, customer),
        "promise": user_can(request.user, PERM_PROMISE, customer),
        "dispute": user_can(request.user, PERM_DISPUTE, customer),
        "assign": user_can(request.user, PERM_ASSIGN, customer),
    }
    return render(
        request,
        "workspace/customer.html",
        _base(
            request,
            customer.entity,
            entities,
            customer=customer,
            contacts=selectors.contact_views(customer=customer),
            quality=customer_quality(customer=customer, today=today),
            items=open_items.items,
            items_html=items_html,
            items_options=items_options,
            open_items=open_items,
            open_total=open_total,
            overdue_total=overdue_total,
            unapplied=sorted(owed.unapplied_by_currency().items()),
            utilisation=utilisation,
            history_svg=charts.days_late_chart(
                paid.points, title=f"Days late per paid invoice — {customer.name}"
            ),
            paid=paid,
            timeline=timeline,
            timeline_before=timeline[-1].id if len(timeline) == selectors.TIMELINE_LIMIT else None,
            predictions=selectors.customer_predictions(
                customer=customer, open_invoice_ids=[item.pk for item in every_open_item]
            ),
            next_steps=selectors.next_steps(
                customer=customer, open_items=every_open_item, today=today, policy=policy
            )[:10],
            not_due=_not_due(customer, today, owed),
            policy_key=policy_key,
            holds=list(hold_list_in_force(customer=customer, on=today)) if "hold" in present else [],
            credit_hold=customer_credit_hold(customer=customer) if "credit_hold" in present else None,
            can=can,
            reasons=DisputeReason.choices,
            collectors=selectors.collectors_of(entity=customer.entity) if can["assign"] else [],
            promise_default=today + timedelta(days=7),
            behaviour_url=reverse("workspace:customer_behaviour", args=[customer.pk]),
            last_contact=last_contact_dates(customer_ids=[customer.pk]).get(customer.pk),
            outcome_choices=forms.OUTCOME_CHOICES,
            outcome_form=forms_shown.get("outcome_form"),
            note_form=forms_shown.get("note_form"),
            reassign_form=forms_shown.get("reassign_form"),
            hold_form=forms_shown.get("hold_form"),
        ),
        status=status,
    )


@login_required
@require_GET
def customer_items(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Page ``?page=N`` of the customer's open items: the rows alone for the page's "Show more"
    (``?fragment=1``), or a page of its own without JavaScript."""
    customer = _customer(request, customer_id)
    open_items = selectors.open_items_page(customer=customer, as_of=_today(), page=_page_number(request))
    items_html, _ = rendering.open_items_html(open_items.items)
    template = (
        "workspace/_open_items_rows.html" if request.GET.get("fragment") else "workspace/open_items.html"
    )
    return render(
        request,
        template,
        _base(
            request,
            customer.entity,
            entity_list_for_user(request.user),
            customer=customer,
            open_items=open_items,
            items_html=items_html,
        ),
    )


@login_required
@require_GET
def customer_behaviour(request: HttpRequest, customer_id: int) -> HttpResponse:
    """The engine's behaviour class and evidence, loaded after the page (it runs the engine)."""
    customer = _customer(request, customer_id)
    today = _today()
    behaviour = selectors.customer_behaviour(customer=customer, as_of=today)
    paid = selectors.payment_behaviour(customer=customer, as_of=today)  # the chart's, the same figures
    return render(
        request,
        "workspace/behaviour.html",
        {
            "customer": customer,
            "behaviour": behaviour,
            "paid": paid,
            "dbt_svg": _customer_dbt_svg(customer, today),
            "change": selectors.customer_behaviour_change(customer=customer, as_of=today),
        },
    )


def _customer_dbt_svg(customer: Customer, today: date) -> str:
    """The customer's DBT trend with its dispute indicators (``relance.reports.dbt_trend``)."""
    from relance.reports.dbt_trend import customer_dbt_trend
    from relance.web.charts import dbt_trend_chart

    points = customer_dbt_trend(customer=customer, as_of=today)
    return dbt_trend_chart(
        [point.as_of.strftime("%b %y") for point in points],
        [point.dbt for point in points],
        [point.disputes_opened for point in points],
        [point.disputes_open for point in points],
        title=f"Days beyond terms and disputes over the last 12 months — {customer.name}",
    )


@require_POST
@role_permission_required(PERM_OUTCOME)
def customer_outcome(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Record a call's outcome; refused input shows the 360 again with the form as typed (400)."""
    customer = _customer(request, customer_id)
    outcome = request.POST.get("outcome", "")
    _require(request, PERM_OUTCOME, customer)
    if outcome == "promise":
        _require(request, PERM_PROMISE, customer)
    if outcome == "dispute":
        _require(request, PERM_DISPUTE, customer)
    form = forms.OutcomeForm(request.POST, customer=customer, today=_today())
    if form.is_valid():
        data = form.cleaned_data
        try:
            summary = services.customer_outcome_record(
                actor=Actor.user(request.user),
                customer=customer,
                data=services.OutcomeInput(
                    outcome=data["outcome"],
                    on=_today(),
                    promised_date=data["promised_date"],
                    amount=data["amount"],
                    invoice=data["invoice"],
                    reason_code=data["reason_code"] or "other",
                    call_back_on=data["call_back_on"],
                    call_back_at=data["call_back_at"],
                    note=data["note"].strip(),
                ),
                user=request.user,
            )
        except ValidationFailed as exc:
            forms.service_error(form, exc)
        else:
            messages.success(request, summary)
            if request.POST.get("then") == "next":
                return redirect("workspace:customer_next", customer_id=customer.pk)
            return redirect("workspace:customer", customer_id=customer.pk)
    return customer_page(request, customer, status=400, outcome_form=form)


@require_POST
@role_permission_required(PERM_OUTCOME)
def customer_note(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = _customer(request, customer_id)
    _require(request, PERM_OUTCOME, customer)
    form = forms.NoteForm(request.POST)
    if form.is_valid():
        try:
            services.customer_note_add(
                customer=customer,
                text=form.cleaned_data["text"],
                actor=Actor.user(request.user),
            )
        except ValidationFailed as exc:
            forms.service_error(form, exc)
        else:
            messages.success(request, "Note added.")
            return redirect("workspace:customer", customer_id=customer.pk)
    return customer_page(request, customer, status=400, note_form=form)


@require_POST
@role_permission_required(PERM_ASSIGN)
def customer_reassign(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = _customer(request, customer_id)
    _require(request, PERM_ASSIGN, customer)
    collector_id = row_id_or_none(request.POST.get("collector"))
    collector = (
        selectors.collectors_of(entity=customer.entity).filter(pk=collector_id).first()
        if collector_id
        else None
    )
    if collector_id and collector is None:
        raise Http404("collector not found")
    try:
        services.customer_collector_assign(customer=customer, collector=collector, by=request.user)
    except ValidationFailed as exc:
        form = forms.ReassignForm(request.POST)
        form.is_valid()
        form.add_error("collector", sentence(exc.message))
        return customer_page(request, customer, status=400, reassign_form=form)
    messages.success(request, f"Collector: {collector.get_username() if collector else 'nobody'}.")
    return redirect("workspace:customer", customer_id=customer.pk)


@login_required
@require_GET
def customer_next(request: HttpRequest, customer_id: int) -> HttpResponse:
    """The next customer on the user's worklist after this one (the worklist when none is left)."""
    customer = _customer(request, customer_id)
    following = selectors.worklist_next_customer(
        user=request.user, entity=customer.entity, today=_today(), after_customer_id=customer.pk
    )
    if following is None:
        messages.info(request, "That was the last customer on your worklist.")
        return redirect("workspace:worklist")
    return redirect("workspace:customer", customer_id=following)


# --------------------------------------------------------------------------- queues


def _group_param(request: HttpRequest, name: str) -> str | None:
    value = request.GET.get(name, "").strip()
    return None if not value else ("" if value == "-" else value)


def _filters(request: HttpRequest) -> tuple[selectors.QueueFilters, Entity, list[Entity]]:
    entity, entities = _entity(request)
    owner = request.GET.get("owner")
    owner_id = 0 if owner == "none" else row_id_or_none(owner)
    sla_past = request.GET.get("sla") == "past"
    return (
        selectors.QueueFilters(
            entity=entity,
            status=request.GET.get("status", ""),
            owner_id=owner_id,
            segment=_group_param(request, "segment"),
            collector=_group_param(request, "collector"),
            promised_on=_date_or_none(request.GET.get("due")),
            sla_past_on=(_date_or_none(request.GET.get("as_of")) or _today()) if sla_past else None,
        ),
        entity,
        entities,
    )


def _queue_chips(request: HttpRequest, filters: selectors.QueueFilters) -> list[dict[str, str]]:
    """The drill-down filters as removable chips (the page's own selects are not chips)."""
    from relance.web.views import filter_chip

    chips = []
    if filters.segment is not None:
        chips.append(filter_chip(request, f"Segment: {filters.segment or '(none)'}", "segment"))
    if filters.collector is not None:
        chips.append(filter_chip(request, f"Collector: {filters.collector or '(none)'}", "collector"))
    if filters.promised_on is not None:
        chips.append(filter_chip(request, f"Promised for {filters.promised_on}", "due"))
    if filters.sla_past_on is not None:
        chips.append(filter_chip(request, f"Past the answer date on {filters.sla_past_on}", "sla", "as_of"))
    return chips


def _queue(
    request: HttpRequest,
    template: str,
    rows: list[dict[str, Any]],
    filters: selectors.QueueFilters,
    entity: Entity,
    entities: list[Entity],
    statuses: list[tuple[str, str]],
    **extra: Any,
) -> HttpResponse:
    return render(
        request,
        template,
        _base(
            request,
            entity,
            entities,
            rows=rows,
            filters=filters,
            statuses=statuses,
            owners=selectors.collectors_of(entity=entity),
            owner_param=request.GET.get("owner", ""),
            chips=_queue_chips(request, filters),
            kept=[
                (name, request.GET[name])
                for name in ("segment", "collector", "due", "sla", "as_of")
                if request.GET.get(name)
            ],
            export_url=reverse(f"workspace:{template.split('/')[-1].removesuffix('.html')}_export"),
            **extra,
        ),
    )


@login_required
@require_GET
def dispute_queue(request: HttpRequest) -> HttpResponse:
    filters, entity, entities = _filters(request)
    rows = selectors.dispute_queue(user=request.user, filters=filters, today=_today())
    return _queue(
        request,
        "workspace/disputes.html",
        rows,
        filters,
        entity,
        entities,
        DisputeStatus.choices,
        sla_days=dispute_sla_days(entity=entity),
        can_assign=user_can(request.user, PERM_DISPUTE_ASSIGN),
    )


def _dispute(request: HttpRequest, dispute_id: int) -> Dispute:
    try:
        return selectors.dispute_for_user(user=request.user, dispute_id=dispute_id)
    except NotFound:
        raise Http404(selectors.DISPUTE_NOT_FOUND) from None


def _dispute_page(
    request: HttpRequest, dispute: Dispute, template: str, *, status: int = 200, **extra: Any
) -> HttpResponse:
    from relance.cases.models import DisputeResolution

    entities = entity_list_for_user(request.user)
    return render(
        request,
        template,
        _base(
            request,
            dispute.entity,
            entities,
            **selectors.dispute_page(dispute=dispute, today=_today()),
            resolutions=DisputeResolution.choices,
            owners=selectors.collectors_of(entity=dispute.entity),
            can_resolve=user_can(request.user, PERM_DISPUTE_ASSIGN, dispute),
            can_comment=user_can(request.user, PERM_OUTCOME, dispute.customer),
            **extra,
        ),
        status=status,
    )


@login_required
@require_GET
def dispute_detail(request: HttpRequest, dispute_id: int) -> HttpResponse:
    """One dispute: the customer's words and files, internal comments, owner, SLA, resolve."""
    return _dispute_page(request, _dispute(request, dispute_id), "workspace/dispute.html")


@login_required
@require_POST
def dispute_comment(request: HttpRequest, dispute_id: int) -> HttpResponse:
    dispute = _dispute(request, dispute_id)
    _require(request, PERM_OUTCOME, dispute.customer)
    form = forms.CommentForm(request.POST)
    if form.is_valid():
        try:
            services.dispute_comment_add(dispute=dispute, text=form.cleaned_data["text"], user=request.user)
        except ValidationFailed as exc:
            forms.service_error(form, exc)
        else:
            return redirect("workspace:dispute", dispute.pk)
    return _dispute_page(request, dispute, "workspace/dispute.html", comment_form=form, status=400)


@login_required
@require_POST
def dispute_resolve(request: HttpRequest, dispute_id: int) -> HttpResponse:
    """Resolve in two steps: the chosen resolution (nothing is preselected) is shown back for a
    confirmation; only the confirmed POST resolves and tells the customer."""
    from relance.cases.models import DisputeResolution
    from relance.portal.selectors import portal_today
    from relance.portal.services import dispute_close

    dispute = _dispute(request, dispute_id)
    _require(request, PERM_DISPUTE_ASSIGN, dispute)
    form = forms.ResolveForm(request.POST)
    note = request.POST.get("note", "").strip()[:1000]
    if dispute.status != DisputeStatus.OPEN:
        messages.error(request, f"Dispute {dispute.pk} is already resolved.")
        return redirect("workspace:dispute", dispute.pk)
    if not form.is_valid():
        return _dispute_page(
            request, dispute, "workspace/dispute.html", note=note, resolve_form=form, status=400
        )
    resolution = form.cleaned_data["resolution"]
    if request.POST.get("confirm") != "yes":
        return _dispute_page(
            request,
            dispute,
            "workspace/dispute_confirm.html",
            resolution=resolution,
            resolution_label=DisputeResolution(resolution).label,
            note=note,
        )
    try:
        dispute_close(
            dispute=dispute,
            resolution=resolution,
            on=portal_today(entity=dispute.entity),
            note=note,
            actor=Actor.user(request.user),
        )
    except ValidationFailed as exc:
        forms.service_error(form, exc)
        return _dispute_page(
            request, dispute, "workspace/dispute.html", note=note, resolve_form=form, status=400
        )
    messages.success(
        request,
        f"Dispute {dispute.pk} resolved: {DisputeResolution(resolution).label}. The customer is told.",
    )
    return redirect("workspace:disputes")


@login_required
@require_GET
def dispute_file(request: HttpRequest, dispute_id: int, attachment_id: int) -> HttpResponseBase:
    """A file the customer attached, as a download (never inline: the customer chose its bytes)."""
    from django.http import FileResponse

    dispute = _dispute(request, dispute_id)  # scoped: 404 for a dispute the user may not see
    try:
        found = selectors.dispute_attachment(dispute=dispute, attachment_id=attachment_id)
    except NotFound:
        raise Http404("attachment not found") from None
    return FileResponse(
        found.file.open("rb"), as_attachment=True, filename=found.filename, content_type=found.content_type
    )


@require_POST
@role_permission_required(PERM_DISPUTE_ASSIGN)
def dispute_assign(request: HttpRequest, dispute_id: int) -> HttpResponse:
    dispute = (
        customer_scope(request.user, Dispute.objects.filter(pk=dispute_id), customer_field="customer")
        .select_related("entity")
        .first()
    )
    if dispute is None or not user_can(request.user, PERM_DISPUTE_ASSIGN, dispute):
        raise Http404("dispute not found")
    owner_id = row_id_or_none(request.POST.get("owner"))
    owner = selectors.collectors_of(entity=dispute.entity).filter(pk=owner_id).first() if owner_id else None
    if owner_id and owner is None:
        raise Http404("owner not found")
    services.dispute_assign(dispute=dispute, owner=owner, by=request.user)
    messages.success(
        request, f"Dispute {dispute.pk} assigned to {owner.get_username() if owner else 'nobody'}."
    )
    return redirect(request.POST.get("back") or reverse("workspace:disputes"))


@login_required
@require_GET
def promise_queue(request: HttpRequest) -> HttpResponse:
    from relance.cases.models import PromiseStatus

    filters, entity, entities = _filters(request)
    rows = selectors.promise_queue(user=request.user, filters=filters, today=_today())
    return _queue(request, "workspace/promises.html", rows, filters, entity, entities, PromiseStatus.choices)


@login_required
@require_GET
def plan_queue(request: HttpRequest) -> HttpResponse:
    from relance.cases.models import PlanStatus

    filters, entity, entities = _filters(request)
    rows = selectors.plan_queue(user=request.user, filters=filters, today=_today())
    return _queue(request, "workspace/plans.html", rows, filters, entity, entities, PlanStatus.choices)


# --------------------------------------------------------------------------- search


@login_required
@require_GET
def search(request: HttpRequest) -> JsonResponse:
    """``?q=`` → JSON hits in the user's entities (``?entity=NAME`` narrows to one)."""
    entity = None
    if request.GET.get("entity"):
        entity = entities_for_user(request.user).filter(name=request.GET["entity"]).first()
        if entity is None:
            return JsonResponse({"query": request.GET.get("q", ""), "results": []})
    hits = selectors.search(user=request.user, query=request.GET.get("q", ""), entity=entity)
    return JsonResponse(
        {
            "query": request.GET.get("q", ""),
            "results": [
                {
                    "kind": h.kind,
                    "label": h.label,
                    "detail": h.detail,
                    "url": h.url,
                    "customer_id": h.customer_id,
                }
                for h in hits
            ],
        }
    )


@login_required
@require_GET
def find(request: HttpRequest) -> HttpResponse:
    """The search as a page (the top bar's search box on every back-office page), with a
    "no result" state."""
    query = request.GET.get("q", "").strip()
    entities = entity_list_for_user(request.user)
    if not entities:
        raise Http404("You have no access to any entity yet. Ask an administrator.")
    hits = selectors.search(user=request.user, query=query, limit=25) if query else []
    entity = next((e for e in entities if e.name == request.session.get("entity")), entities[0])
    return render(
        request, "workspace/search.html", _base(request, entity, entities, q=query, search_q=query, hits=hits)
    )


# --------------------------------------------------------------------------- policies


@role_permission_required(PERM_POLICY_VIEW)
@require_GET
def policy_list(request: HttpRequest) -> HttpResponse:
    """The entity's policies, with the segments that follow each, to simulate or edit."""
    from relance.dunning.selectors import policy_list as policies_of
    from relance.dunning.selectors import segment_policy_list

    entity, entities = _entity(request)
    segments: dict[int, list[str]] = {}
    for mapping in segment_policy_list(entity=entity):
        segments.setdefault(mapping.policy_id, []).append(mapping.segment or "(default)")
    rows = [(policy, segments.get(policy.pk, [])) for policy in policies_of(entity=entity)]
    return render(
        request,
        "workspace/policies.html",
        _base(
            request, entity, entities, rows=rows, can_edit=user_can(request.user, PERM_POLICY_EDIT, entity)
        ),
    )

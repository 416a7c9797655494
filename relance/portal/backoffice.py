"""Back-office lists of what customers asked for: disputes (SLA, owner), promises, plans and plan
requests. Plain pages for signed-in users, scoped by ``customer_scope`` (a sales owner sees only the
accounts they own); deciding needs the role's permission on top."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from relance.accounts.decorators import NOT_ALLOWED
from relance.accounts.selectors import customer_scope, user_can
from relance.dunning.models import Dispute, DisputeResolution
from relance.portal import selectors, services
from relance.portal.models import PlanRequest


def _scoped(request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
    """Rows of the customers the user may see (``customer_scope``): any other is a 404."""
    return customer_scope(request.user, queryset, customer_field="customer")


def _require(request: HttpRequest, perm: str, obj: Any) -> None:
    if not user_can(request.user, perm, obj):
        raise PermissionDenied(NOT_ALLOWED.format(perm=perm))


@login_required
def disputes(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "open")
    rows = []
    for found in selectors.backoffice_disputes(
        user=request.user, status=status if status in ("open", "resolved") else ""
    )[:500]:
        case = getattr(found, "portal_case", None)
        today = selectors.portal_today(entity=found.customer.entity)
        rows.append(
            {"dispute": found, "case": case, "sla": selectors.case_sla(case=case, dispute=found, as_of=today)}
        )
    return render(
        request,
        "portal/back/disputes.html",
        {"rows": rows, "status": status, "resolutions": DisputeResolution.choices},
    )


@login_required
@require_POST
def dispute_resolve(request: HttpRequest, dispute_id: int) -> HttpResponse:
    found = (
        _scoped(request, Dispute.objects.filter(pk=dispute_id))
        .select_related("customer__entity", "invoice")
        .first()
    )
    if found is None:
        raise Http404("no such dispute")
    _require(request, "dunning.change_dispute", found)  # sales and read-only roles resolve nothing
    try:
        services.dispute_close(
            dispute=found,
            resolution=request.POST.get("resolution", ""),
            on=selectors.portal_today(entity=found.customer.entity),
            note=request.POST.get("note", "")[:1000],
            user=request.user,
        )
        messages.success(request, f"Dispute {found.pk} resolved; the customer is told.")
    except Exception as exc:  # ValidationFailed from the collections app
        messages.error(request, str(exc))
    return HttpResponseRedirect(reverse("portal:back_disputes"))


@login_required
def promises(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "open")
    rows = selectors.backoffice_promises(
        user=request.user, status=status if status in ("open", "kept", "cancelled") else ""
    )[:500]
    return render(request, "portal/back/promises.html", {"rows": rows, "status": status})


@login_required
def plans(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "portal/back/plans.html",
        {
            "plans": selectors.backoffice_plans(user=request.user)[:500],
            "requests": selectors.backoffice_plan_requests(user=request.user)[:500],
        },
    )


@login_required
@require_POST
def plan_request_decide(request: HttpRequest, request_id: int) -> HttpResponse:
    found = (
        _scoped(request, PlanRequest.objects.filter(pk=request_id)).select_related("customer__entity").first()
    )
    if found is None:
        raise Http404("no such request")
    _require(request, "dunning.add_paymentplan", found)
    approve = request.POST.get("decision") == "approve"
    try:
        services.plan_request_decide(
            request=found,
            approve=approve,
            on=selectors.portal_today(entity=found.customer.entity),
            user=request.user,
            note=request.POST.get("note", "")[:1000],
        )
        messages.success(request, f"Plan request {found.pk} {'approved' if approve else 'rejected'}.")
    except services.PortalRefused as refused:
        messages.error(request, str(refused))
    return HttpResponseRedirect(reverse("portal:back_plans"))

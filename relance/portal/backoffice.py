"""Back-office lists of what customers asked for: promises, plans and plan requests (disputes are
in the workspace's one queue, ``/w/disputes/``). Plain pages for signed-in users, scoped to the
entities they may see."""

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
from relance.core.actors import Actor
from relance.portal import selectors, services
from relance.portal.models import ContactProposal, PlanRequest, ProposalStatus


def _scoped(request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
    """Rows of the customers the user may see (``customer_scope``): any other is a 404."""
    return customer_scope(request.user, queryset, customer_field="customer")


def _require(request: HttpRequest, perm: str, obj: Any) -> None:
    if not user_can(request.user, perm, obj):
        raise PermissionDenied(NOT_ALLOWED.format(perm=perm))


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
    _require(request, "cases.add_paymentplan", found)
    approve = request.POST.get("decision") == "approve"
    try:
        services.plan_request_decide(
            request=found,
            approve=approve,
            on=selectors.portal_today(entity=found.customer.entity),
            actor=Actor.user(request.user),
            note=request.POST.get("note", "")[:1000],
        )
        messages.success(request, f"Plan request {found.pk} {'approved' if approve else 'rejected'}.")
    except services.PortalRefused as refused:
        messages.error(request, str(refused))
    return HttpResponseRedirect(reverse("portal:back_plans"))


@login_required
def contact_changes(request: HttpRequest) -> HttpResponse:
    """Customers' changes of their contact details waiting for a collector (issue 19)."""
    rows = (
        _scoped(request, ContactProposal.objects.filter(status=ProposalStatus.PENDING))
        .select_related("customer", "contact")
        .order_by("created_at", "id")[:500]
    )
    return render(request, "portal/back/contact_changes.html", {"rows": rows})


@login_required
@require_POST
def contact_change_decide(request: HttpRequest, proposal_id: int) -> HttpResponse:
    from relance.portal.contact_details import proposal_decide

    found = (
        _scoped(request, ContactProposal.objects.filter(pk=proposal_id))
        .select_related("customer__entity")
        .first()
    )
    if found is None:
        raise Http404("no such proposal")
    _require(request, "ledger.change_contact", found)
    accept = request.POST.get("decision") == "accept"
    try:
        proposal_decide(
            proposal=found,
            accept=accept,
            user=request.user,
            on=selectors.portal_today(entity=found.customer.entity),
            note=request.POST.get("note", "")[:1000],
        )
        messages.success(request, f"Contact change {found.pk} {'accepted' if accept else 'rejected'}.")
    except services.PortalRefused as refused:
        messages.error(request, str(refused))
    return HttpResponseRedirect(reverse("portal:back_contact_changes"))

"""Back-office lists of what customers asked for: promises, plans and plan requests (disputes are
in the workspace's one queue, ``/w/disputes/``). Plain pages for signed-in users, scoped to the
entities they may see."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from relance.portal import selectors, services
from relance.portal.models import PlanRequest


def _entities(request: HttpRequest):  # type: ignore[no-untyped-def]
    from relance.web.access import entities_for_user

    return entities_for_user(request.user)


@login_required
def promises(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "open")
    rows = selectors.backoffice_promises(
        entities=_entities(request), status=status if status in ("open", "kept", "cancelled") else ""
    )[:500]
    return render(request, "portal/back/promises.html", {"rows": rows, "status": status})


@login_required
def plans(request: HttpRequest) -> HttpResponse:
    entities = _entities(request)
    return render(
        request,
        "portal/back/plans.html",
        {
            "plans": selectors.backoffice_plans(entities=entities)[:500],
            "requests": selectors.backoffice_plan_requests(entities=entities)[:500],
        },
    )


@login_required
@require_POST
def plan_request_decide(request: HttpRequest, request_id: int) -> HttpResponse:
    found = (
        PlanRequest.objects.filter(pk=request_id, entity__in=_entities(request))
        .select_related("customer__entity")
        .first()
    )
    if found is None:
        raise Http404("no such request")
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

"""The customer 360's credit panel, a bureau report's raw payload, and the sales "Room to grow" list.

The panel is loaded after the 360 is shown (``workspace/credit.js``; a link without JavaScript),
so the 360 pays nothing for it. Who sees what: everyone who sees the customer sees its score with
the reasons, limit, exposure, review and holds with their why; only those who may read bureau
reports (credit managers, admins) see the latest bureau report and may open its raw payload.
"""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from relance.accounts.selectors import CUSTOMER_NOT_FOUND, customer_for_user, customers_visible, user_can
from relance.core.errors import NotFound
from relance.credit.models import BureauReport
from relance.credit.selectors.exposure import customers_for_exposure
from relance.credit.selectors.panel import credit_panel
from relance.credit.selectors.room import MIN_UTILISATION, room_to_grow
from relance.ledger.models import Customer

PERM_BUREAU = "credit.view_bureaureport"
PERM_SCORES = "credit.view_creditscore"
NO_CREDIT_VIEW = "Your role does not see credit scores."
NO_BUREAU_VIEW = "Bureau reports are for credit managers."


def _customer(request: HttpRequest, customer_id: int) -> Customer:
    """The customer if the user may see it (404 otherwise), read with what its exposure needs."""
    try:
        visible = customer_for_user(user=request.user, customer_id=customer_id)
    except NotFound:
        raise Http404(CUSTOMER_NOT_FOUND) from None
    return (
        customers_for_exposure(entity_id=visible.entity_id).select_related("sales_owner").get(pk=visible.pk)
    )


@login_required
@require_GET
def customer_credit(request: HttpRequest, customer_id: int) -> HttpResponse:
    """The credit panel: ``?fragment=1`` the panel alone (for the 360), else a page of its own."""
    customer = _customer(request, customer_id)
    if not user_can(request.user, PERM_SCORES, customer):
        raise PermissionDenied(NO_CREDIT_VIEW)
    today = timezone.localdate()
    with_bureau = user_can(request.user, PERM_BUREAU, customer)
    panel = credit_panel(customer=customer, on=today, with_bureau=with_bureau)
    reasons = sorted(panel.score.reasons, key=lambda reason: -reason["points"]) if panel.score else []
    insurance_exceeded = bool(panel.insurance and panel.insurance.over_insured_limit)
    context = {
        "customer": customer,
        "panel": panel,
        "exposure": panel.exposure,
        "reasons": reasons,
        "with_bureau": with_bureau,
        "insurance_exceeded": insurance_exceeded,
        "limit_expired": panel.exposure.limit_expired(today),
        "insured_currency": (panel.profile.insured_currency if panel.profile else "")
        or panel.exposure.currency,
        "recommended_currency": (panel.bureau.recommended_currency if panel.bureau else "")
        or panel.exposure.currency,
        "as_of": today,
    }
    template = "workspace/_credit_panel.html" if request.GET.get("fragment") else "workspace/credit.html"
    return render(request, template, context)


@login_required
@require_GET
def customer_bureau_report(request: HttpRequest, customer_id: int, report_id: int) -> HttpResponse:
    """A bureau report as the bureau sent it (its raw payload): credit managers and admins only."""
    customer = _customer(request, customer_id)
    if not user_can(request.user, PERM_BUREAU, customer):
        raise PermissionDenied(NO_BUREAU_VIEW)
    report = BureauReport.objects.filter(customer=customer, pk=report_id).first()
    if report is None:
        raise Http404("No such bureau report for this customer.")
    payload = json.dumps(report.raw_payload, indent=2, ensure_ascii=False, sort_keys=True)
    return render(
        request, "workspace/credit_bureau.html", {"customer": customer, "report": report, "payload": payload}
    )


@login_required
@require_GET
def room_to_grow_list(request: HttpRequest) -> HttpResponse:
    """Good payers near their limit with the limit a review would propose; a sales user's own."""
    if not user_can(request.user, PERM_SCORES):
        raise PermissionDenied(NO_CREDIT_VIEW)
    today = timezone.localdate()
    rows = room_to_grow(customers=customers_visible(request.user), on=today)
    return render(
        request,
        "workspace/room_to_grow.html",
        {"rows": rows, "as_of": today, "min_utilisation": MIN_UTILISATION},
    )

"""Pages of the sales owner's "I'm on it" and of support's "why": thin views over
``hold_selectors``, ``hold_services`` and ``explain``.

* ``/w/my-accounts/`` — the user's accounts with something open, the escalations coming soonest
  first, and a hold form per account;
* ``/w/customers/<id>/hold/`` (POST) — ask for a hold (``cases.add_customerhold`` on the customer:
  sales on the accounts they own, collectors, credit managers; support and auditors get 403);
* ``/w/customers/<id>/holds/<hold>/lift/`` (POST) — end a hold early (``cases.change_customerhold``,
  or the person who asked for it);
* ``/w/customers/<id>/why/`` — why the account is on hold or not chased, and why portal requests
  were refused; read-only, for every role that sees the customer.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from relance.accounts.decorators import NOT_ALLOWED, role_permission_required
from relance.accounts.selectors import entities_for_user, user_can
from relance.common.converters import row_id_or_none
from relance.compliance.links import HOLD_DAYS_MAX
from relance.compliance.services import HOLD_REASON_MAX
from relance.core.actors import Actor
from relance.core.errors import NotFound, ValidationFailed
from relance.ledger.models import Customer
from relance.workspace import explain, hold_selectors, hold_services
from relance.workspace.forms import HoldForm, service_error
from relance.workspace.selectors import call_backs_due

PERM_HOLD = hold_selectors.PERM_HOLD


def _customer(request: HttpRequest, customer_id: int) -> Customer:
    from relance.accounts.selectors import CUSTOMER_NOT_FOUND, customer_for_user

    try:
        return customer_for_user(user=request.user, customer_id=customer_id)
    except NotFound:
        raise Http404(CUSTOMER_NOT_FOUND) from None


def _owner_id(request: HttpRequest) -> int | None:
    return row_id_or_none(request.GET.get("owner"))


@login_required
@require_GET
def my_accounts(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    owner_id = _owner_id(request)
    accounts = hold_selectors.my_accounts(user=request.user, today=today, owner_id=owner_id)
    entities = entities_for_user(request.user)
    entity = entities.filter(name=request.session.get("entity")).first() or entities.order_by("name").first()
    return render(
        request,
        "workspace/my_accounts.html",
        {
            "entity": entity,
            "entities": entities,
            "as_of": today,
            "accounts": accounts,
            "call_backs": call_backs_due(user=request.user, today=today),
            "owners": hold_selectors.owner_choices(user=request.user) if accounts.scope != "own" else [],
            "owner_id": owner_id,
            "can_hold": user_can(request.user, PERM_HOLD),
            "days_default": hold_selectors.HOLD_DAYS_DEFAULT,
            "days_max": HOLD_DAYS_MAX,
            "reason_max": HOLD_REASON_MAX,
        },
    )


def _back(request: HttpRequest, customer: Customer) -> HttpResponse:
    back = request.POST.get("back", "")
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect(back)
    return redirect("workspace:customer", customer_id=customer.pk)


@require_POST
@role_permission_required(PERM_HOLD)
def hold_request(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Ask for a hold on the customer's escalation ("I'm on it"): reason and days."""
    from relance.compliance.selectors import entity_today

    customer = _customer(request, customer_id)
    if not user_can(request.user, PERM_HOLD, customer):
        raise PermissionDenied(NOT_ALLOWED.format(perm=PERM_HOLD))
    form = HoldForm(request.POST, reason_max=HOLD_REASON_MAX, days_max=HOLD_DAYS_MAX)
    if form.is_valid():
        try:
            hold = hold_services.hold_request_create(
                customer=customer,
                user=request.user,
                actor=Actor.user(request.user),
                request=hold_services.HoldRequest(
                    reason=form.cleaned_data["reason"],
                    days=form.cleaned_data["days"],
                    on=entity_today(customer=customer, now=timezone.now()),
                ),
            )
        except ValidationFailed as exc:
            service_error(form, exc)
    if form.errors:  # shown again on the account's page, as typed, the errors by their fields
        from relance.workspace.views import customer_page

        return customer_page(request, customer, status=400, hold_form=form)
    messages.success(
        request,
        f"{customer.name}: escalation on hold from {hold.starts_on} to {hold.ends_on} inclusive. "
        "Collectors and credit managers see it on the account and on its why page.",
    )
    return _back(request, customer)


@login_required
@require_POST
def hold_lift(request: HttpRequest, customer_id: int, hold_id: int) -> HttpResponse:
    """End a hold in force today, so the next run chases the account again."""
    from relance.cases.models import CustomerHold
    from relance.compliance.selectors import entity_today

    customer = _customer(request, customer_id)
    hold = CustomerHold.objects.select_related("customer").filter(pk=hold_id, customer=customer).first()
    if hold is None:
        raise Http404("no such hold on this account")
    if not hold_selectors.hold_lift_allowed(user=request.user, hold=hold):
        raise PermissionDenied(NOT_ALLOWED.format(perm=hold_selectors.PERM_LIFT))
    try:
        hold_services.hold_lift(
            hold=hold,
            on=entity_today(customer=customer, now=timezone.now()),
            actor=Actor.user(request.user),
        )
    except ValidationFailed as exc:
        messages.error(request, f"{customer.name}: hold not lifted: {exc.message}.")
    else:
        messages.success(request, f"{customer.name}: hold lifted; the next run chases the account again.")
    return _back(request, customer)


@login_required
@require_GET
def customer_why(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = _customer(request, customer_id)
    today = timezone.localdate()
    return render(
        request,
        "workspace/why.html",
        {
            "entity": customer.entity,
            "entities": entities_for_user(request.user),
            "as_of": today,
            "customer": customer,
            "why": explain.customer_explanation(customer=customer, today=today),
        },
    )

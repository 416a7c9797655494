"""Pages of the compliance app: a contact's opt-out link and a sales owner's hold link.

Thin: tokens are read by ``links``, writes go through ``services``.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.views import redirect_to_login
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from relance.common.client import client_ip
from relance.compliance import links, selectors, services
from relance.compliance.models import PreferenceSource
from relance.compliance.texts import opt_out_texts, page_language
from relance.core.actors import Actor
from relance.core.channels import address_field, opt_out_field
from relance.core.errors import ValidationFailed
from relance.ledger.models import Contact, Customer

ONE_CLICK_FIELD = "List-Unsubscribe"
ONE_CLICK_VALUE = "One-Click"
NOT_OWNER_ANY_MORE = "you are no longer this customer's sales owner"


def _invalid(request: HttpRequest, message: str = links.LINK_INVALID, status: int = 404) -> HttpResponse:
    return render(request, "compliance/link_invalid.html", {"message": message}, status=status)


def _is_one_click(request: HttpRequest) -> bool:
    """RFC 8058: the mail client POSTs exactly ``List-Unsubscribe=One-Click`` (form-encoded)."""
    return (
        request.method == "POST"
        and request.content_type in {"application/x-www-form-urlencoded", "multipart/form-data"}
        and list(request.POST.keys()) == [ONE_CLICK_FIELD]
        and request.POST.get(ONE_CLICK_FIELD) == ONE_CLICK_VALUE
    )


@csrf_exempt  # only the RFC 8058 one-click body; every other POST goes through csrf_protect below
@require_http_methods(["GET", "POST"])
def opt_out(request: HttpRequest, token: str) -> HttpResponse:
    try:
        contact_id, channel = links.opt_out_token_read(token)
    except signing.BadSignature:
        return _invalid(request)
    contact = Contact.objects.select_related("customer__entity").filter(pk=contact_id).first()
    if contact is None:
        return _invalid(request)
    if _is_one_click(request):
        services.contact_preference_set(
            contact=contact,
            channel=channel,
            opted_out=True,
            source=PreferenceSource.ONE_CLICK,
            detail=f"one-click POST from {client_ip(request) or ''}",
        )
        return HttpResponse("Unsubscribed.\n", content_type="text/plain")
    view = csrf_protect(_opt_out_page)
    response: HttpResponse = view(request, contact, channel)
    return response


def _opt_out_page(request: HttpRequest, contact: Contact, channel: str) -> HttpResponse:
    done = False
    if request.method == "POST":
        services.contact_preference_set(
            contact=contact,
            channel=channel,
            opted_out=True,
            source=PreferenceSource.LINK,
            detail=f"confirmed on the opt-out page from {client_ip(request) or ''}",
        )
        done = True
    address = getattr(contact, address_field(channel)) if channel != "letter" else ""
    language = page_language(contact.customer.language or contact.customer.entity.language)
    entity = contact.customer.entity
    with translation.override(language):
        return render(
            request,
            "compliance/opt_out.html",
            {
                "entity": entity,
                "LANGUAGE_CODE": language,
                "t": opt_out_texts(language, creditor=entity.legal_name or entity.name),
                "channel": channel,
                "address": address,
                "already": getattr(contact, opt_out_field(channel), False) and not done,
                "done": done,
            },
        )


@require_http_methods(["GET", "POST"])
def owner_hold(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = links.owner_hold_token_read(token)
    except signing.SignatureExpired:
        return _invalid(request, links.LINK_EXPIRED, status=410)
    except signing.BadSignature:
        return _invalid(request)
    customer = Customer.objects.select_related("entity").filter(pk=link.customer_id).first()
    owner = get_user_model().objects.filter(pk=link.owner_id, is_active=True).first()
    if customer is None or owner is None:
        return _invalid(request)
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if request.user.pk != owner.pk:
        return render(
            request,
            "compliance/owner_hold_wrong_user.html",
            {"owner": owner, "next": request.get_full_path()},
            status=403,
        )
    if customer.sales_owner_id != owner.pk:
        return _invalid(request, NOT_OWNER_ANY_MORE, status=403)
    today = selectors.entity_today(customer=customer, now=timezone.now())
    error = ""
    hold = None
    reason = ""
    days = link.days
    if request.method == "POST":
        reason = request.POST.get("reason", "")
        try:
            days = int(request.POST.get("days", link.days))
            hold = services.owner_hold_create(
                customer=customer, owner=owner, reason=reason, days=days, on=today, actor=Actor.user(owner)
            )
        except ValueError:
            error = services.HOLD_DAYS_RANGE.format(max=links.HOLD_DAYS_MAX, days=request.POST.get("days"))
        except ValidationFailed as exc:
            error = exc.message
    status = selectors.account_status(customer=customer, on=today)
    return render(
        request,
        "compliance/owner_hold.html",
        {
            "entity": customer.entity,
            "customer": customer,
            "status": status,
            "days": days,
            "days_max": links.HOLD_DAYS_MAX,
            "reason": reason,
            "reason_max": services.HOLD_REASON_MAX,
            "error": error,
            "hold": hold,
        },
        status=400 if error else 200,
    )

"""Credit applications in the back office: the list (with the links sent), one application, and
the credit manager's steps (take in review, approve — four eyes above the entity's threshold —,
decline, ask for more information). Thin: the rules are ``relance.credit.services.applications``.

Who sees what (``relance.credit.selectors.applications``): another entity's application, or for
a sales owner one of a customer they do not own, is a 404 on every route; bank details, contacts,
trade references and files only for whoever may read a bureau report; only credit managers and
admins decide.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_GET, require_POST

from relance.accounts.decorators import NOT_ALLOWED
from relance.accounts.selectors import customers_visible, entity_list_for_user
from relance.common.converters import row_id_or_none
from relance.core.calendar import parse_iso_date
from relance.core.errors import NotFound, ValidationFailed
from relance.core.money import parse_amount
from relance.credit.models import ApplicationStatus, CreditApplication, DocumentKind
from relance.credit.selectors import applications as selectors
from relance.credit.selectors.settings import credit_settings_for
from relance.credit.services import applications as services
from relance.workspace.views import _base, _entity, _today


def _application(request: HttpRequest, application_id: int) -> CreditApplication:
    try:
        return selectors.application_for_user(user=request.user, application_id=application_id)
    except NotFound:
        raise Http404(selectors.NOT_FOUND) from None


def _require_decider(request: HttpRequest) -> None:
    if not selectors.user_decides(request.user):
        raise PermissionDenied(NOT_ALLOWED.format(perm=selectors.PERM_DECIDE))


@login_required
@require_GET
def application_list(request: HttpRequest) -> HttpResponse:
    """The entity's applications (open ones first by default) and the links not used yet."""
    entity, entities = _entity(request)
    status = request.GET.get("status", "open")
    rows = selectors.application_list(user=request.user, entity=entity, status=status)
    decides = selectors.user_decides(request.user)
    return render(
        request,
        "workspace/credit_applications.html",
        _base(
            request,
            entity,
            entities,
            rows=rows,
            status=status,
            statuses=[("open", "Open"), *ApplicationStatus.choices, ("all", "All")],
            decides=decides,
            links=selectors.link_list(entity=entity) if decides else [],
            languages=_languages(),
        ),
    )


def _languages() -> list[tuple[str, str]]:
    from django.conf import settings

    return list(settings.LANGUAGES)


@login_required
@require_POST
def link_send(request: HttpRequest) -> HttpResponse:
    """Send a link to the form: to a prospect's address, or to a customer (its billing contact)."""
    _require_decider(request)
    entity, _entities = _entity(request)
    ref = request.POST.get("customer_ref", "").strip()
    customer = None
    if ref:
        customer = customers_visible(request.user, entity=entity).filter(external_ref=ref).first()
        if customer is None:
            messages.error(request, f"No customer {ref} in {entity.name}.")
            return redirect("workspace:credit_applications")
    try:
        issued = services.link_issue(
            entity=entity,
            user=request.user,
            customer=customer,
            email=request.POST.get("email", ""),
            language=request.POST.get("language", ""),
        )
    except (ValidationFailed, NotFound) as exc:
        messages.error(request, f"No link sent: {exc.message}.")
        return redirect("workspace:credit_applications")
    sent = (
        "sent" if issued.sent else "created (the e-mail could not be queued: give the address below by hand)"
    )
    messages.success(request, f"Link to the application form {sent} to {issued.link.email}: {issued.url}")
    return redirect("workspace:credit_applications")


@login_required
@require_POST
def link_revoke(request: HttpRequest, link_id: int) -> HttpResponse:
    _require_decider(request)
    entity, _entities = _entity(request)
    try:
        link = selectors.link_for_entity(entity=entity, link_id=link_id)
    except NotFound:
        raise Http404(services.LINK_NOT_FOUND) from None
    revoked = services.link_revoke(link=link)
    messages.success(request, f"Link for {link.email} {'revoked' if revoked else 'was already revoked'}.")
    return redirect("workspace:credit_applications")


def _page(
    request: HttpRequest, application: CreditApplication, *, status: int = 200, **extra: Any
) -> HttpResponse:
    sensitive = selectors.user_sees_sensitive(request.user)
    decides = selectors.user_decides(request.user)
    today = _today()
    link = selectors.application_link(application=application)
    open_now = application.status in (ApplicationStatus.SUBMITTED, ApplicationStatus.IN_REVIEW)
    currency = services.approval_currency(application)
    defaults = {
        "limit": application.approved_limit or application.requested_limit,
        "terms_days": application.approved_terms_days or application.requested_terms_days,
        "expires_on": application.limit_expires_on or today + timedelta(days=365),
        "customer_ref": "",
    }
    return render(
        request,
        "workspace/credit_application.html",
        _base(
            request,
            application.entity,
            entity_list_for_user(request.user),
            application=application,
            sensitive=sensitive,
            decides=decides,
            documents=selectors.application_documents(application=application) if sensitive else [],
            document_labels=dict(DocumentKind.choices),
            link=link,
            can_decide=decides and open_now,
            can_request_info=decides and open_now and link is not None and link.revoked_at is None,
            can_take=decides and application.status == ApplicationStatus.SUBMITTED,
            currency=currency,
            four_eyes_above=credit_settings_for(entity=application.entity).four_eyes_above,
            defaults={**defaults, **extra.pop("defaults", {})},
            **extra,
        ),
        status=status,
    )


@login_required
@require_GET
def application_detail(request: HttpRequest, application_id: int) -> HttpResponse:
    return _page(request, _application(request, application_id))


@login_required
@require_POST
def application_review(request: HttpRequest, application_id: int) -> HttpResponse:
    application = _application(request, application_id)
    _require_decider(request)
    try:
        services.application_review_start(application=application, user=request.user)
    except ValidationFailed as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{application.legal_name}: in review.")
    return redirect("workspace:credit_application", application.pk)


@login_required
@require_POST
def application_approve(request: HttpRequest, application_id: int) -> HttpResponse:
    application = _application(request, application_id)
    _require_decider(request)
    posted = {
        "limit": request.POST.get("limit", ""),
        "terms_days": request.POST.get("terms_days", ""),
        "expires_on": request.POST.get("expires_on", ""),
        "customer_ref": request.POST.get("customer_ref", ""),
    }
    try:
        terms = services.ApprovalTerms(
            limit=_amount(posted["limit"]),
            terms_days=_days(posted["terms_days"]),
            expires_on=parse_iso_date(posted["expires_on"]) if posted["expires_on"].strip() else None,
            customer_ref=posted["customer_ref"],
            note=request.POST.get("note", "").strip()[:1000],
        )
        outcome = services.application_approve(application=application, user=request.user, terms=terms)
    except ValidationFailed as exc:
        return _page(request, application, status=400, approve_error=exc.message, defaults=posted)
    messages.success(request, outcome.message)
    return redirect("workspace:credit_application", application.pk)


def _amount(text: str) -> Decimal:
    try:
        return parse_amount(text.strip().replace(",", ""))
    except ValidationFailed:
        raise ValidationFailed(f"the limit must be an amount such as 25000, found {text!r}") from None


def _days(text: str) -> int:
    days = row_id_or_none(text.strip())
    if days is None:
        raise ValidationFailed(f"payment terms are a number of days, found {text!r}")
    return days


@login_required
@require_POST
def application_decline(request: HttpRequest, application_id: int) -> HttpResponse:
    application = _application(request, application_id)
    _require_decider(request)
    reason = request.POST.get("reason", "")
    try:
        services.application_decline(application=application, user=request.user, reason=reason)
    except ValidationFailed as exc:
        return _page(request, application, status=400, decline_error=exc.message, reason=reason)
    messages.success(request, f"{application.legal_name}: declined. The applicant is told why.")
    return redirect("workspace:credit_application", application.pk)


@login_required
@require_POST
def application_request_info(request: HttpRequest, application_id: int) -> HttpResponse:
    application = _application(request, application_id)
    _require_decider(request)
    text = request.POST.get("text", "")
    try:
        services.application_request_info(application=application, user=request.user, text=text)
    except ValidationFailed as exc:
        return _page(request, application, status=400, info_error=exc.message, info_text=text)
    messages.success(
        request, f"{application.legal_name}: more information requested; the same link is sent again."
    )
    return redirect("workspace:credit_application", application.pk)


@login_required
@require_GET
def application_file(request: HttpRequest, application_id: int, document_id: int) -> FileResponse:
    """A document the applicant uploaded, as a download (never inline: the applicant chose its
    bytes). Only for those who see bank details and documents; for others it does not exist."""
    application = _application(request, application_id)
    if not selectors.user_sees_sensitive(request.user):
        raise Http404(selectors.DOCUMENT_NOT_FOUND)
    try:
        document = selectors.application_document(application=application, document_id=document_id)
    except NotFound:
        raise Http404(selectors.DOCUMENT_NOT_FOUND) from None
    response = FileResponse(
        document.file.open("rb"),
        as_attachment=True,
        filename=document.filename,
        content_type=document.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


urlpatterns = [
    path("", application_list, name="credit_applications"),
    path("links/", link_send, name="credit_application_link_send"),
    path("links/<id:link_id>/revoke/", link_revoke, name="credit_application_link_revoke"),
    path("<id:application_id>/", application_detail, name="credit_application"),
    path("<id:application_id>/review/", application_review, name="credit_application_review"),
    path("<id:application_id>/approve/", application_approve, name="credit_application_approve"),
    path("<id:application_id>/decline/", application_decline, name="credit_application_decline"),
    path(
        "<id:application_id>/request-info/", application_request_info, name="credit_application_request_info"
    ),
    path("<id:application_id>/files/<id:document_id>/", application_file, name="credit_application_file"),
]

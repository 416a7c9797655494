"""The public credit application form, opened with a signed link (no account).

It looks and behaves like the portal (its base template, CSS, language switch, bad-token limit
and upload rule). A link takes one application; after the applicant sent it, the link shows
where it stands, and opens the form again (with the earlier answers) only when more information
is requested.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.http import require_http_methods

from relance.common.client import client_ip
from relance.credit.models import ApplicationDocument, ApplicationLink, ApplicationStatus, DocumentKind
from relance.credit.services import applications as services
from relance.portal import ratelimit
from relance.portal.views import language_remember, request_language, too_many

TEXT_FIELDS = (
    "legal_name",
    "trading_name",
    "country",
    *services.IDENTIFIER_FIELDS,
    "address_line1",
    "address_line2",
    "postcode",
    "city",
    "ap_name",
    "ap_email",
    "ap_phone",
    "dm_name",
    "dm_email",
    "dm_phone",
    "iban",
    "bic",
    *(
        f"ref{n}_{part}"
        for n in range(1, services.REFERENCES_MAX + 1)
        for part in ("company", "contact", "email", "phone")
    ),
    "requested_limit",
    "currency",
    "requested_terms_days",
)
DOCUMENT_FIELDS = tuple(f"doc_{kind}" for kind in DocumentKind.values)
COMMON_CURRENCIES = ("EUR", "GBP", "USD", "CHF", "CNY", "JPY", "CAD", "AUD", "SEK", "DKK", "NOK", "PLN")


@require_http_methods(["GET", "POST"])
def apply(request: HttpRequest, token: str) -> HttpResponse:
    ip = client_ip(request) or "0.0.0.0"  # noqa: S104  (an unknown client, not a bind address)
    try:
        link = services.link_verify(token)
    except services.ApplicationLinkRefused as refused:
        if refused.reason == "bad":
            if ratelimit.bad_tokens_blocked(ip):
                return too_many(request)
            ratelimit.bad_token_count(ip)
        return _refused(request, refused)
    language = request_language(request, link.language, link.entity.language)
    with translation.override(language):
        response = _form_or_status(request, link, language)
    language_remember(request, response, language)
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _form_or_status(request: HttpRequest, link: ApplicationLink, language: str) -> HttpResponse:
    if not services.link_accepts_answers(link):
        return _status_page(request, link, language, status=409 if request.method == "POST" else 200)
    if request.method == "POST":
        files = {name: request.FILES.getlist(name) for name in DOCUMENT_FIELDS}
        try:
            services.application_submit(link=link, data=request.POST, files=files)
        except services.ApplicationRefused as refused:
            return _form_page(request, link, language, values=request.POST, errors=refused.errors, status=400)
        except services.ApplicationClosed:
            link.refresh_from_db()
            return _status_page(request, link, language, status=409)
        return HttpResponseRedirect(request.path)
    return _form_page(request, link, language, values=_initial(link), errors={})


def _base(request: HttpRequest, link: ApplicationLink, language: str) -> dict[str, Any]:
    return {
        "entity": link.entity,
        "link": link,
        "languages": settings.LANGUAGES,
        "current_language": language,
    }


def _form_page(
    request: HttpRequest,
    link: ApplicationLink,
    language: str,
    *,
    values: Any,
    errors: dict[str, str],
    status: int = 200,
) -> HttpResponse:
    from relance.portal.selectors import portal_settings_for

    fields = {
        name: {"value": str(values.get(name, "") or ""), "error": errors.get(name, "")}
        for name in (*TEXT_FIELDS, *DOCUMENT_FIELDS)
    }
    currency = fields["currency"]["value"] or link.entity.currency
    fields["currency"]["value"] = currency
    given: list[ApplicationDocument] = []
    if link.application is not None:
        given = list(ApplicationDocument.objects.filter(application=link.application).order_by("kind", "id"))
    return render(
        request,
        "credit/apply.html",
        {
            **_base(request, link, language),
            "f": fields,
            "errors": errors,
            "countries": _countries(language),
            "currencies": sorted({currency, link.entity.currency, *COMMON_CURRENCIES}),
            "max_mb": portal_settings_for(entity=link.entity).attachment_max_bytes // (1024 * 1024),
            "documents_given": given,
            "given_kinds": {document.kind: True for document in given},
            "info_request": link.application.info_request if link.application is not None else "",
        },
        status=status,
    )


def _status_page(request: HttpRequest, link: ApplicationLink, language: str, *, status: int) -> HttpResponse:
    application = link.application
    return render(
        request,
        "credit/apply_status.html",
        {
            **_base(request, link, language),
            "application": application,
            "declined": application is not None and application.status == ApplicationStatus.DECLINED,
            "approved": application is not None and application.status == ApplicationStatus.APPROVED,
            "refused_again": status == 409,
        },
        status=status,
    )


def _refused(request: HttpRequest, refused: services.ApplicationLinkRefused) -> HttpResponse:
    link = refused.link
    fallbacks = (link.language, link.entity.language) if link is not None else ()
    language = request_language(request, *fallbacks)
    with translation.override(language):
        response = render(
            request,
            "credit/apply_refused.html",
            {"reason": refused.reason, "entity": link.entity if link is not None else None},
            status=410 if refused.reason in ("expired", "revoked") else 404,
        )
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _initial(link: ApplicationLink) -> dict[str, str]:
    """The earlier answers when more information is requested; for a customer what the ledger
    knows of it; otherwise nothing but the entity's currency."""
    application = link.application
    if application is not None:
        values: dict[str, str] = {
            "legal_name": application.legal_name,
            "trading_name": application.trading_name,
            "country": application.country,
            **{kind: str(value) for kind, value in application.identifiers.items()},
            "address_line1": application.address.get("line1", ""),
            "address_line2": application.address.get("line2", ""),
            "postcode": application.address.get("postcode", ""),
            "city": application.address.get("city", ""),
            "iban": application.iban,
            "bic": application.bic,
            "requested_limit": f"{application.requested_limit.normalize():f}",
            "currency": application.currency,
            "requested_terms_days": str(application.requested_terms_days),
        }
        for contact in application.contacts:
            prefix = "ap_" if contact.get("role") == "accounts_payable" else "dm_"
            for part in ("name", "email", "phone"):
                values[prefix + part] = contact.get(part, "")
        for number, reference in enumerate(application.trade_references, start=1):
            for part in ("company", "contact", "email", "phone"):
                values[f"ref{number}_{part}"] = reference.get(part, "")
        return values
    customer = link.customer
    if customer is None:
        return {"currency": link.entity.currency, "ap_email": link.email}
    return {
        "legal_name": customer.name,
        "country": customer.country,
        "vat": customer.tax_id,
        "currency": customer.currency,
        "requested_terms_days": str(customer.payment_terms_days),
        "ap_email": link.email,
    }


@lru_cache(maxsize=8)
def _countries(language: str) -> list[tuple[str, str]]:
    """Countries by name in the page's language (Babel's CLDR names)."""
    from babel import Locale

    from relance.core.errors import ValidationFailed
    from relance.core.identifiers import validate_country

    locale = Locale.parse(language.replace("-", "_") if language != "zh-hans" else "zh_Hans")
    names = []
    for code, name in locale.territories.items():
        if not (isinstance(code, str) and len(code) == 2 and code.isalpha()):
            continue
        try:
            validate_country(code)
        except ValidationFailed:
            continue
        names.append((code, str(name)))
    return sorted(names, key=lambda pair: pair[1])

"""The portal's pages. Thin: every read goes through ``selectors`` (scoped to the link), every
write through ``services``; ``portal_page`` checks the token and the rate limit first."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from relance.cases.models import DisputeReason
from relance.cases.selectors import disputed_by_invoice
from relance.common.client import client_ip
from relance.common.converters import row_id_or_none
from relance.core.csvsafe import SafeCsvWriter
from relance.core.errors import ValidationFailed
from relance.core.filenames import download_filename
from relance.core.money import parse_amount
from relance.ledger.models import Channel, Invoice
from relance.portal import ratelimit, selectors, services
from relance.portal.links import LinkRefused, link_path, link_verify, token_for
from relance.portal.models import PortalLink
from relance.portal.pagecache import cached_page
from relance.portal.payments.base import (
    PaymentRequest,
    WebhookRefused,
    payment_backend,
    payment_backends,
)

LANGUAGE_COOKIE = "relance_portal_lang"

# Reason labels, translated at render time (gettext_noop keeps them in the catalogue).
REASON_LABELS: dict[str, str] = {
    DisputeReason.PRICING: gettext_noop("Price or discount"),
    DisputeReason.QUANTITY: gettext_noop("Quantity"),
    DisputeReason.QUALITY: gettext_noop("Damaged goods or poor quality"),
    DisputeReason.NOT_RECEIVED: gettext_noop("Not received"),
    DisputeReason.DUPLICATE: gettext_noop("Duplicate invoice"),
    DisputeReason.ALREADY_PAID: gettext_noop("Already paid"),
    DisputeReason.PO_MISSING: gettext_noop("Purchase order missing or wrong"),
    DisputeReason.SHORT_PAYMENT: gettext_noop("Short payment"),
    DisputeReason.OTHER: gettext_noop("Other"),
}
# Opened by cash application for a payment that came short, never chosen by the customer.
REASONS_NOT_ASKED = frozenset({DisputeReason.SHORT_PAYMENT})
CHANNEL_LABELS: dict[str, str] = {
    Channel.EMAIL: gettext_noop("Email"),
    Channel.SMS: gettext_noop("Text message"),
    Channel.LETTER: gettext_noop("Letter"),
    Channel.CALL: gettext_noop("Phone"),
    Channel.PORTAL: gettext_noop("This portal only"),
}


def _language(request: HttpRequest, link: PortalLink | None) -> str:
    return request_language(
        request,
        link.customer.language if link else None,
        link.customer.entity.language if link else None,
    )


def request_language(request: HttpRequest, *fallbacks: str | None) -> str:
    """The page's language: ``?lang=``, the cookie, then ``fallbacks`` (the customer's, the
    entity's…), English; the one rule of every page a customer opens with a link."""
    codes = [code for code, _name in settings.LANGUAGES]
    for candidate in (request.GET.get("lang"), request.COOKIES.get(LANGUAGE_COOKIE), *fallbacks):
        if not candidate:
            continue
        candidate = candidate.lower()
        if candidate in codes:
            return candidate
        if candidate.startswith("zh"):
            return "zh-hans"
        base = candidate.split("-")[0].split("_")[0]
        if base in codes:
            return base
    return "en"


def _refused(request: HttpRequest, reason: str, link: PortalLink | None, token: str) -> HttpResponse:
    language = _language(request, link)
    with translation.override(language):
        status = 410 if reason in ("expired", "revoked") else 404
        return render(
            request,
            "portal/refused.html",
            {
                "reason": reason,
                "token": token,
                "entity": link.customer.entity if link else None,
                "can_renew": reason == "expired",
            },
            status=status,
        )


def too_many(request: HttpRequest) -> HttpResponse:
    response = render(request, "portal/too_many.html", status=429)
    response["Retry-After"] = str(ratelimit.BAD_TOKEN_WINDOW_SECONDS)
    return response


def portal_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Verify the token (signature, expiry, revocation) under the bad-token limit, then run ``view``
    in the customer's language with ``request.portal`` set."""

    @wraps(view)
    def wrapped(request: HttpRequest, token: str, *args: Any, **kwargs: Any) -> HttpResponse:
        ip = client_ip(request) or "0.0.0.0"
        try:
            link = link_verify(token)
        except LinkRefused as refused:
            if refused.reason == "bad":
                # Only bad tokens wait: a valid link from a flooded address still opens.
                if ratelimit.bad_tokens_blocked(ip):
                    return too_many(request)
                ratelimit.bad_token_count(ip)
            return _refused(request, refused.reason, refused.link, token)
        language = _language(request, link)
        today = selectors.portal_today(entity=link.customer.entity)
        request.portal = Portal(link=link, token=token, today=today, ip=ip, language=language)  # type: ignore[attr-defined]
        if services.link_touch(link=link):
            services.event_record(actor=request.portal.actor, action="opened")  # type: ignore[attr-defined]
        with translation.override(language):
            response = view(request, *args, **kwargs)
        language_remember(request, response, language)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["Referrer-Policy"] = (
            "same-origin"  # the token never leaves the site; no-referrer would make browsers send "Origin: null" and fail CSRF
        )
        return response

    return wrapped


def language_remember(request: HttpRequest, response: HttpResponse, language: str) -> None:
    """Keep a language chosen with ``?lang=`` in a cookie for the next pages."""
    if request.GET.get("lang") == language:
        response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 86400, samesite="Lax", httponly=True)


class Portal:
    """What every portal page knows: the link, its token, the creditor's "today", the client."""

    def __init__(self, *, link: PortalLink, token: str, today: date, ip: str, language: str) -> None:
        self.link = link
        self.token = token
        self.today = today
        self.ip = ip
        self.language = language
        self.customer = link.customer
        self.entity = link.customer.entity
        self.actor = services.Actor(link, ip)

    def url(self, name: str, *args: Any) -> str:
        return reverse(f"portal:{name}", args=[self.token, *args])


def _page(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    portal: Portal = request.portal  # type: ignore[attr-defined]
    languages = settings.LANGUAGES
    base = {
        "portal": portal,
        "entity": portal.entity,
        "customer": portal.customer,
        "token": portal.token,
        "today": portal.today,
        "languages": languages,
        "current_language": portal.language,
    }
    return render(request, template, {**base, **context}, status=status)


def _refusal_text(refused: services.PortalRefused) -> str:
    text = _(refused.template)
    return text.format(**refused.params) if refused.params else text


def _decimal(text: str | None) -> Decimal | None:
    """The amount typed, or ``Decimal(-1)`` (refused by every range check) when it is not a plain
    number (``relance.core.money.parse_amount``: ``NaN``, ``Infinity``, ``1e999`` are not)."""
    if not text or not text.strip():
        return None
    try:
        return parse_amount(text.strip().replace(",", "."))
    except ValidationFailed:
        return Decimal(-1)


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _ids(request: HttpRequest) -> list[int]:
    return [
        found for value in request.POST.getlist("invoice") if (found := row_id_or_none(value)) is not None
    ]


# --------------------------------------------------------------------------- pages


@portal_page
@cached_page
def overview(request: HttpRequest) -> HttpResponse:
    portal: Portal = request.portal  # type: ignore[attr-defined]
    summary = selectors.portal_owed(link=portal.link, as_of=portal.today)  # the page's one invoice read
    balances = selectors.portal_overview(link=portal.link, as_of=portal.today, summary=summary)
    overdue = selectors.portal_overdue(summary=summary)
    lists = selectors.portal_overview_lists(link=portal.link)
    return _page(
        request,
        "portal/overview.html",
        {
            "balances": balances,
            "overdue_items": overdue,
            "active_plan": lists.active_plan,
            "open_disputes": lists.open_disputes,
            "open_promises": lists.open_promises,
        },
    )


def _filters(request: HttpRequest) -> selectors.ItemFilters:
    state = request.GET.get("state", "open")
    account = None
    if request.GET.get("account"):
        # Only an account of the link: anything else (another customer's, 10^20) is not found.
        account = row_id_or_none(request.GET["account"])
        if account not in selectors.portal_scope(link=request.portal.link):  # type: ignore[attr-defined]
            raise Http404("no such account")
    return selectors.ItemFilters(
        state=state if state in ("open", "overdue", "paid", "all") else "open",
        search=request.GET.get("q", "").strip()[:64],
        account=account,
        due_from=_date(request.GET.get("from")),
        due_to=_date(request.GET.get("to")),
    )


@portal_page
@cached_page
def items(request: HttpRequest) -> HttpResponse:
    portal: Portal = request.portal  # type: ignore[attr-defined]
    filters = _filters(request)
    invoices = selectors.portal_items(link=portal.link, as_of=portal.today, filters=filters)
    page = Paginator(invoices, selectors.PAGE_SIZE).get_page(request.GET.get("page"))
    with_pdf = selectors.portal_invoice_ids_with_document(invoices=page.object_list)
    # The part under dispute is shown on its line: the overview and messages leave it out.
    disputed = disputed_by_invoice(
        invoice_ids=[invoice.pk for invoice in page.object_list], as_of=portal.today
    )
    for invoice in page.object_list:
        invoice.days_past_due = (portal.today - invoice.due_date).days
        invoice.has_document = invoice.pk in with_pdf
        invoice.disputed = min(disputed.get(invoice.pk, Decimal(0)), max(invoice.open_amount, Decimal(0)))
    query = request.GET.copy()
    query.pop("page", None)
    accounts = selectors.portal_accounts(link=portal.link)
    context = {
        "page": page,
        "filters": filters,
        "accounts": accounts,
        "several_accounts": len(accounts) > 1,
        "invoice_base": portal.url("items").removesuffix("items/") + "invoices/",
        "query": query.urlencode(),
        "payments": selectors.portal_payments(link=portal.link, limit=20)
        if filters.state in ("paid", "all")
        else [],
    }
    if request.headers.get("HX-Request"):
        return _page(request, "portal/_items_table.html", context)
    return _page(request, "portal/items.html", context)


@portal_page
def invoice_detail(request: HttpRequest, invoice_id: int) -> HttpResponse:
    portal: Portal = request.portal  # type: ignore[attr-defined]
    invoice = selectors.portal_invoice(link=portal.link, invoice_id=invoice_id, as_of=portal.today)
    return _page(
        request,
        "portal/invoice.html",
        {
            "invoice": invoice,
            "allocations": selectors.invoice_payments(invoice=invoice),
            "disputes": selectors.portal_disputes(link=portal.link).filter(invoice=invoice),
            "document": selectors.portal_invoice_document(link=portal.link, invoice_id=invoice.pk),
        },
    )


@portal_page
def invoice_document(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """The ERP's PDF of an invoice of the scope, as a download (404 for any other invoice)."""
    portal: Portal = request.portal  # type: ignore[attr-defined]
    document = selectors.portal_invoice_document(link=portal.link, invoice_id=invoice_id)
    if document is None:
        raise Http404("no PDF for this invoice")
    try:
        content = document.file.open("rb")
    except FileNotFoundError:
        raise Http404("the PDF is missing from the document store") from None
    services.event_record(
        actor=portal.actor,
        action="invoice_pdf",
        customer=document.invoice.customer,
        invoice=document.invoice.external_ref,
        document=document.pk,
    )
    response = FileResponse(
        content,
        as_attachment=True,
        filename=download_filename(document.invoice.external_ref, "pdf", fallback="invoice"),
        content_type="application/pdf",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response  # type: ignore[return-value]


@portal_page
def statement_csv(request: HttpRequest) -> HttpResponse:
    portal: Portal = request.portal  # type: ignore[attr-defined]
    invoices = selectors.portal_items(link=portal.link, as_of=portal.today, filters=_filters(request))
    buffer = io.StringIO()
    writer = SafeCsvWriter(buffer)
    writer.writerow(
        [
            "account",
            "invoice",
            "po_number",
            "issue_date",
            "due_date",
            "days_past_due",
            "currency",
            "amount",
            "open_amount",
        ]
    )
    for invoice in invoices.iterator(chunk_size=2000):
        writer.writerow(
            [
                invoice.customer.external_ref,
                invoice.external_ref,
                invoice.po_number,
                invoice.issue_date.isoformat(),
                invoice.due_date.isoformat(),
                (portal.today - invoice.due_date).days,
                invoice.currency,
                f"{invoice.amount:.2f}",
                f"{Decimal(invoice.open_amount):.2f}",
            ]
        )
    services.event_record(actor=portal.actor, action="statement_csv")
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = _attachment(
        f"statement-{portal.customer.external_ref}-{portal.today}", "csv"
    )
    return response


def _attachment(stem: str, extension: str) -> str:
    """A ``Content-Disposition`` for a download named from ledger text (any reference is safe)."""
    return content_disposition_header(True, download_filename(stem, extension)) or "attachment"


@portal_page
def statement_pdf(request: HttpRequest) -> HttpResponse:
    portal: Portal = request.portal  # type: ignore[attr-defined]
    from relance.comms import pdf  # WeasyPrint loads with it: only when a statement is asked for

    content = pdf.statement_pdf(customer=portal.customer, as_of=portal.today, language=portal.language)
    services.event_record(actor=portal.actor, action="statement_pdf")
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = _attachment(
        f"statement-{portal.customer.external_ref}-{portal.today}", "pdf"
    )
    return response


@portal_page
def messages(request: HttpRequest) -> HttpResponse:
    portal: Portal = request.portal  # type: ignore[attr-defined]
    return _page(request, "portal/messages.html", {"sent": selectors.portal_messages(link=portal.link)})


@portal_page
def history(request: HttpRequest) -> HttpResponse:
    """What happened on the customer's account: their promises, disputes, plans, payments and the
    messages sent to them (``selectors.portal_history``)."""
    portal: Portal = request.portal  # type: ignore[attr-defined]
    return _page(request, "portal/history.html", {"events": selectors.portal_history(link=portal.link)})


@portal_page
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    portal: Portal = request.portal  # type: ignore[attr-defined]
    contact = (
        services._contact_for(portal.link) if request.method == "POST" else _current_contact(portal.link)
    )
    error = notice = ""
    pending = ""
    if request.method == "POST":
        step = request.POST.get("step", "preferences")
        try:
            if step == "preferences":
                channel = request.POST.get("channel", "")
                language = request.POST.get("language", "")
                if channel not in CHANNEL_LABELS or language not in dict(settings.LANGUAGES):
                    raise services.PortalRefused(gettext_noop("Choose a channel and a language."))
                services.preferences_update(actor=portal.actor, channel=channel, language=language)
                response = HttpResponseRedirect(portal.url("preferences") + "?saved=1")
                response.set_cookie(
                    LANGUAGE_COOKIE, language, max_age=365 * 86400, samesite="Lax", httponly=True
                )
                return response
            if step in ("email", "phone"):
                address = request.POST.get("address", "").strip()
                if step == "email":
                    from django.core.validators import validate_email

                    try:
                        validate_email(address)
                    except Exception:
                        raise services.PortalRefused(gettext_noop("Enter a valid email address.")) from None
                    if not ratelimit.code_request_allowed(ip=portal.ip, link_id=portal.link.pk):
                        return too_many(request)
                services.address_change_request(actor=portal.actor, purpose=step, address=address)
                pending = step
                notice = _("We sent a code to the new address. Enter it below to confirm the change.")
            elif step in ("email-code", "phone-code"):
                purpose = step.split("-")[0]
                services.address_change_confirm(
                    actor=portal.actor, purpose=purpose, code=request.POST.get("code", "")
                )
                return HttpResponseRedirect(portal.url("preferences") + "?saved=1")
        except services.PortalRefused as refused:
            error = _refusal_text(refused)
            pending = step.split("-")[0] if step.endswith("-code") else ""
    if request.GET.get("saved"):
        notice = _("Your preferences are saved.")
    return _page(
        request,
        "portal/preferences.html",
        {
            "contact": contact,
            "channels": [(key, _(label)) for key, label in CHANNEL_LABELS.items()],
            "error": error,
            "notice": notice,
            "pending": pending,
        },
        status=400 if error else 200,
    )


@portal_page
@require_http_methods(["GET", "POST"])
def details(request: HttpRequest) -> HttpResponse:
    """The customer confirms or corrects their contacts (relance.portal.contact_details)."""
    from relance.portal import contact_details

    portal: Portal = request.portal  # type: ignore[attr-defined]
    error = ""
    if request.method == "POST":
        contact_id = row_id_or_none(request.POST.get("contact", ""))
        if contact_id is None:
            raise Http404("no such contact")
        values = {
            name: request.POST.get(name, "") for name in contact_details.EDITABLE if name in request.POST
        }
        try:
            proposal = contact_details.details_submit(
                actor=portal.actor, contact_id=contact_id, values=values, on=portal.today
            )
        except contact_details.ContactNotFound:
            raise Http404("no such contact") from None
        except services.PortalRefused as refused:
            error = _refusal_text(refused)
        else:
            outcome = "confirmed" if proposal is None else str(proposal.status)
            return HttpResponseRedirect(portal.url("details") + f"?done={outcome}")
    notices = {
        "confirmed": _("Thank you: your details are confirmed."),
        "pending": _("Thank you: we will check your changes and update our records."),
        "applied": _("Thank you: your details are updated."),
        "proposed": _("Thank you: we will check the new contact and add it to our records."),
        "added": _("Thank you: the new contact is added."),
    }
    return _page(
        request,
        "portal/details.html",
        {
            "contacts": list(contact_details.portal_contacts(customer=portal.customer)),
            "pending": {p.contact_id for p in contact_details.pending_proposals(customer=portal.customer)},
            "new_pending": contact_details.pending_proposals(customer=portal.customer)
            .filter(contact__isnull=True)
            .count(),
            "new_values": {},
            "notice": notices.get(request.GET.get("done", ""), ""),
            "error": error,
            "name": "details",
        },
        status=400 if error else 200,
    )


@portal_page
@require_http_methods(["POST"])
def details_new(request: HttpRequest) -> HttpResponse:
    """The customer proposes a new billing contact (relance.portal.contact_details): for the
    link's customer only; a form naming another customer is a 404 and writes nothing."""
    from relance.portal import contact_details

    portal: Portal = request.portal  # type: ignore[attr-defined]
    named = request.POST.get("customer", "")
    if named and row_id_or_none(named) != portal.customer.pk:
        raise Http404("no such customer")
    values = {name: request.POST.get(name, "") for name in contact_details.NEW_CONTACT_FIELDS}
    try:
        proposal = contact_details.contact_propose_new(actor=portal.actor, values=values, on=portal.today)
    except services.PortalRefused as refused:
        return _page(
            request,
            "portal/details.html",
            {
                "contacts": list(contact_details.portal_contacts(customer=portal.customer)),
                "pending": {
                    p.contact_id for p in contact_details.pending_proposals(customer=portal.customer)
                },
                "new_pending": contact_details.pending_proposals(customer=portal.customer)
                .filter(contact__isnull=True)
                .count(),
                "new_error": _refusal_text(refused),
                "new_values": values,
                "name": "details",
            },
            status=400,
        )
    outcome = "added" if proposal.status == "applied" else "proposed"
    return HttpResponseRedirect(portal.url("details") + f"?done={outcome}")


def _current_contact(link: PortalLink) -> Any:
    from relance.ledger.models import Contact

    if link.contact is not None:
        return link.contact
    found = Contact.objects.filter(customer=link.customer).order_by("role", "id")
    return found.filter(role="billing").first() or found.first()


# --------------------------------------------------------------------------- promise, dispute, plan


@portal_page
@require_http_methods(["GET", "POST"])
def promise(request: HttpRequest) -> HttpResponse:
    portal: Portal = request.portal  # type: ignore[attr-defined]
    limits = selectors.portal_settings_for(entity=portal.entity)
    open_invoices = selectors.portal_open_invoices(link=portal.link, as_of=portal.today)
    error = ""
    if request.method == "POST":
        try:
            promised = _date(request.POST.get("promised_date"))
            if promised is None:
                raise services.PortalRefused(gettext_noop("Choose a date."))
            amount = _decimal(request.POST.get("amount")) if request.POST.get("scope") == "amount" else None
            made = services.promise_make(
                actor=portal.actor,
                on=portal.today,
                promised_date=promised,
                invoice_ids=_ids(request) or None,
                amount=amount,
                note=request.POST.get("note", "")[:500],
            )
            return _page(request, "portal/promise_done.html", {"promises": made})
        except services.PortalRefused as refused:
            error = _refusal_text(refused)
    from datetime import timedelta

    return _page(
        request,
        "portal/promise.html",
        {
            "invoices": open_invoices,
            "limits": limits,
            "latest": portal.today + timedelta(days=limits.promise_max_days),
            "error": error,
            "chosen": set(_ids(request)),
        },
        status=400 if error else 200,
    )


@portal_page
@require_http_methods(["GET", "POST"])
def dispute(request: HttpRequest, invoice_id: int) -> HttpResponse:
    portal: Portal = request.portal  # type: ignore[attr-defined]
    invoice = selectors.portal_invoice(link=portal.link, invoice_id=invoice_id, as_of=portal.today)
    limits = selectors.portal_settings_for(entity=portal.entity)
    error = ""
    if request.method == "POST":
        try:
            amount = _decimal(request.POST.get("amount"))
            opened = services.dispute_make(
                actor=portal.actor,
                on=portal.today,
                invoice=Invoice.objects.get(pk=invoice.pk),
                reason_code=request.POST.get("reason", ""),
                amount=amount,
                text=request.POST.get("text", "")[:4000],
                files=request.FILES.getlist("files"),
            )
            return HttpResponseRedirect(portal.url("case", opened.pk) + "?new=1")
        except services.PortalRefused as refused:
            error = _refusal_text(refused)
    return _page(
        request,
        "portal/dispute.html",
        {
            "invoice": invoice,
            "reasons": [
                (key, _(label)) for key, label in REASON_LABELS.items() if key not in REASONS_NOT_ASKED
            ],
            "max_mb": limits.attachment_max_bytes // (1024 * 1024),
            "error": error,
        },
        status=400 if error else 200,
    )


@portal_page
def cases(request: HttpRequest) -> HttpResponse:
    portal: Portal = request.portal  # type: ignore[attr-defined]
    rows = []
    for found in selectors.portal_disputes(link=portal.link):
        case = getattr(found, "portal_case", None)
        rows.append(
            {
                "dispute": found,
                "case": case,
                "sla": selectors.case_sla(case=case, dispute=found, as_of=portal.today),
            }
        )
    return _page(
        request,
        "portal/cases.html",
        {"rows": rows, "reason_labels": {k: _(v) for k, v in REASON_LABELS.items()}},
    )


@portal_page
def case(request: HttpRequest, dispute_id: int) -> HttpResponse:
    portal: Portal = request.portal  # type: ignore[attr-defined]
    found = selectors.portal_dispute(link=portal.link, dispute_id=dispute_id)
    case_row = getattr(found, "portal_case", None)
    return _page(
        request,
        "portal/case.html",
        {
            "dispute": found,
            "case": case_row,
            "attachments": list(case_row.attachments.all()) if case_row else [],
            "sla": selectors.case_sla(case=case_row, dispute=found, as_of=portal.today),
            "reason_label": _(REASON_LABELS.get(found.reason_code, found.reason_code)),
            "new": bool(request.GET.get("new")),
        },
    )


@portal_page
def attachment(request: HttpRequest, dispute_id: int, attachment_id: int) -> HttpResponse:
    portal: Portal = request.portal  # type: ignore[attr-defined]
    found = selectors.portal_attachment(link=portal.link, dispute_id=dispute_id, attachment_id=attachment_id)
    services.event_record(actor=portal.actor, action="attachment_downloaded", attachment=found.pk)
    response = FileResponse(
        found.file.open("rb"), as_attachment=True, filename=found.filename, content_type=found.content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response  # type: ignore[return-value]


@portal_page
@require_http_methods(["GET", "POST"])
def plan(request: HttpRequest) -> HttpResponse:
    portal: Portal = request.portal  # type: ignore[attr-defined]
    limits = selectors.portal_settings_for(entity=portal.entity)
    error = ""
    if request.method == "POST":
        try:
            count = request.POST.get("installments", "")
            first = _date(request.POST.get("first_due"))
            installments = row_id_or_none(count)
            if installments is None or first is None:
                raise services.PortalRefused(services.PLAN_INSTALLMENTS_RANGE)
            outcome = services.plan_ask(
                actor=portal.actor,
                on=portal.today,
                installments=installments,
                first_due=first,
                invoice_ids=_ids(request) or None,
                note=request.POST.get("note", "")[:500],
            )
            return _page(request, "portal/plan_done.html", {"outcome": outcome})
        except services.PortalRefused as refused:
            error = _refusal_text(refused)
    from datetime import timedelta

    return _page(
        request,
        "portal/plan.html",
        {
            "invoices": selectors.portal_open_invoices(link=portal.link, as_of=portal.today),
            "limits": limits,
            "first_default": portal.today + timedelta(days=min(14, limits.plan_max_first_delay_days)),
            "plans": selectors.portal_plans(link=portal.link),
            "requests": selectors.portal_plan_requests(link=portal.link),
            "error": error,
        },
        status=400 if error else 200,
    )


# --------------------------------------------------------------------------- pay


@portal_page
@require_http_methods(["GET", "POST"])
def pay(request: HttpRequest) -> HttpResponse:
    portal: Portal = request.portal  # type: ignore[attr-defined]
    open_invoices = selectors.portal_open_invoices(link=portal.link, as_of=portal.today)
    currency = open_invoices[0].currency if open_invoices else portal.customer.currency
    backends = [b for b in payment_backends() if b.available(link=portal.link, currency=currency)]
    error = ""
    if request.method == "POST":
        chosen_ids = set(_ids(request))
        chosen = [invoice for invoice in open_invoices if invoice.pk in chosen_ids]
        backend = payment_backend(request.POST.get("method", ""))
        if not chosen:
            error = _(services.NOTHING_CHOSEN)
        elif len({invoice.currency for invoice in chosen}) > 1:
            error = _(services.ONE_CURRENCY)
        elif backend is None or backend not in backends and not any(b.key == backend.key for b in backends):
            error = _("Choose how to pay.")
        else:
            amount = sum((invoice.open_amount for invoice in chosen), Decimal(0)).quantize(Decimal("0.01"))
            public = settings.RELANCE_PUBLIC_URL.rstrip("/")
            started = backend.start(
                PaymentRequest(
                    link=portal.link,
                    invoices=chosen,
                    amount=amount,
                    currency=chosen[0].currency,
                    success_url=public + portal.url("pay_done"),
                    cancel_url=public + portal.url("pay"),
                    ip=portal.ip,
                )
            )
            services.event_record(
                actor=portal.actor,
                action="pay_" + backend.key,
                amount=amount,
                invoices=[i.external_ref for i in chosen],
            )
            if started.redirect_url:
                return HttpResponseRedirect(started.redirect_url)
            return _page(request, started.template, started.context)
    default_ids = {invoice.pk for invoice in open_invoices if invoice.days_past_due > 0} or {
        i.pk for i in open_invoices
    }
    return _page(
        request,
        "portal/pay.html",
        {"invoices": open_invoices, "default_ids": default_ids, "backends": backends, "error": error},
        status=400 if error else 200,
    )


@portal_page
def pay_done(request: HttpRequest) -> HttpResponse:
    return _page(request, "portal/pay_done.html", {})


@require_http_methods(["GET", "POST"])
def email_undo(request: HttpRequest, token: str) -> HttpResponse:
    """From the notice sent to the old address: put it back. A GET only asks (mail scanners open
    links); the POST undoes. Signed and valid ``EMAIL_UNDO_DAYS``; no portal link needed."""
    from django.core import signing

    try:
        payload = services.email_undo_load(token)
    except signing.BadSignature:  # also SignatureExpired
        raise Http404("invalid or expired link") from None
    error = ""
    if request.method == "POST":
        try:
            services.email_change_undo(token=token, ip=client_ip(request))
            return render(request, "portal/email_undo.html", {"done": True, "old": payload["old"]})
        except services.PortalRefused as refused:
            error = _refusal_text(refused)
    return render(
        request,
        "portal/email_undo.html",
        {"done": False, "old": payload["old"], "new": payload["new"], "error": error},
        status=400 if error else 200,
    )


# --------------------------------------------------------------------------- fresh links


def _renew_link(request: HttpRequest, token: str) -> PortalLink | HttpResponse:
    """The expired link behind ``token`` (a revoked or bad one cannot be renewed)."""
    ip = client_ip(request) or "0.0.0.0"
    try:
        link_verify(token)
    except LinkRefused as refused:
        if refused.reason == "expired" and refused.link is not None:
            return refused.link
        if refused.reason == "bad":
            if ratelimit.bad_tokens_blocked(ip):
                return too_many(request)
            ratelimit.bad_token_count(ip)
        return _refused(request, refused.reason, refused.link, token)
    return HttpResponseRedirect(reverse("portal:overview", args=[token]))


@require_POST
def renew(request: HttpRequest, token: str) -> HttpResponse:
    found = _renew_link(request, token)
    if isinstance(found, HttpResponse):
        return found
    ip = client_ip(request) or "0.0.0.0"
    with translation.override(_language(request, found)):
        if not ratelimit.code_request_allowed(ip=ip, link_id=found.pk):
            return too_many(request)
        services.renewal_request(actor=services.Actor(found, ip), email=request.POST.get("email", "")[:254])
        return render(request, "portal/renew_code.html", {"token": token, "entity": found.customer.entity})


@require_POST
def renew_code(request: HttpRequest, token: str) -> HttpResponse:
    found = _renew_link(request, token)
    if isinstance(found, HttpResponse):
        return found
    ip = client_ip(request) or "0.0.0.0"
    with translation.override(_language(request, found)):
        try:
            fresh = services.renewal_confirm(
                actor=services.Actor(found, ip), code=request.POST.get("code", "")[:12]
            )
        except services.PortalRefused as refused:
            return render(
                request,
                "portal/renew_code.html",
                {"token": token, "entity": found.customer.entity, "error": _refusal_text(refused)},
                status=400,
            )
        return HttpResponseRedirect(link_path(fresh))


# --------------------------------------------------------------------------- provider webhooks


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Stripe's calls: a wrong signature is refused (400) before anything is read or written."""
    from relance.portal.payments import stripe

    try:
        event = stripe.webhook_event(payload=request.body, header=request.headers.get("Stripe-Signature"))
    except WebhookRefused as refused:
        return HttpResponse(str(refused), status=400, content_type="text/plain")
    paid = stripe.paid_from_event(event)
    if paid is not None:
        services.checkout_paid(paid=paid)
    from relance.portal.payments.cards import saved_card_from_event

    saved_card_from_event(event)  # a saved card's expiry, for the credit notices (docs/credit.md)
    return HttpResponse("ok", content_type="text/plain")


def token_of(link: PortalLink) -> str:
    return token_for(link)

"""Pages of the comms app: the message preview (for credit managers)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET

from relance.accounts.selectors import customer_scope, entities_for_user
from relance.common.security import csp_update
from relance.comms import defaults
from relance.comms.rendering import TemplateError, TemplateSource
from relance.comms.selectors import template_resolve
from relance.comms.services import message_language, message_render
from relance.comms.types import RenderedMessage
from relance.core.calendar import parse_iso_date
from relance.core.errors import ValidationFailed
from relance.ledger.models import Customer, Entity

FRAME_CSP = "default-src 'none'; img-src data: http: https:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


@dataclass(frozen=True)
class PreviewRequest:
    entity: Entity
    customer: Customer
    template_key: str
    channel: str
    language: str
    as_of: date


def _preview_request(request: HttpRequest) -> PreviewRequest | None:
    """The customer among those the user may see (``customer_scope``): another entity's, or for a
    sales owner another owner's, is a 404."""
    ref = request.GET.get("customer", "").strip()
    visible = entities_for_user(request.user)
    entity_name = request.GET.get("entity", "").strip()
    if entity_name:
        visible = visible.filter(name=entity_name)
        if not visible.exists():
            raise Http404("entity not found")
    if not ref:
        return None
    customer = (
        customer_scope(request.user, Customer.objects.filter(entity__in=visible, external_ref=ref))
        .select_related("entity", "collector", "sales_owner")
        .order_by("entity__name")
        .first()
    )
    if customer is None:
        raise Http404("customer not found")
    try:
        as_of = parse_iso_date(request.GET["as_of"]) if request.GET.get("as_of") else date.today()
    except (ValidationFailed, ValueError):
        as_of = date.today()
    channel = request.GET.get("channel", "email")
    if channel not in defaults.CHANNELS:
        channel = "email"
    return PreviewRequest(
        entity=customer.entity,
        customer=customer,
        template_key=request.GET.get("template", "overdue_friendly").strip() or "overdue_friendly",
        channel=channel,
        language=request.GET.get("lang", "").strip(),
        as_of=as_of,
    )


def _render(asked: PreviewRequest, draft: TemplateSource | None = None) -> tuple[RenderedMessage | None, str]:
    contact = asked.customer.contacts.order_by("id").first()
    try:
        rendered = message_render(
            customer=asked.customer,
            template_key=asked.template_key,
            channel=asked.channel,
            as_of=asked.as_of,
            contact=contact,
            language=asked.language or None,
            message_key=f"preview/{asked.customer.pk}/{asked.template_key}/{asked.as_of}",
            draft=draft,
            preview=True,
        )
    except (TemplateError, LookupError) as exc:
        return None, str(exc)
    return rendered, ""


def _source(asked: PreviewRequest) -> TemplateSource | None:
    try:
        return template_resolve(
            entity=asked.entity,
            key=asked.template_key,
            channel=asked.channel,
            language=asked.language or message_language(customer=asked.customer),
        ).source
    except LookupError:
        return None


@login_required
@csp_update(style_src="'self' 'unsafe-inline'")  # the e-mail's own styles, in the srcdoc iframe
def preview(request: HttpRequest) -> HttpResponse:
    """Subject, HTML (in a sandboxed iframe: no scripts, no same origin) and text of a message.

    A POST renders the edited subject and bodies instead of the stored template (nothing is
    saved): credit managers see their wording for a real customer before saving it in the admin.
    """
    asked = _preview_request(request)
    draft = None
    if request.method == "POST" and asked is not None:
        draft = TemplateSource(
            subject=request.POST.get("subject", ""),
            text=request.POST.get("body_text", ""),
            html=request.POST.get("body_html", ""),
        )
    rendered, error = _render(asked, draft) if asked else (None, "")
    return render(
        request,
        "comms/preview.html",
        {
            "asked": asked,
            "rendered": rendered,
            "error": error,
            "source": draft or (_source(asked) if asked else None),
            "keys": sorted(defaults.KEYS),
            "channels": defaults.CHANNELS,
            "languages": defaults.LANGUAGES,
            "query": request.GET.urlencode(),
        },
    )


@login_required
@xframe_options_sameorigin
def preview_frame(request: HttpRequest) -> HttpResponse:
    """The rendered HTML alone, under a CSP that forbids scripts, for opening in its own tab."""
    asked = _preview_request(request)
    if asked is None:
        raise Http404("customer not given")
    rendered, error = _render(asked)
    if rendered is None:
        response = HttpResponse(error, content_type="text/plain; charset=utf-8", status=422)
    else:
        body = rendered.html or f"<pre>{rendered.text}</pre>"
        response = HttpResponse(body, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = FRAME_CSP
    return response


# Image types a logo may be served as, by their first bytes (never by the uploaded name).
LOGO_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
LOGO_MAX_AGE = 86400


def logo_content_type(head: bytes) -> str | None:
    """``image/…`` from the file's first bytes (PNG, JPEG, GIF, WebP, SVG), None for anything else."""
    for signature, content_type in LOGO_SIGNATURES:
        if head.startswith(signature):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text):
        return "image/svg+xml"
    return None


@require_GET
def entity_logo(request: HttpRequest, entity_id: int) -> HttpResponse:
    """The entity's logo, public (e-mails and the portal link it; mail clients send no cookie).

    Served only when it is an image; an SVG gets a CSP that runs nothing in it."""
    entity = Entity.objects.filter(pk=entity_id).exclude(logo="").first()
    if entity is None:
        raise Http404("no logo")
    try:
        with entity.logo.open("rb") as handle:
            content = handle.read()
    except (FileNotFoundError, OSError):
        raise Http404("no logo") from None
    content_type = logo_content_type(content[:512])
    if content_type is None:
        raise Http404("the logo is not an image")
    response = HttpResponse(content, content_type=content_type)
    response["Cache-Control"] = f"public, max-age={LOGO_MAX_AGE}"
    response["X-Content-Type-Options"] = "nosniff"
    if content_type == "image/svg+xml":
        response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    return response

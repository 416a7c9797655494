"""The Templates page of the back office: every template of the entity, shipped or its own; one
template with the shipped and own wording side by side, an editor with a live preview on a chosen
customer, and the history of versions with diffs, revert and "back to the shipped version".

Reading needs ``comms.view_messagetemplate``, changing ``comms.change_messagetemplate`` (docs/access.md).
The entity is the one chosen in the top bar (``?entity=``, a form's ``entity`` field, or the
session); naming an entity the user does not see is a 404, as is another entity's version or a
customer the user may not see.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from relance.accounts.decorators import NOT_ALLOWED, role_permission_required
from relance.accounts.selectors import entity_list_for_user, user_can
from relance.common.security import csp_update
from relance.comms import defaults, selectors, services
from relance.comms.rendering import TemplateError, TemplateSource
from relance.comms.types import RenderedMessage
from relance.ledger.models import Customer, Entity

PERM_VIEW = "comms.view_messagetemplate"
PERM_EDIT = "comms.change_messagetemplate"
FIELDS = ("subject", "body_text", "body_html")
PART_FIELDS = {"subject": "subject", "text": "body_text", "html": "body_html"}
HTML_CHANNELS = ("email", "letter")
# The e-mail's own inline styles, in the sandboxed srcdoc iframe of the preview (as /comms/preview/).
PREVIEW_CSP = {"style_src": "'self' 'unsafe-inline'"}


def _entity(request: HttpRequest) -> tuple[Entity, list[Entity]]:
    """The entity named by the form or the query (a 404 if the user does not see it), else the
    one chosen earlier in the top bar, else the user's first."""
    entities = entity_list_for_user(request.user)
    name = request.POST.get("entity") or request.GET.get("entity")
    if name:
        entity = next((e for e in entities if e.name == name), None)
        if entity is None:
            raise Http404("entity not found")
    else:
        remembered = request.session.get("entity")
        entity = next((e for e in entities if e.name == remembered), entities[0] if entities else None)
        if entity is None:
            raise Http404("You have no access to any entity yet. Ask an administrator.")
    if request.session.get("entity") != entity.name:
        request.session["entity"] = entity.name
    return entity, entities


def _require_edit(request: HttpRequest, entity: Entity) -> None:
    if not user_can(request.user, PERM_EDIT, entity):
        raise PermissionDenied(NOT_ALLOWED.format(perm=PERM_EDIT))


def _template(request: HttpRequest, key: str, channel: str, language: str) -> tuple[Entity, list[Entity]]:
    entity, entities = _entity(request)
    if not selectors.template_exists(entity=entity, key=key, channel=channel, language=language):
        raise Http404("no such template")
    return entity, entities


def _base(entity: Entity, entities: list[Entity], **extra: Any) -> dict[str, Any]:
    return {"entity": entity, "entities": entities, "as_of": timezone.localdate(), **extra}


# --------------------------------------------------------------------------- errors in sentences

LAYOUT_SUFFIX = re.compile(r" \(layout [^)]*\)$")
PYTHON_OBJECT = re.compile(r"'(?:[\w]+\.)*(\w+) object'")
"""``'relance.comms.context.CustomerInfo object'`` in Jinja's messages: said ``CustomerInfo``."""


def field_errors(exc: TemplateError) -> dict[str, str]:
    """The sandbox's error as a sentence under the field it is in (``subject``, ``body_text``,
    ``body_html``); ``general`` when it names no part."""
    name = LAYOUT_SUFFIX.sub("", exc.template)
    part = name.rsplit(" ", 1)[-1]
    field = PART_FIELDS.get(part, "general")
    message = PYTHON_OBJECT.sub(r"\1", exc.message.strip().rstrip("."))
    layout = exc.template[len(name) :].strip()
    if layout:
        message += f" {layout}"
    if exc.line:
        return {field: f"Line {exc.line}: {message}."}
    return {field: f"{message[:1].upper()}{message[1:]}."}


# --------------------------------------------------------------------------- preview


@dataclass(frozen=True)
class Preview:
    customer: Customer | None
    rendered: RenderedMessage | None
    errors: dict[str, str]


def _draft(request: HttpRequest) -> TemplateSource:
    return TemplateSource(
        subject=request.POST.get("subject", ""),
        text=request.POST.get("body_text", ""),
        html=request.POST.get("body_html", ""),
    )


def _preview_customer(request: HttpRequest, entity: Entity) -> Customer | None:
    """``customer`` (an id) among the entity's customers the user may see (else 404); without
    one, the first of the list."""
    raw = (request.POST.get("customer") or request.GET.get("customer") or "").strip()
    if raw:
        customer_id = int(raw) if raw.isdigit() and len(raw) < 19 else None
        customer = (
            selectors.template_preview_customer(user=request.user, entity=entity, customer_id=customer_id)
            if customer_id
            else None
        )
        if customer is None:
            raise Http404("customer not found")
        return customer
    first = selectors.template_preview_customers(user=request.user, entity=entity, limit=1)
    return first[0] if first else None


def _preview(
    request: HttpRequest, entity: Entity, key: str, channel: str, language: str, source: TemplateSource | None
) -> Preview:
    """``source`` rendered for the chosen customer by the one renderer sending uses, in the
    template's language, with preview links (they open nothing) and no attachments (nothing is saved or issued)."""
    customer = _preview_customer(request, entity)
    if source is None:
        return Preview(customer=customer, rendered=None, errors={})
    if customer is None:
        try:
            services.message_template_check(
                subject=source.subject,
                body_text=source.text,
                body_html=source.html,
                name=f"{key} [{channel}, {language}]",
            )
        except TemplateError as exc:
            return Preview(customer=None, rendered=None, errors=field_errors(exc))
        return Preview(customer=None, rendered=None, errors={})
    today = timezone.localdate()
    try:
        rendered = services.message_render(
            customer=customer,
            template_key=key,
            channel=channel,
            as_of=today,
            contact=customer.contacts.order_by("id").first(),
            language=language,
            message_key=f"template-preview/{customer.pk}/{key}/{today}",
            draft=source,
            preview=True,
            with_attachments=False,
        )
    except TemplateError as exc:
        return Preview(customer=customer, rendered=None, errors=field_errors(exc))
    except LookupError as exc:
        return Preview(customer=customer, rendered=None, errors={"general": str(exc)})
    return Preview(customer=customer, rendered=rendered, errors={})


# --------------------------------------------------------------------------- pages


@role_permission_required(PERM_VIEW)
@require_GET
def template_list(request: HttpRequest) -> HttpResponse:
    """Every template key × channel × language, and whether the entity sends its own or the shipped."""
    entity, entities = _entity(request)
    channel = request.GET.get("channel", "")
    if channel not in defaults.CHANNELS:
        channel = ""
    query = request.GET.get("q", "").strip()[:64]
    own_only = request.GET.get("own") == "1"
    grid = selectors.template_grid(entity=entity, channel=channel, query=query, own_only=own_only)
    return render(
        request,
        "comms/templates_list.html",
        _base(
            entity,
            entities,
            grid=grid,
            channels=defaults.CHANNELS,
            channel=channel,
            q=query,
            own_only=own_only,
            can_edit=user_can(request.user, PERM_EDIT, entity),
        ),
    )


@role_permission_required(PERM_VIEW)
@csp_update(**PREVIEW_CSP)
def template_page(request: HttpRequest, key: str, channel: str, language: str) -> HttpResponse:
    """One template: shipped and own wording side by side, the editor with its preview, the history.

    POST with ``save`` stores the wording as a new version if it renders; otherwise (``preview``,
    or a broken template) the page comes back with the preview and the errors under the fields,
    keeping what was typed, and nothing is saved.
    """
    entity, entities = _template(request, key, channel, language)
    can_edit = user_can(request.user, PERM_EDIT, entity)
    draft = None
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        _require_edit(request, entity)
        draft = _draft(request)
        if request.POST.get("save"):
            try:
                services.message_template_save(
                    entity=entity,
                    key=key,
                    channel=channel,
                    language=language,
                    subject=draft.subject,
                    body_text=draft.text,
                    body_html=draft.html,
                    user=request.user,
                )
            except TemplateError as exc:
                errors = field_errors(exc)
                status = 400
            else:
                messages.success(
                    request, f"Saved: {entity.name} now sends its own {key} [{channel}, {language}]."
                )
                chosen = request.POST.get("customer", "")
                suffix = f"&customer={chosen}" if chosen.isdigit() else ""
                return redirect(_page_url(entity, key, channel, language) + suffix)
    elif request.method != "GET":
        return HttpResponse(status=405)
    detail = selectors.template_detail(entity=entity, key=key, channel=channel, language=language)
    editing = draft or detail.current
    preview = _preview(request, entity, key, channel, language, editing)
    if preview.errors and not errors:
        errors = preview.errors
        if draft is not None:
            status = 400
    query = request.GET.get("q", "").strip()[:64]
    return render(
        request,
        "comms/templates_detail.html",
        _base(
            entity,
            entities,
            detail=detail,
            editing=editing,
            edited=draft is not None,
            errors=errors,
            preview=preview,
            customers=_customer_choices(request, entity, query, preview.customer),
            q=query,
            can_edit=can_edit,
            has_html=channel in HTML_CHANNELS,
            page_url=_page_url(entity, key, channel, language),
        ),
        status=status,
    )


def _page_url(entity: Entity, key: str, channel: str, language: str) -> str:
    return reverse("comms:template", args=[key, channel, language]) + f"?entity={entity.name}"


def _customer_choices(
    request: HttpRequest, entity: Entity, query: str, chosen: Customer | None
) -> list[Customer]:
    customers = selectors.template_preview_customers(user=request.user, entity=entity, query=query)
    if chosen is not None and chosen not in customers:
        customers.insert(0, chosen)
    return customers


@role_permission_required(PERM_VIEW)
@csp_update(**PREVIEW_CSP)
def template_preview(request: HttpRequest, key: str, channel: str, language: str) -> JsonResponse:
    """The live preview: ``{"html": the preview panel, "errors": {field: sentence}}``. GET renders
    what is sent today for ``?customer=``; POST (editors) renders the wording being typed."""
    entity, _ = _template(request, key, channel, language)
    if request.method == "POST":
        _require_edit(request, entity)
        source: TemplateSource | None = _draft(request)
    elif request.method == "GET":
        source = selectors.template_detail(entity=entity, key=key, channel=channel, language=language).current
    else:
        return JsonResponse({"error": "method not allowed"}, status=405)
    preview = _preview(request, entity, key, channel, language, source)
    html = render_to_string("comms/templates_preview.html", {"preview": preview}, request=request)
    return JsonResponse({"html": html, "errors": preview.errors})


@role_permission_required(PERM_VIEW)
@require_GET
def template_customers(request: HttpRequest) -> HttpResponse:
    """``<option>``s of the entity's customers the user may see matching ``?q=`` (the preview's picker)."""
    entity, _ = _entity(request)
    customers = selectors.template_preview_customers(
        user=request.user, entity=entity, query=request.GET.get("q", "").strip()[:64]
    )
    return render(request, "comms/templates_customer_options.html", {"customers": customers})


@role_permission_required(PERM_EDIT)
@require_POST
def template_revert(
    request: HttpRequest, key: str, channel: str, language: str, version_id: int
) -> HttpResponse:
    """Make an earlier version the entity's wording again (a new version, audited)."""
    entity, _ = _template(request, key, channel, language)
    _require_edit(request, entity)
    version = selectors.template_version_get(
        entity=entity, key=key, channel=channel, language=language, version_id=version_id
    )
    if version is None or version.kind == "shipped":
        raise Http404("version not found")
    try:
        services.message_template_revert(version=version, user=request.user)
    except TemplateError as exc:
        messages.error(
            request, f"Version {version.number} no longer renders: {' '.join(field_errors(exc).values())}"
        )
    else:
        messages.success(request, f"Reverted to version {version.number} (saved as a new version).")
    return redirect(_page_url(entity, key, channel, language))


@role_permission_required(PERM_EDIT)
@require_POST
def template_use_shipped(request: HttpRequest, key: str, channel: str, language: str) -> HttpResponse:
    """Delete the entity's own wording: the shipped version is sent again (history kept, audited)."""
    entity, _ = _template(request, key, channel, language)
    _require_edit(request, entity)
    if services.message_template_use_shipped(
        entity=entity, key=key, channel=channel, language=language, user=request.user
    ):
        messages.success(
            request, f"{entity.name} sends the shipped version of {key} [{channel}, {language}] again."
        )
    else:
        messages.info(request, "This template already uses the shipped version.")
    return redirect(_page_url(entity, key, channel, language))

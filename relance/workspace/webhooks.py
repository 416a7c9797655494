"""Webhook endpoints in the workspace (issue 18): thin views over ``relance.webhooks.services``
(writes) and ``relance.webhooks.selectors`` (reads), the same services as ``relance webhook``,
the API and the Django admin.

* ``/w/webhooks/`` — the endpoints the user may see (URL, event types, enabled or disabled and
  why, last attempt, failures in a row) and, for admins, the form that makes one.
  ``webhooks.view_webhookendpoint``: admins and auditors (read-only: no form, no button).
* ``/w/webhooks/<id>/`` — one endpoint and its attempt log, 50 a page, newest first.
* ``/w/webhooks/new/``, ``…/<id>/rotate/``, ``…/<id>/active/``, ``…/<id>/test/``,
  ``…/<id>/deliveries/<id>/replay/`` (POST) — ``webhooks.change_webhookendpoint`` (admins).

The secret is shown once: in the answer to the POST that made it (creation, rotation), never
kept in the session nor shown again. An endpoint of an entity the user does not see is a 404.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from relance.accounts.decorators import NOT_ALLOWED, role_permission_required
from relance.accounts.selectors import entity_list_for_user, user_can, user_sees_all_entities
from relance.core.errors import NotFound, ValidationFailed
from relance.events.types import EVENT_TYPES
from relance.webhooks import selectors, services
from relance.webhooks.guard import BadEndpointUrl, url_check
from relance.webhooks.models import WebhookEndpoint

PERM_VIEW = "webhooks.view_webhookendpoint"
PERM_MANAGE = "webhooks.change_webhookendpoint"
LOG_PAGE_SIZE = 50
EVERY_ENTITY = ""
ENDPOINT_NOT_FOUND = "No such webhook endpoint."


def _scope(request: HttpRequest) -> list[int] | None:
    """The entities whose endpoints the user may see; None: every endpoint (admins)."""
    if user_sees_all_entities(request.user):
        return None
    return [entity.pk for entity in entity_list_for_user(request.user)]


class EndpointForm(forms.Form):
    """A new endpoint. The URL goes through the SSRF guard and the types through the one list,
    the same checks ``services.endpoint_create`` makes (run here first to show them by the field)."""

    url = forms.CharField(
        label="URL", max_length=2000, error_messages={"required": "Enter the URL that receives the events."}
    )
    event_types = forms.MultipleChoiceField(
        label="Event types",
        required=False,
        choices=[(name, name) for name in EVENT_TYPES if name != services.TEST_EVENT],
        widget=forms.CheckboxSelectMultiple,
        help_text="None checked: every type.",
    )
    entity = forms.ChoiceField(label="Entity", required=False)
    description = forms.CharField(label="Description", required=False, max_length=300)

    def __init__(self, *args: Any, entities: list[Any], every_entity: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.entities = {entity.name: entity for entity in entities}
        choices = [(EVERY_ENTITY, "Every entity")] if every_entity else []
        field = self.fields["entity"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices + [(name, name) for name in self.entities]
        field.required = not every_entity

    def clean_url(self) -> str:
        try:
            return url_check(self.cleaned_data["url"].strip())
        except BadEndpointUrl as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_event_types(self) -> list[str]:
        try:
            return services.event_types_check(self.cleaned_data["event_types"])
        except ValidationFailed as exc:
            raise forms.ValidationError(exc.message) from exc

    def clean_entity(self) -> Any:
        name = self.cleaned_data.get("entity") or EVERY_ENTITY
        return None if name == EVERY_ENTITY else self.entities[name]


def _form(request: HttpRequest, data: Any = None) -> EndpointForm:
    return EndpointForm(
        data,
        entities=list(entity_list_for_user(request.user)),
        every_entity=user_sees_all_entities(request.user),
    )


def _rows(request: HttpRequest) -> list[dict[str, Any]]:
    endpoints = list(selectors.endpoint_list(entity_ids=_scope(request)))
    latest = selectors.endpoint_last_attempts(e.pk for e in endpoints)
    return [{"endpoint": e, "last": latest.get(e.pk)} for e in endpoints]


def _list_page(request: HttpRequest, *, form: EndpointForm | None = None, status: int = 200) -> HttpResponse:
    can_manage = user_can(request.user, PERM_MANAGE)
    return render(
        request,
        "workspace/webhooks.html",
        {
            "rows": _rows(request),
            "form": (form or _form(request)) if can_manage else None,
            "can_manage": can_manage,
            "event_types": [kind for name, kind in EVENT_TYPES.items() if name != services.TEST_EVENT],
        },
        status=status,
    )


@require_GET
@role_permission_required(PERM_VIEW)
def webhook_list(request: HttpRequest) -> HttpResponse:
    return _list_page(request)


@require_POST
@role_permission_required(PERM_MANAGE)
def webhook_create(request: HttpRequest) -> HttpResponse:
    form = _form(request, request.POST)
    if not form.is_valid():
        return _list_page(request, form=form, status=400)
    data = form.cleaned_data
    try:
        endpoint = services.endpoint_create(
            url=data["url"],
            event_types=data["event_types"],
            entity=data["entity"],
            description=data["description"],
        )
    except ValidationFailed as exc:
        form.add_error(None, f"Nothing was made: {exc.message}")
        return _list_page(request, form=form, status=400)
    return _detail_page(request, endpoint, secret=endpoint.secret, created=True)


def _endpoint(request: HttpRequest, endpoint_id: int, *, manage: bool = False) -> WebhookEndpoint:
    try:
        endpoint = selectors.endpoint_get(pk=endpoint_id, entity_ids=_scope(request))
    except NotFound:
        raise Http404(ENDPOINT_NOT_FOUND) from None
    if manage and not user_can(request.user, PERM_MANAGE):
        raise PermissionDenied(NOT_ALLOWED.format(perm=PERM_MANAGE))
    return endpoint


def _detail_page(
    request: HttpRequest, endpoint: WebhookEndpoint, *, secret: str = "", created: bool = False
) -> HttpResponse:
    page = Paginator(selectors.attempt_rows(endpoint=endpoint), LOG_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    response = render(
        request,
        "workspace/webhook.html",
        {
            "endpoint": endpoint,
            "stats": selectors.endpoint_stats(endpoint),
            "page": page,
            "secret": secret,
            "created": created,
            "can_manage": user_can(request.user, PERM_MANAGE),
        },
    )
    if secret:
        response["Cache-Control"] = "no-store"  # the secret is in this page only
    return response


@require_GET
@role_permission_required(PERM_VIEW)
def webhook_detail(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    return _detail_page(request, _endpoint(request, endpoint_id))


def _back(endpoint: WebhookEndpoint) -> HttpResponse:
    return redirect(reverse("workspace:webhook", args=[endpoint.pk]))


@require_POST
@role_permission_required(PERM_MANAGE)
def webhook_rotate(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id, manage=True)
    secret = services.secret_rotate(endpoint=endpoint)
    hours = int(services.ROTATION_OVERLAP / timedelta(hours=1))
    messages.success(request, f"New secret made: the previous one keeps signing beside it for {hours} hours.")
    return _detail_page(request, endpoint, secret=secret)


@require_POST
@role_permission_required(PERM_MANAGE)
def webhook_active(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id, manage=True)
    if request.POST.get("active") == "1":
        services.endpoint_update(endpoint=endpoint, active=True)
        messages.success(request, "Endpoint enabled: its waiting events go out now.")
    else:
        services.endpoint_disable(endpoint=endpoint, reason=f"disabled by {request.user}")
        messages.success(request, "Endpoint disabled: its events wait until it is enabled again.")
    return _back(endpoint)


@require_POST
@role_permission_required(PERM_MANAGE)
def webhook_test(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id, manage=True)
    entities = entity_list_for_user(request.user)
    if endpoint.entity is None and not entities:
        raise Http404("You have no access to any entity yet. Ask an administrator.")
    event = services.endpoint_test_event_send(
        endpoint=endpoint, entity=endpoint.entity or entities[0], sent_by=str(request.user)
    )
    messages.success(
        request,
        f"Test event {event.uid} queued: the worker sends it"
        + ("." if endpoint.active else " once the endpoint is enabled."),
    )
    return _back(endpoint)


@require_POST
@role_permission_required(PERM_MANAGE)
def webhook_replay(request: HttpRequest, endpoint_id: int, delivery_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id, manage=True)
    try:
        delivery = selectors.delivery_get(endpoint=endpoint, pk=delivery_id)
    except NotFound:
        raise Http404("No such delivery.") from None
    services.replay(endpoint=endpoint, event_uid=delivery.event.uid)
    messages.success(request, f"Event {delivery.event.uid} queued again, with the same webhook-id.")
    return _back(endpoint)

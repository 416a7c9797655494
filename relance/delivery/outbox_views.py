"""The Outbox page of the back office: what needs a person first (uncertain, failed), then the rest.

Seen by the roles that may view messages (``delivery.view_outboundmessage``: admins, credit
managers, collectors, support, auditors; not sales owners); the retry, cancel and resolve buttons
need ``delivery.change_outboundmessage`` (admins and credit managers). Only the entities the user
sees are listed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from relance.accounts.selectors import entities_for_user, user_can
from relance.common.csv_export import csv_response, money
from relance.core.actors import Actor
from relance.core.channels import DELIVERY_CHANNELS
from relance.core.text import sentence
from relance.delivery import services
from relance.delivery.alerts import ATTENTION
from relance.delivery.models import MessageStatus, OutboundMessage
from relance.delivery.services import DeliveryError

PAGE_SIZE = 50
PERM_VIEW = "delivery.view_outboundmessage"
PERM_ACT = "delivery.change_outboundmessage"
NOT_ALLOWED = "Your role cannot see the outbox."
NOT_ALLOWED_ACT = "Your role cannot retry, cancel or resolve messages."
CHANNELS = DELIVERY_CHANNELS


def _visible(request: HttpRequest):  # type: ignore[no-untyped-def]
    if not user_can(request.user, PERM_VIEW):
        raise PermissionDenied(NOT_ALLOWED)
    return OutboundMessage.objects.filter(entity__in=entities_for_user(request.user))


def _listed(request: HttpRequest) -> tuple[QuerySet[OutboundMessage], str, str, str]:
    """The page's rows (status, channel and customer filters, attention first) and the filters."""
    rows = _visible(request).select_related("customer", "entity")
    query = request.GET
    status = query.get("status", "")
    channel = query.get("channel", "")
    customer = query.get("customer", "").strip()
    if status in MessageStatus.values:
        rows = rows.filter(status=status)
    if channel in CHANNELS:
        rows = rows.filter(channel=channel)
    if customer:
        rows = rows.filter(customer__external_ref__iexact=customer) | rows.filter(
            customer__name__icontains=customer
        )
    attention_first = Case(
        *(When(status=value, then=Value(rank)) for rank, value in enumerate(ATTENTION)),
        default=Value(len(ATTENTION)),
        output_field=IntegerField(),
    )
    rows = rows.annotate(attention=attention_first).order_by("attention", "-queued_at", "-id")
    return rows, status, channel, customer


@login_required
@require_GET
def outbox_page(request: HttpRequest) -> HttpResponse:
    rows, status, channel, customer = _listed(request)
    query = request.GET
    page = Paginator(rows, PAGE_SIZE).get_page(query.get("page"))
    return render(
        request,
        "delivery/outbox.html",
        {
            "page": page,
            "status": status,
            "channel": channel,
            "customer": customer,
            "statuses": MessageStatus.choices,
            "channels": CHANNELS,
            "can_act": user_can(request.user, PERM_ACT),
            "retryable": [value.value for value in services.RETRYABLE],
            "cancellable": [MessageStatus.QUEUED.value, *(value.value for value in services.RETRYABLE)],
            "counts": {s: _visible(request).filter(status=s).count() for s in ATTENTION},
        },
    )


EXPORT_COLUMNS = [
    "message_id",
    "entity",
    "customer_ref",
    "customer_name",
    "channel",
    "template_key",
    "recipient",
    "subject",
    "status",
    "attempts",
    "last_error",
    "currency",
    "amount_due",
    "queued_at",
    "sent_at",
    "delivered_at",
]


@login_required
@require_GET
def outbox_export(request: HttpRequest) -> StreamingHttpResponse:
    """The listed messages as CSV (``relance.common.csv_export``): the page's filters, every row."""
    from django.utils import timezone

    rows, _, _, _ = _listed(request)

    def lines() -> Iterator[list[Any]]:
        for message in rows.iterator(chunk_size=2000):
            yield [
                message.pk,
                message.entity.name,
                message.customer.external_ref,
                message.customer.name,
                message.channel,
                message.template_key,
                message.recipient,
                message.subject,
                message.status,
                message.attempts,
                message.last_error,
                message.currency,
                money(message.amount_due),
                message.queued_at,
                message.sent_at,
                message.delivered_at,
            ]

    return csv_response(f"outbox-{timezone.localdate()}", EXPORT_COLUMNS, lines())


@login_required
@require_POST
def outbox_act(request: HttpRequest, message_id: int) -> HttpResponse:
    message = _visible(request).filter(pk=message_id).first()
    if message is None:
        raise Http404("no such message")
    if not user_can(request.user, PERM_ACT, message):
        raise PermissionDenied(NOT_ALLOWED_ACT)
    action = request.POST.get("action", "")
    try:
        if action == "retry":
            services.message_retry(message=message, user=request.user)
            messages.success(request, f"Message {message.pk} queued again.")
        elif action == "cancel":
            services.message_cancel(message=message, user=request.user, actor=Actor.user(request.user))
            messages.success(request, f"Message {message.pk} cancelled.")
        elif action in ("resolve_sent", "resolve_not_sent"):
            sent = action == "resolve_sent"
            services.message_resolve(
                message=message,
                sent=sent,
                user=request.user,
                note=request.POST.get("note", ""),
                actor=Actor.user(request.user),
            )
            messages.success(
                request,
                f"Message {message.pk} resolved as " + ("sent." if sent else "not sent: queued again."),
            )
        else:
            messages.error(request, "Choose what to do with the message: retry, cancel or resolve.")
    except DeliveryError as exc:
        messages.error(request, sentence(exc.message))
    back = request.POST.get("next", "")
    return redirect(back if back.startswith("/delivery/outbox/") else "delivery:outbox")

"""Reads of the webhooks app: endpoints, deliveries and their log."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet

from relance.core.errors import NotFound
from relance.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint


def endpoint_list(*, entity_ids: Iterable[int] | None = None) -> QuerySet[WebhookEndpoint]:
    """Every endpoint (``entity_ids`` None: an admin's view), or those of the given entities."""
    rows = WebhookEndpoint.objects.select_related("entity").order_by("id")
    if entity_ids is not None:
        rows = rows.filter(entity_id__in=list(entity_ids))
    return rows


def endpoint_get(*, pk: int, entity_ids: Iterable[int] | None = None) -> WebhookEndpoint:
    """One endpoint the caller may see, else NotFound (another entity's is a 404)."""
    endpoint = endpoint_list(entity_ids=entity_ids).filter(pk=pk).first()
    if endpoint is None:
        raise NotFound(f"no webhook endpoint {pk}")
    return endpoint


def endpoint_stats(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """Deliveries by status, for the list views."""
    counts = {status: 0 for status in DeliveryStatus.values}
    for status, n in _counts(endpoint):
        counts[status] = n
    return counts


def _counts(endpoint: WebhookEndpoint) -> list[tuple[str, int]]:
    from django.db.models import Count

    return list(
        WebhookDelivery.objects.filter(endpoint=endpoint)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )


def attempt_rows(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookAttempt]:
    """Every attempt of the endpoint, newest first, with its delivery and event (for paging)."""
    return (
        WebhookAttempt.objects.filter(delivery__endpoint=endpoint)
        .select_related("delivery__event")
        .order_by("-id")
    )


def endpoint_last_attempts(endpoint_ids: Iterable[int]) -> dict[int, WebhookAttempt]:
    """The latest attempt of each endpoint (one query per endpoint on the log's index), for lists."""
    latest: dict[int, WebhookAttempt] = {}
    for pk in endpoint_ids:
        row = attempt_rows(endpoint=WebhookEndpoint(pk=pk)).first()
        if row is not None:
            latest[pk] = row
    return latest


def delivery_get(*, endpoint: WebhookEndpoint, pk: int) -> WebhookDelivery:
    """One delivery of this endpoint, else NotFound."""
    delivery = WebhookDelivery.objects.filter(endpoint=endpoint, pk=pk).select_related("event").first()
    if delivery is None:
        raise NotFound(f"no delivery {pk} of webhook endpoint {endpoint.pk}")
    return delivery


def delivery_log(*, endpoint: WebhookEndpoint, limit: int = 50) -> list[WebhookAttempt]:
    """The endpoint's latest attempts, newest first."""
    return list(attempt_rows(endpoint=endpoint)[:limit])


def endpoint_wants(entity_id: int, event_type: str) -> bool:
    """Is there an endpoint (active or disabled: a disabled one may be enabled and replayed) for
    this type of this entity's events? ``emit`` asks before writing (one query on a small table)."""
    for endpoint_entity, types in WebhookEndpoint.objects.values_list("entity_id", "event_types"):
        if endpoint_entity in (None, entity_id) and (not types or event_type in types):
            return True
    return False

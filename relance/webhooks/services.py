"""Writes of the webhooks app: endpoints (create, change, rotate the secret, disable, enable) and
replays. Scoping (which entity a user may touch) is the caller's: the API and the pages pass the
entity the user may see; the CLI acts as the operator."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from relance.core.errors import ValidationFailed
from relance.events.models import Event
from relance.events.types import EVENT_TYPES
from relance.webhooks import signing
from relance.webhooks.guard import BadEndpointUrl, url_check
from relance.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

#: How long the previous secret keeps signing after a rotation, by default.
ROTATION_OVERLAP = timedelta(hours=24)
#: The event an admin sends to try an endpoint (``endpoint_test_event_send``).
TEST_EVENT = "webhook.test"


def event_types_check(types: Iterable[str]) -> list[str]:
    """The event types, each known (``[]``: every type)."""
    wanted = [t.strip() for t in types if t.strip()]
    unknown = [t for t in wanted if t not in EVENT_TYPES]
    if unknown:
        raise ValidationFailed(
            f"unknown event type {', '.join(unknown)}: expected some of {', '.join(EVENT_TYPES)}"
        )
    return sorted(set(wanted))


def _url(url: str) -> str:
    try:
        return url_check(url.strip())
    except BadEndpointUrl as exc:
        raise ValidationFailed(str(exc)) from exc


def _secret(secret: str | None) -> str:
    if not secret:
        return signing.secret_new()
    try:
        signing.secret_key(secret)
    except signing.BadSecret as exc:
        raise ValidationFailed(f"secret: {exc}") from exc
    return secret


def endpoint_create(
    *,
    url: str,
    event_types: Sequence[str] = (),
    entity: Any = None,
    description: str = "",
    secret: str | None = None,
    max_in_flight: int = 10,
) -> WebhookEndpoint:
    """A new active endpoint; its secret is made here unless given (``whsec_`` form)."""
    if not 1 <= max_in_flight <= 100:
        raise ValidationFailed(f"max_in_flight: expected 1 to 100, found {max_in_flight}")
    return WebhookEndpoint.objects.create(
        url=_url(url),
        event_types=event_types_check(event_types),
        entity=entity,
        description=description[:300],
        secret=_secret(secret),
        max_in_flight=max_in_flight,
    )


def endpoint_update(*, endpoint: WebhookEndpoint, **changes: Any) -> WebhookEndpoint:
    """Change url, event_types, description, active or max_in_flight. Enabling resets the
    failure count (its pending deliveries go out again)."""
    allowed = {"url", "event_types", "description", "active", "max_in_flight"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationFailed(
            f"cannot change {', '.join(sorted(unknown))}: expected some of {', '.join(sorted(allowed))}"
        )
    if "url" in changes:
        endpoint.url = _url(changes["url"])
    if "event_types" in changes:
        endpoint.event_types = event_types_check(changes["event_types"])
    if "description" in changes:
        endpoint.description = str(changes["description"])[:300]
    if "max_in_flight" in changes:
        if not 1 <= int(changes["max_in_flight"]) <= 100:
            raise ValidationFailed(f"max_in_flight: expected 1 to 100, found {changes['max_in_flight']}")
        endpoint.max_in_flight = int(changes["max_in_flight"])
    if "active" in changes:
        if changes["active"] and not endpoint.active:
            endpoint.consecutive_failures = 0
            endpoint.failing_since = None
            endpoint.disabled_at = None
            endpoint.disabled_reason = ""
        elif not changes["active"] and endpoint.active:
            endpoint.disabled_at = timezone.now()
            endpoint.disabled_reason = "disabled by hand"
        endpoint.active = bool(changes["active"])
    endpoint.save()
    return endpoint


def endpoint_disable(*, endpoint: WebhookEndpoint, reason: str = "disabled by hand") -> WebhookEndpoint:
    endpoint_update(endpoint=endpoint, active=False)
    endpoint.disabled_reason = reason[:500]
    endpoint.save(update_fields=["disabled_reason", "updated_at"])
    return endpoint


def secret_rotate(
    *, endpoint: WebhookEndpoint, secret: str | None = None, overlap: timedelta = ROTATION_OVERLAP
) -> str:
    """A new secret; the old one keeps signing beside it for ``overlap``. Returns the new secret."""
    new = _secret(secret)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = timezone.now() + overlap
    endpoint.secret = new
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_until", "updated_at"])
    return new


def _replay_wanted(endpoint: WebhookEndpoint, event: Event) -> bool:
    """A test event goes to the endpoint it was sent to, whatever types it wants; any other to
    the endpoints that want its type and entity."""
    if event.type == TEST_EVENT:
        return bool(event.data.get("endpoint_id") == endpoint.pk)
    return endpoint.wants(event.type) and endpoint.entity_id in (None, event.entity_id)


@transaction.atomic
def replay(
    *,
    endpoint: WebhookEndpoint | None = None,
    event_uid: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    entity_ids: Iterable[int] | None = None,
) -> int:
    """Send events again: one (``event_uid``) or those that occurred in [since, until), to one
    endpoint or every active endpoint that wants them. A delivery made again keeps its event's
    ``webhook-id``. Returns the number of deliveries queued."""
    if event_uid is None and since is None:
        raise ValidationFailed("replay: give an event id, or a time range (--since, optionally --until)")
    events = Event.objects.all()
    if event_uid is not None:
        events = events.filter(uid=event_uid)
        if not events.exists():
            raise ValidationFailed(f"replay: no event {event_uid!r}")
    else:
        events = events.exclude(type=TEST_EVENT)  # a test was for one endpoint, not a range's
    if since is not None:
        events = events.filter(occurred_at__gte=since)
    if until is not None:
        events = events.filter(occurred_at__lt=until)
    if entity_ids is not None:
        events = events.filter(entity_id__in=list(entity_ids))
    endpoints = [endpoint] if endpoint is not None else list(WebhookEndpoint.objects.filter(active=True))
    now = timezone.now()
    count = 0
    for event in events.order_by("id").iterator():
        for target in endpoints:
            if not _replay_wanted(target, event):
                continue
            delivery, created = WebhookDelivery.objects.get_or_create(
                endpoint=target,
                event=event,
                defaults={"ordering_key": event.ordering_key, "next_attempt_at": now},
            )
            if not created:
                WebhookDelivery.objects.filter(pk=delivery.pk).exclude(status=DeliveryStatus.SENDING).update(
                    status=DeliveryStatus.PENDING, next_attempt_at=now, first_attempt_at=None, last_error=""
                )
            count += 1
    return count


@transaction.atomic
def endpoint_test_event_send(*, endpoint: WebhookEndpoint, entity: Any, sent_by: str = "") -> Event:
    """A ``webhook.test`` event queued for ``endpoint`` alone, whatever types it wants: the worker
    sends it signed like any other, and its attempts show in the endpoint's log. ``entity`` is
    the endpoint's, or (an endpoint for every entity) the one the admin is looking at."""
    from relance.events.services import event_uid

    now = timezone.now()
    event = Event.objects.create(
        uid=event_uid(),
        type=TEST_EVENT,
        version=EVENT_TYPES[TEST_EVENT].version,
        entity=endpoint.entity or entity,
        occurred_at=now,
        data={"endpoint_id": endpoint.pk, "sent_by": sent_by[:200]},
        dispatched=True,  # matched by hand to this endpoint: the dispatcher leaves it
    )
    WebhookDelivery.objects.create(endpoint=endpoint, event=event, next_attempt_at=now)
    return event


def entity_scope(queryset: Any, entity_ids: Iterable[int] | None) -> Any:
    """Endpoints of those entities only (``None``: all, for admins and the CLI)."""
    if entity_ids is None:
        return queryset
    return queryset.filter(Q(entity_id__in=list(entity_ids)))

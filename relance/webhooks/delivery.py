"""Delivering events to endpoints: dispatch, claim a batch, send it concurrently, record.

At least once, never silently lost (ADR 0026). An event is matched to the endpoints that want it
(``events_dispatch``: one ``WebhookDelivery`` per endpoint, a unique pair, so two workers
dispatching at once make no duplicate). A batch of due deliveries is claimed with a lease in one
commit (``sending``), sent concurrently through one pooled, guarded client, and recorded in one
commit: ``delivered`` on a 2xx, else ``pending`` again with exponential backoff, ``failed`` once
the retry window (3 days) is over. A delivery still ``sending`` after its lease (its worker was
killed) goes back to ``pending`` and is sent again with the same ``webhook-id``: receivers
deduplicate on it. One customer's events reach an endpoint in order: a delivery waits while an
earlier event of the same ordering key is still open at that endpoint.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from relance.accounts.alerts import alert_send
from relance.events.models import Event
from relance.webhooks import signing
from relance.webhooks.guard import guarded_client
from relance.webhooks.models import (
    OPEN_STATUSES,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

logger = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=6)
DISPATCH_BATCH = 1000


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def timeout_seconds() -> float:
    return _setting("RELANCE_WEBHOOK_TIMEOUT_SECONDS", 10)


def concurrency() -> int:
    return max(int(_setting("RELANCE_WEBHOOK_CONCURRENCY", 16)), 1)


def retry_window() -> timedelta:
    return timedelta(hours=_setting("RELANCE_WEBHOOK_RETRY_HOURS", 72))


def lease_duration() -> timedelta:
    """A batch is sent in one round of at most one timeout each: three timeouts is ample."""
    return timedelta(seconds=3 * timeout_seconds() + 5)


def backoff(attempts: int, *, rng: random.Random | None = None) -> timedelta:
    """base × 2^(attempts−1) × [1, 1.5), at most 6 hours (base: RELANCE_WEBHOOK_RETRY_SECONDS, 5 s)."""
    base = _setting("RELANCE_WEBHOOK_RETRY_SECONDS", 5)
    seconds = base * (2 ** max(attempts - 1, 0)) * (1 + (rng or random).random() / 2)
    return min(timedelta(seconds=seconds), MAX_BACKOFF)


@dataclass
class WebhookPassReport:
    """What one webhook pass did."""

    worker_id: str
    dispatched: int = 0
    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    recovered: int = 0
    endpoints_disabled: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


# --------------------------------------------------------------------------------------------------
# Dispatch: events → deliveries


def events_dispatch(*, now: datetime | None = None, limit: int = DISPATCH_BATCH) -> int:
    """Match up to ``limit`` undispatched events to the active endpoints that want them."""
    events = list(
        Event.objects.filter(dispatched=False)
        .order_by("id")
        .values_list("id", "type", "entity_id", "ordering_key")[:limit]
    )
    if not events:
        return 0
    at = now or timezone.now()
    endpoints = list(WebhookEndpoint.objects.filter(active=True))
    rows = [
        WebhookDelivery(endpoint_id=endpoint.pk, event_id=pk, ordering_key=key, next_attempt_at=at)
        for pk, kind, entity_id, key in events
        for endpoint in endpoints
        if endpoint.wants(kind) and endpoint.entity_id in (None, entity_id)
    ]
    with transaction.atomic():
        WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
        Event.objects.filter(pk__in=[pk for pk, *_ in events]).update(dispatched=True)
    return len(events)


# --------------------------------------------------------------------------------------------------
# Recovery and claims


def _owner_prefix(worker_id: str) -> str:
    return f"{worker_id}/"


def deliveries_recover(*, worker_id: str = "", now: datetime | None = None) -> int:
    """Deliveries left ``sending`` by a stopped worker (lease over, or this worker's id) are due
    again at once: sent again with the same ``webhook-id`` (at least once; receivers deduplicate)."""
    at = now or timezone.now()
    stale = Q(lease_until__lt=at) | Q(lease_until__isnull=True)
    if worker_id:
        stale |= Q(lease_owner__startswith=_owner_prefix(worker_id))
    stuck = list(
        WebhookDelivery.objects.filter(Q(status=DeliveryStatus.SENDING) & stale).values_list(
            "pk", "lease_owner", "attempts"
        )
    )
    count = 0
    for pk, owner, attempts in stuck:
        with transaction.atomic():
            moved = WebhookDelivery.objects.filter(
                pk=pk, status=DeliveryStatus.SENDING, lease_owner=owner
            ).update(
                status=DeliveryStatus.PENDING,
                lease_owner="",
                lease_until=None,
                next_attempt_at=at,
                last_error=f"worker {owner.split('/')[0] or '?'} stopped during attempt {attempts}",
            )
            if moved:
                WebhookAttempt.objects.create(
                    delivery_id=pk,
                    attempt=attempts,
                    at=at,
                    error="interrupted: the worker stopped before the answer was recorded",
                    worker=owner.split("/")[0],
                )
                count += 1
    return count


def _due(now: datetime) -> Any:
    earlier_open = WebhookDelivery.objects.filter(
        endpoint_id=OuterRef("endpoint_id"),
        ordering_key=OuterRef("ordering_key"),
        event_id__lt=OuterRef("event_id"),
        status__in=OPEN_STATUSES,
    )
    return (
        WebhookDelivery.objects.filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lte=now, endpoint__active=True
        )
        .filter(Q(ordering_key="") | ~Exists(earlier_open))
        .order_by("event_id", "id")
    )


def _claim_batch(*, worker_id: str, now: datetime, size: int) -> list[WebhookDelivery]:
    """Claim up to ``size`` due deliveries, at most each endpoint's ``max_in_flight`` (counting
    the deliveries other workers are sending), in one commit; the claimed rows with their event,
    entity and endpoint."""
    candidates = list(_due(now).values_list("pk", "endpoint_id", "endpoint__max_in_flight")[: size * 4])
    if not candidates:
        return []
    endpoint_ids = {endpoint_id for _, endpoint_id, _ in candidates}
    token = f"{_owner_prefix(worker_id)}{secrets.token_hex(4)}"
    with transaction.atomic():
        if connection.features.has_select_for_update:
            # Claims for one endpoint are serialised, so the in-flight bound holds across workers.
            list(WebhookEndpoint.objects.select_for_update().filter(pk__in=endpoint_ids).values_list("pk"))
        in_flight = Counter(
            dict(
                WebhookDelivery.objects.filter(
                    endpoint_id__in=endpoint_ids, status=DeliveryStatus.SENDING, lease_until__gte=now
                )
                .values_list("endpoint_id")
                .annotate(n=Count("id"))
                .values_list("endpoint_id", "n")
            )
        )
        chosen: list[int] = []
        for pk, endpoint_id, cap in candidates:
            if len(chosen) >= size:
                break
            if in_flight[endpoint_id] >= cap:
                continue
            in_flight[endpoint_id] += 1
            chosen.append(pk)
        if not chosen:
            return []
        WebhookDelivery.objects.filter(pk__in=chosen, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.SENDING,
            lease_owner=token,
            lease_until=now + lease_duration(),
            attempts=F("attempts") + 1,
            first_attempt_at=Coalesce(F("first_attempt_at"), Value(now)),
        )
    return list(
        WebhookDelivery.objects.filter(lease_owner=token, status=DeliveryStatus.SENDING)
        .select_related("event", "event__entity", "endpoint")
        .order_by("event_id")
    )


# --------------------------------------------------------------------------------------------------
# Sending


def event_body(event: Event) -> bytes:
    """The JSON body of every delivery of ``event``: the same bytes on every attempt."""
    envelope = {
        "id": event.uid,
        "type": event.type,
        "version": event.version,
        "timestamp": event.occurred_at.isoformat(),
        "entity": event.entity.name,
        "data": event.data,
    }
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True).encode()


def secrets_in_use(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The current secret, and the previous one while its overlap window lasts."""
    used = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_until and endpoint.previous_secret_until > now:
        used.append(endpoint.previous_secret)
    return used


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: a status code (None: no answer), its latency and an error."""

    delivery: WebhookDelivery
    at: datetime
    status_code: int | None
    latency_ms: int | None
    error: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def attempt_send(client: httpx.Client, delivery: WebhookDelivery) -> Outcome:
    """POST one delivery: signed now, never redirected; any failure is an Outcome, never raised."""
    at = timezone.now()
    body = event_body(delivery.event)
    headers = signing.headers(
        secrets_in_use(delivery.endpoint, at), delivery.event.uid, int(at.timestamp()), body
    )
    started = time.perf_counter()
    try:
        response = client.post(delivery.endpoint.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        latency = int((time.perf_counter() - started) * 1000)
        return Outcome(delivery, at, None, latency, f"{type(exc).__name__}: {exc}"[:2000])
    except Exception as exc:  # a bug must not lose the batch's other results
        logger.exception("webhook delivery %s raised", delivery.pk)
        return Outcome(delivery, at, None, None, f"{type(exc).__name__}: {exc}"[:2000])
    latency = int((time.perf_counter() - started) * 1000)
    error = "" if 200 <= response.status_code < 300 else _answer_error(response)
    return Outcome(delivery, at, response.status_code, latency, error)


def _answer_error(response: httpx.Response) -> str:
    if response.is_redirect:
        return f"HTTP {response.status_code}: redirects are not followed ({response.headers.get('location', '')})"
    return f"HTTP {response.status_code}: {response.text[:300]}"


# --------------------------------------------------------------------------------------------------
# Recording


def _record(outcomes: list[Outcome], *, worker_id: str, report: WebhookPassReport) -> None:
    """Write a batch's results in one commit: the log, each delivery's new state, the endpoints'
    failure counts; then disable the endpoints that failed too long (and e-mail the admins)."""
    finished = timezone.now()
    window = retry_window()
    by_endpoint: dict[int, list[Outcome]] = {}
    with transaction.atomic():
        WebhookAttempt.objects.bulk_create(
            WebhookAttempt(
                delivery_id=o.delivery.pk,
                attempt=o.delivery.attempts,
                at=o.at,
                status_code=o.status_code,
                latency_ms=o.latency_ms,
                error=o.error,
                worker=worker_id,
            )
            for o in outcomes
        )
        delivered = [o for o in outcomes if o.ok]
        for o in outcomes:
            by_endpoint.setdefault(o.delivery.endpoint_id, []).append(o)
        codes: dict[int, list[int]] = {}
        for o in delivered:
            codes.setdefault(o.status_code or 200, []).append(o.delivery.pk)
        for code, pks in codes.items():
            WebhookDelivery.objects.filter(
                pk__in=pks, status=DeliveryStatus.SENDING, lease_owner=outcomes[0].delivery.lease_owner
            ).update(
                status=DeliveryStatus.DELIVERED,
                delivered_at=finished,
                last_status_code=code,
                last_error="",
                lease_owner="",
                lease_until=None,
            )
        report.delivered += len(delivered)
        for o in outcomes:
            if o.ok:
                continue
            d = o.delivery
            first = d.first_attempt_at or o.at
            give_up = finished - first >= window
            WebhookDelivery.objects.filter(
                pk=d.pk, status=DeliveryStatus.SENDING, lease_owner=d.lease_owner
            ).update(
                status=DeliveryStatus.FAILED if give_up else DeliveryStatus.PENDING,
                first_attempt_at=first,
                next_attempt_at=o.at + backoff(d.attempts),
                last_status_code=o.status_code,
                last_error=o.error,
                lease_owner="",
                lease_until=None,
            )
            if give_up:
                report.failed += 1
            else:
                report.retrying += 1
        for endpoint_id, results in by_endpoint.items():
            if any(o.ok for o in results):
                WebhookEndpoint.objects.filter(pk=endpoint_id).update(
                    consecutive_failures=0, failing_since=None
                )
            failures = sum(1 for o in results if not o.ok)
            if failures and not results[-1].ok:
                WebhookEndpoint.objects.filter(pk=endpoint_id).update(
                    consecutive_failures=F("consecutive_failures") + failures
                )
                WebhookEndpoint.objects.filter(pk=endpoint_id, failing_since__isnull=True).update(
                    failing_since=min(o.at for o in results if not o.ok)
                )
    for endpoint_id in by_endpoint:
        if endpoint_disable_if_failing(endpoint_id, now=finished):
            report.endpoints_disabled += 1


def endpoint_disable_if_failing(endpoint_id: int, *, now: datetime) -> bool:
    """Disable an endpoint that failed every attempt for the whole retry window (and at least
    RELANCE_WEBHOOK_DISABLE_AFTER_FAILURES times in a row), and tell the admins by e-mail."""
    at_least = int(_setting("RELANCE_WEBHOOK_DISABLE_AFTER_FAILURES", 10))
    reason = (
        f"every delivery failed since {{since}} ({{count}} attempts in a row); "
        f"disabled after {retry_window()} of failures"
    )
    endpoint = WebhookEndpoint.objects.filter(
        pk=endpoint_id,
        active=True,
        consecutive_failures__gte=at_least,
        failing_since__lte=now - retry_window(),
    ).first()
    if endpoint is None:
        return False
    text = reason.format(since=endpoint.failing_since, count=endpoint.consecutive_failures)
    moved = WebhookEndpoint.objects.filter(pk=endpoint.pk, active=True).update(
        active=False, disabled_at=now, disabled_reason=text[:500]
    )
    if not moved:
        return False
    last = (
        WebhookAttempt.objects.filter(delivery__endpoint=endpoint)
        .order_by("-id")
        .values_list("error", flat=True)
        .first()
    )
    alert_send(
        entity=endpoint.entity,
        subject=f"Webhook endpoint disabled: {endpoint.url}",
        body=(
            f"The webhook endpoint {endpoint.url} ({endpoint.description or 'no description'}) was disabled: "
            f"{text}.\nLast error: {last or '-'}\n\nIts undelivered events are kept. Enable it again "
            f"(Django admin, or the API's PATCH /api/v1/webhooks/endpoints/{endpoint.pk}) once it answers, "
            f"and they will be delivered; `relance webhook replay` sends past events again."
        ),
    )
    return True


# --------------------------------------------------------------------------------------------------
# The pass


def webhook_pass(
    *,
    worker_id: str,
    limit: int = 5000,
    stop: threading.Event | None = None,
    progress: Callable[[int], None] | None = None,
    client: httpx.Client | None = None,
) -> WebhookPassReport:
    """Dispatch new events and deliver up to ``limit`` due deliveries, in batches, then return."""
    report = WebhookPassReport(worker_id=worker_id)
    report.recovered = deliveries_recover(worker_id=worker_id)
    size = concurrency()
    own_client = client is None
    http = client or guarded_client(timeout=timeout_seconds(), max_connections=size * 2)
    try:
        with ThreadPoolExecutor(max_workers=size, thread_name_prefix=f"webhook-{worker_id}") as pool:
            while report.claimed < limit and not (stop is not None and stop.is_set()):
                report.dispatched += events_dispatch()
                batch = _claim_batch(
                    worker_id=worker_id, now=timezone.now(), size=min(size, limit - report.claimed)
                )
                if not batch:
                    break
                report.claimed += len(batch)
                outcomes = list(pool.map(lambda d: attempt_send(http, d), batch))
                _record(outcomes, worker_id=worker_id, report=report)
                if progress is not None:
                    progress(len(batch))
    finally:
        if own_client:
            http.close()
    return report


def webhook_loop(*, worker_id: str, stop: threading.Event, interval: float | None = None) -> None:
    """Passes until ``stop``: a short pause when idle (events reach endpoints within a second)."""
    from django.db import connections

    pause = _setting("RELANCE_WEBHOOK_POLL_SECONDS", 0.25) if interval is None else interval
    client = guarded_client(timeout=timeout_seconds(), max_connections=concurrency() * 2)
    try:
        while not stop.is_set():
            try:
                report = webhook_pass(worker_id=worker_id, stop=stop, client=client)
            except Exception:  # a database hiccup must not end the worker's webhook thread
                logger.exception("webhook pass of %s failed", worker_id)
                stop.wait(5)
                continue
            if not report.claimed:
                stop.wait(pause)
    finally:
        client.close()
        connections.close_all()

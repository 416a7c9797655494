"""Delivering the outbox: claim a due row with a lease, ask compliance, send, record.

Exactly-once protocol (docs/adr/0004-outbox-exactly-once.md): a row is claimed (``sending``,
lease, attempts + 1) in its own committed transaction *before* the provider is contacted, and
marked ``sent`` in another commit afterwards. A row still ``sending`` after its lease expired was
being sent by a worker that stopped: it becomes ``uncertain`` and is never resent automatically.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from relance.audit import case_events
from relance.compliance.selectors import message_facts_batch, message_facts_load
from relance.core.actors import Actor
from relance.delivery.channels.base import (
    ChannelBackend,
    DeliveryReceipt,
    PermanentFailure,
    TemporaryFailure,
    UncertainDelivery,
    get_channel_backend,
)
from relance.delivery.compliance import Verdict
from relance.delivery.compliance import outbound_verdict as verdict_of
from relance.delivery.models import DeliveryEvent, DeliveryEventKind, MessageStatus, OutboundMessage
from relance.delivery.periodic import periodic_jobs_run
from relance.delivery.services import action_status_follow, message_rerender
from relance.dunning.selectors import policy_lookups_cached, send_facts_batch, send_facts_load

logger = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 6
DEFAULT_LEASE_SECONDS = 30
DEFAULT_RETRY_SECONDS = 60
#: Due ids a SQLite worker reads at once (then claims one by one).
CANDIDATES = 50
MAX_BACKOFF = timedelta(hours=6)


SECRET_REMOVED = "[one-time code or link: removed once sent]"


def max_attempts() -> int:
    return int(getattr(settings, "RELANCE_OUTBOX_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS))


def lease_duration() -> timedelta:
    return timedelta(seconds=float(getattr(settings, "RELANCE_OUTBOX_LEASE_SECONDS", DEFAULT_LEASE_SECONDS)))


class _Heartbeat:
    """While a message is in a channel's hands, keep its lease fresh (every third of the lease), so
    the lease can be short: a worker killed mid-send leaves its row ``sending`` for seconds, not
    minutes, before another worker's recovery marks it ``uncertain``.

    One thread per pass renews whichever message the worker holds at the moment (a thread per
    message cost more CPU than the rest of a bare send).
    """

    def __init__(self, worker_id: str) -> None:
        self.worker_id = worker_id
        self.holding: int | None = None
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def _beat(self) -> None:
        from django.db import connections

        lease = lease_duration()
        try:
            while not self.stop.wait(lease.total_seconds() / 3):
                pk = self.holding
                if pk is None:
                    continue
                try:
                    OutboundMessage.objects.filter(
                        pk=pk, lease_owner=self.worker_id, status=MessageStatus.SENDING
                    ).update(lease_until=timezone.now() + lease)
                except Exception:  # a missed beat only shortens the lease; the send goes on
                    logger.exception("renewing the lease of message %s failed", pk)
        finally:
            connections.close_all()

    @contextmanager
    def hold(self, pk: int) -> Iterator[None]:
        """Renew ``pk``'s lease until the block ends."""
        if self.thread is None:
            self.thread = threading.Thread(target=self._beat, name=f"lease-{self.worker_id}", daemon=True)
            self.thread.start()
        self.holding = pk
        try:
            yield
        finally:
            self.holding = None

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()


def backoff(attempts: int, *, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with jitter: base × 2^(attempts-1) × [1, 1.5), at most 6 hours."""
    base = float(getattr(settings, "RELANCE_OUTBOX_RETRY_SECONDS", DEFAULT_RETRY_SECONDS))
    factor = 1 + (rng or random).random() / 2
    seconds = base * (2 ** max(attempts - 1, 0)) * factor
    return min(timedelta(seconds=seconds), MAX_BACKOFF)


# --------------------------------------------------------------------------------------------------
# Rate limits


def parse_rate(value: object) -> float:
    """``50``, ``"50/s"``, ``"300/m"``, ``"1000/h"`` → messages per second."""
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().lower()
    number, _, unit = text.partition("/")
    per = {"": 1, "s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}
    if unit not in per:
        raise ValueError(f"RELANCE_RATE_LIMITS: expected a rate like '50/s', found {value!r}")
    return float(number) / per[unit]


class RateLimiter:
    """A token bucket per channel (per worker process): ``wait(channel)`` blocks until allowed."""

    def __init__(
        self,
        limits: dict[str, object] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        configured = getattr(settings, "RELANCE_RATE_LIMITS", {}) if limits is None else limits
        self.rates = {channel: parse_rate(rate) for channel, rate in (configured or {}).items()}
        self.clock = clock
        self.sleep = sleep
        self.tokens: dict[str, float] = {}
        self.stamp: dict[str, float] = {}
        self.waited = 0.0

    def wait(self, channel: str) -> None:
        rate = self.rates.get(channel)
        if not rate or rate <= 0:
            return
        capacity = max(rate, 1.0)
        now = self.clock()
        tokens = min(
            capacity, self.tokens.get(channel, capacity) + (now - self.stamp.get(channel, now)) * rate
        )
        if tokens < 1:
            pause = (1 - tokens) / rate
            self.sleep(pause)
            self.waited += pause
            now = self.clock()
            tokens = 1.0
        self.tokens[channel] = tokens - 1
        self.stamp[channel] = now


# --------------------------------------------------------------------------------------------------
# The send-time check (relance.delivery.compliance: still true? allowed now?)


def _AllowAll() -> Verdict:
    return Verdict(allowed=True)


def outbound_verdict(message: OutboundMessage, *, now: datetime) -> Verdict:
    return verdict_of(message, now=now)


# --------------------------------------------------------------------------------------------------
# The pass


@dataclass
class PassReport:
    """What one pass did."""

    worker_id: str
    claimed: int = 0
    sent: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    bounced: int = 0
    blocked: int = 0
    cancelled: int = 0
    rerendered: int = 0
    deferred: int = 0
    uncertain: int = 0
    recovered_uncertain: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)
    rate_limited_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def outbox_recover(*, worker_id: str = "", now: datetime | None = None) -> int:
    """Rows left ``sending`` by a stopped worker become ``uncertain`` (never resent automatically):
    every row whose lease expired, and those of ``worker_id`` (this worker is not sending now)."""
    at = now or timezone.now()
    stale = Q(lease_until__lt=at) | Q(lease_until__isnull=True)
    if worker_id:
        stale |= Q(lease_owner=worker_id)
    count = 0
    for pk, owner, attempts in OutboundMessage.objects.filter(
        Q(status=MessageStatus.SENDING) & stale
    ).values_list("pk", "lease_owner", "attempts"):
        with transaction.atomic():
            moved = OutboundMessage.objects.filter(
                pk=pk, status=MessageStatus.SENDING, lease_owner=owner
            ).update(
                status=MessageStatus.UNCERTAIN,
                last_error=f"worker {owner or '?'} stopped while sending (attempt {attempts}); not resent",
                lease_until=None,
                updated_at=timezone.now(),
            )
            if moved:
                DeliveryEvent.objects.create(
                    message_id=pk, kind=DeliveryEventKind.UNCERTAIN, at=at, detail={"worker": owner}
                )
                count += 1
    return count


def _due(now: datetime, channels: Sequence[str] | None) -> Any:
    rows = OutboundMessage.objects.filter(status=MessageStatus.QUEUED, next_attempt_at__lte=now)
    if channels:
        rows = rows.filter(channel__in=list(channels))
    return rows.order_by("next_attempt_at", "id")


#: Read with each due row (the send-time check and the e-mail need them): one query per 50 rows.
RELATED = ("entity", "customer", "customer__entity", "customer__collector", "contact", "action")
PREFETCHED = ("attachments", "action__invoices")


def _claim_next(
    *,
    worker_id: str,
    now: datetime,
    channels: Sequence[str] | None,
    skip: set[int],
    candidates: list[OutboundMessage] | None = None,
) -> OutboundMessage | None:
    """Claim one due row for this worker and return it, or None when nothing is due.

    Due rows are read 50 at a time with their relations, attachments and the action's invoices
    (``candidates`` carries
    them between calls; on PostgreSQL with ``SELECT … FOR UPDATE SKIP LOCKED``, so that workers
    reading at the same moment get different rows). Each is then claimed by a conditional UPDATE
    in its own commit: still queued, due, and unchanged since read (same ``updated_at``), so only
    one worker wins a row and nobody sends a stale copy. ``skip``: rows requeued during this pass.
    """
    values = {
        "status": MessageStatus.SENDING,
        "lease_owner": worker_id,
        "lease_until": now + lease_duration(),
        "attempts": F("attempts") + 1,
        "updated_at": timezone.now(),
    }
    due = _due(now, channels)
    if skip:
        due = due.exclude(pk__in=skip)
    pending = candidates if candidates is not None else []
    while True:
        if not pending:
            rows = due.select_related(*RELATED).prefetch_related(*PREFETCHED)
            if connection.features.has_select_for_update_skip_locked:
                # Rows another worker is reading right now are skipped: workers take different rows.
                with transaction.atomic():
                    pending.extend(rows.select_for_update(skip_locked=True, of=("self",))[:CANDIDATES])
            else:
                pending.extend(rows[:CANDIDATES])
            if not pending:
                return None
            _load_send_facts(pending, now)
        while pending:
            message = pending.pop(0)
            claimable = OutboundMessage.objects.filter(
                pk=message.pk,
                status=MessageStatus.QUEUED,
                next_attempt_at__lte=now,
                updated_at=message.updated_at,
            )
            if claimable.update(**values):
                return _claimed(message, worker_id, values)
        # Every candidate went to another worker (or changed): read the due rows again.


def _claimed(message: OutboundMessage, worker_id: str, values: dict[str, Any]) -> OutboundMessage:
    """The row as read, with the claim's changes (saves reading it again)."""
    message.status = MessageStatus.SENDING
    message.lease_owner = worker_id
    message.lease_until = values["lease_until"]
    message.attempts += 1
    message.updated_at = values["updated_at"]
    return message


def _load_send_facts(messages: Sequence[OutboundMessage], now: datetime) -> None:
    """The send-time facts of a batch of due messages, read at once (a batch is sent within about
    a quarter of a second at the delivery rates measured): the ledger facts of the dunning ones,
    and every customer's holds and cap history."""
    from relance.delivery.compliance import send_day

    message_facts_load(
        messages=[(message.pk, message.customer_id, message.customer.entity_id) for message in messages],
        now=now,
    )
    send_facts_load(
        wanted=[
            (message.customer, message.action, send_day(message, now))
            for message in messages
            if message.action_id is not None
        ]
    )


def _mine(pk: int, worker_id: str) -> Any:
    """The row while this worker holds it (also if another worker already moved it to uncertain)."""
    return OutboundMessage.objects.filter(
        pk=pk, lease_owner=worker_id, status__in=(MessageStatus.SENDING, MessageStatus.UNCERTAIN)
    )


def send_pass(
    *,
    worker_id: str,
    now: datetime | None = None,
    limit: int = 500,
    channels: Sequence[str] | None = None,
    rate_limiter: RateLimiter | None = None,
    progress: Callable[[OutboundMessage, str], None] | None = None,
    stop: threading.Event | None = None,
) -> PassReport:
    """Deliver up to ``limit`` due messages, each at most once, then return.

    ``now`` fixes the clock (tests); by default each claim reads the current time.
    """
    report = PassReport(worker_id=worker_id)
    report.recovered_uncertain = outbox_recover(worker_id=worker_id, now=now)
    limiter = rate_limiter or RateLimiter()
    backends: dict[str, ChannelBackend] = {}
    skip: set[int] = set()
    candidates: list[OutboundMessage] = []
    heartbeat = _Heartbeat(worker_id)
    with (
        policy_lookups_cached(),
        send_facts_batch(),
        message_facts_batch(),
    ):  # policies read once per pass (or 30 s), not per message
        try:
            while report.claimed < limit and not (stop is not None and stop.is_set()):
                at = now or timezone.now()
                message = _claim_next(
                    worker_id=worker_id, now=at, channels=channels, skip=skip, candidates=candidates
                )
                if message is None:
                    break
                pk = message.pk
                report.claimed += 1
                outcome = _deliver(
                    message,
                    worker_id=worker_id,
                    at=at,
                    backends=backends,
                    limiter=limiter,
                    heartbeat=heartbeat,
                    report=report,
                )
                setattr(report, outcome, getattr(report, outcome) + 1)
                if outcome in ("retrying", "deferred"):
                    skip.add(pk)  # requeued: not again in this pass, even if already due
                report.by_channel[message.channel] = report.by_channel.get(message.channel, 0) + 1
                if progress is not None:
                    progress(message, outcome)
        finally:
            heartbeat.close()
            for backend in backends.values():
                try:
                    backend.close()
                except Exception:  # a failing close must not hide the pass's result
                    logger.exception("closing the %s backend failed", backend.channel)
    report.rate_limited_seconds = round(limiter.waited, 3)
    return report


OUTBOX_WORKER = Actor.system("outbox worker")  # the case timeline's actor of what sending did


def _event(pk: int, kind: str, at: datetime, **detail: Any) -> None:
    DeliveryEvent.objects.create(message_id=pk, kind=kind, at=at, detail=detail)


def _deliver(
    message: OutboundMessage,
    *,
    worker_id: str,
    at: datetime,
    backends: dict[str, ChannelBackend],
    limiter: RateLimiter,
    heartbeat: _Heartbeat,
    report: PassReport | None = None,
) -> str:
    """Send one claimed message; the name of the report counter it adds to."""
    pk = message.pk
    verdict = outbound_verdict(message, now=at)
    if not verdict.allowed:
        release = {
            "lease_owner": "",
            "lease_until": None,
            "attempts": F("attempts") - 1,
            "updated_at": timezone.now(),
        }
        with transaction.atomic():
            if getattr(verdict, "cancel", False):
                # No longer true (paid, promised, disputed…): never sent, and says why.
                _mine(pk, worker_id).update(
                    status=MessageStatus.CANCELLED, last_error=verdict.reason[:2000], **release
                )
                _event(
                    pk,
                    DeliveryEventKind.CANCELLED,
                    at,
                    reason=verdict.reason,
                    code=getattr(verdict, "code", ""),
                    by="send-time check",
                )
                action_status_follow(action_id=message.action_id)
                case_events.message_event(
                    message, "cancelled", actor=OUTBOX_WORKER, at=at, reason=verdict.reason
                )
                return "cancelled"
            if verdict.defer_until is not None:
                _mine(pk, worker_id).update(
                    status=MessageStatus.QUEUED, next_attempt_at=verdict.defer_until, **release
                )
                _event(
                    pk,
                    DeliveryEventKind.DEFERRED,
                    at,
                    reason=verdict.reason,
                    until=verdict.defer_until.isoformat(),
                )
                return "deferred"
            _mine(pk, worker_id).update(
                status=MessageStatus.BLOCKED, last_error=verdict.reason[:2000], **release
            )
            _event(pk, DeliveryEventKind.BLOCKED, at, reason=verdict.reason)
            action_status_follow(action_id=message.action_id)
            return "blocked"
    rerendered = False
    rerender_on = getattr(verdict, "rerender_as_of", None)
    if rerender_on is not None:
        try:
            message = message_rerender(message=message, as_of=rerender_on, at=at)
        except Exception as exc:  # a template that cannot render now: fail visibly, never send stale
            logger.exception("re-rendering message %s failed", pk)
            return _permanent(
                message,
                worker_id=worker_id,
                at=at,
                error=f"could not render the message again with today's amount: {exc}",
                invalid=False,
            )
        rerendered = True
        if report is not None:
            report.rerendered += 1

    limiter.wait(message.channel)
    try:
        backend = backends.get(message.channel)
        if backend is None:
            backend = get_channel_backend(message.channel)
            backend.open()
            backends[message.channel] = backend
        with heartbeat.hold(pk):
            receipt: DeliveryReceipt = backend.send(message)
    except TemporaryFailure as exc:
        return _temporary(message, worker_id=worker_id, at=at, error=str(exc))
    except PermanentFailure as exc:
        return _permanent(message, worker_id=worker_id, at=at, error=str(exc), invalid=exc.invalid_recipient)
    except UncertainDelivery as exc:
        return _uncertain(message, worker_id=worker_id, at=at, error=str(exc))
    except Exception as exc:
        logger.exception("sending message %s raised", pk)
        return _uncertain(message, worker_id=worker_id, at=at, error=f"{type(exc).__name__}: {exc}")

    finished = timezone.now()
    # A one-time code (or undo link) is needed once, to send it: after that the row keeps no copy.
    secret = (
        {"subject": SECRET_REMOVED, "body_text": SECRET_REMOVED, "body_html": ""}
        if (message.headers or {}).get("one_time_secret")
        else {}
    )
    with transaction.atomic():
        _mine(pk, worker_id).update(
            **secret,
            status=MessageStatus.DELIVERED if receipt.delivered else MessageStatus.SENT,
            sent_at=finished,
            delivered_at=finished if receipt.delivered else None,
            provider=receipt.provider[:40],
            provider_message_id=receipt.provider_message_id[:200],
            lease_owner="",
            lease_until=None,
            last_error="",
            updated_at=finished,
        )
        _event(
            pk,
            DeliveryEventKind.SENT,
            finished,
            provider=receipt.provider,
            attempt=message.attempts,
            worker=worker_id,
        )
        if receipt.delivered:
            _event(pk, DeliveryEventKind.DELIVERED, finished, provider=receipt.provider)
        action_status_follow(
            action_id=message.action_id,
            went_out=MessageStatus.DELIVERED if receipt.delivered else MessageStatus.SENT,
        )
        case_events.message_event(
            message, "delivered" if receipt.delivered else "sent", actor=OUTBOX_WORKER, at=finished
        )
    if rerendered:
        logger.info("message %s was re-rendered with today's amount before sending", pk)
    return "delivered" if receipt.delivered else "sent"


def _temporary(message: OutboundMessage, *, worker_id: str, at: datetime, error: str) -> str:
    pk = message.pk
    give_up = message.attempts >= max_attempts()
    with transaction.atomic():
        if give_up:
            _mine(pk, worker_id).update(
                status=MessageStatus.FAILED,
                last_error=f"{error} (after {message.attempts} attempts)"[:2000],
                lease_owner="",
                lease_until=None,
                updated_at=timezone.now(),
            )
        else:
            retry_at = at + backoff(message.attempts)
            _mine(pk, worker_id).update(
                status=MessageStatus.QUEUED,
                next_attempt_at=retry_at,
                last_error=error[:2000],
                lease_owner="",
                lease_until=None,
                updated_at=timezone.now(),
            )
        _event(pk, DeliveryEventKind.FAILED, at, error=error, attempt=message.attempts, final=give_up)
        if give_up:
            action_status_follow(action_id=message.action_id)
            case_events.message_event(message, "failed", actor=OUTBOX_WORKER, at=at, reason=error)
    return "failed" if give_up else "retrying"


def _permanent(message: OutboundMessage, *, worker_id: str, at: datetime, error: str, invalid: bool) -> str:
    pk = message.pk
    with transaction.atomic():
        _mine(pk, worker_id).update(
            status=MessageStatus.FAILED,
            last_error=error[:2000],
            lease_owner="",
            lease_until=None,
            updated_at=timezone.now(),
        )
        _event(pk, DeliveryEventKind.FAILED, at, error=error, attempt=message.attempts, final=True)
        action_status_follow(action_id=message.action_id)
        case_events.message_event(message, "failed", actor=OUTBOX_WORKER, at=at, reason=error)
    if not invalid:
        return "failed"
    # The address was refused outright: a hard bounce (address invalid, next channel).
    from relance.delivery.services import message_mark_bounced

    message.refresh_from_db()
    try:
        message_mark_bounced(message=message, hard=True, reason=error, at=at, detail={"source": "send"})
    except Exception:  # the bounce is recorded; a fallback that cannot be rendered is logged
        logger.exception("fallback for bounced message %s failed", pk)
    return "bounced"


def _uncertain(message: OutboundMessage, *, worker_id: str, at: datetime, error: str) -> str:
    pk = message.pk
    with transaction.atomic():
        _mine(pk, worker_id).update(
            status=MessageStatus.UNCERTAIN,
            last_error=error[:2000],
            lease_owner="",
            lease_until=None,
            updated_at=timezone.now(),
        )
        _event(pk, DeliveryEventKind.UNCERTAIN, at, error=error, attempt=message.attempts)
    return "uncertain"


def worker_loop(
    *,
    worker_id: str,
    interval: float = 5.0,
    limit: int = 500,
    channels: Sequence[str] | None = None,
    stop: threading.Event,
    on_pass: Callable[[PassReport], None] | None = None,
) -> None:
    """Pass after pass until ``stop`` is set (SIGTERM): finishes the message in hand, then returns."""
    limiter = RateLimiter()
    while not stop.is_set():
        report = send_pass(
            worker_id=worker_id, limit=limit, channels=channels, rate_limiter=limiter, stop=stop
        )
        if on_pass is not None:
            on_pass(report)
        periodic_jobs_run(timezone.now())  # scheduled syncs and other apps' jobs (periodic.py)
        if report.claimed < limit:
            stop.wait(interval)

"""Writes to the outbox: queue messages (one row per idempotency key), retry, cancel, bounces.

Every decided message becomes an ``OutboundMessage`` row, rendered once, before anything is sent;
the worker (``relance.delivery.worker``) delivers rows. See docs/adr/0004-outbox-exactly-once.md.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from relance.audit import case_events
from relance.core.actors import Actor
from relance.core.channels import STEP_CHANNELS, delivered_as
from relance.core.errors import RelanceError
from relance.delivery.alerts import TemplateFailure, template_failure_alert
from relance.delivery.models import (
    RETRYABLE,
    CallTask,
    CallTaskStatus,
    DeliveryEvent,
    DeliveryEventKind,
    MessageAttachment,
    MessageStatus,
    OutboundMessage,
)
from relance.events.services import emit
from relance.ledger.models import (
    NO_SMS_KINDS,
    STATUS_FIELDS,
    UNUSABLE_STATUSES,
    Contact,
    ContactStatus,
    Customer,
)
from relance.ledger.services import contact_status_set

if TYPE_CHECKING:
    from relance.comms.types import RenderedMessage
    from relance.dunning.models import DunningAction, DunningRun

# A step's channel → the channel it is sent on (relance.core.channels: one vocabulary; a
# registered_letter is a letter marked registered).
ENGINE_CHANNELS = {channel: str(delivered_as(channel)) for channel in STEP_CHANNELS}
#: Fallback order for messages outside a policy step (no channel list to follow).
DEFAULT_FALLBACKS = {"email": ("letter",), "sms": ("email", "letter"), "call": ("email",)}
#: How long the "hold escalation" link of owner notifications holds, by default.
OWNER_HOLD_DAYS = 7

ERROR_NOT_RETRYABLE = (
    "message {pk} is {status}: only failed, bounced, uncertain or blocked messages can be retried"
)
ERROR_NOT_CANCELLABLE = (
    "message {pk} is {status}: only queued, failed, bounced, uncertain or blocked can be cancelled"
)


class DeliveryError(RelanceError):
    """A delivery operation that cannot be done as asked (retry of a sent message, …)."""


@dataclass(frozen=True, slots=True)
class SkippedAction:
    """A contact action of a run that produced no message, and why."""

    action_id: int
    customer_ref: str
    step_key: str
    reason: str


@dataclass(frozen=True, slots=True)
class ChannelFallback:
    """A message queued on another channel than the run decided, and why."""

    action_id: int
    customer_ref: str
    decided: str
    used: str
    reason: str


@dataclass(frozen=True)
class EnqueueReport:
    """What ``outbox_enqueue_run`` did with a run's actions."""

    run_id: int
    created: int = 0
    existing: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)
    fallbacks: tuple[ChannelFallback, ...] = ()
    skipped: tuple[SkippedAction, ...] = ()
    template_failures: tuple[TemplateFailure, ...] = ()
    #: "find a new contact" tasks opened for customers no channel reaches any more
    contact_tasks: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "contact_tasks": self.contact_tasks,
            "created": self.created,
            "existing": self.existing,
            "by_channel": dict(self.by_channel),
            "fallbacks": [vars_of(item) for item in self.fallbacks],
            "skipped": [vars_of(item) for item in self.skipped],
            "template_failures": [vars_of(item) for item in self.template_failures],
        }


def vars_of(item: SkippedAction | ChannelFallback | TemplateFailure) -> dict[str, Any]:
    return {name: getattr(item, name) for name in item.__slots__}


# --------------------------------------------------------------------------------------------------
# Keys and identifiers


def run_message_key(*, run_id: int, customer_id: int, step_key: str, channel: str) -> str:
    """The idempotency key of a run's message: one per run, customer, step and channel."""
    return f"run:{run_id}:customer:{customer_id}:step:{step_key}:channel:{channel}"


def message_id_domain() -> str:
    configured = getattr(settings, "RELANCE_MESSAGE_ID_DOMAIN", "")
    if configured:
        return str(configured)
    sender = str(getattr(settings, "DEFAULT_FROM_EMAIL", "") or "")
    domain = sender.rsplit("@", 1)[-1].strip(" >") if "@" in sender else ""
    return domain or "relance.invalid"


def message_id_new() -> str:
    """A fresh RFC 5322 Message-ID with 128 random bits, made once when the message is queued and
    kept on the row (every attempt sends the same one). Random, not derived from the idempotency
    key: providers' webhooks and SMTP tracking find messages by this id, so it must not be guessable
    (docs/security.md)."""
    return f"<{secrets.token_hex(16)}@{message_id_domain()}>"


# --------------------------------------------------------------------------------------------------
# Recipients


def contact_address(contact: Contact, channel: str) -> tuple[str, str]:
    """``(address, "")`` when the contact can be reached on the channel, else ``("", why not)``."""
    if channel == "email":
        if not contact.email:
            return "", "no email address"
        if contact.opt_out_email:
            return "", "opted out of email"
        if contact.email_status in UNUSABLE_STATUSES:
            return "", f"email address {contact.email_status}"
        return contact.email, ""
    if channel in ("sms", "call"):
        if not contact.phone:
            return "", "no phone number"
        if channel == "sms" and contact.opt_out_sms:
            return "", "opted out of SMS"
        if channel == "sms" and contact.phone_kind in NO_SMS_KINDS:
            return "", f"not a mobile number ({contact.get_phone_kind_display().lower()})"
        if channel == "call" and contact.opt_out_phone:
            return "", "opted out of calls"
        if contact.phone_status in UNUSABLE_STATUSES:
            return "", f"phone number {contact.phone_status}"
        return contact.phone, ""
    if channel == "letter":
        if not contact.postal_address.strip():
            return "", "no postal address"
        if contact.opt_out_letter:
            return "", "opted out of letters"
        if contact.address_status in UNUSABLE_STATUSES:
            return "", f"postal address {contact.address_status}"
        return contact.postal_address.strip(), ""
    if channel == "portal":
        return f"portal:{contact.customer_id}", ""
    return "", f"unknown channel {channel!r}"


def recipient_for(customer: Customer, channel: str) -> tuple[Contact | None, str, str]:
    """The contact to write to on ``channel``: billing contacts first, then the others.

    Returns ``(contact, address, "")`` or ``(None, "", why none)``.
    """
    contacts = sorted(customer.contacts.all(), key=lambda c: (c.role != "billing", c.pk))
    if not contacts:
        if channel == "portal":
            return None, f"portal:{customer.pk}", ""
        return None, "", "no contact"
    reasons = []
    for contact in contacts:
        address, why = contact_address(contact, channel)
        if address:
            return contact, address, ""
        reasons.append(f"{contact}: {why}")
    return None, "", "; ".join(reasons)


# --------------------------------------------------------------------------------------------------
# Queueing


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def outbox_enqueue(
    *,
    rendered: RenderedMessage,
    customer: Customer,
    channel: str,
    recipient: str,
    idempotency_key: str,
    contact: Contact | None = None,
    run: DunningRun | None = None,
    action: DunningAction | None = None,
    not_before: datetime | None = None,
    fallback_of: OutboundMessage | None = None,
    headers: Mapping[str, Any] | None = None,
    detail: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> tuple[OutboundMessage, bool]:
    """Queue one message; a second call with the same key returns the first row (``created`` False)."""
    existing = OutboundMessage.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing, False
    at = _now(now)
    try:
        with transaction.atomic():
            message = OutboundMessage.objects.create(
                idempotency_key=idempotency_key,
                message_id=message_id_new(),
                entity_id=customer.entity_id,
                customer=customer,
                contact=contact,
                run=run,
                action=action,
                fallback_of=fallback_of,
                channel=channel,
                template_key=rendered.template_key,
                language=rendered.language,
                recipient=recipient,
                subject=rendered.subject[:300],
                body_text=rendered.text,
                body_html=rendered.html,
                headers=dict(headers or {}),
                links=dict(rendered.links),
                rf_reference=rendered.rf_reference,
                amount_due=rendered.amount_due,
                currency=rendered.currency,
                status=MessageStatus.QUEUED,
                next_attempt_at=max(at, not_before) if not_before else at,
                queued_at=at,
            )
            _attachments_save(message, rendered)
            DeliveryEvent.objects.create(
                message=message, kind=DeliveryEventKind.QUEUED, at=at, detail=dict(detail or {})
            )
    except IntegrityError:
        # Another process queued the same key between our check and our insert.
        return OutboundMessage.objects.get(idempotency_key=idempotency_key), False
    return message, True


def _attachments_save(message: OutboundMessage, rendered: RenderedMessage) -> None:
    for attachment in rendered.attachments:
        row = MessageAttachment(
            message=message,
            filename=attachment.filename,
            content_type=attachment.content_type,
            size=len(attachment.content),
        )
        row.file.save(attachment.filename, ContentFile(attachment.content), save=False)
        row.save()


def message_rerender(*, message: OutboundMessage, as_of: date, at: datetime) -> OutboundMessage:
    """Render a claimed dunning message again from the ledger as it is on ``as_of`` (the amount
    owed changed since the decision): same template, recipient, key and payment reference."""
    action = message.action
    rendered = _render(
        customer=message.customer,
        template_key=message.template_key,
        channel=message.channel,
        as_of=as_of,
        invoices=list(action.invoices.all()) if action is not None else None,
        contact=message.contact,
        action=action,
        language=message.language or None,
        message_key=message.idempotency_key,
    )
    before = message.amount_due
    with transaction.atomic():
        OutboundMessage.objects.filter(pk=message.pk).update(
            subject=rendered.subject[:300],
            body_text=rendered.text,
            body_html=rendered.html,
            links=dict(rendered.links),
            rf_reference=rendered.rf_reference,
            amount_due=rendered.amount_due,
            currency=rendered.currency,
        )
        for old in message.attachments.all():
            old.file.delete(save=False)
            old.delete()
        _attachments_save(message, rendered)
        _event(
            message,
            DeliveryEventKind.RERENDERED,
            at,
            reason="the amount owed changed since the decision",
            amount_before=str(before),
            amount_now=str(rendered.amount_due),
            as_of=as_of.isoformat(),
        )
    message.refresh_from_db()
    return message


def action_status_follow(*, action_id: int | None, went_out: str = "") -> None:
    """A run's action takes the state of its messages: sent or delivered once one went out;
    queued while one may still go; failed or cancelled when none will. The engine's cadence
    counts only actions not cancelled or failed (``relance.dunning.binding``).

    ``went_out`` ("sent" or "delivered"): a message of the action has just left, so the answer is
    known without reading its siblings — delivered if this one or another was, else sent — and is
    written in one statement (the worker's path, once per message).
    """
    if not action_id:
        return
    from relance.dunning.models import ActionStatus, DunningAction, InvoiceStep

    if went_out == MessageStatus.DELIVERED:
        DunningAction.objects.filter(pk=action_id).exclude(status=ActionStatus.DELIVERED).update(
            status=ActionStatus.DELIVERED
        )
        return
    if went_out == MessageStatus.SENT:
        DunningAction.objects.filter(pk=action_id).exclude(
            status__in=(ActionStatus.SENT, ActionStatus.DELIVERED)
        ).update(status=ActionStatus.SENT)
        return
    statuses = set(OutboundMessage.objects.filter(action_id=action_id).values_list("status", flat=True))
    if not statuses:
        return
    if MessageStatus.DELIVERED in statuses:
        state = ActionStatus.DELIVERED
    elif MessageStatus.SENT in statuses:
        state = ActionStatus.SENT
    elif statuses & {MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.UNCERTAIN}:
        state = ActionStatus.QUEUED  # may still go (uncertain: may have gone; counted, not resent)
    elif statuses <= {MessageStatus.FAILED, MessageStatus.BOUNCED}:
        state = ActionStatus.FAILED
    else:
        state = ActionStatus.CANCELLED
    changed = DunningAction.objects.filter(pk=action_id).exclude(status=state).update(status=state)
    if changed and state in (ActionStatus.CANCELLED, ActionStatus.FAILED):
        # Nothing reached the customer: the invoices did not reach this step (the next run may
        # decide it again, or a later one, with the right wording).
        InvoiceStep.objects.filter(action_id=action_id).delete()


def _render(**kwargs: Any) -> RenderedMessage:
    """comms' renderer, imported late (comms imports this app's models)."""
    from relance.comms.services import message_render

    return message_render(**kwargs)


def preferred_channel(customer: Customer, step_channels: Sequence[str]) -> tuple[str, str]:
    """The channel the customer's first billing contact prefers, if the step offers it
    (``("", "")`` otherwise), and who prefers it (for the decision's reasons).

    E-mail is every contact's default, so only a preference for another channel (letter, SMS,
    phone) reorders the step's channels; the policy's order stands otherwise."""
    contact = min(customer.contacts.all(), key=lambda c: (c.role != "billing", c.pk), default=None)
    wanted = contact.preferred_channel if contact is not None else ""
    if contact is None or not wanted or wanted == "email" or wanted not in step_channels:
        return "", ""
    return wanted, f"contact {contact.name or contact.email or contact.pk}"


def _action_reason(action: DunningAction, code: str, detail: str) -> None:
    reasons = list(action.reasons or [])
    reasons.append({"code": code, "detail": detail})
    action.reasons = reasons
    action.save(update_fields=["reasons", "updated_at"])


def _action_not_sent(action: DunningAction, reason: str) -> None:
    """No channel of the step reaches the customer: the action is cancelled (it is no contact),
    ``no_channel`` is added to its reasons and the collector gets a task to reach the customer."""
    from relance.dunning.models import ActionStatus, InvoiceStep

    _action_reason(action, "no_channel", reason)
    action.status = ActionStatus.CANCELLED
    action.save(update_fields=["status", "updated_at"])
    InvoiceStep.objects.filter(action_id=action.pk).delete()
    find_contact_task_open(
        customer=action.customer,
        on=action.on,
        why=f"step {action.step_key} of {action.on.isoformat()} could not be sent: {reason}",
    )


#: The script of the task a collector gets when no address of a customer is left (issue 11's
#: no-channel task; issue 19 names it). One open task per customer: later runs do not add more.
FIND_CONTACT_SCRIPT = "Find a new contact: {why}. Reach the customer and correct their contact details."
FIND_CONTACT_PREFIX = FIND_CONTACT_SCRIPT.split(":", 1)[0]


def find_contact_task_open(*, customer: Customer, on: date, why: str) -> tuple[CallTask, bool]:
    """The collector's open "find a new contact" task for ``customer``: the existing one, else a
    new one due ``on``. Returns ``(task, created)``."""
    existing = CallTask.objects.filter(
        customer=customer, status=CallTaskStatus.OPEN, script__startswith=FIND_CONTACT_PREFIX
    ).first()
    if existing is not None:
        return existing, False
    task = CallTask.objects.create(
        entity_id=customer.entity_id,
        customer=customer,
        assigned_to=customer.collector,
        due_on=on,
        script=FIND_CONTACT_SCRIPT.format(why=why),
    )
    emit(
        "contact.find_requested",
        {"task_id": task.pk, "due_on": on, "reason": why},
        entity=customer.entity_id,
        customer=customer,
    )
    return task, True


def _no_channel_tasks(run: DunningRun) -> int:
    """A "find a new contact" task for each customer the run held back because none of the step's
    channels reaches them any more (suppression ``no_channel``: every address invalid, bounced or
    returned). Returns how many tasks were created."""
    from relance.dunning.models import Suppression

    held = (
        Suppression.objects.filter(Q(run=run) | Q(last_run=run), reason="no_channel")
        .select_related("customer", "customer__collector")
        .order_by("customer_id", "id")
    )
    created = 0
    seen: set[int] = set()
    for suppression in held:
        if suppression.customer_id in seen:
            continue
        seen.add(suppression.customer_id)
        _task, was_created = find_contact_task_open(
            customer=suppression.customer,
            on=run.as_of,
            why=f"no address left for the run of {run.as_of.isoformat()} ({suppression.detail or 'no channel'})",
        )
        created += was_created
    return created


def _delivery_options(engine_channels: Sequence[str], start: str) -> list[tuple[str, str]]:
    """``(engine channel, delivery channel)`` from ``start`` on, then the rest, without duplicates."""
    ordered = list(engine_channels)
    if start in ordered:
        position = ordered.index(start)
        ordered = ordered[position:] + ordered[:position]
    options: list[tuple[str, str]] = []
    seen: set[str] = set()
    for engine_channel in ordered:
        delivery_channel = ENGINE_CHANNELS.get(engine_channel)
        if delivery_channel and delivery_channel not in seen:
            seen.add(delivery_channel)
            options.append((engine_channel, delivery_channel))
    return options


def outbox_enqueue_run(*, run: DunningRun, now: datetime | None = None) -> EnqueueReport:
    """Queue a message for every contact action of a run (and the owner notifications).

    The recipient is the customer's billing contact first (valid, not opted out); when no contact
    can be reached on the decided channel, the next channel of the step's list is used and the
    reason recorded. Running it twice queues nothing more.
    """
    from relance.dunning.models import DunningAction

    actions = list(
        DunningAction.objects.filter(run=run)
        .filter(is_contact=True)
        .select_related("customer", "customer__entity", "customer__collector")
        .prefetch_related("invoices", "customer__contacts")
        .order_by("id")
    ) + list(
        DunningAction.objects.filter(run=run, action="notify_owner")
        .select_related("customer", "customer__entity", "customer__sales_owner")
        .prefetch_related("invoices")
        .order_by("id")
    )
    # Two actions of one customer and step in one run (one per currency) need distinct keys.
    groups = Counter((a.customer_id, a.step_key) for a in actions)
    already = set(
        OutboundMessage.objects.filter(run=run, fallback_of__isnull=True, action__isnull=False).values_list(
            "action_id", flat=True
        )
    )
    created = existing = 0
    by_channel: Counter[str] = Counter()
    fallbacks: list[ChannelFallback] = []
    skipped: list[SkippedAction] = []
    broken: list[TemplateFailure] = []
    for action in actions:
        customer = action.customer
        if action.status == "cancelled":  # decided earlier (e.g. no channel): nothing to queue again
            existing += 1
            continue
        if action.pk in already:
            existing += 1
            continue
        suffix = f":currency:{action.currency}" if groups[(action.customer_id, action.step_key)] > 1 else ""
        if action.action == "notify_owner":
            outcome = _enqueue_owner_notification(
                run=run, action=action, suffix=suffix, now=now, broken=broken
            )
            if isinstance(outcome, str):
                skipped.append(SkippedAction(action.pk, customer.external_ref, action.step_key, outcome))
            else:
                created += outcome[1]
                existing += not outcome[1]
                by_channel["email"] += outcome[1]
            continue
        step_channels = action.step_channels
        preferred, preferred_by = preferred_channel(customer, step_channels)
        options = _delivery_options(step_channels, preferred or action.channel)
        reasons: list[str] = []
        if preferred and preferred != action.channel:
            reasons.append(f"{preferred_by} prefers {preferred}")
        chosen: tuple[str, str, Contact | None, str] | None = None
        for engine_channel, channel in options:
            contact, address, why = recipient_for(customer, channel)
            if address:
                chosen = (engine_channel, channel, contact, address)
                break
            reasons.append(f"{engine_channel}: {why}")
        if chosen is None:
            reason = "no reachable contact (" + "; ".join(reasons) + ")" if reasons else "no channel"
            skipped.append(SkippedAction(action.pk, customer.external_ref, action.step_key, reason))
            _action_not_sent(action, reason)
            continue
        engine_channel, channel, contact, address = chosen
        detail: dict[str, Any] = {"run": run.pk, "action": action.pk, "step": action.step_key}
        if engine_channel != action.channel:
            reason = "; ".join(reasons)
            detail["channel_fallback"] = {"decided": action.channel, "used": engine_channel, "why": reason}
            fallbacks.append(
                ChannelFallback(action.pk, customer.external_ref, action.channel, engine_channel, reason)
            )
            _action_reason(
                action,
                "channel_preference" if engine_channel == preferred else "channel_fallback",
                f"{engine_channel} instead of {action.channel}: {reason}",
            )
        key = (
            run_message_key(run_id=run.pk, customer_id=customer.pk, step_key=action.step_key, channel=channel)
            + suffix
        )
        render = {
            "template_key": action.template_key,
            "channel": channel,
            "as_of": run.as_of,
            "invoices": list(action.invoices.all()),
            "contact": contact,
            "action": action,
            "message_key": key,
        }
        headers = {"registered": True} if engine_channel == "registered_letter" else {}
        _message, was_created = outbox_enqueue_checked(
            render=render,
            broken=broken,
            customer=customer,
            channel=channel,
            recipient=address,
            idempotency_key=key,
            contact=contact,
            run=run,
            action=action,
            headers=headers,
            detail=detail,
            now=now,
        )
        created += was_created
        existing += not was_created
        by_channel[channel] += was_created
    template_failure_alert(entity=run.entity, run_as_of=run.as_of, failures=broken)
    contact_tasks = _no_channel_tasks(run)
    return EnqueueReport(
        run_id=run.pk,
        contact_tasks=contact_tasks,
        created=created,
        existing=existing,
        by_channel=dict(by_channel),
        fallbacks=tuple(fallbacks),
        skipped=tuple(skipped),
        template_failures=tuple(broken),
    )


def _enqueue_owner_notification(
    *,
    run: DunningRun,
    action: DunningAction,
    suffix: str,
    now: datetime | None,
    broken: list[TemplateFailure] | None = None,
) -> tuple[OutboundMessage, bool] | str:
    """An internal step: an email to the sales owner with the "hold escalation" link (H6's)."""
    customer = action.customer
    owner = customer.sales_owner
    if owner is None or not owner.email:
        return "the customer has no sales owner with an email address"
    extra: dict[str, object] = {"owner": owner}
    from relance.compliance.links import owner_hold_url

    extra["hold_url"] = owner_hold_url(customer, owner, OWNER_HOLD_DAYS)
    key = (
        run_message_key(run_id=run.pk, customer_id=customer.pk, step_key=action.step_key, channel="email")
        + suffix
    )
    render = {
        "template_key": action.template_key,
        "channel": "email",
        "as_of": run.as_of,
        "invoices": list(action.invoices.all()),
        "action": action,
        "language": None,
        "message_key": key,
        "extra": extra,
    }
    return outbox_enqueue_checked(
        render=render,
        broken=broken if broken is not None else [],
        customer=customer,
        channel="email",
        recipient=owner.email,
        idempotency_key=key,
        run=run,
        action=action,
        headers={"internal": True},
        detail={"run": run.pk, "action": action.pk, "step": action.step_key, "to": "sales_owner"},
        now=now,
    )


# --------------------------------------------------------------------------------------------------
# Broken templates: the message fails, the run goes on


def _broken_template_policy(entity_id: int) -> str:
    from relance.comms.models import BrokenTemplatePolicy, CommsSettings

    chosen = CommsSettings.objects.filter(entity_id=entity_id).values_list("on_broken_template", flat=True)
    return chosen.first() or BrokenTemplatePolicy.FAIL


def render_checked(*, customer: Customer, render: Mapping[str, Any]) -> tuple[RenderedMessage | None, str]:
    """``(rendered, "")``; for a template that fails, ``(None, error)``, or the shipped default
    rendered and the error when the entity chose "use the shipped default"."""
    from relance.comms.models import BrokenTemplatePolicy
    from relance.comms.rendering import TemplateError

    try:
        return _render(customer=customer, **render), ""
    except (TemplateError, LookupError) as exc:
        error = str(exc.args[0]) if isinstance(exc, LookupError) and exc.args else str(exc)
    if _broken_template_policy(customer.entity_id) == BrokenTemplatePolicy.SHIPPED_DEFAULT:
        try:
            return _render(customer=customer, shipped_default=True, **render), error
        except (TemplateError, LookupError) as exc:
            error = f"{error}; the shipped default failed too: {exc}"
    return None, error


def outbox_enqueue_checked(
    *,
    render: Mapping[str, Any],
    broken: list[TemplateFailure],
    customer: Customer,
    channel: str,
    idempotency_key: str,
    action: DunningAction | None = None,
    detail: Mapping[str, Any] | None = None,
    headers: Mapping[str, Any] | None = None,
    **queue: Any,
) -> tuple[OutboundMessage, bool]:
    """Render then queue; a template that fails never raises: the message is queued as ``failed``
    with the error (or from the shipped default, if the entity chose so) and added to ``broken``."""
    existing = OutboundMessage.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing, False
    rendered, error = render_checked(customer=customer, render=render)
    if error:
        broken.append(
            TemplateFailure(
                action_id=action.pk if action is not None else 0,
                customer_ref=customer.external_ref,
                template_key=str(render.get("template_key", "")),
                error=error[:1000],
                used_shipped_default=rendered is not None,
            )
        )
    if rendered is not None:
        return outbox_enqueue(
            rendered=rendered,
            customer=customer,
            channel=channel,
            idempotency_key=idempotency_key,
            action=action,
            headers={**dict(headers or {}), **({"template_error": error[:1000]} if error else {})},
            detail={**dict(detail or {}), **({"template_error": error[:1000]} if error else {})},
            **queue,
        )
    from relance.comms.services import message_language
    from relance.comms.types import RenderedMessage

    language = message_language(
        customer=customer, contact=queue.get("contact"), language=render.get("language")
    )
    placeholder = RenderedMessage(
        template_key=str(render.get("template_key", "")),
        channel=channel,
        language=language,
        subject="",
        text="",
    )
    with transaction.atomic():
        message, created = outbox_enqueue(
            rendered=placeholder,
            customer=customer,
            channel=channel,
            idempotency_key=idempotency_key,
            action=action,
            headers={**dict(headers or {}), RENDER_FAILED: True},
            detail=detail,
            **queue,
        )
        if created:
            at = _now(queue.get("now"))
            OutboundMessage.objects.filter(pk=message.pk).update(
                status=MessageStatus.FAILED, last_error=f"template failed: {error}"[:2000]
            )
            message.refresh_from_db()
            _event(message, DeliveryEventKind.FAILED, at, template_error=error[:1000])
    return message, created


#: Header of a message queued without content because its template failed (retry renders it).
RENDER_FAILED = "render_failed"


def message_render_again(*, message: OutboundMessage) -> None:
    """Render a message whose template had failed, now that it may be fixed (before a retry).

    Raises ``DeliveryError`` with the template's error when it still fails."""
    from relance.comms.rendering import TemplateError

    customer = Customer.objects.select_related("entity").get(pk=message.customer_id)
    action = message.action
    render: dict[str, Any] = {
        "template_key": message.template_key,
        "channel": message.channel,
        "as_of": message.run.as_of if message.run is not None else timezone.localdate(),
        "invoices": list(action.invoices.all()) if action is not None else None,
        "contact": message.contact,
        "action": action,
        "message_key": message.idempotency_key,
    }
    try:
        rendered = _render(customer=customer, **render)
    except (TemplateError, LookupError) as exc:
        raise DeliveryError(f"message {message.pk}: the template still fails: {exc}") from None
    message.subject = rendered.subject[:300]
    message.body_text = rendered.text
    message.body_html = rendered.html
    message.language = rendered.language
    message.links = dict(rendered.links)
    message.rf_reference = rendered.rf_reference
    message.amount_due = rendered.amount_due
    message.currency = rendered.currency
    message.headers = {name: value for name, value in message.headers.items() if name != RENDER_FAILED}
    message.save(
        update_fields=[
            "subject",
            "body_text",
            "body_html",
            "language",
            "links",
            "rf_reference",
            "amount_due",
            "currency",
            "headers",
            "updated_at",
        ]
    )
    _attachments_save(message, rendered)


# --------------------------------------------------------------------------------------------------
# People acting on messages


def _event(message: OutboundMessage, kind: str, at: datetime, **detail: Any) -> DeliveryEvent:
    return DeliveryEvent.objects.create(message=message, kind=kind, at=at, detail=detail)


@transaction.atomic
def message_retry(
    *, message: OutboundMessage, user: Any = None, now: datetime | None = None
) -> OutboundMessage:
    """Queue a failed, bounced, uncertain or blocked message again (after the contact was fixed).

    The recipient is read again from the contact, so a corrected address is used. The key and the
    Message-ID stay the same.
    """
    at = _now(now)
    message = OutboundMessage.objects.select_for_update().get(pk=message.pk)
    if message.status not in RETRYABLE:
        raise DeliveryError(ERROR_NOT_RETRYABLE.format(pk=message.pk, status=message.status))
    if message.headers.get(RENDER_FAILED):
        message_render_again(message=message)
    previous = message.recipient
    if message.contact_id is not None and message.channel in ("email", "sms", "letter", "call"):
        contact = Contact.objects.get(pk=message.contact_id)
        address, _why = contact_address(contact, message.channel)
        if address:
            message.recipient = address
    message.status = MessageStatus.QUEUED
    message.next_attempt_at = at
    message.attempts = 0
    message.lease_owner = ""
    message.lease_until = None
    message.last_error = ""
    message.save(
        update_fields=[
            "recipient",
            "status",
            "next_attempt_at",
            "attempts",
            "lease_owner",
            "lease_until",
            "last_error",
            "updated_at",
        ]
    )
    _event(
        message,
        DeliveryEventKind.RETRIED,
        at,
        by=getattr(user, "username", "") or "",
        recipient_was=previous if previous != message.recipient else "",
    )
    return message


@transaction.atomic
def message_cancel(
    *, message: OutboundMessage, actor: Actor, user: Any = None, now: datetime | None = None
) -> OutboundMessage:
    """Stop a message that has not been sent (or that a person decides not to retry)."""
    at = _now(now)
    message = OutboundMessage.objects.select_for_update().get(pk=message.pk)
    if message.status not in (MessageStatus.QUEUED, *RETRYABLE):
        raise DeliveryError(ERROR_NOT_CANCELLABLE.format(pk=message.pk, status=message.status))
    message.status = MessageStatus.CANCELLED
    message.lease_owner = ""
    message.lease_until = None
    message.save(update_fields=["status", "lease_owner", "lease_until", "updated_at"])
    _event(message, DeliveryEventKind.CANCELLED, at, by=getattr(user, "username", "") or "")
    action_status_follow(action_id=message.action_id)
    case_events.message_event(message, "cancelled", actor=actor, at=at)
    return message


ERROR_NOT_UNCERTAIN = "message {pk} is {status}: only an uncertain message can be resolved"


@transaction.atomic
def message_resolve(
    *,
    message: OutboundMessage,
    sent: bool,
    actor: Actor,
    user: Any = None,
    note: str = "",
    now: datetime | None = None,
) -> OutboundMessage:
    """Settle an uncertain message after a person checked (with the provider or the recipient).

    ``sent``: it went out: it becomes ``sent`` and counts as sent (never sent again).
    Not sent: it is queued again, not cancelled: the message was decided and is still owed to the
    customer, and the send-time check decides again whether it may go (to drop it, cancel it).
    Audited as ``outbox_resolve``.
    """
    from relance.audit.services import audit_record

    at = _now(now)
    message = OutboundMessage.objects.select_for_update().get(pk=message.pk)
    if message.status != MessageStatus.UNCERTAIN:
        raise DeliveryError(ERROR_NOT_UNCERTAIN.format(pk=message.pk, status=message.status))
    by = getattr(user, "username", "") or ""
    message.lease_owner = ""
    message.lease_until = None
    if sent:
        message.status = MessageStatus.SENT
        message.sent_at = message.sent_at or at
        message.save(update_fields=["status", "sent_at", "lease_owner", "lease_until", "updated_at"])
        _event(message, DeliveryEventKind.SENT, at, resolved_by=by, note=note, how="confirmed by a person")
        case_events.message_event(message, "sent", actor=actor, at=at)
    else:
        message.status = MessageStatus.QUEUED
        message.next_attempt_at = at
        message.attempts = 0
        message.save(
            update_fields=[
                "status",
                "next_attempt_at",
                "attempts",
                "lease_owner",
                "lease_until",
                "updated_at",
            ]
        )
        _event(message, DeliveryEventKind.RETRIED, at, by=by, note=note, how="not sent, checked by a person")
    audit_record(
        action="outbox_resolve",
        actor=user if getattr(user, "is_authenticated", False) else None,
        obj=message,
        before={"status": MessageStatus.UNCERTAIN.value},
        after={"status": message.status, "resolution": "sent" if sent else "not_sent", "note": note},
    )
    return message


# --------------------------------------------------------------------------------------------------
# Bounces


def contact_mark_invalid(*, contact: Contact, channel: str, status: str = "", reason: str = "") -> None:
    """A hard bounce (an e-mail or SMS: bounced; a letter: returned) or a wrong number (invalid):
    the address is not used again until someone fixes it (``ledger.services.contact_status_set``)."""
    if channel not in STATUS_FIELDS:
        return
    if not status:
        status = ContactStatus.RETURNED if channel == "letter" else ContactStatus.BOUNCED
    contact_status_set(
        contact=contact, channel=channel, status=status, reason=reason or f"{status} ({channel})"
    )


def message_mark_bounced(
    *,
    message: OutboundMessage,
    hard: bool = True,
    reason: str = "",
    at: datetime | None = None,
    provider_event_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> OutboundMessage | None:
    """Record a bounce. A hard bounce marks the address invalid and queues the message on the next
    channel of its step (returned), ``fallback_of`` pointing at the bounced one."""
    when = _now(at)
    info = {"hard": hard, "reason": reason, **dict(detail or {})}
    with transaction.atomic():
        if provider_event_id and DeliveryEvent.objects.filter(provider_event_id=provider_event_id).exists():
            return None
        DeliveryEvent.objects.create(
            message=message,
            kind=DeliveryEventKind.BOUNCED,
            at=when,
            detail=info,
            provider_event_id=provider_event_id,
        )
        emit(
            "message.bounced",
            {"message_id": message.pk, "channel": message.channel, "hard": hard, "reason": reason},
            entity=message.entity_id,
            customer=message.customer,
        )
        if not hard:
            return None
        if message.status != MessageStatus.FAILED:  # a refusal at send time is recorded as failed already
            case_events.message_event(
                message, "bounced", actor=Actor.system("bounce report"), at=when, reason=reason
            )
        OutboundMessage.objects.filter(pk=message.pk).update(
            status=MessageStatus.BOUNCED, last_error=reason[:2000] or "hard bounce", updated_at=timezone.now()
        )
        message.status = MessageStatus.BOUNCED
        if message.contact_id is not None:
            contact_mark_invalid(
                contact=Contact.objects.select_related("customer").get(pk=message.contact_id),
                channel=message.channel,
                reason=f"hard bounce of message {message.pk}: {reason or 'no reason given'}",
            )
    return message_fallback(message=message, reason=reason or "hard bounce", now=when)


def message_fallback(
    *, message: OutboundMessage, reason: str, now: datetime | None = None
) -> OutboundMessage | None:
    """Queue ``message`` again on the next channel its step allows (None when there is none)."""
    if message.fallbacks.exists():
        return message.fallbacks.first()
    customer = Customer.objects.select_related("entity").get(pk=message.customer_id)
    action = message.action
    if action is not None:
        engine_channels = list(action.step_channels)
        current = next((c for c in engine_channels if ENGINE_CHANNELS.get(c) == message.channel), None)
        position = engine_channels.index(current) + 1 if current is not None else 0
        candidates = [(c, ENGINE_CHANNELS[c]) for c in engine_channels[position:] if c in ENGINE_CHANNELS]
    else:
        candidates = [(c, c) for c in DEFAULT_FALLBACKS.get(message.channel, ())]
    for engine_channel, channel in candidates:
        if channel == message.channel:
            continue
        contact, address, _why = recipient_for(customer, channel)
        if not address:
            continue
        key = f"{message.idempotency_key}:fallback:{channel}"
        broken: list[TemplateFailure] = []
        fallback, _created = outbox_enqueue_checked(
            render={
                "template_key": message.template_key,
                "channel": channel,
                "as_of": (action.on if action is not None else timezone.localdate()),
                "invoices": list(action.invoices.all()) if action is not None else None,
                "contact": contact,
                "action": action,
                "language": message.language or None,
                "message_key": key,
            },
            broken=broken,
            customer=customer,
            channel=channel,
            recipient=address,
            idempotency_key=key,
            contact=contact,
            run=message.run,
            action=action,
            fallback_of=message,
            headers={"registered": True} if engine_channel == "registered_letter" else {},
            detail={"fallback_of": message.pk, "why": reason},
            now=now,
        )
        return fallback
    return None

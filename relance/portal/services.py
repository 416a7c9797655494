"""Writes of the portal. Each one records a ``PortalEvent`` and calls the collections services
(``relance.cases.services``) for the promise, dispute or plan itself, so dunning reacts at once.

Refusals raise ``PortalRefused`` carrying an English message template (marked for translation)
and its parameters: the views translate the template, then format it.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar, cast

from django.core import signing
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_noop as _

from relance.audit import case_events
from relance.audit.models import CaseEventKind
from relance.cases import services as case_services
from relance.cases.models import Dispute, PaymentPlan, Promise
from relance.core import actors
from relance.core.errors import RelanceError
from relance.events.services import emit
from relance.ledger.models import Allocation, Contact, ContactStatus, Customer, Invoice, Payment
from relance.ledger.selectors import invoice_open_amount
from relance.ledger.services import allocation_create
from relance.portal import notify, uploads
from relance.portal.links import link_create
from relance.portal.models import (
    CheckoutStatus,
    CodePurpose,
    DisputeAttachment,
    DisputeCase,
    LinkSource,
    PlanRequest,
    PlanRequestStatus,
    PortalCheckout,
    PortalCode,
    PortalEvent,
    PortalLink,
    WebhookEvent,
)
from relance.portal.selectors import portal_open_invoices, portal_scope, portal_settings_for, sla_due

PROMISE_DATE_RANGE = _("The promised date must be between {first} and {last}.")
PROMISE_AMOUNT_RANGE = _("The amount must be between {low} and {high} {currency}.")
PROMISE_AMOUNT_ONE_ACCOUNT = _("Choose invoices of one account to promise a partial amount.")
NOTHING_CHOSEN = _("Choose at least one open invoice.")
ONE_CURRENCY = _("Choose invoices in one currency.")
DISPUTE_AMOUNT_RANGE = _("The disputed amount must be more than 0 and at most {high} {currency}.")
DISPUTE_REASON_UNKNOWN = _("Choose a reason.")
PLAN_ONE_ACCOUNT = _("A plan covers the invoices of one account: choose invoices of one account.")
PLAN_ACTIVE = _("You already have an active payment plan.")
PLAN_INSTALLMENTS_RANGE = _("Choose between 2 and 120 installments.")
PLAN_FIRST_DATE_PAST = _("The first installment cannot be due before today.")
PLAN_PENDING = _("Your previous request is still waiting for an answer.")
CODE_WRONG = _("This code is not valid (wrong, expired or already used).")
PHONE_INVALID = _("Enter the phone number in international format, e.g. +33 6 12 34 56 78.")
NOTHING_TO_PAY = _("Nothing is open to pay.")

# Why a plan request goes to a credit manager (shown to the credit manager, in English).
PLAN_OVER_INSTALLMENTS = "more than {limit} installments"
PLAN_FIRST_TOO_LATE = "first installment later than {limit} days"
PLAN_INSTALLMENT_TOO_SMALL = "installments below {limit} {currency}"

CODE_MINUTES = 15
CODE_ATTEMPTS = 5


class PortalRefused(Exception):
    """A customer's request the portal refuses, with a message template and its parameters."""

    def __init__(self, template: str, **params: Any) -> None:
        super().__init__(template.format(**params) if params else template)
        self.template = template
        self.params = params


@dataclass(frozen=True)
class Actor:
    """Who acts: the link used and the client's address (for the audit trail)."""

    link: PortalLink
    ip: str | None = None

    @property
    def case_actor(self) -> actors.Actor:
        """The customer through this link, as the case timeline's actor."""
        return actors.Actor.portal(self.link)


# Portal actions whose case change the collections service records itself (with the link's
# actor), or that this module records as a plan event: no second ``portal_*`` case event.
CASE_RECORDED_ACTIONS = frozenset({"promise_made", "dispute_opened", "plan_started", "plan_requested"})


def event_record(
    *, actor: Actor, action: str, customer: Customer | None = None, **detail: Any
) -> PortalEvent:
    """The portal's own trail (``PortalEvent``: link, address) and, for an action that changes no
    case by itself, the case timeline's ``portal_<action>`` event."""
    event = PortalEvent.objects.create(
        link=actor.link,
        customer=customer or actor.link.customer,
        action=action,
        at=timezone.now(),
        ip=actor.ip,
        detail={key: _jsonable(value) for key, value in detail.items()},
    )
    if action not in CASE_RECORDED_ACTIONS:
        case_events.portal_action(
            customer=event.customer, action=action, actor=actor.case_actor, detail=event.detail, subject=event
        )
    return event


_Service = TypeVar("_Service", bound=Callable[..., Any])


def _refusal_recorded(what: str) -> Callable[[_Service], _Service]:
    """Record a ``<what>_refused`` event with the (English) reason when the service refuses.

    Outside the service's transaction, which the refusal rolls back: support can then see why a
    customer's promise, dispute or plan was refused (the workspace's "why" page reads these).
    """

    def decorator(service: _Service) -> _Service:
        @functools.wraps(service)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            try:
                return service(*args, **kwargs)
            except PortalRefused as refused:
                actor = kwargs.get("actor")
                if isinstance(actor, Actor):
                    event_record(actor=actor, action=f"{what}_refused", reason=str(refused))
                raise

        return cast(_Service, wrapped)

    return decorator


def _by(actor: actors.Actor) -> str:
    """Who decided, for a back-office event's ``by``: the user's name ("" for the run or the CLI)."""
    return actor.label if actor.user_id is not None else ""


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal | date | datetime):
        return str(value)
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


def link_touch(*, link: PortalLink, now: datetime | None = None) -> bool:
    """Note the link's use (at most once a minute: page views stay read-only). True when first in an hour."""
    now = now or timezone.now()
    if link.last_used_at is not None and now - link.last_used_at < timedelta(minutes=1):
        return False
    first_in_hour = link.last_used_at is None or now - link.last_used_at >= timedelta(hours=1)
    PortalLink.objects.filter(pk=link.pk).update(last_used_at=now)
    link.last_used_at = now
    return first_in_hour


# --------------------------------------------------------------------------- codes


def _code_hash(code_id: int, code: str) -> str:
    return salted_hmac("relance.portal.code", f"{code_id}:{code}").hexdigest()


def _code_issue(
    *, link: PortalLink, purpose: str, target: str, contact: Contact | None
) -> tuple[PortalCode, str]:
    code = f"{secrets.randbelow(1_000_000):06d}"
    row = PortalCode.objects.create(
        link=link,
        purpose=purpose,
        target=target,
        contact=contact,
        code_hash="-",
        expires_at=timezone.now() + timedelta(minutes=CODE_MINUTES),
    )
    row.code_hash = _code_hash(row.pk, code)
    row.save(update_fields=["code_hash"])
    # Earlier codes of the same purpose stop working.
    PortalCode.objects.filter(link=link, purpose=purpose, used_at__isnull=True).exclude(pk=row.pk).update(
        used_at=timezone.now()
    )
    return row, code


def _code_check(*, link: PortalLink, purpose: str, code: str) -> PortalCode:
    """The code row if ``code`` is right; every attempt counts (in its own transaction, so that a
    refusal still burns the attempt) and the fifth wrong one kills the code."""
    with transaction.atomic():
        row = (
            PortalCode.objects.select_for_update()
            .filter(link=link, purpose=purpose, used_at__isnull=True, expires_at__gt=timezone.now())
            .order_by("-created_at", "-id")
            .first()
        )
        if row is None:
            good = False
        else:
            row.attempts += 1
            good = hmac.compare_digest(row.code_hash, _code_hash(row.pk, code.strip()))
            if good or row.attempts >= CODE_ATTEMPTS:
                row.used_at = timezone.now()
            row.save(update_fields=["attempts", "used_at", "updated_at"])
    if row is None or not good:
        raise PortalRefused(CODE_WRONG)
    return row


def _code_message(link: PortalLink, code: str, purpose: str) -> notify.Outgoing:
    name = link.customer.entity.legal_name or link.customer.entity.name
    return notify.Outgoing(
        template_key=notify.PORTAL_CODE,
        subject=f"{name}: your code {code}",
        text=(
            f"Your one-time code for the {name} customer portal is {code}.\n"
            f"It is valid for {CODE_MINUTES} minutes. If you did not ask for it, ignore this message."
        ),
    )


@transaction.atomic
def renewal_request(*, actor: Actor, email: str) -> bool:
    """Send a one-time code to ``email`` if it is a contact address of the link's accounts.

    Returns whether one was sent; the view never tells the visitor (it says the same either way).
    """
    link = actor.link
    wanted = email.strip().lower()
    contact = (
        Contact.objects.filter(customer_id__in=portal_scope(link=link), email__iexact=wanted)
        .order_by("id")
        .first()
        if wanted
        else None
    )
    event_record(actor=actor, action="renewal_requested", known=contact is not None)
    if contact is None:
        return False
    row, code = _code_issue(link=link, purpose=CodePurpose.RENEW, target=contact.email, contact=contact)
    customer = contact.customer
    transaction.on_commit(
        lambda: notify.message_send(
            customer=customer,
            outgoing=_code_message(link, code, CodePurpose.RENEW),
            idempotency_key=f"code:{row.pk}",
            recipient=contact.email,
            contact=contact,
            extra={"code": code},
            one_time_secret=True,
        )
    )
    return True


def renewal_confirm(*, actor: Actor, code: str) -> PortalLink:
    """A fresh link for the contact the code was sent to (the old one stays expired)."""
    row = _code_check(link=actor.link, purpose=CodePurpose.RENEW, code=code)
    fresh = link_create(customer=actor.link.customer, contact=row.contact, source=LinkSource.RENEWAL)
    event_record(actor=actor, action="renewed", fresh_link=fresh.pk)
    return fresh


# --------------------------------------------------------------------------- contact preferences


def _contact_for(link: PortalLink) -> Contact:
    """The contact preferences apply to: the link's, else the billing contact, else a new one."""
    if link.contact is not None:
        return link.contact
    found = Contact.objects.filter(customer=link.customer).order_by("role", "id")
    contact = found.filter(role="billing").first() or found.first()
    if contact is None:
        contact = Contact.objects.create(customer=link.customer, role="billing", name=link.customer.name)
    return contact


@transaction.atomic
def preferences_update(*, actor: Actor, channel: str, language: str) -> Contact:
    """Channel and language apply at once (they only change how we write, not where)."""
    contact = _contact_for(actor.link)
    customer = actor.link.customer
    changes: dict[str, Any] = {}
    if channel and channel != contact.preferred_channel:
        contact.preferred_channel = channel
        contact.save(update_fields=["preferred_channel", "updated_at"])
        changes["channel"] = channel
    if language and language != customer.language:
        Customer.objects.filter(pk=customer.pk).update(language=language)
        customer.language = language
        changes["language"] = language
    if changes:
        event_record(actor=actor, action="preferences_changed", **changes)
    return contact


@transaction.atomic
def address_change_request(*, actor: Actor, purpose: str, address: str) -> PortalCode:
    """Send a code to the new billing email or phone: it is used only once the code comes back."""
    if purpose == CodePurpose.PHONE:
        address = _phone_e164(address)
    contact = _contact_for(actor.link)
    row, code = _code_issue(link=actor.link, purpose=purpose, target=address, contact=contact)
    event_record(actor=actor, action=f"{purpose}_change_requested")
    customer = actor.link.customer
    link = actor.link
    transaction.on_commit(
        lambda: notify.message_send(
            customer=customer,
            outgoing=_code_message(link, code, purpose),
            idempotency_key=f"code:{row.pk}",
            recipient=address,
            contact=contact,
            channel="email" if purpose == CodePurpose.EMAIL else "sms",
            extra={"code": code},
            one_time_secret=True,
        )
    )
    return row


def _phone_e164(text: str) -> str:
    import phonenumbers

    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise PortalRefused(PHONE_INVALID) from None
    if not phonenumbers.is_valid_number(number):
        raise PortalRefused(PHONE_INVALID)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def address_change_confirm(*, actor: Actor, purpose: str, code: str) -> Contact:
    """Apply the new address once its code came back. A new e-mail address is also announced to
    the old one, with a link that puts it back (``email_change_undo``): a stolen portal link
    cannot quietly move the billing address."""
    row = _code_check(link=actor.link, purpose=purpose, code=code)
    contact = row.contact or _contact_for(actor.link)
    if purpose == CodePurpose.EMAIL:
        old = contact.email
        contact.email = row.target
        contact.email_status = ContactStatus.VALID
        contact.save(update_fields=["email", "email_status", "updated_at"])
        if old and old.lower() != row.target.lower():
            _email_change_announce(link=actor.link, contact=contact, old=old, new=row.target, code_id=row.pk)
    else:
        contact.phone = row.target
        contact.phone_status = ContactStatus.VALID
        contact.save(update_fields=["phone", "phone_status", "updated_at"])
    event_record(actor=actor, action=f"{purpose}_changed")
    return contact


EMAIL_UNDO_SALT = "relance.portal.email-undo"
EMAIL_UNDO_DAYS = 14
EMAIL_UNDO_STALE = _("This address was changed again since: ask us to correct it.")


def email_undo_token(*, link: PortalLink, contact: Contact, old: str, new: str) -> str:
    """A signed token that puts ``old`` back on ``contact`` (valid ``EMAIL_UNDO_DAYS``)."""
    return signing.dumps({"l": link.pk, "c": contact.pk, "old": old, "new": new}, salt=EMAIL_UNDO_SALT)


def email_undo_load(token: str) -> dict[str, Any]:
    """The undo's payload; ``signing.BadSignature`` (or ``SignatureExpired``) when not ours or too old."""
    payload: dict[str, Any] = signing.loads(
        token, salt=EMAIL_UNDO_SALT, max_age=timedelta(days=EMAIL_UNDO_DAYS)
    )
    return payload


def _email_change_announce(*, link: PortalLink, contact: Contact, old: str, new: str, code_id: int) -> None:
    from django.urls import reverse

    from relance.portal.links import absolute_url

    undo = absolute_url(
        reverse("portal:email_undo", args=[email_undo_token(link=link, contact=contact, old=old, new=new)])
    )
    name = link.customer.entity.legal_name or link.customer.entity.name
    outgoing = notify.Outgoing(
        template_key=notify.EMAIL_CHANGED,
        subject=f"{name}: your billing e-mail address was changed",
        text=(
            f"The billing e-mail address of your {name} account was changed from {old} to {new} "
            f"through the customer portal.\n"
            f"If you did not ask for this, put the old address back here (valid {EMAIL_UNDO_DAYS} days):\n"
            f"{undo}\n"
        ),
    )
    customer = link.customer
    transaction.on_commit(
        lambda: notify.message_send(
            customer=customer,
            outgoing=outgoing,
            idempotency_key=f"email-changed:{code_id}",
            recipient=old,
            contact=contact,
            extra={"undo_url": undo},
            one_time_secret=True,
        )
    )


@transaction.atomic
def email_change_undo(*, token: str, ip: str | None = None) -> Contact:
    """Put the old billing address back (from the link sent to it), if nobody changed it since."""
    payload = email_undo_load(token)
    contact = Contact.objects.select_for_update().filter(pk=payload["c"]).first()
    if contact is None or contact.email.lower() != str(payload["new"]).lower():
        raise PortalRefused(EMAIL_UNDO_STALE)
    contact.email = payload["old"]
    contact.email_status = ContactStatus.VALID
    contact.save(update_fields=["email", "email_status", "updated_at"])
    link = PortalLink.objects.filter(pk=payload["l"]).first()
    event = PortalEvent.objects.create(
        link=link,
        customer=contact.customer,
        action="email_change_undone",
        at=timezone.now(),
        ip=ip,
        detail={"restored": payload["old"], "removed": payload["new"]},
    )
    case_events.portal_action(
        customer=contact.customer,
        action=event.action,
        actor=actors.Actor.portal(link) if link is not None else actors.Actor.system("e-mail undo link"),
        detail=event.detail,
        subject=event,
    )
    return contact


# --------------------------------------------------------------------------- promises


def _chosen(actor: Actor, on: date, invoice_ids: Sequence[int] | None) -> list[Any]:
    chosen = portal_open_invoices(link=actor.link, as_of=on, ids=list(invoice_ids) if invoice_ids else None)
    if not chosen:
        raise PortalRefused(NOTHING_CHOSEN)
    if len({invoice.currency for invoice in chosen}) > 1:
        raise PortalRefused(ONE_CURRENCY)
    return chosen


@_refusal_recorded("promise")
@transaction.atomic
def promise_make(
    *,
    actor: Actor,
    on: date,
    promised_date: date,
    invoice_ids: Sequence[int] | None = None,
    amount: Decimal | None = None,
    note: str = "",
) -> list[Promise]:
    """Promise to pay the chosen invoices (default: every open one) by a date within the limits."""
    limits = portal_settings_for(entity=actor.link.customer.entity)
    last = on + timedelta(days=limits.promise_max_days)
    if not on <= promised_date <= last:
        raise PortalRefused(PROMISE_DATE_RANGE, first=on, last=last)
    chosen = _chosen(actor, on, invoice_ids)
    currency = chosen[0].currency
    total = sum((invoice.open_amount for invoice in chosen), Decimal(0))
    by_customer: dict[int, list[Any]] = {}
    for invoice in chosen:
        by_customer.setdefault(invoice.customer_id, []).append(invoice)
    if amount is not None and amount != total:
        low = (total * limits.promise_min_share).quantize(Decimal("0.01"))
        if not low <= amount <= total:
            raise PortalRefused(
                PROMISE_AMOUNT_RANGE, low=low, high=total.quantize(Decimal("0.01")), currency=currency
            )
        if len(by_customer) > 1:
            raise PortalRefused(PROMISE_AMOUNT_ONE_ACCOUNT)
    else:
        amount = None
    promises = []
    for invoices in by_customer.values():
        try:
            promise = case_services.promise_add(
                customer=invoices[0].customer,
                promised_date=promised_date,
                on=on,
                invoices=invoices,
                amount=amount,
                note=f"portal: {note}".strip(),
                actor=actor.case_actor,
            )
        except RelanceError as exc:
            raise PortalRefused(exc.message) from None
        promises.append(promise)
        event_record(
            actor=actor,
            action="promise_made",
            customer=promise.customer,
            promise=promise.pk,
            amount=promise.amount,
            currency=promise.currency,
            promised_date=promised_date,
            invoices=[invoice.external_ref for invoice in invoices],
        )
    _confirm(
        actor,
        notify.Outgoing(
            notify.PROMISE_CONFIRMATION,
            "We have noted your promise to pay",
            "Thank you: we have noted your promise to pay "
            + ", ".join(f"{p.amount:.2f} {p.currency} by {p.promised_date}" for p in promises)
            + ". We will not send reminders for these invoices until then.",
        ),
        key=f"promise:{promises[0].pk}",
        on=on,
        invoices=chosen,
    )
    return promises


def _confirm(
    actor: Actor, outgoing: notify.Outgoing, *, key: str, on: date, invoices: Sequence[Any] | None = None
) -> None:
    """Queue a confirmation to the link's contact once the transaction commits."""
    customer = actor.link.customer
    recipient, contact = notify.recipient_for(customer=customer, contact=actor.link.contact)
    transaction.on_commit(
        lambda: notify.message_send(
            customer=customer,
            outgoing=outgoing,
            idempotency_key=key,
            recipient=recipient,
            contact=contact,
            as_of=on,
            invoices=list(invoices) if invoices else None,
        )
    )


# --------------------------------------------------------------------------- disputes


@_refusal_recorded("dispute")
@transaction.atomic
def dispute_make(
    *,
    actor: Actor,
    on: date,
    invoice: Invoice,
    reason_code: str,
    amount: Decimal | None,
    text: str,
    files: Sequence[UploadedFile] = (),
) -> Dispute:
    """Open a dispute on one invoice of the scope, with a case (owner, SLA) and checked attachments."""
    from relance.cases.models import DisputeReason, DisputeStatus

    if reason_code not in DisputeReason.values:
        raise PortalRefused(DISPUTE_REASON_UNKNOWN)
    limits = portal_settings_for(entity=actor.link.customer.entity)
    open_now = portal_open_invoices(link=actor.link, as_of=on, ids=[invoice.pk])
    disputed = sum(
        (d.amount for d in Dispute.objects.filter(invoice=invoice, status=DisputeStatus.OPEN)), Decimal(0)
    )
    available = (open_now[0].open_amount if open_now else Decimal(0)) - disputed
    if available <= 0 or (amount is not None and not 0 < amount <= available):
        raise PortalRefused(
            DISPUTE_AMOUNT_RANGE,
            high=max(available, Decimal(0)).quantize(Decimal("0.01")),
            currency=invoice.currency,
        )
    checked = [_file_check(upload, limits.attachment_max_bytes) for upload in files]
    if len(checked) > uploads.MAX_FILES:
        raise PortalRefused(uploads.UPLOAD_TOO_MANY, limit=uploads.MAX_FILES)
    try:
        dispute = case_services.dispute_open(
            invoice=invoice,
            reason_code=reason_code,
            on=on,
            amount=amount,
            note=f"portal: {text}".strip(),
            actor=actor.case_actor,
        )
    except RelanceError as exc:
        raise PortalRefused(exc.message) from None
    case = dispute_case_open(dispute=dispute, link=actor.link, text=text)
    for upload, sniffed in checked:
        upload.seek(0)
        attachment = DisputeAttachment(
            case=case,
            filename=uploads.safe_filename(upload.name or "", sniffed.extension),
            content_type=sniffed.content_type,
            size=upload.size or 0,
        )
        attachment.file.save(f"{secrets.token_hex(16)}.bin", upload, save=False)
        attachment.save()
    event_record(
        actor=actor,
        action="dispute_opened",
        customer=invoice.customer,
        dispute=dispute.pk,
        invoice=invoice.external_ref,
        amount=dispute.amount,
        reason=reason_code,
        files=len(checked),
    )
    _confirm(
        actor,
        notify.Outgoing(
            notify.DISPUTE_RECEIVED,
            f"We have received your dispute about invoice {invoice.external_ref}",
            f"We have received your dispute about invoice {invoice.external_ref} "
            f"({dispute.amount:.2f} {invoice.currency}). We will answer by {case.sla_due_on}; "
            "we will not send reminders for this amount meanwhile.",
        ),
        key=f"dispute:{dispute.pk}",
        on=on,
        invoices=[invoice],
    )
    return dispute


def dispute_case_open(*, dispute: Dispute, link: PortalLink | None = None, text: str = "") -> DisputeCase:
    """The portal's case around a dispute: its owner (the customer's collector) and its answer
    deadline (the entity's ``dispute_sla_days`` from the day it was opened). The one home of both,
    for a dispute the customer opens on the portal and a deduction cash application opens
    (``relance.cashapp.residuals``), so both are worked and shown alike."""
    customer = dispute.customer
    limits = portal_settings_for(entity=customer.entity)
    return DisputeCase.objects.create(
        dispute=dispute,
        link=link,
        owner=customer.collector,
        sla_due_on=sla_due(opened_on=dispute.opened_on, days=limits.dispute_sla_days),
        text=text,
    )


def _file_check(upload: UploadedFile, limit: int) -> tuple[UploadedFile, uploads.SniffedFile]:
    try:
        return upload, uploads.upload_check(upload, limit)
    except uploads.UploadRefused as refused:
        raise PortalRefused(refused.template, **refused.params) from None


@transaction.atomic
def dispute_close(
    *, dispute: Dispute, resolution: str, on: date, actor: actors.Actor, note: str = ""
) -> Dispute:
    """Resolve a dispute (back office) and tell the customer."""
    dispute = case_services.dispute_resolve(
        dispute=dispute, resolution=resolution, on=on, note=note, actor=actor
    )
    customer = dispute.customer
    recipient, contact = notify.recipient_for(customer=customer, contact=None)
    outgoing = notify.Outgoing(
        notify.DISPUTE_RESOLVED,
        f"Your dispute about invoice {dispute.invoice.external_ref} is resolved",
        f"Your dispute about invoice {dispute.invoice.external_ref} is resolved: "
        f"{dispute.get_resolution_display()}. {note}".strip(),
    )
    transaction.on_commit(
        lambda: notify.message_send(
            customer=customer,
            outgoing=outgoing,
            idempotency_key=f"dispute-resolved:{dispute.pk}",
            recipient=recipient,
            contact=contact,
            as_of=on,
            invoices=[dispute.invoice],
        )
    )
    PortalEvent.objects.create(
        customer=customer,
        action="dispute_resolved",
        at=timezone.now(),
        detail={"dispute": dispute.pk, "resolution": resolution, "by": _by(actor)},
    )
    return dispute


# --------------------------------------------------------------------------- payment plans


@dataclass(frozen=True)
class PlanOutcome:
    plan: PaymentPlan | None
    request: PlanRequest | None


@_refusal_recorded("plan")
@transaction.atomic
def plan_ask(
    *,
    actor: Actor,
    on: date,
    installments: int,
    first_due: date,
    invoice_ids: Sequence[int] | None = None,
    note: str = "",
) -> PlanOutcome:
    """Inside the entity's limits the plan starts at once; outside, a credit manager decides."""
    from relance.cases.models import PlanStatus

    if not 2 <= installments <= 120:
        raise PortalRefused(PLAN_INSTALLMENTS_RANGE)
    if first_due < on:
        raise PortalRefused(PLAN_FIRST_DATE_PAST)
    if invoice_ids:
        chosen = _chosen(actor, on, invoice_ids)
    else:
        chosen = [i for i in _chosen(actor, on, None) if i.customer_id == actor.link.customer_id] or _chosen(
            actor, on, None
        )
    customers = {invoice.customer_id for invoice in chosen}
    if len(customers) > 1:
        raise PortalRefused(PLAN_ONE_ACCOUNT)
    customer = chosen[0].customer
    if PaymentPlan.objects.filter(customer=customer, status=PlanStatus.ACTIVE).exists():
        raise PortalRefused(PLAN_ACTIVE)
    if PlanRequest.objects.filter(customer=customer, status=PlanRequestStatus.PENDING).exists():
        raise PortalRefused(PLAN_PENDING)
    limits = portal_settings_for(entity=customer.entity)
    total = sum((invoice.open_amount for invoice in chosen), Decimal(0))
    currency = chosen[0].currency
    reasons = []
    if installments > limits.plan_max_installments:
        reasons.append(PLAN_OVER_INSTALLMENTS.format(limit=limits.plan_max_installments))
    if first_due > on + timedelta(days=limits.plan_max_first_delay_days):
        reasons.append(PLAN_FIRST_TOO_LATE.format(limit=limits.plan_max_first_delay_days))
    if total / installments < limits.plan_min_installment:
        reasons.append(
            PLAN_INSTALLMENT_TOO_SMALL.format(limit=f"{limits.plan_min_installment:.2f}", currency=currency)
        )
    if reasons:
        request = PlanRequest.objects.create(
            entity_id=customer.entity_id,
            customer=customer,
            link=actor.link,
            installments=installments,
            first_due=first_due,
            every_days=limits.plan_every_days,
            total=total,
            currency=currency,
            invoice_ids=[invoice.pk for invoice in chosen],
            note=note,
            reasons=reasons,
        )
        event_record(
            actor=actor, action="plan_requested", customer=customer, request=request.pk, reasons=reasons
        )
        case_events.plan_request_event(
            request, CaseEventKind.PLAN_PROPOSED, actor=actor.case_actor, reasons=reasons
        )
        return PlanOutcome(None, request)
    plan = _plan_start(
        customer, on, installments, first_due, limits.plan_every_days, chosen, note, actor=actor.case_actor
    )
    event_record(
        actor=actor, action="plan_started", customer=customer, plan=plan.pk, installments=installments
    )
    _confirm(
        actor,
        notify.Outgoing(
            notify.PLAN_CONFIRMATION,
            "Your payment plan",
            f"Your payment plan of {installments} installments starts on {first_due}: "
            + ", ".join(f"{i.due_date} {i.amount:.2f} {currency}" for i in plan.installments.all())
            + ".",
        ),
        key=f"plan:{plan.pk}",
        on=on,
        invoices=chosen,
    )
    return PlanOutcome(plan, None)


def _plan_start(
    customer: Customer,
    on: date,
    installments: int,
    first_due: date,
    every_days: int,
    invoices: Sequence[Any],
    note: str,
    *,
    actor: actors.Actor,
) -> PaymentPlan:
    try:
        return case_services.plan_create(
            customer=customer,
            starts_on=on,
            installments=installments,
            first_due=first_due,
            every_days=every_days,
            invoices=invoices,
            note=f"portal: {note}".strip(),
            actor=actor,
        )
    except RelanceError as exc:
        raise PortalRefused(exc.message) from None


@transaction.atomic
def plan_request_decide(
    *, request: PlanRequest, approve: bool, on: date, actor: actors.Actor, note: str = ""
) -> PlanRequest:
    """A credit manager's answer. Approving creates the plan as asked (from ``on``)."""
    request = PlanRequest.objects.select_for_update().get(pk=request.pk)
    if request.status != PlanRequestStatus.PENDING:
        raise PortalRefused("this request was already decided")
    if approve:
        invoices = list(Invoice.objects.filter(pk__in=request.invoice_ids, customer=request.customer))
        request.plan = _plan_start(
            request.customer,
            on,
            request.installments,
            max(request.first_due, on),
            request.every_days,
            invoices,
            request.note,
            actor=actor,
        )
    request.status = PlanRequestStatus.APPROVED if approve else PlanRequestStatus.REJECTED
    request.decided_by_id = actor.user_id
    request.decided_at = timezone.now()
    request.decision_note = note
    request.save()
    if not approve:
        case_events.plan_request_event(request, CaseEventKind.PLAN_REFUSED, actor=actor)
    customer = request.customer
    recipient, contact = notify.recipient_for(
        customer=customer, contact=request.link.contact if request.link else None
    )
    if approve and request.plan is not None:
        schedule = ", ".join(
            f"{i.due_date} {i.amount:.2f} {request.currency}" for i in request.plan.installments.all()
        )
        outgoing = notify.Outgoing(
            notify.PLAN_REQUEST_DECIDED,
            "Your payment plan is approved",
            f"Your request for a payment plan is approved: {schedule}. {note}".strip(),
        )
    else:
        outgoing = notify.Outgoing(
            notify.PLAN_REQUEST_DECIDED,
            "Your payment plan request",
            f"We cannot accept the payment plan you asked for. {note} Please contact us.".replace("  ", " "),
        )
    transaction.on_commit(
        lambda: notify.message_send(
            customer=customer,
            outgoing=outgoing,
            idempotency_key=f"plan-request:{request.pk}",
            recipient=recipient,
            contact=contact,
            as_of=on,
        )
    )
    PortalEvent.objects.create(
        customer=request.customer,
        link=request.link,
        action="plan_request_" + request.status,
        at=timezone.now(),
        detail={"request": request.pk, "by": _by(actor), "note": note},
    )
    return request


# --------------------------------------------------------------------------- payments


@transaction.atomic
def checkout_open(
    *, actor: Actor, provider: str, provider_ref: str, invoices: Sequence[Any], amount: Decimal, currency: str
) -> PortalCheckout:
    checkout = PortalCheckout.objects.create(
        entity_id=actor.link.customer.entity_id,
        customer=actor.link.customer,
        link=actor.link,
        provider=provider,
        provider_ref=provider_ref,
        amount=amount,
        currency=currency,
        invoices=[{"id": invoice.pk, "amount": str(invoice.open_amount)} for invoice in invoices],
    )
    event_record(actor=actor, action="payment_started", provider=provider, amount=amount, currency=currency)
    return checkout


@dataclass(frozen=True)
class ProviderPayment:
    """What a provider's webhook reports as paid."""

    provider: str
    event_id: str
    event_kind: str
    provider_ref: str  # the checkout's reference (Stripe: the session id)
    payment_ref: str  # the ledger payment's external_ref
    amount: Decimal
    currency: str
    on: date


@transaction.atomic
def checkout_paid(*, paid: ProviderPayment) -> PortalCheckout | None:
    """Record a provider's payment: the Payment, its allocations to the checkout's invoices, the
    thank-you. Idempotent: the same event (or a second event for the same checkout) adds nothing."""
    _, created = WebhookEvent.objects.get_or_create(
        provider=paid.provider, event_id=paid.event_id, defaults={"kind": paid.event_kind}
    )
    if not created:
        return None
    checkout = (
        PortalCheckout.objects.select_for_update(of=("self",))
        .select_related("customer", "customer__entity", "link")
        .filter(provider=paid.provider, provider_ref=paid.provider_ref)
        .first()
    )
    if checkout is None or checkout.status == CheckoutStatus.PAID or paid.currency != checkout.currency:
        return None
    customer = checkout.customer
    payment = Payment.objects.create(
        entity_id=customer.entity_id,
        customer=customer,
        external_ref=paid.payment_ref[:64],
        date=paid.on,
        currency=paid.currency,
        amount=paid.amount,
        method=paid.provider,
    )
    emit(
        "payment.received",
        {
            "payment": payment.external_ref,
            "amount": paid.amount,
            "currency": paid.currency,
            "received_on": paid.on,
        },
        entity=customer.entity_id,
        customer=customer,
    )
    remaining = paid.amount
    paid_invoices = []
    for row in checkout.invoices:
        invoice = Invoice.objects.filter(pk=row["id"], entity_id=customer.entity_id).first()
        if invoice is None or remaining <= 0:
            continue
        share = min(Decimal(row["amount"]), invoice_open_amount(invoice=invoice), remaining)
        if share > 0 and not Allocation.objects.filter(invoice=invoice, payment=payment).exists():
            allocation_create(
                invoice=invoice, amount=share, on=max(paid.on, invoice.issue_date), payment=payment
            )
            remaining -= share
            paid_invoices.append(invoice)
    checkout.status = CheckoutStatus.PAID
    checkout.payment = payment
    checkout.save(update_fields=["status", "payment", "updated_at"])
    received = PortalEvent.objects.create(
        link=checkout.link,
        customer=customer,
        action="payment_received",
        at=timezone.now(),
        detail={
            "provider": paid.provider,
            "event": paid.event_id,
            "amount": str(paid.amount),
            "currency": paid.currency,
            "invoices": [invoice.external_ref for invoice in paid_invoices],
        },
    )
    case_events.portal_action(
        customer=customer,
        action=received.action,
        actor=actors.Actor.system(f"{paid.provider} webhook"),
        detail=received.detail,
        subject=received,
    )
    contact = checkout.link.contact if checkout.link else None
    transaction.on_commit(
        lambda: notify.payment_thank_you(
            customer=customer,
            amount=paid.amount,
            currency=paid.currency,
            on=paid.on,
            invoices=paid_invoices,
            idempotency_key=f"paid:{checkout.pk}",
            contact=contact,
        )
    )
    return checkout

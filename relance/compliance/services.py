"""Writes of the compliance app: opt-outs and opt-ins, SMS keywords, settings, sales-owner holds."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import phonenumbers
from django.db import transaction
from django.utils import timezone

from relance.compliance.links import HOLD_DAYS_MAX, preference_channel
from relance.compliance.models import ComplianceSettings, ContactPreferenceEvent, PreferenceSource
from relance.core.actors import Actor
from relance.core.channels import address_field, opt_out_field
from relance.core.errors import ValidationFailed
from relance.events.services import emit
from relance.ledger.models import Contact, Customer, Entity

SOURCE_UNKNOWN = "unknown preference source {source!r}: expected one of {choices}"
HOLD_REASON_REQUIRED = "say why you hold the escalation"
HOLD_DAYS_RANGE = "a hold lasts 1 to {max} days, not {days}"
HOLD_REASON_PREFIX = "Sales owner: "
HOLD_REASON_MAX = 200 - len(HOLD_REASON_PREFIX)

#: Words that opt out wherever they appear in an inbound SMS (Reg F: honour "stop", "quit",
#: "unsubscribe" even when the reply does not follow the instructions), accents and case ignored.
STOP_WORDS = frozenset(
    {
        "stop",
        "stopall",
        "unsubscribe",
        "quit",
        "arret",
        "desabonner",
        "desinscrire",
        "stopp",
        "abmelden",
        "baja",
        "basta",
        "disiscrivimi",
        "退订",
        "取消订阅",
    }
)
#: Words that opt out only as the whole message ("end of the month" must not opt anyone out).
STOP_MESSAGES = frozenset(
    {"cancel", "end", "optout", "opt out", "revoke", "td", "fin", "annuler", "halt", "alto"}
)
#: Whole messages that opt back in (the carriers' convention).
START_MESSAGES = frozenset({"start", "unstop"})


def _normalise(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).strip()


# --------------------------------------------------------------------------- preferences


@transaction.atomic
def contact_preference_set(
    *,
    contact: Contact,
    channel: str,
    opted_out: bool,
    source: str,
    detail: str = "",
    user: Any = None,
    at: datetime | None = None,
) -> ContactPreferenceEvent:
    """Set ``contact.opt_out_<channel>`` and record who/what/when/how, even when it was already set
    (each request is evidence)."""
    if source not in PreferenceSource.values:
        raise ValidationFailed(
            SOURCE_UNKNOWN.format(source=source, choices=", ".join(PreferenceSource.values))
        )
    try:
        flag = preference_channel(channel)
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None
    locked = Contact.objects.select_for_update().select_related("customer").get(pk=contact.pk)
    attribute = opt_out_field(flag)
    if getattr(locked, attribute) != opted_out:
        setattr(locked, attribute, opted_out)
        locked.save(update_fields=[attribute, "updated_at"])
    setattr(contact, attribute, opted_out)
    address = getattr(locked, address_field(flag)) if flag != "letter" else ""
    if opted_out:
        emit(
            "customer.opted_out",
            {"contact_id": locked.pk, "channel": flag, "source": source},
            entity=locked.customer.entity_id,
            customer=locked.customer,
        )
    return ContactPreferenceEvent.objects.create(
        entity_id=locked.customer.entity_id,
        contact=locked,
        channel=flag,
        address=address,
        opted_out=opted_out,
        at=at or timezone.now(),
        source=source,
        detail=detail[:2000],
        created_by=user if getattr(user, "pk", None) else None,
    )


@dataclass(frozen=True)
class SmsKeywordOutcome:
    """What an inbound SMS did: ``action`` is ``opt_out``, ``opt_in`` or ``none``."""

    action: str
    keyword: str = ""
    contacts: tuple[Contact, ...] = field(default_factory=tuple)


def sms_keyword(body: str) -> tuple[str, str]:
    """``(action, keyword)`` for an SMS body: a stop word anywhere, or a stop/start message alone."""
    text = _normalise(body)
    whole = re.sub(r"[\W_]+", " ", text).strip()
    if whole in START_MESSAGES:
        return "opt_in", whole
    if whole in STOP_MESSAGES:
        return "opt_out", whole
    for word in whole.split():
        if word in STOP_WORDS:
            return "opt_out", word
    for word in STOP_WORDS:  # scripts without spaces between words
        if not word.isascii() and word in text:
            return "opt_out", word
    return "none", ""


def inbound_sms_keyword(from_number: str, body: str, *, at: datetime | None = None) -> SmsKeywordOutcome:
    """Apply an inbound SMS's STOP/START keyword to every contact with that number.

    Called by the SMS provider's inbound webhook. ``from_number`` may be in any format
    phonenumbers parses (E.164 expected). Returns the contacts changed, none when the body is no
    keyword or the number is unknown.
    """
    action, keyword = sms_keyword(body)
    if action == "none":
        return SmsKeywordOutcome("none")
    try:
        number = phonenumbers.format_number(
            phonenumbers.parse(from_number, None), phonenumbers.PhoneNumberFormat.E164
        )
    except phonenumbers.NumberParseException:
        return SmsKeywordOutcome(action, keyword)
    contacts = tuple(Contact.objects.filter(phone=number).select_related("customer").order_by("pk"))
    source = PreferenceSource.SMS_STOP if action == "opt_out" else PreferenceSource.SMS_START
    for contact in contacts:
        contact_preference_set(
            contact=contact,
            channel="sms",
            opted_out=action == "opt_out",
            source=source,
            detail=f"SMS from {number}: {body[:160]}",
            at=at,
        )
    return SmsKeywordOutcome(action, keyword, contacts)


# --------------------------------------------------------------------------- settings


@transaction.atomic
def compliance_settings_update(*, entity: Entity, user: Any = None, **fields: Any) -> ComplianceSettings:
    """Create or change the entity's compliance settings (validated)."""
    row = ComplianceSettings.objects.filter(entity=entity).first() or ComplianceSettings(entity=entity)
    for name, value in fields.items():
        if not hasattr(row, name) or name in {"id", "entity", "entity_id"}:
            raise ValidationFailed(f"unknown compliance setting {name!r}")
        setattr(row, name, value)
    row.updated_by = user if getattr(user, "pk", None) else None
    from django.core.exceptions import ValidationError

    try:
        row.full_clean()
    except ValidationError as exc:
        raise ValidationFailed(
            "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.message_dict.items())
        ) from None
    row.save()
    from relance.compliance.selectors import caches_clear

    caches_clear()
    return row


# --------------------------------------------------------------------------- sales-owner hold


def owner_hold_create(
    *,
    customer: Customer,
    owner: Any,
    reason: str,
    days: int,
    on: date,
    audit_action: str = "",
    actor: Actor | None = None,
) -> Any:
    """The sales owner's "hold escalation for N days, I'm on it": a ``hold`` from ``on`` to ``on + days``,
    through ``cases.services.hold_create``, the one write of a hold (who and when are on the row)."""
    from relance.cases.services import hold_create

    reason = " ".join(reason.split())
    if not reason:
        raise ValidationFailed(HOLD_REASON_REQUIRED)
    if not 1 <= days <= HOLD_DAYS_MAX:
        raise ValidationFailed(HOLD_DAYS_RANGE.format(max=HOLD_DAYS_MAX, days=days))
    return hold_create(
        customer=customer,
        kind="hold",
        reason=HOLD_REASON_PREFIX + reason[:HOLD_REASON_MAX],
        starts_on=on,
        ends_on=on + timedelta(days=days),
        actor=actor or Actor.user(owner),  # the e-mailed link is the owner's own
        audit_action=audit_action,
    )

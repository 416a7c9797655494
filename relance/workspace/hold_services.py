"""Write of the workspace's "I'm on it" form: a hold on escalation asked for from the pages.

The hold itself belongs to the collections app (``CustomerHold``). A sales owner's request goes
through ``relance.compliance.services.owner_hold_create``, the same service as the e-mailed hold
link, so both paths give the same row (``kind=hold``, "Sales owner: …", who and when). A collector
or a credit manager holding an account they do not own gets the same limits and their role in
the reason. Both end in ``relance.cases.services.hold_create``, the one write of a hold, which
records one audit event ``hold_request`` (instead of the generic model-change event).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db import transaction

from relance.cases.models import CustomerHold, HoldKind
from relance.cases.services import hold_create, hold_end
from relance.compliance.links import HOLD_DAYS_MAX
from relance.compliance.services import (
    HOLD_DAYS_RANGE,
    HOLD_REASON_MAX,
    HOLD_REASON_REQUIRED,
    owner_hold_create,
)
from relance.core.actors import Actor
from relance.core.errors import ValidationFailed
from relance.ledger.models import Customer

HOLD_REASON_TOO_LONG = "reason: at most {max} characters, found {length}"
HOLD_DAYS_NOT_A_NUMBER = "days: expected a whole number from 1 to {max}, found {found!r}"
HOLD_AUDIT_ACTION = "hold_request"
HOLD_LIFT_AUDIT_ACTION = "hold_lift"
REASON_FIELD_MAX = CustomerHold._meta.get_field("reason").max_length or 200


@dataclass(frozen=True)
class HoldRequest:
    """What the form asks for: why, and for how many days from ``on`` (the entity's today)."""

    reason: str
    days: int
    on: date


def hold_days_parse(text: str | None) -> int:
    """The form's ``days`` field as an int in 1…``HOLD_DAYS_MAX`` (a sentence otherwise)."""
    try:
        days = int((text or "").strip())
    except ValueError:
        raise ValidationFailed(HOLD_DAYS_NOT_A_NUMBER.format(max=HOLD_DAYS_MAX, found=text or "")) from None
    if not 1 <= days <= HOLD_DAYS_MAX:
        raise ValidationFailed(HOLD_DAYS_RANGE.format(max=HOLD_DAYS_MAX, days=days))
    return days


def _role_label(user: Any) -> str:
    from relance.accounts.roles import ROLE_LABELS
    from relance.accounts.selectors import user_role

    role = user_role(user)
    return ROLE_LABELS.get(role or "", "User")


@transaction.atomic
def hold_request_create(*, customer: Customer, user: Any, request: HoldRequest, actor: Actor) -> CustomerHold:
    """Hold the customer's escalation from ``request.on`` for ``request.days`` days (last day
    included: ``on + days``, as the e-mailed link does). Refuses an empty or too long reason and
    days outside 1…``HOLD_DAYS_MAX`` without writing anything. One audit event ``hold_request``
    (``hold_create`` records it instead of the generic model-change event)."""
    reason = " ".join(request.reason.split())
    if not reason:
        raise ValidationFailed(HOLD_REASON_REQUIRED)
    owner = customer.sales_owner_id is not None and customer.sales_owner_id == getattr(user, "pk", None)
    prefix = "" if owner else f"{_role_label(user)} {user.get_username()}: "
    longest = min(HOLD_REASON_MAX, REASON_FIELD_MAX - len(prefix))
    if len(reason) > longest:
        raise ValidationFailed(HOLD_REASON_TOO_LONG.format(max=longest, length=len(reason)))
    if not 1 <= request.days <= HOLD_DAYS_MAX:
        raise ValidationFailed(HOLD_DAYS_RANGE.format(max=HOLD_DAYS_MAX, days=request.days))
    if owner:
        return owner_hold_create(
            customer=customer,
            owner=user,
            reason=reason,
            days=request.days,
            on=request.on,
            audit_action=HOLD_AUDIT_ACTION,
            actor=actor,
        )
    return hold_create(
        customer=customer,
        kind=HoldKind.HOLD,
        reason=prefix + reason,
        starts_on=request.on,
        ends_on=request.on + timedelta(days=request.days),
        audit_action=HOLD_AUDIT_ACTION,
        actor=actor,
    )


def hold_lift(*, hold: CustomerHold, on: date, actor: Actor) -> CustomerHold:
    """End ``hold`` early from ``on`` (the entity's today): ``cases.services.hold_end``, with one
    audit event ``hold_lift`` (the end before and after)."""
    return hold_end(hold=hold, on=on, audit_action=HOLD_LIFT_AUDIT_ACTION, actor=actor)

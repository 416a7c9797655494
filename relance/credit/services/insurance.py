"""Credit insurance (issue 15, item 10): set a customer's cover, and give the credit manager a task
when an overdue invoice nears the insurer's declaration deadline.

**The declaration deadline** of an overdue invoice is its due date + the policy's
``declaration_days`` (the insurer's maximum extension period: an overdue not declared by then is
not covered). From ``DECLARATION_LEAD_DAYS`` before it (and up to the day itself), the daily run
creates one task per invoice for the credit manager: a ``delivery.CallTask`` (the tasks collectors
already work from My accounts and the worklist), recorded in ``DeclarationTask`` so that an
invoice is never tasked twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from relance.accounts.roles import CREDIT_MANAGER
from relance.core.errors import ValidationFailed
from relance.core.formatting import format_money
from relance.credit.models import CreditProfile, DeclarationTask
from relance.delivery.models import CallTask
from relance.ledger.models import Customer, Entity
from relance.ledger.selectors import customer_invoices_with_open

#: A task is created this many days before the declaration deadline (and until the deadline).
DECLARATION_LEAD_DAYS = 7


def insurance_set(
    *,
    customer: Customer,
    insurer: str,
    policy: str = "",
    insured_limit: Decimal | None,
    currency: str = "",
    cover_expires_on: date | None = None,
    declaration_days: int | None = None,
) -> CreditProfile:
    """Set (or with ``insurer=""`` remove) the customer's credit insurance on its profile; raises
    ``ValidationFailed`` listing every bad field, nothing stored."""
    profile = CreditProfile.objects.filter(customer=customer).first() or CreditProfile(
        entity_id=customer.entity_id, customer=customer
    )
    removing = not insurer
    profile.insurer = insurer.strip()
    profile.insurance_policy = "" if removing else policy.strip()
    profile.insured_limit = None if removing else insured_limit
    profile.insured_currency = "" if removing else (currency or customer.currency).upper()
    profile.cover_expires_on = None if removing else cover_expires_on
    profile.declaration_days = None if removing else declaration_days
    problems = []
    if not removing and insured_limit is None:
        problems.append("insured_limit: required with an insurer")
    if insured_limit is not None and insured_limit < 0:
        problems.append("insured_limit: must not be negative")
    if declaration_days is not None and declaration_days <= 0:
        problems.append("declaration_days: must be a positive number of days")
    try:
        profile.full_clean(exclude=["entity", "customer"])
    except ValidationError as exc:
        problems += [f"{name}: {' '.join(messages)}" for name, messages in exc.message_dict.items()]
    if problems:
        raise ValidationFailed("; ".join(problems), code="invalid_insurance")
    profile.save()
    return profile


def credit_manager_for(entity: Entity) -> Any:
    """Who gets the entity's credit tasks: its first active credit manager (by id) with access to
    the entity, else None (the task then falls to the customer's collector)."""
    users = get_user_model().objects.filter(is_active=True, groups__name=CREDIT_MANAGER)
    return users.filter(entity_access__entity=entity).order_by("pk").first()


@dataclass(frozen=True)
class DeclarationDue:
    invoice_ref: str
    customer_ref: str
    deadline: date
    task_id: int


def declaration_tasks_create(*, entity: Entity, as_of: date) -> list[DeclarationDue]:
    """A task for every overdue invoice of an insured customer whose declaration deadline is within
    ``DECLARATION_LEAD_DAYS`` of ``as_of`` (and not past): once per invoice."""
    profiles = list(
        CreditProfile.objects.filter(entity=entity, declaration_days__isnull=False)
        .exclude(insurer="")
        .select_related("customer", "customer__collector")
    )
    if not profiles:
        return []
    manager = credit_manager_for(entity)
    created: list[DeclarationDue] = []
    for profile in profiles:
        days = int(profile.declaration_days or 0)
        # deadline = due + days ∈ [as_of, as_of + lead]  ⇔  due ∈ [as_of − days, as_of + lead − days]
        first_due = as_of - timedelta(days=days)
        last_due = min(as_of - timedelta(days=1), as_of + timedelta(days=DECLARATION_LEAD_DAYS - days))
        invoices = (
            customer_invoices_with_open(entity_id=entity.pk, customer_ids=[profile.customer_id], as_of=as_of)
            .filter(open_amount__gt=0, due_date__gte=first_due, due_date__lte=last_due)
            .order_by("due_date", "pk")
        )
        tasked = set(
            DeclarationTask.objects.filter(customer_id=profile.customer_id).values_list(
                "invoice_id", flat=True
            )
        )
        for invoice in invoices:
            if invoice.pk in tasked:
                continue
            if profile.cover_expires_on is not None and profile.cover_expires_on < invoice.due_date:
                continue  # fell due after the cover ended: nothing to declare under it
            deadline = invoice.due_date + timedelta(days=days)
            customer = profile.customer
            amount = format_money(Decimal(invoice.open_amount), invoice.currency, "en")
            with transaction.atomic():
                task = CallTask.objects.create(
                    entity_id=entity.pk,
                    customer=customer,
                    assigned_to=manager or customer.collector,
                    due_on=as_of,
                    script=(
                        f"Declare the overdue invoice {invoice.external_ref} ({amount} open, due "
                        f"{invoice.due_date.isoformat()}) to {profile.insurer}"
                        f"{f' under policy {profile.insurance_policy}' if profile.insurance_policy else ''}"
                        f" by {deadline.isoformat()} ({days} days past due): after that day it is not covered."
                    ),
                )
                DeclarationTask.objects.create(
                    entity=entity,
                    customer=customer,
                    invoice=invoice,
                    deadline=deadline,
                    task=task,
                    created_on=as_of,
                )
            created.append(DeclarationDue(invoice.external_ref, customer.external_ref, deadline, task.pk))
    return created

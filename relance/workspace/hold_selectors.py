"""Reads of the "My accounts" page and of the "I'm on it" hold form.

A sales owner sees each account they own with something open: what is open and overdue, the
next escalations the policy will take and when (the customer 360's own ``next_steps``), and the
holds in force; escalations coming soonest first. Others with a role see the accounts they own
or collect, or one sales owner's accounts (``owner_id``); the usual scoping applies on top
(``customer_scope``: a sales user never sees an account they do not own).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet

from relance.accounts import roles
from relance.accounts.selectors import customers_visible, entities_for_user, user_can, user_role
from relance.cases.models import CreditHold, CreditHoldStatus, CustomerHold
from relance.compliance.links import HOLD_DAYS_MAX
from relance.ledger.models import Customer

MY_ACCOUNTS_LIMIT = 200  # a sales owner's book; more is cut (and the page says so)
STEPS_SHOWN = 3
HOLD_DAYS_DEFAULT = 7
PERM_HOLD = "cases.add_customerhold"
PERM_LIFT = "cases.change_customerhold"


@dataclass(frozen=True)
class Balance:
    currency: str
    open_amount: Decimal
    overdue_amount: Decimal


@dataclass(frozen=True)
class AccountRow:
    """One account on "My accounts"."""

    customer: Customer
    balances: tuple[Balance, ...]
    max_days_past_due: int
    steps: tuple[Any, ...]  # ``relance.workspace.selectors.NextStep``, soonest first
    holds: tuple[CustomerHold, ...]
    credit_hold: CreditHold | None

    @property
    def next_on(self) -> date | None:
        return self.steps[0].on if self.steps else None

    @property
    def held_until(self) -> date | None:
        """The last day a hold in force pauses escalation (None: none, or one until removed)."""
        ends = [hold.ends_on for hold in self.holds]
        return None if not ends or None in ends else max(e for e in ends if e is not None)


@dataclass(frozen=True)
class MyAccounts:
    rows: list[AccountRow]
    truncated: bool
    scope: str  # "own" (sales), "mine" (own or collected) or "owner" (one sales owner's)


def owner_choices(*, user: Any) -> QuerySet[Any]:
    """Sales owners of the user's entities (for the filter of non-sales users)."""
    from django.contrib.auth import get_user_model

    return (
        get_user_model()
        .objects.filter(
            groups__name=roles.SALES, entity_access__entity__in=entities_for_user(user), is_active=True
        )
        .distinct()
        .order_by("username")
    )


def _accounts(*, user: Any, owner_id: int | None) -> tuple[QuerySet[Customer], str]:
    customers = customers_visible(user)
    if user_role(user) in roles.OWN_CUSTOMERS_ROLES and not user.is_superuser:
        return customers, "own"
    if owner_id is not None:
        return customers.filter(sales_owner_id=owner_id), "owner"
    return customers.filter(Q(sales_owner=user) | Q(collector=user)), "mine"


def next_steps_of_accounts(
    *, entity: Any, items_by_customer: dict[int, list[Any]], customers: dict[int, Customer], today: date
) -> dict[int, list[Any]]:
    """``relance.workspace.selectors.next_steps`` for many accounts of one entity at once.

    The same rule as the customer 360 (the engine's ``next_step``), with the entity's policies
    parsed once and the reached steps read in one query instead of three queries per account.
    ``tests/workspace/test_holds.py`` checks both give the same steps.
    """
    from relance.dunning.models import SegmentPolicy
    from relance.dunning.selectors import policy_map
    from relance.workspace.selectors import next_step_of, reached_step_keys

    policies = policy_map(entity=entity)
    by_segment = dict(SegmentPolicy.objects.filter(entity=entity).values_list("segment", "policy__key"))
    reached = reached_step_keys(
        invoice_ids=[item.pk for items in items_by_customer.values() for item in items]
    )
    result: dict[int, list[Any]] = {}
    for customer_id, items in items_by_customer.items():
        customer = customers[customer_id]
        policy = policies.get(by_segment.get(customer.segment) or by_segment.get("") or "")
        steps: list[Any] = []
        result[customer_id] = steps
        if policy is None:
            continue
        for item in items:
            next_step = next_step_of(
                item=item, policy=policy, reached_keys=reached.get(item.pk, ()), today=today
            )
            if next_step is not None:
                steps.append(next_step)
        steps.sort(key=lambda step: (step.on, step.invoice_ref))
    return result


def my_accounts(
    *, user: Any, today: date, owner_id: int | None = None, limit: int = MY_ACCOUNTS_LIMIT
) -> MyAccounts:
    """The user's accounts with something open on ``today``, escalations coming soonest first.

    Open invoices are read in one query per entity; the next steps follow the customer 360's
    ``next_steps`` (the engine's ``next_step`` over the recorded ``InvoiceStep`` keys), computed
    for all accounts at once (``next_steps_of_accounts``).
    """
    from relance.ledger.selectors import STILL_OWED, invoice_list_with_open

    customers, scope = _accounts(user=user, owner_id=owner_id)
    by_customer: dict[int, list[Any]] = {}
    accounts: dict[int, Customer] = {}
    steps_of: dict[int, list[Any]] = {}
    entity_ids = customers.values_list("entity_id", flat=True).distinct()
    for entity in entities_for_user(user).filter(pk__in=entity_ids):
        invoices = (
            invoice_list_with_open(entity=entity, as_of=today)
            .filter(customer__in=customers.filter(entity=entity), open_amount__gt=STILL_OWED)
            .order_by("due_date", "external_ref")
        )
        of_entity: dict[int, list[Any]] = {}
        for invoice in invoices:
            invoice.days_past_due = (today - invoice.due_date).days
            of_entity.setdefault(invoice.customer_id, []).append(invoice)
        found = {
            customer.pk: customer
            for customer in Customer.objects.filter(pk__in=list(of_entity)).select_related(
                "entity", "sales_owner", "collector"
            )
        }
        steps_of.update(
            next_steps_of_accounts(entity=entity, items_by_customer=of_entity, customers=found, today=today)
        )
        by_customer.update(of_entity)
        accounts.update(found)
    holds: dict[int, list[CustomerHold]] = {}
    for hold in CustomerHold.objects.filter(
        Q(ends_on__isnull=True) | Q(ends_on__gte=today), customer_id__in=list(accounts), starts_on__lte=today
    ).select_related("created_by"):
        holds.setdefault(hold.customer_id, []).append(hold)
    credit_holds = {
        row.customer_id: row
        for row in CreditHold.objects.filter(customer_id__in=list(accounts), status=CreditHoldStatus.ACTIVE)
    }
    rows = []
    for customer_id, items in by_customer.items():
        customer = accounts[customer_id]
        totals: dict[str, list[Decimal]] = {}
        for item in items:
            pair = totals.setdefault(item.currency, [Decimal(0), Decimal(0)])
            pair[0] += item.open_amount
            if item.days_past_due > 0:
                pair[1] += item.open_amount
        steps = steps_of.get(customer_id, [])
        rows.append(
            AccountRow(
                customer=customer,
                balances=tuple(Balance(cur, pair[0], pair[1]) for cur, pair in sorted(totals.items())),
                max_days_past_due=max(item.days_past_due for item in items),
                steps=tuple(steps[:STEPS_SHOWN]),
                holds=tuple(holds.get(customer_id, ())),
                credit_hold=credit_holds.get(customer_id),
            )
        )
    far = date.max
    rows.sort(key=lambda row: (row.next_on or far, -row.max_days_past_due, row.customer.name))
    return MyAccounts(rows=rows[:limit], truncated=len(rows) > limit, scope=scope)


@dataclass(frozen=True)
class HoldForm:
    """What the hold panel shows: may the user hold, the limits, and what a hold would do."""

    customer: Customer
    can_hold: bool
    days_default: int
    days_max: int
    reason_max: int
    today: date
    ends_default: date
    holds: tuple[CustomerHold, ...]
    is_owner: bool
    liftable: frozenset[int] = frozenset()  # ids of ``holds`` the user may lift now


def hold_lift_allowed(*, user: Any, hold: CustomerHold) -> bool:
    """Who may end a hold early: a role that may change holds on the account, or the person who
    asked for it (a sales owner's "I'm on it" is theirs to call off)."""
    if user_can(user, PERM_LIFT, hold.customer):
        return True
    asked_by_user = hold.created_by_id is not None and hold.created_by_id == getattr(user, "pk", None)
    return asked_by_user and user_can(user, PERM_HOLD, hold.customer)


def hold_form(*, user: Any, customer: Customer, today: date) -> HoldForm:
    from relance.cases.selectors import hold_list_in_force
    from relance.compliance.services import HOLD_REASON_MAX

    holds = tuple(hold_list_in_force(customer=customer, on=today).select_related("created_by", "customer"))
    return HoldForm(
        customer=customer,
        can_hold=user_can(user, PERM_HOLD, customer),
        days_default=HOLD_DAYS_DEFAULT,
        days_max=HOLD_DAYS_MAX,
        reason_max=HOLD_REASON_MAX,
        today=today,
        ends_default=today + timedelta(days=HOLD_DAYS_DEFAULT),
        holds=holds,
        is_owner=customer.sales_owner_id is not None and customer.sales_owner_id == getattr(user, "pk", None),
        liftable=frozenset(hold.pk for hold in holds if hold_lift_allowed(user=user, hold=hold)),
    )

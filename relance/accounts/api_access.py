"""What an API request needs: the model behind its path, and the permission for its method.

Reads need ``view_<model>``; writes need ``add_<model>`` and ``change_<model>``. Read-only roles
are refused every write, also on endpoints added later that are not in ``API_RESOURCES``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from relance.accounts import roles
from relance.accounts.selectors import user_can, user_is_read_only, user_role

API_PREFIX = "/api/v1/"
API_RESOURCES = {
    "customers": "ledger.customer",
    "contacts": "ledger.contact",
    "invoices": "ledger.invoice",
    "credit-notes": "ledger.creditnote",
    "payments": "ledger.payment",
    "allocations": "ledger.allocation",
    "orders": "ledger.order",
    "kpis": "ledger.invoice",  # figures over the entity's invoices: who may read invoices
    "forecast": "ledger.invoice",  # the same: the predicted collections of the entity's invoices
    # the order release check: who may read credit profiles
    "credit/check": "credit.creditprofile",
    "credit/applications": "credit.creditapplication",
    "bank/statements": "cashapp.bankstatement",  # importing one: add and change statements
    "bank/lines": "cashapp.bankline",  # deciding on one (accept, split, assign, unapply): add and change lines
    "bank/applications": "cashapp.bankline",  # applied cash, for the ERP: who may read the lines
    # the case and its activity (issue 18): the permissions the workspace pages check
    "promises": "cases.promise",  # the promise queue; creating or cancelling one: add and change
    "disputes": "cases.dispute",
    "plans": "cases.paymentplan",
    "credit/holds": "cases.credithold",
    "holds": "cases.customerhold",  # dunning holds ("I'm on it"); lifting one: hold_lift_allowed too
    "contact-log": "cases.contactlog",
    "notes": "cases.contactlog",  # the page's note form needs the outcome permission (add_contactlog)
    "messages": "delivery.outboundmessage",
    "outbox": "delivery.outboundmessage",
    "runs": "dunning.dunningrun",
    "worklist": "dunning.worklistentry",
    "timeline": "ledger.customer",  # the customer page's timeline: who may read the customer
    "call-tasks": "delivery.calltask",  # completing them: the outcome permission too
    "snoozes": "dunning.worklistentry",  # the worklist's snooze: change_worklistentry, as on the page
    "saved-views": "dunning.worklistentry",
    "policies": "dunning.policy",
    "credit/reviews": "credit.creditreview",
    "audit-events": "audit.auditevent",  # admins and auditors
    "webhooks/endpoints": "webhooks.webhookendpoint",  # only the admin role holds webhooks.*
}
#: Resources named by their first two path segments (``/bank/lines/7``: resource ``bank/lines``).
NESTED_RESOURCES = frozenset({"bank", "credit", "webhooks"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
READ_ONLY_ROLE = "your role ({role}) can read but not change anything"
NO_PERMISSION = "your role ({role}) may not {verb} {resource}"
SALES_NO_API = "the sales role uses the dashboard: API lists are not limited to the accounts you own"
NO_ROLE = "you have no role yet: ask an administrator"


@dataclass(frozen=True)
class ApiTarget:
    resource: str  # "customers"
    model: str | None  # "ledger.customer", None for an endpoint not in API_RESOURCES
    ref: str | None  # the ref of /customers/{ref}; None for lists and bulk
    bulk: bool


def api_target(path: str) -> ApiTarget | None:
    if not path.startswith(API_PREFIX):
        return None
    rest = path[len(API_PREFIX) :].strip("/")
    resource, _, ref = rest.partition("/")
    if resource in NESTED_RESOURCES:
        child, _, ref = ref.partition("/")
        resource = f"{resource}/{child}"
    return ApiTarget(
        resource=resource,
        model=API_RESOURCES.get(resource),
        ref=ref if ref and ref != "bulk" else None,
        bulk=ref == "bulk",
    )


def api_access_denial(*, user: Any, method: str, path: str) -> str | None:
    """Why ``user`` may not make this request (a sentence for the 403), or None when allowed."""
    if user.is_superuser:
        return None
    role = user_role(user)
    if role is None:
        return NO_ROLE
    if role in roles.OWN_CUSTOMERS_ROLES:
        return SALES_NO_API
    target = api_target(path)
    write = method.upper() not in SAFE_METHODS
    if write and user_is_read_only(user):
        return READ_ONLY_ROLE.format(role=role)
    if target is None or target.model is None:
        return None
    app_label, model = target.model.split(".")
    actions = ("add", "change") if write else ("view",)
    if all(user_can(user, f"{app_label}.{action}_{model}") for action in actions):
        return None
    return NO_PERMISSION.format(role=role, verb="change" if write else "read", resource=target.resource)

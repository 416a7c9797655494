"""The roles: which Django model permissions each role's group holds.

A role is a Django group whose name is in ``ROLES``. The table below is the one definition: the
data migration creates the groups and ``roles_sync`` (run after every ``migrate``) gives each group
the permissions its rules match, so models added later by other apps are picked up by pattern.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

ADMIN = "admin"
CREDIT_MANAGER = "credit_manager"
COLLECTOR = "collector"
SALES = "sales"
SUPPORT = "support"
AUDITOR = "auditor"

ROLES = (ADMIN, CREDIT_MANAGER, COLLECTOR, SALES, SUPPORT, AUDITOR)
# Roles that change nothing: every unsafe request they make (web or API) is a 403.
READ_ONLY_ROLES = frozenset({SUPPORT, AUDITOR})
# Roles that see every entity without an EntityAccess grant.
ALL_ENTITIES_ROLES = frozenset({ADMIN})
# Roles whose customers are only those they own (Customer.sales_owner).
OWN_CUSTOMERS_ROLES = frozenset({SALES})
# Roles that may use the Django admin (is_staff). The admin is not entity-scoped, so only admins.
STAFF_ROLES = frozenset({ADMIN})

VIEW = ("view",)
ALL = ("view", "add", "change", "delete")
WRITE = ("view", "add", "change")
BUSINESS_APPS = (
    "ledger",
    "cases",
    "dunning",
    "comms",
    "delivery",
    "charges",
    "compliance",
    "ingest",
    "reports",
    "cashapp",
    "quality",  # duplicate customers and merges: credit managers merge (issue 19)
)


@dataclass(frozen=True)
class Rule:
    """``pattern`` matches ``app_label.model`` (fnmatch, lower case); ``actions`` are Django's."""

    pattern: str
    actions: tuple[str, ...]


def _apps(actions: tuple[str, ...]) -> tuple[Rule, ...]:
    return tuple(Rule(f"{app}.*", actions) for app in BUSINESS_APPS)


# What sales, support and collectors may read of credit management: scores, reasons, decisions,
# reviews and applications, never a bureau report (its raw payload is for credit managers only).
CREDIT_READABLE = (
    "credit.creditscore",
    "credit.creditprofile",
    "credit.creditdecision",
    "credit.creditreview",
    "credit.creditapplication",
    "credit.utilisationnotice",
    "credit.scorecard",
)


def _credit_view() -> tuple[Rule, ...]:
    return tuple(Rule(model, VIEW) for model in CREDIT_READABLE)


ROLE_RULES: dict[str, tuple[Rule, ...]] = {
    ADMIN: (Rule("*.*", ALL),),
    CREDIT_MANAGER: (*_apps(ALL), Rule("credit.*", ALL)),
    COLLECTOR: (
        *_apps(VIEW),
        *_credit_view(),
        Rule("cases.promise", WRITE),
        Rule("cases.dispute", WRITE),
        Rule("cases.contactlog", WRITE),
        Rule("cases.paymentplan", WRITE),
        Rule("cases.installment", WRITE),
        Rule("dunning.worklistentry", WRITE),
        Rule("cases.customerhold", WRITE),
        Rule("*.holdrequest", WRITE),
        Rule("*.note", WRITE),
        Rule("delivery.calltask", WRITE),
        Rule("ledger.contact", WRITE),
        Rule("cashapp.bankline", WRITE),  # collectors work the bank lines (issue 17)
    ),
    SALES: (
        Rule("ledger.customer", VIEW),
        Rule("ledger.contact", VIEW),
        Rule("ledger.invoice", VIEW),
        Rule("ledger.creditnote", VIEW),
        Rule("ledger.payment", VIEW),
        Rule("ledger.allocation", VIEW),
        Rule("cases.promise", VIEW),
        Rule("cases.dispute", VIEW),
        Rule("cases.paymentplan", VIEW),
        Rule("dunning.dunningaction", VIEW),
        Rule("cases.customerhold", ("view", "add")),
        Rule("*.holdrequest", ("view", "add")),
        Rule("cashapp.bankline", VIEW),
        *_credit_view(),
    ),
    SUPPORT: (*_apps(VIEW), *_credit_view()),
    AUDITOR: (Rule("*.*", VIEW),),
}

ROLE_LABELS = {
    ADMIN: "Administrator",
    CREDIT_MANAGER: "Credit manager",
    COLLECTOR: "Collector",
    SALES: "Sales owner",
    SUPPORT: "Support",
    AUDITOR: "Auditor",
}


def role_grants(role: str, *, app_label: str, model: str, action: str) -> bool:
    """Whether ``role``'s rules give ``action`` on ``app_label.model``."""
    name = f"{app_label}.{model}".lower()
    return any(fnmatchcase(name, rule.pattern) and action in rule.actions for rule in ROLE_RULES[role])

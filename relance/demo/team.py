"""The demo's team: one person per role, signing in with a demo-only password, and the portfolio
split between them (collectors by segment, sales owners by account), so every page has an owner.

The password is printed and written in the README: it is refused outside a local demo
(``demo_passwords_refusal``) unless ``relance demo --demo-passwords`` says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from relance.accounts import roles
from relance.ledger.models import Customer, Entity
from relance.ledger.services import data_version_bump

DEMO_PASSWORD = "demo-only-relance"  # printed on purpose: a demo login, refused in production
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
PASSWORDS_REFUSED = (
    "refusing to give the demo team the published password {password!r}: {why}. Run the demo on a "
    "local address with development settings, or pass --demo-passwords if this server is a demo "
    "nobody relies on (or --no-team to seed no team)."
)
COLLECTOR_ONE_SEGMENTS = ("key account", "high risk")  # the senior collector's segments


@dataclass(frozen=True)
class TeamMember:
    username: str
    role: str
    name: str
    portfolio: str  # what the member works on, in words (printed with the logins)


TEAM: tuple[TeamMember, ...] = (
    TeamMember("claire@demo.example", roles.CREDIT_MANAGER, "Claire Martin", "the whole ledger"),
    TeamMember("ana@demo.example", roles.COLLECTOR, "Ana Duarte", "collects key accounts and high risk"),
    TeamMember("ben@demo.example", roles.COLLECTOR, "Ben Okafor", "collects standard and small business"),
    TeamMember("sofia@demo.example", roles.SALES, "Sofia Rossi", "owns every other account, from the first"),
    TeamMember("tom@demo.example", roles.SALES, "Tom Weber", "owns every other account, from the second"),
    TeamMember("sam@demo.example", roles.SUPPORT, "Sam Lee", "reads accounts and why pages"),
    TeamMember("audrey@demo.example", roles.AUDITOR, "Audrey Blanc", "reads everything and the audit trail"),
)


@dataclass(frozen=True)
class SeededLogin:
    """One printed login: ``password`` is None when the account existed with another password
    (the demo never takes over an account it did not make)."""

    username: str
    role: str
    name: str
    portfolio: str
    password: str | None
    created: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "role": self.role,
            "name": self.name,
            "portfolio": self.portfolio,
            "password": self.password,
            "created": self.created,
        }


def demo_passwords_refusal(*, host: str) -> str | None:
    """Why the published demo password must not be used here, or None when it may.

    It may on a local demo: development settings (``DEBUG``), or the base settings serving a
    loopback address. Production settings (secure cookies) or an address others can reach refuse.
    """
    if settings.DEBUG:
        return None
    if getattr(settings, "SESSION_COOKIE_SECURE", False):
        return "these are production settings (secure cookies)"
    if host not in LOCAL_HOSTS:
        return f"the demo serves on {host}, which others can reach, and DEBUG is off"
    return None


def _member_seed(member: TeamMember, entity: Entity, password: str) -> SeededLogin:
    from relance.accounts.services import entity_access_grant, user_create

    user = get_user_model().objects.filter(username__iexact=member.username).first()
    first, _, last = member.name.partition(" ")
    if user is None:
        user = user_create(
            email=member.username, role=member.role, entity_names=[entity.name], password=password
        )
        user.first_name, user.last_name = first, last
        user.save(update_fields=["first_name", "last_name"])
        created = True
    elif user.check_password(password):
        entity_access_grant(user=user, entity=entity)
        created = False
    else:
        return SeededLogin(member.username, member.role, member.name, member.portfolio, None, False)
    return SeededLogin(member.username, member.role, member.name, member.portfolio, password, created)


@transaction.atomic
def team_seed(*, entity: Entity, password: str = DEMO_PASSWORD) -> list[SeededLogin]:
    """Create the team (or find it again: a second call adds nobody) and grant it the entity."""
    return [_member_seed(member, entity, password) for member in TEAM]


def team_users(logins: Sequence[SeededLogin]) -> dict[str, Any]:
    """The team's users by role and position ("collector", "collector_2"…), those the demo owns only."""
    users = get_user_model().objects.in_bulk(
        [login.username for login in logins if login.password is not None], field_name="username"
    )
    by_role: dict[str, Any] = {}
    for login in logins:
        user = users.get(login.username)
        if user is None:
            continue
        key = login.role if login.role not in by_role else f"{login.role}_2"
        by_role[key] = user
    return by_role


@transaction.atomic
def portfolio_assign(*, entity: Entity, users: dict[str, Any]) -> int:
    """Give every customer without one a collector (by segment) and a sales owner (alternating by
    reference). Accounts already assigned keep their people. One bulk write: the ledger's data
    version is bumped by hand. Returns how many customers changed."""
    first, second = users.get(roles.COLLECTOR), users.get(f"{roles.COLLECTOR}_2")
    owners = [user for user in (users.get(roles.SALES), users.get(f"{roles.SALES}_2")) if user is not None]
    changed = []
    customers = Customer.objects.filter(entity=entity).order_by("external_ref")
    for position, customer in enumerate(customers.only("pk", "segment", "collector", "sales_owner")):
        dirty = False
        collector = first if customer.segment in COLLECTOR_ONE_SEGMENTS else second
        if customer.collector_id is None and collector is not None:
            customer.collector = collector
            dirty = True
        if customer.sales_owner_id is None and owners:
            customer.sales_owner = owners[position % len(owners)]
            dirty = True
        if dirty:
            changed.append(customer)
    Customer.objects.bulk_update(changed, ["collector", "sales_owner"], batch_size=1000)
    if changed:
        data_version_bump(entity_id=entity.pk, earliest=None)
    return len(changed)

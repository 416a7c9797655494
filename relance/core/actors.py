"""Who did something to a case: a typed actor, passed explicitly to every service that changes one.

An actor is a value, not a context: a view passes ``Actor.user(request.user)``, the API the token's
actor, the portal the link's, a management command ``Actor.cli()``, the daily run
``Actor.system(...)``. The case timeline (``relance.audit.models.CaseEvent``) stores its kind,
its ids and its ``label`` (kept after the user, token or link is gone).

Pure Python: the constructors read only attributes (``pk``, ``get_username()``, ``prefix``) of
the objects they are given.
"""

from __future__ import annotations

import enum
import getpass
from dataclasses import dataclass
from typing import Any


class ActorKind(enum.StrEnum):
    USER = "user"  # a signed-in user (a page of the workspace or the admin)
    PORTAL = "portal"  # the customer, through a portal link
    SYSTEM = "system"  # a run or a job: nobody in particular
    API = "api"  # an API token (on behalf of its user)
    CLI = "cli"  # an operator at the command line


ACTOR_KINDS = tuple(kind.value for kind in ActorKind)


def os_user_name() -> str:
    """The operating-system user running this process ("" when it cannot be told)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


@dataclass(frozen=True)
class Actor:
    """One actor. ``label``: who, in words (``alice``, ``portal link 42``, ``cli:bob``, ``token ab12
    of alice``, ``run 2026-12-01``)."""

    kind: ActorKind
    label: str
    user_id: int | None = None  # user; api (the token's user)
    token_id: int | None = None  # api
    link_id: int | None = None  # portal
    os_user: str = ""  # cli
    run_id: int | None = None  # system, when a dunning run acts

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", ActorKind(self.kind))
        object.__setattr__(self, "label", (self.label or self.kind.value)[:200])

    @classmethod
    def user(cls, user: Any) -> Actor:
        """A signed-in user (``request.user``)."""
        return cls(ActorKind.USER, _username(user), user_id=user.pk)

    @classmethod
    def portal(cls, link: Any) -> Actor:
        """The customer, through the portal link ``link``."""
        return cls(ActorKind.PORTAL, f"portal link {link.pk}", link_id=link.pk)

    @classmethod
    def api(cls, token: Any) -> Actor:
        """An API token, on behalf of its user."""
        user = getattr(token, "user", None)
        owner = f" of {_username(user)}" if user is not None else ""
        return cls(
            ActorKind.API,
            f"token {token.prefix}{owner}",
            user_id=getattr(token, "user_id", None),
            token_id=token.pk,
        )

    @classmethod
    def cli(cls, os_user: str | None = None) -> Actor:
        """An operator at the command line (default: the operating-system user of this process)."""
        name = os_user_name() if os_user is None else os_user
        return cls(ActorKind.CLI, f"cli:{name}" if name else "cli", os_user=name)

    @classmethod
    def system(cls, label: str = "system", *, run_id: int | None = None) -> Actor:
        """A run or a job (``Actor.system("run 2026-12-01", run_id=7)``)."""
        return cls(ActorKind.SYSTEM, label, run_id=run_id)

    @classmethod
    def of_user_or_system(cls, user: Any, label: str = "system") -> Actor:
        """A signed-in user when there is one, else the system (for services a job also calls)."""
        if user is not None and getattr(user, "pk", None) is not None:
            return cls.user(user)
        return cls.system(label)


SYSTEM = Actor.system()


def _username(user: Any) -> str:
    get_username = getattr(user, "get_username", None)
    return str(get_username() if callable(get_username) else getattr(user, "username", user))

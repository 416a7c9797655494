"""The current actor of a change, carried in a context variable.

The middleware puts the request there (the actor is read from it when an event is recorded, so a
user set later by API token authentication is seen). Commands and jobs use ``audit_actor``.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AuditContext:
    request: Any = None  # an HttpRequest
    user: Any = None
    label: str = ""
    request_id: str = ""
    ip: str | None = None
    suppressed: bool = False


_current: contextvars.ContextVar[AuditContext | None] = contextvars.ContextVar("relance_audit", default=None)


def audit_context() -> AuditContext | None:
    return _current.get()


@contextmanager
def audit_context_set(context: AuditContext | None) -> Iterator[None]:
    token = _current.set(context)
    try:
        yield
    finally:
        _current.reset(token)


@contextmanager
def audit_actor(*, label: str, user: Any = None) -> Iterator[None]:
    """Record model changes made inside the block as done by ``label`` (and ``user`` if given),
    e.g. ``with audit_actor(label="cli:alice"):`` in a management command."""
    with audit_context_set(AuditContext(user=user, label=label)):
        yield


def cli_actor_label() -> str:
    """``cli:<operating-system user>``: the actor of a management command."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@contextmanager
def audit_suppressed() -> Iterator[None]:
    """No per-row events inside the block: for bulk work that records one event for the whole."""
    from dataclasses import replace

    context = _current.get() or AuditContext()
    with audit_context_set(replace(context, suppressed=True)):
        yield

"""Facts a message's wording needs from the apps above comms, handed down by those apps.

comms sits below delivery and portal in the layers (docs/architecture.md), yet "despite our
previous reminder" depends on what delivery sent, and a plan decision's message on the portal's
plan request. The apps register their readers here when they start (``AppConfig.ready``); comms
asks through the functions below. An unregistered reader is an ``ImproperlyConfigured`` error,
never a silent default: every app is always installed.
"""

from __future__ import annotations

from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured

from relance.ledger.models import Customer

NOT_REGISTERED = "no reader registered for the message fact {name!r}: is the {app} app installed?"


class RemindedBefore(Protocol):
    def __call__(self, *, customer: Customer, action: Any) -> bool:
        """Did an earlier reminder about overdue items (not ``action``'s) go out to the customer?"""
        ...


class DecidedPlanRequest(Protocol):
    def __call__(self, *, customer: Customer) -> Any:
        """The customer's newest decided plan request (``status``, ``decision_note``, ``plan``), or None."""
        ...


_readers: dict[str, Any] = {}


def reminded_before_register(reader: RemindedBefore) -> None:
    _readers["reminded_before"] = reader


def decided_plan_request_register(reader: DecidedPlanRequest) -> None:
    _readers["decided_plan_request"] = reader


def _reader(name: str, app: str) -> Any:
    try:
        return _readers[name]
    except KeyError:
        raise ImproperlyConfigured(NOT_REGISTERED.format(name=name, app=app)) from None


def reminded_before(*, customer: Customer, action: Any) -> bool:
    reader: RemindedBefore = _reader("reminded_before", "delivery")
    return reader(customer=customer, action=action)


def decided_plan_request(*, customer: Customer) -> Any:
    reader: DecidedPlanRequest = _reader("decided_plan_request", "portal")
    return reader(customer=customer)

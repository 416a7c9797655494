"""Payment providers of the portal: how a customer pays the invoices they chose.

A backend either sends the customer to the provider (``start`` returns a redirect URL: card data
never touches Relance) or shows instructions (``start`` returns a template and its context). The
backends offered are ``settings.RELANCE_PORTAL_PAYMENT_BACKENDS`` (dotted paths, in the order shown);
a backend that is not configured (no API key) is not offered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

from django.conf import settings
from django.utils.module_loading import import_string

from relance.portal.models import PortalLink

DEFAULT_BACKENDS = (
    "relance.portal.payments.stripe.StripeCheckoutBackend",
    "relance.portal.payments.bank.BankTransferBackend",
)


@dataclass(frozen=True)
class PaymentRequest:
    """What the customer chose to pay."""

    link: PortalLink
    invoices: Sequence[Any]  # invoices annotated with open_amount
    amount: Decimal
    currency: str
    success_url: str
    cancel_url: str
    ip: str | None = None


@dataclass(frozen=True)
class PaymentStart:
    """Where the customer goes next: a provider's page, or one of ours with instructions."""

    redirect_url: str = ""
    template: str = ""
    context: dict[str, Any] = field(default_factory=dict)


class PaymentBackend:
    key: ClassVar[str] = ""
    label: ClassVar[str] = ""

    def available(self, *, link: PortalLink, currency: str) -> bool:
        return True

    def start(self, request: PaymentRequest) -> PaymentStart:
        raise NotImplementedError


class WebhookRefused(Exception):
    """A webhook call that is not genuinely from the provider (bad signature, too old, malformed)."""


def payment_backends() -> list[PaymentBackend]:
    paths = getattr(settings, "RELANCE_PORTAL_PAYMENT_BACKENDS", DEFAULT_BACKENDS)
    return [import_string(path)() for path in paths]


def payment_backend(key: str) -> PaymentBackend | None:
    return next((backend for backend in payment_backends() if backend.key == key), None)

"""Bank transfer: the creditor's IBAN, an RF creditor reference and the SEPA (EPC) QR code."""

from __future__ import annotations

from decimal import Decimal

from relance.core import payment_refs
from relance.portal.models import PortalLink
from relance.portal.payments.base import PaymentBackend, PaymentRequest, PaymentStart


def rf_reference(seed: str) -> str:
    return payment_refs.rf_reference(seed)


def epc_qr_svg(*, name: str, iban: str, bic: str, amount: Decimal, reference: str) -> str:
    """The EPC QR code as inline SVG ("" when the payment cannot be expressed as one)."""
    try:
        return payment_refs.epc_qr_svg(
            name=name, iban=iban, bic=bic, amount=amount, currency="EUR", reference=reference
        )
    except Exception:  # amount out of range, name too long…: the page shows the details without a QR code
        return ""


class BankTransferBackend(PaymentBackend):
    key = "bank"
    label = "Bank transfer"

    def available(self, *, link: PortalLink, currency: str) -> bool:
        return bool(link.customer.entity.iban)

    def start(self, request: PaymentRequest) -> PaymentStart:
        entity = request.link.customer.entity
        seed = f"portal:{entity.pk}:{request.link.customer_id}:" + ",".join(
            str(i.pk) for i in request.invoices
        )
        reference = rf_reference(seed)
        name = entity.legal_name or entity.name
        qr = (
            epc_qr_svg(
                name=name, iban=entity.iban, bic=entity.bic, amount=request.amount, reference=reference
            )
            if request.currency == "EUR"
            else ""
        )
        return PaymentStart(
            template="portal/pay_bank.html",
            context={
                "beneficiary": name,
                "iban": entity.iban,
                "bic": entity.bic,
                "reference": reference,
                "reference_display": " ".join(reference[i : i + 4] for i in range(0, len(reference), 4)),
                "amount": request.amount,
                "currency": request.currency,
                "qr_svg": qr,
                "invoices": request.invoices,
            },
        )

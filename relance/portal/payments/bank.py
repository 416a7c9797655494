"""Bank transfer: the creditor's IBAN, an RF creditor reference and the SEPA (EPC) QR code."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from relance.portal.models import PortalLink
from relance.portal.payments.base import PaymentBackend, PaymentRequest, PaymentStart


def rf_reference(seed: str) -> str:
    shared: Callable[[str], str] | None
    try:
        from relance.core.payment_refs import rf_reference as shared
    except ImportError:
        shared = None
    if shared is not None:
        return shared(seed)
    import hashlib

    from stdnum import iso11649

    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    body = ""
    for _ in range(16):
        number, digit = divmod(number, 36)
        body += alphabet[digit]
    digits = "".join(str(alphabet.index(char)) for char in body + "RF00")
    return str(iso11649.validate(f"RF{98 - int(digits) % 97:02d}{body}"))


def epc_qr_svg(*, name: str, iban: str, bic: str, amount: Decimal, reference: str) -> str:
    """The EPC QR code as inline SVG ("" when the payment cannot be expressed as one)."""
    shared: Callable[..., str] | None
    try:
        from relance.core.payment_refs import epc_qr_svg as shared
    except ImportError:
        shared = None
    try:
        if shared is not None:
            return shared(name=name, iban=iban, bic=bic, amount=amount, currency="EUR", reference=reference)
        import io

        import segno.helpers

        qr = segno.helpers.make_epc_qr(
            name=name[:70], iban=iban, amount=amount, bic=bic or None, reference=reference
        )
        buffer = io.BytesIO()
        qr.save(buffer, kind="svg", scale=4, xmldecl=False)
        return buffer.getvalue().decode()
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

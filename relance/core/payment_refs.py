"""Payment references and payment QR codes: what a debtor needs to pay without retyping anything.

* ``rf_reference``: an ISO 11649 structured creditor reference ("RF…") derived from a seed (the
  message key), so the same message always carries the same reference and a payment quoting it
  can be matched back to the message that asked for it.
* ``epc_qr_payload``: the EPC069-12 version 002 payload ("GiroCode", SEPA credit transfer QR code),
  rendered with segno by ``epc_qr_svg`` and ``epc_qr_png``.

Pure: no Django. Validated with python-stdnum and schwifty.
"""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass
from decimal import Decimal

import segno
from stdnum import iso11649

from relance.core.errors import ValidationFailed
from relance.core.identifiers import normalise_bic, normalise_iban

RF_BODY_LENGTH = 16
"""Characters of the reference body: 36**16 ≈ 8e24 distinct references, short enough to type."""

RF_MAX_BODY = 21
"""ISO 11649: at most 21 letters and digits after ``RF`` and the two check digits."""
QR_BODY_LENGTH = 26
"""A QR-bill (QRR) reference: 26 digits and a check digit."""

EPC_MAX_NAME = 70
EPC_MAX_REFERENCE = 35
EPC_MAX_TEXT = 140
EPC_MAX_BYTES = 331
EPC_MIN_AMOUNT = Decimal("0.01")
EPC_MAX_AMOUNT = Decimal("999999999.99")

EMPTY_SEED = "an RF reference needs a non-empty seed"
EPC_EUR_ONLY = "an EPC QR code is for euro transfers only, not {currency}"
EPC_AMOUNT_RANGE = "an EPC QR code amount must be between 0.01 and 999999999.99 EUR, not {amount}"
EPC_NAME_LENGTH = "the beneficiary name must be 1 to 70 characters"
EPC_REFERENCE_INVALID = "the structured reference {reference!r} is not a valid ISO 11649 RF reference"
EPC_TOO_LONG = "the EPC QR payload is {size} bytes, more than the 331 the standard allows"

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _alnum_to_digits(text: str) -> str:
    return "".join(str(_ALPHABET.index(char)) for char in text)


def rf_reference(seed: str) -> str:
    """A valid ISO 11649 reference (``RF`` + 2 check digits + 16 characters) derived from ``seed``."""
    if not seed:
        raise ValidationFailed(EMPTY_SEED)
    number = int.from_bytes(hashlib.sha256(seed.encode("utf-8")).digest(), "big")
    body = []
    for _ in range(RF_BODY_LENGTH):
        number, digit = divmod(number, 36)
        body.append(_ALPHABET[digit])
    text = "".join(body)
    check = 98 - int(_alnum_to_digits(text + "RF00")) % 97
    reference = f"RF{check:02d}{text}"
    return iso11649.validate(reference)


def invoice_rf_reference(invoice_ref: str) -> str:
    """An ISO 11649 reference that carries the invoice ref itself (``INV-2024-0012`` →
    ``RF47INV20240012``), so a payment quoting it is matched without a lookup table. A ref of
    more than 21 letters and digits (the standard's body) gets the hashed ``rf_reference``."""
    body = "".join(char for char in invoice_ref.upper() if char in _ALPHABET)
    if not body:
        raise ValidationFailed(EMPTY_SEED)
    if len(body) > RF_MAX_BODY:
        return rf_reference(f"invoice:{invoice_ref}")
    check = 98 - int(_alnum_to_digits(body + "RF00")) % 97
    return str(iso11649.validate(f"RF{check:02d}{body}"))


def invoice_qr_reference(invoice_ref: str) -> str | None:
    """The Swiss QR-bill reference (27 digits, the last a mod-10-recursive check digit) carrying
    the invoice ref's digits; None when the ref has no digits or more than 26."""
    from stdnum.ch import esr

    digits = "".join(char for char in invoice_ref if char.isdigit())
    if not digits or len(digits) > QR_BODY_LENGTH:
        return None
    body = digits.rjust(QR_BODY_LENGTH, "0")
    return body + str(esr.calc_check_digit(body))


def rf_format(reference: str) -> str:
    """The reference in groups of four, as printed for people: ``RF18 5390 0754 7034``."""
    return str(iso11649.format(reference))


@dataclass(frozen=True, slots=True)
class EpcTransfer:
    """The fields of a SEPA credit transfer request, validated."""

    name: str
    iban: str
    bic: str
    amount: Decimal
    reference: str
    text: str = ""


def _transfer(
    *, name: str, iban: str, bic: str, amount: Decimal, currency: str, reference: str, text: str = ""
) -> EpcTransfer:
    if currency != "EUR":
        raise ValidationFailed(EPC_EUR_ONLY.format(currency=currency))
    if not isinstance(amount, Decimal):
        raise TypeError(f"amount must be Decimal, got {type(amount).__name__}")
    rounded = amount.quantize(Decimal("0.01"))
    if not EPC_MIN_AMOUNT <= rounded <= EPC_MAX_AMOUNT:
        raise ValidationFailed(EPC_AMOUNT_RANGE.format(amount=amount))
    name = " ".join(name.split())
    if not 0 < len(name) <= EPC_MAX_NAME:
        raise ValidationFailed(EPC_NAME_LENGTH)
    if reference and not iso11649.is_valid(reference):
        raise ValidationFailed(EPC_REFERENCE_INVALID.format(reference=reference))
    return EpcTransfer(
        name=name,
        iban=normalise_iban(iban),
        bic=normalise_bic(bic) if bic else "",
        amount=rounded,
        reference=iso11649.compact(reference) if reference else "",
        text="" if reference else " ".join(text.split())[:EPC_MAX_TEXT],
    )


def epc_qr_payload(
    *,
    name: str,
    iban: str,
    bic: str,
    amount: Decimal,
    currency: str,
    reference: str,
    text: str = "",
) -> str:
    """The EPC069-12 v002 payload: one field per line, UTF-8, structured reference or free text.

    Lines: service tag ``BCD``, version ``002``, character set ``1`` (UTF-8), identification ``SCT``,
    BIC (optional in v002), beneficiary name, IBAN, ``EUR`` amount, purpose (empty), structured
    reference, unstructured text (only without a structured reference). Trailing empty lines are
    dropped, as the standard allows.
    """
    transfer = _transfer(
        name=name, iban=iban, bic=bic, amount=amount, currency=currency, reference=reference, text=text
    )
    lines = [
        "BCD",
        "002",
        "1",
        "SCT",
        transfer.bic,
        transfer.name,
        transfer.iban,
        f"EUR{transfer.amount}",
        "",
        transfer.reference,
        transfer.text,
    ]
    while lines[-1] == "":
        lines.pop()
    payload = "\n".join(lines)
    size = len(payload.encode("utf-8"))
    if size > EPC_MAX_BYTES:
        raise ValidationFailed(EPC_TOO_LONG.format(size=size))
    return payload


def _qr(payload: str) -> segno.QRCode:
    # EPC069-12: error correction level M, at most version 13.
    return segno.make_qr(payload, error="m", boost_error=False, encoding="utf-8")


def epc_qr_svg(
    *,
    name: str,
    iban: str,
    bic: str,
    amount: Decimal,
    currency: str,
    reference: str,
    text: str = "",
    scale: int = 4,
) -> str:
    """The EPC QR code as a standalone SVG document (text)."""
    payload = epc_qr_payload(
        name=name, iban=iban, bic=bic, amount=amount, currency=currency, reference=reference, text=text
    )
    buffer = io.BytesIO()
    _qr(payload).save(buffer, kind="svg", scale=scale, xmldecl=False, svgns=True, border=4)
    return buffer.getvalue().decode("utf-8")


def epc_qr_png(
    *,
    name: str,
    iban: str,
    bic: str,
    amount: Decimal,
    currency: str,
    reference: str,
    text: str = "",
    scale: int = 4,
) -> bytes:
    """The EPC QR code as PNG bytes."""
    payload = epc_qr_payload(
        name=name, iban=iban, bic=bic, amount=amount, currency=currency, reference=reference, text=text
    )
    buffer = io.BytesIO()
    _qr(payload).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def data_uri(content: bytes | str, content_type: str) -> str:
    """``data:`` URI for inline images in e-mails and letters."""
    raw = content.encode("utf-8") if isinstance(content, str) else content
    return f"data:{content_type};base64,{base64.b64encode(raw).decode('ascii')}"

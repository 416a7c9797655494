from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import iso11649

from relance.core import payment_refs
from relance.core.errors import ValidationFailed
from relance.core.payment_refs import epc_qr_payload, epc_qr_png, epc_qr_svg, rf_format, rf_reference

IBAN = "DE89370400440532013000"


@given(st.text(min_size=1, max_size=200))
def test_rf_reference_is_valid_iso_11649_and_stable(seed):
    reference = rf_reference(seed)
    assert iso11649.is_valid(reference)
    assert reference.startswith("RF")
    assert len(reference) == 4 + payment_refs.RF_BODY_LENGTH
    assert rf_reference(seed) == reference


def test_rf_reference_differs_per_seed_and_refuses_empty():
    assert rf_reference("run-1/C1/email") != rf_reference("run-1/C2/email")
    with pytest.raises(ValidationFailed, match="non-empty seed"):
        rf_reference("")


def test_rf_format_groups_by_four():
    assert rf_format("RF18539007547034") == "RF18 5390 0754 7034"


def test_epc_payload_lines_exactly():
    reference = rf_reference("message-1")
    payload = epc_qr_payload(
        name="ACME  SAS",
        iban="DE89 3704 0044 0532 0130 00",
        bic="COBADEFFXXX",
        amount=Decimal("1234.5"),
        currency="EUR",
        reference=reference,
    )
    assert payload.split("\n") == [
        "BCD",
        "002",
        "1",
        "SCT",
        "COBADEFFXXX",
        "ACME SAS",
        IBAN,
        "EUR1234.50",
        "",
        reference,
    ]


def test_epc_payload_without_bic_and_with_text_instead_of_reference():
    payload = epc_qr_payload(
        name="Société Générale Clients",
        iban=IBAN,
        bic="",
        amount=Decimal("0.01"),
        currency="EUR",
        reference="",
        text="Invoice INV-1",
    )
    assert payload.split("\n") == [
        "BCD",
        "002",
        "1",
        "SCT",
        "",
        "Société Générale Clients",
        IBAN,
        "EUR0.01",
        "",
        "",
        "Invoice INV-1",
    ]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"currency": "USD"}, "euro transfers only"),
        ({"amount": Decimal("0")}, "between 0.01"),
        ({"amount": Decimal("1000000000")}, "between 0.01"),
        ({"name": " "}, "1 to 70"),
        ({"name": "x" * 71}, "1 to 70"),
        ({"reference": "RF00123"}, "not a valid ISO 11649"),
        ({"iban": "DE00370400440532013000"}, "invalid IBAN"),
    ],
)
def test_epc_payload_refuses_what_the_standard_forbids(fields, message):
    base = {
        "name": "ACME",
        "iban": IBAN,
        "bic": "",
        "amount": Decimal("10"),
        "currency": "EUR",
        "reference": rf_reference("x"),
    }
    with pytest.raises(ValidationFailed, match=message):
        epc_qr_payload(**{**base, **fields})


def test_epc_payload_refuses_float():
    with pytest.raises(TypeError):
        epc_qr_payload(name="A", iban=IBAN, bic="", amount=10.0, currency="EUR", reference="")  # type: ignore[arg-type]


def test_qr_images_encode_the_payload():
    fields: dict[str, Any] = {
        "name": "ACME",
        "iban": IBAN,
        "bic": "",
        "amount": Decimal("12.34"),
        "currency": "EUR",
        "reference": rf_reference("y"),
    }
    svg = epc_qr_svg(**fields)
    png = epc_qr_png(**fields)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert png.startswith(b"\x89PNG")
    # Same payload, same symbol: segno is deterministic, and the QR for another amount differs.
    assert epc_qr_svg(**fields) == svg
    assert epc_qr_svg(**{**fields, "amount": Decimal("12.35")}) != svg
    assert payment_refs.data_uri(png, "image/png").startswith("data:image/png;base64,iVBOR")

"""validate_identifier: the company identifiers bureaus and credit applications use (issue 15)."""

import pytest

from relance.core.errors import ValidationFailed
from relance.core.identifiers import validate_identifier


@pytest.mark.parametrize(
    ("kind", "value", "country", "expected"),
    [
        ("vat", "FR 40 303 265 045", None, "FR40303265045"),
        ("vat", "40303265045", "FR", "FR40303265045"),
        ("vat", "fr40303265045", "FR", "FR40303265045"),
        ("vat", "GB 980 7806 84", None, "GB980780684"),
        ("vat", "980780684", "GB", "GB980780684"),
        ("vat", "DE 136 695 976", None, "DE136695976"),
        ("vat", "EL094259216", None, "EL094259216"),
        ("vat", "094259216", "GR", "EL094259216"),
        ("siren", "303 265 045", None, "303265045"),
        ("siret", "732 829 320 00074", "FR", "73282932000074"),
        ("company_number", "07495895", "GB", "07495895"),
        ("company_number", "7495895", None, "07495895"),
        ("company_number", "sc123456", "GB", "SC123456"),
        ("company_number", "303265045", "FR", "303265045"),
        ("company_number", "HRB 12345", "DE", "HRB12345"),
        ("duns", "80-473-5132", None, "804735132"),
        ("duns", "804735132", "US", "804735132"),
    ],
)
def test_valid_identifiers_come_back_compact(kind, value, country, expected):
    assert validate_identifier(kind, value, country) == expected


@pytest.mark.parametrize(
    ("kind", "value", "country", "why"),
    [
        ("vat", "FR41303265045", None, "invalid VAT number 'FR41303265045': The number's checksum"),
        ("vat", "FR40303265045", "GB", "its prefix FR is not the country GB"),
        ("vat", "40303265045", None, "expected a country prefix"),
        ("vat", "GB980780685", None, "invalid VAT number"),
        ("siren", "303265046", None, "invalid SIREN"),
        ("siren", "303265045", "BE", "a SIREN is French, not BE"),
        ("siret", "7328293200007", None, "invalid SIRET '7328293200007': The number has an invalid length"),
        ("company_number", "ABC12345", "GB", "expected eight characters"),
        ("company_number", "123456789", None, "expected eight characters"),
        ("duns", "80473513", None, "expected nine digits"),
        ("duns", "", None, "duns: expected a value"),
        ("lei", "529900T8BM49AURSDO55", None, "unknown identifier kind 'lei'"),
        ("vat", "FR40303265045", "XX", "unknown country 'XX'"),
    ],
)
def test_invalid_identifiers_say_why(kind, value, country, why):
    with pytest.raises(ValidationFailed) as raised:
        validate_identifier(kind, value, country)
    assert why in str(raised.value)

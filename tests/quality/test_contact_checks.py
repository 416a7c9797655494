"""Each contact check on good and bad examples (relance.ledger.contact_checks): offline, no DNS."""

from __future__ import annotations

import pytest

from relance.ledger.contact_checks import address_check, email_check, identifier_check, phone_check


@pytest.mark.parametrize(
    "address", ["ap@dupont.fr", "Compta.Fournisseurs@groupe-martin.co.uk", "billing@xn--mnchen-3ya.de"]
)
def test_a_plain_business_address_is_valid(address):
    found = email_check(address)
    assert (found.status, found.reason) == ("valid", "")


@pytest.mark.parametrize(
    ("address", "status", "words"),
    [
        ("", "invalid", "no e-mail address"),
        ("ap.dupont.fr", "invalid", "is not an e-mail address"),
        ("ap@@dupont.fr", "invalid", "is not an e-mail address"),
        ("ap@localhost", "invalid", "not a domain name"),
        ("ap@[192.168.0.1]", "invalid", "IP address"),
        ("ap@example.com", "suspect", "reserved"),
        ("ap@acme.test", "suspect", "reserved"),
        ("noreply@dupont.fr", "invalid", "no-reply mailbox"),
        ("do-not-reply@dupont.fr", "invalid", "no-reply mailbox"),
        ("jean@mailinator.com", "suspect", "disposable"),
        ("jean@eu.yopmail.com", "suspect", "disposable"),
        ("jean@gmial.com", "suspect", "misspelling of gmail.com"),
        ("info@dupont.fr", "suspect", "generic mailbox"),
    ],
)
def test_bad_and_doubtful_addresses_say_why(address, status, words):
    found = email_check(address)
    assert found.status == status
    assert words in found.reason


def test_a_mobile_number_is_valid_for_sms_and_a_landline_for_calls_only():
    mobile = phone_check("06 12 34 56 78", "FR")
    assert (mobile.status, mobile.kind, mobile.e164) == ("valid", "mobile", "+33612345678")
    landline = phone_check("+33 1 42 68 53 00")
    assert (landline.status, landline.kind) == ("valid", "fixed_line")
    assert "no SMS" in landline.reason


@pytest.mark.parametrize(
    ("number", "country", "words"),
    [
        ("", "FR", "no phone number"),
        ("hello", "FR", "not a phone number"),
        ("06 12", "FR", "not a valid number"),
        ("0612345678", "", "not a phone number"),  # a national number without a country
    ],
)
def test_bad_phone_numbers_are_invalid(number, country, words):
    found = phone_check(number, country)
    assert found.status == "invalid" and words in found.reason and found.kind == ""


def test_a_toll_free_number_is_suspect_and_no_sms():
    found = phone_check("+33 800 123 456")
    assert found.status == "suspect" and found.kind == "other"


@pytest.mark.parametrize(
    ("address", "country"),
    [
        ("12 rue de la Paix\n75002 Paris", "FR"),
        ("Hauptstr. 5, 10115 Berlin", "DE"),
        ("10 Downing Street\nLondon SW1A 2AA", "GB"),
        ("Damrak 1\n1012 LG Amsterdam", "NL"),
        ("Rua Augusta 10\n1100-053 Lisboa", "PT"),
        ("Calle 7, Ciudad", "ZZ"),  # a country without a known postcode format: complete is enough
    ],
)
def test_complete_addresses_are_valid(address, country):
    assert address_check(address, country).status == "valid"


@pytest.mark.parametrize(
    ("address", "country", "status", "words"),
    [
        ("", "FR", "invalid", "no postal address"),
        ("12 rue de la Paix", "FR", "invalid", "street line and a town line"),
        ("12 rue de la Paix\nParis", "FR", "invalid", "no postcode in the FR format"),
        ("12 rue de la Paix\n7500 Paris", "FR", "invalid", "no postcode in the FR format"),
        ("10 Downing Street\nLondon", "GB", "invalid", "no postcode in the GB format"),
        ("12 rue de la Paix\n75002 Paris", "", "suspect", "no country"),
        ("12\n75002", "FR", "invalid", "no town"),
    ],
)
def test_incomplete_addresses_say_what_is_missing(address, country, status, words):
    found = address_check(address, country)
    assert found.status == status and words in found.reason


@pytest.mark.parametrize(
    ("kind", "value", "country", "status"),
    [
        ("iban", "FR76 3000 6000 0112 3456 7890 189", "", "valid"),
        ("iban", "FR76 3000 6000 0112 3456 7890 188", "", "invalid"),
        ("tax_id", "FR40303265045", "FR", "valid"),
        ("tax_id", "FR40303265046", "FR", "invalid"),
        ("siren", "303265045", "FR", "valid"),
        ("siren", "303265046", "FR", "invalid"),
        ("company_number", "SC123456", "GB", "valid"),
        ("company_number", "ABC", "GB", "invalid"),
        ("tax_id", "", "FR", "valid"),  # nothing to check: completeness counts it, not validity
    ],
)
def test_identifiers_use_the_ledger_rules(kind, value, country, status):
    assert identifier_check(kind, value, country).status == status

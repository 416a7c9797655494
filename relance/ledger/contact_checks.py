"""Contact validation (issue 19): is each address of a contact fit for a reminder, and why not.

Every check runs offline: no DNS, no SMTP probe, no lookup at run time. E-mail syntax is the
import's rule (Django's ``validate_email``, as ``relance.ingest.parsing``); its domain is checked
against the shipped lists in ``relance/ledger/data`` (disposable domains, misspelt providers,
role addresses); phone numbers and their kind come from ``phonenumbers`` and postal addresses
from the per-country postcode formats (``data/postcodes.txt``); VAT and company numbers from
``relance.core.identifiers`` (python-stdnum), the one home of those rules.

A check returns a ``Finding``: a status (valid, suspect, invalid) and the reason in words. A
bounce or a returned letter is not a check's business: those statuses are kept until the
address itself changes (``contacts_validate``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from relance.core.errors import ValidationFailed

DATA = Path(__file__).with_name("data")

VALID = "valid"
SUSPECT = "suspect"
INVALID = "invalid"
#: Statuses set by what happened to a message, not by a check: a check never replaces them.
EVENT_STATUSES = ("bounced", "returned", "bouncing")
#: Domains that can never receive mail (RFC 2606 and RFC 6761 special-use names).
RESERVED_DOMAINS = ("example.com", "example.org", "example.net")
RESERVED_SUFFIXES = (".test", ".example", ".invalid", ".localhost", ".local", ".internal")


@dataclass(frozen=True)
class Finding:
    """The status of one address and why, in words a collector understands."""

    status: str
    reason: str

    @property
    def is_problem(self) -> bool:
        return self.status != VALID


OK = Finding(VALID, "")


def _lines(name: str) -> Iterable[list[str]]:
    for raw in (DATA / name).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            yield line.split(None, 1)


@lru_cache(maxsize=1)
def disposable_domains() -> frozenset[str]:
    return frozenset(parts[0].lower() for parts in _lines("disposable_domains.txt"))


@lru_cache(maxsize=1)
def role_addresses() -> dict[str, str]:
    """Local part → ``no_reply`` or ``generic``."""
    return {parts[1].lower(): parts[0] for parts in _lines("role_addresses.txt")}


@lru_cache(maxsize=1)
def provider_typos() -> dict[str, str]:
    return {parts[0].lower(): parts[1].lower() for parts in _lines("email_typos.txt")}


@lru_cache(maxsize=1)
def postcode_formats() -> dict[str, re.Pattern[str]]:
    """Country → a pattern finding its postcode in a line of an address."""
    return {
        parts[0].upper(): re.compile(rf"(?<![\w-])(?:{parts[1]})(?![\w-])", re.IGNORECASE)
        for parts in _lines("postcodes.txt")
    }


# ---------------------------------------------------------------------------------------- e-mail

_DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def email_check(address: str) -> Finding:
    """``valid``; ``suspect`` (disposable domain, generic role, a provider's name misspelt);
    ``invalid`` (not an address, a domain that cannot receive mail, a no-reply mailbox)."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    text = (address or "").strip()
    if not text:
        return Finding(INVALID, "no e-mail address")
    try:
        validate_email(text)
    except ValidationError:
        return Finding(INVALID, f"{text!r} is not an e-mail address")
    local, _, domain = text.rpartition("@")
    local, domain = local.lower(), domain.lower().rstrip(".")
    if domain.startswith("[") or re.fullmatch(r"[\d.]+", domain):
        return Finding(INVALID, f"the domain {domain} is an IP address, not a mail domain")
    labels = domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.match(label) for label in labels):
        return Finding(INVALID, f"the domain {domain} is not a domain name")
    if not labels[-1].isalpha() and not labels[-1].startswith("xn--"):
        return Finding(INVALID, f"the domain {domain} has no valid top-level domain")
    if domain in RESERVED_DOMAINS or any(("." + domain).endswith(s) for s in RESERVED_SUFFIXES):
        # Suspect, not invalid: the demo and the documentation's examples use these on purpose
        # (relance/synthetic/names.py) so that no real company is ever written to; a real
        # customer's address there is wrong, and the fix list says so.
        return Finding(SUSPECT, f"the domain {domain} is reserved for examples and never receives mail")
    role = role_addresses().get(local)
    if role == "no_reply":
        return Finding(INVALID, f"{local}@ is a no-reply mailbox: nobody reads it")
    if domain in disposable_domains() or ".".join(labels[-2:]) in disposable_domains():
        return Finding(SUSPECT, f"{domain} is a disposable e-mail service")
    meant = provider_typos().get(domain)
    if meant:
        return Finding(SUSPECT, f"{domain} looks like a misspelling of {meant}")
    if role == "generic":
        return Finding(SUSPECT, f"{local}@ is a generic mailbox, not accounts payable")
    return OK


# ---------------------------------------------------------------------------------------- phone


@dataclass(frozen=True)
class PhoneFinding(Finding):
    """A phone's status, its E.164 form and its kind (``mobile``, ``fixed_line``, ``other``; empty
    when the number could not be read)."""

    e164: str = ""
    kind: str = ""


def phone_check(number: str, country: str = "") -> PhoneFinding:
    """The number read by ``phonenumbers`` (national numbers in ``country``'s plan): ``invalid``
    when it is not a number anywhere; its kind says whether an SMS can go to it."""
    import phonenumbers
    from phonenumbers import PhoneNumberType

    text = (number or "").strip()
    if not text:
        return PhoneFinding(INVALID, "no phone number")
    try:
        parsed = phonenumbers.parse(text, (country or "").upper() or None)
    except phonenumbers.NumberParseException as exc:
        return PhoneFinding(INVALID, f"{text!r} is not a phone number ({exc})")
    # ``number_type`` is UNKNOWN exactly when ``is_valid_number`` is false (both read the number's
    # region from its country code and match the same descriptions): one pass, not two
    found = phonenumbers.number_type(parsed)
    if found == PhoneNumberType.UNKNOWN:
        return PhoneFinding(INVALID, f"{text!r} is not a valid number in its country's plan")
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if found in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE):
        return PhoneFinding(VALID, "", e164, "mobile")
    if found == PhoneNumberType.FIXED_LINE:
        return PhoneFinding(VALID, "fixed line: calls only, no SMS", e164, "fixed_line")
    kind_name = str(PhoneNumberType.to_string(found) if hasattr(PhoneNumberType, "to_string") else found)
    return PhoneFinding(SUSPECT, f"not a mobile or fixed line ({kind_name.lower()}): no SMS", e164, "other")


# ---------------------------------------------------------------------------------------- postal address

MIN_ADDRESS_LINES = 2


def address_check(address: str, country: str = "") -> Finding:
    """Complete enough for a letter: at least a street line and a town line, and, for a country
    whose postcode format is known, a line holding such a postcode."""
    lines = [line.strip() for line in re.split(r"[\n,]", address or "") if line.strip()]
    if not lines:
        return Finding(INVALID, "no postal address")
    if len(lines) < MIN_ADDRESS_LINES:
        return Finding(INVALID, "incomplete: a letter needs a street line and a town line")
    if not any(re.search(r"[^\W\d_]{2,}", line) for line in lines[1:]):
        return Finding(INVALID, "incomplete: no town")
    code = (country or "").upper()
    pattern = postcode_formats().get(code)
    if pattern is None:
        if not code:
            return Finding(SUSPECT, "no country: the postcode cannot be checked")
        return OK
    if not any(pattern.search(line) for line in lines):
        return Finding(INVALID, f"no postcode in the {code} format")
    return OK


# ---------------------------------------------------------------------------------------- company ids


@lru_cache(maxsize=65536)
def identifier_check(kind: str, value: str, country: str = "") -> Finding:
    """A customer's VAT number, company number or IBAN (``relance.core.identifiers``: python-stdnum
    and schwifty); an empty value is no finding (completeness counts it, not validity). Pure, so
    cached: the score checks every customer's ids, and a group's members share them."""
    from relance.core import identifiers

    if not (value or "").strip():
        return OK
    try:
        if kind == "iban":
            identifiers.normalise_iban(value)
        elif kind == "tax_id":
            if country:
                identifiers.normalise_tax_id(value, country)
        else:
            identifiers.validate_identifier(kind, value, country or None)
    except ValidationFailed as exc:
        return Finding(INVALID, exc.message)
    return OK


def registration_kind(country: str) -> str:
    """Which register a customer's ``registration_id`` is read against."""
    return "siren" if (country or "").upper() == "FR" else "company_number"

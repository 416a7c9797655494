"""Validation and normalisation of identifiers: IBAN/BIC (schwifty), phone numbers (phonenumbers),
tax ids (python-stdnum), ISO country and language codes, and the plain-text rule for refs and
names. Pure: no Django.
"""

from __future__ import annotations

import re
from functools import lru_cache

from babel import Locale, UnknownLocaleError

from relance.core.errors import ValidationFailed

# phonenumbers, schwifty and python-stdnum load when first used: every command imports this module
# through the ledger's models, and together they cost about 80 ms of start-up (issue 20).


def normalise_iban(value: str) -> str:
    from schwifty import IBAN
    from schwifty.exceptions import SchwiftyException

    try:
        return IBAN(value).compact
    except SchwiftyException as exc:
        raise ValidationFailed(f"invalid IBAN {value!r}: {exc}") from None


def normalise_bic(value: str) -> str:
    from schwifty import BIC
    from schwifty.exceptions import SchwiftyException

    try:
        return BIC(value).compact
    except SchwiftyException as exc:
        raise ValidationFailed(f"invalid BIC {value!r}: {exc}") from None


def normalise_phone(value: str, default_region: str | None = None) -> str:
    """Return the number in E.164 (``+33612345678``); a national number needs ``default_region``."""
    import phonenumbers

    try:
        number = phonenumbers.parse(value, (default_region or "").upper() or None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationFailed(f"invalid phone number {value!r}: {exc}") from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationFailed(f"invalid phone number {value!r}: not a valid number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# CLDR territories that are not countries: unknown region, EU, eurozone, UN, outlying Oceania,
# pseudo-locales.
_NOT_COUNTRIES = frozenset({"ZZ", "EU", "EZ", "UN", "QO", "XA", "XB"})


@lru_cache(maxsize=1)
def _countries() -> frozenset[str]:
    return frozenset(
        code
        for code in Locale("en").territories
        if isinstance(code, str) and len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
    )


def validate_country(value: str) -> str:
    code = (value or "").strip().upper()
    if code not in _countries():
        raise ValidationFailed(f"unknown country {value!r}: expected an ISO 3166 alpha-2 code such as FR")
    return code


def validate_language(value: str) -> str:
    code = (value or "").strip().replace("_", "-")
    try:
        Locale.parse(code, sep="-")
    except (UnknownLocaleError, ValueError):
        raise ValidationFailed(
            f"unknown language {value!r}: expected a code such as en, fr, zh-hans"
        ) from None
    return code.lower()


def normalise_tax_id(value: str, country: str) -> str:
    """Validate a VAT / tax id where python-stdnum knows the country's format; otherwise keep it."""
    from stdnum import get_cc_module
    from stdnum.exceptions import ValidationError as StdnumError

    cleaned = (value or "").strip()
    if not cleaned:
        return ""
    module = None
    kind = ""
    for kind in ("vat", "tin"):
        try:
            module = get_cc_module(country.lower(), kind)
        except (ImportError, ValueError):
            module = None
        if module is not None:
            break
    if module is None:
        return cleaned
    try:
        compact = str(module.compact(module.validate(cleaned)))
    except StdnumError as exc:
        raise ValidationFailed(f"invalid tax id {value!r} for {country.upper()}: {exc}") from None
    prefix = country.upper()
    if kind == "vat" and not compact.upper().startswith(prefix) and cleaned.upper().startswith(prefix):
        return prefix + compact
    return compact


# C0 and C1 control characters (NUL, TAB, CR, LF, ESC that starts ANSI sequences, DEL, …) and the
# Unicode bidirectional controls (LRM/RLM, embeddings and overrides, isolates) that make text show
# in another order than it is stored ("Trojan Source"). Refs, names and every other one-line text
# field refuse them; multi-line fields (a postal address) allow LF and CR only.
UNSAFE_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
UNSAFE_MULTILINE_TEXT = re.compile(
    "[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
PLAIN_TEXT_EXPECTED = "text without control characters (NUL, tab, CR/LF, ESC, …) or bidirectional controls"
PLAIN_MULTILINE_EXPECTED = "text without control characters other than line breaks, or bidirectional controls"


def has_unsafe_text(value: str, *, multiline: bool = False) -> bool:
    return (UNSAFE_MULTILINE_TEXT if multiline else UNSAFE_TEXT).search(value) is not None


def check_plain_text(value: str, *, multiline: bool = False) -> str:
    """``value`` unchanged, or ``ValidationFailed`` when it holds a character that would let it
    forge log or e-mail header lines, recolour a terminal, or read differently than it is stored."""
    if has_unsafe_text(value, multiline=multiline):
        raise ValidationFailed(
            f"expected {PLAIN_MULTILINE_EXPECTED if multiline else PLAIN_TEXT_EXPECTED}, found {value[:80]!r}"
        )
    return value

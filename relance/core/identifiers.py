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


# Company identifiers (issue 15: bureau reports and credit applications). python-stdnum knows VAT
# numbers (the EU's, with their country prefix, and the UK's) and the French SIREN and SIRET; it has
# no UK company number and no D-U-N-S number, so those two are checked by their documented format.
COMPANY_IDENTIFIER_KINDS = ("vat", "siren", "siret", "company_number", "duns")
# Companies House: eight characters, digits or a two-letter register prefix (SC Scotland, NI
# Northern Ireland, OC LLPs, LP, SL, FC, …) and six digits. Numbers written without their leading
# zeros (7495895) are padded, as Companies House's own search does.
UK_COMPANY_NUMBER = re.compile(r"^(?:\d{8}|[A-Z]{2}\d{6})$")
# D&B: nine digits, often written 80-473-5132. D&B publishes no check digit rule: the format only.
DUNS_NUMBER = re.compile(r"^\d{9}$")
_IDENTIFIER_SEPARATORS = re.compile(r"[\s.\-/]")
# VAT prefixes that are not the ISO country code.
_VAT_PREFIX_COUNTRY = {"EL": "GR", "XI": "GB"}


def validate_identifier(kind: str, value: str, country: str | None = None) -> str:
    """The identifier in its compact form (``FR40303265045``, ``303265045``, ``07495895``), or
    ``ValidationFailed`` saying why not. ``country`` (ISO 3166 alpha-2) says which register the
    number belongs to where the number does not say it itself; a number whose format nobody here
    knows (a VAT number of a country python-stdnum lacks) is kept as written, without separators."""
    if kind not in COMPANY_IDENTIFIER_KINDS:
        raise ValidationFailed(
            f"unknown identifier kind {kind!r}: expected one of {', '.join(COMPANY_IDENTIFIER_KINDS)}"
        )
    cleaned = _IDENTIFIER_SEPARATORS.sub("", (value or "").strip()).upper()
    if not cleaned:
        raise ValidationFailed(f"{kind}: expected a value, found nothing")
    code = validate_country(country) if country else None
    if kind == "vat":
        return _validate_vat(value, cleaned, code)
    if kind in ("siren", "siret"):
        if code not in (None, "FR"):
            raise ValidationFailed(f"{kind} {value!r}: a {kind.upper()} is French, not {code}")
        return _stdnum_compact(f"stdnum.fr.{kind}", kind.upper(), value, cleaned)
    if kind == "company_number":
        return _validate_company_number(value, cleaned, code)
    if not DUNS_NUMBER.match(cleaned):
        raise ValidationFailed(f"invalid D-U-N-S number {value!r}: expected nine digits such as 804735132")
    return cleaned


def _stdnum_compact(module_name: str, label: str, value: str, cleaned: str) -> str:
    from importlib import import_module

    from stdnum.exceptions import ValidationError as StdnumError

    module = import_module(module_name)
    try:
        return str(module.compact(module.validate(cleaned)))
    except StdnumError as exc:
        raise ValidationFailed(f"invalid {label} {value!r}: {exc}") from None


def _validate_vat(value: str, cleaned: str, country: str | None) -> str:
    from stdnum.eu import vat as eu_vat

    prefix = cleaned[:2] if cleaned[:2].isalpha() else ""
    prefix_country = _VAT_PREFIX_COUNTRY.get(prefix, prefix)
    if prefix and country and prefix_country != country:
        raise ValidationFailed(
            f"invalid VAT number {value!r}: its prefix {prefix} is not the country {country}"
        )
    where = prefix_country or country
    if where is None:
        raise ValidationFailed(
            f"invalid VAT number {value!r}: expected a country prefix (FR40303265045) or a country"
        )
    if where == "GB" and prefix != "XI":
        return "GB" + _stdnum_compact("stdnum.gb.vat", "VAT number", value, cleaned)
    vat_prefix = prefix or {"GR": "EL"}.get(where, where)
    if where.lower() in eu_vat.MEMBER_STATES or prefix == "XI":
        return _stdnum_compact("stdnum.eu.vat", "VAT number", value, vat_prefix + cleaned[len(prefix) :])
    return normalise_tax_id(cleaned, where) or cleaned


def _validate_company_number(value: str, cleaned: str, country: str | None) -> str:
    if country == "FR":
        return _stdnum_compact("stdnum.fr.siren", "SIREN", value, cleaned)
    if country not in (None, "GB"):
        return cleaned
    if cleaned.isdigit() and len(cleaned) < 8:
        cleaned = cleaned.zfill(8)
    if not UK_COMPANY_NUMBER.match(cleaned):
        raise ValidationFailed(
            f"invalid UK company number {value!r}: expected eight characters, digits (07495895) "
            "or a two-letter prefix and six digits (SC123456)"
        )
    return cleaned

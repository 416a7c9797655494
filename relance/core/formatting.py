"""Amounts, numbers and dates for people, in a language: the one formatter of Relance.

The pages, the portal, e-mails, SMS, PDF letters and statements, and the ``relance`` commands'
human-readable output all format through these functions, so that ``1 234,50 €`` reads the same
everywhere. Babel does the work (ADR 0002). Machine output (``--json``, the REST API) never goes
through them: it keeps exact decimal strings (``exact_amount``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.core import UnknownLocaleError
from babel.dates import format_date as babel_format_date
from babel.numbers import format_currency, format_decimal

from relance.core.money import quantum

DATE_STYLES = ("short", "medium", "long", "full")


@lru_cache(maxsize=64)
def locale_for(language: str | None) -> Locale:
    """Babel's locale for a Relance or Django language code (``zh-hans``, ``fr_FR``); English if unknown."""
    try:
        return Locale.parse((language or "en").replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def as_decimal(value: Any) -> Decimal:
    """A Decimal from a Decimal, an int or a decimal string. Floats are refused: they never carry money."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str):
        return Decimal(value)
    raise TypeError(f"money expects a Decimal amount, got {type(value).__name__}")


def format_money(amount: Any, currency: str, language: str | None = "en") -> str:
    """``€1,234.50`` in English, ``1 234,50 €`` in French: rounded half up to the currency's minor unit."""
    exact = as_decimal(amount).quantize(quantum(currency), rounding=ROUND_HALF_UP)
    return str(format_currency(exact, currency, locale=locale_for(language)))


def format_day(value: date | datetime, language: str | None = "en", style: str = "long") -> str:
    """A business date in words (``23 November 2026``, ``23 novembre 2026``); a datetime gives its date."""
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        raise TypeError(f"date expects a date, got {type(value).__name__}")
    if style not in DATE_STYLES:
        style = "long"
    return str(babel_format_date(value, format=style, locale=locale_for(language)))


def format_number(value: Any, language: str | None = "en") -> str:
    """A plain number with the language's separators (``1,234.5``, ``1 234,5``)."""
    return str(format_decimal(as_decimal(value), locale=locale_for(language)))


def exact_amount(value: Decimal | float | int | str | None, currency: str) -> str | None:
    """The JSON form of an amount: ``Decimal('12.5000')`` in EUR → ``"12.50"``.

    Padded or trimmed to the currency's minor units, but extra precision is kept, never rounded away.
    """
    if value is None:
        return None
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    step = quantum(currency)
    if amount == amount.quantize(step):
        return str(amount.quantize(step))
    return format(amount.normalize(), "f")


def rounded_amount(value: Decimal, currency: str) -> str:
    """The JSON form of a measured amount (a KPI): rounded to the currency's minor unit, half even
    (``Decimal('2233.6678')`` in EUR → ``"2233.67"``). Ledger amounts use ``exact_amount``."""
    return str(value.quantize(quantum(currency), rounding=ROUND_HALF_EVEN))


#: Codes whose words are not their letters (``sms`` → ``SMS``); every other code reads as its words.
CODE_LABELS: dict[str, str] = {
    "email": "E-mail",
    "sms": "SMS",
    "dso": "DSO",
    "cei": "CEI",
    "dbt": "DBT",
    "dpd": "Days past due",
    "po_missing": "Purchase order missing or wrong",
    "not_received": "Goods or service not received",
    "pricing": "Price or discount",
    "no_answer": "No answer",
    "call_back": "Call back",
    "reached": "Reached, no commitment",
    "do_not_contact": "Do not contact",
    "second_factor": "Second factor",
    "overdue_amount": "Overdue amount",
    "days_since_contact": "Days since contact",
}


def code_label(code: object, *, capital: bool = True) -> str:
    """A code for people: ``at_risk`` → "At risk", ``final_notice`` → "Final notice", ``sms`` → "SMS";
    with ``capital=False`` for the middle of a sentence ("prefers e-mail").

    The one home for showing snake_case codes (segments, channels, statuses, template and step
    keys, reason codes, factor names) on pages; the ``label`` and ``words`` template filters wrap
    it. Text that is not a code (with a capital or a space already) is returned as it is."""
    if code is None:
        return ""
    text = str(code).strip()
    if not text:
        return ""
    if " " in text or text[0].isupper():
        return text
    words = CODE_LABELS.get(text.lower()) or text.replace("_", " ")
    first = words.split(" ")[0]
    if len(first) > 1 and first.isupper():  # an acronym keeps its capitals
        return words
    return (words[0].upper() if capital else words[0].lower()) + words[1:]


def format_phone(number: str, region: str | None = None) -> tuple[str, str]:
    """A phone number for people and for a ``tel:`` link: ``("+33 6 12 34 56 78", "+33612345678")``.

    ``region`` (ISO country) reads numbers written without their country code; a number that
    does not parse is shown as written and dialled as its digits."""
    import phonenumbers

    text = (number or "").strip()
    if not text:
        return "", ""
    try:
        parsed = phonenumbers.parse(text, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        return text, "".join(ch for ch in text if ch.isdigit() or ch == "+")
    if not phonenumbers.is_possible_number(parsed):
        return text, "".join(ch for ch in text if ch.isdigit() or ch == "+")
    return (
        phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
        phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
    )

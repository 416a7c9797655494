"""Money in the customer's language: ``{{ amount|money:currency }}`` → "€1,234.50", "1 234,50 €"."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import lru_cache

from babel import Locale
from babel.numbers import format_currency
from django import template
from django.utils.translation import get_language, to_locale

register = template.Library()


@lru_cache(maxsize=32)
def _locale(code: str) -> Locale:
    return Locale.parse(code)


@register.filter
def money(amount: object, currency: str) -> str:
    if amount is None or amount == "":
        return ""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return str(amount)
    try:
        return str(format_currency(value, currency, locale=_locale(to_locale(get_language() or "en"))))
    except Exception:  # an unknown locale or currency: plain figures
        return f"{value:.2f} {currency}"

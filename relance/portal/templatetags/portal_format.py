"""Money in the customer's language: ``{{ amount|money:currency }}`` → "€1,234.50", "1 234,50 €"."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency
from django import template
from django.utils.translation import get_language, to_locale

register = template.Library()


@register.filter
def money(amount: object, currency: str) -> str:
    if amount is None or amount == "":
        return ""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return str(amount)
    locale = to_locale(get_language() or "en")
    try:
        return str(format_currency(value, currency, locale=locale))
    except Exception:  # an unknown locale or currency: plain figures
        return f"{value:.2f} {currency}"

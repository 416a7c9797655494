"""Money in the customer's language: ``{{ amount|money:currency }}`` → "€1,234.50", "1 234,50 €"."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template
from django.utils.translation import get_language

from relance.core.formatting import code_label, format_money

register = template.Library()


@register.filter
def money(amount: object, currency: str) -> str:
    """The portal's amounts, formatted as everywhere else (``relance.core.formatting``); "" when absent."""
    if amount is None or amount == "":
        return ""
    try:
        return format_money(Decimal(str(amount)), currency, get_language())
    except (InvalidOperation, ValueError, TypeError):
        return str(amount)


@register.filter
def label(value: object) -> str:
    """A code in words for the customer (``relance.core.formatting.code_label``, the one home)."""
    return code_label(value)

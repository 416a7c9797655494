"""Formatting filters for money, days and percentages in the reader's locale."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template
from django.utils.translation import get_language

from relance.core.formatting import format_money

register = template.Library()


@register.filter
def money(value: object, currency: str) -> str:
    """``{{ amount|money:currency }}`` in the page's language (``relance.core.formatting``); "—" when absent."""
    if value is None or value == "":
        return "—"
    try:
        return format_money(Decimal(str(value)), currency, get_language())
    except (InvalidOperation, ValueError, TypeError):
        return str(value)


@register.filter
def days(value: object) -> str:
    if value is None or value == "":
        return "—"
    return f"{float(value):.1f} d"  # type: ignore[arg-type]


@register.filter
def percent(value: object) -> str:
    if value is None or value == "":
        return "—"
    return f"{float(value):.1f} %"  # type: ignore[arg-type]

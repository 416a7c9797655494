"""Formatting filters for money, days and percentages in the reader's locale."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template
from django.utils.translation import get_language

from relance.core.money import Money

register = template.Library()


def _locale() -> str:
    return (get_language() or "en").replace("-", "_")


@register.filter
def money(value: object, currency: str) -> str:
    if value is None or value == "":
        return "—"
    try:
        amount = Decimal(str(value))
        return Money(amount, currency).rounded().format(_locale())
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

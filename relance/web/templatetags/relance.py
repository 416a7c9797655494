"""Formatting filters for money, days and percentages in the reader's locale; the brand stylesheet link."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language

from relance.core.formatting import code_label, format_money

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


@register.simple_tag
def brand_stylesheet(entity: object) -> SafeString:
    """``<link>`` to the entity's colours (``relance.web.branding``): no inline style under the CSP."""
    from relance.web.branding import brand_stylesheet_url

    url = brand_stylesheet_url(
        str(getattr(entity, "primary_colour", "")), str(getattr(entity, "accent_colour", ""))
    )
    return format_html('<link rel="stylesheet" href="{}">', url)


@register.filter
def label(value: object) -> str:
    """``{{ code|label }}``: a code in words, capitalised (``at_risk`` → "At risk"; ``code_label``)."""
    return code_label(value)


@register.filter
def words(value: object) -> str:
    """``{{ code|words }}``: a code in words for the middle of a sentence (``email`` → "e-mail")."""
    return code_label(value, capital=False)

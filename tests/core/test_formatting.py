"""The one formatter: every surface (pages, portal, e-mails, PDFs, CLI) reads amounts and dates alike."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from relance.core.formatting import (
    exact_amount,
    format_day,
    format_money,
    format_number,
    locale_for,
    rounded_amount,
)
from relance.core.money import Money

NBSP = "\u00a0"
NNBSP = "\u202f"


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "€1,234.50"),
        ("fr", f"1{NNBSP}234,50{NBSP}€"),
        ("de", f"1.234,50{NBSP}€"),
        ("zh-hans", "€1,234.50"),
        ("xx", "€1,234.50"),  # unknown language: English, never an error
    ],
)
def test_money_reads_in_the_language(language, expected):
    assert format_money(Decimal("1234.5000"), "EUR", language) == expected


def test_money_rounds_half_up_to_the_minor_unit_and_refuses_floats():
    assert format_money(Decimal("0.105"), "EUR", "en") == "€0.11"
    assert format_money(Decimal("1000"), "JPY", "en") == "¥1,000"
    assert format_money("12.5", "USD", "en") == "$12.50"
    with pytest.raises(TypeError, match="Decimal amount"):
        format_money(0.1, "EUR", "en")


def test_dates_and_numbers_read_in_the_language():
    assert format_day(date(2026, 11, 23), "fr") == "23 novembre 2026"
    assert format_day(datetime(2026, 11, 23, 9, 0), "en", "medium") == "Nov 23, 2026"
    assert format_day(date(2026, 11, 23), "en", "nonsense") == "November 23, 2026"
    assert format_number(Decimal("1234.5"), "de") == "1.234,5"
    assert str(locale_for("fr-FR")) == "fr_FR"


def test_exact_amounts_keep_every_digit_for_machines():
    assert exact_amount(Decimal("1234.5000"), "EUR") == "1234.50"
    assert exact_amount(Decimal("0.1234"), "EUR") == "0.1234"  # never rounded away
    assert exact_amount(Decimal("5"), "JPY") == "5"
    assert exact_amount(None, "EUR") is None
    assert rounded_amount(Decimal("2233.6678"), "EUR") == "2233.67"  # a KPI: measured, so rounded
    assert rounded_amount(Decimal("0.125"), "EUR") == "0.12"  # half even, as before


def test_every_surface_formats_through_the_same_function(db):
    """Pages, portal, message templates, Money and PDFs agree with format_money, byte for byte."""
    from relance.comms import rendering
    from relance.comms.rendering import render_template

    amount = Decimal("98765.4321")
    for language in ("en", "fr", "de"):
        expected = format_money(amount, "EUR", language)
        with translation.override(language):
            page = Template("{% load relance %}{{ a|money:'EUR' }}").render(Context({"a": amount}))
            portal = Template("{% load portal_format %}{{ a|money:'EUR' }}").render(Context({"a": amount}))
        assert page == portal == expected
        assert Money(amount, "EUR").format(language) == expected
        assert rendering.format_money is format_money
        message = render_template(
            "{{ a|money('EUR') }}", {"a": amount, "language": language}, name="t", html=False
        )
        assert message == expected

"""Remittance advice: the pure parser (e-mail text and CSV, tolerant amounts and references, errors
naming file, line and field) and the references resolved among invoice refs."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relance.cashapp.remittance import amount_guess, remittance_parse, remittance_resolve
from relance.core.errors import ErrorList


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234.56", "1234.56"),
        ("1234,56", "1234.56"),
        ("1.234,56", "1234.56"),
        ("1,234.56", "1234.56"),
        ("1 234,56", "1234.56"),
        ("1'234.56", "1234.56"),
        ("1\u00a0234,56", "1234.56"),
        ("1,234", "1234"),
        ("1.234.567", "1234567"),
        ("1,234,567.8", "1234567.8"),
        ("12,5", "12.5"),
        ("EUR 980,00", "980.00"),
        ("€1,405.31", "1405.31"),
        ("250.00 CHF", "250.00"),
        ("(12.00)", "-12.00"),
        ("12.00-", "-12.00"),
        ("-12,00", "-12.00"),
        ("1234", "1234"),
    ],
)
def test_amounts_as_people_write_them(text: str, expected: str) -> None:
    assert amount_guess(text) == Decimal(expected)


@pytest.mark.parametrize("text", ["", "abc", "1.2.3", "1,23,456", "12,", "1.234,5.6", "1 23", "1,2345.00"])
def test_not_amounts(text: str) -> None:
    assert amount_guess(text) is None


@given(
    cents=st.integers(min_value=1, max_value=10**12),
    style=st.sampled_from(["plain_dot", "plain_comma", "en", "de", "ch", "fr"]),
)
def test_amount_round_trip(cents: int, style: str) -> None:
    """Whatever the style an amount with two decimals is written in, it reads back exactly."""
    value = Decimal(cents) / 100
    whole, fraction = f"{value:.2f}".split(".")
    grouped = f"{int(whole):,}"
    text = {
        "plain_dot": f"{whole}.{fraction}",
        "plain_comma": f"{whole},{fraction}",
        "en": f"{grouped}.{fraction}",
        "de": f"{grouped.replace(',', '.')},{fraction}",
        "ch": f"{grouped.replace(',', chr(39))}.{fraction}",
        "fr": f"{grouped.replace(',', ' ')},{fraction}",
    }[style]
    assert amount_guess(text) == value


EMAIL = """\
Hello,

please find below our payment of 12/04 (total EUR 1.655,31):

  INV-2026-0001      1.405,31
  Invoice 2026-0003: EUR 250,00
Total                1.655,31

Invoice 2026-0002 will be paid next week.
Kind regards,
Dupont SARL, 12 rue de la Paix
"""


def test_email_text() -> None:
    advice = remittance_parse(EMAIL, source="mail.txt")
    assert advice.format == "text"
    assert [(item.ref, item.amount, item.line) for item in advice.items] == [
        ("INV-2026-0001", Decimal("1405.31"), 5),
        ("2026-0003", Decimal("250.00"), 6),
    ]
    assert advice.total == Decimal("1655.31")


def test_csv_semicolons_with_comma_decimals() -> None:
    text = "Rechnung;Datum;Betrag\nINV-2026-0001;01.10.2026;1.405,31\n2026-0003;07.10.2026;250,00\n;Summe;1.655,31\n"
    advice = remittance_parse(text, source="avis.csv")
    assert advice.format == "csv"
    assert [(item.ref, item.amount, item.line) for item in advice.items] == [
        ("INV-2026-0001", Decimal("1405.31"), 2),
        ("2026-0003", Decimal("250.00"), 3),
    ]


def test_csv_errors_name_file_line_and_field() -> None:
    text = "invoice,amount\nINV-1,12.00\nINV-2,12.3.4\n,5.00\nINV-4,-3.00\n"
    with pytest.raises(ErrorList) as raised:
        remittance_parse(text, source="advice.csv")
    assert [str(error) for error in raised.value.errors] == [
        "advice.csv:3: amount: expected an amount such as 1234.56, 1.234,56 or 1,234.56, found '12.3.4'",
        "advice.csv:4: invoice: expected an invoice reference",
        "advice.csv:5: amount: expected a positive amount (a remittance lists what is paid), found '-3.00'",
    ]


def test_nothing_to_read_is_an_error() -> None:
    with pytest.raises(ErrorList) as raised:
        remittance_parse("Hello,\nwe paid.\nRegards", source="mail.txt")
    assert "mail.txt" in str(raised.value.errors[0].source)
    assert raised.value.errors[0].field == "file"


def test_references_resolved_with_or_without_prefix_and_zeros() -> None:
    advice = remittance_parse(
        "invoice,amount\n2026-0001,10\ninv 2026/0003,20\nINV-2026-0002,5\n", source="a.csv"
    )
    resolved = remittance_resolve(advice, ["INV-2026-0001", "INV-2026-0002", "INV-2026-0003"])
    assert [(r.invoice_ref, r.item.amount) for r in resolved] == [
        ("INV-2026-0001", Decimal("10")),
        ("INV-2026-0003", Decimal("20")),
        ("INV-2026-0002", Decimal("5")),
    ]
    advice = remittance_parse("invoice,amount\nINV-000015,10\n", source="b.csv")
    assert [r.invoice_ref for r in remittance_resolve(advice, ["INV-15"])] == ["INV-15"]


def test_unknown_and_ambiguous_references() -> None:
    advice = remittance_parse("invoice,amount\nINV-9999,10\n0042,5\n", source="a.csv")
    with pytest.raises(ErrorList) as raised:
        remittance_resolve(advice, ["INV-0001", "FA-42", "CN-42"])
    assert [str(error) for error in raised.value.errors] == [
        "a.csv:2: invoice reference: expected an open invoice in the line's currency, found 'INV-9999'",
        "a.csv:3: invoice reference: expected one invoice (the reference is ambiguous), found '0042 (FA-42, CN-42)'",
    ]

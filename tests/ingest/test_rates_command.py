"""`relance rates import` and `relance rates list`: all or nothing, FILE:LINE: field errors, upsert."""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from relance.ledger.models import ExchangeRate
from relance.ledger.selectors import data_versions, rate_table

pytestmark = pytest.mark.django_db

RATES = """date,base_currency,quote_currency,rate
2026-03-02,USD,EUR,0.92153
2026-03-02,GBP,EUR,1.17
2026-03-09,USD,EUR,0.93
"""


def rates(*args: str) -> tuple[bool, str, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("rates", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return False, out.getvalue(), err.getvalue(), str(exc)
    return True, out.getvalue(), err.getvalue(), ""


def stored() -> set[tuple[date, str, str, Decimal]]:
    return set(ExchangeRate.objects.values_list("rate_date", "base_currency", "quote_currency", "rate"))


def test_import_then_reimport_then_list(entity, write):
    path = write("rates.csv", RATES)
    ok, out, err, _ = rates("import", str(path))
    assert ok, err
    assert "3 rate(s) read; were created: 3, updated: 0, unchanged: 0" in out
    assert stored() == {
        (date(2026, 3, 2), "USD", "EUR", Decimal("0.92153")),
        (date(2026, 3, 2), "GBP", "EUR", Decimal("1.17")),
        (date(2026, 3, 9), "USD", "EUR", Decimal("0.93")),
    }
    version = data_versions(entity_id=entity.pk)
    assert version["rates"] == 1 and version["ledger"] == 0

    ok, out, _, _ = rates("import", str(path), "--json")
    assert ok
    outcome = json.loads(out)
    assert (outcome["created"], outcome["updated"], outcome["unchanged"]) == (0, 0, 3)
    assert data_versions(entity_id=entity.pk) == version

    ok, out, _, _ = rates("import", str(write("rates.csv", RATES.replace("0.93", "0.94"))))
    assert ok and "updated: 1, unchanged: 2" in out
    ok, out, _, _ = rates("list", "--json")
    assert json.loads(out) == [
        {"date": "2026-03-02", "base_currency": "GBP", "quote_currency": "EUR", "rate": "1.17"},
        {"date": "2026-03-02", "base_currency": "USD", "quote_currency": "EUR", "rate": "0.92153"},
        {"date": "2026-03-09", "base_currency": "USD", "quote_currency": "EUR", "rate": "0.94"},
    ]
    ok, out, _, _ = rates("list")
    assert "2026-03-09  USD/EUR   0.94" in out
    ok, out, _, _ = rates("list", "--on", "2026-03-08", "--json")
    assert json.loads(out) == [
        {"date": "2026-03-02", "base_currency": "GBP", "quote_currency": "EUR", "rate": "1.17"},
        {"date": "2026-03-02", "base_currency": "USD", "quote_currency": "EUR", "rate": "0.92153"},
    ]
    ok, _, _, error = rates("list", "--on", "soon")
    assert not ok and "soon" in error
    table = rate_table(entity=entity, on=date(2026, 3, 5))
    assert table.convert(Decimal("100.00"), "EUR", "USD", date(2026, 3, 5)) == Decimal("108.52")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("2026-03-02,EUR,EUR,1", "quote_currency: expected a currency other than base_currency EUR"),
        ("2026-03-02,USD,JPY,-1", "rate: expected a rate above 0 with '.' as decimal separator"),
        ("2026-03-02,USD,JPY,0", "rate: expected a rate above 0"),
        (
            "2026-03-02,USD,JPY,1.123456789",
            "rate: expected a rate above 0 with '.' as decimal separator, at most 8",
        ),
        ("2026-03-02,USD,JPY,12345678901", "rate: expected a rate above 0"),
        ("2026-02-30,USD,JPY,150", "date: expected a date YYYY-MM-DD, found '2026-02-30'"),
        (
            "2026-03-02,US,JPY,150",
            "base_currency: expected an ISO 4217 currency code such as EUR, found 'US'",
        ),
        (",USD,JPY,150", "date: expected a value (required)"),
        (
            "2026-03-02,USD,EUR,0.9",
            "date: expected one rate per date and pair (USD→EUR on 2026-03-02 is already on line 2), found '2026-03-02'",
        ),
    ],
)
def test_a_bad_line_rejects_the_whole_file(entity, write, row, message):
    path = write("rates.csv", RATES + row + "\n")
    ok, _, err, error = rates("import", str(path))
    assert not ok
    assert f"{path}:5: {message}" in err, err
    assert "no rate was imported" in error
    assert not ExchangeRate.objects.exists()


def test_a_file_without_the_rate_column_names_the_columns(entity, write):
    ok, _, _, error = rates(
        "import", str(write("rates.csv", "date,base_currency,quote_currency\n2026-03-02,USD,EUR\n"))
    )
    assert not ok
    assert (
        "missing required column(s) rate; exchange_rates files need the columns date, base_currency" in error
    )


def test_rates_from_xlsx_with_a_decimal_comma_mapping(entity, tmp_path, write):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Jour", "De", "Vers", "Taux"])
    sheet.append([date(2026, 3, 2), "CHF", "EUR", "1,0512"])
    path = tmp_path / "taux.xlsx"
    workbook.save(path)
    mapping = write(
        "taux.yaml",
        "decimal_separator: ','\ncolumns:\n  date: Jour\n  base_currency: De\n  quote_currency: Vers\n  rate: Taux\n",
    )
    ok, _, err, error = rates("import", str(path), "--mapping", str(mapping))
    assert ok, err + error
    assert stored() == {(date(2026, 3, 2), "CHF", "EUR", Decimal("1.0512"))}


def test_dry_run_writes_nothing(entity, write):
    ok, out, _, _ = rates("import", str(write("rates.csv", RATES)), "--dry-run")
    assert ok and "would be created: 3" in out
    assert not ExchangeRate.objects.exists()


def test_list_with_no_rates_says_how_to_import(entity):
    ok, out, _, _ = rates("list")
    assert ok and "relance rates import FILE" in out


def test_rates_is_in_relance_help():
    from relance.cli import _relance_commands

    assert _relance_commands()["rates"].startswith("Import or list the exchange rates")

"""parse_bureau_file: a bureau's report file, all or nothing, every problem as FILE:LINE: field."""

from datetime import date
from decimal import Decimal

import pytest
from openpyxl import Workbook

from relance.core.errors import ErrorList, ValidationFailed
from relance.credit.bureau import parse_bureau_file


def write(tmp_path, text, name="bureau.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_canonical_columns(tmp_path):
    path = write(
        tmp_path,
        "customer_ref,reported_on,score,rating,recommended_limit,currency,derogatory_events,vat\n"
        "C-1001,2026-11-30,72.5,B,50000.00,EUR,0,FR 40 303 265 045\n"
        "C-1002,2026-11-30,18,D,,,ccj;lien,\n"
        "C-1003,2026-11-29,,,,,2,\n",
    )
    first, second, third = parse_bureau_file(path, "Altares")

    assert (first.line, first.customer_ref) == (2, "C-1001")
    report = first.report
    assert report.provider == "altares"
    assert report.reported_on == date(2026, 11, 30)
    assert (report.bureau_score, report.provider_score, report.rating) == (72.5, "72.5", "B")
    assert (report.recommended_limit, report.currency) == (Decimal("50000.00"), "EUR")
    assert report.identifiers == {"vat": "FR40303265045"}
    assert report.derogatory_events == ()
    assert report.raw_payload["line"] == 2
    assert [event.kind for event in second.report.derogatory_events] == ["ccj", "lien"]
    assert (second.report.recommended_limit, second.report.currency) == (None, None)
    assert third.report.bureau_score is None
    assert len(third.report.derogatory_events) == 2


def test_creditsafe_headers(tmp_path):
    path = write(
        tmp_path,
        "Company Name;Your Reference;Report Date;Credit Score;International Score;Credit Limit;Credit Limit Currency;CCJs;Safe Number;Registration Number\n"
        "GOCARDLESS LTD;C-2001;2026-11-30;64;B;25000;GBP;1;UK13646576;7495895\n",
    )
    [row] = parse_bureau_file(path, "creditsafe")
    assert row.customer_ref == "C-2001"
    assert row.report.company_name == "GOCARDLESS LTD"
    assert (row.report.bureau_score, row.report.rating) == (64.0, "B")
    assert (row.report.recommended_limit, row.report.currency) == (Decimal("25000"), "GBP")
    assert row.report.provider_company_id == "UK13646576"
    assert row.report.identifiers == {"registration_number": "7495895"}
    assert len(row.report.derogatory_events) == 1


def test_dnb_headers_in_xlsx(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(
        [
            "D-U-N-S Number",
            "Customer Reference",
            "Score Date",
            "Failure Score National Percentile",
            "D&B Rating",
            "Maximum Credit Recommendation",
            "Maximum Credit Recommendation Currency",
        ]
    )
    sheet.append(["80-473-5132", "C-3001", date(2026, 11, 28), 83, "5A2", 75000, "USD"])
    path = tmp_path / "dnb.xlsx"
    workbook.save(path)

    [row] = parse_bureau_file(path, "dnb")
    assert (row.line, row.customer_ref) == (2, "C-3001")
    assert row.report.reported_on == date(2026, 11, 28)
    assert (row.report.bureau_score, row.report.rating) == (83.0, "5A2")
    assert (row.report.recommended_limit, row.report.currency) == (Decimal("75000"), "USD")
    assert row.report.provider_company_id == "804735132"
    assert row.report.identifiers == {"duns": "804735132"}


def test_every_problem_is_listed_and_nothing_returned(tmp_path):
    path = write(
        tmp_path,
        "customer_ref,reported_on,score,recommended_limit,currency,derogatory_events,duns\n"
        "C-1,2026-11-31,72,1000,EUR,0,\n"
        "C-2,2026-11-30,high,1000,,-1,\n"
        "C-3,2026-11-30,101,,EURO,ccj;fraud,12345\n"
        ",2026-11-30,50,abc,EUR,,\n"
        "C-5,2026-11-30,50,,,,\n",
    )
    with pytest.raises(ErrorList) as raised:
        parse_bureau_file(path, "dnb")
    assert [str(error) for error in raised.value.errors] == [
        f"{path}:2: reported_on: expected a date YYYY-MM-DD, found '2026-11-31'",
        f"{path}:3: score: expected a score from 0 to 100, higher is safer (decimal point '.'), found 'high'",
        f"{path}:3: currency: expected the recommended limit's currency (ISO 4217, such as EUR)",
        f"{path}:3: derogatory_events: expected a count (0 or more) or kinds separated by ';' among ccj, judgment, lien, bankruptcy, insolvency, collection, other, found '-1'",
        f"{path}:4: score: expected a score from 0 to 100, higher is safer (decimal point '.'), found '101'",
        f"{path}:4: currency: expected an ISO 4217 currency code such as EUR, found 'EURO'",
        f"{path}:4: derogatory_events: expected a count (0 or more) or kinds separated by ';' among ccj, judgment, lien, bankruptcy, insolvency, collection, other, found 'ccj;fraud'",
        f"{path}:4: duns: expected a valid identifier (invalid D-U-N-S number '12345': expected nine digits such as 804735132), found '12345'",
        f"{path}:5: customer_ref: expected a value (required)",
        f"{path}:5: recommended_limit: expected an amount of 0 or more with '.' as decimal separator, found 'abc'",
    ]


def test_control_characters_and_long_refs_are_refused(tmp_path):
    path = write(tmp_path, "customer_ref,reported_on\nC-\x1b[31m1,2026-11-30\n" + "C" * 65 + ",2026-11-30\n")
    with pytest.raises(ErrorList) as raised:
        parse_bureau_file(path, "dnb")
    assert [(error.line, error.field) for error in raised.value.errors] == [
        (2, "customer_ref"),
        (3, "customer_ref"),
    ]


def test_a_missing_column_names_the_aliases(tmp_path):
    path = write(tmp_path, "Your Reference,Credit Score\nC-1,50\n")
    with pytest.raises(ValidationFailed) as raised:
        parse_bureau_file(path, "creditsafe")
    assert str(raised.value) == (
        f"{path}:1: missing column(s) reported_on (or 'date', 'report date'): the header has Your Reference, Credit Score"
    )


def test_header_only_and_bad_provider(tmp_path):
    path = write(tmp_path, "customer_ref,reported_on\n")
    with pytest.raises(ValidationFailed, match="has a header but no data rows"):
        parse_bureau_file(path, "dnb")
    with pytest.raises(ValidationFailed, match="--provider ' '"):
        parse_bureau_file(path, " ")

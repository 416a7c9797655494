"""The report files bureaus deliver (a portfolio export, CSV or XLSX) as ``BureauReportData``, one
per row with the customer it is about. All or nothing: every malformed cell of the file is listed
(``FILE:LINE: field: expected …, found …``) and nothing is returned. Whether each ``customer_ref``
exists is the import command's check (it needs the database), with the line this gives.

Reading the file (encodings, delimiters, XLSX limits) is the ingest's one reader
(``relance.ingest.sources``, no Django there).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from relance.core.calendar import parse_iso_date
from relance.core.errors import ErrorList, FieldError, RelanceError, ValidationFailed
from relance.core.identifiers import (
    PLAIN_TEXT_EXPECTED,
    has_unsafe_text,
    validate_country,
    validate_identifier,
)
from relance.core.money import parse_amount, validate_currency
from relance.credit.bureau.base import DEROGATORY_KINDS, BureauReportData, DerogatoryEvent
from relance.ingest.sources import EXTRA_CELLS, open_table

REQUIRED_COLUMNS = ("customer_ref", "reported_on")
OPTIONAL_COLUMNS = (
    "score",
    "provider_score",
    "rating",
    "recommended_limit",
    "currency",
    "derogatory_events",
    "company_name",
    "provider_company_id",
    "country",
    "vat",
    "siren",
    "siret",
    "company_number",
    "duns",
    "registration_number",
)
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
IDENTIFIER_COLUMNS = ("vat", "siren", "siret", "company_number", "duns")

# The headers each bureau's portfolio export uses for our columns, besides the canonical names.
# Matched ignoring case, spaces and punctuation ("Credit Limit", "credit_limit", "CREDIT-LIMIT").
HEADER_ALIASES: dict[str, dict[str, str]] = {
    "creditsafe": {
        "your reference": "customer_ref",
        "customer reference": "customer_ref",
        "company ref": "customer_ref",
        "report date": "reported_on",
        "date": "reported_on",
        "credit score": "score",
        "international score": "rating",
        "credit limit": "recommended_limit",
        "credit limit currency": "currency",
        "ccjs": "derogatory_events",
        "number of ccjs": "derogatory_events",
        "company name": "company_name",
        "connect id": "provider_company_id",
        "safe number": "provider_company_id",
        "registration number": "registration_number",
        "reg no": "registration_number",
        "vat number": "vat",
    },
    "dnb": {
        "customer reference": "customer_ref",
        "customer ref": "customer_ref",
        "score date": "reported_on",
        "assessment date": "reported_on",
        "failure score national percentile": "score",
        "failure score percentile": "score",
        "d&b rating": "rating",
        "dnb rating": "rating",
        "maximum credit recommendation": "recommended_limit",
        "max credit recommendation": "recommended_limit",
        "maximum credit recommendation currency": "currency",
        "business name": "company_name",
        "primary name": "company_name",
        "d-u-n-s number": "duns",
        "duns number": "duns",
    },
}

EXPECTED_SCORE = "a score from 0 to 100, higher is safer (decimal point '.')"
EXPECTED_LIMIT = "an amount of 0 or more with '.' as decimal separator"
EXPECTED_CURRENCY = "an ISO 4217 currency code such as EUR"
EXPECTED_CURRENCY_FOR_LIMIT = "the recommended limit's currency (ISO 4217, such as EUR)"
EXPECTED_DATE = "a date YYYY-MM-DD"
EXPECTED_EVENTS = "a count (0 or more) or kinds separated by ';' among " + ", ".join(DEROGATORY_KINDS)
EXPECTED_TEXT_MAX = "at most {n} characters"
MAX_TEXT = {
    "customer_ref": 64,
    "rating": 40,
    "provider_score": 40,
    "company_name": 200,
    "provider_company_id": 100,
}
_KEY = re.compile(r"[^a-z0-9&]+")
# problem(field, expected, found): records one FieldError of the row being read
ProblemSink = Callable[[str, str, str], None]


@dataclass(frozen=True)
class BureauFileReport:
    """One row of a bureau file: the report and the customer (and line) it is about."""

    line: int
    customer_ref: str
    report: BureauReportData


def _key(header: str) -> str:
    return _KEY.sub(" ", header.lower()).strip()


def column_map(header: list[str], provider: str) -> dict[str, str]:
    """file header → our column, for the headers we know (others are ignored: exports are wide)."""
    known = {_key(name): name for name in COLUMNS}
    known.update({_key(alias): column for alias, column in HEADER_ALIASES.get(provider, {}).items()})
    mapped: dict[str, str] = {}
    for name in header:
        column = known.get(_key(name))
        if column is not None and column not in mapped.values():
            mapped[name] = column
    return mapped


def parse_bureau_file(path: Path | str, provider: str) -> list[BureauFileReport]:
    """Every row of the file as a report from ``provider``, or one ``ErrorList`` naming every
    problem (``ValidationFailed`` when the file itself cannot be read or lacks a column)."""
    path = Path(path)
    provider_name = (provider or "").strip().lower()
    if not provider_name or has_unsafe_text(provider_name) or len(provider_name) > 40:
        raise ValidationFailed(f"--provider {provider!r}: expected a bureau's name such as creditsafe or dnb")
    table = open_table(path, expected_columns=", ".join(COLUMNS))
    source = table.source
    mapping = column_map(table.header, provider_name)
    missing = [column for column in REQUIRED_COLUMNS if column not in mapping.values()]
    if missing:
        table.close()
        aliases = sorted(
            alias for alias, column in HEADER_ALIASES.get(provider_name, {}).items() if column in missing
        )
        also = f" (or {', '.join(repr(alias) for alias in aliases)})" if aliases else ""
        raise ValidationFailed(
            f"{source}:1: missing column(s) {', '.join(missing)}{also}: the header has {', '.join(table.header)}"
        )
    reports: list[BureauFileReport] = []
    errors: list[FieldError] = []
    for row in table.rows:
        cells = {column: (row.cells.get(name) or "").strip() for name, column in mapping.items()}
        row_errors: list[FieldError] = []
        if EXTRA_CELLS in row.cells:
            row_errors.append(
                FieldError(
                    "row",
                    f"at most {len(table.header)} cells (the header's)",
                    str(row.cells[EXTRA_CELLS]),
                    row.line,
                    source,
                )
            )
        report = _report(provider_name, cells, row.line, source, row_errors)
        errors.extend(row_errors)
        if report is not None and not row_errors:
            reports.append(BureauFileReport(row.line, cells["customer_ref"], report))
    if errors:
        raise ErrorList(errors)
    if not reports:
        raise ValidationFailed(f"{source}: the file has a header but no data rows")
    return reports


def _report(
    provider: str, cells: Mapping[str, str], line: int, source: str, errors: list[FieldError]
) -> BureauReportData | None:
    def problem(field: str, expected: str, found: str) -> None:
        errors.append(FieldError(field, expected, found, line, source))

    for column, value in cells.items():
        if has_unsafe_text(value):
            problem(column, PLAIN_TEXT_EXPECTED, value[:80])
        elif column in MAX_TEXT and len(value) > MAX_TEXT[column]:
            problem(column, EXPECTED_TEXT_MAX.format(n=MAX_TEXT[column]), value[:80])
    if errors:
        return None
    customer_ref = cells.get("customer_ref", "")
    if not customer_ref:
        problem("customer_ref", "a value (required)", "")
    reported_on = _date(cells.get("reported_on", ""), problem)
    score = _score(cells.get("score", ""), problem)
    limit, currency = _limit(cells.get("recommended_limit", ""), cells.get("currency", ""), problem)
    events = _events(cells.get("derogatory_events", ""), problem)
    identifiers = _identifiers(cells, problem)
    if errors or reported_on is None:
        return None
    return BureauReportData(
        provider=provider,
        provider_company_id=cells.get("provider_company_id") or identifiers.get("duns", ""),
        company_name=cells.get("company_name", ""),
        reported_on=reported_on,
        bureau_score=score,
        provider_score=cells.get("provider_score") or cells.get("score", ""),
        rating=cells.get("rating", ""),
        recommended_limit=limit,
        currency=currency,
        identifiers=identifiers,
        derogatory_events=events,
        raw_payload={"source": source, "line": line, "cells": dict(cells)},
    )


def _date(value: str, problem: ProblemSink) -> date | None:
    if not value:
        problem("reported_on", EXPECTED_DATE + " (required)", "")
        return None
    try:
        return parse_iso_date(value[:10] if len(value) > 10 and value[10] in "T " else value)
    except ValidationFailed:
        problem("reported_on", EXPECTED_DATE, value)
        return None


def _score(value: str, problem: ProblemSink) -> float | None:
    if not value:
        return None
    try:
        score = parse_amount(value)
    except ValidationFailed:
        problem("score", EXPECTED_SCORE, value)
        return None
    if not Decimal(0) <= score <= Decimal(100):
        problem("score", EXPECTED_SCORE, value)
        return None
    return float(score)


def _limit(value: str, currency: str, problem: ProblemSink) -> tuple[Decimal | None, str | None]:
    amount: Decimal | None = None
    if value:
        try:
            amount = parse_amount(value)
        except ValidationFailed:
            problem("recommended_limit", EXPECTED_LIMIT, value)
        else:
            if amount < 0:
                problem("recommended_limit", EXPECTED_LIMIT, value)
                amount = None
    code: str | None = None
    if currency:
        try:
            code = validate_currency(currency)
        except ValidationFailed:
            problem("currency", EXPECTED_CURRENCY, currency)
    elif amount is not None:
        problem("currency", EXPECTED_CURRENCY_FOR_LIMIT, "")
    if amount is None or code is None:
        return None, None
    return amount, code


def _events(value: str, problem: ProblemSink) -> tuple[DerogatoryEvent, ...]:
    if not value:
        return ()
    if value.isdigit():
        return tuple(DerogatoryEvent(kind="other", text="in the bureau file") for _ in range(int(value)))
    kinds = [kind.strip().lower() for kind in value.split(";") if kind.strip()]
    if not kinds or any(kind not in DEROGATORY_KINDS for kind in kinds):
        problem("derogatory_events", EXPECTED_EVENTS, value)
        return ()
    return tuple(DerogatoryEvent(kind=kind, text="in the bureau file") for kind in kinds)


def _identifiers(cells: Mapping[str, str], problem: ProblemSink) -> dict[str, str]:
    country = cells.get("country", "") or None
    found: dict[str, str] = {}
    if country:
        try:
            found["country"] = validate_country(country)
        except ValidationFailed:
            problem("country", "an ISO 3166 alpha-2 country code such as FR", country)
            country = None
    if cells.get("registration_number"):  # whichever register the country has: kept as written
        found["registration_number"] = cells["registration_number"]
    for kind in IDENTIFIER_COLUMNS:
        if cells.get(kind):
            try:
                found[kind] = validate_identifier(kind, cells[kind], country)
            except RelanceError as exc:
                problem(kind, f"a valid identifier ({exc.message})", cells[kind])
    return found

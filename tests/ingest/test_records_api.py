"""The reusable API (`parse_row`, `upsert_records`) and the formula-safe CSV writer."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relance.core.csvsafe import FORMULA_TRIGGERS, SafeCsvWriter, neutralise_cell
from relance.core.errors import ErrorList
from relance.ingest.records import (
    AllocationRecord,
    CustomerRecord,
    InvoiceRecord,
    PaymentRecord,
    UpsertResult,
    parse_row,
    upsert_records,
)
from relance.ledger.models import Allocation, Customer, Invoice, Payment


@pytest.mark.django_db
def test_parse_row_returns_a_frozen_validated_record(make_customer, entity):
    make_customer("C1", country="FR")
    record = parse_row(
        "invoices",
        {
            "invoice_ref": " I1 ",
            "customer_ref": "C1",
            "issue_date": "2026-01-05",
            "due_date": "2026-02-04",
            "amount": "10.5",
            "currency": None,
        },
        entity=entity,
        line=7,
        source="api",
    )
    assert record == InvoiceRecord(
        "I1", "C1", date(2026, 1, 5), date(2026, 2, 4), "EUR", Decimal("10.5"), line=7, source="api"
    )
    with pytest.raises(AttributeError):
        record.amount = Decimal(1)  # type: ignore[misc]


@pytest.mark.django_db
def test_parse_row_raises_every_field_error_of_the_row(entity):
    with pytest.raises(ErrorList) as caught:
        parse_row(
            "customers",
            {"customer_ref": "", "name": "X", "country": "FRA", "email": "nope"},
            entity=entity,
            line=3,
            source="api",
        )
    assert [(e.field, e.line, e.source) for e in caught.value.errors] == [
        ("customer_ref", 3, "api"),
        ("country", 3, "api"),
        ("email", 3, "api"),
    ]
    assert (
        str(caught.value.errors[1])
        == "api:3: country: expected an ISO 3166 alpha-2 country code such as FR, found 'FRA'"
    )


@pytest.mark.django_db
def test_parse_row_normalises_phones_and_tax_ids(entity):
    record = parse_row(
        "customers",
        {
            "customer_ref": "C1",
            "name": "Dupont",
            "country": "FR",
            "phone": "01 23 45 67 89",
            "tax_id": "FR 40 303 265 045",
        },
        entity=entity,
    )
    assert isinstance(record, CustomerRecord)
    assert (record.phone, record.tax_id) == ("+33123456789", "FR40303265045")


@pytest.mark.django_db
def test_upsert_records_creates_then_reports_unchanged(make_customer, entity):
    make_customer("C1")
    records = [
        InvoiceRecord("I1", "C1", date(2026, 1, 5), date(2026, 2, 4), "EUR", Decimal("100")),
        InvoiceRecord("I2", "C1", date(2026, 1, 6), date(2026, 2, 5), "EUR", Decimal("50")),
    ]
    assert upsert_records("invoices", records, entity=entity) == UpsertResult(created=2)
    assert upsert_records("invoices", records, entity=entity) == UpsertResult(unchanged=2)
    payment = PaymentRecord(
        "P1",
        "C1",
        date(2026, 2, 1),
        "EUR",
        Decimal("120"),
        allocations=(AllocationRecord("I1", Decimal("100")), AllocationRecord("I2", Decimal("20"))),
    )
    assert upsert_records("payments", [payment], entity=entity) == UpsertResult(created=1)
    assert Allocation.objects.count() == 2


@pytest.mark.django_db
def test_upsert_records_is_all_or_nothing(make_customer, entity):
    make_customer("C1")
    upsert_records(
        "invoices",
        [InvoiceRecord("I1", "C1", date(2026, 1, 5), date(2026, 2, 4), "EUR", Decimal("100"))],
        entity=entity,
    )
    payments = [
        PaymentRecord(
            "P1",
            "C1",
            date(2026, 2, 1),
            "EUR",
            Decimal("60"),
            allocations=(AllocationRecord("I1", Decimal("60")),),
        ),
        PaymentRecord(
            "P2",
            "C1",
            date(2026, 2, 2),
            "EUR",
            Decimal("60"),
            allocations=(AllocationRecord("I1", Decimal("60")),),
        ),
    ]
    with pytest.raises(ErrorList) as caught:
        upsert_records("payments", payments, entity=entity)
    assert [e.field for e in caught.value.errors] == ["amount"]
    assert "what invoice I1 still owes" in caught.value.errors[0].expected
    assert Payment.objects.count() == Allocation.objects.count() == 0
    assert Customer.objects.count() == 1 and Invoice.objects.count() == 1


def test_unknown_kind_is_rejected(entity):
    from relance.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed, match="unknown import kind 'shipments'"):
        parse_row("shipments", {}, entity=entity)


@given(st.text())
def test_neutralised_cells_never_start_a_formula_and_keep_the_text(text):
    cell = neutralise_cell(text)
    assert not cell.startswith(FORMULA_TRIGGERS)
    assert cell.replace("'", "") == text.replace("'", "")  # only apostrophes are added


def test_safe_csv_writer_neutralises_formulas_but_not_numbers():
    stream = io.StringIO()
    SafeCsvWriter(stream).writerow(["=1+2", "-3", -3, "\tx", "plain", None, "@me"])
    assert next(csv.reader(io.StringIO(stream.getvalue()))) == [
        "'=1+2",
        "'-3",
        "-3",
        "'\tx",
        "plain",
        "",
        "'@me",
    ]


def test_docs_list_every_canonical_column_with_its_kind():
    from pathlib import Path

    from relance.ingest.parsing import COLUMNS

    text = (Path(__file__).resolve().parents[2] / "docs" / "import.md").read_text(encoding="utf-8")
    for kind, columns in COLUMNS.items():
        section = text.split(f"### {kind}\n", 1)[1].split("\n### ", 1)[0]
        for column in columns:
            required = "**yes**" if column.required else "no"
            assert f"| `{column.name}` | {column.type} | {required} | `{column.example}` |" in section, column


@pytest.mark.django_db
def test_tax_ids_are_checked_against_the_customers_own_country_only(entity):
    entity.country = "FR"
    entity.save()
    foreign = parse_row(
        "customers", {"customer_ref": "C1", "name": "X", "tax_id": "DE136695976"}, entity=entity
    )
    assert foreign.tax_id == "DE136695976"  # no country on the row: kept as given
    with pytest.raises(ErrorList) as caught:
        parse_row(
            "customers",
            {"customer_ref": "C1", "name": "X", "country": "FR", "tax_id": "FR00000000000"},
            entity=entity,
        )
    assert caught.value.errors[0].field == "tax_id"
    assert caught.value.errors[0].expected.startswith("a valid tax id for FR")

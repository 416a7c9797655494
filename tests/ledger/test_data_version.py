"""The entity's data versions go up with every committed change, by row and by bulk import."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from relance.cases.models import Promise
from relance.core.errors import ErrorList
from relance.ingest.records import AllocationRecord, InvoiceRecord, PaymentRecord, upsert_records
from relance.ledger.selectors import data_versions
from relance.ledger.services import allocation_create

pytestmark = pytest.mark.django_db


def test_row_saves_and_deletes_bump_the_ledger_version(entity, make_customer, make_invoice, make_payment):
    start = data_versions(entity_id=entity.pk)
    customer = make_customer(ref="C1")
    invoice = make_invoice(customer, "I1", "100.00", date(2026, 10, 1))
    after_invoice = data_versions(entity_id=entity.pk)
    assert after_invoice["ledger"] > start["ledger"]
    payment = make_payment(customer, "P1", "40.00", date(2026, 10, 5))
    allocation = allocation_create(
        invoice=invoice, payment=payment, amount=Decimal("40.00"), on=date(2026, 10, 5)
    )
    after_allocation = data_versions(entity_id=entity.pk)["ledger"]
    allocation.delete()
    assert data_versions(entity_id=entity.pk)["ledger"] > after_allocation
    assert data_versions(entity_id=entity.pk)["cases"] == start["cases"]


def test_case_changes_bump_cases_not_ledger(entity, make_customer):
    customer = make_customer(ref="C1")
    before = data_versions(entity_id=entity.pk)
    Promise.objects.create(
        entity=entity,
        customer=customer,
        created_on=date(2026, 11, 1),
        promised_date=date(2026, 12, 1),
        amount=Decimal("10"),
        currency="EUR",
    )
    after = data_versions(entity_id=entity.pk)
    assert after["cases"] == before["cases"] + 1
    assert after["ledger"] == before["ledger"]


def test_bulk_import_bumps_once_unchanged_and_rejected_imports_not_at_all(entity, make_customer):
    make_customer("C1")
    records = [
        InvoiceRecord(f"I{n}", "C1", date(2026, 1, 5), date(2026, 2, 4), "EUR", Decimal("100"))
        for n in range(5)
    ]
    before = data_versions(entity_id=entity.pk)["ledger"]
    upsert_records("invoices", records, entity=entity)
    after = data_versions(entity_id=entity.pk)["ledger"]
    assert after == before + 1
    upsert_records("invoices", records, entity=entity)  # unchanged: nothing written
    over = PaymentRecord(
        "P1",
        "C1",
        date(2026, 2, 1),
        "EUR",
        Decimal("10"),
        allocations=(AllocationRecord("I1", Decimal("60")),),
    )
    with pytest.raises(ErrorList):
        upsert_records("payments", [over], entity=entity)
    assert data_versions(entity_id=entity.pk)["ledger"] == after


def test_versions_are_per_entity(entity, make_customer):
    from relance.ledger.services import entity_create_or_update

    other, _ = entity_create_or_update(name="other-entity")
    make_customer(ref="C1")
    assert data_versions(entity_id=other.pk) == {
        "ledger": 0,
        "cases": 0,
        "documents": 0,
        "orders": 0,
        "rates": 0,
    }

"""Each ledger bump records the earliest business date it touched (``DataChange``), by row
signal and by bulk import; None ("every date") when it cannot be known."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from relance.ingest.records import (
    AllocationRecord,
    CreditNoteRecord,
    CustomerRecord,
    InvoiceRecord,
    PaymentRecord,
    upsert_records,
)
from relance.ledger.models import DataChange, VersionScope
from relance.ledger.selectors import data_versions
from relance.ledger.services import allocation_create, data_change_prune, data_version_bump

pytestmark = pytest.mark.django_db

JAN, FEB, MAR = date(2026, 1, 15), date(2026, 2, 15), date(2026, 3, 15)


def last_change(entity) -> DataChange:
    change = DataChange.objects.filter(entity=entity).order_by("-version").first()
    assert change is not None
    assert change.version == data_versions(entity_id=entity.pk)["ledger"]
    return change


def test_every_ledger_bump_records_one_change_with_its_version(entity, make_customer, make_invoice):
    customer = make_customer("C1")
    make_invoice(customer, "I1", "10", JAN)
    version = data_version_bump(entity_id=entity.pk)
    assert version == data_versions(entity_id=entity.pk)["ledger"]
    versions = list(
        DataChange.objects.filter(entity=entity).order_by("version").values_list("version", flat=True)
    )
    assert versions == list(range(1, version + 1))
    assert last_change(entity).earliest_date is None  # the default: every date


def test_the_cases_scope_records_no_change(entity):
    data_version_bump(entity_id=entity.pk, scope=VersionScope.CASES)
    assert not DataChange.objects.exists()


def test_a_new_invoice_is_dated_by_its_issue_date(entity, make_customer, make_invoice):
    make_invoice(make_customer("C1"), "I1", "10", FEB, MAR)
    assert last_change(entity).earliest_date == FEB


def test_an_invoice_moved_later_counts_its_old_issue_date(entity, make_customer, make_invoice):
    invoice = make_invoice(make_customer("C1"), "I1", "10", JAN, MAR)
    invoice.issue_date = MAR
    invoice.save()
    assert last_change(entity).earliest_date == JAN
    invoice.issue_date = FEB  # moved back earlier: the new date is the earliest
    invoice.save()
    assert last_change(entity).earliest_date == FEB


def test_a_voided_invoice_counts_its_void_date_and_issue_date(entity, make_customer, make_invoice):
    invoice = make_invoice(make_customer("C1"), "I1", "10", FEB, MAR)
    invoice.status = "void"
    invoice.voided_on = JAN  # before the issue date: the minimum of both
    invoice.save()
    assert last_change(entity).earliest_date == JAN


def test_a_payment_counts_old_and_new_dates(entity, make_customer, make_payment):
    payment = make_payment(make_customer("C1"), "P1", "10", MAR)
    assert last_change(entity).earliest_date == MAR
    payment.date = date(2026, 4, 1)
    payment.save()
    assert last_change(entity).earliest_date == MAR
    payment.delete()
    assert last_change(entity).earliest_date == date(2026, 4, 1)


def test_an_allocation_created_and_deleted_is_dated(entity, make_customer, make_invoice, make_payment):
    customer = make_customer("C1")
    invoice = make_invoice(customer, "I1", "100", JAN, FEB)
    payment = make_payment(customer, "P1", "40", FEB)
    allocation = allocation_create(invoice=invoice, payment=payment, amount=Decimal("40"), on=MAR)
    assert last_change(entity).earliest_date == MAR
    allocation.delete()
    assert last_change(entity).earliest_date == MAR


def test_a_customer_change_touches_every_date(entity, make_customer, make_invoice):
    customer = make_customer("C1")
    make_invoice(customer, "I1", "10", MAR)
    customer.segment = "key account"
    customer.save()
    assert last_change(entity).earliest_date is None


def test_invoice_import_new_and_updated_rows(entity, make_customer):
    make_customer("C1")
    upsert_records("invoices", [InvoiceRecord("I1", "C1", FEB, MAR, "EUR", Decimal("10"))], entity=entity)
    assert last_change(entity).earliest_date == FEB
    upsert_records(
        "invoices",
        [
            InvoiceRecord("I1", "C1", MAR, MAR, "EUR", Decimal("10")),  # moved from February
            InvoiceRecord("I2", "C1", date(2026, 4, 1), date(2026, 4, 30), "EUR", Decimal("10")),
        ],
        entity=entity,
    )
    assert last_change(entity).earliest_date == FEB
    before = last_change(entity).version
    upsert_records("invoices", [InvoiceRecord("I1", "C1", MAR, MAR, "EUR", Decimal("10"))], entity=entity)
    assert last_change(entity).version == before  # unchanged: no bump, no change recorded


def test_payment_import_bumps_with_its_dates(entity, make_customer):
    make_customer("C1")
    upsert_records("invoices", [InvoiceRecord("I1", "C1", JAN, FEB, "EUR", Decimal("100"))], entity=entity)
    before = data_versions(entity_id=entity.pk)["ledger"]
    pay = PaymentRecord(
        "P1", "C1", MAR, "EUR", Decimal("40"), allocations=(AllocationRecord("I1", Decimal("40")),)
    )
    upsert_records("payments", [pay], entity=entity)
    assert data_versions(entity_id=entity.pk)["ledger"] > before
    assert last_change(entity).earliest_date == MAR
    later = PaymentRecord(
        "P1",
        "C1",
        date(2026, 4, 2),
        "EUR",
        Decimal("40"),
        allocations=(AllocationRecord("I1", Decimal("40")),),
    )
    upsert_records("payments", [later], entity=entity)
    # the old payment and its allocations were dated in March
    earliest = list(DataChange.objects.filter(version__gt=before + 1).values_list("earliest_date", flat=True))
    assert None not in earliest and min(day for day in earliest if day is not None) == MAR


def test_credit_note_import_counts_the_old_date(entity, make_customer):
    make_customer("C1")
    upsert_records("credit_notes", [CreditNoteRecord("CN1", "C1", FEB, "EUR", Decimal("5"))], entity=entity)
    assert last_change(entity).earliest_date == FEB
    upsert_records("credit_notes", [CreditNoteRecord("CN1", "C1", MAR, "EUR", Decimal("5"))], entity=entity)
    assert last_change(entity).earliest_date == FEB


def test_a_customers_import_touches_every_date(entity, make_customer):
    make_customer("C1")
    upsert_records("customers", [CustomerRecord("C1", "Renamed", segment="retail")], entity=entity)
    assert last_change(entity).earliest_date is None


def test_prune_keeps_what_a_snapshot_may_need(entity):
    for _ in range(5):
        data_version_bump(entity_id=entity.pk, earliest=JAN)
    assert data_change_prune(entity_id=entity.pk, up_to_version=2) == 2
    assert list(DataChange.objects.order_by("version").values_list("version", flat=True)) == [3, 4, 5]
    DataChange.objects.filter(version=3).update(changed_at=timezone.now() - timedelta(days=100))
    assert (
        data_change_prune(
            entity_id=entity.pk, up_to_version=0, older_than=timezone.now() - timedelta(days=90)
        )
        == 1
    )
    assert list(DataChange.objects.order_by("version").values_list("version", flat=True)) == [4, 5]

"""A KPI snapshot as of D stays valid across ledger changes that touched only dates after D
(``DataChange``): it is re-keyed to the new version, no engine run. Anything touching D or
earlier, or every date, recomputes it — and what is kept always equals a fresh engine run."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from relance.engine import kpi as engine_kpi
from relance.ingest.records import CustomerRecord, InvoiceRecord, PaymentRecord, upsert_records
from relance.ledger import services
from relance.ledger.models import DataChange, Invoice
from relance.ledger.selectors import data_versions
from relance.reports import selectors
from relance.reports.models import KpiSnapshot
from relance.reports.selectors import (
    kpi_dashboard,
    kpi_report,
    kpi_report_cached,
    ledger_changed_from,
    snapshot_key,
    trend_dates,
)

pytestmark = pytest.mark.django_db
TODAY = date(2024, 6, 30)
MONTH_END = date(2024, 5, 31)


@pytest.fixture
def engine_calls(monkeypatch):
    """The as-of dates the KPI engine ran for (a wrapper around ``compute_kpis``)."""
    calls: list[date] = []

    def counting(tables, params, **kwargs):
        calls.append(params.as_of)
        return engine_kpi.compute_kpis(tables, params, **kwargs)

    monkeypatch.setattr(selectors, "compute_kpis", counting)
    return calls


@pytest.fixture
def ledger(entity, make_customer, make_invoice, make_payment):
    late = make_customer("C-LATE", segment="standard")
    prompt = make_customer("C-OK", segment="key account")
    make_invoice(late, "INV-1", "1000.00", date(2024, 3, 1), date(2024, 3, 31))
    make_invoice(late, "INV-2", "500.00", date(2024, 6, 1), date(2024, 7, 1))
    paid = make_invoice(prompt, "INV-3", "200.00", date(2024, 5, 1), date(2024, 6, 5))
    payment = make_payment(prompt, "PAY-1", "200.00", date(2024, 5, 20))
    allocation = services.allocation_create(
        invoice=paid, payment=payment, amount=Decimal("200.00"), on=date(2024, 5, 20)
    )
    return {"late": late, "prompt": prompt, "paid": paid, "allocation": allocation}


def _both(entity) -> tuple[KpiSnapshot, KpiSnapshot]:
    return kpi_report_cached(entity=entity, as_of=MONTH_END), kpi_report_cached(entity=entity, as_of=TODAY)


def _fresh(entity, as_of: date) -> dict:
    return kpi_report(entity=entity, as_of=as_of)[0].to_json()


def test_a_payment_dated_today_keeps_last_month_end(entity, ledger, engine_calls, make_payment):
    month_end, _today = _both(entity)
    assert engine_calls == [MONTH_END, TODAY]
    make_payment(ledger["late"], "PAY-TODAY", "100.00", TODAY)
    version = data_versions(entity_id=entity.pk)["ledger"]
    kept, recomputed = _both(entity)
    assert engine_calls == [MONTH_END, TODAY, TODAY]  # only today's point ran again
    assert kept.pk == month_end.pk and kept.ledger_version == version  # re-keyed in place
    assert kept.computed_at == month_end.computed_at
    assert recomputed.ledger_version == version
    assert kept.payload == _fresh(entity, MONTH_END)
    # re-keyed: the next read is a plain hit
    assert KpiSnapshot.objects.get(as_of=MONTH_END).ledger_version == version


def test_a_back_dated_invoice_invalidates_later_dates(entity, ledger, engine_calls, make_invoice):
    _both(entity)
    make_invoice(ledger["late"], "INV-OLD", "70.00", date(2024, 5, 10), date(2024, 6, 9))
    kept, _ = _both(entity)
    assert engine_calls == [MONTH_END, TODAY, MONTH_END, TODAY]
    assert kept.payload == _fresh(entity, MONTH_END)
    assert kept.payload["ar_total"] == "1070.00"


def test_an_invoice_moved_after_the_date_invalidates_it(entity, ledger, engine_calls):
    _both(entity)
    invoice = Invoice.objects.get(external_ref="INV-1")
    invoice.issue_date, invoice.due_date = date(2024, 6, 10), date(2024, 7, 10)
    invoice.save()  # before: counted on May 31; now: not — the old date decides
    kept, _ = _both(entity)
    assert engine_calls == [MONTH_END, TODAY, MONTH_END, TODAY]
    assert kept.payload == _fresh(entity, MONTH_END)
    assert kept.payload["ar_total"] == "0.00"


def test_a_deleted_allocation_invalidates_its_date(entity, ledger, engine_calls):
    _both(entity)
    ledger["allocation"].delete()  # dated May 20
    kept, _ = _both(entity)
    assert engine_calls == [MONTH_END, TODAY, MONTH_END, TODAY]
    assert kept.payload == _fresh(entity, MONTH_END)


def test_a_customers_import_invalidates_every_date(entity, ledger, engine_calls):
    _both(entity)
    upsert_records("customers", [CustomerRecord("C-OK", "Prompt SA", segment="retail")], entity=entity)
    _both(entity)
    assert engine_calls == [MONTH_END, TODAY, MONTH_END, TODAY]


def test_an_import_of_later_rows_keeps_earlier_snapshots(entity, ledger, engine_calls):
    _both(entity)
    upsert_records(
        "invoices",
        [InvoiceRecord("INV-J", "C-LATE", date(2024, 6, 15), date(2024, 7, 15), "EUR", Decimal("40"))],
        entity=entity,
    )
    upsert_records("payments", [PaymentRecord("PAY-J", "C-OK", TODAY, "EUR", Decimal("10"))], entity=entity)
    kept, today = _both(entity)
    assert engine_calls == [MONTH_END, TODAY, TODAY]
    assert kept.payload == _fresh(entity, MONTH_END)
    assert today.payload == _fresh(entity, TODAY)


def test_changes_not_on_record_never_count_as_unchanged(entity, ledger, engine_calls, make_payment):
    """Versions bumped before the refinement (or pruned) have no ``DataChange``: recompute."""
    _both(entity)
    make_payment(ledger["late"], "PAY-TODAY", "100.00", TODAY)
    DataChange.objects.filter(version=data_versions(entity_id=entity.pk)["ledger"]).delete()
    _both(entity)
    assert engine_calls == [MONTH_END, TODAY, MONTH_END, TODAY]


def test_ledger_changed_from(entity, ledger, make_payment):
    version = data_versions(entity_id=entity.pk)["ledger"]
    assert ledger_changed_from(entity_id=entity.pk, after_version=version, up_to_version=version) == date.max
    make_payment(ledger["late"], "P-A", "1.00", TODAY)
    make_payment(ledger["late"], "P-B", "1.00", date(2024, 6, 10))
    now = data_versions(entity_id=entity.pk)["ledger"]
    assert ledger_changed_from(entity_id=entity.pk, after_version=version, up_to_version=now) == date(
        2024, 6, 10
    )
    assert ledger_changed_from(entity_id=entity.pk, after_version=version, up_to_version=now - 1) == TODAY
    ledger["late"].save()  # a customer: every date
    assert ledger_changed_from(entity_id=entity.pk, after_version=now, up_to_version=now + 1) == date.min


def test_the_dashboard_shows_untouched_points_current(entity, ledger, make_payment):
    kpi_dashboard(entity=entity, as_of=TODAY, currency="EUR", live=True)
    make_payment(ledger["late"], "PAY-TODAY", "100.00", TODAY)
    page = kpi_dashboard(entity=entity, as_of=TODAY, currency="EUR", live=False)
    assert [point.as_of for point in page.stale] == [TODAY]
    version = data_versions(entity_id=entity.pk)["ledger"]
    assert KpiSnapshot.objects.filter(ledger_version=version).count() == 11


def _snapshot(*args: str) -> dict:
    out = StringIO()
    call_command("kpi", "snapshot", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_the_command_recomputes_only_todays_point(entity, ledger, engine_calls, make_payment):
    _snapshot("--as-of", TODAY.isoformat(), "--by", "segment")
    engine_calls.clear()
    make_payment(ledger["late"], "PAY-TODAY", "100.00", TODAY)
    result = _snapshot("--as-of", TODAY.isoformat(), "--by", "segment")
    assert [row["as_of"] for row in result["snapshots"] if row["computed"]] == [TODAY.isoformat()]
    # Today: the entity's report and the grouped pass. (Before March the ledger is empty, so a
    # grouped pass stores no group and runs again each time, as before the refinement.)
    assert [day for day in engine_calls if day >= date(2024, 3, 1)] == [TODAY, TODAY]
    assert all(day < date(2024, 3, 1) for day in engine_calls[:-2])
    version = data_versions(entity_id=entity.pk)["ledger"]
    standard = KpiSnapshot.objects.get(as_of=MONTH_END, key=snapshot_key(segment="standard"))
    assert standard.ledger_version == version  # the grouped snapshots were re-keyed too
    for day in trend_dates(TODAY):
        assert KpiSnapshot.objects.get(as_of=day, key=snapshot_key()).payload == _fresh(entity, day)
    # every snapshot is at the current version: no change is needed any more
    assert result["data_changes_pruned"] > 0
    assert not DataChange.objects.filter(entity=entity, version__lte=version).exists()


def test_the_command_prunes_old_changes_but_keeps_those_an_old_snapshot_needs(entity, ledger, make_payment):
    kpi_report_cached(entity=entity, as_of=MONTH_END)
    _snapshot("--as-of", MONTH_END.isoformat(), "--months", "1")
    make_payment(ledger["late"], "PAY-TODAY", "100.00", TODAY)
    old = KpiSnapshot.objects.create(
        entity=entity,
        currency="EUR",
        as_of=MONTH_END,
        key="aging=other",
        ledger_version=1,
        computed_at=timezone.now(),
        seconds=0,
        payload={},
    )
    _snapshot("--as-of", MONTH_END.isoformat(), "--months", "1")
    assert DataChange.objects.filter(version__gt=old.ledger_version).exists()
    assert not DataChange.objects.filter(version__lte=old.ledger_version).exists()
    DataChange.objects.update(changed_at=timezone.now() - timedelta(days=365))
    _snapshot("--as-of", MONTH_END.isoformat(), "--months", "1")
    assert not DataChange.objects.exists()


@pytest.mark.parametrize(
    "change",
    ["payment_today", "invoice_june", "invoice_may", "void_may_invoice", "move_invoice", "delete_allocation"],
)
def test_kept_snapshots_equal_a_fresh_run(entity, ledger, make_invoice, make_payment, change):
    """Whatever the change, every trend point read after it equals the engine's own answer."""
    for day in trend_dates(TODAY):
        kpi_report_cached(entity=entity, as_of=day)
    if change == "payment_today":
        make_payment(ledger["late"], "P-X", "10.00", TODAY)
    elif change == "invoice_june":
        make_invoice(ledger["late"], "I-X", "10.00", date(2024, 6, 3), date(2024, 7, 3))
    elif change == "invoice_may":
        make_invoice(ledger["late"], "I-X", "10.00", date(2024, 5, 3), date(2024, 6, 3))
    elif change == "void_may_invoice":
        invoice = Invoice.objects.get(external_ref="INV-1")
        invoice.status, invoice.voided_on = "void", date(2024, 6, 2)
        invoice.save()
    elif change == "move_invoice":
        invoice = Invoice.objects.get(external_ref="INV-2")
        invoice.issue_date = date(2024, 4, 2)
        invoice.save()
    else:
        ledger["allocation"].delete()
    for day in trend_dates(TODAY):
        assert kpi_report_cached(entity=entity, as_of=day).payload == _fresh(entity, day), day

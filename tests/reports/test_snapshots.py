"""KPI snapshots: one engine run per ledger version, date and filters; the same numbers as ``kpi_report``."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from relance.engine import kpi as engine_kpi
from relance.engine.formulas import aging_from_bounds
from relance.ledger import services
from relance.ledger.selectors import customer_list_with_balances, data_versions
from relance.reports import selectors
from relance.reports.models import KpiSnapshot
from relance.reports.selectors import (
    collected_and_due,
    kpi_report,
    kpi_report_cached,
    kpi_snapshots_grouped,
    snapshot_key,
    top_overdue_accounts,
    top_overdue_by_group,
    trend_dates,
)

pytestmark = pytest.mark.django_db
AS_OF = date(2024, 6, 30)


@pytest.fixture
def ledger(entity, make_customer, make_invoice, make_payment):
    alice = get_user_model().objects.create_user("alice")
    late = make_customer("C-LATE", name="Late Payer GmbH", segment="standard", collector=alice)
    prompt = make_customer("C-OK", name="Prompt SA", segment="key account")
    slow = make_customer("C-SLOW", name="Slow Ltd", segment="standard")
    make_invoice(late, "INV-1", "1000.00", date(2024, 3, 1), date(2024, 3, 31))
    make_invoice(late, "INV-2", "500.00", date(2024, 6, 1), date(2024, 7, 1))
    make_invoice(slow, "INV-4", "300.00", date(2024, 5, 1), date(2024, 6, 10))
    paid = make_invoice(prompt, "INV-3", "200.00", date(2024, 5, 1), date(2024, 6, 5))
    payment = make_payment(prompt, "PAY-1", "200.00", date(2024, 6, 3))
    services.allocation_create(invoice=paid, payment=payment, amount=Decimal("200.00"), on=date(2024, 6, 3))
    return {"late": late, "prompt": prompt, "slow": slow}


def test_a_second_read_of_the_same_version_runs_no_engine(entity, ledger, engine_calls):
    first = kpi_report_cached(entity=entity, as_of=AS_OF)
    second = kpi_report_cached(entity=entity, as_of=AS_OF)
    assert len(engine_calls) == 1
    assert second.pk == first.pk
    assert first.ledger_version == data_versions(entity_id=entity.pk)["ledger"] > 0
    assert first.payload == kpi_report(entity=entity, as_of=AS_OF)[0].to_json()


def test_a_new_invoice_invalidates_and_replaces_the_snapshot(entity, ledger, engine_calls, make_invoice):
    before = kpi_report_cached(entity=entity, as_of=AS_OF)
    assert before.payload["ar_total"] == "1800.00"
    make_invoice(ledger["slow"], "INV-5", "50.00", date(2024, 6, 20), date(2024, 7, 20))
    after = kpi_report_cached(entity=entity, as_of=AS_OF)
    assert len(engine_calls) == 2
    assert after.ledger_version > before.ledger_version
    assert after.payload["ar_total"] == "1850.00"
    # the older version is replaced, not kept beside it
    assert list(KpiSnapshot.objects.values_list("ledger_version", flat=True)) == [after.ledger_version]


def test_the_version_is_read_before_the_engine_runs(entity, ledger, monkeypatch, make_invoice):
    """A change committed while the engine runs must not be stored under the new version."""
    real = engine_kpi.compute_kpis

    def change_meanwhile(tables, params, **kwargs):
        reports = real(tables, params, **kwargs)
        make_invoice(ledger["slow"], "INV-LATE", "1.00", date(2024, 6, 1))
        return reports

    monkeypatch.setattr(selectors, "compute_kpis", change_meanwhile)
    stored = kpi_report_cached(entity=entity, as_of=AS_OF)
    assert stored.ledger_version < data_versions(entity_id=entity.pk)["ledger"]


def test_filters_and_aging_are_part_of_the_key(entity, ledger, engine_calls):
    kpi_report_cached(entity=entity, as_of=AS_OF)
    kpi_report_cached(entity=entity, as_of=AS_OF, segment="standard")
    kpi_report_cached(entity=entity, as_of=AS_OF, collector="alice")
    kpi_report_cached(entity=entity, as_of=AS_OF, aging=aging_from_bounds("0,15,30"))
    assert len(engine_calls) == 4
    assert len({snapshot.key for snapshot in KpiSnapshot.objects.all()}) == 4
    assert snapshot_key(segment="") != snapshot_key()


@pytest.mark.parametrize(
    ("group_by", "value"),
    [("segment", "standard"), ("segment", "key account"), ("collector", "alice"), ("collector", "")],
)
def test_a_filtered_report_is_that_groups_report(entity, ledger, group_by, value):
    """One definition: filtering on a segment (collector) gives that group's report under ``--by``."""
    grouped = {
        report.group: report.to_json() for report in kpi_report(entity=entity, as_of=AS_OF, group_by=group_by)
    }
    filtered = kpi_report(entity=entity, as_of=AS_OF, **{group_by: value})[0].to_json()
    assert filtered == {**grouped[value], "group": None}


def test_grouped_snapshots_serve_the_filtered_reads(entity, ledger, engine_calls):
    kpi_snapshots_grouped(entity=entity, as_of=AS_OF, group_by="segment")
    assert len(engine_calls) == 1
    standard = kpi_report_cached(entity=entity, as_of=AS_OF, segment="standard")
    assert len(engine_calls) == 1  # read from the grouped pass
    assert standard.payload["ar_total"] == "1800.00"  # 1,000 + 500 + 300
    assert standard.dashboard == collected_and_due(
        entity=entity, as_of=AS_OF, currency="EUR", segment="standard"
    )


def test_collected_and_due_of_the_month(entity, ledger):
    figures = collected_and_due(entity=entity, as_of=AS_OF, currency="EUR")
    assert figures == {
        "month_start": "2024-06-01",
        "collected": "200.00",
        "fell_due": "500.00",
    }  # INV-3 + INV-4
    assert (
        collected_and_due(entity=entity, as_of=AS_OF, currency="EUR", segment="standard")["collected"]
        == "0.00"
    )


def test_top_overdue_matches_the_customer_balances(entity, ledger):
    top = top_overdue_accounts(entity=entity, as_of=AS_OF, currency="EUR")
    expected = [
        (customer.external_ref, customer.overdue_balance.quantize(Decimal("0.01")))
        for customer in customer_list_with_balances(entity=entity, as_of=AS_OF, only_open=True).order_by(
            "-overdue_balance"
        )
        if customer.overdue_balance > 0
    ]
    assert [(row["external_ref"], Decimal(row["overdue"])) for row in top] == expected
    assert [row["external_ref"] for row in top] == ["C-LATE", "C-SLOW"]
    assert top[0]["open"] == "1500.00"
    assert [
        row["external_ref"]
        for row in top_overdue_accounts(entity=entity, as_of=AS_OF, currency="EUR", collector="alice")
    ] == ["C-LATE"]


def _snapshot(*args: str) -> dict:
    out = StringIO()
    call_command("kpi", "snapshot", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_the_snapshot_command_fills_the_trend_once(entity, ledger, engine_calls):
    result = _snapshot("--as-of", AS_OF.isoformat())
    assert [row["as_of"] for row in result["snapshots"]] == [day.isoformat() for day in trend_dates(AS_OF)]
    assert all(row["computed"] for row in result["snapshots"])
    assert len(engine_calls) == 12
    assert "top_overdue" in KpiSnapshot.objects.get(as_of=AS_OF).dashboard
    again = _snapshot("--as-of", AS_OF.isoformat())
    assert not any(row["computed"] for row in again["snapshots"])
    assert len(engine_calls) == 12


def test_snapshot_numbers_equal_relance_kpi(entity, ledger):
    """The dashboard's numbers and ``relance kpi``'s are one definition."""
    _snapshot("--as-of", AS_OF.isoformat(), "--months", "3")
    for day in trend_dates(AS_OF, 3):
        out = StringIO()
        call_command("kpi", "--as-of", day.isoformat(), "--json", stdout=out)
        cli = json.loads(out.getvalue())
        cli.pop("other_currencies")
        assert KpiSnapshot.objects.get(as_of=day).payload == cli


def test_snapshot_by_segment_and_its_errors(entity, ledger):
    from django.core.management.base import CommandError

    _snapshot("--as-of", AS_OF.isoformat(), "--months", "1", "--by", "segment")
    assert KpiSnapshot.objects.filter(key=snapshot_key(segment="standard")).exists()
    assert KpiSnapshot.objects.filter(key=snapshot_key(segment="key account")).exists()
    with pytest.raises(CommandError, match="segment or collector"):
        call_command("kpi", "snapshot", "--by", "customer", "--quiet")
    with pytest.raises(CommandError, match="at least 1"):
        call_command("kpi", "snapshot", "--months", "0", "--quiet")
    with pytest.raises(CommandError, match="no entity named"):
        call_command("kpi", "snapshot", "--entity", "nope", "--quiet")
    with pytest.raises(CommandError, match="--backend does not apply"):
        call_command("kpi", "snapshot", "--backend", "duckdb:///x.duckdb", "--quiet")
    with pytest.raises(CommandError, match="--as-of is required"):
        call_command("kpi")


def test_snapshot_human_output(entity, ledger):
    out = StringIO()
    call_command("kpi", "snapshot", "--as-of", AS_OF.isoformat(), "--months", "2", stdout=out)
    text = out.getvalue()
    assert "KPI snapshots as of 2024-06-30" in text and "2 computed, 0 already up to date" in text


def test_grouped_snapshots_are_filled_once_per_version(entity, ledger, engine_calls, make_invoice):
    for _ in range(2):
        _snapshot("--as-of", AS_OF.isoformat(), "--months", "1", "--by", "collector")
    assert [params.group_by for params in engine_calls] == [None, "collector"]
    make_invoice(ledger["slow"], "INV-6", "5.00", date(2024, 6, 2))
    _snapshot("--as-of", AS_OF.isoformat(), "--months", "1", "--by", "collector")
    assert [params.group_by for params in engine_calls] == [None, "collector", None, "collector"]
    alice = kpi_report_cached(entity=entity, as_of=AS_OF, collector="alice")
    assert len(engine_calls) == 4 and alice.payload["ar_total"] == "1500.00"


@pytest.mark.parametrize("group_by", ["segment", "collector"])
def test_top_overdue_by_group_is_each_filters_top(entity, ledger, make_customer, make_invoice, group_by):
    for number in range(3):  # more overdue accounts in "standard" than the limit below
        customer = make_customer(f"C-X{number}", segment="standard")
        make_invoice(customer, f"INV-X{number}", f"{10 + number}.00", date(2024, 1, 1), date(2024, 2, 1))
    grouped = top_overdue_by_group(entity=entity, as_of=AS_OF, currency="EUR", group_by=group_by, limit=2)
    values = {"segment": ["standard", "key account"], "collector": ["alice", ""]}[group_by]
    for value in values:
        expected = top_overdue_accounts(
            entity=entity, as_of=AS_OF, currency="EUR", limit=2, **{group_by: value}
        )
        assert grouped.get(value, []) == expected
    assert len(grouped["standard" if group_by == "segment" else ""]) == 2


def test_snapshot_by_segment_stores_each_segments_top_overdue(entity, ledger):
    _snapshot("--as-of", AS_OF.isoformat(), "--months", "2", "--by", "segment")
    head = KpiSnapshot.objects.get(as_of=AS_OF, key=snapshot_key(segment="standard"))
    assert [row["external_ref"] for row in head.dashboard["top_overdue"]] == ["C-LATE", "C-SLOW"]
    earlier = KpiSnapshot.objects.get(as_of=date(2024, 5, 31), key=snapshot_key(segment="standard"))
    assert "top_overdue" not in earlier.dashboard

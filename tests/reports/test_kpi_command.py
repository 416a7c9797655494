"""``relance kpi``: JSON and human output on the app database and on a Parquet directory."""

from __future__ import annotations

import io
import json
from datetime import date

import pyarrow.parquet as pq
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from relance.engine.backends import engine_arrow_table
from relance.engine.schema import SCHEMAS
from tests.engine.ledgers import LedgerRows, shared_dataset

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("kpi", *args, stdout=out)
    return out.getvalue()


def test_json_report_on_the_app_database(entity, load_ledger):
    load_ledger(shared_dataset())
    report = json.loads(run("--as-of", "2023-03-31", "--json"))
    expected_keys = {
        "as_of", "period_start", "period_end", "currency", "group", "ar_total", "ar_current", "aging",
        "credit_sales", "dso", "dso_countback", "bpdso", "add", "cei", "dbt", "average_days_to_pay",
        "weighted_average_days_to_pay", "weighted_average_days_late", "average_days_late", "turnover",
        "turnover_annualised", "ar_begin", "invoices_paid_in_period", "open_credits", "unapplied_cash",
        "ar_gross_invoices",
    }  # fmt: skip
    assert expected_keys <= set(report)
    assert (report["as_of"], report["period_start"], report["group"]) == ("2023-03-31", "2023-01-01", None)
    assert (report["ar_total"], report["credit_sales"], report["dso"], report["cei"]) == (
        "210000.00",
        "370000.00",
        51.08,
        61.82,
    )
    march = json.loads(run("--as-of", "2023-03-31", "--from", "2023-03-01", "--entity", "acme", "--json"))
    assert march["cei"] == 65.0 and march["period_start"] == "2023-03-01"


def test_json_groups(entity, load_ledger):
    ledger = LedgerRows()
    north = ledger.customer("N1", segment="north", collector="alice")
    south = ledger.customer("S1", segment="south", collector="bob")
    ledger.invoice(100, date(2023, 3, 1), date(2023, 3, 31), customer=north)
    ledger.invoice(50, date(2023, 3, 1), date(2023, 3, 10), customer=south)
    load_ledger(ledger)
    result = json.loads(run("--as-of", "2023-03-31", "--by", "segment", "--json"))
    assert (result["group_by"], result["currency"], result["period_start"]) == (
        "segment",
        "EUR",
        "2023-01-01",
    )
    assert [(g["group"], g["ar_total"], g["aging"]["1-30"]) for g in result["groups"]] == [
        ("north", "100.00", "0.00"),
        ("south", "50.00", "50.00"),
    ]


def test_human_output_explains_each_kpi(entity, load_ledger):
    load_ledger(shared_dataset())
    text = run("--as-of", "2023-03-31")
    assert "acme · EUR · as of Mar 31, 2023 · period Jan 1, 2023 – Mar 31, 2023" in text
    assert "51.08 days" in text and "45.00 days" in text and "61.82 %" in text
    assert "ending AR ÷ credit sales × days in period" in text
    assert "€140,000.00" in text and "140000.00" not in text  # as the pages show money
    grouped = run("--as-of", "2023-03-31", "--by", "collector")
    assert "alice" in grouped and "51.08" in grouped and "€" in grouped


def test_parquet_backend(tmp_path, db):
    ledger = shared_dataset()
    ledger.invoice(999, date(2023, 3, 1), date(2023, 3, 31), currency="USD")
    for name, rows in ledger.rows().items():
        if name == "allocations":  # a directory of Parquet files
            (tmp_path / name).mkdir()
            pq.write_table(engine_arrow_table(name, rows[:2]), tmp_path / name / "part-0.parquet")
            pq.write_table(engine_arrow_table(name, rows[2:]), tmp_path / name / "part-1.parquet")
        else:
            pq.write_table(engine_arrow_table(name, rows), tmp_path / f"{name}.parquet")
    assert set(SCHEMAS) == {p.name.removesuffix(".parquet") for p in tmp_path.iterdir()}
    url = f"parquet://{tmp_path}"
    report = json.loads(
        run("--as-of", "2023-03-31", "--backend", url, "--currency", "EUR", "--entity", "1", "--json")
    )
    assert (report["ar_total"], report["dso"], report["dso_countback"]) == ("210000.00", 51.08, 45.0)
    with pytest.raises(CommandError, match="several currencies"):
        run("--as-of", "2023-03-31", "--backend", url)
    with pytest.raises(CommandError, match="numeric entity id"):
        run("--as-of", "2023-03-31", "--backend", url, "--entity", "acme")


def test_bad_input_is_a_clear_error(entity):
    with pytest.raises(CommandError, match="not an ISO date"):
        run("--as-of", "31/03/2023")
    with pytest.raises(CommandError, match="no entity named"):
        run("--as-of", "2023-03-31", "--entity", "nope")
    with pytest.raises(CommandError, match="expected sqlite"):
        run("--as-of", "2023-03-31", "--backend", "mysql://x")
    with pytest.raises(CommandError, match="before it starts|after the as-of"):
        run("--as-of", "2023-03-31", "--from", "2023-04-01")


def test_empty_ledger_gives_nulls_not_errors(entity):
    report = json.loads(run("--as-of", "2023-03-31", "--json"))
    assert report["ar_total"] == "0.00" and report["dso"] is None and report["cei"] is None


def test_aging_buckets_are_configurable_and_other_currencies_named(entity, load_ledger, settings):
    ledger = LedgerRows()
    ledger.invoice(100, date(2023, 1, 1), date(2023, 3, 20))  # 11 days past due on 31 March
    ledger.invoice(40, date(2023, 3, 1), date(2023, 3, 31), currency="USD")
    load_ledger(ledger)
    report = json.loads(run("--as-of", "2023-03-31", "--aging", "0,10,20", "--json"))
    assert report["aging"] == {"current": "0.00", "1-10": "0.00", "11-20": "100.00", "21+": "0.00"}
    assert report["other_currencies"] == ["USD"]
    assert report["dso_average_ar"] is not None
    settings.RELANCE_AGING_BUCKETS = "0,5"
    report = json.loads(run("--as-of", "2023-03-31", "--json"))
    assert list(report["aging"]) == ["current", "1-5", "6+"]
    assert "also has invoices in USD" in run("--as-of", "2023-03-31")
    with pytest.raises(CommandError, match="upper bounds"):
        run("--as-of", "2023-03-31", "--aging", "soon")

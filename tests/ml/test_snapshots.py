"""The training snapshots in one query: every date's rows are exactly what a prediction at that
date would see (the one-date query), on every backend; sampling keeps the same invoices."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import ibis
import pandas as pd
import pytest

from relance.engine.days import unbound_tables_run_on
from relance.engine.dunning.behaviour import invoice_frame
from relance.engine.dunning.tables import create_dunning_tables
from relance.engine.kpi import not_void
from relance.ml.features import (
    ID_COLUMNS,
    invoice_states,
    open_invoice_features,
    snapshot_features,
    snapshot_table,
)
from relance.ml.pipeline import PredictSettings, predict_open_invoices
from tests.ml.ledgers import habits_ledger

AS_OF = date(2026, 3, 31)
DATES = tuple(AS_OF - timedelta(days=29 * k) for k in range(0, 5))


def _ledger():
    """The habits ledger with what makes a snapshot differ: a dispute opened and resolved, a
    promise kept and one broken, contacts, a partly paid invoice and a void one."""
    rows = habits_ledger(customers=6, months=16)
    customer = 2
    theirs = [row for row in rows.invoices if row["customer_id"] == customer]
    rows.dispute(
        theirs[-6]["invoice_id"],
        100,
        opened=AS_OF - timedelta(days=70),
        resolved=AS_OF - timedelta(days=20),
        customer=customer,
    )
    rows.promise(
        customer,
        AS_OF - timedelta(days=40),
        made=AS_OF - timedelta(days=60),
        invoices=(theirs[-5]["invoice_id"],),
    )
    rows.promises[-1]["status"] = "broken"
    rows.promise(
        customer,
        AS_OF + timedelta(days=5),
        made=AS_OF - timedelta(days=3),
        invoices=(theirs[-2]["invoice_id"],),
    )
    for back in (100, 50, 10):
        rows.contacted(customer, AS_OF - timedelta(days=back), "reminder")
    partly = rows.invoice(5000, AS_OF - timedelta(days=80), AS_OF - timedelta(days=50), customer=customer)
    rows.pay(partly, 2000, AS_OF - timedelta(days=45), customer=customer)
    rows.pay(partly, 3000, AS_OF - timedelta(days=5), customer=customer)
    rows.invoice(
        700, AS_OF - timedelta(days=90), AS_OF - timedelta(days=60), customer=customer, status="void"
    )
    return rows


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["invoice_id"], kind="stable").reset_index(drop=True)


@pytest.mark.parametrize("backend", ["sqlite", "duckdb", "postgres"], indirect=True)
@pytest.mark.parametrize("sample", [None, 3])
def test_one_query_gives_each_dates_rows(backend, sample) -> None:
    con = backend({}).invoices.get_backend()
    tables = create_dunning_tables(con, _ledger().rows())
    with unbound_tables_run_on(con):
        together = con.to_pyarrow(snapshot_features(tables, DATES, sample=sample)).to_pandas()
        together["snapshot"] = pd.to_datetime(together["snapshot"]).dt.date
        assert set(together["snapshot"]) == set(DATES)
        for day in DATES:
            alone = con.to_pyarrow(open_invoice_features(tables, day, sample=sample)).to_pandas()
            mine = together[together["snapshot"] == day].drop(columns="snapshot")
            assert len(alone) > 0
            pd.testing.assert_frame_equal(
                _sorted(mine)[sorted(alone.columns)],
                _sorted(alone)[sorted(alone.columns)],
                check_dtype=False,
            )


@pytest.mark.parametrize("backend", ["sqlite", "duckdb"], indirect=True)
def test_invoice_states_are_invoice_frame_at_each_date(backend) -> None:
    con = backend({}).invoices.get_backend()
    tables = create_dunning_tables(con, _ledger().rows())
    with unbound_tables_run_on(con):
        pairs = tables.invoices.cross_join(snapshot_table(DATES))
        pairs = pairs.filter(pairs.issue_date <= pairs.snapshot)
        pairs = pairs.filter(not_void(pairs, pairs.snapshot))
        states = con.to_pyarrow(invoice_states(tables, pairs, max(DATES))).to_pandas()
        states["snapshot"] = pd.to_datetime(states["snapshot"]).dt.date
        for day in DATES:
            frame = con.to_pyarrow(invoice_frame(tables, day)).to_pandas()
            mine = states[states["snapshot"] == day].drop(columns="snapshot")
            columns = [*ID_COLUMNS[:5], "open_units", "paid", "days_late_raw", "days_past_due"]
            pd.testing.assert_frame_equal(_sorted(mine)[columns], _sorted(frame)[columns], check_dtype=False)


def test_one_query_and_a_query_per_snapshot_give_the_same_predictions() -> None:
    settings = PredictSettings(n_estimators=30, min_settled=30, snapshots=12, snapshot_every_days=14)
    con = ibis.duckdb.connect()
    tables = create_dunning_tables(con, _ledger().rows())
    one = predict_open_invoices(tables, AS_OF, backend=con, settings=settings)
    each = predict_open_invoices(tables, AS_OF, backend=con, settings=replace(settings, one_query=False))
    assert one.summary.model == "survival" and one.summary.trained_rows > 100
    assert [p.to_json() for p in one.predictions] == [p.to_json() for p in each.predictions]
    assert one.metrics == each.metrics

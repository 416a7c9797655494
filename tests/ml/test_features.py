"""The features as of a date, hand-checked, and the same on every backend the engine runs on."""

from __future__ import annotations

from datetime import date

import pytest

from relance.engine.days import unbound_tables_run_on
from relance.engine.dunning.tables import create_dunning_tables
from relance.ml.features import FEATURE_NAMES, finish, open_invoice_features
from relance.ml.survival import SurvivalAFT, band_coverage_scale, censored_normal_scale
from tests.engine.dunning.rows import DunningRows

AT = date(2026, 4, 30)


def _rows() -> DunningRows:
    """H paid three invoices 5 days late, 10 days late and 2 days early; one is open, disputed,
    under a promise, and H was contacted twice (once after the date)."""
    rows = DunningRows()
    customer = rows.dunned_customer("H")
    for issued, due, paid in (
        (date(2026, 1, 1), date(2026, 1, 31), date(2026, 2, 5)),
        (date(2026, 2, 1), date(2026, 3, 3), date(2026, 3, 13)),
        (date(2026, 3, 1), date(2026, 3, 31), date(2026, 3, 29)),
    ):
        invoice = rows.invoice(1000, issued, due, customer=customer)
        rows.pay(invoice, 1000, paid, customer=customer)
    open_invoice = rows.invoice(3000, date(2026, 4, 10), date(2026, 5, 10), customer=customer)
    rows.dispute(open_invoice, 500, opened=date(2026, 4, 20), customer=customer)
    rows.promise(customer, date(2026, 5, 15), made=date(2026, 4, 25), invoices=(open_invoice,))
    rows.contacted(customer, date(2026, 4, 12), "reminder")
    rows.contacted(customer, date(2026, 5, 2), "reminder")  # after the date: not counted
    return rows


@pytest.mark.parametrize("backend", ["sqlite", "duckdb", "postgres"], indirect=True)
def test_hand_checked_features_on_every_backend(backend) -> None:
    con = backend({}).invoices.get_backend()
    tables = create_dunning_tables(con, _rows().rows())
    with unbound_tables_run_on(con):
        raw = con.to_pyarrow(open_invoice_features(tables, AT)).to_pandas()
    (row,) = finish(raw).to_dict("records")
    assert row["invoice_id"] == 4 and row["open_units"] == 3000 * 10_000
    assert (row["age_days"], row["days_to_due"], row["terms_days"]) == (20, 10, 30)
    assert row["cust_paid"] == 3
    assert row["amount_vs_usual"] == pytest.approx(3000 / 1500)  # four invoices of the year: 6000 / 4
    assert row["base_days_to_pay"] == pytest.approx((35 + 40 + 28) / 3)
    assert row["base_share_late"] == pytest.approx(2 / 3)
    assert row["disputed"] == 1.0 and row["promised"] == 1.0 and row["cust_promises"] == 1
    assert row["contacts_90d"] == 1 and row["days_since_contact"] == 18
    assert row["credit_score"] == -1.0  # no scores bound
    # recency-weighted days late: weights 1 − age/365 of the payments of 5 Feb, 13 Mar, 29 Mar
    weights = [1 - 84 / 365, 1 - 48 / 365, 1 - 32 / 365]
    expected = sum(w * late for w, late in zip(weights, (5, 10, -2), strict=True)) / sum(weights)
    assert row["cust_days_late"] == pytest.approx(expected)
    assert set(FEATURE_NAMES) <= set(row)


def test_the_survival_model_is_a_scikit_learn_estimator() -> None:
    from sklearn.base import clone

    model = SurvivalAFT(n_estimators=7, random_state=3)
    copy = clone(model)
    assert copy.get_params() == model.get_params() and copy.get_params()["n_estimators"] == 7
    assert copy.set_params(max_depth=2).max_depth == 2
    X = [[float(i % 5), float(i % 3)] for i in range(80)]
    y = [[float(3 + i % 5), float(3 + i % 5)] if i % 4 else [5.0, float("inf")] for i in range(80)]
    fitted = copy.fit(X, y)
    assert fitted is copy and copy.n_features_in_ == 2
    quantiles = copy.predict_quantiles(X, (0.1, 0.5, 0.9))
    assert (quantiles[:, 0] <= quantiles[:, 1]).all() and (quantiles[:, 1] <= quantiles[:, 2]).all()
    assert copy.contributions(X).shape == (80, 2)


def test_the_band_is_calibrated_to_hold_80_percent_of_the_known_rows() -> None:
    """Ten paid rows 11 … 20 days against a median of 15: 8 of 10 inside the whole-day band means
    a band of about 12–19 days; a row still open past every band counts as outside (the band
    grows), one open for fewer days than the band's top is left out."""
    import numpy as np

    days = np.arange(11.0, 21.0)
    margin = np.full(10, np.log(15.0))
    sigma = band_coverage_scale(margin, days, days, 0.8)
    low, high = np.round(15.0 * np.exp(np.array([-1.2816, 1.2816]) * sigma))
    assert int(np.sum((days >= low) & (days <= high))) == 8
    margin12 = np.full(12, np.log(15.0))
    lower = np.concatenate([days, [90.0, 2.0]])
    upper = np.concatenate([days, [np.inf, np.inf]])
    assert band_coverage_scale(margin12, lower, upper, 0.8) > sigma  # 8 in 11 known: it grows
    # Maximum likelihood on the same rows gives the normal's σ, not the one the band wants.
    residual = np.log(days) - margin
    assert censored_normal_scale(residual, residual) != sigma


@pytest.mark.parametrize("backend", ["sqlite", "duckdb", "postgres"], indirect=True)
def test_a_dispute_is_seen_only_from_the_day_it_was_opened(backend) -> None:
    """A dispute opened after a snapshot date is not seen at that date: not in the invoice's flag,
    not in the customer's count, not in the customer's share — in the training snapshots (one
    query for many dates) as at the prediction date; and it is no longer open once resolved."""
    from relance.ml.features import snapshot_features

    rows = _rows()  # the open invoice 4 (issued 2026-04-10) is disputed from 2026-04-20
    con = backend({}).invoices.get_backend()
    tables = create_dunning_tables(con, rows.rows())
    snapshots = (date(2026, 4, 15), date(2026, 4, 19), date(2026, 4, 20), AT)
    with unbound_tables_run_on(con):
        raw = con.to_pyarrow(snapshot_features(tables, snapshots)).to_pandas()
    features = finish(raw).assign(
        snapshot=raw["snapshot"].map(lambda d: d if isinstance(d, date) else d.date())
    )
    seen = {
        row["snapshot"]: (row["disputed"], row["cust_disputes"], row["cust_dispute_share"] > 0)
        for row in features[features.invoice_id == 4].to_dict("records")
    }
    assert seen == {
        date(2026, 4, 15): (0.0, 0.0, False),
        date(2026, 4, 19): (0.0, 0.0, False),  # the day before it was opened
        date(2026, 4, 20): (1.0, 1.0, True),
        AT: (1.0, 1.0, True),
    }

    # The same ledger without the dispute gives the same rows on the day before it was opened.
    def at(ledger: DunningRows, day: date) -> list[dict]:
        tables = create_dunning_tables(con, ledger.rows())
        with unbound_tables_run_on(con):
            raw = con.to_pyarrow(open_invoice_features(tables, day)).to_pandas()
        return finish(raw).sort_values("invoice_id").to_dict("records")

    without = _rows()
    without.disputes.clear()
    assert at(without, date(2026, 4, 19)) == at(rows, date(2026, 4, 19))
    assert at(without, date(2026, 4, 20)) != at(rows, date(2026, 4, 20))

    # Resolved on 2026-04-25: open on the 24th, no longer on the 25th; still counted in the year.
    resolved = _rows()
    resolved.disputes[0]["resolved_on"] = date(2026, 4, 25)
    by_day = {day: at(resolved, day)[-1] for day in (date(2026, 4, 24), date(2026, 4, 25))}
    assert [(r["disputed"], r["cust_disputes"]) for r in by_day.values()] == [(1.0, 1.0), (0.0, 1.0)]

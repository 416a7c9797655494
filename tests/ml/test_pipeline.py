"""The prediction pipeline on small ledgers: no leakage, censoring, determinism, the baseline."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import ibis
import pytest

from relance.core.errors import ValidationFailed
from relance.engine.dunning.tables import create_dunning_tables
from relance.ml.pipeline import PredictSettings, predict_open_invoices
from tests.engine.dunning.rows import DunningRows
from tests.ml.ledgers import START, habits_ledger

AS_OF = date(2026, 3, 31)
FAST = PredictSettings(n_estimators=40, min_settled=50, snapshots=6, snapshot_every_days=30)
DATE_FIELDS = {
    "invoices": "issue_date",
    "payments": "date",
    "allocations": "date",
    "credit_notes": "date",
    "promises": "created_on",
    "disputes": "opened_on",
    "contact_history": "date",
}


def _predict(rows: DunningRows, as_of: date = AS_OF, settings: PredictSettings = FAST):
    con = ibis.duckdb.connect()
    tables = create_dunning_tables(con, rows.rows())
    return predict_open_invoices(tables, as_of, backend=con, settings=settings)


def _cut(rows: DunningRows, as_of: date) -> DunningRows:
    """The same ledger without a row dated after ``as_of``."""
    cut = replace(rows)
    for name, column in DATE_FIELDS.items():
        setattr(cut, name, [row for row in getattr(rows, name) if row[column] <= as_of])
    kept = {row["invoice_id"] for row in cut.invoices}
    cut.promise_invoices = [row for row in rows.promise_invoices if row["invoice_id"] in kept]
    return cut


def _json(result) -> list[dict]:
    return [prediction.to_json() for prediction in result.predictions]


def test_no_fact_after_the_date_changes_a_prediction() -> None:
    rows = habits_ledger()
    customer = 1
    open_invoice = next(
        row["invoice_id"]
        for row in rows.invoices
        if row["customer_id"] == customer and AS_OF - timedelta(days=15) <= row["issue_date"] <= AS_OF
    )
    # later facts of every kind: a promise, a dispute, a contact, a payment, a new invoice
    rows.promise(
        customer, AS_OF + timedelta(days=9), made=AS_OF + timedelta(days=2), invoices=(open_invoice,)
    )
    rows.dispute(open_invoice, 100, opened=AS_OF + timedelta(days=3), customer=customer)
    rows.contacted(customer, AS_OF + timedelta(days=1), "reminder")
    full = _predict(rows)
    cut = _predict(_cut(rows, AS_OF))
    assert full.predictions and _json(full) == _json(cut)
    assert full.summary == cut.summary and full.metrics == cut.metrics


@pytest.fixture(scope="module")
def habits():
    return _predict(habits_ledger())


def test_dates_are_after_the_date_and_ordered(habits) -> None:
    result = habits
    assert result.summary.model == "survival"
    for prediction in result.predictions:
        assert AS_OF < prediction.pay_date_p10 <= prediction.expected_pay_date <= prediction.pay_date_p90
        assert 0.0 <= prediction.p_late <= 1.0


def test_the_late_payers_are_predicted_late_and_the_prompt_ones_not(habits) -> None:
    """Invoices due in more than a week (a prompt payer's invoice due tomorrow and still open is
    rightly at risk)."""
    result = habits
    due_later = {
        row["invoice_id"] for row in habits_ledger().invoices if row["due_date"] > AS_OF + timedelta(days=7)
    }
    not_due = [p for p in result.predictions if p.invoice_id in due_later]
    late = [p.p_late for p in not_due if p.customer_ref.startswith("L")]
    prompt = [p.p_late for p in not_due if p.customer_ref.startswith("P")]
    assert late and prompt
    assert min(late) > 0.5 > max(prompt)
    holdout = result.metrics["holdout"]
    assert holdout["survival"]["pay_date_mae_days"] <= holdout["baseline"]["pay_date_mae_days"] + 1


def test_a_customer_who_never_paid_gets_sane_dates() -> None:
    """All its invoices are open (censored in training): its dates are late, but finite and after
    the date, and it is not read as a prompt payer."""
    result = _predict(habits_ledger(never_pays=("N",)))
    never = [p for p in result.predictions if p.customer_ref == "N"]
    assert never
    for prediction in never:
        assert AS_OF < prediction.pay_date_p10 <= prediction.expected_pay_date <= prediction.pay_date_p90
        assert prediction.pay_date_p90 < AS_OF + timedelta(days=5 * 365)
    not_due = [p for p in never if p.p_late < 1.0]
    assert all(p.p_late > 0.5 for p in not_due)


def test_same_seed_same_predictions(habits) -> None:
    assert _json(_predict(habits_ledger())) == _json(habits)


def test_too_little_history_falls_back_to_the_baseline_and_says_so() -> None:
    result = _predict(habits_ledger(customers=2, months=3), as_of=START + timedelta(days=80))
    assert result.summary.model == "baseline"
    assert "too little settled history" in result.summary.note
    assert result.predictions and {p.model for p in result.predictions} == {"baseline"}


def test_an_entity_with_no_settled_history_gets_the_baseline() -> None:
    rows = DunningRows()
    customer = rows.dunned_customer("A")
    rows.invoice(100, date(2026, 1, 1), date(2026, 1, 31), customer=customer)
    result = _predict(rows, as_of=date(2026, 1, 10))
    (prediction,) = result.predictions
    assert result.summary.model == "baseline"
    assert prediction.expected_pay_date == date(2026, 1, 31)  # the terms: nothing else is known
    assert prediction.p_late == 0.5


def test_a_date_before_the_first_invoice_is_an_error() -> None:
    with pytest.raises(ValidationFailed, match="before the first invoice"):
        _predict(habits_ledger(), as_of=START - timedelta(days=1))


def test_a_hand_checked_baseline() -> None:
    """One customer paid three invoices 10, 20 and 30 days after issue (2 of 3 late on 15-day
    terms): the baseline says late, and the open one paid 20 days after its issue."""
    rows = DunningRows()
    customer = rows.dunned_customer("H")
    for month, waited in ((0, 10), (1, 20), (2, 30)):
        issued = date(2026, 1, 1) + timedelta(days=31 * month)
        invoice = rows.invoice(100, issued, issued + timedelta(days=15), customer=customer)
        rows.pay(invoice, 100, issued + timedelta(days=waited), customer=customer)
    rows.invoice(100, date(2026, 4, 20), date(2026, 5, 5), customer=customer)
    result = _predict(rows, as_of=date(2026, 4, 25))
    prediction = next(p for p in result.predictions if p.invoice_ref == "4")
    assert result.summary.model == "baseline"
    assert prediction.expected_pay_date == date(2026, 5, 10)  # 20 Apr + mean(10, 20, 30)
    assert prediction.p_late == 1.0  # 2 of 3 settled invoices late


def test_the_drivers_by_path_pattern_are_those_of_one_pred_contribs_call(habits) -> None:
    """The fast contributions (one TreeSHAP row per tree path pattern) give the same predictions
    and the same drivers, to the last digit, as XGBoost's ``pred_contribs`` over every row."""
    direct = _predict(habits_ledger(), settings=replace(FAST, contributions_by_pattern=False))
    assert any(prediction.drivers for prediction in habits.predictions)
    assert _json(direct) == _json(habits)
    assert [p.drivers for p in direct.predictions] == [p.drivers for p in habits.predictions]

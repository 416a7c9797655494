"""``relance credit backtest`` on the app database: a late payer outscores a prompt one."""

from __future__ import annotations

import json
from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from relance.ledger.models import Allocation

AS_OF = date(2026, 6, 1)
pytestmark = pytest.mark.django_db


@pytest.fixture
def history(entity, make_customer, make_invoice, make_payment):
    for ref, late_by in (("PROMPT", 0), ("LATE", 40), ("PROMPT2", 0), ("LATE2", 50)):
        customer = make_customer(ref)
        for month in range(9):  # six months before AS_OF, three after
            due = date(2026, 1, 10) + timedelta(days=30 * month)
            invoice = make_invoice(customer, f"{ref}-{month}", "100", due - timedelta(days=30), due)
            paid_on = due + timedelta(days=late_by)
            payment = make_payment(customer, f"{ref}-P{month}", "100", paid_on)
            Allocation.objects.create(
                entity=entity, invoice=invoice, payment=payment, date=paid_on, amount=100
            )


def test_the_backtest_ranks_the_late_payers_first(history) -> None:
    out = StringIO()
    call_command("credit", "backtest", "--as-of", AS_OF.isoformat(), "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert result == {
        "as_of": "2026-06-01",
        "horizon_days": 90,
        "auc": 1.0,
        "gini": 1.0,
        "n": 4,
        "positives": 2,
    }
    out = StringIO()
    call_command("credit", "backtest", "--as-of", AS_OF.isoformat(), stdout=out)
    assert "AUC                   1.0" in out.getvalue()


def test_a_horizon_below_one_day_is_refused(history) -> None:
    with pytest.raises(CommandError, match="--horizon: expected a number of days of 1 or more, found 0"):
        call_command("credit", "backtest", "--as-of", AS_OF.isoformat(), "--horizon", "0")

"""``relance credit score [CUSTOMER_REF] [--as-of DATE] [--json]``: a table and JSON."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from relance.credit.models import CreditScore
from relance.ledger.models import Allocation

AS_OF = date(2026, 9, 1)
pytestmark = pytest.mark.django_db


@pytest.fixture
def customers(entity, make_customer, make_invoice, make_payment):
    prompt = make_customer("P", credit_limit=Decimal("1000"))
    make_customer("N")
    for month in range(6):  # as tests/credit/test_scoring.py: six invoices paid on the day (9, A)
        due = date(2026, 1, 5) + timedelta(days=30 * month)
        invoice = make_invoice(prompt, f"I{month}", "100", due - timedelta(days=30), due)
        payment = make_payment(prompt, f"PAY{month}", "100", due)
        Allocation.objects.create(entity=entity, invoice=invoice, payment=payment, date=due, amount=100)
    make_invoice(prompt, "OPEN", "300", date(2026, 8, 15), date(2026, 9, 14))
    return prompt


def run(*args: str) -> str:
    out = StringIO()
    call_command("credit", "score", *args, stdout=out)
    return out.getvalue()


def test_json_for_one_customer_has_the_interfaces_fields(customers) -> None:
    body = json.loads(run("P", "--as-of", "2026-09-01", "--json"))
    assert {"customer_ref", "score", "risk_class", "limit", "exposure", "utilisation", "reasons"} <= set(body)
    assert (body["customer_ref"], body["score"], body["risk_class"]) == ("P", 9, "A")
    assert (body["limit"], body["exposure"], body["utilisation"], body["currency"]) == (
        "1000.00",
        "300.00",
        "30.00",
        "EUR",
    )
    assert sum(reason["points"] for reason in body["reasons"]) == 9
    assert all(set(reason) == {"factor", "points", "text"} and reason["text"] for reason in body["reasons"])
    # Only that customer was scored (and stored for the day).
    assert list(CreditScore.objects.filter(as_of=AS_OF).values_list("customer__external_ref", flat=True)) == [
        "P"
    ]


def test_json_for_every_customer_is_a_list_riskiest_first(customers) -> None:
    rows = json.loads(run("--as-of", "2026-09-01", "--json"))
    assert [(row["customer_ref"], row["risk_class"]) for row in rows] == [("N", "C"), ("P", "A")]
    assert rows[0]["limit"] is None and rows[0]["utilisation"] is None


def test_the_table_shows_scores_and_each_reason(customers) -> None:
    text = run("P", "--as-of", "2026-09-01")
    assert "Credit scores as of 2026-09-01" in text
    assert "1000.00 EUR" in text and "30.00 %" in text
    assert "Why P scores 9 (A)" in text
    assert "utilisation" in text and "days_beyond_terms" in text
    everyone = run("--as-of", "2026-09-01")
    assert "no limit" in everyone and "Why" not in everyone


def test_an_unknown_customer_is_refused_with_its_ref(customers) -> None:
    with pytest.raises(CommandError, match="NOBODY"):
        run("NOBODY", "--as-of", "2026-09-01")

"""Distinct-value reads clear the model's default ordering.

A model's ``Meta.ordering`` joins ``SELECT DISTINCT``: ``Invoice.objects.values_list("currency")
.distinct()`` becomes ``SELECT DISTINCT currency, due_date, external_ref … ORDER BY …`` — one row
per invoice, which took 2.8 s of a 9 s ``relance kpi`` at 1M invoices (issue 20).
"""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from relance.ledger.selectors import currencies_in_use

pytestmark = pytest.mark.django_db


def test_currencies_in_use_reads_each_currency_once(entity, make_customer, make_invoice):
    customer = make_customer(ref="C1")
    for number in range(3):
        make_invoice(customer, f"I{number}", "10.00", date(2026, 10, 1 + number))
    with CaptureQueriesContext(connection) as queries:
        assert currencies_in_use(entity=entity, as_of=date(2026, 12, 1)) == {"EUR"}
    (query,) = queries.captured_queries
    assert "ORDER BY" not in query["sql"].upper()
    assert "due_date" not in query["sql"]

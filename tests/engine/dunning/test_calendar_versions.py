"""Voids dated by ``voided_on``, broken promises written back, steps mapped by key across policy edits.

Same harness as ``test_scenarios.py`` (DuckDB; the app's recording of each run by ``Life``).
"""

from __future__ import annotations

from datetime import date, timedelta

from tests.engine.dunning.harness import Life, describe
from tests.engine.dunning.rows import DunningRows

DUE = date(2026, 3, 2)  # a Monday


def day(offset: int) -> date:
    return DUE + timedelta(days=offset)


def test_an_invoice_voided_later_is_chased_before_its_void_date_not_after():
    rows = DunningRows()
    customer = rows.dunned_customer("C1")
    invoice = rows.invoice(1000, day(-30), DUE, customer=customer)
    rows.invoices[invoice - 1].update(status="void", voided_on=day(10))
    life = Life(rows)
    assert describe(life.run(day(1))) == ["reminder_1 by email [1]"]  # history: it was open then
    assert describe(Life(rows).run(day(20))) == []  # as of today it is void: nothing
    assert Life(rows).run(day(20)).worklist.num_rows == 0


def test_an_invoice_void_from_the_start_is_never_chased():
    rows = DunningRows()
    customer = rows.dunned_customer("C1")
    rows.invoice(1000, day(-30), DUE, customer=customer, status="void")
    assert describe(Life(rows).run(day(1))) == []


def test_a_promise_written_back_as_broken_is_read_as_broken():
    rows = DunningRows()
    customer = rows.dunned_customer("C1", policy="high_risk")
    invoice = rows.invoice(1000, day(-30), DUE, customer=customer)
    rows.contacted(customer, day(1), "reminder_1")
    rows.reached(invoice, "reminder_1", 2, day(1))
    promise = rows.promise(customer, day(4), made=day(2), invoices=(invoice,))  # grace 1: ends +5
    rows.promises[promise - 1]["status"] = "broken"  # what the app writes once it is broken
    life = Life(rows)
    result = life.run(day(6))
    assert describe(result) == ["reminder_1 by email [1] (broken promise)"]
    assert result.worklist.column("broken_promises").to_pylist() == [1]
    assert describe(life.run(day(11))) == ["collector_call by phone [1]"]  # resent once, not flagged again

"""The exception queue's split form takes as many rows as a person needs: *Add rows* works
without a script (the form comes back longer, with what was typed, nothing applied) and a split
over more than the first six rows is applied."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from tests.workspace.cash_scene import build_cash_lines
from tests.workspace.conftest import _invoice


@pytest.fixture
def cash(ws):
    return build_cash_lines(ws)


def _row_names(text: str, line_id: int) -> list[str]:
    form = text.split(f'action="/w/cash/lines/{line_id}/split/"', 1)[1].split("</form>", 1)[0]
    return re.findall(r'name="(invoice_\d+)"', form)


def test_the_form_starts_with_six_rows_and_an_add_button(ws, cash, client_for):
    text = client_for(ws.ana).get("/w/cash/").content.decode()
    assert _row_names(text, cash.unmatched.pk) == [f"invoice_{n}" for n in range(6)]
    assert 'name="more"' in text


def test_add_rows_without_a_script_keeps_what_was_typed(ws, cash, client_for):
    url = reverse("workspace:cash_line_split", args=[cash.unmatched.pk])
    typed = {f"invoice_{n}": f"INV-X{n}" for n in range(6)} | {
        "amount_0": "10",
        "note": "remittance",
        "more": "1",
    }
    response = client_for(ws.ana).post(url, typed)
    assert response.status_code == 200
    text = response.content.decode()
    assert _row_names(text, cash.unmatched.pk) == [f"invoice_{n}" for n in range(9)]
    assert 'value="INV-X5"' in text and 'value="remittance"' in text
    assert "Nothing was done" not in text and "Enter at least one invoice" not in text
    cash.unmatched.refresh_from_db()
    assert cash.unmatched.status == "unmatched"


def test_a_split_over_eight_invoices_is_applied(ws, cash, client_for):
    from relance.ledger.models import Allocation

    for n in range(8):
        _invoice(ws.late, f"INV-M{n}", "10.00", 10, ws.today)
    url = reverse("workspace:cash_line_split", args=[cash.unmatched.pk])
    rows = {f"invoice_{n}": f"INV-M{n}" for n in range(8)} | {f"amount_{n}": "10" for n in range(8)}
    response = client_for(ws.ana).post(url, rows)
    assert response.status_code == 302
    cash.unmatched.refresh_from_db()
    assert cash.unmatched.status == "applied"
    paid = Allocation.objects.filter(payment__external_ref=f"BANK-{cash.unmatched.pk}")
    assert sorted(paid.values_list("invoice__external_ref", flat=True)) == [f"INV-M{n}" for n in range(8)]
    assert sum(a.amount for a in paid) == Decimal("80")

"""Next best action (issue 16, item 4) and the 360's prediction panel: the worklist and the customer
page read the STORED predictions (the entity's latest ``PredictionRun``); without one they are as
before."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from django.urls import reverse

from tests.workspace.prediction_scene import store_predictions

DRIVERS = [
    {"feature": "past_days_late", "contribution_days": 20.0, "text": "Usually pays 20 days late"},
    {"feature": "contacts_90d", "contribution_days": -6.0, "text": "contacted 3 times in 90 days (-6 days)"},
]


def _worklist(ws, client_for):
    html = client_for(ws.manager).get(reverse("workspace:worklist")).content.decode()
    body = html.split("<tbody", 1)[1].split("</tbody>", 1)[0]
    return html, re.findall(r"<tr data-href[^>]*>(.*?)</tr>", body, re.S)


def _names(rows):
    return [re.search(r'<a href="[^"]+">([^<]+)</a>', row).group(1) for row in rows]


def test_without_stored_predictions_the_worklist_is_as_before(ws, client_for):
    html, rows = _worklist(ws, client_for)
    assert _names(rows) == ["Late Payer GmbH", "Second Buyer SARL", "Other Account SA"]  # the run's priority
    assert 'class="why"' not in html and "likely to pay on time" not in html
    page = client_for(ws.manager).get(reverse("workspace:customer", args=[ws.second.pk])).content.decode()
    assert 'id="predictions"' not in page


def test_stored_predictions_rank_by_expected_late_amount_and_slip_and_say_why(ws, client_for):
    second = ws.second.invoices.get(external_ref="INV-S1")  # 1,234.56 due 20 days ago
    other = ws.other.invoices.get(external_ref="INV-O1")  # 900.00 due 25 days ago
    store_predictions(
        ws,
        [
            (second, 0.95, second.due_date + timedelta(days=150), DRIVERS),
            (other, 0.1, ws.today + timedelta(days=1), []),
        ],
    )
    html, rows = _worklist(ws, client_for)
    # second: 22.3 (the run's) + 10 × log10(0.95 × 1,234.56) = 30.69 + 30 × 150/180 = 25.0 → 78.0
    # ahead of late's 75.0, which has no prediction (its run priority alone)
    assert _names(rows) == ["Second Buyer SARL", "Late Payer GmbH", "Other Account SA"]
    second_row = rows[0]
    assert "<strong>77.99</strong>" in second_row or "<strong>78" in second_row
    assert "expected late (predicted)" in second_row and "paid 150 days after due (predicted)" in second_row
    assert (
        "likely 150 days late on €1,234.56; pays sooner when contacted (contacted 3 times in 90 days (-6 days))"
        in second_row
    )
    assert "likely to pay without a chase: skip" in rows[2]  # other: p_late 0.1 — no predicted points
    assert "<strong>21.5</strong>" in rows[2] and "expected late (predicted) <b>0.0</b>" in rows[2]
    assert "likely to pay on time" not in rows[1]  # late: no prediction, as before
    assert "<script" not in html.split("<tbody", 1)[1].split("</tbody>", 1)[0]


def test_an_overdue_customer_expected_in_within_a_week_is_marked_to_skip(ws, client_for):
    """Past due, p_late is 1: "on time" can no longer hold, but nine in ten paid within 7 days can."""
    late_invoices = list(ws.late.invoices.filter(external_ref__in=["INV-L1", "INV-L2"]))
    store_predictions(
        ws, [(invoice, 1.0, ws.today + timedelta(days=3), [], (2, 4)) for invoice in late_invoices]
    )
    html, rows = _worklist(ws, client_for)
    late_row = rows[_names(rows).index("Late Payer GmbH")]
    assert "likely to pay without a chase: skip" in late_row
    assert "<strong>75.0</strong>" in late_row  # the run's priority alone: no predicted points
    assert "without a chase" in late_row.split('class="why"')[1]


def test_the_360_shows_each_open_invoice_s_prediction_in_words(ws, client_for):
    second = ws.second.invoices.get(external_ref="INV-S1")
    expected = second.due_date + timedelta(days=150)
    store_predictions(ws, [(second, 0.95, expected, DRIVERS)])
    page = client_for(ws.manager).get(reverse("workspace:customer", args=[ws.second.pk])).content.decode()
    panel = page.split('id="predictions"', 1)[1].split("</section>", 1)[0]
    assert f"predicted as of {ws.today.isoformat()}" in panel
    assert "95 %" in panel and "(150 days late)" in panel
    span = f"{(expected - timedelta(days=5)).isoformat()} – {(expected + timedelta(days=9)).isoformat()}"
    assert expected.isoformat() in panel and span in panel
    assert panel.index("Usually pays 20 days late") < panel.index("contacted 3 times in 90 days")
    assert Decimal("1234.56") == second.amount


def test_a_p_late_condition_reads_the_stored_predictions_on_the_app_database(ws):
    """The predict app hands its table to the dunning binding: the engine's run on the app tables
    takes the step only for the invoice predicted likely late (none stored: the condition is false)."""
    from relance.dunning.binding import app_dunning_tables
    from relance.engine.dunning import policy_from_dict
    from relance.engine.dunning.decide import decide

    policy = policy_from_dict(
        {
            "key": "standard",
            "name": "Predicted late: a call",
            "cadence": {"min_days_between": 3},
            "steps": [
                {
                    "key": "predicted_late",
                    "offset_days": 0,
                    "action": "message",
                    "channels": ["email", "letter"],
                    "tone": "friendly",
                    "conditions": [{"field": "p_late", "op": "ge", "value": 0.6}],
                }
            ],
        }
    )
    second = ws.second.invoices.get(external_ref="INV-S1")
    other = ws.other.invoices.get(external_ref="INV-O1")
    store_predictions(
        ws, [(second, 0.9, ws.today + timedelta(days=30), []), (other, 0.2, ws.today + timedelta(days=2), [])]
    )
    backend, tables = app_dunning_tables(entity=ws.acme)
    assert tables.invoice_predictions is not None
    result = decide(tables, {"standard": policy}, as_of=ws.today, backend=backend)
    decided = [(row["step_key"], row["invoice_ids"]) for row in result.decisions.to_pylist()]
    assert decided == [("predicted_late", [second.pk])]


def test_with_predictions_the_pages_ask_one_query_more(ws, client_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(ws.manager)
    pages = [reverse("workspace:worklist"), reverse("workspace:customer", args=[ws.second.pk])]

    def counts():
        result = []
        for page in pages:
            client.get(page)  # the session's first-request writes
            with CaptureQueriesContext(connection) as queries:
                assert client.get(page).status_code == 200
            result.append(len(queries))
        return result

    before = counts()
    second = ws.second.invoices.get(external_ref="INV-S1")
    store_predictions(ws, [(second, 0.95, second.due_date + timedelta(days=150), DRIVERS)])
    assert counts() == [before[0] + 1, before[1] + 1]  # the rows' why; the panel's rows

"""Issue 16's pages in a real browser: the dashboard's DBT trend, the worklist's next best action
and the 360's prediction panel, DBT trend and pay-behaviour flag (screenshots
``predict-*.png`` with ``RELANCE_SCREENSHOTS=1``)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from tests.browser.conftest import browser_page  # noqa: F401  (the fixture)
from tests.browser.test_accessibility import _sign_in, _stored_predictions
from tests.screenshots import screenshot_dir
from tests.workspace.conftest import build_workspace

pytestmark = pytest.mark.browser


def _slowing_payer(ws):
    """A customer paying in 30 ± 2 days for a year and a half, then in 60: pay behaviour changed."""
    from relance.ledger.models import Allocation, Customer, Invoice, Payment

    customer = Customer.objects.create(
        entity=ws.acme, external_ref="C-SLOW", name="Slowing Down GmbH", currency="EUR"
    )
    history = [(120 + 60 * n, days) for n, days in enumerate([28, 30, 32, 29, 31, 30, 28, 32])]
    for n, (days_ago, days) in enumerate([*history, (10, 60), (40, 60), (70, 60)]):
        paid_on = ws.today - timedelta(days=days_ago)
        issued = paid_on - timedelta(days=days)
        invoice = Invoice.objects.create(
            entity=ws.acme,
            customer=customer,
            external_ref=f"SL{n}",
            issue_date=issued,
            due_date=issued + timedelta(days=30),
            currency="EUR",
            amount=Decimal("1000"),
        )
        payment = Payment.objects.create(
            entity=ws.acme,
            customer=customer,
            external_ref=f"SLP{n}",
            date=paid_on,
            currency="EUR",
            amount=1000,
        )
        Allocation.objects.create(entity=ws.acme, invoice=invoice, payment=payment, date=paid_on, amount=1000)
    return customer


def test_the_predicted_pages_show_their_figures(browser_page, live_server, transactional_db):  # noqa: F811
    ws = build_workspace()
    _stored_predictions(ws)
    slow = _slowing_payer(ws)
    page, base, shots = browser_page, live_server.url, screenshot_dir()
    _sign_in(page, base, "cm@acme.test")

    page.goto(f"{base}/")
    chart = page.locator("figure", has_text="Days beyond terms and disputes").first
    chart.screenshot(path=str(shots / "predict-dashboard-dbt.png"))
    assert "Days beyond terms" in chart.inner_text()
    forecast = page.locator("#cash-forecast")
    forecast.screenshot(path=str(shots / "predict-dashboard-forecast.png"))
    assert "Expected collections per week" in forecast.inner_html()
    assert "High (p90)" in forecast.inner_html()  # the chart's table, under "Show as a table"

    page.goto(f"{base}/w/worklist/")
    page.screenshot(path=str(shots / "predict-worklist.png"), full_page=True)
    rows = page.locator("tbody tr[data-href]")
    assert "likely 12 days late" in rows.nth(0).inner_text() or "likely" in page.content()
    assert "likely to pay without a chase: skip" in page.content()

    page.goto(f"{base}/w/customers/{ws.late.pk}/")
    page.wait_for_selector("#behaviour dl")
    panel = page.locator("#predictions")
    panel.screenshot(path=str(shots / "predict-customer-panel.png"))
    assert "90 %" in panel.inner_text() and "Usually pays 12 days late" in panel.inner_text()

    page.goto(f"{base}/w/customers/{slow.pk}/")
    page.wait_for_selector("#behaviour-change")
    page.locator("#behaviour").screenshot(path=str(shots / "predict-customer-behaviour.png"))
    assert "Pay behaviour changed" in page.locator("#behaviour-change").inner_text()

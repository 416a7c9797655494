"""A credit manager signs in, reads the dashboard, opens the most overdue customer."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.browser


@pytest.fixture
def demo_ledger(transactional_db):
    from relance.ledger.models import Customer, Invoice
    from relance.ledger.services import entity_create_or_update

    entity, _ = entity_create_or_update(name="acme", currency="EUR", legal_name="ACME SAS")
    today = date.today()
    late = Customer.objects.create(
        entity=entity, external_ref="C-LATE", name="Late Payer GmbH", currency="EUR"
    )
    Invoice.objects.create(
        entity=entity,
        customer=late,
        external_ref="INV-OLD",
        issue_date=today - timedelta(days=100),
        due_date=today - timedelta(days=70),
        currency="EUR",
        amount=Decimal("1234.50"),
    )
    Invoice.objects.create(
        entity=entity,
        customer=late,
        external_ref="INV-NEW",
        issue_date=today - timedelta(days=5),
        due_date=today + timedelta(days=25),
        currency="EUR",
        amount=Decimal("100.00"),
    )
    get_user_model().objects.create_superuser("manager", "m@example.com", "correct horse battery")
    return entity


def test_sign_in_dashboard_and_customer(browser_page, live_server, demo_ledger, tmp_path):
    page = browser_page
    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    page.fill("input[name=username]", "manager")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").is_visible()

    page.fill("input[name=username]", "manager")
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_selector("svg.chart")
    assert page.locator("h1").inner_text().startswith("ACME SAS")
    tiles = page.locator(".tiles").inner_text()
    assert "€1,334.50" in tiles  # open receivables
    assert "€1,234.50" in tiles  # overdue
    assert page.locator("svg.chart rect").count() >= 5  # the aging bars

    page.click("text=Late Payer GmbH")
    page.wait_for_selector("text=Open items")
    rows = page.locator("table >> text=INV-OLD")
    assert rows.count() == 1
    page.screenshot(path=str(tmp_path / "customer.png"))

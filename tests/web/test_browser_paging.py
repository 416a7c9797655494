"""In a real browser: Next → on Customers and the dashboard's currency switch."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from tests.browser.conftest import browser_page  # noqa: F401  (the fixture)

pytestmark = pytest.mark.browser


@pytest.fixture
def ledger(transactional_db):
    from relance.ledger.models import Customer, Invoice
    from relance.ledger.services import entity_create_or_update

    entity, _ = entity_create_or_update(name="acme", currency="EUR", legal_name="ACME SAS")
    customers = Customer.objects.bulk_create(
        Customer(entity=entity, external_ref=f"C{n:03d}", name=f"Customer {n:03d}", currency="EUR")
        for n in range(60)
    )
    Invoice.objects.bulk_create(
        Invoice(
            entity=entity,
            customer=customer,
            external_ref=f"INV-{n:03d}",
            issue_date=date(2024, 1, 1),
            due_date=date(2024, 1, 31),
            currency="GBP" if n == 3 else "EUR",
            amount=Decimal(100 + n),
        )
        for n, customer in enumerate(customers)
    )
    get_user_model().objects.create_superuser("manager", "m@example.com", "correct horse battery")


def test_next_page_and_currency_switch_in_the_browser(browser_page, live_server, ledger):  # noqa: F811
    page = browser_page
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "manager")
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_selector("svg.chart")

    page.goto(f"{live_server.url}/customers/?order=name")
    assert "Page 1 of 2" in page.locator("nav.pager").inner_text()
    page.click("text=Next →")
    page.wait_for_selector("nav.pager:has-text('Page 2 of 2')")
    assert "order=name" in page.url and "page=2" in page.url and "??" not in page.url
    assert page.locator("table >> text=Customer 055").count() == 1

    page.goto(f"{live_server.url}/")
    page.click("p.note >> text=GBP")
    page.wait_for_selector("h1:has-text('GBP')")
    assert "£103.00" in page.locator(".tiles").inner_text()

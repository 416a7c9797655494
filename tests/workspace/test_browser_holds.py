"""In a real browser: a sales owner asks for a hold ("I'm on it") from "My accounts", sees it, and
support's why page explains it (screenshots docs/screenshots/workspace-my-accounts.png and
workspace-why.png)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from relance.core import actors
from tests.browser.conftest import browser_page  # noqa: F401  (the fixture)
from tests.workspace.conftest import PASSWORD, _invoice, build_workspace
from tests.workspace.test_browser import _shot, _sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def scene(transactional_db):
    from relance.accounts.services import user_create
    from relance.cases.services import dispute_open, promise_add
    from relance.ledger.models import Customer
    from relance.portal.links import link_create
    from relance.portal.services import Actor, PortalRefused, promise_make

    ws = build_workspace()
    sam = user_create(email="sam@acme.test", role="sales", entity_names=["acme"], password=PASSWORD)
    for customer in (ws.late, ws.other):
        customer.sales_owner = sam
        customer.save(update_fields=["sales_owner"])
    ahead = Customer.objects.create(
        entity=ws.acme, external_ref="C-AHEAD", name="Aardvark Early SA", currency="EUR", sales_owner=sam
    )
    _invoice(ahead, "INV-A1", "800.00", -20, ws.today)
    dispute_open(
        actor=actors.Actor.user(ws.ana),
        invoice=ws.late.invoices.get(external_ref="INV-L2"),
        reason_code="pricing",
        on=ws.today - timedelta(days=2),
        amount=Decimal("300"),
        note="Discount of the framework contract not applied",
    )
    promise_add(
        actor=actors.Actor.user(ws.bob),
        customer=ws.other,
        promised_date=ws.today + timedelta(days=4),
        on=ws.today,
    )
    actor = Actor(link=link_create(customer=ws.late, contact=ws.late.contacts.get(), days=30))
    with pytest.raises(PortalRefused):
        promise_make(actor=actor, on=ws.today, promised_date=ws.today + timedelta(days=90))
    return ws, sam


def test_sales_owner_holds_an_account_and_support_sees_why(browser_page, live_server, scene):  # noqa: F811
    from relance.cases.models import CustomerHold

    ws, sam = scene
    page = browser_page
    _sign_in(page, live_server.url, "sam@acme.test")
    page.wait_for_selector(".ws-nav")
    page.goto(f"{live_server.url}/w/my-accounts/")
    rows = page.locator("table#my-accounts tbody tr")
    assert rows.count() == 3  # sam's accounts with something open, not ana's or bob's others
    assert "Late Payer GmbH" in rows.nth(0).inner_text()  # escalation due today first
    assert "Aardvark Early SA" in rows.nth(2).inner_text()  # pre-due reminder in 15 days last

    row = page.locator(f"#account-{ws.late.pk}")
    row.locator("summary").click()
    row.locator("input[name=reason]").fill("Meeting their CFO on Friday: payment run confirmed")
    row.locator("input[name=days]").fill("10")
    row.locator("button:has-text('Hold the escalation')").click()
    page.wait_for_selector(".messages")
    assert "on hold from" in page.locator(".messages").inner_text()
    held = page.locator(f"#account-{ws.late.pk}")
    assert "Meeting their CFO on Friday" in held.inner_text() and "paused by the hold" in held.inner_text()
    hold = CustomerHold.objects.get(customer=ws.late)
    assert hold.created_by == sam and hold.ends_on == hold.starts_on + timedelta(days=10)
    _shot(page, "my-accounts")

    held.locator("a:has-text('why?')").click()
    page.wait_for_selector("h1:has-text('Why?')")
    holds = page.locator("#why-holds").inner_text()
    assert "Sales owner: Meeting their CFO on Friday" in holds and "by sam@acme.test" in holds
    assert "Discount of the framework contract" in page.locator("#why-disputes").inner_text()
    assert "promised date must be between" in page.locator("#why-refused").inner_text()
    _shot(page, "why")

"""In a real browser: a credit manager opens a dispute from the queue, reads the customer's words,
chooses a resolution (nothing preselected), confirms, and the queue no longer lists it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from relance.core.actors import SYSTEM
from tests.browser.conftest import browser_page  # noqa: F401  (the fixture)
from tests.workspace.conftest import PASSWORD, build_workspace

pytestmark = pytest.mark.browser


@pytest.fixture
def scene(transactional_db):
    from relance.cases.services import dispute_open
    from relance.portal.models import DisputeCase

    ws = build_workspace()
    dispute = dispute_open(
        actor=SYSTEM,
        invoice=ws.other.invoices.get(),
        reason_code="quantity",
        on=ws.today - timedelta(days=4),
        amount=Decimal(90),
    )
    DisputeCase.objects.create(
        dispute=dispute, sla_due_on=dispute.opened_on + timedelta(days=10), text="Two boxes were broken."
    )
    return ws, dispute


def test_resolve_a_dispute_from_the_queue(browser_page, live_server, scene):  # noqa: F811
    ws, dispute = scene
    page = browser_page
    page.goto(f"{live_server.url}/w/disputes/")
    page.fill("input[name=username]", "cm@acme.test")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("table#disputes")
    assert "Two boxes were broken." in page.locator("table#disputes").inner_text()
    page.click("table#disputes >> text=Open and resolve")
    page.wait_for_selector("#customer-words")
    assert page.locator("#resolve input[type=radio]:checked").count() == 0
    page.click("#resolve button")  # no choice: the browser's required radio refuses to submit
    assert "/resolve/" not in page.url
    page.check("#resolve input[value=rejected]")
    page.fill("#resolve input[name=note]", "The delivery note shows no damage.")
    page.click("#resolve button")
    page.wait_for_selector("#confirm")
    dispute.refresh_from_db()
    assert dispute.status == "open"
    page.click("#confirm button")
    page.wait_for_selector("ul.messages >> text=resolved")
    assert "INV-O1" not in page.locator("table#disputes").inner_text()
    dispute.refresh_from_db()
    assert (dispute.status, dispute.resolution) == ("resolved", "rejected")

"""On a phone (390 px wide): the worklist, the customer 360, the queues and the dashboard fit the
screen (nothing scrolls sideways; table rows are shown as cards)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from relance.core.actors import SYSTEM
from tests.browser.conftest import browser_page  # noqa: F401  (the fixture)
from tests.screenshots import screenshot_dir
from tests.workspace.conftest import PASSWORD, build_workspace

pytestmark = pytest.mark.browser
PHONE = 390
# the elements that reach past the screen's right edge (to say what to fix)
OFFENDERS = """[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 391)
  .slice(-3).map(e => e.tagName + '.' + e.className + ' ' + (e.textContent || '').slice(0, 40))"""


@pytest.fixture
def scene(transactional_db):
    from relance.cases.services import dispute_open, plan_create, promise_add
    from relance.portal.models import DisputeCase

    ws = build_workspace()
    dispute = dispute_open(
        actor=SYSTEM,
        invoice=ws.late.invoices.get(external_ref="INV-L1"),
        reason_code="quantity",
        on=ws.today - timedelta(days=4),
        amount=Decimal(90),
    )
    DisputeCase.objects.create(
        dispute=dispute,
        sla_due_on=dispute.opened_on + timedelta(days=10),
        text="Two boxes were broken on arrival; the photos of the pallet are attached to this dispute.",
    )
    promise_add(
        actor=SYSTEM,
        customer=ws.late,
        promised_date=ws.today,
        on=ws.today - timedelta(days=3),
        amount=Decimal(300),
    )
    plan_create(
        actor=SYSTEM,
        customer=ws.second,
        starts_on=ws.today - timedelta(days=10),
        installments=3,
        first_due=ws.today,
    )
    return ws, dispute


def test_back_office_pages_fit_a_phone(browser_page, live_server, scene):  # noqa: F811
    ws, dispute = scene
    phone = browser_page.context.browser.new_context(viewport={"width": PHONE, "height": 844})
    page = phone.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/w/worklist/")
    page.fill("input[name=username]", "cm@acme.test")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("table#worklist")
    wide = {}
    for path in (
        "/w/worklist/",
        f"/w/customers/{ws.late.pk}/",
        "/w/disputes/",
        f"/w/disputes/{dispute.pk}/",
        "/w/promises/",
        "/w/plans/",
        "/",
        "/customers/",
        "/invoices/",
    ):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE:
            wide[path] = (width, page.evaluate(OFFENDERS))
    page.goto(f"{live_server.url}/w/worklist/")
    card = page.locator("table#worklist tbody tr").first
    assert card.locator("td[data-label='Overdue']").count() == 1  # each cell says its column
    page.screenshot(path=str(screenshot_dir() / "workspace-worklist-phone.png"), full_page=True)
    phone.close()
    assert wide == {}

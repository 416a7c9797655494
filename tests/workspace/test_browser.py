"""In a real browser: the collector's journey with the keyboard, the credit manager's policy edit
with preview, and screenshots of each workspace page (docs/screenshots/workspace-*.png)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from relance.core.actors import SYSTEM, Actor
from tests.browser.conftest import browser_page  # noqa: F401  (the fixture)
from tests.screenshots import screenshot_dir
from tests.workspace.conftest import PASSWORD, build_workspace

pytestmark = pytest.mark.browser


@pytest.fixture
def scene(transactional_db):
    from relance.cases.services import dispute_open, plan_create, promise_add
    from relance.workspace.services import customer_note_add

    ws = build_workspace()
    today = ws.today
    customer_note_add(
        actor=Actor.user(ws.ana),
        customer=ws.late,
        text="AP says the invoice is approved for the next payment run",
    )
    dispute_open(
        actor=SYSTEM,
        invoice=ws.other.invoices.get(),
        reason_code="quantity",
        on=today - timedelta(days=20),
        amount=Decimal("120"),
    )
    promise_add(
        actor=SYSTEM,
        customer=ws.late,
        promised_date=today,
        on=today - timedelta(days=3),
        amount=Decimal("300"),
    )
    plan_create(
        actor=SYSTEM,
        customer=ws.second,
        starts_on=today - timedelta(days=10),
        installments=3,
        first_due=today - timedelta(days=2),
    )
    return ws


def _sign_in(page, url, email):
    page.goto(f"{url}/w/worklist/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def _shot(page, name):
    page.screenshot(path=str(screenshot_dir() / f"workspace-{name}.png"), full_page=True)


def test_collector_journey_with_the_keyboard(browser_page, live_server, scene):  # noqa: F811
    from relance.cases.models import Promise

    page = browser_page
    _sign_in(page, live_server.url, "ana@acme.test")
    page.wait_for_selector("table#worklist")
    rows = page.locator("table#worklist tbody tr")
    assert rows.count() == 2  # only ana's customers
    assert "Late Payer GmbH" in rows.nth(0).inner_text()
    _shot(page, "worklist")

    page.keyboard.press("j")
    assert "current" in (rows.nth(1).get_attribute("class") or "")
    page.keyboard.press("k")
    page.keyboard.press("Enter")
    page.wait_for_selector("h1:has-text('Late Payer GmbH')")
    page.wait_for_selector("#behaviour dl")  # the engine's evidence, loaded after the page
    _shot(page, "customer")

    # search as you type
    page.keyboard.press("/")
    page.keyboard.type("1234.56")
    page.wait_for_selector("#ws-search-results a:has-text('INV-S1')")
    _shot(page, "search")
    page.keyboard.press("Escape")

    # promise in two clicks: (p), then Save and next
    page.keyboard.press("p")
    page.fill("input[name=amount]", "1500")
    page.click("button:has-text('Save and next')")
    page.wait_for_selector("h1:has-text('Second Buyer SARL')")
    assert "Promise to pay €1,500.00" in page.locator(".messages").inner_text()
    promise = Promise.objects.get(customer=scene.late, amount=Decimal("1500"))
    assert promise.promised_date == scene.today + timedelta(days=7) and promise.created_by == scene.ana

    page.keyboard.press("n")  # the last one: back to the worklist
    page.wait_for_selector("table#worklist")
    assert "last customer" in page.locator(".messages").inner_text()


def test_queues_screenshots(browser_page, live_server, scene):  # noqa: F811
    page = browser_page
    _sign_in(page, live_server.url, "cm@acme.test")
    page.wait_for_selector("table#worklist")
    for name in ("disputes", "promises", "plans"):
        page.goto(f"{live_server.url}/w/{name}/")
        page.wait_for_selector("table.ws-list tbody tr")
        _shot(page, name)
    assert "past SLA" in page.goto(f"{live_server.url}/w/disputes/").text()


def test_credit_manager_edits_a_policy_with_preview(browser_page, live_server, scene):  # noqa: F811
    from relance.dunning.models import DunningRun, Policy

    DunningRun.objects.filter(entity=scene.acme).delete()  # tomorrow's run as if none had run yet
    page = browser_page
    _sign_in(page, live_server.url, "cm@acme.test")
    page.wait_for_selector(".ws-nav")
    page.goto(f"{live_server.url}/w/policies/{scene.policy.pk}/edit/")
    page.click("#yaml-editor summary")  # the raw YAML, for advanced users
    area = page.locator("textarea[name=spec]")
    area.fill(area.input_value().replace("- email", "- sms"))
    page.click("#policy-form button:has-text('Preview')")
    page.wait_for_selector("#simulation h2:has-text('with this draft')")
    assert "sms" in page.locator("#simulation table").inner_text()
    _shot(page, "policy-preview")
    assert Policy.objects.get(pk=scene.policy.pk).version == 1

    area = page.locator("textarea[name=spec]")
    area.fill(area.input_value().replace("offset_days: ", "offset_days: x", 1))
    page.click("#policy-form button:has-text('Review changes')")
    page.wait_for_selector("[role=alert]")
    assert "line " in page.locator("[role=alert]").inner_text()
    _shot(page, "policy-error")
    assert Policy.objects.get(pk=scene.policy.pk).version == 1

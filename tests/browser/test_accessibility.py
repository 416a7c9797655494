"""Accessibility in a real browser: axe-core (bundled by axe-playwright-python, ADR 0011) finds no
violation on the main pages, and the single-key shortcuts can be turned off (WCAG 2.1.4).

axe checks what a machine can (names, labels, contrast, landmarks, ARIA, tables); it is no
substitute for a person with a screen reader, but a violation it finds is always a real one."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from relance.core.actors import SYSTEM
from tests.browser.conftest import browser_page  # noqa: F401  (the fixture)
from tests.workspace.conftest import PASSWORD, build_workspace

pytestmark = pytest.mark.browser

# WCAG 2.0/2.1 A and AA, and axe's best practices (landmarks, one main, headings order…)
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
    "resultTypes": ["violations"],
}


@pytest.fixture
def scene(transactional_db):
    from relance.cases.services import dispute_open, plan_create, promise_add
    from relance.portal.links import link_create, link_path

    ws = build_workspace()
    today = ws.today
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
    _stored_predictions(ws)  # the worklist's next best action and the 360's prediction panel
    link = link_create(customer=ws.late, contact=ws.late.contacts.first(), days=30)
    from tests.workspace.cash_scene import build_cash_lines

    build_cash_lines(ws)  # the exception queue's lines
    return ws, link_path(link)


def _stored_predictions(ws) -> None:
    from tests.workspace.prediction_scene import store_predictions

    drivers = [{"feature": "past_days_late", "contribution_days": 12.0, "text": "Usually pays 12 days late"}]
    expected = ws.today + timedelta(days=12)
    store_predictions(
        ws,
        [
            (ws.late.invoices.get(external_ref="INV-L1"), 0.9, expected, drivers, (4, 10)),
            (ws.other.invoices.get(), 0.1, expected, drivers, (4, 10)),
        ],
        trained_rows=10,
    )


def _sign_in(page, url, email):
    page.goto(f"{url}/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("load")


def _violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    page.evaluate("document.querySelectorAll('details').forEach(function (d) { d.open = true; })")
    results = Axe().run(page, options=AXE_OPTIONS)
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} — "
        + "; ".join(node["target"][0] if node["target"] else "?" for node in violation["nodes"][:5])
        for violation in results.response["violations"]
    ]


def test_the_main_pages_have_no_axe_violation(browser_page, live_server, scene):  # noqa: F811
    ws, portal = scene
    page = browser_page
    base = live_server.url
    page.goto(f"{base}{portal}")  # the customer's portal, before signing in
    page.wait_for_load_state("load")
    found = {"portal overview": _violations(page)}

    _sign_in(page, base, "cm@acme.test")
    pages = {
        "dashboard": "/",
        "customers": "/customers/",
        "invoices": "/invoices/",
        "invoices drilled": "/invoices/?state=open&bucket=31-60&currency=EUR",
        "worklist": "/w/worklist/",
        "customer 360": f"/w/customers/{ws.late.pk}/",
        "disputes": "/w/disputes/",
        "promises": "/w/promises/",
        "plans": "/w/plans/",
        "my accounts": "/w/my-accounts/",
        "outbox": "/delivery/outbox/",
        "search": "/w/find/?q=late",
        "cash to apply": "/w/cash/",
        "cash applied": "/w/cash/?status=applied",
    }
    for name, path in pages.items():
        response = page.goto(f"{base}{path}")
        assert response.ok, path
        page.wait_for_load_state("load")
        if name == "customer 360":
            page.wait_for_selector("#behaviour dl")  # the evidence loaded after the page is checked too
        found[name] = _violations(page)
    report = [f"{name}: {problem}" for name, problems in found.items() for problem in problems]
    assert not report, "\n".join(report)


def test_single_key_shortcuts_can_be_turned_off_and_on(browser_page, live_server, scene):  # noqa: F811
    page = browser_page
    _sign_in(page, live_server.url, "ana@acme.test")
    page.goto(f"{live_server.url}/w/worklist/")
    rows = page.locator("table#worklist tbody tr")
    toggle = page.locator("#shortcuts-toggle")
    assert toggle.get_attribute("aria-pressed") == "true"

    page.keyboard.press("j")
    assert "current" in (rows.nth(1).get_attribute("class") or "")
    page.keyboard.press("k")

    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "false"
    assert "off" in toggle.inner_text()
    page.locator("h1").click()  # focus back on the page, not on the button
    page.keyboard.press("j")
    assert "current" not in (rows.nth(1).get_attribute("class") or "")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") != "ws-search"

    # the choice is kept (this browser, every page) until turned on again
    page.goto(f"{live_server.url}/w/customers/{scene[0].late.pk}/")
    page.keyboard.press("p")
    assert page.locator("#outcome-form").is_hidden()
    page.locator("#shortcuts-toggle").click()
    assert page.locator("#shortcuts-toggle").get_attribute("aria-pressed") == "true"
    page.locator("h1").click()
    page.keyboard.press("p")
    assert page.locator("#outcome-form").is_visible()

"""In a real browser: "Show more open items" on the customer page appends the next pages' rows."""

from __future__ import annotations

import pytest

from tests.browser.conftest import browser_page  # noqa: F401  (the fixture)
from tests.workspace.conftest import PASSWORD, build_workspace
from tests.workspace.test_performance import MANY, _many_open_items

pytestmark = pytest.mark.browser


def test_show_more_appends_every_page_then_disappears(browser_page, live_server, transactional_db):  # noqa: F811
    ws = build_workspace()
    _many_open_items(ws.late, ws.today)
    page = browser_page
    page.goto(f"{live_server.url}/w/customers/{ws.late.pk}/")
    page.fill("input[name=username]", ws.ana.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#open-items tbody tr")
    rows = page.locator("#open-items tbody tr")
    assert rows.count() == 50
    page.click("a[data-more]")
    page.wait_for_function("() => document.querySelectorAll('#open-items tbody tr').length === 100")
    page.click("a[data-more]")
    page.wait_for_function(f"() => document.querySelectorAll('#open-items tbody tr').length === {MANY + 2}")
    assert page.locator("a[data-more]").count() == 0
    assert page.url.endswith(f"/w/customers/{ws.late.pk}/")  # appended in place, no navigation
    assert rows.last.locator("td").first.inner_text() == "INV-M119"

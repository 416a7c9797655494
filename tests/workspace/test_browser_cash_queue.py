"""In a real browser: a collector works the exception queue with the keyboard — `j` to the
suggested line, `a` accepts its top candidate — then splits an unmatched line across two invoices
(`s` opens the form, the remainder is shown as amounts are typed); `c` opens the assign form of
the last line, whose customers are offered as a name is typed. Screenshot:
docs/screenshots/workspace-cash-queue.png."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.browser.conftest import browser_page  # noqa: F401  (the fixture)
from tests.screenshots import screenshot_dir
from tests.workspace.cash_scene import build_cash_lines
from tests.workspace.conftest import PASSWORD, build_workspace

pytestmark = pytest.mark.browser


@pytest.fixture
def scene(transactional_db):
    ws = build_workspace()
    return ws, build_cash_lines(ws)


def _sign_in(page, url, email, to):
    page.goto(f"{url}{to}")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_accept_with_the_keyboard_and_split_a_line(browser_page, live_server, scene):  # noqa: F811
    from relance.ledger.models import Allocation

    ws, cash = scene
    page = browser_page
    _sign_in(page, live_server.url, "ana@acme.test", "/w/cash/")
    page.wait_for_selector("section.cash-line")
    cards = page.locator("section.cash-line")
    assert cards.count() == 3  # the USD line, the unmatched, the suggested: oldest first
    assert "current" in (cards.nth(0).get_attribute("class") or "")
    page.screenshot(path=str(screenshot_dir() / "workspace-cash-queue.png"), full_page=True)

    # j, j: the suggested line; a: its top candidate (Second Buyer's INV-S1) is accepted
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert "current" in (page.locator(f"#line-{cash.suggested.pk}").get_attribute("class") or "")
    page.keyboard.press("a")
    page.wait_for_selector(".messages")
    assert "applied" in page.locator(".messages").inner_text()
    cash.suggested.refresh_from_db()
    assert cash.suggested.status == "applied"
    paid = Allocation.objects.filter(invoice__external_ref="INV-S1").values_list("amount", flat=True)
    assert list(paid) == [Decimal("1234.56")]
    assert page.locator(f"#line-{cash.suggested.pk}").count() == 0

    # j: the unmatched line (150.00); s opens its split form on the first field
    page.locator("h1").click()
    page.keyboard.press("j")
    card = page.locator(f"#line-{cash.unmatched.pk}")
    assert "current" in (card.get_attribute("class") or "")
    page.keyboard.press("s")
    assert page.evaluate("document.activeElement.name") == "invoice_0"
    page.keyboard.type("INV-L1")
    card.locator("input[name=amount_0]").fill("100")
    card.locator("input[name=invoice_1]").fill("INV-L2")
    card.locator("input[name=amount_1]").fill("30")
    assert card.locator(".cash-remainder output").inner_text() == "20.00 EUR"
    card.locator("form.cash-split button.primary").click()
    page.wait_for_selector(".messages")
    message = page.locator(".messages").inner_text()
    assert "split across INV-L1, INV-L2" in message and "€20.00 kept as unapplied cash" in message
    cash.unmatched.refresh_from_db()
    assert cash.unmatched.status == "applied"
    split = dict(
        Allocation.objects.filter(payment__external_ref__startswith=f"BANK-{cash.unmatched.pk}").values_list(
            "invoice__external_ref", "amount"
        )
    )
    assert split == {"INV-L1": Decimal("100"), "INV-L2": Decimal("30")}

    # c: the assign form of the current line; the customers are offered as their name is typed
    page.locator("h1").click()
    page.keyboard.press("j")
    assert "current" in (page.locator(f"#line-{cash.usd.pk}").get_attribute("class") or "")
    page.keyboard.press("c")
    assert page.evaluate("document.activeElement.name") == "customer"
    page.keyboard.type("second")
    page.wait_for_selector(f"#assign-{cash.usd.pk}-customers option[value=C-SECOND]", state="attached")

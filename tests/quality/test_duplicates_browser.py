"""In a real browser: a credit manager reviews duplicate pairs side by side, merges one keeping
the customer of their choice, marks another "not a duplicate", undoes the merge; the page has no
axe violation (screenshot docs/screenshots/workspace-duplicates.png)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from tests.browser.conftest import browser_page  # noqa: F401  (the fixture)
from tests.browser.test_accessibility import _violations
from tests.screenshots import screenshot_dir
from tests.workspace.conftest import PASSWORD, build_workspace

pytestmark = pytest.mark.browser


@pytest.fixture
def scene(transactional_db):
    from relance.ledger.models import Contact, Customer, Invoice
    from relance.quality.duplicates_services import duplicates_find

    ws = build_workspace()
    Contact.objects.update(phone="")  # the scene's one shared test number is not evidence here
    ws.late.tax_id = "DE129273398"
    ws.late.save()
    copy = Customer.objects.create(
        entity=ws.acme, external_ref="C-LATE-2", name="LATE PAYER", currency="EUR", tax_id="DE 129 273 398"
    )
    Contact.objects.create(customer=copy, email="billing@c-late.test")
    Invoice.objects.create(
        entity=ws.acme,
        customer=copy,
        external_ref="INV-L9",
        issue_date=ws.today - timedelta(days=30),
        due_date=ws.today,
        currency="EUR",
        amount=Decimal("650.00"),
    )
    Customer.objects.create(entity=ws.acme, external_ref="C-SECOND-B", name="Second Buyers", currency="EUR")
    duplicates_find(entity=ws.acme)
    return ws, copy


def test_a_credit_manager_reviews_merges_and_undoes(browser_page, live_server, scene):  # noqa: F811
    from relance.ledger.models import Customer, Invoice
    from relance.quality.models import DuplicateCandidate, NotDuplicate

    ws, copy = scene
    page = browser_page
    page.goto(f"{live_server.url}/w/quality/duplicates/")
    page.fill("input[name=username]", "cm@acme.test")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("section.pair")
    assert page.locator("section.pair").count() == 2
    first = page.locator("section.pair").nth(0)
    assert "Late Payer GmbH" in first.inner_text() and "same tax id DE129273398" in first.inner_text()
    assert _violations(page) == []
    page.screenshot(path=str(screenshot_dir() / "workspace-duplicates.png"), full_page=True)

    first.locator(f"input[name=survivor][value='{ws.late.pk}']").check()
    first.locator("button", has_text="Merge").click()
    page.wait_for_selector(".messages")
    assert (
        "LATE PAYER (C-LATE-2) merged into Late Payer GmbH (C-LATE)" in page.locator(".messages").inner_text()
    )
    assert Invoice.objects.get(external_ref="INV-L9").customer_id == ws.late.pk
    assert not Customer.objects.filter(pk=copy.pk).exists()

    pair = DuplicateCandidate.objects.get()
    page.locator(f"#pair-{pair.pk} button", has_text="Not a duplicate").click()
    page.wait_for_selector("#no-pair")
    assert NotDuplicate.objects.filter(ref_low="C-SECOND", ref_high="C-SECOND-B").exists()

    page.locator("table.merges button", has_text="Undo").click()
    page.wait_for_selector(".messages")
    assert Invoice.objects.get(external_ref="INV-L9").customer_id == copy.pk
    assert page.locator("nav.ws-nav a[aria-current=page]").inner_text() == "Duplicates"

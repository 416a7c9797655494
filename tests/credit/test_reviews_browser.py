"""In a real browser: a credit manager works the review queue (edits a proposed limit and accepts,
rejects another with a note), a collector reads it without the forms, and the customer page
links to it (screenshot docs/screenshots/workspace-credit-reviews.png)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from relance.core.actors import Actor
from tests.browser.conftest import browser_page  # noqa: F401  (the fixture)
from tests.screenshots import screenshot_dir
from tests.workspace.conftest import PASSWORD, build_workspace

pytestmark = pytest.mark.browser


@pytest.fixture
def scene(transactional_db):
    from relance.credit.services.reviews import review_run
    from relance.ledger.services import customer_credit_terms_set

    ws = build_workspace()
    customer_credit_terms_set(customer=ws.second, credit_limit=Decimal("1000"), payment_terms_days=30)
    review_run(entity=ws.acme, as_of=ws.today, actor=Actor.cli("test"))
    return ws


def _sign_in(page, url, email, to):
    page.goto(f"{url}{to}")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_a_credit_manager_works_the_review_queue(browser_page, live_server, scene):  # noqa: F811
    from relance.credit.models import CreditDecision, CreditReview, ReviewStatus

    ws = scene
    late, second = (CreditReview.objects.get(customer=customer) for customer in (ws.late, ws.second))
    page = browser_page
    _sign_in(page, live_server.url, "cm@acme.test", "/w/credit/reviews/")
    page.wait_for_selector("section.review")
    cards = page.locator("section.review")
    assert cards.count() == 2
    assert "Late Payer GmbH" in cards.nth(0).inner_text()  # €4,500 at stake before €1,234.56
    card = page.locator(f"#review-{second.pk}")
    assert "Exposure €1,234.56 is over the €1,000.00 limit (123 % used)." in card.inner_text()
    assert "The score" in card.inner_text()
    page.screenshot(path=str(screenshot_dir() / "workspace-credit-reviews.png"), full_page=True)

    card.locator("input[name=limit]").fill("1500")
    card.locator("input[name=note]").fill("Met the buyer: bigger orders from Q4")
    card.locator("button[value=accept]").click()
    page.wait_for_selector(".messages")
    assert "Second Buyer SARL: review accepted" in page.locator(".messages").inner_text()
    assert page.locator(f"#review-{second.pk}").count() == 0
    ws.second.refresh_from_db()
    assert ws.second.credit_limit == 1500
    assert CreditDecision.objects.get().note == "Met the buyer: bigger orders from Q4"

    other = page.locator(f"#review-{late.pk}")
    other.locator("input[name=note]").fill("Seasonal peak, pays in October")
    other.locator("button[value=reject]").click()
    page.wait_for_selector("#no-review")
    late.refresh_from_db()
    assert (late.status, late.note) == (ReviewStatus.REJECTED, "Seasonal peak, pays in October")


def test_a_collector_reads_the_queue_and_the_customer_page_links_to_it(browser_page, live_server, scene):  # noqa: F811
    from relance.credit.models import CreditReview

    ws = scene
    review = CreditReview.objects.get(customer=ws.second)
    page = browser_page
    _sign_in(page, live_server.url, "ana@acme.test", f"/w/customers/{ws.second.pk}/")
    page.wait_for_selector("#credit-review-link")
    page.locator("#credit-review-link a").click()
    page.wait_for_selector(f"#review-{review.pk}")
    assert page.url.endswith(f"/w/credit/reviews/#review-{review.pk}")
    assert page.locator("#read-only").is_visible()
    assert page.locator("form.review-form").count() == 0
    assert page.locator("nav.ws-nav a[aria-current=page]").inner_text() == "Credit reviews"

"""In a real browser: the fix list, the 360's data-quality card, the dashboard card, the
portal's "Your details" and the back office's contact changes, axe-clean, with screenshots
(docs/screenshots/quality-*.png with RELANCE_SCREENSHOTS=1)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import browser_page  # noqa: F401  (the fixture)
from tests.browser.test_accessibility import _violations
from tests.screenshots import screenshot_dir
from tests.workspace.conftest import PASSWORD, build_workspace

pytestmark = pytest.mark.browser


@pytest.fixture
def scene(transactional_db):
    from relance.ledger.models import Contact
    from relance.portal.contact_details import details_submit
    from relance.portal.links import link_create, link_path
    from relance.portal.services import Actor
    from relance.quality.report import quality_check

    ws = build_workspace()
    Contact.objects.filter(customer=ws.late).update(
        email="noreply@late-payer.de",
        phone="+33142685300",
        postal_address="Hauptstr. 5\nBerlin",
        address_status="returned",
        address_reason="letter returned on 2026-12-01: moved, no forwarding address",
    )
    Contact.objects.filter(customer=ws.other).update(email="compta@yopmail.com")
    quality_check(entity=ws.acme, trigger="import:contacts")
    contact = Contact.objects.filter(customer=ws.late).first()
    link = link_create(customer=ws.late, contact=contact, days=30)
    details_submit(
        actor=Actor(link, "127.0.0.1"),
        contact_id=contact.pk,
        values={"name": contact.name, "postal_address": "Friedrichstr. 10\n10117 Berlin"},
        on=ws.today,
    )
    return ws, link_path(link)


def _shot(page, name):
    page.screenshot(path=str(screenshot_dir() / f"quality-{name}.png"), full_page=True)


def test_the_quality_pages_in_a_browser(browser_page, live_server, scene):  # noqa: F811
    ws, portal = scene
    page = browser_page
    base = live_server.url
    page.goto(f"{base}{portal}details/")
    page.wait_for_selector("h1")
    assert "A change you sent is waiting" in page.inner_text("main")
    found = {"portal details": _violations(page)}
    _shot(page, "portal-details")
    # a new billing contact: refused with the check's reason, then sent for review
    page.fill("#new-name", "Petra Payables")
    page.fill("#new-email", "noreply@late-payer.de")
    page.click("form[aria-labelledby=new-contact] button[type=submit]")
    page.wait_for_selector("#new-contact-error")
    assert "no-reply mailbox" in page.inner_text("#new-contact-error")
    assert page.input_value("#new-name") == "Petra Payables"  # the input is kept
    found["portal details, refused"] = _violations(page)
    page.fill("#new-email", "petra@late-payer.de")
    page.click("form[aria-labelledby=new-contact] button[type=submit]")
    page.wait_for_selector("p.notice")
    assert "we will check the new contact" in page.inner_text("p.notice")
    assert "A new contact you sent is waiting" in page.inner_text("main")

    page.goto(f"{base}/login/")
    page.fill("input[name=username]", "cm@acme.test")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("load")
    for name, path in {
        "fix-list": "/w/quality/",
        "customer-360": f"/w/customers/{ws.late.pk}/",
        "contact-changes": "/portal/back/contact-changes/",
        "dashboard": "/",
    }.items():
        response = page.goto(f"{base}{path}")
        assert response.ok, path
        page.wait_for_load_state("load")
        found[name] = _violations(page)
        if name == "fix-list":
            first = page.locator("table#fix-list tbody tr").first.inner_text()
            assert "Late Payer" in first  # the most open amount at stake first
            _shot(page, name)
        elif name == "customer-360":
            assert "Unusable postal address" in page.inner_text("#quality-title ~ ul.problems")
            page.locator("#quality-title").scroll_into_view_if_needed()
            _shot(page, name)
        elif name == "contact-changes":
            assert "Friedrichstr. 10" in page.inner_text("main")
            _shot(page, name)
            row = page.locator("tr", has_text="New billing contact")
            assert "petra@late-payer.de" in row.inner_text()
            row.locator("button[value=accept]").click()
            page.wait_for_load_state("load")
            assert "New billing contact" not in page.inner_text("main")
        else:
            assert "Data quality" in page.inner_text("#data-quality")
    from relance.ledger.models import Contact

    added = Contact.objects.get(email="petra@late-payer.de")
    assert (added.customer_id, added.name, added.role) == (ws.late.pk, "Petra Payables", "billing")
    report = [f"{name}: {problem}" for name, problems in found.items() for problem in problems]
    assert not report, "\n".join(report)

"""In a real browser: a credit manager opens Templates from the menu, edits a template and sees the
preview follow the typing for the customer they chose, sees a sandbox error under the field,
saves, reads the history with its diff, and reverts; the page breaks no Content-Security-Policy."""

from __future__ import annotations

import pytest

from tests.browser.conftest import browser_page  # noqa: F401  (the fixture)
from tests.security.test_browser_csp import RECORD_VIOLATIONS
from tests.workspace.conftest import build_workspace
from tests.workspace.test_browser import _sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def scene(transactional_db):
    return build_workspace()


def test_credit_manager_edits_previews_saves_and_reverts_a_template(
    browser_page,  # noqa: F811
    live_server,
    scene,
    tmp_path,
):
    from relance.comms.models import MessageTemplate, MessageTemplateVersion

    ws = scene
    page = browser_page
    page.context.add_init_script(RECORD_VIOLATIONS)
    _sign_in(page, live_server.url, "cm@acme.test")
    page.wait_for_selector(".ws-nav")

    page.click("header nav a:has-text('Templates')")
    page.wait_for_selector("table#templates")
    cell = page.locator('a[data-template="overdue_firm/email/en"]')
    assert cell.inner_text() == "shipped"
    cell.click()
    page.wait_for_selector("#template-form")
    assert "sends the shipped version" in page.locator("#template-state").inner_text()

    page.select_option("#preview-customer", label="Second Buyer SARL (C-SECOND)")
    page.wait_for_selector("#template-preview .tpl-preview-for:has-text('Second Buyer SARL')")

    page.fill("#field-subject", "Last call for {{ customer.name }}")
    page.wait_for_selector("#preview-subject:text-is('Last call for Second Buyer SARL')")
    page.fill("#field-subject", "Last call for {{ customer.nam }}")
    page.wait_for_selector("#error-subject:has-text('Line 1')")
    assert page.get_attribute("#field-subject", "aria-invalid") == "true"
    assert "nam" in page.locator("#error-subject").inner_text()
    page.fill("#field-subject", "Last call for {{ customer.name }}")
    page.wait_for_selector("#field-subject:not([aria-invalid])")
    page.wait_for_selector("#preview-subject:text-is('Last call for Second Buyer SARL')")
    assert page.locator("#error-subject").inner_text() == ""

    page.click("#save-template")
    page.wait_for_selector(".messages")
    assert "Saved" in page.locator(".messages").inner_text()
    assert "sends its own version" in page.locator("#template-state").inner_text()
    version = page.locator("#version-1")
    assert "cm@acme.test" in version.inner_text()
    assert version.locator(".diff-add", has_text="+Last call for {{ customer.name }}").count() == 1
    assert version.locator(".diff-remove").count() >= 1  # the shipped subject it replaced

    page.fill("#field-subject", "Final call for {{ customer.name }}")
    page.click("#save-template")
    page.wait_for_selector("#version-2")
    assert page.locator("#version-2 .diff-add", has_text="+Final call for {{ customer.name }}").count() == 1
    page.screenshot(path=str(tmp_path / "templates.png"), full_page=True)
    frame = page.frame_locator("#template-preview iframe").locator("body")
    assert "Final call for" not in frame.inner_text()  # the subject is not in the body
    assert "€1,234.56" in frame.inner_text()  # the HTML body, still for the customer chosen

    page.click("#version-1 button:has-text('Revert to version 1')")
    page.wait_for_selector("#version-3")
    assert "Reverted to version 1" in page.locator(".messages").inner_text()
    assert page.input_value("#field-subject") == "Last call for {{ customer.name }}"
    own = MessageTemplate.objects.get(entity=ws.acme, key="overdue_firm", channel="email", language="en")
    assert own.subject == "Last call for {{ customer.name }}"
    assert MessageTemplateVersion.objects.filter(entity=ws.acme).count() == 3
    assert page.evaluate("window.__csp") == []

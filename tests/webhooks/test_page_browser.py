"""In a real browser: an admin adds a webhook endpoint for a real loopback receiver, sees its
secret once, sends a test event (delivered by a worker pass, signed), and replays it from the
attempt log with the same webhook-id; the pages have no axe violation (screenshot
docs/screenshots/workspace-webhooks.png)."""

from __future__ import annotations

import pytest
from standardwebhooks import Webhook

from tests.browser.conftest import browser_page  # noqa: F401  (the fixture)
from tests.browser.test_accessibility import _violations
from tests.screenshots import screenshot_dir
from tests.workspace.conftest import PASSWORD, build_workspace

pytestmark = pytest.mark.browser


@pytest.fixture
def scene(transactional_db, allow_private):
    from relance.accounts.services import user_create

    ws = build_workspace()
    user_create(email="root@acme.test", role="admin", entity_names=[], password=PASSWORD)
    return ws


def test_an_admin_adds_an_endpoint_sees_the_secret_once_and_replays(
    browser_page,  # noqa: F811
    live_server,
    scene,
    receiver,
):
    from relance.webhooks.delivery import webhook_pass
    from relance.webhooks.models import WebhookDelivery, WebhookEndpoint

    page = browser_page
    page.set_default_timeout(60_000)  # each worker pass and page is a round trip on a shared machine
    page.goto(f"{live_server.url}/w/webhooks/")
    page.fill("input[name=username]", "root@acme.test")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#no-endpoint")
    assert page.locator("header nav a[aria-current=page]").inner_text() == "Webhooks"

    # A refused URL is shown by its field, the types checked stay checked.
    page.fill("input[name=url]", "ftp://erp.example.com/hooks")
    page.check("input[value='invoice.paid']")
    page.click("button:has-text('Add the endpoint')")
    page.wait_for_selector("#url-error")
    assert "http:// or https://" in page.locator("#url-error").inner_text()
    assert page.is_checked("input[value='invoice.paid']")
    assert _violations(page) == []

    page.fill("input[name=url]", receiver.url)
    page.select_option("select[name=entity]", "acme")
    page.click("button:has-text('Add the endpoint')")
    page.wait_for_selector("#secret-value")
    endpoint = WebhookEndpoint.objects.get()
    assert page.locator("#secret-value").inner_text() == endpoint.secret
    assert endpoint.event_types == ["invoice.paid"] and endpoint.entity.name == "acme"
    assert _violations(page) == []

    page.click("button:has-text('Send a test event')")
    page.wait_for_selector(".messages")
    assert "Test event" in page.locator(".messages").inner_text()
    assert endpoint.secret not in page.content()  # shown once: not on the next page
    webhook_pass(worker_id="browser")
    [first] = receiver.received
    assert Webhook(endpoint.secret).verify(first.body, first.headers)["type"] == "webhook.test"

    page.reload()
    row = page.locator("#attempts tbody tr").first
    assert "HTTP 204" in row.inner_text() and first.id in row.inner_text()
    page.screenshot(path=str(screenshot_dir() / "workspace-webhooks.png"), full_page=True)
    assert _violations(page) == []
    row.locator("button", has_text="Replay").click()
    page.wait_for_selector(".messages")
    assert "same webhook-id" in page.locator(".messages").inner_text()
    webhook_pass(worker_id="browser")
    assert [request.id for request in receiver.received] == [first.id, first.id]
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "delivered" and delivery.log.count() == 2
    page.reload()
    assert page.locator("#attempts tbody tr").count() == 2

    page.goto(f"{live_server.url}/w/webhooks/")
    assert receiver.url in page.locator("#endpoints").inner_text()
    assert "HTTP 204" in page.locator(f"#endpoint-{endpoint.pk}").inner_text()

"""In a real browser: a credit manager edits a step in the policy form, reviews the changes (in
words and as a YAML diff), saves with a comment, reads the history and rolls back."""

from __future__ import annotations

import pytest

from tests.browser.conftest import browser_page  # noqa: F401  (the fixture)
from tests.workspace.conftest import build_workspace
from tests.workspace.test_browser import _sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def scene(transactional_db):
    return build_workspace(run=True)


def test_edit_a_step_review_save_history_and_roll_back(browser_page, live_server, scene):  # noqa: F811
    from relance.audit.models import AuditEvent
    from relance.dunning.models import Policy, PolicyVersion

    ws = scene
    page = browser_page
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text) if "Refused" in message.text else None)
    _sign_in(page, live_server.url, "cm@acme.test")
    page.wait_for_selector(".ws-nav")
    page.goto(f"{live_server.url}/w/policies/")
    page.click(f"a[href='/w/policies/{ws.policy.pk}/edit/']")

    step = page.locator("#step-3")  # reminder_3, day 30
    assert step.locator("legend").inner_text() == "Step 4 reminder_3"
    step.locator("input[name='steps-3-offset_days']").fill("27")
    step.locator("input[name='steps-3-channels']").fill("email, sms")
    page.click("#steps-form button:has-text('Preview')")
    page.wait_for_selector("#affected-list")
    affected = page.locator("#affected-list").inner_text()
    assert "Other Account SA" in affected and "Chased 3 days earlier" in affected
    assert page.locator("input[name='steps-3-offset_days']").input_value() == "27"  # the draft is kept

    page.click("#steps-form button:has-text('Review changes')")
    page.wait_for_selector("#changes")
    assert (
        "Step 4 (reminder_3): day 30 → day 27; channel e-mail + letter → e-mail + SMS"
        in page.locator("#changes").inner_text()
    )
    page.click("#yaml-diff summary")
    diff = page.locator(".policy-diff").inner_text()
    assert "-  offset_days: 30" in diff and "+  offset_days: 27" in diff and "+  - sms" in diff
    assert Policy.objects.get(pk=ws.policy.pk).version == 1  # nothing saved before the confirmation

    page.fill("#confirm-form input[name=comment]", "Earlier firm reminder, by SMS too")
    page.click("#confirm-form button:has-text('Save as version 2')")
    page.wait_for_selector("#history")
    assert "saved as version 2" in page.locator(".messages").inner_text()
    newest = page.locator("#version-2").inner_text()
    assert "cm@acme.test" in newest and "Earlier firm reminder, by SMS too" in newest and "current" in newest
    assert "Step 4 (reminder_3): day 30 → day 27" in newest

    page.click("#version-1 button:has-text('Roll back to version 1')")
    page.wait_for_selector("#changes")
    assert "Step 4 (reminder_3): day 27 → day 30" in page.locator("#changes").inner_text()
    page.fill("#confirm-form input[name=comment]", "SMS numbers not verified yet")
    page.click("#confirm-form button:has-text('Roll back')")
    page.wait_for_selector("#history")
    assert "restores version 1" in page.locator("#version-3").inner_text()

    policy = Policy.objects.get(pk=ws.policy.pk)
    assert policy.version == 3
    assert policy.spec == PolicyVersion.objects.get(policy=policy, version=1).spec
    assert AuditEvent.objects.filter(action="policy_rollback", actor_user=ws.manager).count() == 1
    assert refused == []  # nothing refused by the Content-Security-Policy

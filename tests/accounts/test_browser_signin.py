"""In a real browser: a collector with a second factor signs in (password, then code), sees only
their entity, and is refused the audit page; an auditor reads it."""

from __future__ import annotations

import time

import pyotp
import pytest

from tests.browser.conftest import browser_page  # noqa: F401  (the fixture)

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery 9"


@pytest.fixture
def people(transactional_db):
    from relance.accounts import services
    from relance.ledger.models import Customer
    from relance.ledger.services import entity_create_or_update

    acme, _ = entity_create_or_update(name="acme", currency="EUR", legal_name="ACME SAS")
    globex, _ = entity_create_or_update(name="globex", currency="USD", legal_name="Globex Inc")
    Customer.objects.create(entity=acme, external_ref="A-1", name="Acme Buyer SARL", currency="EUR")
    Customer.objects.create(entity=globex, external_ref="G-1", name="Globex Buyer LLC", currency="USD")
    collector = services.user_create(
        email="col@acme.test", role="collector", entity_names=["acme"], password=PASSWORD
    )
    secret = services.totp_secret_new()
    services.totp_enrol(user=collector, secret=secret, code=pyotp.TOTP(secret).at(time.time() - 30))
    services.user_create(email="aud@acme.test", role="auditor", entity_names=["acme"], password=PASSWORD)
    from relance.audit.services import audit_record

    audit_record(action="export", actor_label="col@acme.test", entity=acme, object_repr="aging-acme.xlsx")
    audit_record(action="export", actor_label="boss", entity=globex, object_repr="aging-globex.xlsx")
    return secret


def _password(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/?next=/customers/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_second_factor_sign_in_and_role_limits(browser_page, live_server, people):  # noqa: F811
    page = browser_page
    _password(page, live_server.url, "col@acme.test")
    page.wait_for_selector("input[name=code]")
    assert "/login/verify/" in page.url
    page.fill("input[name=code]", pyotp.TOTP(people).now())
    page.click("button[type=submit]")
    page.wait_for_selector("h1")
    page.goto(f"{live_server.url}/customers/?entity=globex")
    body = page.locator("main").inner_text()
    assert "Acme Buyer SARL" in body and "Globex" not in body
    assert page.locator("nav >> text=Audit").count() == 0
    assert page.goto(f"{live_server.url}/audit/").status == 403
    page.click("text=Sign out")
    page.wait_for_selector("input[name=username]")

    _password(page, live_server.url, "aud@acme.test")
    page.wait_for_selector("h1")
    page.click("nav >> text=Audit")
    page.wait_for_selector("table.audit")
    rows = page.locator("table.audit tbody").inner_text()
    assert "aging-acme.xlsx" in rows and "aging-globex.xlsx" not in rows

"""Issue 12, finding 10, in a real browser: the main pages load under the Content-Security-Policy
with no violation (Chromium reports each refused script, style or frame), and still work: the
brand colours apply, a select submits its form, Swagger UI draws the API."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + e.sourceFile + ":" + e.lineNumber);
});
"""


@pytest.fixture
def page(monkeypatch):
    if not CHROMIUM.exists():
        pytest.skip(f"SKIPPED: browser test needs Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="SKIPPED: pip install playwright")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_init_script(RECORD_VIOLATIONS)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.console_messages = []  # type: ignore[attr-defined]
        page.on("console", lambda message: page.console_messages.append(message.text))  # type: ignore[attr-defined]
        yield page
        context.close()
        browser.close()


@pytest.fixture
def ledger(transactional_db):
    from relance.ledger.models import Contact, Customer, Invoice
    from relance.ledger.services import entity_create_or_update
    from relance.portal.links import link_create, link_path

    entity, _ = entity_create_or_update(
        name="acme", currency="EUR", legal_name="ACME SAS", primary_colour="#0B5C4A", accent_colour="#D9822B"
    )
    customer = Customer.objects.create(entity=entity, external_ref="C-1", name="Late Payer", currency="EUR")
    Contact.objects.create(customer=customer, name="Ann", email="ann@late.example")
    today = date.today()
    Invoice.objects.create(
        entity=entity,
        customer=customer,
        external_ref="INV-1",
        issue_date=today - timedelta(days=70),
        due_date=today - timedelta(days=40),
        currency="EUR",
        amount=Decimal("1234.50"),
    )
    get_user_model().objects.create_superuser("manager", "m@example.com", "correct horse battery")
    link = link_create(customer=customer, contact=customer.contacts.first(), days=30)
    return {"customer": customer, "portal": link_path(link)}


def violations(page) -> list[str]:
    recorded = page.evaluate("window.__csp || []")
    console = [
        text for text in page.console_messages if "Content Security Policy" in text or "Refused to" in text
    ]
    return recorded + console


def test_main_pages_run_under_the_csp_without_violations(page, live_server, ledger):
    base = live_server.url
    customer = ledger["customer"]

    response = page.goto(f"{base}{ledger['portal']}")
    assert "script-src 'self';" in response.headers["content-security-policy"]
    assert "Late Payer" in page.inner_text("main")
    assert (
        page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--brand').trim()")
        == "#0B5C4A"
    )
    page.goto(f"{base}{ledger['portal']}items/")
    assert violations(page) == []

    page.goto(f"{base}/login/")
    page.fill("input[name=username]", "manager")
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_selector("svg.chart")
    assert (
        page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--brand').trim()")
        == "#0B5C4A"
    )

    # The as-of date submits its form on change (formerly an inline onchange handler).
    earlier = (date.today() - timedelta(days=7)).isoformat()
    page.fill("input[name=as_of]", earlier)
    page.wait_for_url(f"**as_of={earlier}**")

    for path in (
        "/customers/",
        f"/customers/{customer.pk}/",
        "/invoices/",
        "/w/worklist/",
        f"/w/customers/{customer.pk}/",
        "/w/my-accounts/",
        "/w/disputes/",
        "/comms/preview/?entity=acme&customer=C-1&key=overdue_friendly&channel=email&language=en",
        "/admin/",
        "/admin/comms/messagetemplate/add/",
        f"/admin/ledger/customer/{customer.pk}/change/",
        "/admin/dunning/policy/add/",
        "/account/totp/",
    ):
        response = page.goto(f"{base}{path}")
        assert response.ok and "style-src" in response.headers["content-security-policy"], path
        page.wait_for_load_state("load")
        assert violations(page) == [], path

    # Swagger UI (django-ninja, served from local static files) draws the API under the policy (it
    # drew nothing before issue 12: a duplicate "200" key in the OpenAPI document).
    page.goto(f"{base}/api/v1/docs")
    page.wait_for_selector(".swagger-ui .opblock")
    assert violations(page) == []

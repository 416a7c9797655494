"""Journeys in a real browser (Debian's chromium through Playwright) on a phone and a desktop,
with screenshots in docs/screenshots/portal-*.png."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.screenshots import screenshot_dir

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64


@pytest.fixture
def browser(monkeypatch):
    if not CHROMIUM.exists():
        pytest.skip(f"SKIPPED: browser test needs Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="SKIPPED: pip install playwright")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def portal_ledger(transactional_db):
    from relance.ledger.models import Contact, Customer, Invoice
    from relance.ledger.services import entity_create_or_update
    from relance.portal.links import link_create, link_path

    entity, _ = entity_create_or_update(
        name="acme",
        currency="EUR",
        legal_name="ACME Industrie SAS",
        iban="FR7630006000011234567890189",
        bic="AGRIFRPP",
        primary_colour="#0B5C4A",
        accent_colour="#D9822B",
    )
    customer = Customer.objects.create(
        entity=entity,
        external_ref="C-1042",
        name="Boulangerie Martin",
        currency="EUR",
        credit_limit=Decimal("15000"),
    )
    Contact.objects.create(customer=customer, name="Claire Martin", email="claire@martin.example")
    today = date.today()
    for number, (amount, issued, due) in enumerate(
        [("1234.50", 75, 45), ("860.00", 50, 20), ("432.10", 35, 5), ("2150.00", 10, -20), ("99.90", 3, -27)],
        start=1,
    ):
        Invoice.objects.create(
            entity=entity,
            customer=customer,
            external_ref=f"F-2026-{number:04d}",
            issue_date=today - timedelta(days=issued),
            due_date=today - timedelta(days=due),
            currency="EUR",
            amount=Decimal(amount),
            po_number=f"PO-{7700 + number}",
        )
    link = link_create(customer=customer, contact=customer.contacts.first(), days=30)
    return {"customer": customer, "path": link_path(link), "link": link}


def _shot(page, name: str) -> None:
    page.screenshot(path=str(screenshot_dir() / f"portal-{name}.png"), full_page=True)


def test_phone_journeys(browser, live_server, portal_ledger, tmp_path):
    from relance.cases.models import Dispute, PaymentPlan, Promise

    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    base = live_server.url + portal_ledger["path"]

    page.goto(base)
    assert "Boulangerie Martin" in page.inner_text("main")
    tiles = page.inner_text(".tiles")
    assert "€4,776.50" in tiles and "€2,526.60" in tiles
    # No horizontal scrolling on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    _shot(page, "overview-phone")

    # Keyboard: the skip link is the first stop and lands on the main landmark.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"

    # Invoices, filtered to overdue by HTMX (the table is swapped, the URL follows).
    page.click("nav >> text=Invoices")
    page.select_option("select[name=state]", "overdue")
    page.wait_for_url("**state=overdue**")
    page.wait_for_function("() => !document.querySelector('#items').innerText.includes('F-2026-0004')")
    assert "F-2026-0001" in page.inner_text("#items")
    _shot(page, "items-phone")

    # Dispute one invoice with a photo of the delivery note.
    page.click("text=F-2026-0002")
    page.click("text=Dispute this invoice")
    page.select_option("#reason", "quality")
    page.fill("#amount", "200")
    page.fill("#text", "Two pallets arrived damaged; photo of the delivery note attached.")
    photo = tmp_path / "delivery-note.jpg"
    photo.write_bytes(JPEG)
    page.set_input_files("#files", str(photo))
    page.click("button[type=submit]")
    page.wait_for_selector(".sla")
    assert "10 days left" in page.inner_text(".sla")
    assert "delivery-note.jpg" in page.inner_text("main")
    _shot(page, "dispute-case-phone")
    assert Dispute.objects.get().amount == Decimal("200.0000")

    # Promise to pay the rest by a date.
    page.goto(base + "promise/")
    page.fill("#promised_date", (date.today() + timedelta(days=12)).isoformat())
    page.check("label.check:has-text('F-2026-0001') input")
    page.click("button[type=submit]")
    page.wait_for_selector("h1[role=status]")
    _shot(page, "promise-done-phone")
    assert Promise.objects.count() == 1

    # A payment plan inside the limits starts at once.
    page.goto(base + "plan/")
    page.fill("#installments", "3")
    page.click("button[type=submit]")
    page.wait_for_selector("h1[role=status]")
    assert "in place" in page.inner_text("h1")
    _shot(page, "plan-phone")
    assert PaymentPlan.objects.count() == 1

    # Pay by bank transfer: IBAN, RF reference, QR code.
    page.goto(base + "pay/")
    page.check("input[name=method][value=bank]")
    page.click("button[type=submit]")
    page.wait_for_selector(".qr svg")
    assert "FR7630006000011234567890189" in page.inner_text("main")
    _shot(page, "pay-bank-phone")

    # In French.
    page.goto(base + "?lang=fr")
    assert "Votre compte" in page.inner_text("h1")
    _shot(page, "overview-fr-phone")
    context.close()


def test_desktop_and_expired_link(browser, live_server, portal_ledger):
    from django.utils import timezone

    from relance.portal.models import PortalLink

    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(15_000)
    base = live_server.url + portal_ledger["path"]
    page.goto(base)
    assert page.locator("nav a[aria-current=page]").inner_text() == "Overview"
    _shot(page, "overview-desktop")
    page.goto(base + "items/?state=all")
    assert page.locator("table.items tbody tr").count() == 5
    _shot(page, "items-desktop")
    page.goto(base + "preferences/")
    _shot(page, "preferences-desktop")

    PortalLink.objects.filter(pk=portal_ledger["link"].pk).update(
        expires_at=timezone.now() - timedelta(hours=1)
    )
    page.goto(base)
    assert "expired" in page.inner_text("h1")
    page.fill("#email", "claire@martin.example")
    page.click("button[type=submit]")
    page.wait_for_selector("#code")
    _shot(page, "expired-code-desktop")
    context.close()

# ruff: noqa: F811  (the fixtures imported from applications_fixtures are parameters here)
"""The credit application form on a phone, in a real browser (Debian's chromium through
Playwright): a refused IBAN is shown by its field with nothing stored, then the corrected
application is sent with its uploads. Screenshots: docs/screenshots/credit-application-*.png
(``RELANCE_SCREENSHOTS=1``)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.credit.applications_fixtures import PDF, PNG, upload_root  # noqa: F401
from tests.screenshots import screenshot_dir

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(monkeypatch):
    if not CHROMIUM.exists():
        pytest.skip(f"SKIPPED: browser test needs Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="SKIPPED: pip install playwright")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.console_errors = errors  # type: ignore[attr-defined]
        yield page
        context.close()
        browser.close()


@pytest.fixture
def link_path(transactional_db):
    from django.contrib.auth import get_user_model

    from relance.credit.services.applications import link_issue, link_path
    from relance.ledger.services import entity_create_or_update

    entity, _ = entity_create_or_update(
        name="acme",
        currency="EUR",
        legal_name="ACME Industrie SAS",
        primary_colour="#0B5C4A",
        accent_colour="#D9822B",
    )
    manager = get_user_model().objects.create_user("manager", "m@example.com", "x")
    issued = link_issue(entity=entity, user=manager, email="claire@martin.example", language="en")
    return link_path(issued.link)


def _fill(page, values: dict[str, str]) -> None:
    for name, value in values.items():
        page.fill(f"#{name}", value)


def test_the_form_on_a_phone(phone, live_server, link_path, upload_root, tmp_path) -> None:
    from relance.credit.models import ApplicationDocument, CreditApplication

    page = phone
    page.goto(live_server.url + link_path)
    assert page.inner_text("h1") == "Credit application"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    _fill(
        page,
        {
            "legal_name": "Boulangerie Martin SARL",
            "vat": "FR40303265045",
            "address_line1": "12 rue des Lilas",
            "postcode": "69003",
            "city": "Lyon",
            "ap_name": "Claire Martin",
            "ap_phone": "06 12 34 56 78",
            "dm_name": "Paul Martin",
            "dm_email": "paul@martin.example",
            "iban": "FR76 3000 6000 0112 3456 7890 180",
            "requested_limit": "25000",
            "requested_terms_days": "45",
        },
    )
    assert page.input_value("#ap_email") == "claire@martin.example"  # the address the link went to
    page.select_option("#country", "FR")
    statements = tmp_path / "bilan-2025.pdf"
    statements.write_bytes(PDF)
    extract = tmp_path / "kbis.png"
    extract.write_bytes(PNG)
    terms = tmp_path / "cgv-signees.pdf"
    terms.write_bytes(PDF)

    def attach() -> None:
        page.set_input_files("#doc_financial_statements", str(statements))
        page.set_input_files("#doc_registration_extract", str(extract))
        page.set_input_files("#doc_signed_terms", str(terms))

    attach()
    page.click("button[type=submit]")
    page.wait_for_selector("#iban-error")
    assert page.inner_text("#iban-error") == "This IBAN is not valid."
    assert page.get_attribute("#iban", "aria-invalid") == "true"
    assert "nothing was saved yet" in page.inner_text("[role=alert]")
    assert page.input_value("#legal_name") == "Boulangerie Martin SARL"  # the answers stay
    assert not CreditApplication.objects.exists() and not ApplicationDocument.objects.exists()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.locator("#iban").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir() / "credit-application-refused-phone.png"))

    page.fill("#iban", "FR76 3000 6000 0112 3456 7890 189")
    attach()  # a browser never keeps the files of a refused form
    page.click("button[type=submit]")
    page.wait_for_selector("#status")
    assert "we have received the application of Boulangerie Martin SARL" in page.inner_text("#status")
    page.screenshot(path=str(screenshot_dir() / "credit-application-received-phone.png"), full_page=True)
    application = CreditApplication.objects.get()
    assert application.iban == "FR7630006000011234567890189"
    assert sorted(application.documents.values_list("filename", flat=True)) == [
        "bilan-2025.pdf",
        "cgv-signees.pdf",
        "kbis.png",
    ]
    # no CSP violation (inline script or style) on the way (the 400 and the favicon's 404 are logged too)
    assert [text for text in page.console_errors if "Content Security Policy" in text] == []

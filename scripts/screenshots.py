"""Screenshots of the main pages for docs/screenshots/, taken with Debian's chromium.

Usage: start `make demo` (or `relance demo`; it seeds the demo team), then
    .venv/bin/python scripts/screenshots.py --url http://127.0.0.1:8000

The tour signs in as the demo's credit manager (dashboard, drill-down, templates, policy editor,
outbox) and as a collector (worklist, customer 360, queues); `--username`/`--password` change the
credit manager's login (e.g. `admin` and the password given to `relance demo --password`).
The demo has Chinese customer names: install `fonts-noto-cjk` (Debian) first or they show as boxes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_PASSWORD = "demo-only-relance"


def signed_in(browser: Browser, url: str, username: str, password: str, *, width: int = 1360) -> Page:
    page = browser.new_page(viewport={"width": width, "height": 1000 if width > 500 else 844})
    page.goto(f"{url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return page


def shoot(page: Page, out: Path, name: str, *, full_page: bool = False) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=out / f"{name}.png", full_page=full_page)
    print(f"  {name}.png  {page.url}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--username", default="claire@demo.example", help="a credit manager's login")
    parser.add_argument("--password", default=DEMO_PASSWORD)
    parser.add_argument("--collector", default="ana@demo.example", help="a collector's login (demo password)")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    url = args.url.rstrip("/")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        login = browser.new_page(viewport={"width": 1360, "height": 1000})
        login.goto(f"{url}/login/")
        shoot(login, args.out, "login")

        manager = signed_in(browser, url, args.username, args.password)
        manager.wait_for_selector("svg.chart")
        shoot(manager, args.out, "dashboard", full_page=True)
        # Drill-down: the aging chart's "31-60" bar opens the invoices behind it.
        manager.locator("a[href*='bucket=31']").first.click()
        shoot(manager, args.out, "invoices-drilldown")
        manager.goto(f"{url}/customers/")
        shoot(manager, args.out, "customers")
        manager.goto(f"{url}/invoices/?state=overdue")
        shoot(manager, args.out, "invoices")
        manager.goto(f"{url}/comms/templates/")
        shoot(manager, args.out, "templates")
        manager.locator("table a").first.click()
        manager.locator("iframe").first.scroll_into_view_if_needed()  # the live preview (a full-page
        manager.wait_for_timeout(1000)  # screenshot leaves a sandboxed frame blank)
        shoot(manager, args.out, "template-edit")
        manager.goto(f"{url}/w/policies/")
        shoot(manager, args.out, "workspace-policies")
        manager.locator("a[href$='/edit/']").first.click()
        shoot(manager, args.out, "workspace-policy-editor", full_page=True)
        manager.goto(f"{url}/delivery/outbox/")
        shoot(manager, args.out, "outbox")

        collector = signed_in(browser, url, args.collector, DEMO_PASSWORD)
        collector.goto(f"{url}/w/worklist/")
        shoot(collector, args.out, "workspace-worklist")
        collector.locator("table tbody a").first.click()
        collector.wait_for_selector("h1")
        shoot(collector, args.out, "workspace-customer")
        for name, path in (
            ("workspace-disputes", "disputes"),
            ("workspace-promises", "promises"),
            ("workspace-plans", "plans"),
        ):
            collector.goto(f"{url}/w/{path}/")
            shoot(collector, args.out, name)

        phone = signed_in(browser, url, args.collector, DEMO_PASSWORD, width=390)
        phone.goto(f"{url}/w/worklist/")
        shoot(phone, args.out, "workspace-worklist-phone")
        phone.goto(f"{url}/")
        shoot(phone, args.out, "dashboard-phone")
        browser.close()
    print(f"screenshots in {args.out}/")


if __name__ == "__main__":
    main()

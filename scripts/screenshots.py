"""Screenshots of the main pages for docs/screenshots/, taken with Debian's chromium.

Usage: start `relance demo --password demo-pass-123` (or serve a ledger), then
    .venv/bin/python scripts/screenshots.py --url http://127.0.0.1:8000 --password demo-pass-123
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", required=True)
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1360, "height": 1000})
        page.goto(f"{args.url}/login/")
        page.screenshot(path=args.out / "login.png")
        page.fill("input[name=username]", args.username)
        page.fill("input[name=password]", args.password)
        page.click("button[type=submit]")
        page.wait_for_selector("svg.chart")
        page.screenshot(path=args.out / "dashboard.png", full_page=True)
        page.click("nav >> text=Customers")
        page.wait_for_selector("table")
        page.screenshot(path=args.out / "customers.png")
        page.locator("table tbody a").first.click()
        page.wait_for_selector("text=Open items")
        page.screenshot(path=args.out / "customer.png")
        page.goto(f"{args.url}/invoices/?state=overdue")
        page.screenshot(path=args.out / "invoices.png")
        mobile = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
        mobile.context.add_cookies(page.context.cookies())
        mobile.goto(f"{args.url}/")
        mobile.screenshot(path=args.out / "dashboard-phone.png")
        browser.close()
    print(f"screenshots in {args.out}/")


if __name__ == "__main__":
    main()

"""Pagers and switches keep the other query parameters and add theirs: one ``?``, never ``??``.

The links are followed as a browser would (the href resolved against the page's URL), so a
malformed query string shows up as page 1 again."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from html import unescape
from pathlib import Path
from urllib.parse import urljoin

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from relance.ledger.models import Customer, Invoice

TEMPLATES = Path(__file__).resolve().parents[2] / "relance"


@pytest.fixture
def boss(client, db):
    client.force_login(get_user_model().objects.create_superuser("boss", "boss@example.com", "pw"))
    return client


@pytest.fixture
def many(entity):
    """120 customers, each with one open invoice, and one GBP invoice."""
    customers = Customer.objects.bulk_create(
        Customer(entity=entity, external_ref=f"C{n:03d}", name=f"Customer {n:03d}", currency="EUR")
        for n in range(120)
    )
    Invoice.objects.bulk_create(
        Invoice(
            entity=entity,
            customer=customer,
            external_ref=f"INV-{n:03d}",
            issue_date=date(2024, 1, 1),
            due_date=date(2024, 1, n % 28 + 1),
            currency="GBP" if n == 7 else "EUR",
            amount=Decimal(100 + n),
        )
        for n, customer in enumerate(customers)
    )
    return customers


def _link(html: str, text: str) -> str:
    found = re.search(r'<a href="([^"]*)">' + re.escape(text) + "</a>", html)
    assert found, f"no link {text!r}"
    return unescape(found.group(1))


def _follow(client, page_url: str, href: str) -> str:
    response = client.get(urljoin(f"http://testserver{page_url}", href))
    assert response.status_code == 200
    return response.content.decode()


def test_next_on_customers_shows_page_two_with_the_filters_kept(boss, many):
    url = reverse("web:customer_list") + "?order=name"
    html = boss.get(url).content.decode()
    assert "Page 1 of 3" in html and "Customer 000" in html
    href = _link(html, "Next →")
    assert href.startswith("?") and not href.startswith("??")
    second = _follow(boss, url, href)
    assert "Page 2 of 3" in second
    assert "Customer 050" in second and "Customer 000" not in second  # still ordered by name
    third = _follow(boss, url, _link(second, "Next →"))
    assert "Page 3 of 3" in third and "Customer 119" in third
    back = _follow(boss, url, _link(third, "← Previous"))
    assert "Page 2 of 3" in back


def test_next_on_invoices_shows_page_two(boss, many):
    url = reverse("web:invoice_list") + "?state=all&as_of=2024-06-30"
    html = boss.get(url).content.decode()
    assert "Page 1 of 3" in html
    second = _follow(boss, url, _link(html, "Next →"))
    assert "Page 2 of 3" in second and 'value="all" selected' in second


@pytest.mark.parametrize("query", ["", "?as_of=2024-06-30"])
def test_the_dashboard_switches_to_another_currency(boss, many, query):
    url = reverse("web:dashboard") + query
    html = boss.get(url).content.decode()
    assert "· EUR" in html
    gbp = _follow(boss, url, _link(html, "GBP"))
    assert "· GBP" in gbp and "£107.00" in gbp.split("Open receivables")[1][:200]
    if query:
        assert "receivables on June 30, 2024" in gbp  # the date is kept


def test_no_template_prefixes_the_querystring_tag_with_another_question_mark():
    """Django's ``{% querystring %}`` returns the leading ``?`` itself (the one home of the rule)."""
    doubled = [
        str(path)
        for path in TEMPLATES.rglob("*.html")
        if re.search(r"\?\{%\s*querystring", path.read_text(encoding="utf-8"))
    ]
    assert doubled == []

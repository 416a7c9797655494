"""Every dashboard figure opens the rows behind it, and the rows add up to the figure.

On a seeded ledger (every aging bucket, partial payments, an open credit note, unapplied cash, an
invoice paid in the period, a void invoice, a second currency), each card's and bucket's link is
followed: the list's total (its footer and its CSV) equals what the KPI engine put on the card,
also with the segment and collector filters."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from decimal import Decimal
from html import unescape

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from relance.core.actors import SYSTEM
from relance.core.formatting import format_money
from relance.ledger import services
from relance.ledger.models import CreditNote, InvoiceStatus
from relance.reports import selectors as reports

pytestmark = pytest.mark.django_db
AS_OF = date(2024, 6, 30)


@pytest.fixture
def manager(entity):
    from relance.accounts.services import user_create

    user = user_create(
        email="cm@example.com", role="credit_manager", entity_names=[entity.name], password="pw pw pw 123"
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def ledger(entity, make_customer, make_invoice, make_payment):
    alice = get_user_model().objects.create_user("alice")
    late = make_customer("C-LATE", name="Late Payer GmbH", segment="standard", collector=alice)
    prompt = make_customer("C-OK", name="Prompt SA", segment="key account")
    loose = make_customer("C-LOOSE", name="No Segment SARL")

    def invoice(customer, ref, amount, days_past_due, **fields):
        due = AS_OF - timedelta(days=days_past_due)
        return make_invoice(customer, ref, amount, due - timedelta(days=30), due, **fields)

    invoice(late, "INV-FUT", "500.00", -10)  # current
    invoice(late, "INV-0", "250.00", 0)  # due today: current
    invoice(late, "INV-1", "1000.00", 1)  # 1-30
    invoice(prompt, "INV-30", "300.00", 30)
    invoice(prompt, "INV-31", "400.00", 31)  # 31-60
    part = invoice(late, "INV-60", "900.00", 60)
    invoice(loose, "INV-75", "120.00", 75)  # 61-90
    invoice(loose, "INV-91", "2000.00", 91)  # 91+
    invoice(prompt, "INV-USD", "999.00", 45, currency="USD")  # another currency: never added
    invoice(late, "INV-VOID", "777.00", 40, status=InvoiceStatus.VOID, voided_on=AS_OF - timedelta(days=1))
    paid = invoice(prompt, "INV-PAID", "600.00", 20)  # paid in the period, 5 days late
    payment = make_payment(prompt, "PAY-1", "600.00", AS_OF - timedelta(days=15))
    services.allocation_create(invoice=paid, payment=payment, amount=Decimal("600.00"), on=payment.date)
    cash = make_payment(late, "PAY-2", "500.00", AS_OF - timedelta(days=3))  # 350 applied, 150 unapplied
    services.allocation_create(invoice=part, payment=cash, amount=Decimal("350.00"), on=cash.date)
    credit = CreditNote.objects.create(
        entity=entity, customer=late, external_ref="CN-1", date=AS_OF - timedelta(days=5), currency="EUR",
        amount=Decimal("80.00"),
    )  # fmt: skip
    services.allocation_create(invoice=part, credit_note=credit, amount=Decimal("30.00"), on=credit.date)
    return {"late": late, "prompt": prompt, "loose": loose}


def _get(client: Client, url: str, **params: str) -> str:
    response = client.get(url, params)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _link(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}" href="([^"]+)"', html) or re.search(
        rf'href="([^"]+)" id="{element_id}"', html
    )
    assert found, element_id
    return unescape(found.group(1))


def _csv(client: Client, url: str) -> list[dict[str, str]]:
    path, _, query = url.partition("?")
    response = client.get(f"{path}export.csv?{query}")
    assert response.status_code == 200
    text = response.getvalue().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def _sum(rows: list[dict[str, str]], column: str) -> Decimal:
    return sum((Decimal(row[column]) for row in rows), Decimal(0))


def _report(entity, **filters) -> dict:
    (report,) = reports.kpi_report(entity=entity, as_of=AS_OF, currency="EUR", **filters)
    return report.to_json()


FILTERS = [{}, {"segment": "standard"}, {"collector": "alice"}, {"segment": ""}]


@pytest.mark.parametrize("filters", FILTERS, ids=["all", "segment", "collector", "no-segment"])
def test_every_aging_bucket_and_money_card_opens_rows_that_add_up_to_it(manager, entity, ledger, filters):
    kpis = _report(entity, **filters)
    query = {name: value or "-" for name, value in filters.items()}
    html = _get(manager, reverse("web:dashboard"), as_of=AS_OF.isoformat(), **query)

    buckets = {
        label: unescape(url)
        for url, label in re.findall(r'<th scope="row"><a href="([^"]+)">([^<]+)</a></th>', html)
    }
    assert set(buckets) == set(kpis["aging"])
    for label, url in buckets.items():
        rows = _csv(manager, url)
        assert _sum(rows, "open_amount") == Decimal(kpis["aging"][label]), label
        assert {row["currency"] for row in rows} <= {"EUR"}
        page = _get(manager, url)
        assert f"Aging: {label} days past due" in page  # the chip
        if rows:
            assert f'data-total="open">{format_money(_sum(rows, "open_amount"), "EUR", "en")}<' in page

    for card, figure in (("drill-ar-current", "ar_current"), ("drill-ar-past-due", "ar_past_due")):
        rows = _csv(manager, _link(html, card))
        assert _sum(rows, "open_amount") == Decimal(kpis[figure]), card

    overdue_customers = _csv(manager, _link(html, "drill-overdue-customers"))
    assert _sum(overdue_customers, "overdue_balance") == Decimal(kpis["ar_past_due"])

    ar_total = _link(html, "drill-ar-total")
    assert _sum(_csv(manager, ar_total), "open_amount") == Decimal(kpis["ar_gross_invoices"])
    bridge = _get(manager, ar_total)
    assert f"open receivables {format_money(Decimal(kpis['ar_total']), 'EUR', 'en')}" in bridge


def test_the_bridge_shows_open_credits_and_unapplied_cash(manager, entity, ledger):
    kpis = _report(entity)
    assert Decimal(kpis["open_credits"]) == Decimal("50.00")
    assert Decimal(kpis["unapplied_cash"]) == Decimal("150.00")
    html = _get(manager, reverse("web:dashboard"), as_of=AS_OF.isoformat())
    page = _get(manager, _link(html, "drill-ar-total"))
    assert "open credits €50.00" in page and "unapplied cash €150.00" in page


def test_credit_sales_and_days_beyond_terms_open_the_period_s_invoices(manager, entity, ledger):
    CreditNote.objects.create(
        entity=entity, customer=ledger["prompt"], external_ref="CN-2", date=AS_OF - timedelta(days=2),
        currency="EUR", amount=Decimal("45.00"),
    )  # fmt: skip
    kpis = _report(entity)
    html = _get(manager, reverse("web:dashboard"), as_of=AS_OF.isoformat())

    sales = _link(html, "drill-credit-sales")
    assert _sum(_csv(manager, sales), "amount") == Decimal(kpis["invoiced_in_period"])
    page = _get(manager, sales)
    assert f"credit sales {format_money(Decimal(kpis['credit_sales']), 'EUR', 'en')}" in page

    paid = _csv(manager, _link(html, "drill-dbt"))
    assert [row["invoice_ref"] for row in paid] == ["INV-PAID"]
    assert len(paid) == kpis["invoices_paid_in_period"]
    assert _sum(paid, "amount") == Decimal(kpis["amount_paid_in_period"])


def test_a_chip_removes_its_filter(manager, ledger):
    url = reverse("web:invoice_list")
    page = _get(manager, url, as_of=AS_OF.isoformat(), currency="EUR", bucket="91+", segment="-")
    chips = dict(
        (unescape(text), unescape(href))
        for href, text in re.findall(r'<a href="([^"]+)" aria-label="Remove filter ([^"]+)"', page)
    )
    assert set(chips) == {"Currency: EUR", "Aging: 91+ days past due", "Segment: (none)"}
    without_bucket = chips["Aging: 91+ days past due"]
    assert "bucket" not in without_bucket and "segment=-" in without_bucket
    assert "Aging:" not in _get(manager, url + without_bucket)


def test_promises_due_and_disputes_past_sla_open_their_queues(manager, entity, ledger):
    from relance.cases.services import dispute_open, promise_add
    from relance.portal.models import DisputeCase

    promise_add(actor=SYSTEM, customer=ledger["late"], promised_date=AS_OF, on=date(2024, 6, 20))
    promise_add(
        actor=SYSTEM,
        customer=ledger["loose"],
        promised_date=AS_OF + timedelta(days=3),
        on=date(2024, 6, 20),
    )
    late = dispute_open(
        actor=SYSTEM,
        invoice=ledger["late"].invoices.get(external_ref="INV-1"),
        reason_code="pricing",
        on=date(2024, 6, 1),
    )
    DisputeCase.objects.create(dispute=late, sla_due_on=date(2024, 6, 15))
    fresh = dispute_open(
        actor=SYSTEM,
        invoice=ledger["prompt"].invoices.get(external_ref="INV-31"),
        reason_code="pricing",
        on=date(2024, 6, 28),
    )
    DisputeCase.objects.create(dispute=fresh, sla_due_on=date(2024, 7, 15))
    html = _get(manager, reverse("web:dashboard"), as_of=AS_OF.isoformat())
    assert 'id="promises-due">1<' in html and 'id="disputes-past-sla">1<' in html

    promises = _csv(manager, _link(html, "promises-due"))
    assert [row["customer_ref"] for row in promises] == ["C-LATE"]
    disputes = _csv(manager, _link(html, "disputes-past-sla"))
    assert [row["invoice_ref"] for row in disputes] == ["INV-1"]
    assert "Past the answer date on 2024-06-30" in _get(manager, _link(html, "disputes-past-sla"))

"""The DBT trend (issue 16, item 6): the KPI engine's one DBT formula at the dashboard's 12 points,
per customer on the 360 and for the portfolio on the dashboard, with the dispute indicators."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from html import unescape

from django.urls import reverse

from relance.core.calendar import month_start


def _paid(customer, ref, due, days_late, amount):
    from relance.ledger.models import Invoice, Payment
    from relance.ledger.services import allocation_create

    invoice = Invoice.objects.create(
        entity=customer.entity,
        customer=customer,
        external_ref=ref,
        issue_date=due - timedelta(days=30),
        due_date=due,
        currency=customer.currency,
        amount=Decimal(amount),
    )
    paid_on = due + timedelta(days=days_late)
    payment = Payment.objects.create(
        entity=customer.entity,
        customer=customer,
        external_ref=f"PAY-{ref}",
        date=paid_on,
        currency=customer.currency,
        amount=Decimal(amount),
    )
    allocation_create(invoice=invoice, payment=payment, amount=Decimal(amount), on=paid_on)
    return invoice


def _table_rows(html):
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        [unescape(re.sub(r"<[^>]+>", "", cell)) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", body)
    ]


def test_a_customer_s_dbt_points_are_the_kpi_engine_s_by_customer(ws):
    from relance.ledger.models import Customer
    from relance.reports.dbt_trend import customer_dbt_trend
    from relance.reports.selectors import kpi_report, trend_dates

    slow = Customer.objects.create(entity=ws.acme, external_ref="C-DBT", name="Slow DBT SA", currency="EUR")
    paid_on = month_start(ws.today) - timedelta(days=20)  # last month
    # 100 paid 10 days late and 300 paid 30 days late in the same month: DBT 2,500 / ... = 25 days
    _paid(slow, "INV-D1", paid_on - timedelta(days=10), 10, "100.00")
    _paid(slow, "INV-D2", paid_on - timedelta(days=30), 30, "300.00")
    _paid(slow, "INV-D3", paid_on - timedelta(days=200), -5, "50.00")  # early: 0 beyond terms

    points = customer_dbt_trend(customer=slow, as_of=ws.today)
    assert [point.as_of for point in points] == trend_dates(ws.today)
    for point in points:
        by_customer = kpi_report(entity=ws.acme, as_of=point.as_of, group_by="customer")
        row = next((report for report in by_customer if report.group == "C-DBT"), None)
        expected = None if row is None or row.dbt is None else float(row.dbt.quantize(Decimal("0.01")))
        assert point.dbt == expected
    assert points[-1].dbt == 25.0
    assert points[-1].invoices_paid == 2


def test_dispute_indicators_count_opened_in_the_month_and_open_at_the_point(ws):
    from relance.cases.models import Dispute, DisputeStatus
    from relance.reports.dbt_trend import dispute_indicators

    invoice = ws.late.invoices.first()
    today = ws.today
    earlier = month_start(today) - timedelta(days=1)  # last month's end
    for opened, resolved in ((earlier - timedelta(days=3), None), (earlier - timedelta(days=2), earlier)):
        Dispute.objects.create(
            entity=ws.acme,
            customer=ws.late,
            invoice=invoice,
            amount=Decimal("10"),
            reason_code="pricing",
            opened_on=opened,
            status=DisputeStatus.OPEN if resolved is None else DisputeStatus.RESOLVED,
            resolved_on=resolved,
        )
    assert dispute_indicators(entity=ws.acme, dates=[earlier, today], customer=ws.late) == [(2, 1), (0, 1)]
    assert dispute_indicators(entity=ws.acme, dates=[earlier], customer=ws.second) == [(0, 0)]


def test_the_360_and_the_dashboard_show_the_dbt_chart_with_its_table(ws, client_for):
    manager = client_for(ws.manager)
    fragment = manager.get(reverse("workspace:customer_behaviour", args=[ws.late.pk])).content.decode()
    chart = fragment.split('id="dbt-trend"')[1]
    assert "Days beyond terms and disputes over the last 12 months" in chart
    rows = _table_rows(chart)
    assert len(rows) == 12
    assert rows[0][:1] and all(len(row) == 4 for row in rows)
    assert "<script" not in fragment and "style=" not in fragment

    page = manager.get(reverse("web:dashboard")).content.decode()
    chart = page.split("<figcaption>Days beyond terms and disputes</figcaption>")[1].split("</figure>")[0]
    rows = _table_rows(chart)
    assert len(rows) == 12
    assert [cell for cell in rows[0]][1:] != []

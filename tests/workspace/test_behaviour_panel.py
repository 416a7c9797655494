"""The customer page's behaviour panel and its payment chart read one selector
(``payment_behaviour``): a chronic late payer's panel counts the same late payments the chart draws."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from django.urls import reverse


def _paid_late(customer, ref, due, days_late, amount="100.00"):
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


def test_a_chronic_late_payers_panel_counts_what_the_chart_draws(ws, client_for):
    from relance.ledger.models import Customer

    slow = Customer.objects.create(
        entity=ws.acme, external_ref="C-SLOW", name="Slow Payer SA", currency="EUR"
    )
    today = ws.today
    for n, (days_ago, late) in enumerate([(500, 63), (450, 40), (300, 63), (200, 35), (120, 50), (70, -2)]):
        _paid_late(slow, f"INV-SL{n}", today - timedelta(days=days_ago), late)
    manager = client_for(ws.manager)

    page = manager.get(reverse("workspace:customer", args=[slow.pk])).content.decode()
    chart = page.split("Payment history")[1].split("</figure>")[0]
    dots = len(re.findall(r"<circle", chart))
    panel = manager.get(reverse("workspace:customer_behaviour", args=[slow.pk])).content.decode()
    figures = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", panel))
    paid = next(value for key, value in figures.items() if key.startswith("Paid invoices"))
    assert int(paid) == dots == 4  # due in the last 365 days: not the two older ones
    assert figures["Share paid late"].startswith("75 %")  # 3 of 4 (one paid 2 days early)
    assert "(at most 63)" in figures["Average days late"]
    assert "4 invoices paid in the window, 75% late" in panel  # the engine's evidence agrees
    assert "(4 paid)" in page
